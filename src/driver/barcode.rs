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
pub fn read_pdf417(image: &GrayImage) -> Option<String> {
    let scaled = scale_down(image);
    let image = scaled.as_ref().unwrap_or(image);
    if let Some(text) = detect(image) {
        return Some(text);
    }
    // A portrait photo of a landscape card; the reader itself tries upside down.
    detect(&imageops::rotate90(image)).or_else(|| {
        // Heavily scaled photos can lose thin bars: one more try at full size.
        scaled.is_some().then(|| detect(image)).flatten()
    })
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
