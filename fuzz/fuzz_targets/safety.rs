//! A shell command (the model's or the user's): analysed and highlighted, never a panic or a
//! hang, and every finding's span and highlighted part lies on character boundaries inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(command) = std::str::from_utf8(data) {
        let analysis = cmdai_core::safety::analyze(command);
        for finding in &analysis.findings {
            assert!(finding.span.end <= command.len());
            assert!(command.is_char_boundary(finding.span.start));
            assert!(command.is_char_boundary(finding.span.end));
        }
        let mut end = 0;
        for part in cmdai_core::highlight::classify(command) {
            assert!(end <= part.range.start && part.range.start < part.range.end);
            assert!(command.get(part.range.clone()).is_some());
            end = part.range.end;
        }
    }
});
