//! The metadata stripper of licence images on arbitrary input: it must never panic or read out
//! of bounds, whatever an upload holds, and what it keeps is never longer than what it got.
//! Run with `cargo +nightly fuzz run image_metadata` from the repository.
#![no_main]

use gatehouse::drivers::metadata;
use gatehouse::drivers::uploads::ImageKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for (kind, magic) in
        [(ImageKind::Jpeg, &b"\xFF\xD8"[..]), (ImageKind::Png, &b"\x89PNG\r\n\x1a\n"[..])]
    {
        // As uploaded, and behind the right signature so the walk goes past it.
        for bytes in [data.to_vec(), [magic, data].concat()] {
            if let Some(stripped) = metadata::strip(kind, &bytes) {
                assert!(stripped.len() <= bytes.len());
                assert!(stripped.starts_with(magic));
            }
        }
    }
});
