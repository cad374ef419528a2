//! Set-up shared by the binary's test files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// `cmdai` running in `dir`, with a private cache (`dir/cache`) and config file, no network,
/// and nothing from the caller's environment but `PATH`.
pub fn cmdai_in(dir: &Path) -> Command {
    Command::from_std(std_cmdai(dir, &dir.join("cache")))
}

/// Runs `cmd` and returns its output; fails the test, showing stderr, unless it succeeded.
pub fn succeed(cmd: &mut Command) -> std::process::Output {
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The same as a plain `std::process::Command` (to spawn, or to run at a pseudo-terminal), with
/// the cache at `cache`.
pub fn std_cmdai(dir: &Path, cache: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("cmdai"));
    cmd.env_clear()
        .current_dir(dir)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CMDAI_CACHE_DIR", cache)
        .env("CMDAI_CONFIG", dir.join("config.toml"))
        .env("CMDAI_OFFLINE", "1")
        .env("SHELL", "/bin/sh");
    cmd
}

/// The real model `id` that `scripts/test.sh` fetched (`CMDAI_TEST_MODEL_<ID>`). Missing is a
/// failure when `CMDAI_TEST_MODELS` lists it (as `.ci/run` does), a skip otherwise.
pub fn real_model(id: &str) -> Option<PathBuf> {
    let var = format!(
        "CMDAI_TEST_MODEL_{}",
        id.to_ascii_uppercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    let path = std::env::var_os(&var)
        .map(PathBuf::from)
        .filter(|p| p.is_file());
    let required =
        std::env::var("CMDAI_TEST_MODELS").is_ok_and(|l| l.split_whitespace().any(|m| m == id));
    assert!(
        path.is_some() || !required,
        "{var} must point to the model; run scripts/test.sh"
    );
    if path.is_none() {
        eprintln!("skipping: {var} not set");
    }
    path
}

/// Spawns `cmd` (which must stream to stderr), waits for its first byte of stderr (generation
/// is under way), sends SIGINT; returns the exit status, stdout and the rest of stderr.
#[cfg(unix)]
pub fn interrupt_while_streaming(
    cmd: &mut std::process::Command,
) -> (std::process::ExitStatus, String, String) {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut first = [0u8; 1];
    stderr.read_exact(&mut first).unwrap();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    (status, stdout, rest)
}

/// Whether this system lets an unprivileged process make user, mount and network namespaces
/// (what `eval --exec` and `preview` need); says so when it does not.
pub fn namespaces_available() -> bool {
    let probe = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "--net", "true"])
        .stderr(std::process::Stdio::null())
        .status();
    if probe.is_ok_and(|s| s.success()) {
        true
    } else {
        eprintln!("skipping: no unprivileged user namespaces here (unshare -rmn)");
        false
    }
}
