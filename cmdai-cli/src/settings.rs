//! Validated settings: what the commands run with, resolved from the parsed command line.

use anyhow::{Context, Result, bail};
use cmdai_backend_candle::DeviceChoice;
use cmdai_core::GenerationParams;
use cmdai_core::safety::{Policy, UserRules};

use crate::cli::{Cli, Command, GenerationArgs, ModelsCommand, OutputFormat, SafetyArgs};
use crate::config::{self, Config};

/// What to do.
#[derive(Debug)]
pub enum Action {
    /// Generate a command for a request.
    Generate { request: String },
    /// Generate for JSON lines on stdin.
    Batch,
    /// Analyse (and maybe run) a given command.
    Check { command: String },
    /// Measure the engine.
    Bench(crate::bench::BenchOptions),
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
    pub offline: bool,
    pub params: GenerationParams,
    pub output: OutputFormat,
    pub verbose: u8,
    pub safety: Safety,
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
    pub run: RunMode,
}

impl Safety {
    fn resolve(args: &SafetyArgs, config: &Config) -> Result<Self> {
        let policy = match &args.policy {
            Some(value) => config::parse_policy(value, "--safety / CMDAI_SAFETY")?,
            None => config.safety.policy.unwrap_or_default(),
        };
        let run = match (args.dry_run, args.execute) {
            (true, _) => RunMode::DryRun,
            (false, true) => RunMode::Execute { yes: args.yes },
            (false, false) => RunMode::Show,
        };
        Ok(Self {
            policy,
            rules: config.safety.user_rules()?,
            run,
        })
    }
}

impl Settings {
    pub fn resolve(cli: Cli) -> Result<Self> {
        let action = match cli.command {
            Some(Command::Batch) => Action::Batch,
            Some(Command::Bench {
                prompt_tokens,
                generate,
                repetitions,
            }) => Action::Bench(crate::bench::BenchOptions {
                prompt_tokens: prompt_tokens as usize,
                generate: generate as usize,
                repetitions: repetitions as usize,
            }),
            Some(Command::Check { command }) => {
                let command = command.join(" ");
                if command.trim().is_empty() {
                    bail!("no command given; e.g. `cmdai check 'rm -rf ./build'`");
                }
                Action::Check { command }
            }
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
        let device = cli
            .model
            .device
            .parse::<DeviceChoice>()
            .map_err(anyhow::Error::msg)
            .context("invalid --device")?;
        let config = Config::load()?;
        Ok(Settings {
            safety: Safety::resolve(&cli.safety, &config)?,
            action,
            model: cli.model.model.filter(|m| !m.trim().is_empty()),
            device,
            offline: cli.model.offline,
            params: generation_params(&cli.generation)?,
            output: cli.output,
            verbose: cli.verbose,
        })
    }
}

fn generation_params(args: &GenerationArgs) -> Result<GenerationParams> {
    if args.max_tokens == 0 {
        bail!("--max-tokens must be at least 1");
    }
    if !(0.0..=2.0).contains(&args.temperature) {
        bail!(
            "--temperature must be between 0 and 2, got {}",
            args.temperature
        );
    }
    if !(args.top_p > 0.0 && args.top_p <= 1.0) {
        bail!("--top-p must be in (0, 1], got {}", args.top_p);
    }
    Ok(GenerationParams {
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        seed: args.seed,
        stop: Vec::new(),
    })
}
