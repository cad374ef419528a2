//! The shell context of this process: OS, shell and working directory.

use cmdai_core::ShellContext;

/// Detects where commands will run.
pub fn detect() -> ShellContext {
    let os = match std::env::consts::OS {
        "macos" => "macOS",
        "linux" => "Linux",
        other => other,
    };
    let shell = std::env::var("SHELL")
        .ok()
        .and_then(|path| path.rsplit('/').next().map(str::to_owned))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "sh".to_owned());
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| ".".to_owned());
    ShellContext::new(os, shell, cwd)
}
