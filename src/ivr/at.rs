//! `At<T>`: a value read from YAML together with the line and column it was written at.

use super::model::Key;
use crate::diag::Pos;
use serde::{Deserialize, Deserializer};
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// A value with its source position. Equality, ordering and hashing look at the value only,
/// so `At<String>` keys can be looked up by `&str`.
#[derive(Clone, Debug)]
pub struct At<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> At<T> {
    pub fn new(value: T, pos: Pos) -> Self {
        Self { value, pos }
    }
}

impl<T> Deref for At<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for At<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<T: Eq> Eq for At<T> {}

impl<T: Hash> Hash for At<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}

impl Borrow<Key> for At<Key> {
    fn borrow(&self) -> &Key {
        &self.value
    }
}

impl Borrow<str> for At<String> {
    fn borrow(&self) -> &str {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for At<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Self { value: s.value, pos: Pos::new(s.referenced.line() as u32, s.referenced.column() as u32) })
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for At<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<T>()
    }
}
