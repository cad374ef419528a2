//! The local cache: where models live, and how they get there without ever being half-written.
//!
//! Layout under the cache root:
//! - `models/<id>/<file>`: a verified model; it only ever appears by an atomic rename.
//! - `models/<id>/.<file>.verified`: size and modification time when the hash last matched.
//! - `models/<id>/.lock`: held while one process downloads, so concurrent processes wait
//!   for it instead of downloading twice.
//! - `partial/`: downloads in progress (`<file>.partial` plus a `.state` file recording how many
//!   bytes of which parts are complete), resumed on the next attempt.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;
use serde::{Deserialize, Serialize};

use crate::ModelEntry;
use crate::error::{ModelsError, Result, io};

/// The cache directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The platform's cache directory for cmdai (`$XDG_CACHE_HOME/cmdai` or `~/.cache/cmdai` on
    /// Linux, `~/Library/Caches/cmdai` on macOS).
    pub fn platform() -> Result<Self> {
        let dirs =
            directories::ProjectDirs::from("", "", "cmdai").ok_or(ModelsError::NoCacheDir)?;
        Ok(Cache::at(dirs.cache_dir()))
    }

    /// The cache at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Cache { root: root.into() }
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `entry`'s verified file lives.
    pub fn model_path(&self, entry: &ModelEntry) -> PathBuf {
        self.root
            .join("models")
            .join(&entry.id)
            .join(&entry.file_name)
    }

    /// `entry`'s file if it is in the cache, without checking its contents (cheap; for listings).
    pub fn installed(&self, entry: &ModelEntry) -> Option<PathBuf> {
        let path = self.model_path(entry);
        path.is_file().then_some(path)
    }

    /// `entry`'s file if it is in the cache and intact.
    ///
    /// Files enter the cache only after their SHA-256 matched, and a stamp beside the file
    /// records the size and modification time they had then. While both are unchanged the file
    /// is trusted without re-hashing a gigabyte on every start; after any change it is hashed
    /// again, and refused if it no longer matches.
    pub fn verified(&self, entry: &ModelEntry) -> Result<Option<PathBuf>> {
        let path = self.model_path(entry);
        let Ok(metadata) = fs::metadata(&path) else {
            return Ok(None);
        };
        if read_stamp(&self.stamp_path(entry)).is_some_and(|stamp| stamp == Stamp::of(&metadata)) {
            return Ok(Some(path));
        }
        self.verify(entry)?;
        Ok(Some(path))
    }

    /// Re-hashes `entry`'s cached file. On success the stamp is renewed; on a mismatch it is
    /// removed, so every later use re-checks and refuses the file until it is pulled again.
    pub fn verify(&self, entry: &ModelEntry) -> Result<()> {
        let path = self.model_path(entry);
        let stamp_path = self.stamp_path(entry);
        match crate::fetch::verify(
            &path,
            entry.size,
            &entry.sha256,
            &path.display().to_string(),
        ) {
            Ok(()) => {
                let metadata = fs::metadata(&path).map_err(io("cannot read", &path))?;
                write_stamp(&stamp_path, &Stamp::of(&metadata))
            }
            Err(error) => {
                let _ = fs::remove_file(&stamp_path);
                Err(ModelsError::Corrupt {
                    id: entry.id.clone(),
                    reason: Box::new(error),
                })
            }
        }
    }

    fn stamp_path(&self, entry: &ModelEntry) -> PathBuf {
        self.root
            .join("models")
            .join(&entry.id)
            .join(format!(".{}.verified", entry.file_name))
    }

    /// Where a download of `entry` in progress is kept.
    pub(crate) fn partial_path(&self, entry: &ModelEntry, suffix: &str) -> PathBuf {
        self.root
            .join("partial")
            .join(format!("{}{suffix}", entry.file_name))
    }

    /// Takes the per-model download lock, waiting for another process that holds it.
    pub(crate) fn lock(&self, entry: &ModelEntry) -> Result<DownloadLock> {
        let dir = self.root.join("models").join(&entry.id);
        fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
        fs::create_dir_all(self.root.join("partial"))
            .map_err(io("cannot create", self.root.join("partial")))?;
        let path = dir.join(".lock");
        let file = File::create(&path).map_err(io("cannot create", &path))?;
        if !file
            .try_lock_exclusive()
            .map_err(io("cannot lock", &path))?
        {
            tracing::info!(
                "waiting for another cmdai process that is downloading {}",
                entry.id
            );
            file.lock_exclusive().map_err(io("cannot lock", &path))?;
        }
        Ok(DownloadLock { _file: file })
    }

    /// Moves a verified download into place (atomically: same file system).
    pub(crate) fn install(&self, entry: &ModelEntry, verified: &Path) -> Result<PathBuf> {
        let path = self.model_path(entry);
        let metadata = fs::metadata(verified).map_err(io("cannot read", verified))?;
        // The stamp goes first: a crash between the two leaves a stamp without a file, which
        // is harmless, never a file whose stamp vouches for other bytes.
        write_stamp(&self.stamp_path(entry), &Stamp::of(&metadata))?;
        fs::rename(verified, &path).map_err(io("cannot move the download into", &path))?;
        Ok(path)
    }

    /// Deletes `entry`'s cached file, if any. Returns whether there was one.
    pub fn remove(&self, entry: &ModelEntry) -> Result<bool> {
        let _ = fs::remove_file(self.stamp_path(entry));
        let path = self.model_path(entry);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io("cannot delete", &path)(e)),
        }
    }
}

/// Held while downloading; released on drop, also when the process dies.
#[derive(Debug)]
pub(crate) struct DownloadLock {
    _file: File,
}

/// What a file looked like when its hash was last checked.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    modified_ns: u128,
}

impl Stamp {
    fn of(metadata: &fs::Metadata) -> Self {
        let modified_ns = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        Stamp {
            size: metadata.len(),
            modified_ns,
        }
    }
}

fn read_stamp(path: &Path) -> Option<Stamp> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

fn write_stamp(path: &Path, stamp: &Stamp) -> Result<()> {
    let json = serde_json::to_vec(stamp).expect("stamp serializes");
    fs::write(path, json).map_err(io("cannot write", path))
}
