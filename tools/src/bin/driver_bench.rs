//! Licence extraction figures over generated licences (tests/it/support/licence_images.rs):
//! success rate and time per licence (decode + barcode + AAMVA parse, as an upload does) for
//! clean, rotated, blurred, noisy and JPEG photos; and, in its own process, the peak memory of
//! decoding and reading the largest image the default configuration accepts. Used by
//! scripts/bench/driver.sh.
//!
//!     cargo run --release -p gatehouse-tools --bin driver_bench -- set [COUNT]
//!     cargo run --release -p gatehouse-tools --bin driver_bench -- write-largest FILE
//!     cargo run --release -p gatehouse-tools --bin driver_bench -- decode FILE

#[path = "../../../tests/it/support/licence_images.rs"]
mod licence_images;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use gatehouse::config::DriverConfig;
use gatehouse::drivers::licence::{aamva, barcode};
use gatehouse::drivers::uploads;
use licence_images::{Distortion, Person};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("set") => set(args.get(2).and_then(|n| n.parse().ok()).unwrap_or(10)),
        Some("write-largest") => write_largest(&args[2]),
        Some("decode") => decode(&args[2]),
        _ => eprintln!("usage: driver_bench set [COUNT] | write-largest FILE | decode FILE"),
    }
}

fn person(i: usize) -> Person {
    let names = [("Maria", "Garcia"), ("Wei", "Zhang"), ("Olusegun", "Adeyemi"), ("Zoe", "OBrien")];
    let (given, family) = names[i % names.len()];
    let mut p =
        Person::new(given, family, NaiveDate::from_ymd_opt(2030, 1 + (i % 12) as u32, 15).unwrap());
    p.number = format!("D{:08}", 10_000_000 + i * 7919);
    p
}

/// Reads one encoded image the way an upload does; true when every field came back right.
fn extract(bytes: Vec<u8>, expected: &Person, config: &DriverConfig) -> bool {
    let Ok(checked) = uploads::check("back", bytes, config) else { return false };
    let Ok(pixels) = checked.decode_luma(config) else { return false };
    let Some(text) = barcode::read_pdf417(&pixels) else { return false };
    let Ok(parsed) = aamva::parse(&text) else { return false };
    let f = parsed.fields;
    f.family_name.as_deref() == Some(&expected.family.to_uppercase())
        && f.licence_number.as_deref() == Some(expected.number.as_str())
        && f.expiry == Some(expected.expiry)
        && f.birth_date == Some(expected.birth)
}

fn set(count: usize) {
    let config = DriverConfig::default();
    let variants: [(&str, Distortion, bool); 8] = [
        ("clean PNG", Distortion::Clean, false),
        ("clean JPEG q80", Distortion::Clean, true),
        ("rotated 3 deg", Distortion::Rotated(3.0), true),
        ("rotated 10 deg", Distortion::Rotated(10.0), true),
        ("rotated 90 deg", Distortion::Rotated(90.0), true),
        ("blurred sigma 1.5", Distortion::Blurred(1.5), true),
        ("blurred sigma 3", Distortion::Blurred(3.0), true),
        ("noisy sd 25", Distortion::Noisy(25.0), true),
    ];
    println!("{:<20} {:>8} {:>10} {:>10} {:>10}", "set", "read", "mean ms", "p50 ms", "max ms");
    let (mut all_ok, mut all) = (0, 0);
    for (label, distortion, as_jpeg) in variants {
        let mut times: Vec<Duration> = Vec::new();
        let mut ok = 0;
        for i in 0..count {
            let p = person(i);
            // Phone-photo sizes: 1600 to 3000 pixels wide.
            let width = 1600 + (i as u32 * 350) % 1400;
            let image =
                licence_images::back_image(&licence_images::aamva_payload(&p), width, distortion);
            let bytes = if as_jpeg {
                licence_images::jpeg(&image, 80)
            } else {
                licence_images::png(&image)
            };
            let started = Instant::now();
            ok += usize::from(extract(bytes, &p, &config));
            times.push(started.elapsed());
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / count as u32;
        println!(
            "{label:<20} {:>5}/{:<2} {:>10.0} {:>10.0} {:>10.0}",
            ok,
            count,
            mean.as_secs_f64() * 1e3,
            times[count / 2].as_secs_f64() * 1e3,
            times[count - 1].as_secs_f64() * 1e3
        );
        all_ok += ok;
        all += count;
    }
    println!("overall: {all_ok}/{all} read ({:.0}%)", 100.0 * all_ok as f64 / all as f64);
}

/// A JPEG back at the largest pixel count accepted by default (6000 x 4000 = 24 MP).
fn write_largest(path: &str) {
    let config = DriverConfig::default();
    let width = 6000u32;
    let p = person(1);
    let card = licence_images::back_image(
        &licence_images::aamva_payload(&p),
        width * 8 / 9,
        Distortion::Clean,
    );
    let mut canvas = image::GrayImage::from_pixel(width, 4000, image::Luma([70]));
    image::imageops::overlay(&mut canvas, &card, 0, 0);
    assert!(u64::from(canvas.width()) * u64::from(canvas.height()) <= config.max_image_pixels);
    let bytes = licence_images::jpeg(&canvas, 85);
    std::fs::write(path, &bytes).unwrap();
    println!("wrote {path}: {}x{} pixels, {} bytes", canvas.width(), canvas.height(), bytes.len());
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn decode(path: &str) {
    let config = DriverConfig::default();
    let bytes = std::fs::read(path).unwrap();
    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let checked = uploads::check("back", bytes, &config).expect("accepted");
    let pixels = checked.decode_luma(&config).expect("decodes");
    let text = barcode::read_pdf417(&pixels);
    let elapsed = started.elapsed();
    let peak = status_kib("VmHWM:");
    println!(
        "largest allowed image {}x{}: barcode {} in {:.0} ms; peak RSS {} MiB (RSS before decoding {} MiB)",
        checked.width,
        checked.height,
        if text.as_deref().map(aamva::parse).is_some_and(|r| r.is_ok()) {
            "read"
        } else {
            "NOT read"
        },
        elapsed.as_secs_f64() * 1e3,
        peak / 1024,
        before / 1024
    );
}
