//! Digest credentials (RFC 7616, RFC 8760): the HA1 hashes stored in the config instead of passwords.

use md5::Md5;
use sha2::{Digest, Sha256};

/// Lowercase hex of a digest.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HA1 = MD5(username:realm:password).
pub fn ha1_md5(username: &str, realm: &str, password: &str) -> String {
    hex(&Md5::digest(format!("{username}:{realm}:{password}")))
}

/// HA1 = SHA-256(username:realm:password).
pub fn ha1_sha256(username: &str, realm: &str, password: &str) -> String {
    hex(&Sha256::digest(format!("{username}:{realm}:{password}")))
}

/// Whether `s` looks like a stored hash of `len` lowercase hex digits.
pub fn is_hex_hash(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7616_example_ha1() {
        // RFC 7616 section 3.9.1: Mufasa / http-auth@example.org / Circle of Life.
        assert_eq!(ha1_md5("Mufasa", "http-auth@example.org", "Circle of Life"), "3b8d0ba0e8bd7ed4d1a7ad4f87fc8d4c");
        assert!(is_hex_hash(&ha1_sha256("a", "b", "c"), 64));
        assert!(!is_hex_hash("XYZ", 3));
    }
}
