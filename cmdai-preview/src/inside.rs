//! The helper's side, as the first process of the new namespaces: mount, run, compare, answer.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wait_timeout::ChildExt;

use crate::scan::{self, Layers};
use crate::{Change, ChangeKind, DirectorySummary, Limit, Output, Report, Status};

/// What the caller asks of the helper (JSON on its stdin).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Spec {
    pub command: String,
    pub shell: PathBuf,
    pub directory: PathBuf,
    /// Writable places outside `directory` to overlay too, parents first.
    pub outside: Vec<PathBuf>,
    /// An empty directory to mount the tmpfs on.
    pub base: PathBuf,
    pub time_limit_ms: u64,
    pub size_limit: u64,
}

/// What the helper answers (JSON on its stdout).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Answer {
    Report(Box<Report>),
    Unavailable(String),
    Failed(String),
}

/// How much of each output stream is kept, and how much of it the report shows.
const CAPTURE_BYTES: usize = 64 << 10;
const SHOWN_LINES: usize = 20;
/// The most changes listed one by one; the rest are only counted.
const LISTED_CHANGES: usize = 2000;

/// The helper's whole job: reads a spec on stdin, previews, writes the answer on stdout.
/// Returns the process's exit status. Call it only in the process that [`crate::preview`]
/// starts inside the namespaces: it mounts file systems over the working directory.
pub fn serve() -> i32 {
    let mut input = String::new();
    let answer = match std::io::stdin().read_to_string(&mut input) {
        Err(e) => Answer::Failed(format!("cannot read the preview's instructions: {e}")),
        Ok(_) => match serde_json::from_str::<Spec>(&input) {
            Err(e) => Answer::Failed(format!("the preview's instructions are not valid: {e}")),
            Ok(spec) => run(&spec),
        },
    };
    let json = serde_json::to_string(&answer)
        .unwrap_or_else(|e| format!("{{\"failed\":\"the report cannot be written: {e}\"}}"));
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{json}").and_then(|()| stdout.flush()) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// An overlaid place: where it is and its layers' directories, relative to the tmpfs.
struct Overlay {
    target: PathBuf,
    lower: PathBuf,
    upper: PathBuf,
}

fn run(spec: &Spec) -> Answer {
    let overlays = match set_up(spec) {
        Ok(overlays) => overlays,
        Err(answer) => return answer,
    };
    let (status, stdout, stderr) = match run_command(spec) {
        Ok(ran) => ran,
        Err(e) => return Answer::Failed(format!("cannot run {}: {e}", spec.shell.display())),
    };
    let mut changes = Vec::new();
    let mut outside = Vec::new();
    for overlay in &overlays {
        let found = scan::compare(&Layers {
            lower: &overlay.lower,
            merged: &overlay.target,
            upper: &overlay.upper,
        });
        if overlay.target == spec.directory {
            changes = found;
        } else {
            outside.extend(found.into_iter().map(|mut change| {
                change.path = overlay.target.join(&change.path);
                change
            }));
        }
    }
    let written = overlays
        .iter()
        .map(|o| scan::tree_size(&o.upper).0)
        .sum::<u64>();
    let full =
        stderr.text.contains("No space left on device") || written + (1 << 20) >= spec.size_limit;
    let limit = if status == Status::TimedOut {
        Some(Limit::Time {
            seconds: spec.time_limit_ms.div_ceil(1000),
        })
    } else if full {
        Some(Limit::Size {
            bytes: spec.size_limit,
        })
    } else {
        None
    };
    let summary = summarise(&changes);
    let total = changes.len() + outside.len();
    changes.truncate(LISTED_CHANGES);
    outside.truncate(LISTED_CHANGES.saturating_sub(changes.len()));
    let unlisted = (total - changes.len() - outside.len()) as u64;
    let blocked = blocked_writes(&stderr.text, &spec.directory);
    Answer::Report(Box::new(Report {
        command: spec.command.clone(),
        directory: spec.directory.clone(),
        status,
        stdout: shown(stdout),
        stderr: shown(stderr),
        changes,
        outside,
        blocked,
        limit,
        unlisted,
        summary,
    }))
}

/// Mounts the tmpfs, makes everything else read-only, hides `/run`, and overlays each place.
fn set_up(spec: &Spec) -> Result<Vec<Overlay>, Answer> {
    mount(&[
        "-t",
        "tmpfs",
        "-o",
        &format!("size={},mode=700", spec.size_limit),
        "cmdai-preview",
        path_str(&spec.base)?,
    ])
    .map_err(|e| Answer::Unavailable(format!("cannot mount a tmpfs in a user namespace: {e}")))?;
    // From here on the tmpfs is reached through the working directory of this process: the
    // overlays may be mounted over the path it was mounted at (a base in /tmp).
    std::env::set_current_dir(&spec.base)
        .map_err(|e| Answer::Failed(format!("cannot enter {}: {e}", spec.base.display())))?;
    let mut targets: Vec<&PathBuf> = spec.outside.iter().collect();
    targets.push(&spec.directory);
    targets.sort_by_key(|p| p.components().count());
    let mut overlays = Vec::new();
    for (i, target) in targets.into_iter().enumerate() {
        let lower = PathBuf::from(format!("lower/{i}"));
        let upper = PathBuf::from(format!("upper/{i}"));
        for dir in [&lower, &upper, &PathBuf::from(format!("work/{i}"))] {
            std::fs::create_dir_all(dir)
                .map_err(|e| Answer::Failed(format!("cannot create {}: {e}", dir.display())))?;
        }
        // The overlay's root takes the upper directory's permissions: give it the real ones
        // (`/tmp` keeps its sticky bit).
        let real = std::fs::metadata(target)
            .map_err(|e| Answer::Failed(format!("cannot read {}: {e}", target.display())))?;
        std::fs::set_permissions(&upper, real.permissions())
            .map_err(|e| Answer::Failed(format!("cannot create {}: {e}", upper.display())))?;
        let (from, to) = (path_str(target)?, path_str(&lower)?);
        mount(&["--bind", from, to])
            .and_then(|()| mount(&["-o", "remount,bind,ro", to]))
            .map_err(|e| Answer::Failed(format!("cannot bind {}: {e}", target.display())))?;
        overlays.push(Overlay {
            target: target.clone(),
            lower,
            upper,
        });
    }
    read_only_everywhere(&spec.base)?;
    hide_sockets()?;
    for (i, overlay) in overlays.iter().enumerate() {
        let options = format!("lowerdir=lower/{i},upperdir=upper/{i},workdir=work/{i}");
        let target = path_str(&overlay.target)?;
        mount(&[
            "-t",
            "overlay",
            "-o",
            &format!("{options},userxattr"),
            "overlay",
            target,
        ])
        .or_else(|_| mount(&["-t", "overlay", "-o", &options, "overlay", target]))
        .map_err(|e| {
            Answer::Unavailable(format!(
                "overlay mounts are not allowed in user namespaces on this system (Linux 5.11 \
                     or later allows them): {e}"
            ))
        })?;
    }
    Ok(overlays)
}

/// Remounts every mount read-only but the tmpfs and what is in it. A mount that cannot be made
/// read-only ends the preview: it would be written to for real.
fn read_only_everywhere(base: &Path) -> Result<(), Answer> {
    let mounts = std::fs::read_to_string("/proc/self/mounts")
        .map_err(|e| Answer::Failed(format!("cannot read /proc/self/mounts: {e}")))?;
    for line in mounts.lines() {
        let Some(point) = line.split(' ').nth(1) else {
            continue;
        };
        let point = PathBuf::from(unescape_mount_path(point));
        if point.starts_with(base) {
            continue;
        }
        if let Err(e) = mount(&["-o", "remount,bind,ro", path_str(&point)?]) {
            return Err(Answer::Failed(format!(
                "cannot make {} read-only: {e}",
                point.display()
            )));
        }
    }
    Ok(())
}

/// An empty tmpfs over `/run` (and `/var/run` where it is a directory of its own), where
/// daemons keep their sockets: a command in the preview cannot ask Docker, a database or
/// systemd to do something for real.
fn hide_sockets() -> Result<(), Answer> {
    for dir in ["/run", "/var/run"] {
        let is_dir = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
        if !is_dir {
            continue;
        }
        mount(&[
            "-t",
            "tmpfs",
            "-o",
            "size=1m,mode=755",
            "cmdai-preview-run",
            dir,
        ])
        .map_err(|e| Answer::Failed(format!("cannot hide {dir}: {e}")))?;
    }
    Ok(())
}

/// `/proc/self/mounts` writes space, tab, newline and backslash as octal escapes.
fn unescape_mount_path(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value =
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn path_str(path: &Path) -> Result<&str, Answer> {
    path.to_str().ok_or_else(|| {
        Answer::Failed(format!(
            "{} is not valid UTF-8, which mount(8) options need",
            path.display()
        ))
    })
}

/// Runs util-linux `mount` with `args`.
fn mount(args: &[&str]) -> Result<(), String> {
    let output = Command::new("mount")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// What a stream gave: its first bytes and how many there were in all.
#[derive(Default)]
struct Captured {
    text: String,
    bytes: u64,
    kept: Vec<u8>,
}

/// Runs the command in the working directory with the time limit, then kills everything it
/// left running.
fn run_command(spec: &Spec) -> std::io::Result<(Status, Captured, Captured)> {
    let mut child = Command::new(&spec.shell)
        .arg("-c")
        .arg(&spec.command)
        .current_dir(&spec.directory)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = capture(child.stdout.take().expect("stdout is piped"));
    let stderr = capture(child.stderr.take().expect("stderr is piped"));
    let status = match child.wait_timeout(Duration::from_millis(spec.time_limit_ms))? {
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Status::Exited { code },
            (None, Some(signal)) => Status::Signalled { signal },
            (None, None) => Status::Exited { code: 1 },
        },
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Status::TimedOut
        }
    };
    // This process is the namespace's first: what the command started in the background would
    // otherwise go on changing files while they are compared (and keep its pipes open).
    let _ = Command::new("kill")
        .args(["-9", "-1"])
        .stderr(Stdio::null())
        .status();
    Ok((status, stdout.finish(), stderr.finish()))
}

/// A stream read on a thread, keeping its first [`CAPTURE_BYTES`].
struct Capture {
    shared: Arc<Mutex<Captured>>,
    done: mpsc::Receiver<()>,
}

fn capture(mut stream: impl Read + Send + 'static) -> Capture {
    let shared = Arc::new(Mutex::new(Captured::default()));
    let (tx, done) = mpsc::channel();
    let writer = Arc::clone(&shared);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut captured = writer.lock().unwrap_or_else(|e| e.into_inner());
            captured.bytes += n as u64;
            let room = CAPTURE_BYTES.saturating_sub(captured.kept.len());
            captured.kept.extend_from_slice(&buf[..n.min(room)]);
        }
        let _ = tx.send(());
    });
    Capture { shared, done }
}

impl Capture {
    /// What was read, once the stream ends (or after a second: a process that escaped the kill
    /// may hold it open).
    fn finish(self) -> Captured {
        let _ = self.done.recv_timeout(Duration::from_secs(1));
        let mut captured =
            std::mem::take(&mut *self.shared.lock().unwrap_or_else(|e| e.into_inner()));
        captured.text = String::from_utf8_lossy(&captured.kept).into_owned();
        captured
    }
}

/// The first [`SHOWN_LINES`] lines of a stream.
fn shown(captured: Captured) -> Output {
    let lines: Vec<&str> = captured.text.lines().collect();
    let truncated = lines.len() > SHOWN_LINES || captured.bytes > captured.kept.len() as u64;
    Output {
        text: lines[..lines.len().min(SHOWN_LINES)].join("\n"),
        bytes: captured.bytes,
        truncated,
    }
}

/// Paths named by "Read-only file system" errors, outside the working directory: writes the
/// preview blocked that would happen for real (`touch: cannot touch '/etc/x': Read-only file
/// system`, `bash: /usr/local/x: Read-only file system`).
fn blocked_writes(stderr: &str, directory: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    for line in stderr
        .lines()
        .filter(|l| l.contains("Read-only file system"))
    {
        let quoted = ['\'', '"', '‘', '’', '`']
            .iter()
            .find_map(|&q| {
                let start = line.find(q)? + q.len_utf8();
                let end = line[start..].find(['\'', '"', '’', '`'])? + start;
                Some(&line[start..end])
            })
            .filter(|p| p.starts_with('/'));
        let path = quoted.or_else(|| {
            let before = line.rsplit_once(": Read-only file system")?.0;
            before.rsplit(": ").next().filter(|p| p.starts_with('/'))
        });
        if let Some(path) = path.map(PathBuf::from)
            && !path.starts_with(directory)
            && !found.contains(&path)
        {
            found.push(path);
        }
    }
    found
}

/// Counts of changes by top-level entry of the working directory.
fn summarise(changes: &[Change]) -> Vec<DirectorySummary> {
    let mut by_dir: Vec<DirectorySummary> = Vec::new();
    for change in changes {
        let mut parts = change.path.components();
        let first = parts.next();
        let directory = match (first, parts.next()) {
            (Some(first), Some(_)) => first.as_os_str().to_string_lossy().into_owned(),
            _ => ".".to_owned(),
        };
        let index = match by_dir.iter().position(|d| d.directory == directory) {
            Some(i) => i,
            None => {
                by_dir.push(DirectorySummary {
                    directory,
                    ..DirectorySummary::default()
                });
                by_dir.len() - 1
            }
        };
        let entry = &mut by_dir[index];
        match &change.kind {
            ChangeKind::Created { files, .. } => entry.created += (*files).max(1),
            ChangeKind::Deleted { files, .. } => entry.deleted += (*files).max(1),
            ChangeKind::Renamed { .. } => entry.renamed += 1,
            ChangeKind::Modified { .. } => entry.modified += 1,
            ChangeKind::Permissions { .. } => entry.permissions += 1,
            ChangeKind::Touched => entry.touched += 1,
        }
    }
    by_dir.sort_by(|a, b| a.directory.cmp(&b.directory));
    by_dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_errors_name_the_paths_outside() {
        let stderr = "touch: cannot touch '/etc/cmdai-x': Read-only file system\n\
                      bash: /usr/local/bin/y: Read-only file system\n\
                      rm: cannot remove '/work/dir/z': Read-only file system\n\
                      cp: cannot create regular file ‘/opt/q’: Read-only file system\n\
                      grep: x: No such file or directory\n";
        assert_eq!(
            blocked_writes(stderr, Path::new("/work/dir")),
            [
                PathBuf::from("/etc/cmdai-x"),
                PathBuf::from("/usr/local/bin/y"),
                PathBuf::from("/opt/q")
            ]
        );
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path(r"/a\040b\011c\134d"), "/a b\tc\\d");
        assert_eq!(unescape_mount_path(r"/plain\0"), r"/plain\0");
    }
}
