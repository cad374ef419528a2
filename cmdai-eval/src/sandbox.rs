//! A throwaway sandbox for comparing commands by what they do: runs a command in a fresh copy of a fixture
//! directory with no network, the rest of the file system read-only and a time limit, and
//! records what it printed and what it left behind, so a generated command can be compared with
//! the reference by what it does rather than how it is spelled.
//!
//! Linux only: the isolation is a user, mount, network and PID namespace made by util-linux's
//! `unshare`, which needs no privileges where unprivileged user namespaces are allowed.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wait_timeout::ChildExt;

use crate::EvalError;

/// What a command may print before the rest is ignored.
const MAX_OUTPUT: u64 = 1 << 20;

/// Exit status the set-up script uses when it cannot make the sandbox safe.
const SETUP_FAILED: i32 = 97;

/// Runs inside the namespaces before the command: the sandbox becomes a mount of its own, every
/// other mount is made read-only (a mount that cannot be is an error, never ignored), then the
/// command runs in the fixture copy. `$1` is the sandbox root, `$2` the shell, `$3` the command.
const SETUP: &str = r#"
root=$1
mount --bind "$root" "$root" || { echo "cannot bind-mount $root" >&2; exit 97; }
while read -r _ mnt _ _ _ _; do
    mnt=$(printf '%b' "$mnt")
    case $mnt in "$root"|"$root"/*) continue ;; esac
    mount -o remount,bind,ro "$mnt" 2>/dev/null || { echo "cannot make $mnt read-only" >&2; exit 97; }
done < /proc/self/mounts
cd "$root/work" || exit 97
exec "$2" -c "$3"
"#;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it.
    Signalled,
    /// It ran past the time limit and was killed.
    TimedOut,
}

/// What one command did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// Standard output, at most 1 MiB.
    pub stdout: Vec<u8>,
    /// The working directory afterwards.
    pub tree: Tree,
}

impl Outcome {
    /// Whether `self` and `other` did the same thing: both succeeded or both failed, printed the
    /// same lines and left the same files. Lines are compared in any order (two copies of a
    /// directory may list in different orders) unless `ordered`; trailing white space and blank
    /// lines do not count.
    pub fn same_effect(&self, other: &Outcome, ordered: bool) -> bool {
        let succeeded = |o: &Outcome| o.status == Status::Exited(0);
        succeeded(self) == succeeded(other)
            && lines(&self.stdout, ordered) == lines(&other.stdout, ordered)
            && self.tree == other.tree
    }
}

/// The non-blank lines of `output` without trailing white space, sorted unless `ordered`.
fn lines(output: &[u8], ordered: bool) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = output
        .split(|&b| b == b'\n')
        .map(|line| line.trim_ascii_end())
        .filter(|line| !line.is_empty())
        .collect();
    if !ordered {
        lines.sort_unstable();
    }
    lines
}

/// One file system entry, as far as a command's effect goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file: permission bits, SHA-256 of the contents, and whether it was modified
    /// after the fixture was made (so `touch` counts as an effect).
    File {
        /// Permission bits.
        mode: u32,
        /// SHA-256 of the contents.
        digest: [u8; 32],
        /// Modified after the fixture was made.
        touched: bool,
    },
    /// A directory, with its permission bits.
    Dir {
        /// Permission bits.
        mode: u32,
    },
    /// A symbolic link, with what it points at.
    Symlink {
        /// Where it points, as written in the link.
        target: PathBuf,
    },
    /// Anything else, or something the sandbox could not read back.
    Other,
}

/// Every entry under a directory, by path relative to it.
pub type Tree = BTreeMap<PathBuf, Entry>;

/// Reads `root` into a [`Tree`]; `since` tells modified files from untouched ones.
fn snapshot(root: &Path, since: SystemTime) -> Tree {
    let mut tree = Tree::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                tree.insert(relative, Entry::Other);
                continue;
            };
            let mode = meta.mode() & 0o7777;
            let kind = meta.file_type();
            let item = if kind.is_symlink() {
                Entry::Symlink {
                    target: std::fs::read_link(&path).unwrap_or_default(),
                }
            } else if kind.is_dir() {
                pending.push(path.clone());
                Entry::Dir { mode }
            } else if kind.is_file() {
                match digest(&path) {
                    Ok(digest) => Entry::File {
                        mode,
                        digest,
                        touched: meta.modified().is_ok_and(|m| m > since),
                    },
                    Err(_) => Entry::Other,
                }
            } else {
                Entry::Other
            };
            tree.insert(relative, item);
        }
    }
    tree
}

fn digest(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hasher.finalize().into())
}

/// Copies the directory tree `from` into `to` (which must not exist): contents, permission bits,
/// modification times (of directories too) and symbolic links as they are.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&source)?;
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&source)?, &target)?;
        } else if meta.is_dir() {
            copy_tree(&source, &target)?;
            dirs.push((target, meta));
        } else {
            std::fs::copy(&source, &target)?;
            let file = std::fs::File::options().write(true).open(&target)?;
            file.set_modified(meta.modified()?)?;
            std::fs::set_permissions(&target, meta.permissions())?;
        }
    }
    // Last, once nothing more is written into them: the times (an archive of a directory
    // records it) and then the permissions.
    for (dir, meta) in dirs {
        std::fs::File::open(&dir)?.set_modified(meta.modified()?)?;
        std::fs::set_permissions(&dir, meta.permissions())?;
    }
    Ok(())
}

/// Gives the owner full access to every directory under `root`, so a command that ran
/// `chmod 000` on something cannot keep the sandbox from being removed.
fn make_removable(root: &Path) {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    pending.push(entry.path());
                }
            }
        }
    }
}

/// Runs commands in fresh copies of one fixture directory.
#[derive(Debug)]
pub struct Sandbox {
    fixture: PathBuf,
    /// Files modified after this were changed by the command.
    since: SystemTime,
    timeout: Duration,
    shell: PathBuf,
}

impl Sandbox {
    /// A sandbox over `fixture`. Checks once that namespaces work here, so an unsupported
    /// system is one clear error rather than a failure on every row.
    pub fn new(fixture: &Path, timeout: Duration) -> Result<Self, EvalError> {
        if !cfg!(target_os = "linux") {
            return Err(EvalError::NotLinux);
        }
        let shell = ["/bin/bash", "/usr/bin/bash", "/bin/sh"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .ok_or(EvalError::NoShell)?;
        let sandbox = Sandbox {
            fixture: fixture.to_path_buf(),
            since: SystemTime::now(),
            timeout,
            shell,
        };
        let probe = sandbox.run("true")?;
        if probe.status != Status::Exited(0) {
            return Err(EvalError::Probe {
                status: probe.status,
            });
        }
        Ok(sandbox)
    }

    /// The fixture each command gets a fresh copy of.
    pub fn fixture(&self) -> &Path {
        &self.fixture
    }

    /// What the fixture looks like before any command runs.
    pub fn initial_tree(&self) -> Tree {
        snapshot(&self.fixture, self.since)
    }

    /// Runs `command` in a fresh copy of the fixture.
    pub fn run(&self, command: &str) -> Result<Outcome, EvalError> {
        self.run_keeping(command, None)
    }

    /// Whether a file the command created was modified after the fixture was made says nothing
    /// about what the command did (`gzip -k f` gives `f.gz` the time of `f`, `gzip -c f > f.gz`
    /// the time of now, and both made the same file): only files the fixture has keep it.
    fn forget_times_of_new_files(&self, tree: &mut Tree) {
        for (path, entry) in tree.iter_mut() {
            if let Entry::File { touched, .. } = entry
                && *touched
                && std::fs::symlink_metadata(self.fixture.join(path)).is_err()
            {
                *touched = false;
            }
        }
    }

    /// A sandbox over a fixture of its own: a copy of this one after `script` ran in it (in the
    /// sandbox, like any command). `Ok(None)` when the script fails or runs past the time limit.
    /// The new fixture is removed when the [`Prepared`] is dropped.
    pub fn prepare(&self, script: &str) -> Result<Option<Prepared>, EvalError> {
        let dir = tempfile::Builder::new()
            .prefix("cmdai-fixture-")
            .tempdir()
            .map_err(EvalError::SandboxDir)?;
        let fixture = dir.path().join("work");
        let outcome = self.run_keeping(script, Some(&fixture))?;
        if outcome.status != Status::Exited(0) {
            return Ok(None);
        }
        let sandbox = Sandbox {
            fixture,
            // What the script wrote is part of the fixture, not a command's effect.
            since: SystemTime::now(),
            timeout: self.timeout,
            shell: self.shell.clone(),
        };
        Ok(Some(Prepared { sandbox, _dir: dir }))
    }

    /// Runs `command` in a fresh copy of the fixture; with `keep`, the copy is moved there
    /// afterwards (on the same file system: both are temporary directories).
    fn run_keeping(&self, command: &str, keep: Option<&Path>) -> Result<Outcome, EvalError> {
        let root = tempfile::Builder::new()
            .prefix("cmdai-sandbox-")
            .tempdir()
            .map_err(EvalError::SandboxDir)?;
        // Canonical, so the set-up script's comparison with /proc/self/mounts holds.
        let base = root.path().canonicalize().map_err(EvalError::SandboxDir)?;
        let work = base.join("work");
        copy_tree(&self.fixture, &work).map_err(|source| EvalError::CopyFixture {
            path: self.fixture.clone(),
            source,
        })?;
        for dir in ["home", "tmp"] {
            std::fs::create_dir(base.join(dir)).map_err(EvalError::SandboxDir)?;
        }
        let mut child = cmdai_preview::isolated("/bin/sh")
            .args(["-c", SETUP, "sh"])
            .arg(&base)
            .arg(&self.shell)
            .arg(command)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", base.join("home"))
            .env("TMPDIR", base.join("tmp"))
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(EvalError::Unshare)?;
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let reader = std::thread::spawn(move || {
            let mut output = Vec::new();
            let _ = (&mut stdout).take(MAX_OUTPUT).read_to_end(&mut output);
            // Keep draining, so a command that prints without end is not blocked on a full pipe
            // (and still ends at the time limit).
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
            output
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let errors = std::thread::spawn(move || {
            let mut output = Vec::new();
            let _ = (&mut stderr).take(MAX_OUTPUT).read_to_end(&mut output);
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
            output
        });
        let status = match child.wait_timeout(self.timeout).map_err(EvalError::Wait)? {
            Some(status) => match status.code() {
                Some(code) => Status::Exited(code),
                None => Status::Signalled,
            },
            None => {
                // Killing `unshare` kills its child, the PID namespace's first process, and with
                // it everything the command started.
                let _ = child.kill();
                child.wait().map_err(EvalError::Wait)?;
                Status::TimedOut
            }
        };
        let stdout = reader.join().unwrap_or_default();
        let stderr = errors.join().unwrap_or_default();
        let stderr = String::from_utf8_lossy(&stderr);
        if status == Status::Exited(SETUP_FAILED)
            && let Some(line) = stderr.lines().find(|l| l.starts_with("cannot "))
        {
            return Err(EvalError::Setup {
                reason: line.to_owned(),
            });
        }
        if let Status::Exited(code) = status
            && stderr.starts_with("unshare:")
        {
            return Err(EvalError::Namespaces {
                code,
                message: stderr.trim().to_owned(),
            });
        }
        let mut tree = snapshot(&work, self.since);
        self.forget_times_of_new_files(&mut tree);
        if let Some(keep) = keep {
            std::fs::rename(&work, keep).map_err(EvalError::SandboxDir)?;
        }
        make_removable(&base);
        Ok(Outcome {
            status,
            stdout,
            tree,
        })
    }
}

/// A [`Sandbox`] over a fixture made by [`Sandbox::prepare`]; the fixture goes with it.
#[derive(Debug)]
pub struct Prepared {
    sandbox: Sandbox,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Prepared {
    type Target = Sandbox;

    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}
