//! A model file from the internet: the GGUF header and tensor table, then everything cmdai
//! builds from the metadata (model description, tokenizer, chat template). Must never panic,
//! hang or allocate without bound; errors are fine.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cmdai_backend_candle::fuzzing::gguf(data);
});
