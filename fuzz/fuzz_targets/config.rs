//! The configuration file: TOML the user (or a dotfiles repository) wrote. Parsed and validated
//! by cmdai-cli's own code, compiled in here; errors are fine, panics are not.
#![no_main]
#![allow(dead_code, unused_imports)]

use libfuzzer_sys::fuzz_target;

#[path = "../../cmdai-cli/src/cli.rs"]
mod cli;
#[path = "../../cmdai-cli/src/config.rs"]
mod config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = config::Config::parse(text);
    }
});
