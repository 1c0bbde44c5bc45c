//! Where operators' phones are when several nodes share them: every node's registrar keeps
//! the bindings it takes in a shared phone book, and the node that rings an operator looks the
//! phone up there (the phone may have registered through another node).

use super::registrar::Binding;

#[async_trait::async_trait]
pub trait PhoneBook: Send + Sync {
    /// Keep `operator`'s phone (the latest registration wins, whichever node took it).
    async fn put(&self, operator: &str, binding: &Binding) -> Result<(), String>;
    /// Forget `operator`'s phone, if this node took its binding.
    async fn remove(&self, operator: &str) -> Result<(), String>;
    /// `operator`'s phone, unless it expired.
    async fn find(&self, operator: &str) -> Result<Option<Binding>, String>;
}
