//! A model's reply: parsed into a command or a clear error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = std::str::from_utf8(data) {
        let _ = cmdai_core::parse_response(reply);
    }
});
