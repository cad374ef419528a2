//! A shell command (the model's or the user's): analysed, never a panic or a hang, and every
//! finding's span lies on character boundaries inside the command.
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
    }
});
