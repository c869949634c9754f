//! The data dictionary of the projection tables, written from their declarations: the part of
//! the analysts' documentation (`docs/analysts.md`) that describes each projection table and
//! column. It exists for the test that keeps the document equal to it (and regenerates it).

use super::ALL;

/// The width, in characters, the document's prose is wrapped at.
const WIDTH: usize = 100;

/// The data dictionary as Markdown: per table its description, then a row per column with its
/// PostgreSQL type and what it holds (an enum column lists its values).
pub(super) fn data_dictionary() -> String {
    let mut out = String::new();
    for table in ALL {
        let doc = one_line(table.doc);
        let mut first = doc.chars();
        let doc: String = first
            .next()
            .map(|c| c.to_lowercase().chain(first).collect())
            .unwrap_or_default();
        out.push_str(&wrap(&format!("**`{}`** — {doc}", table.name)));
        out.push_str("\n| column | type | meaning |\n|---|---|---|\n");
        for column in table.columns {
            let mut kind = column.sql.postgres().to_string();
            if column.name == "id" {
                kind.push_str(", primary key");
            } else if !column.nullable {
                kind.push_str(", not null");
            }
            let mut meaning = Vec::new();
            if let Some(values) = column.values {
                let values: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
                meaning.push(values.join(", "));
            }
            let doc = one_line(column.doc);
            if !doc.is_empty() {
                meaning.push(doc);
            }
            out.push_str(&format!(
                "| `{}` | {kind} | {} |\n",
                column.name,
                meaning.join("; ")
            ));
        }
        out.push('\n');
    }
    out
}

/// A doc comment's lines as one line.
fn one_line(doc: &str) -> String {
    doc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A paragraph wrapped at [`WIDTH`], each line ending in a newline.
fn wrap(paragraph: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in paragraph.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analysts' documentation, whose data dictionary holds the generated text between these
    /// two markers.
    const DOCUMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/analysts.md");
    const BEGIN: &str = "<!-- projection tables: generated from projections/src/tables.rs -->\n";
    const END: &str = "<!-- end of the generated projection tables -->\n";

    #[test]
    fn the_analysts_data_dictionary_is_the_one_the_declarations_generate() {
        let document = std::fs::read_to_string(DOCUMENT).expect(DOCUMENT);
        let start = document.find(BEGIN).expect("the begin marker") + BEGIN.len();
        let end = start + document[start..].find(END).expect("the end marker");
        let generated = format!("\n{}", data_dictionary());
        if document[start..end] == generated {
            return;
        }
        if std::env::var_os("EHEALTH_REGENERATE_DOCS").is_some() {
            let updated = format!("{}{generated}{}", &document[..start], &document[end..]);
            std::fs::write(DOCUMENT, updated).expect(DOCUMENT);
            return;
        }
        panic!(
            "docs/analysts.md's projection tables differ from the declarations; regenerate them \
             with `EHEALTH_REGENERATE_DOCS=1 cargo test -p ehealth-projections \
             the_analysts_data_dictionary`"
        );
    }

    #[test]
    fn every_column_is_described_with_its_type_and_enum_values() {
        let dictionary = data_dictionary();
        for table in ALL {
            let section = dictionary
                .split("**`")
                .find(|s| s.starts_with(&format!("{}`** — ", table.name)))
                .unwrap_or_else(|| panic!("{}", table.name));
            for column in table.columns {
                let line = section
                    .lines()
                    .find(|l| {
                        l.starts_with(&format!("| `{}` | {}", column.name, column.sql.postgres()))
                    })
                    .unwrap_or_else(|| panic!("{}.{}", table.name, column.name));
                assert!(
                    !column.doc.trim().is_empty() || column.values.is_some(),
                    "{}.{}: a column says what it holds, or lists its values",
                    table.name,
                    column.name
                );
                if let Some(values) = column.values {
                    assert!(line.contains(&format!("`{}`", values[0])), "{line}");
                }
            }
        }
        assert!(dictionary.contains(
            "| `status` | text, not null | `NEW`, `APPROVED`, `REJECTED`, `CANCELLED`, `SIGNED`, \
             `MERGED`, `EXPIRED` |"
        ));
    }

    #[test]
    fn a_paragraph_is_wrapped_at_the_documents_width() {
        let wrapped = wrap(&format!("— {}", "word ".repeat(30)));
        let lines: Vec<&str> = wrapped.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].chars().count(), 96);
        assert_eq!(lines[1], "word ".repeat(11).trim_end());
    }
}
