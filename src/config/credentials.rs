//! Digest credentials (RFC 7616, RFC 8760): the HA1 hashes stored in the config instead of passwords.

use md5::Md5;
use sha2::{Digest, Sha256};

/// The hash of a digest challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// The name in headers.
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    /// `MD5` or `SHA-256`, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "MD5" => Some(Self::Md5),
            "SHA-256" => Some(Self::Sha256),
            _ => None,
        }
    }

    pub fn hash(self, s: &str) -> String {
        match self {
            Self::Md5 => hex(&Md5::digest(s)),
            Self::Sha256 => hex(&Sha256::digest(s)),
        }
    }
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
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
    fn ha1_matches_an_independent_implementation() {
        // RFC 7616 section 3.9.1's user; the values were computed with Python's hashlib.
        assert_eq!(ha1_md5("Mufasa", "http-auth@example.org", "Circle of Life"), "3d78807defe7de2157e2b0b6573a855f");
        assert_eq!(
            ha1_sha256("Mufasa", "http-auth@example.org", "Circle of Life"),
            "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
        );
        assert!(is_hex_hash(&ha1_sha256("a", "b", "c"), 64));
        assert!(!is_hex_hash("XYZ", 3));
        assert!(!is_hex_hash(&ha1_md5("a", "b", "c").to_uppercase(), 32));
    }
}
