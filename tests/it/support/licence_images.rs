//! Generated driving licence images for tests and the driver benchmark: AAMVA payloads encoded
//! as PDF417 (rxing) on a card-sized back, fronts with the fields printed in DejaVu Sans (for
//! OCR), at phone-photo sizes, optionally rotated, blurred or noisy. Nothing here is a real
//! person or a real card. Shared by `tests/it`, the unit tests of `src/driver/barcode.rs` and
//! `tools/src/bin/driver_bench.rs` and `licence_image.rs` via `#[path]`.

#![allow(dead_code)]

use std::io::Cursor;

use ab_glyph::FontVec;
use chrono::NaiveDate;
use image::{GrayImage, ImageFormat, Luma};
use imageproc::drawing::{draw_filled_rect_mut, draw_text_mut};
use imageproc::geometric_transformations::{Interpolation, rotate_about_center};
use imageproc::rect::Rect;
use rxing::{BarcodeFormat, EncodeHints, Writer};

/// A made-up licence holder.
#[derive(Debug, Clone)]
pub struct Person {
    pub family: String,
    pub given: String,
    pub middle: String,
    pub number: String,
    pub expiry: NaiveDate,
    pub birth: NaiveDate,
    pub jurisdiction: String,
}

impl Person {
    pub fn new(given: &str, family: &str, expiry: NaiveDate) -> Self {
        Self {
            family: family.into(),
            given: given.into(),
            middle: String::new(),
            number: "D12345678".into(),
            expiry,
            birth: NaiveDate::from_ymd_opt(1999, 1, 2).unwrap(),
            jurisdiction: "NY".into(),
        }
    }
}

/// A version 10 (2020) US payload with correct designators.
pub fn aamva_payload(p: &Person) -> String {
    let mut elements = vec![
        format!("DAQ{}", p.number),
        format!("DCS{}", p.family.to_uppercase()),
        format!("DAC{}", p.given.to_uppercase()),
        format!("DAD{}", if p.middle.is_empty() { "NONE".into() } else { p.middle.to_uppercase() }),
        format!("DBA{}", p.expiry.format("%m%d%Y")),
        format!("DBB{}", p.birth.format("%m%d%Y")),
        "DBD01012024".into(),
        "DBC2".into(),
        "DAYBRO".into(),
        "DAU069 IN".into(),
        "DAG1 CAMPUS DRIVE".into(),
        "DAIITHACA".into(),
        format!("DAJ{}", p.jurisdiction),
        "DAK148500000".into(),
        "DCF0123456789".into(),
        "DCGUSA".into(),
        "DDEN".into(),
        "DDFN".into(),
        "DDGN".into(),
    ];
    elements.retain(|e| !e.is_empty());
    let body = format!("DL{}\r", elements.join("\n"));
    let offset = 21 + 10;
    format!("@\n\x1e\rANSI 636001100001DL{offset:04}{:04}{body}", body.len())
}

/// How a photo differs from a clean scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distortion {
    Clean,
    /// Degrees, clockwise.
    Rotated(f32),
    /// Gaussian blur sigma, in pixels.
    Blurred(f32),
    /// Gaussian noise standard deviation.
    Noisy(f64),
}

/// A card back `width` pixels wide (card proportions, 85.6 x 54 mm) holding `payload` as a
/// PDF417 barcode, on a darker surround as a phone photo would show it.
pub fn back_image(payload: &str, width: u32, distortion: Distortion) -> GrayImage {
    let height = width * 54 / 86;
    let mut card = GrayImage::from_pixel(width, height, Luma([235]));
    let hints = EncodeHints { Margin: Some("2".into()), ..EncodeHints::default() };
    let bits = rxing::pdf417::PDF417Writer
        .encode_with_hints(
            payload,
            &BarcodeFormat::PDF_417,
            (width * 9 / 10) as i32,
            (height / 2) as i32,
            &hints,
        )
        .expect("the payload encodes");
    let (bw, bh) = (bits.width(), bits.height());
    // Scale the barcode to 90% of the card width, whole pixels per module.
    let scale = ((width * 9 / 10) / bw).max(1);
    let (x0, y0) = ((width - bw * scale) / 2, height / 3);
    for y in 0..bh {
        for x in 0..bw {
            let value = if bits.get(x, y) { 20 } else { 250 };
            for dy in 0..scale {
                for dx in 0..scale {
                    let (px, py) = (x0 + x * scale + dx, y0 + y * scale + dy);
                    if px < width && py < height {
                        card.put_pixel(px, py, Luma([value]));
                    }
                }
            }
        }
    }
    draw_filled_rect_mut(&mut card, Rect::at(40, 30).of_size(width / 3, height / 12), Luma([120]));
    let mut photo = GrayImage::from_pixel(width + width / 8, height + width / 8, Luma([70]));
    image::imageops::overlay(&mut photo, &card, i64::from(width / 16), i64::from(width / 16));
    distort(photo, distortion)
}

fn distort(image: GrayImage, distortion: Distortion) -> GrayImage {
    match distortion {
        Distortion::Clean => image,
        // A quarter turn keeps the whole card (a portrait photo); other angles turn in place.
        Distortion::Rotated(90.0) => image::imageops::rotate90(&image),
        Distortion::Rotated(degrees) => {
            rotate_about_center(&image, degrees.to_radians(), Interpolation::Bilinear, Luma([70]))
        }
        Distortion::Blurred(sigma) => imageproc::filter::gaussian_blur_f32(&image, sigma),
        Distortion::Noisy(stddev) => imageproc::noise::gaussian_noise(&image, 0.0, stddev, 7),
    }
}

/// DejaVu Sans from the system, when installed (fonts-dejavu-core): fronts need a font.
pub fn font() -> Option<FontVec> {
    ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf"]
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .and_then(|bytes| FontVec::try_from_vec(bytes).ok())
}

/// A card front with AAMVA-numbered fields printed on it.
pub fn front_image(p: &Person, font: &FontVec, width: u32) -> GrayImage {
    let height = width * 54 / 86;
    let mut card = GrayImage::from_pixel(width, height, Luma([245]));
    let size = width as f32 / 24.0;
    let lines = [
        "NEW YORK STATE DRIVER LICENSE".to_string(),
        format!("4d DLN {}", p.number),
        format!("1 {}", p.family.to_uppercase()),
        format!("2 {} {}", p.given.to_uppercase(), p.middle.to_uppercase()),
        format!("3 DOB {}", p.birth.format("%m/%d/%Y")),
        format!("4b EXP {}", p.expiry.format("%m/%d/%Y")),
        format!("4a ISS {}", p.jurisdiction),
    ];
    draw_filled_rect_mut(
        &mut card,
        Rect::at(30, (size * 2.0) as i32).of_size(width / 4, height / 2),
        Luma([150]),
    );
    for (i, line) in lines.iter().enumerate() {
        let x = if i == 0 { 30 } else { (width / 4 + 60) as i32 };
        let y = (size * 0.6 + i as f32 * size * 1.4) as i32;
        draw_text_mut(&mut card, Luma([15]), x, y, size, font, line);
    }
    card
}

/// A front with no text (when there is no font, or OCR must find nothing).
pub fn blank_front(width: u32) -> GrayImage {
    GrayImage::from_pixel(width, width * 54 / 86, Luma([245]))
}

pub fn png(image: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), ImageFormat::Png).expect("PNG encodes");
    out
}

pub fn jpeg(image: &GrayImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .expect("JPEG encodes");
    out
}
