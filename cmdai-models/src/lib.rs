//! cmdai's models: the catalog of known models, verified downloads, and the local cache.
//!
//! ```no_run
//! use cmdai_models::{Cache, Catalog, FetchOptions, Fetcher, NoProgress};
//!
//! let catalog = Catalog::builtin();
//! let fetcher = Fetcher::new(Cache::platform()?, FetchOptions::default());
//! let path = fetcher.ensure(catalog.default_model(), &mut NoProgress)?;
//! println!("model at {}", path.display());
//! # Ok::<(), cmdai_models::ModelsError>(())
//! ```
#![deny(missing_docs)]

mod cache;
mod catalog;
mod error;
mod fetch;

pub use cache::Cache;
pub use catalog::{Catalog, ModelEntry, PypiPart, Source};
pub use error::ModelsError;
pub use fetch::{FetchOptions, Fetcher, NoProgress, Progress, sha256_file, verify};
