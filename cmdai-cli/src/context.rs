//! The shell context of this process: OS, shell and working directory.

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
    ShellContext::new(os, shell, cwd)
}
