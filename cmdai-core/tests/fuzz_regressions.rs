//! Replays the seed corpora and every input that once failed for the response-parser and safety
//! fuzz targets (`fuzz/corpus/*`, `fuzz/regressions/*`) without libFuzzer: no panics, no hangs,
//! spans inside the command.

use std::path::Path;

fn inputs(target: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut found = Vec::new();
    for dir in [format!("corpus/{target}"), format!("regressions/{target}")] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            found.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    assert!(found.len() >= 3, "the {target} corpus went missing");
    found
}

#[test]
fn safety_inputs_that_once_failed_are_analysed() {
    for command in inputs("safety") {
        let analysis = cmdai_core::safety::analyze(&command);
        for finding in &analysis.findings {
            assert!(finding.span.end <= command.len(), "{command:?}");
            assert!(command.is_char_boundary(finding.span.start), "{command:?}");
            assert!(command.is_char_boundary(finding.span.end), "{command:?}");
        }
    }
}

#[test]
fn response_inputs_are_parsed_or_refused() {
    for reply in inputs("response") {
        let _ = cmdai_core::parse_response(&reply);
    }
}
