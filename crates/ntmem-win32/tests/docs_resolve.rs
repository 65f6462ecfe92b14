//! Every fact number the project cites resolves in `docs/windows-behaviour.md`.
//!
//! Tests and comments cite Windows behaviour by number: `F14` (a fact) or `V6` (a place where
//! Windows versions differ), in comments and doc comments (`// F14: ...`, `(F96)`, `F1–F50`)
//! and in test names (`..._F69`, `f14_...`, `..._f173_v16`). Each must have its heading
//! (`### F14`, `### V6`) in the reference, or a reader following the citation finds nothing.
//!
//! What counts as a citation: inside a word of letters, digits and `_` that does not start with
//! a digit (so `0x5000_F000` and `0xF1` are numbers, not citations), a `_`-separated piece that
//! is exactly `F` or `V` and digits; lowercase `f`/`v` pieces only in the name of a `fn` (so a
//! type like `f64` in `as_secs_f64()` is not read as F64). Scanned: every `.rs` and `.md` file
//! under `crates/`, the README and `docs/design.md`. Std only; runs with the other tests.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A citation: `('F', 14)` or `('V', 6)`.
type Cite = (char, u32);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

/// The citations of one line.
fn cites_in_line(line: &str, out: &mut Vec<Cite>) {
    let defines_fn = line.trim_start().starts_with("fn ") || line.trim_start().starts_with("pub fn ");
    let words = line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
    for word in words.filter(|w| w.chars().next().is_some_and(|c| !c.is_ascii_digit())) {
        for piece in word.split('_') {
            let mut chars = piece.chars();
            let Some(first) = chars.next() else { continue };
            let digits = chars.as_str();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let kind = match first {
                'F' | 'V' => first,
                'f' | 'v' if defines_fn => first.to_ascii_uppercase(),
                _ => continue,
            };
            if let Ok(n) = digits.parse() {
                out.push((kind, n));
            }
        }
    }
}

fn scan(path: &Path, found: &mut Vec<(Cite, String)>) {
    let Ok(text) = std::fs::read_to_string(path) else { return };
    let root = repo_root();
    let shown = path.strip_prefix(&root).unwrap_or(path);
    for (i, line) in text.lines().enumerate() {
        let mut cites = Vec::new();
        cites_in_line(line, &mut cites);
        for c in cites {
            found.push((c, format!("{}:{}", shown.display(), i + 1)));
        }
    }
}

fn walk(dir: &Path, found: &mut Vec<(Cite, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                walk(&path, found);
            }
        } else if path.extension().is_some_and(|e| e == "rs" || e == "md") {
            scan(&path, found);
        }
    }
}

/// The headings of the reference: `### F14` → `('F', 14)`.
fn headings(reference: &str) -> BTreeSet<Cite> {
    let mut set = BTreeSet::new();
    for line in reference.lines() {
        let Some(rest) = line.strip_prefix("### ") else { continue };
        let mut chars = rest.chars();
        let Some(kind @ ('F' | 'V')) = chars.next() else { continue };
        let digits: String = chars.take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse() {
            set.insert((kind, n));
        }
    }
    set
}

#[test]
fn every_cited_fact_has_its_heading_in_the_reference() {
    let root = repo_root();
    let reference = std::fs::read_to_string(root.join("docs/windows-behaviour.md")).expect("docs/windows-behaviour.md");
    let known = headings(&reference);
    let mut found = Vec::new();
    walk(&root.join("crates"), &mut found);
    scan(&root.join("README.md"), &mut found);
    scan(&root.join("docs/design.md"), &mut found);
    assert!(found.len() > 100, "the scan found only {} citations: is the tree where it should be?", found.len());
    let missing: Vec<String> =
        found.iter().filter(|(c, _)| !known.contains(c)).map(|((k, n), at)| format!("{k}{n} at {at}")).collect();
    assert!(missing.is_empty(), "cited but not in docs/windows-behaviour.md:\n{}", missing.join("\n"));
}

#[test]
fn citation_forms_are_read_and_numbers_are_not() {
    let mut c = Vec::new();
    cites_in_line("// F14: rounding (F96), F1–F50 and F122-F171", &mut c);
    assert_eq!(c, [('F', 14), ('F', 96), ('F', 1), ('F', 50), ('F', 122), ('F', 171)]);
    c.clear();
    cites_in_line("fn nt_read_and_write_virtual_memory_f173_v16() {", &mut c);
    assert_eq!(c, [('F', 173), ('V', 16)]);
    c.clear();
    cites_in_line("fn f14_win32_explicit_reservation() { x_F69 }", &mut c);
    assert_eq!(c, [('F', 14), ('F', 69)]);
    c.clear();
    cites_in_line("let a = 0x5000_F000 + 0xF1; let t = d.as_secs_f64(); let x: f32 = 1.0; // F1x", &mut c);
    assert_eq!(c, []);
}

#[test]
fn headings_are_read_with_their_numbers() {
    let h = headings("### F1. Geometry\n### F14 — rounding\n### V6\n## F2\ntext F3\n");
    assert_eq!(h.into_iter().collect::<Vec<_>>(), [('F', 1), ('F', 14), ('V', 6)]);
}
