//! Reading an upload: both images decoded on the bounded image pool, the barcode read, the
//! front read by OCR and compared with it, and the checks a renewal must pass to be approved
//! without a reviewer.

use super::DriverError;
use super::Drivers;
use super::licence::aamva::{self, LicenceFields};
use super::licence::front_check::{self, FrontComparison, FrontReading};
use super::licence::{barcode, name_match, ocr};
use super::store::Licence;
use super::uploads::CheckedImage;
use crate::config::DriverConfig;

/// What was read from the images, from where, what the front says of the barcode, and what a
/// reviewer should know (the front's comparison first).
#[derive(Debug, Clone)]
pub struct Extraction {
    pub source: &'static str,
    pub fields: LicenceFields,
    pub front: FrontComparison,
    pub notes: Vec<String>,
}

impl Drivers {
    /// Decodes both images (on the bounded image pool), reads the barcode, and reads the front by
    /// OCR: to compare it with the barcode, or in its place when there is none.
    pub async fn extract(
        &self,
        front: &CheckedImage,
        back: &CheckedImage,
    ) -> Result<Extraction, DriverError> {
        let config = self.config.driver.clone();
        let (front_copy, back_copy) = (front.clone(), back.clone());
        let barcode_text = self
            .images
            .run(move || -> Result<Option<String>, DriverError> {
                // The front is decoded here only to prove it is a whole image.
                drop(front_copy.decode_luma(&config)?);
                let pixels = back_copy.decode_luma(&config)?;
                Ok(barcode::read_pdf417(&pixels))
            })
            .await??;
        let mut notes = Vec::new();
        let barcode = match barcode_text.as_deref().map(aamva::parse) {
            Some(Ok(parsed)) => Some(parsed),
            Some(Err(e)) => {
                notes.push(format!("The barcode was read, but {e}."));
                None
            }
            None => {
                notes.push("No barcode could be read on the back image.".into());
                None
            }
        };
        let reading = self.read_front(front).await;
        if let Some(parsed) = barcode {
            let threshold = self.config.driver.name_match_threshold;
            let front = front_check::compare(&reading, &parsed.fields, threshold);
            let notes = front.notes.iter().cloned().chain(parsed.problems).collect();
            return Ok(Extraction { source: "barcode", fields: parsed.fields, front, notes });
        }
        let front = FrontComparison::no_barcode();
        let (source, fields) = match reading {
            FrontReading::NotAvailable => {
                notes.push("OCR is not available, so nothing was read from the front.".into());
                ("none", LicenceFields::default())
            }
            FrontReading::Failed => {
                notes.push("OCR of the front failed.".into());
                ("none", LicenceFields::default())
            }
            FrontReading::Read(fields) if fields == LicenceFields::default() => {
                notes.push("OCR found no licence fields on the front.".into());
                ("none", fields)
            }
            FrontReading::Read(fields) => {
                notes.push("The fields were read from the front by OCR: check them.".into());
                ("ocr", fields)
            }
        };
        Ok(Extraction { source, fields, front, notes })
    }

    /// The front's printed fields, by OCR where it is available.
    pub(super) async fn read_front(&self, front: &CheckedImage) -> FrontReading {
        let Some(ocr) = self.ocr.clone() else { return FrontReading::NotAvailable };
        match ocr.read(&front.bytes, self.config.driver.ocr_timeout_seconds).await {
            Ok(text) => FrontReading::Read(ocr::fields_from_text(&text)),
            Err(e) => {
                tracing::warn!(error = %e, "licence OCR failed");
                FrontReading::Failed
            }
        }
    }
}

/// The checks a renewal must pass to be approved without a reviewer, as notes for the
/// reviewer when it fails one.
pub(super) fn check_fields(
    extraction: &Extraction,
    legal_name: &str,
    previous: Option<&Licence>,
    config: &DriverConfig,
) -> (Option<f64>, Vec<String>) {
    let fields = &extraction.fields;
    let mut notes = extraction.notes.clone();
    let missing = fields.missing();
    if !missing.is_empty() {
        notes.push(format!("Not read: {}.", missing.join(", ")));
    }
    let score = match (&fields.family_name, &fields.given_names) {
        (Some(family), given) => {
            Some(name_match::score(family, given.as_deref().unwrap_or(""), legal_name))
        }
        _ => None,
    };
    if let Some(score) = score
        && score < config.name_match_threshold
    {
        notes.push(format!(
            "The name on the licence does not match the legal name on the profile (score \
             {score:.2}, at least {:.2} needed).",
            config.name_match_threshold
        ));
    }
    if let Some(previous) = previous {
        let same_number = fields.licence_number.is_some()
            && fields.licence_number == previous.fields.licence_number;
        let same_name = match (&fields.family_name, &previous.fields.family_name) {
            (Some(new_family), Some(old_family)) => {
                let old = format!(
                    "{} {old_family}",
                    previous.fields.given_names.as_deref().unwrap_or_default()
                );
                name_match::score(new_family, fields.given_names.as_deref().unwrap_or(""), &old)
                    >= config.name_match_threshold
            }
            _ => false,
        };
        if !same_number && !same_name {
            notes.push("Neither the licence number nor the name is the previous licence's.".into());
        }
        if let (Some(new), Some(old)) = (fields.expiry, previous.fields.expiry)
            && new <= old
        {
            notes.push(format!("The expiry ({new}) is not later than the previous licence's."));
        }
    }
    (score, notes)
}
