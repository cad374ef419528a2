//! The table of docs/ARCHITECTURE.md ("Unsafe code") lists exactly the source files that allow
//! `unsafe_code` or hold unsafe code.
//!
//! The workspace denies `unsafe_code`, so unsafe code compiles only under an
//! `#![allow(unsafe_code)]` or `#[allow(unsafe_code)]` (or `expect`) attribute, in its own file
//! or, for an inner attribute, in the file of a parent module (`packed/mod.rs` covers
//! `packed/x86.rs`). This test reads `<member>/src/**/*.rs` of every member crate named in the
//! root `Cargo.toml`, comments and string literals left out, and requires the table to list every
//! file with such an attribute or with the `unsafe` keyword, and nothing else: a listed file
//! with neither fails too.
//!
//! It reads the workspace around cmdai-core (`CARGO_MANIFEST_DIR/..`). Built from a packaged
//! crate, outside the workspace, there is nothing to compare: it says so and passes.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const DOC: &str = "docs/ARCHITECTURE.md";
const HEADING: &str = "## Unsafe code";

/// The workspace root, when cmdai-core is one of its members.
fn workspace_root() -> Option<PathBuf> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.parent()?;
    let manifest = fs::read_to_string(root.join("Cargo.toml")).ok()?;
    let table: toml::Table = manifest.parse().ok()?;
    let is_member = members(&table)?
        .iter()
        .any(|m| root.join(m).canonicalize().ok() == crate_dir.canonicalize().ok());
    (is_member && root.join(DOC).is_file()).then(|| root.to_path_buf())
}

/// `workspace.members` of a parsed root `Cargo.toml`.
fn members(table: &toml::Table) -> Option<Vec<String>> {
    let members = table.get("workspace")?.get("members")?.as_array()?;
    members
        .iter()
        .map(|m| m.as_str().map(str::to_owned))
        .collect()
}

/// The member directories, relative to `root`; a member `dir/*` stands for every directory
/// in `dir` with a `Cargo.toml`.
fn member_dirs(root: &Path) -> Vec<String> {
    let manifest = fs::read_to_string(root.join("Cargo.toml")).expect("read the root Cargo.toml");
    let table: toml::Table = manifest.parse().expect("parse the root Cargo.toml");
    let mut dirs = Vec::new();
    for member in members(&table).expect("the root Cargo.toml lists workspace.members") {
        match member.strip_suffix("/*") {
            Some(parent) => {
                let entries = fs::read_dir(root.join(parent))
                    .unwrap_or_else(|e| panic!("cannot list member directory {parent}: {e}"));
                let mut found: Vec<String> = entries
                    .filter_map(|entry| entry.ok())
                    .filter(|entry| entry.path().join("Cargo.toml").is_file())
                    .map(|entry| format!("{parent}/{}", entry.file_name().to_string_lossy()))
                    .collect();
                found.sort();
                dirs.extend(found);
            }
            None => {
                assert!(
                    !member.contains(['*', '?', '[']),
                    "workspace member {member:?}: only `dir/*` patterns are understood here; \
                     extend member_dirs in {}",
                    file!()
                );
                dirs.push(member);
            }
        }
    }
    assert!(!dirs.is_empty(), "the workspace has no members");
    dirs
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("read a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `text` with comments removed and string and character literals emptied, so that only code
/// is left (a `#[allow(unsafe_code)]` inside a comment or a string does not count).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r'
            && (at(i + 1) == '"' || at(i + 1) == '#')
            && {
                // `r`, `br` or `cr` as a whole token, not the end of an identifier.
                let ident = |k: usize| chars[k].is_alphanumeric() || chars[k] == '_';
                let mut start = i;
                while start > 0 && ident(start - 1) {
                    start -= 1;
                }
                matches!(&chars[start..i], [] | ['b'] | ['c'])
            }
            && {
                let mut j = i + 1;
                while at(j) == '#' {
                    j += 1;
                }
                at(j) == '"'
            }
        {
            // A raw string: r"..." or r#"..."# (also after `b` or `c`).
            let mut j = i + 1;
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            'raw: while j < chars.len() {
                if chars[j] == '"' && (1..=hashes).all(|k| at(j + k) == '#') {
                    j += 1 + hashes;
                    break 'raw;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && at(i + 1) == '\\' {
            // '\n', '\'', '\u{..}'
            let mut j = i + 2;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            out.push_str("' '");
            i = j + 1;
        } else if c == '\'' && at(i + 2) == '\'' {
            out.push_str("' '");
            i += 3;
        } else {
            // Anything else, lifetimes included.
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether the code of `text` has an `allow` or `expect` attribute, inner or outer, that names
/// `unsafe_code`.
fn allows_unsafe_code(text: &str) -> bool {
    let code = code_only(text);
    let bytes = code.as_bytes();
    let skip_space = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    for (start, _) in code.match_indices('#') {
        let mut i = skip_space(start + 1);
        if bytes.get(i) == Some(&b'!') {
            i = skip_space(i + 1);
        }
        if bytes.get(i) != Some(&b'[') {
            continue;
        }
        i = skip_space(i + 1);
        let rest = &code[i..];
        let Some(after) = rest
            .strip_prefix("allow")
            .or_else(|| rest.strip_prefix("expect"))
        else {
            continue;
        };
        let after = after.trim_start();
        let Some(list) = after.strip_prefix('(') else {
            continue;
        };
        let Some(end) = list.find(')') else {
            continue;
        };
        if list[..end]
            .split(',')
            .any(|lint| lint.trim() == "unsafe_code")
        {
            return true;
        }
    }
    false
}

/// Whether the code of `text` (comments and strings left out) uses the `unsafe` keyword.
fn has_unsafe_keyword(text: &str) -> bool {
    let code = code_only(text);
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices("unsafe").any(|(at, word)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// The files in the document's unsafe-code table, as written (`crate/src/file.rs`).
fn listed(doc: &str) -> Vec<String> {
    let mut lines = doc.lines().skip_while(|line| line.trim() != HEADING);
    assert!(
        lines.next().is_some(),
        "{DOC} has no `{HEADING}` section; it must list the files that allow unsafe code"
    );
    lines
        .take_while(|line| !line.starts_with("## "))
        .filter_map(|line| line.trim().strip_prefix("| `"))
        .map(|rest| {
            let end = rest.find('`').expect("a table row's file is in backquotes");
            rest[..end].to_owned()
        })
        .collect()
}

/// The files under `<member>/src/` that allow unsafe code or hold it, relative to `root`, with
/// `/`.
fn with_unsafe_code(root: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for member in member_dirs(root) {
        let src = root.join(&member).join("src");
        assert!(src.is_dir(), "member {member} has no src/ directory");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for file in files {
            let text = fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            if allows_unsafe_code(&text) || has_unsafe_keyword(&text) {
                let relative = file.strip_prefix(root).expect("under the root");
                let parts: Vec<_> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.insert(parts.join("/"));
            }
        }
    }
    found
}

#[test]
fn the_unsafe_code_table_lists_exactly_the_files_with_unsafe_code() {
    let Some(root) = workspace_root() else {
        eprintln!(
            "skipped: {} is not inside the cmdai workspace (no ../Cargo.toml listing it as a \
             member, or no ../{DOC}), e.g. a packaged crate; nothing to compare",
            env!("CARGO_MANIFEST_DIR")
        );
        return;
    };
    let doc = fs::read_to_string(root.join(DOC)).expect("read the architecture document");
    let rows = listed(&doc);
    let documented: BTreeSet<String> = rows.iter().cloned().collect();
    assert_eq!(
        documented.len(),
        rows.len(),
        "{DOC} lists a file twice in `{HEADING}`: {rows:?}"
    );
    let found = with_unsafe_code(&root);

    let unlisted: Vec<_> = found.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&found).collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "{DOC}, section `{HEADING}`, must list exactly the files that allow unsafe_code or \
         hold unsafe code.\n\
         Allow or hold unsafe code but are not listed (add a row saying why): {unlisted:?}\n\
         Listed but neither allow nor hold unsafe code, or do not exist (remove the row): \
         {stale:?}"
    );
}

#[test]
fn every_member_takes_the_workspace_lints_that_deny_unsafe_code() {
    // Without this, a crate could hold unsafe code with no `allow` for the test above to find.
    let Some(root) = workspace_root() else {
        eprintln!("skipped: not inside the cmdai workspace");
        return;
    };
    let manifest = fs::read_to_string(root.join("Cargo.toml")).expect("read the root Cargo.toml");
    let table: toml::Table = manifest.parse().expect("parse the root Cargo.toml");
    let level = table
        .get("workspace")
        .and_then(|w| w.get("lints"))
        .and_then(|l| l.get("rust"))
        .and_then(|r| r.get("unsafe_code"))
        .and_then(|u| {
            u.as_str()
                .or_else(|| u.get("level").and_then(|l| l.as_str()))
        });
    assert!(
        matches!(level, Some("deny" | "forbid")),
        "the root Cargo.toml must deny unsafe_code in [workspace.lints.rust], found {level:?}"
    );
    for member in member_dirs(&root) {
        let manifest = fs::read_to_string(root.join(&member).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("cannot read {member}/Cargo.toml: {e}"));
        let table: toml::Table = manifest
            .parse()
            .unwrap_or_else(|e| panic!("cannot parse {member}/Cargo.toml: {e}"));
        let inherits = table
            .get("lints")
            .and_then(|l| l.get("workspace"))
            .and_then(|w| w.as_bool())
            == Some(true);
        assert!(
            inherits,
            "{member}/Cargo.toml must have `[lints] workspace = true` so that unsafe_code is denied"
        );
    }
}

#[test]
fn the_attribute_finder_reads_code_not_comments_or_strings() {
    assert!(allows_unsafe_code(
        "//! Docs.\n#![allow(unsafe_code)]\nfn f() {}\n"
    ));
    assert!(allows_unsafe_code(
        "fn f() {\n    #[allow(unsafe_code)]\n    unsafe {}\n}\n"
    ));
    assert!(allows_unsafe_code("#![allow(clippy::x, unsafe_code)]"));
    assert!(allows_unsafe_code("# ! [ expect ( unsafe_code ) ]"));
    assert!(allows_unsafe_code("#[allow(\n    unsafe_code,\n)]"));
    assert!(allows_unsafe_code(
        "fn f<'a>(x: &'a u8) -> char { '\\'' }\n#![allow(unsafe_code)]"
    ));
    assert!(!allows_unsafe_code("// #![allow(unsafe_code)]\n"));
    assert!(!allows_unsafe_code(
        "/* #![allow(unsafe_code)] /* nested */ */\n"
    ));
    assert!(!allows_unsafe_code(
        "const S: &str = \"#![allow(unsafe_code)]\";"
    ));
    assert!(!allows_unsafe_code(
        "const S: &str = r#\"#[allow(unsafe_code)]\"#;"
    ));
    assert!(!allows_unsafe_code(
        "const B: &[u8] = br\"#![allow(unsafe_code)]\";"
    ));
    assert!(!allows_unsafe_code(
        "const C: char = '\"'; // \"#![allow(unsafe_code)]\""
    ));
    assert!(!allows_unsafe_code(
        "#![deny(unsafe_code)]\n#![allow(unsafe_op_in_unsafe_fn)]"
    ));

    assert!(has_unsafe_keyword("fn f() { unsafe { g() } }"));
    assert!(has_unsafe_keyword("unsafe fn f() {}"));
    assert!(has_unsafe_keyword("unsafe impl Send for T {}"));
    assert!(!has_unsafe_keyword(
        "#![deny(unsafe_code)] // unsafe\nconst S: &str = \"unsafe\";"
    ));
    assert!(!has_unsafe_keyword("/* unsafe { } */ fn not_unsafe() {}"));

    let doc = "# A\n## Unsafe code\n\n| file | why |\n|---|---|\n| `a/src/x.rs` | y |\n\n\
               ## Next\n| `b/src/z.rs` | not in the section |\n";
    assert_eq!(listed(doc), ["a/src/x.rs"]);
}
