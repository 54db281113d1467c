//! The phone parser: never panics, and its E.164 answer parses again to itself.
#![no_main]

use gatehouse::contact::phone::to_e164;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    for region in ["IN", "US", "GB", ""] {
        if let Ok(e164) = to_e164(raw, region) {
            assert!(e164.starts_with('+') && e164[1..].bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(to_e164(&e164, region).as_deref(), Ok(e164.as_str()), "{raw:?}");
        }
    }
});
