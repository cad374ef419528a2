//! The shell context of this process: OS, the flavour of its core utilities, shell and working
//! directory.

use std::path::{Path, PathBuf};

use cmdai_core::ShellContext;

/// Detects where commands will run; `shell` (from `--shell` or the config) overrides `$SHELL`.
pub fn detect(shell: Option<&str>) -> ShellContext {
    let os = match std::env::consts::OS {
        "macos" => "macOS",
        "linux" => "Linux",
        other => other,
    };
    let shell = shell
        .map(str::to_owned)
        .or_else(|| std::env::var("SHELL").ok())
        .and_then(|path| path.rsplit('/').next().map(str::to_owned))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "sh".to_owned());
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| ".".to_owned());
    let mut context = ShellContext::new(os, shell, cwd);
    if let Some(programs) = programs_on_path() {
        context = context.with_programs(programs);
    }
    match utilities() {
        Some(flavour) => context.with_utilities(flavour),
        None => context,
    }
}

/// `context` with what the files and folders `request` names look like in `dir`
/// ([`cmdai_core::describe_named_files`]); unchanged without a directory.
pub fn with_named_files(context: &ShellContext, request: &str, dir: Option<&Path>) -> ShellContext {
    let files = dir.map_or_else(Vec::new, |dir| {
        cmdai_core::describe_named_files(request, dir)
    });
    context.clone().with_files(files)
}

/// `context` with what the files `request` names look like in the working directory, when
/// `look` (the `generation.look_at_files` setting).
pub fn with_files_here(context: &ShellContext, request: &str, look: bool) -> ShellContext {
    let here = look.then(|| Path::new(&context.cwd));
    with_named_files(context, request, here)
}

/// The flavour of the core utilities on `PATH`: "GNU coreutils", "BusyBox" or "BSD". GNU and
/// BSD tools take different flags (`sed -i`, `find -printf`, `stat -c`), so the model is told.
/// The answer is kept in the cache directory per `ls` binary (path, size and modification
/// time), so it is worked out once, not on every request.
fn utilities() -> Option<String> {
    let ls = find_on_path("ls")?;
    let ls = ls.canonicalize().unwrap_or(ls);
    let meta = std::fs::metadata(&ls).ok()?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let key = format!("{}\t{}\t{modified}", ls.display(), meta.len());
    let saved = crate::settings::cache()
        .ok()
        .map(|cache| cache.root().join("utilities.txt"));
    if let Some(text) = saved.as_ref().and_then(|p| std::fs::read_to_string(p).ok())
        && let Some((saved_key, flavour)) = text.trim_end().rsplit_once('\t')
        && saved_key == key
    {
        return Some(flavour.to_owned());
    }
    let flavour = probe(&ls)?;
    if let Some(path) = saved {
        // Best effort: a cache that cannot be written only means probing again next time. The
        // file appears whole or not at all.
        let _ = crate::config::write_whole(&path, format!("{key}\t{flavour}\n").as_bytes());
    }
    Some(flavour)
}

/// Asks `ls --version` which utilities these are.
fn probe(ls: &Path) -> Option<String> {
    let output = std::process::Command::new(ls)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Some(flavour_of(output.status.success(), &text).to_owned())
}

/// What `ls --version` says about its family: GNU names itself, BusyBox too (in its usage
/// text), and BSD `ls` rejects the option.
fn flavour_of(succeeded: bool, text: &str) -> &'static str {
    if text.contains("BusyBox") {
        "BusyBox"
    } else if succeeded && text.contains("GNU") {
        "GNU coreutils"
    } else if succeeded {
        "POSIX utilities"
    } else {
        "BSD utilities"
    }
}

/// The names in the directories of `PATH` (about 2,700 here, listed in 1.5 ms): a command that
/// runs a program missing from them is a flaw ([`cmdai_core::Flaw::NotInstalled`]). `None`
/// when there is no `PATH` or nothing could be listed, so that nothing is called missing.
fn programs_on_path() -> Option<Vec<String>> {
    let programs: Vec<String> = std::env::split_paths(&std::env::var_os("PATH")?)
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    (!programs.is_empty()).then_some(programs)
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_text_names_the_family() {
        assert_eq!(
            flavour_of(true, "ls (GNU coreutils) 9.1\n"),
            "GNU coreutils"
        );
        assert_eq!(
            flavour_of(
                false,
                "BusyBox v1.36.1 (2024-01-01) multi-call binary.\nUsage: ls"
            ),
            "BusyBox"
        );
        assert_eq!(
            flavour_of(
                false,
                "ls: unrecognized option `--version'\nusage: ls [-@ABC]"
            ),
            "BSD utilities"
        );
    }
}
