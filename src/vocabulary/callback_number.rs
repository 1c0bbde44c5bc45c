//! Which numbers the switchboard may call back: the Italian numbering plan (PNN, AGCOM
//! 8/15/CIR) reduced to what a citizen can be called on, a landline (`0…`, 6 to 11 digits) or a
//! mobile (`3…`, 9 or 10 digits). Everything else is refused with the reason: premium rate
//! (`89x`, `144`, `166`), shared cost (`84x`, `199`), toll-free (`80x`), short and network codes
//! (`1…`, `4…`), internet and personal numbers (`7…`, `5…`, `178`), and international numbers
//! unless their country code is allowed. Written by hand: no crate carries the Italian plan's
//! service ranges (libphonenumber's metadata knows lengths, not which ranges cost the caller).

use serde::{Deserialize, Serialize};

/// A number the switchboard may call: E.164 with a leading `+`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CallbackNumber(String);

impl CallbackNumber {
    pub fn e164(&self) -> &str {
        &self.0
    }

    /// The number as an Italian dials it (national for +39, `00` and the country otherwise):
    /// what is read back to the caller, digit by digit.
    pub fn dialled(&self) -> String {
        match self.0.strip_prefix("+39") {
            Some(national) => national.to_string(),
            None => format!("00{}", &self.0[1..]),
        }
    }
}

impl std::fmt::Display for CallbackNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a number cannot be called back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Not a telephone number (letters, empty, too short or too long for its kind).
    Invalid,
    /// A premium-rate or shared-cost service.
    Premium,
    /// A service, short or network number: not a citizen's phone.
    Service,
    /// Abroad, in a country not allowed.
    International,
}

impl Refusal {
    pub fn name(self) -> &'static str {
        match self {
            Refusal::Invalid => "invalid",
            Refusal::Premium => "premium",
            Refusal::Service => "service",
            Refusal::International => "international",
        }
    }
}

/// The rules: the Italian plan, the country codes allowed besides Italy's, and prefixes of
/// Italian numbers refused besides the plan's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NumberingPlan {
    /// Country codes (`41`, `33`) whose numbers may be called; none by default.
    pub countries: Vec<String>,
    /// National prefixes (`0039…` stripped: `06`, `347`) refused too.
    pub refused_prefixes: Vec<String>,
}

/// Premium-rate and shared-cost ranges of the Italian plan (national format).
const PREMIUM: &[&str] = &["89", "144", "166", "84", "199", "12"];

impl NumberingPlan {
    /// Check a number as signalled or typed: `+39…`, `0039…`, national (`06…`, `3…`), or
    /// `+CC…` / `00CC…` for another country. Spaces, dots and dashes are ignored.
    pub fn check(&self, number: &str) -> Result<CallbackNumber, Refusal> {
        let digits: String = number.chars().filter(|c| !matches!(c, ' ' | '.' | '-' | '/')).collect();
        let (international, rest) = match (digits.strip_prefix('+'), digits.strip_prefix("00")) {
            (Some(rest), _) | (None, Some(rest)) => (true, rest),
            (None, None) => (false, digits.as_str()),
        };
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Refusal::Invalid);
        }
        let national = match (international, rest.strip_prefix("39")) {
            (false, _) => rest,
            (true, Some(national)) => national,
            (true, None) => return self.abroad(rest),
        };
        if self.refused_prefixes.iter().any(|p| national.starts_with(p.as_str())) {
            return Err(Refusal::Service);
        }
        let len = national.len();
        match national.as_bytes()[0] {
            b'0' if (6..=11).contains(&len) => Ok(CallbackNumber(format!("+39{national}"))),
            b'3' if (9..=10).contains(&len) => Ok(CallbackNumber(format!("+39{national}"))),
            b'0' | b'3' => Err(Refusal::Invalid),
            _ if PREMIUM.iter().any(|p| national.starts_with(p)) => Err(Refusal::Premium),
            _ => Err(Refusal::Service),
        }
    }

    /// A number abroad (`rest`: country code and number): only allowed countries, E.164 length.
    fn abroad(&self, rest: &str) -> Result<CallbackNumber, Refusal> {
        if !self.countries.iter().any(|cc| rest.starts_with(cc.as_str())) {
            return Err(Refusal::International);
        }
        if !(8..=15).contains(&rest.len()) {
            return Err(Refusal::Invalid);
        }
        Ok(CallbackNumber(format!("+{rest}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> NumberingPlan {
        NumberingPlan::default()
    }

    #[test]
    fn landlines_and_mobiles_in_any_italian_form_are_accepted() {
        for (given, e164) in [
            ("0773691001", "+390773691001"),
            ("+39 06 5905 1", "+390659051"),
            ("0039 333 123 4567", "+393331234567"),
            ("3471234567", "+393471234567"),
            ("347-123.456", "+39347123456"),
        ] {
            assert_eq!(plan().check(given).map(|n| n.e164().to_string()), Ok(e164.to_string()), "{given}");
        }
        assert_eq!(plan().check("+393331234567").unwrap().dialled(), "3331234567");
    }

    #[test]
    fn premium_service_and_malformed_numbers_are_refused() {
        for (given, why) in [
            ("899123456", Refusal::Premium),
            ("+39 892 424", Refusal::Premium),
            ("144111222", Refusal::Premium),
            ("199123123", Refusal::Premium),
            ("848800800", Refusal::Premium),
            ("12345", Refusal::Premium),
            ("803164", Refusal::Service),
            ("112", Refusal::Service),
            ("4000", Refusal::Service),
            ("178 1234567", Refusal::Service),
            ("55 1234567", Refusal::Service),
            ("7021234567", Refusal::Service),
            ("06123", Refusal::Invalid),
            ("061234567890", Refusal::Invalid),
            ("33312345", Refusal::Invalid),
            ("33312345678", Refusal::Invalid),
            ("", Refusal::Invalid),
            ("+", Refusal::Invalid),
            ("06 12a4567", Refusal::Invalid),
            ("*31#0612345", Refusal::Invalid),
        ] {
            assert_eq!(plan().check(given), Err(why), "{given}");
        }
    }

    #[test]
    fn abroad_only_in_allowed_countries() {
        assert_eq!(plan().check("+41 44 123 45 67"), Err(Refusal::International));
        assert_eq!(plan().check("0044 20 7946 0958"), Err(Refusal::International));
        assert_eq!(plan().check("+882 1234 5678"), Err(Refusal::International));
        let swiss = NumberingPlan { countries: vec!["41".into()], ..plan() };
        assert_eq!(swiss.check("0041441234567").map(|n| n.dialled()), Ok("0041441234567".into()));
        assert_eq!(swiss.check("+44 20 7946 0958"), Err(Refusal::International));
        assert_eq!(swiss.check("+4112"), Err(Refusal::Invalid));
    }

    #[test]
    fn refused_prefixes_add_to_the_plan() {
        let strict = NumberingPlan { refused_prefixes: vec!["06".into()], ..plan() };
        assert_eq!(strict.check("0659051"), Err(Refusal::Service));
        assert!(strict.check("0773691001").is_ok());
    }
}
