//! Validated settings: what the commands run with, resolved from the parsed command line, the
//! `CMDAI_*` variables and the configuration file by the table in `defs.rs`. Only this layer
//! reads the environment; the library crates take options.

use std::time::Duration;

use anyhow::{Result, bail};
use cmdai_backend_candle::DeviceChoice;
use cmdai_cli::defs;
use cmdai_core::GenerationParams;
use cmdai_core::safety::{Policy, UserRules};

use crate::cli::{
    BackendKind, Cli, Command, ConfigCommand, GenerationArgs, ModelsCommand, OutputFormat,
    RemoteArgs, SafetyArgs,
};
use crate::config::{self, Config};

/// What to do.
#[derive(Debug)]
pub enum Action {
    /// Generate a command for a request.
    Generate { request: String },
    /// A session of requests at a terminal (`-i`), starting with `first` if given.
    Session { first: Option<String> },
    /// Generate for JSON lines on stdin.
    Batch,
    /// Measure quality on a dataset.
    Eval(crate::eval::EvalOptions),
    /// Analyse (and maybe run) a given command.
    Check { command: String },
    /// Show what a given command would change.
    Preview { command: String },
    /// Fix or change a command that already ran.
    Fix(crate::fix::FixOptions),
    /// Measure the engine.
    Bench(crate::bench::BenchOptions),
    /// `cmdai config ...`.
    Config(ConfigCommand),
    /// Print a completion script.
    Completions(clap_complete::Shell),
    /// Print the man page.
    Man,
    /// Check the setup.
    Doctor,
    /// Load one GPU kernel module (`gpu.rs`).
    GpuKernel { ordinal: usize, module: String },
    /// Print the shell integration.
    Init {
        shell: crate::cli::InitShell,
        key: String,
        fix_key: String,
    },
    /// List the catalog.
    ModelsList,
    /// Download a model.
    ModelsPull { model: Option<String>, force: bool },
    /// Re-hash cached models.
    ModelsVerify { model: Option<String> },
    /// Delete a cached model.
    ModelsRm { model: String },
    /// Describe a model file.
    ModelsInfo { model: String },
    /// Print a model's path.
    ModelsPath { model: Option<String> },
}

/// Everything a command needs, validated.
#[derive(Debug)]
pub struct Settings {
    pub action: Action,
    pub model: Option<String>,
    pub device: DeviceChoice,
    /// The device as given (for `config show`).
    pub device_name: String,
    pub threads: Option<u32>,
    /// The shell to write commands for and run them with; `None`: `$SHELL`.
    pub shell: Option<String>,
    pub offline: bool,
    pub params: GenerationParams,
    /// Speculative decoding's drafts (the local model, on the CPU).
    pub draft: cmdai_backend_candle::Draft,
    /// The model that drafts for `Draft::Model`: a catalog id or a path.
    pub draft_model: String,
    /// Describe the files the request names to the model.
    pub look_at_files: bool,
    /// Try each new command in the preview's sandbox before showing it.
    pub trial: bool,
    pub output: OutputFormat,
    /// Show tokens on stderr as they are generated.
    pub stream: bool,
    /// Ask the model for an explanation of the command too.
    pub explain: bool,
    /// Offer this many distinct commands (`--alternatives`).
    pub alternatives: Option<usize>,
    pub verbose: u8,
    pub safety: Safety,
    /// How long and how much a preview may run and write.
    pub preview_limits: crate::preview::Limits,
    pub backend: BackendKind,
    pub remote: Remote,
}

/// The OpenAI-compatible server, for `--backend openai`.
#[derive(Debug, Clone)]
pub struct Remote {
    pub url: String,
    pub model: Option<String>,
    /// The environment variable the API key is read from.
    pub api_key_env: String,
    pub timeout: Duration,
    /// Use the local model when the server cannot be reached.
    pub fallback: bool,
}

impl Remote {
    fn resolve(args: RemoteArgs, config: &Config) -> Result<Self> {
        let file = &config.remote;
        Ok(Remote {
            url: defs::REMOTE_URL.resolve(args.remote_url, file.url.clone())?,
            model: defs::REMOTE_MODEL
                .given(args.remote_model, file.model.clone())?
                .filter(|m| !m.trim().is_empty()),
            api_key_env: defs::API_KEY_ENV.resolve(None, file.api_key_env.clone())?,
            timeout: Duration::from_secs(defs::REMOTE_TIMEOUT.resolve(None, file.timeout)?),
            fallback: defs::FALLBACK.resolve(args.fallback, file.fallback)?,
        })
    }

    /// The API key from the environment, if set.
    pub fn api_key(&self) -> Option<String> {
        std::env::var(&self.api_key_env)
            .ok()
            .filter(|key| !key.trim().is_empty())
    }
}

/// What happens to a command once it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Show it; the user runs it.
    Show,
    /// Run it after confirmation.
    Execute { yes: bool },
    /// Show it and say it was not run.
    DryRun,
}

#[derive(Debug)]
pub struct Safety {
    pub policy: Policy,
    pub rules: UserRules,
    /// The patterns behind `rules`, for `config show`.
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    pub run: RunMode,
    /// With -x: show a preview before asking.
    pub preview: bool,
}

impl Safety {
    fn resolve(args: SafetyArgs, config: &Config) -> Result<Self> {
        let policy = defs::POLICY.resolve(args.policy, config.safety.policy)?;
        let run = match (args.dry_run, args.execute) {
            (true, _) => RunMode::DryRun,
            (false, true) => RunMode::Execute { yes: args.yes },
            (false, false) => RunMode::Show,
        };
        Ok(Self {
            policy,
            rules: config.safety.user_rules()?,
            allow: config.safety.allow.clone(),
            deny: config.safety.deny.clone(),
            run,
            preview: args.preview,
        })
    }
}

impl Settings {
    pub fn resolve(cli: Cli) -> Result<Self> {
        if cli.interactive && cli.command.is_some() {
            bail!("-i/--interactive is a session of requests; it does not go with a subcommand");
        }
        let action = match cli.command {
            Some(Command::Batch) => Action::Batch,
            Some(Command::Eval {
                file,
                sample,
                sample_seed,
                exec,
                fixture,
                exec_timeout,
                check_references,
            }) => Action::Eval(crate::eval::EvalOptions {
                file,
                sample,
                seed: sample_seed,
                check_references,
                exec: exec.then(|| crate::eval::ExecOptions {
                    fixture,
                    timeout: std::time::Duration::from_secs(exec_timeout),
                }),
            }),
            Some(Command::Bench {
                prompt_tokens,
                generate,
                repetitions,
                kernels,
                cuda_decode,
                requests,
            }) => Action::Bench(crate::bench::BenchOptions {
                prompt_tokens: prompt_tokens as usize,
                generate: generate as usize,
                repetitions: repetitions as usize,
                kernels: crate::bench::kernels(kernels, cuda_decode),
                requests,
            }),
            Some(Command::Check { command }) => {
                let command = command.join(" ");
                if command.trim().is_empty() {
                    bail!("no command given; e.g. `cmdai check 'rm -rf ./build'`");
                }
                Action::Check { command }
            }
            Some(Command::Config(command)) => Action::Config(command),
            Some(Command::Completions { target }) => Action::Completions(target),
            Some(Command::Man) => Action::Man,
            Some(Command::Doctor) => Action::Doctor,
            Some(Command::GpuKernel { ordinal, module }) => Action::GpuKernel { ordinal, module },
            Some(Command::Init {
                target,
                key,
                fix_key,
            }) => Action::Init {
                shell: target,
                key,
                fix_key,
            },
            Some(Command::Preview { command }) => {
                let command = command.join(" ");
                if command.trim().is_empty() {
                    bail!("no command given; e.g. `cmdai preview 'rm -r ./build'`");
                }
                Action::Preview { command }
            }
            Some(Command::Fix {
                hint,
                command,
                status,
            }) => Action::Fix(crate::fix::FixOptions {
                hint: hint.join(" "),
                command: command.filter(|c| !c.trim().is_empty()),
                status,
            }),
            Some(Command::Models(ModelsCommand::List)) => Action::ModelsList,
            Some(Command::Models(ModelsCommand::Pull { model, force })) => {
                Action::ModelsPull { model, force }
            }
            Some(Command::Models(ModelsCommand::Verify { model })) => {
                Action::ModelsVerify { model }
            }
            Some(Command::Models(ModelsCommand::Rm { model })) => Action::ModelsRm { model },
            Some(Command::Models(ModelsCommand::Info { model })) => Action::ModelsInfo { model },
            Some(Command::Models(ModelsCommand::Path { model })) => Action::ModelsPath { model },
            None if cli.interactive => {
                let request = cli.request.join(" ");
                let request = request.trim();
                Action::Session {
                    first: (!request.is_empty()).then(|| request.to_owned()),
                }
            }
            None => {
                let request = cli.request.join(" ");
                if request.trim().is_empty() {
                    bail!(
                        "no request given; say what the command should do, e.g. `cmdai \"list all files\"`"
                    );
                }
                Action::Generate { request }
            }
        };
        // Editing the file must work even when it is broken, so that it can be fixed.
        let config = match &action {
            Action::Config(
                ConfigCommand::Path | ConfigCommand::Set { .. } | ConfigCommand::Reset { .. },
            ) => Config::load().unwrap_or_default(),
            _ => Config::load()?,
        };
        let model = cli.model;
        // The name as given, for `config show`; the table has checked that it parses.
        let device_name: String = defs::DEVICE.resolve(model.device, config.device.clone())?;
        let device = device_name
            .parse::<DeviceChoice>()
            .map_err(anyhow::Error::msg)?;
        Ok(Settings {
            safety: Safety::resolve(cli.safety, &config)?,
            backend: defs::BACKEND.resolve(cli.remote.backend.clone(), config.backend)?,
            remote: Remote::resolve(cli.remote, &config)?,
            action,
            model: defs::MODEL
                .given(model.model, config.model.clone())?
                .filter(|m| !m.trim().is_empty()),
            device,
            device_name,
            threads: defs::THREADS.given(model.threads, config.threads)?,
            shell: defs::SHELL
                .given(model.shell, config.shell.clone())?
                .filter(|s| !s.trim().is_empty()),
            offline: defs::OFFLINE.resolve(model.offline.then(|| "true".to_owned()), None)?,
            draft: defs::DRAFT
                .resolve::<String>(
                    cli.generation.draft.clone(),
                    config.generation.draft.clone(),
                )?
                .parse()
                .map_err(anyhow::Error::msg)?,
            draft_model: defs::DRAFT_MODEL.resolve(
                cli.generation.draft_model.clone(),
                config.generation.draft_model.clone(),
            )?,
            look_at_files: defs::LOOK_AT_FILES.resolve(
                cli.generation.look_at_files.clone(),
                config.generation.look_at_files,
            )?,
            trial: defs::TRIAL.resolve(cli.generation.trial.clone(), config.generation.trial)?,
            params: generation_params(cli.generation, &config)?,
            output: defs::OUTPUT.resolve(cli.output, config.output)?,
            stream: cli.stream,
            explain: cli.explain,
            alternatives: cli.alternatives.map(usize::from),
            verbose: cli.verbose,
            preview_limits: crate::preview::Limits {
                time: Duration::from_secs(cli.preview_limits.timeout),
                size: cli.preview_limits.max_size << 20,
            },
        })
    }
}

fn generation_params(args: GenerationArgs, config: &Config) -> Result<GenerationParams> {
    let file = &config.generation;
    let time_limit = defs::TIME_LIMIT.resolve(args.time_limit, file.time_limit)?;
    Ok(GenerationParams {
        max_tokens: defs::MAX_TOKENS.resolve(args.max_tokens, file.max_tokens)?,
        temperature: defs::TEMPERATURE
            .resolve(args.temperature, file.temperature.map(|t| t as f32))?,
        top_p: defs::TOP_P.resolve(args.top_p, file.top_p.map(|p| p as f32))?,
        seed: defs::SEED.resolve(args.seed, file.seed)?,
        time_limit: Some(Duration::from_secs(time_limit)),
        ..GenerationParams::default()
    })
}

/// `cmdai config path|show|get|set|reset`.
pub fn config_command(settings: &Settings, command: &ConfigCommand) -> Result<()> {
    match command {
        ConfigCommand::Path => println!("{}", Config::path()?.display()),
        ConfigCommand::Show => print!("{}", toml::to_string(&settings.effective())?),
        ConfigCommand::Get { key } => {
            let value = toml::Value::try_from(settings.effective())?;
            match config::lookup(&value, key) {
                Some(toml::Value::String(text)) => println!("{text}"),
                Some(other) => println!("{other}"),
                None => println!("{}", defs::find(key)?.default),
            }
        }
        ConfigCommand::Set { key, values } => config::set(key, values)?,
        ConfigCommand::Reset { key } => config::reset(key.as_deref())?,
    }
    Ok(())
}

impl Settings {
    /// The settings in effect, in the configuration file's shape.
    fn effective(&self) -> Config {
        Config {
            model: Some(
                self.model
                    .clone()
                    .unwrap_or_else(|| cmdai_models::Catalog::DEFAULT_ID.to_owned()),
            ),
            device: Some(self.device_name.clone()),
            threads: self.threads,
            shell: self.shell.clone(),
            output: Some(self.output),
            backend: Some(self.backend),
            remote: config::RemoteConfig {
                url: Some(self.remote.url.clone()),
                model: self.remote.model.clone(),
                api_key_env: Some(self.remote.api_key_env.clone()),
                timeout: Some(self.remote.timeout.as_secs()),
                fallback: Some(self.remote.fallback),
            },
            generation: config::GenerationConfig {
                max_tokens: Some(self.params.max_tokens),
                temperature: Some(shortest_f64(self.params.temperature)),
                top_p: Some(shortest_f64(self.params.top_p)),
                seed: Some(self.params.seed),
                time_limit: self.params.time_limit.map(|t| t.as_secs()),
                draft: Some(self.draft.to_string()),
                draft_model: Some(self.draft_model.clone()),
                look_at_files: Some(self.look_at_files),
                trial: Some(self.trial),
            },
            safety: config::SafetyConfig {
                policy: Some(self.safety.policy),
                allow: self.safety.allow.clone(),
                deny: self.safety.deny.clone(),
            },
        }
    }
}

/// The f64 that prints like the f32 (`0.7`, not `0.699999988079071`).
fn shortest_f64(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(f64::from(value))
}

/// `CMDAI_LOG`: a `tracing` filter that replaces the level `-v` picks.
pub fn log_filter() -> Option<String> {
    std::env::var("CMDAI_LOG").ok()
}

/// The model cache: `CMDAI_CACHE_DIR`, else the platform's cache directory.
pub fn cache() -> Result<cmdai_models::Cache, cmdai_models::ModelsError> {
    match std::env::var_os("CMDAI_CACHE_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Ok(cmdai_models::Cache::at(dir)),
        None => cmdai_models::Cache::platform(),
    }
}

/// Where and how models are downloaded: `offline` as resolved (`--offline`, `CMDAI_OFFLINE`),
/// `CMDAI_PYPI_INDEX`, `HF_ENDPOINT`, `HF_TOKEN`, `CMDAI_HTTP_TIMEOUT_SECS` (a positive whole
/// number of seconds; another value is ignored with a warning).
pub fn fetch_options(offline: bool) -> cmdai_models::FetchOptions {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let defaults = cmdai_models::FetchOptions::default();
    cmdai_models::FetchOptions {
        offline,
        pypi_index: var("CMDAI_PYPI_INDEX").unwrap_or(defaults.pypi_index),
        hf_endpoint: var("HF_ENDPOINT").unwrap_or(defaults.hf_endpoint),
        hf_token: var("HF_TOKEN"),
        timeout: var("CMDAI_HTTP_TIMEOUT_SECS")
            .and_then(|v| {
                let timeout = parse_timeout(&v);
                if timeout.is_none() {
                    tracing::warn!(
                        "ignoring CMDAI_HTTP_TIMEOUT_SECS={v:?}: not a positive number of seconds"
                    );
                }
                timeout
            })
            .unwrap_or(defaults.timeout),
    }
}

/// A timeout in whole seconds, e.g. `30`; `None` for anything else, including `0`.
fn parse_timeout(value: &str) -> Option<Duration> {
    match value.trim().parse::<u64>() {
        Ok(secs) if secs > 0 => Some(Duration::from_secs(secs)),
        _ => None,
    }
}

#[cfg(test)]
mod environment_tests {
    use super::*;

    #[test]
    fn timeout_is_a_positive_number_of_seconds() {
        assert_eq!(parse_timeout("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout(" 5 "), Some(Duration::from_secs(5)));
        assert_eq!(parse_timeout("0"), None);
        assert_eq!(parse_timeout("-1"), None);
        assert_eq!(parse_timeout("1.5"), None);
        assert_eq!(parse_timeout("soon"), None);
    }
}
