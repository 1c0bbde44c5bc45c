//! The phone book of a cluster, in the shared store.

use super::wire::Phone;
use crate::cases::{PgStore, PhoneRow};
use crate::sip::phone_book::PhoneBook;
use crate::sip::registrar::Binding;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Every node's operators' phones, in the `phone_bindings` table.
pub struct SharedPhones {
    pub store: Arc<PgStore>,
    /// This node, which takes the registrations it writes.
    pub node: String,
    /// The phones the distribution's holder named in its offers: rung from here when the
    /// table cannot be read (this node cut off from the database).
    pub named: Arc<NamedPhones>,
}

/// The phones named in the holder's offers, by operator.
#[derive(Default)]
pub struct NamedPhones {
    phones: Mutex<HashMap<String, Binding>>,
}

impl NamedPhones {
    pub fn name(&self, operator: &str, phone: &Phone) {
        let Ok(source) = phone.source.parse() else { return };
        let binding = Binding {
            contact: phone.contact.clone(),
            expires_at: UNIX_EPOCH + Duration::from_millis(phone.expires),
            source,
            transport: phone.transport.clone(),
        };
        self.phones.lock().unwrap_or_else(|e| e.into_inner()).insert(operator.to_string(), binding);
    }

    fn named(&self, operator: &str) -> Option<Binding> {
        let phones = self.phones.lock().unwrap_or_else(|e| e.into_inner());
        phones.get(operator).filter(|b| b.expires_at > SystemTime::now()).cloned()
    }
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
        let rows = match self.store.phones(Some(operator)).await {
            Ok(rows) => rows,
            Err(e) => return self.named.named(operator).map(Some).ok_or(e.to_string()),
        };
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
