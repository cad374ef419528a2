//! The part of the `cmdai` binary that is also a library: the command line (`cli`), the
//! configuration file (`config`) and the table of every setting they share (`defs`).
//! `main.rs` uses them from here, and so does the `config` fuzz target in `fuzz/`, which parses
//! configuration files exactly as the binary does.
//!
//! Not an API for other programs (the crate is not published for that): everything else the
//! binary does stays in `main.rs`'s own modules, and what is public here may change with it.
//!
//! ```
//! let config = cmdai_cli::parse_config("threads = 4\n[generation]\nseed = 7\n")?;
//! assert_eq!((config.threads, config.generation.seed), (Some(4), Some(7)));
//! assert!(cmdai_cli::parse_config("threads = 0").is_err());
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod cli;
pub mod config;
pub mod defs;

/// Parses and validates the text of a configuration file as `cmdai` does when it reads one; an
/// error names the key and what it takes. The entry point of the `config` fuzz target.
pub fn parse_config(text: &str) -> anyhow::Result<config::Config> {
    config::Config::parse(text)
}
