//! The house rules of `docs/architecture.md` that a test can hold: no file in `src/` over 500
//! lines, no feature's store public (`pub mod store`), the ground floor (infrastructure and
//! shared types) importing nothing above it, and nothing below the wiring reaching up into it
//! (the app's whole state, the route table, start-up, the command line).

use std::path::{Path, PathBuf};

/// Modules every feature may use and which use no feature.
const GROUND: &[&str] = &[
    "audit",
    "cache",
    "clock",
    "config",
    "contact",
    "crypto",
    "db",
    "error",
    "identity",
    "jobs",
    "keys",
    "logging",
    "metrics",
    "pii",
    "ratelimit",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The top-level module a file of `src/` belongs to (`drivers/licence/ocr.rs` -> `drivers`).
fn module_of(file: &str) -> &str {
    file.split('/').next().unwrap().trim_end_matches(".rs")
}

/// The top-level modules a source names as `crate::<module>`, outside its unit tests.
fn modules_named(source: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]\nmod tests").next().unwrap();
    let mut named: Vec<String> = code
        .match_indices("crate::")
        .map(|(at, _)| {
            code[at + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect()
        })
        .collect();
    named.sort();
    named.dedup();
    named
}

#[test]
fn no_source_file_is_over_500_lines() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.lines().count() > 500)
        .map(|(name, text)| format!("{name}: {} lines", text.lines().count()))
        .collect();
    assert!(long.is_empty(), "split these files: {long:?}");
}

#[test]
fn no_feature_store_is_public() {
    let public: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.lines().any(|l| l.trim() == "pub mod store;"))
        .map(|(name, _)| name)
        .collect();
    assert!(public.is_empty(), "a feature's store is private to it: {public:?}");
}

#[test]
fn the_ground_floor_imports_nothing_above_it() {
    let mut upward = Vec::new();
    for (name, text) in sources() {
        let module = module_of(&name);
        if !GROUND.contains(&module) {
            continue;
        }
        for named in modules_named(&text) {
            if named != module && !GROUND.contains(&named.as_str()) {
                upward.push(format!("{name} -> crate::{named}"));
            }
        }
    }
    assert!(upward.is_empty(), "the ground floor must not lean on a feature: {upward:?}");
}

/// The top floor: it builds and routes everything, and nothing else may name it.
const WIRING: &[&str] = &["cli", "startup", "router", "state", "seed", "web", "lib", "main"];

#[test]
fn nothing_below_the_wiring_reaches_up_into_it() {
    let mut upward = Vec::new();
    for (name, text) in sources() {
        let module = module_of(&name);
        if WIRING.contains(&module) {
            continue;
        }
        for named in modules_named(&text) {
            if WIRING.contains(&named.as_str()) {
                upward.push(format!("{name} -> crate::{named}"));
            }
        }
    }
    assert!(upward.is_empty(), "features receive their state, they do not reach it: {upward:?}");
}

#[test]
fn the_rules_see_what_they_check() {
    assert_eq!(module_of("drivers/licence/ocr.rs"), "drivers");
    assert_eq!(module_of("state.rs"), "state");
    let source = "use crate::db::Db;\nfn f() { crate::accounts::x(); }\n#[cfg(test)]\nmod tests {\n    use crate::router;\n}\n";
    assert_eq!(modules_named(source), vec!["accounts".to_string(), "db".to_string()]);
}
