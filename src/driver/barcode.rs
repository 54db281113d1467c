//! Finding and reading the PDF417 barcode on a licence's back (rxing). Phone photos are large,
//! so the image is first scaled down to a size where the barcode's modules are still several
//! pixels wide; portrait photos are tried turned a quarter.

use image::GrayImage;
use image::imageops::{self, FilterType};
use rxing::{BarcodeFormat, DecodeHints};

/// Longest side the decoder works on. A licence filling a phone photo keeps its barcode's
/// narrowest bars at 3 pixels or more at this size.
const WORKING_SIDE: u32 = 2000;

/// The barcode's text, or `None` when no PDF417 barcode could be read.
pub fn read_pdf417(original: &GrayImage) -> Option<String> {
    let scaled = scale_down(original);
    let image = scaled.as_ref().unwrap_or(original);
    if let Some(text) = detect(image) {
        return Some(text);
    }
    // A portrait photo of a landscape card; the reader itself tries upside down.
    detect(&imageops::rotate90(image))
        // Sensor noise breaks the binarizer's edges; a light blur restores them.
        .or_else(|| detect(&imageops::blur(image, 1.2)))
        // Heavily scaled photos can lose thin bars: one more try at full size.
        .or_else(|| scaled.is_some().then(|| detect(original)).flatten())
}

fn scale_down(image: &GrayImage) -> Option<GrayImage> {
    let (w, h) = image.dimensions();
    let long = w.max(h);
    if long <= WORKING_SIDE {
        return None;
    }
    let (nw, nh) = (
        (u64::from(w) * u64::from(WORKING_SIDE) / u64::from(long)).max(1) as u32,
        (u64::from(h) * u64::from(WORKING_SIDE) / u64::from(long)).max(1) as u32,
    );
    Some(imageops::resize(image, nw, nh, FilterType::Triangle))
}

fn detect(image: &GrayImage) -> Option<String> {
    let (w, h) = image.dimensions();
    let mut hints = DecodeHints::default();
    rxing::helpers::detect_in_luma_slice_with_hints(
        image.as_raw(),
        w,
        h,
        Some(BarcodeFormat::PDF_417),
        &mut hints,
    )
    .ok()
    .map(|result| result.getText().to_string())
}

#[cfg(test)]
#[path = "../../tests/support/licence_images.rs"]
mod licence_images;

#[cfg(test)]
mod tests {
    use super::licence_images::{self, Distortion, Person};
    use super::*;

    #[test]
    fn reads_clean_noisy_and_portrait_photos_and_nothing_from_a_blank_card() {
        let person =
            Person::new("Ana", "Cruz", chrono::NaiveDate::from_ymd_opt(2031, 3, 15).unwrap());
        let payload = licence_images::aamva_payload(&person);
        for distortion in [Distortion::Clean, Distortion::Noisy(25.0), Distortion::Rotated(90.0)] {
            let image = licence_images::back_image(&payload, 1800, distortion);
            assert_eq!(read_pdf417(&image).as_deref(), Some(payload.as_str()), "{distortion:?}");
        }
        assert_eq!(read_pdf417(&licence_images::blank_front(1200)), None);
    }
}
