//! The phone book of a cluster, in the shared store.

use crate::cases::{PgStore, PhoneRow};
use crate::sip::phone_book::PhoneBook;
use crate::sip::registrar::Binding;
use std::sync::Arc;

/// Every node's operators' phones, in the `phone_bindings` table.
pub struct SharedPhones {
    pub store: Arc<PgStore>,
    /// This node, which takes the registrations it writes.
    pub node: String,
}

#[async_trait::async_trait]
impl PhoneBook for SharedPhones {
    async fn put(&self, operator: &str, b: &Binding) -> Result<(), String> {
        let row = PhoneRow {
            operator: operator.to_string(),
            contact: b.contact.clone(),
            source: b.source.to_string(),
            transport: b.transport.clone(),
            expires: b.expires_at.into(),
        };
        self.store.put_phone(&row, &self.node).await.map_err(|e| e.to_string())
    }

    async fn remove(&self, operator: &str) -> Result<(), String> {
        self.store.remove_phone(operator, &self.node).await.map_err(|e| e.to_string())
    }

    async fn find(&self, operator: &str) -> Result<Option<Binding>, String> {
        let rows = self.store.phones(Some(operator)).await.map_err(|e| e.to_string())?;
        Ok(rows.into_iter().next().and_then(|p| {
            Some(Binding {
                contact: p.contact,
                expires_at: p.expires.into(),
                source: p.source.parse().ok()?,
                transport: p.transport,
            })
        }))
    }
}
