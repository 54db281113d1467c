//! Headers every response carries.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_gets_the_headers_and_api_answers_are_not_cached() {
        let mut headers = HeaderMap::new();
        apply(&mut headers, false, true);
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert!(headers.get(header::STRICT_TRANSPORT_SECURITY).is_none());
    }

    #[test]
    fn production_adds_hsts_and_an_own_cache_policy_is_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=60"));
        apply(&mut headers, true, true);
        assert_eq!(
            headers[header::STRICT_TRANSPORT_SECURITY],
            "max-age=63072000; includeSubDomains"
        );
        assert_eq!(headers[header::CACHE_CONTROL], "max-age=60");

        let mut page = HeaderMap::new();
        apply(&mut page, false, false);
        assert!(page.get(header::CACHE_CONTROL).is_none(), "pages may be cached");
    }
}
