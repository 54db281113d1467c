//! Headers every response carries (SPEC section 6).

use poem::http::{HeaderMap, HeaderValue, header};

/// No inline script anywhere, the UI and Swagger UI included; styles may be inline because
/// Swagger UI sets style attributes.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; object-src 'none'; base-uri 'none'; \
                   frame-ancestors 'none'; form-action 'self'";

pub fn apply(headers: &mut HeaderMap, production: bool, is_api: bool) {
    let set = |headers: &mut HeaderMap, name, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    if production {
        set(headers, header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains");
    }
    // Answers about accounts and sessions must not sit in a shared or browser cache.
    if is_api && !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
}
