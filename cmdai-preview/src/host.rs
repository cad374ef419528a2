//! The caller's side: check the directory, start the namespaces with the helper in them, hand
//! it the [`Spec`], read back its report.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

use crate::inside::{Answer, Spec};
use crate::{PreviewError, Report};

/// How to make a preview.
#[derive(Debug, Clone)]
pub struct PreviewOptions {
    /// The program to run inside the namespaces, which must call [`crate::serve`] (the caller's
    /// own executable, with `helper_args` that route it there).
    pub helper: PathBuf,
    pub helper_args: Vec<OsString>,
    /// The shell that runs the command (`SHELL -c COMMAND`).
    pub shell: PathBuf,
    /// The working directory to preview.
    pub directory: PathBuf,
    /// When the command is killed.
    pub time_limit: Duration,
    /// The most the command may write before it sees "no space left on device".
    pub size_limit: u64,
}

/// How long the helper may take beyond the command's time limit: setting up and comparing.
const SCAN_ALLOWANCE: Duration = Duration::from_secs(60);

/// Runs `command` in a copy-on-write view of `options.directory` and reports what it did.
pub fn preview(command: &str, options: &PreviewOptions) -> Result<Report, PreviewError> {
    if !cfg!(target_os = "linux") {
        return Err(PreviewError::Unavailable {
            reason: format!(
                "it needs Linux user namespaces and overlay mounts, and this is {}",
                std::env::consts::OS
            ),
        });
    }
    let directory = options.directory.canonicalize()?;
    check_directory(&directory)?;
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let outside = outside_directories(&directory, home.as_deref());
    // The tmpfs that takes the changes is mounted here, inside the namespace only.
    let base = tempfile::Builder::new()
        .prefix("cmdai-preview-")
        .tempdir()?;
    let base_path = base.path().canonicalize()?;
    let spec = Spec {
        command: command.to_owned(),
        shell: options.shell.clone(),
        directory: directory.clone(),
        outside,
        base: base_path,
        time_limit_ms: u64::try_from(options.time_limit.as_millis()).unwrap_or(u64::MAX),
        size_limit: options.size_limit,
    };
    let mut child = isolated(&options.helper)
        .args(&options.helper_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| PreviewError::Unavailable {
            reason: format!("cannot run `unshare` (util-linux): {e}"),
        })?;
    let spec = serde_json::to_vec(&spec).map_err(|e| PreviewError::Failed(e.to_string()))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // A helper that died at once closes its end; what it said on stderr tells why.
    let _ = stdin.write_all(&spec);
    drop(stdin);
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut answer = Vec::new();
        let _ = stdout.read_to_end(&mut answer);
        answer
    });
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let errors = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = (&mut stderr).take(64 << 10).read_to_end(&mut text);
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        text
    });
    let finished = child.wait_timeout(options.time_limit + SCAN_ALLOWANCE)?;
    if finished.is_none() {
        // Killing `unshare` kills the helper, the PID namespace's first process, and with it
        // everything in the namespace; the tmpfs goes with the mount namespace.
        let _ = child.kill();
        child.wait()?;
    }
    let answer = reader.join().unwrap_or_default();
    let errors = String::from_utf8_lossy(&errors.join().unwrap_or_default()).into_owned();
    if finished.is_none() {
        return Err(PreviewError::Failed(
            "the sandbox did not finish comparing the files in time".into(),
        ));
    }
    if answer.is_empty() {
        let errors = errors.trim();
        if errors.starts_with("unshare:") {
            return Err(PreviewError::Unavailable {
                reason: format!(
                    "cannot make a user namespace ({errors}); unprivileged user namespaces are \
                     turned off on this system (sysctl kernel.unprivileged_userns_clone, or an \
                     AppArmor restriction)"
                ),
            });
        }
        return Err(PreviewError::Failed(if errors.is_empty() {
            "the sandbox ended without a report".into()
        } else {
            errors.to_owned()
        }));
    }
    match serde_json::from_slice::<Answer>(&answer) {
        Ok(Answer::Report(report)) => Ok(*report),
        Ok(Answer::Unavailable(reason)) => Err(PreviewError::Unavailable { reason }),
        Ok(Answer::Failed(reason)) => Err(PreviewError::Failed(reason)),
        Err(e) => Err(PreviewError::Failed(format!(
            "the sandbox's report cannot be read: {e}"
        ))),
    }
}

/// `program` to be run by util-linux `unshare` as the first process of new user (mapped to
/// root), mount, network and PID namespaces, with its own `/proc`; killing `unshare` kills it and
/// everything it started. Add the program's arguments; needs no privileges where unprivileged
/// user namespaces are allowed.
pub fn isolated(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("unshare");
    command
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "--net",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--",
        ])
        .arg(program);
    command
}

/// Places that are not a directory of files a command could be previewed in.
fn check_directory(directory: &Path) -> Result<(), PreviewError> {
    let refuse = |reason: &str| {
        Err(PreviewError::Directory {
            dir: directory.to_path_buf(),
            reason: reason.to_owned(),
        })
    };
    if directory == Path::new("/") {
        return refuse(
            "the preview overlays the working directory, and it cannot overlay `/`; cd into a directory first",
        );
    }
    for special in ["/proc", "/sys", "/dev", "/run"] {
        if directory.starts_with(special) {
            return refuse("it is a system directory, not one of files");
        }
    }
    Ok(())
}

/// The writable places outside `directory` whose changes the preview keeps and reports:
/// `$HOME`, `/tmp` and `/var/tmp`, those that exist and are not `directory` or inside it,
/// parents before children (so a working directory inside one is overlaid on top of it).
fn outside_directories(directory: &Path, home: Option<&Path>) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = home
        .into_iter()
        .map(Path::to_path_buf)
        .chain(["/tmp", "/var/tmp"].map(PathBuf::from))
        .filter_map(|p| p.canonicalize().ok())
        .filter(|p| p.is_dir() && p != Path::new("/") && !p.starts_with(directory))
        .filter(|p| {
            !["/proc", "/sys", "/dev", "/run"]
                .iter()
                .any(|s| p.starts_with(s))
        })
        .collect();
    found.sort_by_key(|p| p.components().count());
    found.dedup();
    // One that is inside another is covered by it.
    let mut kept: Vec<PathBuf> = Vec::new();
    for path in found {
        if !kept.iter().any(|k| path.starts_with(k)) {
            kept.push(path);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_directories_skip_the_working_directory_and_what_is_inside_it() {
        let home = std::env::temp_dir().canonicalize().unwrap();
        let found = outside_directories(Path::new("/srv/project"), Some(&home));
        assert!(found.iter().all(|p| !p.starts_with("/srv/project")));
        assert!(found.iter().any(|p| p == &home || home.starts_with(p)));
        // Nothing is listed twice or inside something else listed.
        for (i, a) in found.iter().enumerate() {
            for b in &found[i + 1..] {
                assert!(!b.starts_with(a) && !a.starts_with(b), "{a:?} {b:?}");
            }
        }
        let inside = outside_directories(&home, Some(&home));
        assert!(!inside.contains(&home));
    }

    #[test]
    fn the_root_and_system_directories_are_refused() {
        for dir in ["/", "/proc/self", "/sys"] {
            assert!(matches!(
                check_directory(Path::new(dir)),
                Err(PreviewError::Directory { .. })
            ));
        }
        assert!(check_directory(Path::new("/home/me/project")).is_ok());
    }
}
