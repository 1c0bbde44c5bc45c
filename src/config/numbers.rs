//! Called numbers: how a dialled number is normalised to E.164 before it is looked up.

/// Normalise a number as it may arrive from a trunk or be typed by an administrator
/// (`0773 691001`, `+39 0773-691001`, `0039773...`, `803164`) to E.164 (`+390773691001`).
/// Italian national numbers keep their leading zero after `+39`, as the numbering plan requires.
pub fn normalize_number(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let plus = trimmed.starts_with('+');
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty()
        || trimmed.chars().any(|c| !(c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '/' | '(' | ')')))
    {
        return None;
    }
    let e164 = if plus {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else {
        format!("+39{digits}")
    };
    // E.164 allows at most 15 digits; Italian short service numbers can be as short as 3.
    (4..=16).contains(&e164.len()).then_some(e164)
}

/// Whether `s` is already a normalised E.164 number.
pub fn is_e164(s: &str) -> bool {
    normalize_number(s).as_deref() == Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_the_ways_numbers_are_written() {
        assert_eq!(normalize_number("0773 691001").as_deref(), Some("+390773691001"));
        assert_eq!(normalize_number("+39 0773-691001").as_deref(), Some("+390773691001"));
        assert_eq!(normalize_number("00390773691001").as_deref(), Some("+390773691001"));
        assert_eq!(normalize_number("803164").as_deref(), Some("+39803164"));
        assert_eq!(normalize_number("sip:abc"), None);
        assert_eq!(normalize_number(""), None);
        assert!(is_e164("+3906164164"));
        assert!(!is_e164("06164164"));
    }
}
