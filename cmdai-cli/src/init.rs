//! `cmdai init bash|zsh|fish`: the snippet that binds a key to "turn this line into a command"
//! (or, on an empty line, "fix the last command") and a second key to "fix the last command as
//! this line says". The default fix key, Alt-j, is unbound in all three shells too.
//!
//! The default key is Alt-m (`\em`): unbound in bash's, zsh's and fish's default emacs key maps
//! (Alt-e and Alt-v open an editor in fish, Alt-g and Alt-h are taken in zsh).

use anyhow::{Result, bail};

use crate::cli::InitShell;

const BASH: &str = include_str!("shell/init.bash");
const ZSH: &str = include_str!("shell/init.zsh");
const FISH: &str = include_str!("shell/init.fish");

pub fn print(shell: InitShell, key: &str, fix_key: &str) -> Result<()> {
    print!("{}", snippet(shell, key, fix_key)?);
    Ok(())
}

/// The snippet for `shell` with `key` and `fix_key` bound.
pub fn snippet(shell: InitShell, key: &str, fix_key: &str) -> Result<String> {
    if key == fix_key {
        bail!("--key and --fix-key are both {key:?}; give them different keys");
    }
    let template = match shell {
        InitShell::Bash => BASH,
        InitShell::Zsh => ZSH,
        InitShell::Fish => FISH,
    };
    Ok(template
        .replace("__FIX_KEY_NAME__", &key_name(fix_key)?)
        .replace("__FIX_KEY__", fix_key)
        .replace("__KEY_NAME__", &key_name(key)?)
        .replace("__KEY__", key))
}

/// `key` as people say it (`\\em`: Alt-m); an error for text that is not a key sequence.
fn key_name(key: &str) -> Result<String> {
    // The key is pasted into shell code: only the characters key notations use.
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '\\' | '^' | '[' | ']' | '-' | '_' | ',' | '.' | '/')
    };
    if key.is_empty() || !key.chars().all(allowed) {
        bail!("--key {key:?} is not a key sequence; use e.g. '\\em' for Alt-m");
    }
    Ok(match key.strip_prefix("\\e") {
        Some(rest) if rest.chars().count() == 1 => format!("Alt-{rest}"),
        _ => key.to_owned(),
    })
}
