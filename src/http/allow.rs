//! The `Allow` header of a 405 answer, which RFC 9110 requires: the methods the OpenAPI
//! document lists for the matched route. Routes outside the document (the UI, `/metrics`,
//! `/docs`, the spec itself, JWKS) are all read-only pages.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Route patterns as the router reports them (`/api/v1/account/sessions/:param0`) to the
/// methods of that path in the spec (`DELETE`).
static ALLOWED: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let spec: serde_json::Value =
        serde_json::from_str(&crate::router::spec_documents().json).unwrap_or_default();
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
});

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

/// The value of `Allow` for a route pattern.
pub fn allowed_methods(pattern: &str) -> &'static str {
    ALLOWED.get(pattern).map(String::as_str).unwrap_or("GET, HEAD")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_documented_methods_of_a_route() {
        assert_eq!(router_pattern("/api/v1/a/{id}/b/{x}"), "/api/v1/a/:param0/b/:param1");
        assert_eq!(allowed_methods("/api/v1/auth/login"), "POST");
        assert_eq!(allowed_methods("/api/v1/account/sessions/:param0"), "DELETE");
        assert_eq!(allowed_methods("/api/v1/account"), "DELETE, GET, PATCH");
        assert_eq!(allowed_methods("/metrics"), "GET, HEAD");
    }
}
