//! Which backend generates: the local model, or an OpenAI-compatible server with an optional
//! fall-back to the local model when the server cannot be reached.

use std::time::Duration;

use anyhow::{Context, Result};
use cmdai_backend_candle::{CandleBackend, Draft, LoadOptions};
use cmdai_backend_openai::{ApiKey, OpenAiBackend, OpenAiOptions};
use cmdai_core::{
    BackendError, CancelToken, Conversation, GenerationOutput, GenerationParams, InferenceBackend,
    ModelInfo, TokenSink,
};
use cmdai_models::Fetcher;

use crate::cli::BackendKind;
use crate::models;
use crate::settings::Settings;

/// The backend a command generates with.
pub enum Backend {
    Local(Box<CandleBackend>),
    Remote {
        server: Box<OpenAiBackend>,
        /// Set when `remote.fallback` is on: what loading the local model needs.
        fallback: Option<Box<LocalLoader>>,
    },
}

/// Loads the local model on demand (for the fall-back).
pub struct LocalLoader {
    fetcher: Fetcher,
    model: Option<String>,
    device: cmdai_backend_candle::DeviceChoice,
    draft: Draft,
    draft_model: String,
    verbose: u8,
}

impl LocalLoader {
    fn new(settings: &Settings, fetcher: Fetcher) -> Self {
        LocalLoader {
            fetcher,
            model: settings.model.clone(),
            device: settings.device,
            draft: settings.draft,
            draft_model: settings.draft_model.clone(),
            verbose: settings.verbose,
        }
    }

    /// Finds, downloads if needed, and loads the model; says what was picked on `-v`.
    fn load(&self) -> Result<CandleBackend> {
        // The GPU's kernels compile while the model downloads, if both are still to do.
        let kernels = crate::gpu::start(self.device, self.fetcher.cache().root());
        let model = models::resolve(self.model.as_deref(), &self.fetcher)?;
        if let Some(kernels) = kernels {
            kernels.finish(self.verbose);
        }
        let options = LoadOptions {
            device: self.device,
            model_id: Some(model.id.clone()),
            prompt_cache_dir: Some(self.fetcher.cache().root().join("prompt-cache")),
            model_digest: model.sha256.clone(),
            packed_weights_dir: Some(self.fetcher.cache().root().join("packed")),
            draft: self.draft,
            ..LoadOptions::default()
        };
        let mut backend = CandleBackend::load(&model.path, &options)
            .with_context(|| format!("cannot load model {}", model.path.display()))?;
        if self.draft == Draft::Model {
            load_draft(&mut backend, &self.draft_model, &self.fetcher, self.verbose)?;
        }
        if self.verbose > 0 {
            let info = backend.info();
            eprintln!(
                "cmdai: model {} ({}) on {}: {}; loaded in {:.0} ms",
                info.model,
                model.path.display(),
                info.device,
                backend.device_reason(),
                backend.load_time().as_secs_f64() * 1000.0
            );
        }
        Ok(backend)
    }
}

/// Loads `name` (a catalog id, fetched if need be, or a path) to draft tokens for `backend`
/// (`--draft model`). On a GPU, where drafts are not checked, it says so on `-v` and drafts
/// nothing.
pub fn load_draft(
    backend: &mut CandleBackend,
    name: &str,
    fetcher: &Fetcher,
    verbose: u8,
) -> Result<()> {
    let device = backend.info().device;
    if device != "cpu" {
        backend.set_draft(Draft::Off);
        if verbose > 0 {
            eprintln!(
                "cmdai: --draft model: drafted tokens are checked on the CPU only, and the model runs on {device}; no drafts"
            );
        }
        return Ok(());
    }
    let draft = models::resolve(Some(name), fetcher)?;
    let options = LoadOptions {
        model_digest: draft.sha256.clone(),
        prompt_cache_dir: Some(fetcher.cache().root().join("prompt-cache")),
        packed_weights_dir: Some(fetcher.cache().root().join("packed")),
        ..LoadOptions::default()
    };
    let took = backend
        .load_draft(&draft.path, &options)
        .with_context(|| format!("cannot use {} as the draft model (--draft-model)", draft.id))?;
    if verbose > 0 {
        eprintln!(
            "cmdai: draft model {} ({}) loaded in {:.0} ms",
            draft.id,
            draft.path.display(),
            took.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

impl Backend {
    /// The backend `settings` ask for. `fetcher` is the one whose downloads Ctrl-C stops.
    pub fn open(settings: &Settings, fetcher: Fetcher) -> Result<Self> {
        let loader = LocalLoader::new(settings, fetcher);
        if settings.backend == BackendKind::Local {
            return Ok(Backend::Local(Box::new(loader.load()?)));
        }
        let remote = &settings.remote;
        let api_key = remote.api_key();
        if settings.verbose > 0 {
            eprintln!(
                "cmdai: OpenAI-compatible server at {}, model {}, API key from ${} ({})",
                remote.url,
                remote.model.as_deref().unwrap_or("(the server's)"),
                remote.api_key_env,
                if api_key.is_some() { "set" } else { "not set" },
            );
        }
        let options = OpenAiOptions {
            model: remote.model.clone(),
            api_key: api_key.map(ApiKey::new),
            api_key_source: Some(format!("${}", remote.api_key_env)),
            timeout: remote.timeout,
            ..OpenAiOptions::new(&remote.url)
        };
        match OpenAiBackend::connect(options) {
            Ok(server) => Ok(Backend::Remote {
                server: Box::new(server),
                fallback: remote.fallback.then(|| Box::new(loader)),
            }),
            Err(error @ BackendError::Unreachable { .. }) if remote.fallback => {
                announce_fallback(&error);
                Ok(Backend::Local(Box::new(loader.load()?)))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The last reply's drafted tokens, how many were confirmed and how long drafting took
    /// (the local model only).
    pub fn drafted(&self) -> Option<(usize, usize, Duration)> {
        match self {
            Backend::Local(local) => {
                let (drafted, confirmed) = local.drafted();
                Some((drafted, confirmed, local.drafting_time()))
            }
            Backend::Remote { .. } => None,
        }
    }

    /// How long loading the model took (nothing for a server).
    pub fn load_time(&self) -> Duration {
        match self {
            Backend::Local(local) => local.load_time(),
            Backend::Remote { .. } => Duration::ZERO,
        }
    }
}

impl InferenceBackend for Backend {
    fn info(&self) -> ModelInfo {
        match self {
            Backend::Local(local) => local.info(),
            Backend::Remote { server, .. } => server.info(),
        }
    }

    fn generate(
        &mut self,
        conversation: &Conversation,
        params: &GenerationParams,
        sink: &mut dyn TokenSink,
        cancel: &CancelToken,
    ) -> Result<GenerationOutput, BackendError> {
        let (server, fallback) = match self {
            Backend::Local(local) => return local.generate(conversation, params, sink, cancel),
            Backend::Remote { server, fallback } => (server, fallback),
        };
        match server.generate(conversation, params, sink, cancel) {
            Err(error @ BackendError::Unreachable { .. }) if fallback.is_some() => {
                announce_fallback(&error);
                let loader = fallback.take().expect("checked above");
                let local = loader
                    .load()
                    .map_err(|e| BackendError::failed("cannot load the local model", e))?;
                // Later requests (batch mode) go straight to the local model.
                *self = Backend::Local(Box::new(local));
                self.generate(conversation, params, sink, cancel)
            }
            other => other,
        }
    }
}

fn announce_fallback(error: &BackendError) {
    match std::error::Error::source(error) {
        Some(source) => eprintln!("cmdai: {error} ({source}); using the local model instead"),
        None => eprintln!("cmdai: {error}; using the local model instead"),
    }
}
