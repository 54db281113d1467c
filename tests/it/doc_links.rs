//! The documentation's links stay whole: every relative link in README.md and docs/*.md names
//! a file that exists, and every `#anchor` a heading of the file it points into (GitHub's
//! anchors: the heading's text in lower case, punctuation dropped, spaces as hyphens, `-1`,
//! `-2` after repeats). Links to other sites are not fetched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

/// The link targets and heading anchors of one Markdown text.
struct Page {
    /// (line, destination) of every link and image.
    links: Vec<(usize, String)>,
    anchors: BTreeSet<String>,
}

fn read_page(text: &str) -> Page {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut links = Vec::new();
    let mut anchors = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut heading: Option<String> = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                links.push((line_of(range.start), dest_url.to_string()));
            }
            Event::Start(Tag::Heading { .. }) => {
                heading = Some(String::new());
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let base = slug(&heading.take().unwrap_or_default());
                let count = seen.entry(base.clone()).or_insert(0);
                anchors.insert(if *count == 0 { base.clone() } else { format!("{base}-{count}") });
                *count += 1;
            }
            _ => {}
        }
    }
    Page { links, anchors }
}

/// GitHub's anchor for a heading's text.
fn slug(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Every broken link in `files` (paths relative to `root`), as "file:line: what".
pub fn broken_links(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut pages: BTreeMap<PathBuf, Option<Page>> = BTreeMap::new();
    // Reads `path` once; false when it cannot be read.
    let page = |pages: &mut BTreeMap<PathBuf, Option<Page>>, path: &Path| -> bool {
        pages
            .entry(path.to_path_buf())
            .or_insert_with(|| std::fs::read_to_string(root.join(path)).ok().map(|t| read_page(&t)))
            .is_some()
    };
    let mut errors = Vec::new();
    for file in files {
        if !page(&mut pages, file) {
            errors.push(format!("{}: cannot be read", file.display()));
            continue;
        }
        let links = pages[file].as_ref().unwrap().links.clone();
        for (line, dest) in links {
            let at = format!("{}:{line}", file.display());
            if dest.contains("://") || dest.starts_with("mailto:") {
                continue;
            }
            if dest.starts_with('/') {
                errors.push(format!("{at}: {dest} is an absolute path; link relative to the file"));
                continue;
            }
            let (path, anchor) = match dest.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (dest.as_str(), None),
            };
            let target = if path.is_empty() {
                file.clone()
            } else {
                normalize(&file.parent().unwrap_or(Path::new("")).join(path))
            };
            if !root.join(&target).exists() {
                errors.push(format!("{at}: {dest}: {} does not exist", target.display()));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if target.extension().is_none_or(|e| e != "md") || !page(&mut pages, &target) {
                errors.push(format!("{at}: {dest}: anchors are checked in Markdown files only"));
                continue;
            }
            if !pages[&target].as_ref().unwrap().anchors.contains(anchor) {
                errors.push(format!("{at}: {dest}: {} has no heading #{anchor}", target.display()));
            }
        }
    }
    errors
}

/// README.md and every Markdown file in docs/.
fn documentation(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| PathBuf::from("docs").join(e.unwrap().file_name()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

#[test]
fn every_relative_link_and_anchor_in_the_documentation_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = documentation(root);
    assert!(files.len() >= 6, "README and the reader pages: {files:?}");
    let errors = broken_links(root, &files);
    assert!(errors.is_empty(), "broken links:\n{}", errors.join("\n"));
}

#[test]
fn the_checker_finds_broken_files_and_anchors_and_accepts_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("docs")).unwrap();
    std::fs::write(
        root.join("README.md"),
        "# Title\n\n## Start here: two commands\n\n## Notes\n\n## Notes\n\n\
         [ok](#start-here-two-commands) [ok](#notes-1) [ok](docs/guide.md#a-b--c)\n\
         [ok](docs/) [ok](https://example.org/x#y)\n\
         `[not a link](nowhere.md)`\n\n```\n[not a link](nowhere.md)\n```\n\n\
         [missing file](docs/nope.md)\n[missing anchor](#nowhere)\n\
         [wrapped\nlink](docs/guide.md#gone)\n[absolute](/etc/passwd)\n",
    )
    .unwrap();
    std::fs::write(
        root.join("docs/guide.md"),
        "# Guide\n\n## A `b` / c\n\n[up](../README.md#notes)\n",
    )
    .unwrap();
    let errors = broken_links(root, &documentation(root));
    assert_eq!(
        errors,
        vec![
            "README.md:17: docs/nope.md: docs/nope.md does not exist".to_string(),
            "README.md:18: #nowhere: README.md has no heading #nowhere".to_string(),
            "README.md:19: docs/guide.md#gone: docs/guide.md has no heading #gone".to_string(),
            "README.md:21: /etc/passwd is an absolute path; link relative to the file".to_string(),
        ],
    );
}
