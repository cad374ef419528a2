//! Finding the model file: a path given by the user, or a catalog model from the cache.

use std::path::{Path, PathBuf};

use anyhow::Result;
use cmdai_models::{Catalog, Fetcher, ModelEntry};

use crate::cli::OutputFormat;
use crate::progress::BarProgress;

/// A model file ready to load, with the name to report.
#[derive(Debug)]
pub struct ModelFile {
    pub id: String,
    pub path: PathBuf,
    /// The verified SHA-256 of a catalog model's file.
    pub sha256: Option<String>,
}

/// The fetcher for the user's cache, honouring `--offline`.
pub fn fetcher(offline: bool) -> Result<Fetcher> {
    Ok(Fetcher::new(
        crate::settings::cache()?,
        crate::settings::fetch_options(offline),
    ))
}

/// Resolves `--model`: an existing path is used as is; anything else is a catalog name,
/// fetched into the cache if needed.
pub fn resolve(name: Option<&str>, fetcher: &Fetcher) -> Result<ModelFile> {
    if let Some(name) = name {
        let path = Path::new(name);
        if path.is_file() || name.ends_with(".gguf") || name.contains(std::path::MAIN_SEPARATOR) {
            if !path.is_file() {
                anyhow::bail!("model file {} does not exist", path.display());
            }
            let id = path
                .file_stem()
                .map_or_else(|| name.to_owned(), |s| s.to_string_lossy().into_owned());
            return Ok(ModelFile {
                id,
                path: path.to_owned(),
                sha256: cached_digest(path, fetcher),
            });
        }
    }
    let catalog = Catalog::builtin();
    let entry = match name {
        Some(name) => catalog.find(name)?,
        None => catalog.default_model(),
    };
    let path = ensure(fetcher, entry)?;
    Ok(ModelFile {
        id: entry.id.clone(),
        path,
        sha256: Some(entry.sha256.clone()),
    })
}

/// The verified SHA-256 of `path` when it is a catalog model's file in the cache (`cmdai models
/// path` printed it), so that a run by path shares the prompt cache and the interleaved weights
/// of a run by name.
fn cached_digest(path: &Path, fetcher: &Fetcher) -> Option<String> {
    let path = path.canonicalize().ok()?;
    Catalog::builtin()
        .models()
        .iter()
        .find(|entry| {
            fetcher
                .cache()
                .installed(entry)
                .and_then(|cached| cached.canonicalize().ok())
                .is_some_and(|cached| cached == path)
        })
        .map(|entry| entry.sha256.clone())
}

/// The cached file of `entry`, downloading it with a progress bar first if needed.
pub fn ensure(fetcher: &Fetcher, entry: &ModelEntry) -> Result<PathBuf> {
    if fetcher.cache().installed(entry).is_none() && entry.terms_must_be_accepted {
        eprintln!(
            "cmdai: {} is distributed under the {}; downloading it means you accept those terms",
            entry.name, entry.license
        );
    }
    Ok(fetcher.ensure(entry, &mut BarProgress::default())?)
}

fn entry<'a>(catalog: &'a Catalog, name: Option<&str>) -> Result<&'a ModelEntry> {
    Ok(match name {
        Some(name) => catalog.find(name)?,
        None => catalog.default_model(),
    })
}

/// `cmdai models list`.
pub fn list(output: OutputFormat) -> Result<()> {
    let cache = crate::settings::cache()?;
    let catalog = Catalog::builtin();
    if output == OutputFormat::Json {
        let rows: Vec<_> = catalog
            .models()
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": m.id, "aliases": m.aliases, "name": m.name, "architecture": m.architecture,
                    "quantization": m.quantization, "size": m.size, "license": m.license,
                    "default": m.id == Catalog::DEFAULT_ID, "path": cache.installed(m),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    for m in catalog.models() {
        let state = if cache.installed(m).is_some() {
            "installed"
        } else {
            "not installed"
        };
        let default = if m.id == Catalog::DEFAULT_ID {
            ", default"
        } else {
            ""
        };
        println!(
            "{:<20} {:>5.0} MB  {:<13} {} ({}{default})",
            m.id,
            m.size as f64 / 1e6,
            state,
            m.name,
            m.quantization
        );
        println!(
            "{:<20} aliases: {}; license: {}",
            "",
            m.aliases.join(", "),
            m.license
        );
    }
    println!("cache: {}", cache.root().display());
    Ok(())
}

/// `cmdai models pull [ID] [--force]`.
pub fn pull(
    name: Option<&str>,
    force: bool,
    offline: bool,
    device: cmdai_backend_candle::DeviceChoice,
) -> Result<()> {
    let fetcher = fetcher(offline)?;
    crate::interrupt::install(fetcher.cancel_flag());
    let catalog = Catalog::builtin();
    let entry = entry(&catalog, name)?;
    if force && !offline {
        fetcher.cache().remove(entry)?;
    }
    println!("{}", ensure(&fetcher, entry)?.display());
    // What the first request would otherwise do on a GPU: compile its kernels, once.
    crate::gpu::prepare(device, fetcher.cache().root(), 0);
    Ok(())
}

/// `cmdai models path [ID]`.
pub fn path(name: Option<&str>, offline: bool) -> Result<()> {
    let fetcher = fetcher(offline)?;
    crate::interrupt::install(fetcher.cancel_flag());
    let catalog = Catalog::builtin();
    println!("{}", ensure(&fetcher, entry(&catalog, name)?)?.display());
    Ok(())
}

/// `cmdai models verify [ID]`: re-hashes; fails if any file does not match.
pub fn verify(name: Option<&str>) -> Result<()> {
    let cache = crate::settings::cache()?;
    let catalog = Catalog::builtin();
    let entries: Vec<&ModelEntry> = match name {
        Some(name) => vec![catalog.find(name)?],
        None => catalog
            .models()
            .iter()
            .filter(|m| cache.installed(m).is_some())
            .collect(),
    };
    let mut failed = Vec::new();
    for entry in entries {
        if cache.installed(entry).is_none() {
            anyhow::bail!(
                "model `{}` is not installed; run `cmdai models pull {}`",
                entry.id,
                entry.id
            );
        }
        match cache.verify(entry) {
            Ok(()) => println!("{:<20} ok", entry.id),
            Err(error) => {
                println!("{:<20} FAILED: {error}", entry.id);
                failed.push(entry.id.clone());
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!(
            "{} failed verification; run `cmdai models pull --force <ID>` for each",
            failed.join(", ")
        );
    }
    Ok(())
}

/// `cmdai models rm ID`.
pub fn remove(name: &str) -> Result<()> {
    let cache = crate::settings::cache()?;
    let catalog = Catalog::builtin();
    let entry = catalog.find(name)?;
    // Its weights interleaved for this CPU, if a run wrote them (see `backend.rs`).
    let packed = cmdai_backend_candle::Packing {
        dir: cache.root().join("packed"),
        identity: format!("sha256:{}", entry.sha256),
    };
    match std::fs::remove_file(packed.file()) {
        Ok(()) => println!(
            "removed its interleaved weights ({})",
            packed.file().display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => eprintln!("cmdai: cannot remove {}: {error}", packed.file().display()),
    }
    if cache.remove(entry)? {
        println!("removed {}", entry.id);
    } else {
        println!("{} was not installed", entry.id);
    }
    Ok(())
}

/// `cmdai models info ID|PATH`: what the GGUF metadata says, and whether cmdai can run it.
pub fn info(name: &str, output: OutputFormat) -> Result<()> {
    let path = if Path::new(name).is_file() {
        PathBuf::from(name)
    } else {
        let cache = crate::settings::cache()?;
        let catalog = Catalog::builtin();
        let entry = catalog.find(name)?;
        cache.installed(entry).ok_or_else(|| {
            anyhow::anyhow!(
                "model `{}` is not installed; run `cmdai models pull {}`",
                entry.id,
                entry.id
            )
        })?
    };
    let file = cmdai_backend_candle::GgufFile::open(&path)?;
    let summary = cmdai_backend_candle::summarize(&file);
    if output == OutputFormat::Json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("{summary}");
    }
    Ok(())
}
