//! Writes a generated licence (`front.png`, `back.png`) for a made-up person, for the browser
//! tests and for trying the driver pages by hand.
//!
//!     cargo run --example licence_image -- OUT_DIR GIVEN FAMILY EXPIRY(YYYY-MM-DD)

#[path = "../tests/support/licence_images.rs"]
mod licence_images;

use chrono::NaiveDate;
use licence_images::{Distortion, Person};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, given, family, expiry] = args.as_slice() else {
        eprintln!("usage: licence_image OUT_DIR GIVEN FAMILY EXPIRY(YYYY-MM-DD)");
        std::process::exit(2);
    };
    let expiry = NaiveDate::parse_from_str(expiry, "%Y-%m-%d").expect("EXPIRY is YYYY-MM-DD");
    let person = Person::new(given, family, expiry);
    let out = std::path::Path::new(out);
    std::fs::create_dir_all(out).expect("output directory");
    let back = licence_images::back_image(
        &licence_images::aamva_payload(&person),
        1400,
        Distortion::Rotated(2.0),
    );
    std::fs::write(out.join("back.png"), licence_images::png(&back)).expect("back.png");
    let front = match licence_images::font() {
        Some(font) => licence_images::front_image(&person, &font, 1400),
        None => licence_images::blank_front(1400),
    };
    std::fs::write(out.join("front.png"), licence_images::png(&front)).expect("front.png");
    println!("{}", out.display());
}
