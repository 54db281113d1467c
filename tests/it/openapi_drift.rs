//! The committed spec is what the code generates. Regenerate with `scripts/update-openapi.sh`.

#[test]
fn committed_spec_matches_the_code() {
    let generated = gatehouse::router::spec_documents().yaml;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.yaml");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated == committed,
        "openapi/openapi.yaml is out of date with the code: run scripts/update-openapi.sh and \
         commit the result"
    );
}

#[test]
fn every_operation_has_an_id_a_summary_and_a_tag() {
    let spec: serde_json::Value =
        serde_json::from_str(&gatehouse::router::spec_documents().json).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let here = format!("{method} {path}");
            assert!(op["operationId"].as_str().is_some_and(|s| !s.is_empty()), "{here}");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{here}");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{here}");
        }
    }
}

/// Two `#[OpenApi]` impls that share a path each write the path's key, and readers keep only
/// one of them: the other's operations vanish from the spec (and from API fuzzing).
#[test]
fn no_path_is_written_twice() {
    let yaml = gatehouse::router::spec_documents().yaml;
    let mut seen = std::collections::HashSet::new();
    for key in yaml.lines().filter(|l| l.starts_with("  /") && l.ends_with(':')) {
        assert!(seen.insert(key), "path written twice in the spec: {key}");
    }
}
