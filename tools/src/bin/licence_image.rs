//! Writes a generated licence (`front.png`, `back.png`) for a made-up person, for the browser
//! tests and for trying the driver pages by hand.
//!
//!     cargo run -p gatehouse-tools --bin licence_image -- OUT_DIR GIVEN FAMILY EXPIRY(YYYY-MM-DD) [OPTIONS]
//!
//! Options, for photos that are not clean scans (the driver page's own checks are tested on
//! them): `--width PIXELS` of the card (default 1400; the photo around it is an eighth wider),
//! `--blur SIGMA` (Gaussian, in pixels), `--noise SD` (Gaussian sensor noise), `--jpeg QUALITY`
//! (writes `front.jpg` and `back.jpg` instead, as a phone camera does).

#[path = "../../../tests/it/support/licence_images.rs"]
mod licence_images;

use chrono::NaiveDate;
use image::GrayImage;
use licence_images::{Distortion, Person};

const USAGE: &str = "usage: licence_image OUT_DIR GIVEN FAMILY EXPIRY(YYYY-MM-DD) \
                     [--width PIXELS] [--blur SIGMA] [--noise SD] [--jpeg QUALITY]";

#[derive(Default)]
struct Options {
    width: Option<u32>,
    blur: Option<f32>,
    noise: Option<f64>,
    jpeg: Option<u8>,
}

fn parse_options(args: &[String]) -> Options {
    let mut options = Options::default();
    for pair in args.chunks(2) {
        let [flag, value] = pair else { usage() };
        match flag.as_str() {
            "--width" => options.width = Some(number(value)),
            "--blur" => options.blur = Some(number(value)),
            "--noise" => options.noise = Some(number(value)),
            "--jpeg" => options.jpeg = Some(number(value)),
            _ => usage(),
        }
    }
    options
}

fn number<T: std::str::FromStr>(value: &str) -> T {
    value.parse().unwrap_or_else(|_| usage())
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, given, family, expiry, rest @ ..] = args.as_slice() else { usage() };
    let options = parse_options(rest);
    let expiry = NaiveDate::parse_from_str(expiry, "%Y-%m-%d").expect("EXPIRY is YYYY-MM-DD");
    let person = Person::new(given, family, expiry);
    let width = options.width.unwrap_or(1400);
    let out = std::path::Path::new(out);
    std::fs::create_dir_all(out).expect("output directory");
    let back = licence_images::back_image(
        &licence_images::aamva_payload(&person),
        width,
        Distortion::Rotated(2.0),
    );
    let front = match licence_images::font() {
        Some(font) => licence_images::front_image(&person, &font, width),
        None => licence_images::blank_front(width),
    };
    for (name, image) in [("back", back), ("front", front)] {
        let image = photographed(image, &options);
        let (file, bytes) = match options.jpeg {
            Some(quality) => (format!("{name}.jpg"), licence_images::jpeg(&image, quality)),
            None => (format!("{name}.png"), licence_images::png(&image)),
        };
        std::fs::write(out.join(file), bytes).expect("image written");
    }
    println!("{}", out.display());
}

/// The image as a less careful photo would show it: blurred, then noisy, as a sensor sees a
/// blurred scene.
fn photographed(mut image: GrayImage, options: &Options) -> GrayImage {
    if let Some(sigma) = options.blur {
        image = imageproc::filter::gaussian_blur_f32(&image, sigma);
    }
    if let Some(sd) = options.noise {
        image = imageproc::noise::gaussian_noise(&image, 0.0, sd, 7);
    }
    image
}
