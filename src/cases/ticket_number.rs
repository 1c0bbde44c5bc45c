//! Linea INPS ticket numbers: 8 digits and a Luhn check digit, easy to type on a keypad and
//! robust to one mistyped digit or two swapped neighbours.

/// Digits in a ticket number.
pub const LEN: u8 = 9;

/// The Luhn check digit of `body` (digits only).
pub fn luhn_digit(body: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in body.bytes().rev().enumerate() {
        let d = u32::from(c.checked_sub(b'0').filter(|d| *d <= 9)?);
        sum += if i % 2 == 0 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d };
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// Whether `s` is a well-formed ticket number.
pub fn is_valid(s: &str) -> bool {
    s.len() == usize::from(LEN)
        && s.bytes().all(|b| b.is_ascii_digit())
        && luhn_digit(&s[..s.len() - 1]) == Some(s.as_bytes()[s.len() - 1] - b'0')
}

/// The ticket number for a sequence number (the body is the number, zero-padded).
pub fn from_sequence(seq: u32) -> String {
    let body = format!("{:08}", seq % 100_000_000);
    let check = luhn_digit(&body).expect("digits");
    format!("{body}{check}")
}

/// The number of the `seq`-th ticket stored: the sequence scrambled by a bijection of the 8-digit
/// bodies (an odd multiplier not divisible by 5 is invertible modulo 10^8), so consecutive
/// tickets do not get neighbouring numbers and a caller cannot guess someone else's by adding one.
pub fn for_ticket(seq: u64) -> String {
    let body = (seq.wrapping_mul(61_803_399).wrapping_add(27_182_818)) % 100_000_000;
    from_sequence(body as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_values() {
        // Classic Luhn example: 7992739871 has check digit 3.
        assert_eq!(luhn_digit("7992739871"), Some(3));
        assert_eq!(from_sequence(1), "000000018");
        assert!(is_valid("000000018"));
        assert!(!is_valid("000000019"));
        assert!(!is_valid("00000018"));
        assert!(!is_valid("00000001a"));
    }

    #[test]
    fn one_wrong_digit_is_always_caught() {
        let n = from_sequence(12_345_678);
        for i in 0..n.len() {
            for d in b'0'..=b'9' {
                let mut b = n.clone().into_bytes();
                if b[i] == d {
                    continue;
                }
                b[i] = d;
                assert!(!is_valid(std::str::from_utf8(&b).unwrap()));
            }
        }
    }

    #[test]
    fn ticket_numbers_are_distinct_valid_and_not_consecutive() {
        let numbers: Vec<String> = (1..=10_000).map(for_ticket).collect();
        assert!(numbers.iter().all(|n| is_valid(n)));
        let distinct: std::collections::HashSet<&String> = numbers.iter().collect();
        assert_eq!(distinct.len(), numbers.len());
        let a: u64 = numbers[0][..8].parse().unwrap();
        let b: u64 = numbers[1][..8].parse().unwrap();
        assert!(a.abs_diff(b) > 1000, "{} then {}", numbers[0], numbers[1]);
    }
}
