//! The front of a licence compared with its barcode. An AAMVA barcode is not signed: anyone can
//! print one with any expiry. The front is the part of the card a forger cannot reprint as
//! easily, so its printed licence number, expiry and name (read by OCR) are compared with what
//! the barcode says. A forged back on a real front shows as a disagreement; a front that cannot
//! be read is said plainly. Either way the reviewer reads it first, and a renewal is approved
//! without a reviewer only where the campus opted in and the front agrees.
//!
//! The notes name fields, never their values: they are shown to the driver too.

use super::aamva::LicenceFields;
use super::name_match;

/// The outcome, as stored in `driver_licences.front_check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontCheck {
    /// Licence number, expiry and name read on the front, all the barcode's.
    Agrees,
    /// At least one field read on the front differs from the barcode.
    Disagrees,
    /// The front could not be read well enough to compare every field.
    Unreadable,
    /// No OCR program: the front was not read.
    NotAvailable,
    /// No barcode was read: the fields came from the front, nothing to compare with.
    NoBarcode,
}

impl FrontCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agrees => "agrees",
            Self::Disagrees => "disagrees",
            Self::Unreadable => "unreadable",
            Self::NotAvailable => "not_available",
            Self::NoBarcode => "no_barcode",
        }
    }
}

/// The fields compared, by their API names.
pub const LICENCE_NUMBER: &str = "licence_number";
pub const EXPIRY_DATE: &str = "expiry_date";
pub const NAME: &str = "name";

/// What reading the front gave.
#[derive(Debug, Clone)]
pub enum FrontReading {
    /// No OCR program is configured or installed.
    NotAvailable,
    /// OCR ran and failed (error or time limit).
    Failed,
    Read(LicenceFields),
}

/// The comparison's outcome, the fields that differ, and the reviewer's notes about it.
#[derive(Debug, Clone)]
pub struct FrontComparison {
    pub outcome: FrontCheck,
    pub mismatched: Vec<&'static str>,
    pub notes: Vec<String>,
}

impl FrontComparison {
    pub fn no_barcode() -> Self {
        Self { outcome: FrontCheck::NoBarcode, mismatched: Vec::new(), notes: Vec::new() }
    }
}

/// Compares the front's printed fields with the barcode's. `threshold` is the name match
/// score from which two names are the same person's.
pub fn compare(front: &FrontReading, barcode: &LicenceFields, threshold: f64) -> FrontComparison {
    let fields = match front {
        FrontReading::NotAvailable => {
            return FrontComparison {
                outcome: FrontCheck::NotAvailable,
                mismatched: Vec::new(),
                notes: vec![
                    "The front was not compared with the barcode: OCR is not installed.".into(),
                ],
            };
        }
        FrontReading::Failed => {
            return FrontComparison {
                outcome: FrontCheck::Unreadable,
                mismatched: Vec::new(),
                notes: vec![
                    "OCR of the front failed, so the front was not compared with the barcode."
                        .into(),
                ],
            };
        }
        FrontReading::Read(fields) => fields,
    };
    let mut mismatched = Vec::new();
    let mut unread = Vec::new();
    match (&fields.licence_number, &barcode.licence_number) {
        (Some(printed), Some(encoded)) if same_number(printed, encoded) => {}
        (Some(_), Some(_)) => mismatched.push(LICENCE_NUMBER),
        _ => unread.push("licence number"),
    }
    match (fields.expiry, barcode.expiry) {
        (Some(printed), Some(encoded)) if printed == encoded => {}
        (Some(_), Some(_)) => mismatched.push(EXPIRY_DATE),
        _ => unread.push("expiry date"),
    }
    match (&fields.family_name, &barcode.family_name) {
        (Some(printed), Some(family)) => {
            let encoded = format!("{} {family}", barcode.given_names.as_deref().unwrap_or(""));
            let given = fields.given_names.as_deref().unwrap_or("");
            if name_match::score(printed, given, &encoded) < threshold {
                mismatched.push(NAME);
            }
        }
        _ => unread.push("name"),
    }
    let mut notes = Vec::new();
    let outcome = if !mismatched.is_empty() {
        let which: Vec<&str> = mismatched.iter().map(|f| describe(f)).collect();
        notes.push(format!(
            "The front does not match the barcode: the printed {} differ{} from the barcode's. \
             The barcode may have been printed by someone else: compare both images.",
            which.join(", "),
            if which.len() == 1 { "s" } else { "" }
        ));
        FrontCheck::Disagrees
    } else if !unread.is_empty() {
        notes.push(format!(
            "The front could not be read well enough to compare it with the barcode (not read: \
             {}).",
            unread.join(", ")
        ));
        FrontCheck::Unreadable
    } else {
        FrontCheck::Agrees
    };
    FrontComparison { outcome, mismatched, notes }
}

fn describe(field: &str) -> &'static str {
    match field {
        LICENCE_NUMBER => "licence number",
        EXPIRY_DATE => "expiry date",
        _ => "name",
    }
}

/// Licence numbers are printed with spaces or dashes the barcode leaves out.
fn same_number(printed: &str, encoded: &str) -> bool {
    let plain = |s: &str| -> String {
        s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
    };
    plain(printed) == plain(encoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn card(number: &str, expiry: (i32, u32, u32), family: &str, given: &str) -> LicenceFields {
        LicenceFields {
            family_name: Some(family.into()),
            given_names: Some(given.into()),
            licence_number: Some(number.into()),
            expiry: NaiveDate::from_ymd_opt(expiry.0, expiry.1, expiry.2),
            ..LicenceFields::default()
        }
    }

    #[test]
    fn a_matching_front_agrees_whatever_its_spacing_and_name_order() {
        let barcode = card("D12345678", (2031, 3, 15), "GARCIA", "MARIA JOSE");
        let front = card("D123 456-78", (2031, 3, 15), "Garcia", "Maria J");
        let check = compare(&FrontReading::Read(front), &barcode, 0.9);
        assert_eq!(check.outcome, FrontCheck::Agrees);
        assert!(check.mismatched.is_empty() && check.notes.is_empty());
    }

    #[test]
    fn a_later_expiry_in_the_barcode_than_on_the_front_disagrees() {
        let barcode = card("D12345678", (2030, 1, 10), "GARCIA", "MARIA");
        let front = card("D12345678", (2026, 12, 9), "GARCIA", "MARIA");
        let check = compare(&FrontReading::Read(front), &barcode, 0.9);
        assert_eq!(check.outcome, FrontCheck::Disagrees);
        assert_eq!(check.mismatched, [EXPIRY_DATE]);
        assert!(check.notes[0].contains("printed expiry date differs"), "{:?}", check.notes);
        assert!(!check.notes[0].contains("2030"), "no values in the notes");
    }

    #[test]
    fn every_differing_field_is_named() {
        let barcode = card("D12345678", (2030, 1, 10), "GARCIA", "MARIA");
        let front = card("X999", (2026, 12, 9), "SMITH", "JOHN");
        let check = compare(&FrontReading::Read(front), &barcode, 0.9);
        assert_eq!(check.mismatched, [LICENCE_NUMBER, EXPIRY_DATE, NAME]);
    }

    #[test]
    fn a_partly_read_front_is_unreadable_unless_what_was_read_differs() {
        let barcode = card("D12345678", (2030, 1, 10), "GARCIA", "MARIA");
        let mut front = barcode.clone();
        front.expiry = None;
        let check = compare(&FrontReading::Read(front.clone()), &barcode, 0.9);
        assert_eq!(check.outcome, FrontCheck::Unreadable);
        assert!(check.notes[0].contains("not read: expiry date"), "{:?}", check.notes);

        front.licence_number = Some("D00000000".into());
        let check = compare(&FrontReading::Read(front), &barcode, 0.9);
        assert_eq!(check.outcome, FrontCheck::Disagrees);
        assert_eq!(check.mismatched, [LICENCE_NUMBER]);
    }

    #[test]
    fn no_ocr_or_a_failed_run_never_agrees() {
        let barcode = card("D12345678", (2030, 1, 10), "GARCIA", "MARIA");
        let none = compare(&FrontReading::NotAvailable, &barcode, 0.9);
        assert_eq!(none.outcome, FrontCheck::NotAvailable);
        assert_eq!(none.notes.len(), 1);
        let failed = compare(&FrontReading::Failed, &barcode, 0.9);
        assert_eq!(failed.outcome, FrontCheck::Unreadable);
        let empty = compare(&FrontReading::Read(LicenceFields::default()), &barcode, 0.9);
        assert_eq!(empty.outcome, FrontCheck::Unreadable);
    }
}
