//! Phone numbers: parsed with libphonenumber's rules (the `phonenumber` crate) and stored in
//! E.164 (`+919876543210`). Numbers written without `+` are read in the configured default
//! region. Only digits, spaces, dashes, dots, parentheses and a leading `+` are accepted:
//! the library would read letters as a vanity number (1-800-FLOWERS), which no student types.
//!
//! Only numbers of the allowed regions (`sms.allowed_regions`) are accepted anywhere a number
//! enters: an SMS abroad costs the campus money, and sending codes to premium or far-away
//! numbers at someone else's expense is the point of SMS toll fraud.

use phonenumber::Mode;
use phonenumber::country::Id;

const HINT: &str = "Enter a mobile number such as +91 98765 43210.";

/// Whether `code` is an ISO 3166 alpha-2 region the phone library has numbering rules for
/// (upper case, as `IN` or `US`).
pub fn is_known_region(code: &str) -> bool {
    code.parse::<Id>().is_ok()
}

/// Where phone numbers are read and which may be used.
#[derive(Debug, Clone)]
pub struct PhoneRegions {
    /// The region of numbers written without `+`.
    default: Option<Id>,
    allowed: Vec<Id>,
    /// The allowed regions' codes, for the message that names them.
    allowed_codes: String,
}

impl PhoneRegions {
    /// `default_region` and `allowed` are validated at start-up (`config/validate.rs`); a
    /// code the library does not know would allow nothing.
    pub fn new(default_region: &str, allowed: &[String]) -> Self {
        Self {
            default: default_region.parse().ok(),
            allowed: allowed.iter().filter_map(|code| code.parse().ok()).collect(),
            allowed_codes: allowed.join(", "),
        }
    }

    /// The E.164 form of `raw`, or why it is not a phone number that may be used.
    pub fn to_e164(&self, raw: &str) -> Result<String, String> {
        let raw = raw.trim();
        let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')');
        let body = raw.strip_prefix('+').unwrap_or(raw);
        if raw.is_empty() || raw.len() > 32 || !body.chars().all(allowed) {
            return Err(HINT.into());
        }
        let number = phonenumber::parse(self.default, raw).map_err(|_| HINT.to_string())?;
        if !phonenumber::is_valid(&number) {
            return Err(HINT.into());
        }
        // Numbers that belong to no region (international freephone, satellite) are refused too.
        let region = number.country().id();
        if !region.is_some_and(|r| self.allowed.contains(&r)) {
            return Err(format!(
                "Only phone numbers from these regions can be used: {}.",
                self.allowed_codes
            ));
        }
        Ok(number.format().mode(Mode::E164).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(default: &str, allowed: &[&str]) -> PhoneRegions {
        let allowed: Vec<String> = allowed.iter().map(|r| r.to_string()).collect();
        PhoneRegions::new(default, &allowed)
    }

    #[test]
    fn formats_are_normalised_to_e164() {
        let india = regions("IN", &["IN", "US"]);
        for raw in ["+91 98765 43210", "98765-43210", "(987) 654.3210", "+919876543210"] {
            assert_eq!(india.to_e164(raw).as_deref(), Ok("+919876543210"), "{raw}");
        }
        assert_eq!(india.to_e164("+1 650-253-0000").as_deref(), Ok("+16502530000"));
        let us = regions("US", &["US"]);
        assert_eq!(us.to_e164("(650) 253-0000").as_deref(), Ok("+16502530000"));
    }

    #[test]
    fn letters_short_long_and_foreign_national_numbers_are_refused() {
        let everywhere = regions("IN", &["IN", "US", "DE"]);
        for raw in [
            "",
            "+",
            "98765 4321O",
            "1-800-FLOWERS",
            "12345",
            "+91 98765 43210 12345",
            "+999 1234567",
        ] {
            assert_eq!(everywhere.to_e164(raw), Err(HINT.to_string()), "{raw}");
        }
        // A German mobile written nationally is not a number in India, nor an Indian one in
        // the US; with the right region or a `+` both are.
        assert!(everywhere.to_e164("0151 1234 5678").is_err());
        let germany = regions("DE", &["DE"]);
        assert_eq!(germany.to_e164("0151 1234 5678").as_deref(), Ok("+4915112345678"));
        assert!(regions("US", &["US", "IN"]).to_e164("98765 43210").is_err());
    }

    #[test]
    fn numbers_outside_the_allowed_regions_are_refused_with_the_regions_named() {
        let india = regions("IN", &["IN"]);
        let only_india = Err("Only phone numbers from these regions can be used: IN.".to_string());
        // Germany, the US, Canada (+1 like the US), Jamaica (+1 876) and a satellite number.
        for raw in ["+49 151 1234 5678", "+1 650-253-0000", "+1 416 555 0123", "+1 876 210 1234"] {
            assert_eq!(india.to_e164(raw), only_india, "{raw}");
        }
        assert!(india.to_e164("+881 6 12345678").is_err());
        let north_america = regions("US", &["US", "CA"]);
        assert_eq!(north_america.to_e164("+1 416 555 0123").as_deref(), Ok("+14165550123"));
        assert_eq!(
            north_america.to_e164("+1 876 210 1234"),
            Err("Only phone numbers from these regions can be used: US, CA.".to_string())
        );
    }

    #[test]
    fn known_regions_are_upper_case_iso_codes_with_numbering_rules() {
        assert!(is_known_region("IN") && is_known_region("US") && is_known_region("GB"));
        for unknown in ["", "in", "ZZ", "UK", "IND", "001"] {
            assert!(!is_known_region(unknown), "{unknown}");
        }
    }
}
