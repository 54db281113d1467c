//! Finding and reading the PDF417 barcode on a licence's back (rxing). Phone photos are large,
//! so the image is first scaled down to a size where the barcode's modules are still several
//! pixels wide; portrait photos are tried turned a quarter, and photos taken a little askew
//! are tried turned back a few degrees.

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma};
use rxing::{BarcodeFormat, DecodeHints};

/// Longest side the decoder works on. A licence filling a phone photo keeps its barcode's
/// narrowest bars at 3 pixels or more at this size.
const WORKING_SIDE: u32 = 2000;

/// Turns tried (degrees clockwise) when nothing else reads. The reader alone copes with about
/// -1.5 to +4.5 degrees of skew (measured on the generated backs: `cargo test --lib
/// driver::barcode`), so these steps leave no gap from about -11 to +14 degrees.
const SKEW_RETRIES: [f32; 4] = [5.0, -5.0, 10.0, -10.0];

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
        // A photo taken askew: the start and stop patterns are found only on nearly level rows.
        .or_else(|| SKEW_RETRIES.iter().find_map(|degrees| detect(&turn(image, *degrees))))
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

/// `image` turned `degrees` clockwise about its centre, same size, sampled bilinearly; the
/// corners it uncovers are mid grey, neither bar nor space. (imageproc has this, but is only
/// a dev-dependency; this is all the decoder needs of it.)
fn turn(image: &GrayImage, degrees: f32) -> GrayImage {
    let (w, h) = image.dimensions();
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let at = |x: i64, y: i64| -> f32 {
        if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
            128.0
        } else {
            f32::from(image.get_pixel(x as u32, y as u32)[0])
        }
    };
    GrayImage::from_fn(w, h, |x, y| {
        // The source point that lands on (x, y): the same turn, counter-clockwise.
        let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
        let (sx, sy) = (cos * dx + sin * dy + cx - 0.5, -sin * dx + cos * dy + cy - 0.5);
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
        let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
        Luma([(top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8])
    })
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
#[path = "../../../tests/it/support/licence_images.rs"]
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

    #[test]
    fn turn_is_clockwise_like_the_photos_it_undoes() {
        // A dark dot right of centre turned a quarter clockwise lands below centre (y down).
        let mut image = GrayImage::from_pixel(41, 41, Luma([255]));
        image.put_pixel(30, 20, Luma([0]));
        let turned = turn(&image, 90.0);
        assert_eq!(turned.get_pixel(20, 30)[0], 0, "clockwise");
        assert_eq!(turned.get_pixel(30, 20)[0], 255);
        // Turning back undoes a photo turned by the generator (imageproc, clockwise).
        let photo = image::imageops::rotate270(&image);
        assert_eq!(turn(&photo, 90.0).get_pixel(30, 20)[0], 0);
    }

    /// A back as a driver uploads it: through JPEG, and decoded again as the upload path does.
    fn through_jpeg(image: &GrayImage, quality: u8) -> GrayImage {
        let bytes = licence_images::jpeg(image, quality);
        image::load_from_memory(&bytes).unwrap().to_luma8()
    }

    #[test]
    fn reads_slightly_turned_blurred_and_jpeg_photos() {
        let person =
            Person::new("Ana", "Cruz", chrono::NaiveDate::from_ymd_opt(2031, 3, 15).unwrap());
        let payload = licence_images::aamva_payload(&person);
        let back = |distortion| licence_images::back_image(&payload, 1800, distortion);
        let cases = [
            ("turned 3 degrees", back(Distortion::Rotated(3.0))),
            // The reader alone reads neither of these: the skew retries do.
            ("turned -3 degrees", back(Distortion::Rotated(-3.0))),
            ("turned 10 degrees", back(Distortion::Rotated(10.0))),
            ("blurred sigma 1.5", back(Distortion::Blurred(1.5))),
            ("JPEG quality 80", through_jpeg(&back(Distortion::Clean), 80)),
            (
                "turned 3 degrees, JPEG quality 80",
                through_jpeg(&back(Distortion::Rotated(3.0)), 80),
            ),
            (
                "blurred sigma 1.5, JPEG quality 80",
                through_jpeg(&back(Distortion::Blurred(1.5)), 80),
            ),
        ];
        for (label, image) in cases {
            assert_eq!(read_pdf417(&image).as_deref(), Some(payload.as_str()), "{label}");
        }
    }
}
