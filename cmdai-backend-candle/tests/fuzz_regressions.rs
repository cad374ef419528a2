//! Replays the GGUF fuzz target's seed corpus and every input that once failed
//! (`fuzz/corpus/gguf`, `fuzz/regressions/gguf`) without libFuzzer: none may panic or hang.

use std::path::Path;

#[test]
fn gguf_inputs_that_once_failed_are_handled() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut replayed = 0;
    for dir in ["corpus/gguf", "regressions/gguf"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            cmdai_backend_candle::fuzzing::gguf(&std::fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    assert!(replayed >= 3, "the corpus went missing");
}
