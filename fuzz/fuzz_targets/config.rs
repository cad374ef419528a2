//! The configuration file: TOML the user (or a dotfiles repository) wrote. Parsed and validated
//! by cmdai-cli's own code, through its library target; errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cmdai_cli::parse_config(text);
    }
});
