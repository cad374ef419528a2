//! The local cache: where models live, and how they get there without ever being half-written.
//!
//! Layout under the cache root:
//! - `models/<id>/<file>`: a verified model; it only ever appears by an atomic rename.
//! - `models/<id>/.lock`: held while one process downloads, so concurrent processes wait
//!   for it instead of downloading twice.
//! - `partial/`: downloads in progress (`<file>.partial` plus a `.state` file recording how many
//!   bytes of which parts are complete), resumed on the next attempt.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;

use crate::ModelEntry;
use crate::error::{ModelsError, Result, io};

/// The cache directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache at `CMDAI_CACHE_DIR`, or the platform's cache directory (`$XDG_CACHE_HOME/cmdai`
    /// or `~/.cache/cmdai` on Linux, `~/Library/Caches/cmdai` on macOS).
    pub fn from_env() -> Result<Self> {
        if let Some(dir) = std::env::var_os("CMDAI_CACHE_DIR").filter(|d| !d.is_empty()) {
            return Ok(Cache::at(dir));
        }
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

    /// `entry`'s file when it is in the cache with the right size.
    ///
    /// Files only enter the cache after their SHA-256 matched, by an atomic rename, so a file
    /// of the right size here is a verified one; hashing a gigabyte on every start would cost
    /// a second.
    pub fn cached(&self, entry: &ModelEntry) -> Option<PathBuf> {
        let path = self.model_path(entry);
        let size = fs::metadata(&path).ok()?.len();
        (size == entry.size).then_some(path)
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
        fs::rename(verified, &path).map_err(io("cannot move the download into", &path))?;
        Ok(path)
    }

    /// Deletes `entry`'s cached file, if any. Returns whether there was one.
    pub fn remove(&self, entry: &ModelEntry) -> Result<bool> {
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
