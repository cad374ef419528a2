//! Finding the model file: a path given by the user, or a catalog model from the cache.

use std::path::{Path, PathBuf};

use anyhow::Result;
use cmdai_models::{Cache, Catalog, FetchOptions, Fetcher, ModelEntry};

use crate::progress::BarProgress;

/// A model file ready to load, with the name to report.
#[derive(Debug)]
pub struct ModelFile {
    pub id: String,
    pub path: PathBuf,
}

/// The fetcher for the user's cache, honouring `--offline`.
pub fn fetcher(offline: bool) -> Result<Fetcher> {
    let mut options = FetchOptions::from_env();
    options.offline |= offline;
    Ok(Fetcher::new(Cache::from_env()?, options))
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
    })
}

/// The cached file of `entry`, downloading it with a progress bar first if needed.
pub fn ensure(fetcher: &Fetcher, entry: &ModelEntry) -> Result<PathBuf> {
    if fetcher.cache().cached(entry).is_none() && entry.terms_must_be_accepted {
        eprintln!(
            "cmdai: {} is distributed under the {}; downloading it means you accept those terms",
            entry.name, entry.license
        );
    }
    Ok(fetcher.ensure(entry, &mut BarProgress::default())?)
}
