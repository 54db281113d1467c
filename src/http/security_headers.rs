//! Headers every response carries (SPEC section 6).

use poem::http::{HeaderMap, HeaderName, HeaderValue, header};

/// No inline script anywhere, the UI and Swagger UI included; styles may be inline because
/// Swagger UI sets style attributes.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; object-src 'none'; base-uri 'none'; \
                   frame-ancestors 'none'; form-action 'self'";

// Names and values are checked at compile time, not on every response (this runs on all of
// them).
static ALWAYS: [(HeaderName, HeaderValue); 5] = [
    (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
];
static HSTS: HeaderValue = HeaderValue::from_static("max-age=63072000; includeSubDomains");
static NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

pub fn apply(headers: &mut HeaderMap, production: bool, is_api: bool) {
    // Room for all of them at once rather than growing the map while inserting.
    headers.reserve(ALWAYS.len() + 2);
    for (name, value) in &ALWAYS {
        headers.insert(name.clone(), value.clone());
    }
    if production {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HSTS.clone());
    }
    // Answers about accounts and sessions must not sit in a shared or browser cache.
    if is_api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, NO_STORE.clone());
    }
}
