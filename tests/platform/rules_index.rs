//! docs/rules.md names, for every check, the tests that trigger it as `path.rs::test_name`: each
//! of those files must exist and define that function, so the index cannot point at a test that
//! was renamed or merged away.

use std::path::Path;

#[test]
fn every_test_the_rules_index_names_exists_in_the_file_it_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let index = std::fs::read_to_string(root.join("docs/rules.md")).expect("docs/rules.md");
    let mut named = 0;
    let mut missing = Vec::new();
    for word in index.split(|c: char| c == '`' || c.is_whitespace() || c == ',') {
        let Some((file, function)) = word.split_once(".rs::") else {
            continue;
        };
        let file = format!("{file}.rs");
        if file == "file.rs" {
            continue; // the legend's placeholder
        }
        named += 1;
        let source = std::fs::read_to_string(root.join(&file)).unwrap_or_default();
        let defined = source
            .match_indices(&format!("fn {function}"))
            .any(|(at, m)| {
                !source[at + m.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            });
        if !defined {
            missing.push(format!("{file}::{function}"));
        }
    }
    assert!(named > 50, "the index names only {named} tests");
    assert!(
        missing.is_empty(),
        "docs/rules.md names tests that do not exist: {missing:#?}"
    );
}
