//! Phone numbers: parsed with libphonenumber's rules (the `phonenumber` crate) and stored in
//! E.164 (`+919876543210`). Numbers written without `+` are read in the configured default
//! region. Only digits, spaces, dashes, dots, parentheses and a leading `+` are accepted:
//! the library would read letters as a vanity number (1-800-FLOWERS), which no student types.

use phonenumber::Mode;
use phonenumber::country::Id;

const HINT: &str = "Enter a mobile number such as +91 98765 43210.";

/// The E.164 form of `raw`, or why it is not a phone number.
pub fn to_e164(raw: &str, default_region: &str) -> Result<String, String> {
    let raw = raw.trim();
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')');
    let body = raw.strip_prefix('+').unwrap_or(raw);
    if raw.is_empty() || raw.len() > 32 || !body.chars().all(allowed) {
        return Err(HINT.into());
    }
    let region: Option<Id> = default_region.parse().ok();
    let number = phonenumber::parse(region, raw).map_err(|_| HINT.to_string())?;
    if !phonenumber::is_valid(&number) {
        return Err(HINT.into());
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::to_e164;

    #[test]
    fn formats_are_normalised_to_e164() {
        for raw in ["+91 98765 43210", "98765-43210", "(987) 654.3210", "+919876543210"] {
            assert_eq!(to_e164(raw, "IN").as_deref(), Ok("+919876543210"), "{raw}");
        }
        assert_eq!(to_e164("+1 650-253-0000", "IN").as_deref(), Ok("+16502530000"));
        assert_eq!(to_e164("(650) 253-0000", "US").as_deref(), Ok("+16502530000"));
    }

    #[test]
    fn letters_short_long_and_foreign_national_numbers_are_refused() {
        for raw in [
            "",
            "+",
            "98765 4321O",
            "1-800-FLOWERS",
            "12345",
            "+91 98765 43210 12345",
            "+999 1234567",
        ] {
            assert!(to_e164(raw, "IN").is_err(), "{raw}");
        }
        // A German mobile written nationally is not a number in India, nor an Indian one in
        // the US; with the right region or a `+` both are.
        assert!(to_e164("0151 1234 5678", "IN").is_err());
        assert_eq!(to_e164("0151 1234 5678", "DE").as_deref(), Ok("+4915112345678"));
        assert!(to_e164("98765 43210", "US").is_err());
    }
}
