//! Bearer access tokens: any string is refused cleanly (only tokens signed by our key pass),
//! never a panic.
#![no_main]

use std::sync::LazyLock;

use gatehouse::tokens::jwt::JwtKeys;
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<JwtKeys> =
    LazyLock::new(|| JwtKeys::new(&[7; 32], "http://127.0.0.1:8080", "gatehouse"));

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    assert!(KEYS.verify(token, 0).is_err(), "a made-up token was accepted: {token:?}");
});
