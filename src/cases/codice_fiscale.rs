//! The codice fiscale, the Italian tax code citizens identify themselves with: 16 characters
//! (surname 3 letters, name 3, year 2 digits, month letter, day 2 digits, birthplace letter and
//! 3 digits, check letter). Digits of the numeric positions may be replaced by letters
//! (`LMNPQRSTUV` for 0-9: "omocodia", when two people would get the same code). The check
//! letter follows the Ministry of Finance's decree of 23 December 1976.
//!
//! Written by hand: no maintained crate of the ecosystem validates it.

/// Why a code is not a valid codice fiscale, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CfError {
    #[error("a codice fiscale has 16 characters, this one has {0}")]
    Length(usize),
    #[error("character {position} ({found:?}) should be {expected}")]
    Shape { position: usize, found: char, expected: &'static str },
    #[error("the check character is {found:?} but the code gives {expected:?}: a character is mistyped")]
    Check { found: char, expected: char },
}

/// Positions (0-based) that hold digits, or their omocodia letters.
const NUMERIC: [usize; 7] = [6, 7, 9, 10, 12, 13, 14];
const OMOCODIA: &[u8; 10] = b"LMNPQRSTUV";
const MONTHS: &[u8; 12] = b"ABCDEHLMPRST";
/// Values of characters in odd positions (1st, 3rd, ...) for the check character, by digit or
/// letter index (0-9 and A-Z share the table).
const ODD: [u32; 26] = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];

/// Normalise (trim, upper case) and validate; the normalised code when valid.
pub fn validate(input: &str) -> Result<String, CfError> {
    let code: String = input.trim().to_ascii_uppercase();
    let b = code.as_bytes();
    if b.len() != 16 || !code.is_ascii() {
        return Err(CfError::Length(code.chars().count()));
    }
    for (i, &c) in b.iter().enumerate() {
        let ok = match i {
            _ if NUMERIC.contains(&i) => c.is_ascii_digit() || OMOCODIA.contains(&c),
            8 => MONTHS.contains(&c),
            _ => c.is_ascii_uppercase(),
        };
        if !ok {
            let expected = match i {
                _ if NUMERIC.contains(&i) => "a digit (or one of LMNPQRSTUV)",
                8 => "a month letter (A B C D E H L M P R S T)",
                _ => "a letter",
            };
            return Err(CfError::Shape { position: i + 1, found: c as char, expected });
        }
    }
    let expected = check_char(&b[..15]);
    if b[15] != expected {
        return Err(CfError::Check { found: b[15] as char, expected: expected as char });
    }
    Ok(code)
}

/// The check character of the first 15 characters.
fn check_char(first: &[u8]) -> u8 {
    let index = |c: u8| if c.is_ascii_digit() { (c - b'0') as usize } else { (c - b'A') as usize };
    let sum: u32 =
        first.iter().enumerate().map(|(i, &c)| if i % 2 == 0 { ODD[index(c)] } else { index(c) as u32 }).sum();
    b'A' + (sum % 26) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_pass_and_are_normalised() {
        // The Agenzia delle Entrate's example, and an omocodia variant of it.
        assert_eq!(validate("RSSMRA85T10A562S").unwrap(), "RSSMRA85T10A562S");
        assert_eq!(validate("  rssmra85t10a562s ").unwrap(), "RSSMRA85T10A562S");
        let omocodia = {
            let mut c = *b"RSSMRA85T10A56NS";
            c[15] = check_char(&c[..15]);
            String::from_utf8(c.to_vec()).unwrap()
        };
        assert!(validate(&omocodia).is_ok(), "{omocodia}");
    }

    #[test]
    fn mistakes_are_explained() {
        assert_eq!(validate("RSSMRA85T10A562"), Err(CfError::Length(15)));
        assert!(matches!(validate("RSSMRA85Z10A562S"), Err(CfError::Shape { position: 9, .. })));
        assert!(matches!(validate("RSSMRA8XT10A562S"), Err(CfError::Shape { position: 8, .. })));
        assert_eq!(validate("RSSMRA85T10A562T"), Err(CfError::Check { found: 'T', expected: 'S' }));
        // One mistyped character changes the check.
        assert!(matches!(validate("RSSMRA85T10A563S"), Err(CfError::Check { .. })));
        assert!(validate("RSSMRA85T10A562ß").is_err());
    }
}
