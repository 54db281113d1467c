//! The `Allow` header of a 405 answer, which RFC 9110 requires: the methods the OpenAPI
//! document lists for the matched route. Routes outside the document (the UI, `/metrics`,
//! `/docs`, the spec itself, JWKS) are all read-only pages.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Route patterns as the router reports them (`/api/v1/account/sessions/:param0`) to the
/// methods of that path in the spec (`DELETE`); set once by the route table ([`learn`]).
static ALLOWED: OnceLock<HashMap<String, String>> = OnceLock::new();

/// Learns the methods of every path from the OpenAPI document (JSON). The route table calls
/// it when it is built; the first call wins (the document is the same for every app).
pub fn learn(spec_json: &str) {
    ALLOWED.get_or_init(|| methods_by_route(spec_json));
}

fn methods_by_route(spec_json: &str) -> HashMap<String, String> {
    let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
    let Some(paths) = spec["paths"].as_object() else { return HashMap::new() };
    paths
        .iter()
        .map(|(path, operations)| {
            let mut methods: Vec<String> = operations
                .as_object()
                .map(|o| o.keys().map(|m| m.to_uppercase()).collect())
                .unwrap_or_default();
            methods.sort();
            (router_pattern(path), methods.join(", "))
        })
        .collect()
}

/// `/a/{id}/b/{x}` becomes `/a/:param0/b/:param1`, the way poem-openapi names path parameters.
fn router_pattern(spec_path: &str) -> String {
    let mut n = 0;
    spec_path
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                n += 1;
                format!(":param{}", n - 1)
            } else {
                segment.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A framework error as problem+json ([`crate::error::framework_error_response`]), with the
/// `Allow` header a 405 answer needs.
pub fn error_response(err: poem::Error) -> poem::Response {
    let route = err.data::<poem::PathPattern>().map(|p| p.0.to_string());
    let mut response = crate::error::framework_error_response(err);
    if response.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED {
        let allow = allowed_methods(route.as_deref().unwrap_or(""));
        response.headers_mut().insert(poem::http::header::ALLOW, allow.parse().expect("ASCII"));
    }
    response
}

/// The value of `Allow` for a route pattern.
pub fn allowed_methods(pattern: &str) -> &'static str {
    ALLOWED.get().and_then(|a| a.get(pattern)).map(String::as_str).unwrap_or("GET, HEAD")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_documented_methods_of_a_route() {
        let spec = r#"{"paths": {
            "/api/v1/auth/login": {"post": {}},
            "/api/v1/account/sessions/{session_id}": {"delete": {}},
            "/api/v1/account": {"patch": {}, "get": {}, "delete": {}}
        }}"#;
        learn(spec);
        assert_eq!(router_pattern("/api/v1/a/{id}/b/{x}"), "/api/v1/a/:param0/b/:param1");
        assert_eq!(allowed_methods("/api/v1/auth/login"), "POST");
        assert_eq!(allowed_methods("/api/v1/account/sessions/:param0"), "DELETE");
        assert_eq!(allowed_methods("/api/v1/account"), "DELETE, GET, PATCH");
        assert_eq!(allowed_methods("/metrics"), "GET, HEAD");
        // A route the spec does not know is a read-only page.
        assert_eq!(allowed_methods("/api/v1/nowhere"), "GET, HEAD");
    }
}
