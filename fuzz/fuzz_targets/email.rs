//! Email normalisation and checks: never panic; normalising is idempotent; an accepted
//! address has exactly one @ and an acceptable domain.
#![no_main]

use gatehouse::contact::email::{domain_of, is_domain, normalize, problem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let email = normalize(raw);
    assert_eq!(normalize(&email), email);
    if problem(&email).is_none() {
        assert_eq!(email.matches('@').count(), 1);
        assert!(is_domain(domain_of(&email)));
    }
});
