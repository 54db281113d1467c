//! The AAMVA parser on arbitrary input: it must never panic, loop or allocate without bound,
//! whatever a barcode holds. Run with `cargo +nightly fuzz run aamva` from the repository.
#![no_main]

use gatehouse::drivers::licence::aamva;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A barcode decodes to text; invalid UTF-8 reaches the parser as replacement characters.
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = aamva::parse(&text) {
        let _ = parsed.fields.missing();
        // Whatever was read must be what a later step can store and show.
        if let Some(number) = parsed.fields.licence_number {
            assert!(!number.is_empty() && number.len() <= 40);
        }
    }
    // A header in front of the input reaches the designator and element code.
    let _ = aamva::parse(&format!("@\n\x1e\rANSI 636001100001DL00310010{text}"));
});
