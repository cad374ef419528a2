//! `cmdai`: turn plain English into a shell command with a local model.
//!
//! Glue only: parse the command line, resolve settings, compose the library crates, print.

mod backend;
mod bench;
mod clipboard;
mod context;
mod doctor;
mod eval;
mod fix;
mod generate;
mod gpu;
mod init;
mod interactive;
mod interrupt;
mod models;
mod preview;
mod progress;
mod safety;
mod settings;
mod trial;

use std::process::ExitCode;

// The command line and the configuration file live in the library target (lib.rs), which the
// config fuzz target uses too.
use cmdai_cli::{cli, config};

use crate::settings::{Action, Settings};

/// Exit codes, documented in the README.
mod exit {
    /// Something failed that has no more specific code.
    pub const FAILURE: u8 = 1;
    /// Invalid command-line syntax (clap's own errors exit with it too).
    pub const USAGE: u8 = 2;
    /// The model could not be found, downloaded or loaded.
    pub const MODEL: u8 = 3;
    /// The model's reply was not a usable command.
    pub const NO_COMMAND: u8 = 4;
    // 5: the safety policy refused to run the command; 6: it was not confirmed (safety.rs).
    /// The remote server (--backend openai) could not be reached or did not answer in time.
    pub const UNREACHABLE: u8 = 7;
    /// Interrupted by Ctrl-C.
    pub const INTERRUPTED: u8 = 130;
}

fn main() -> ExitCode {
    if let Err(message) = check_cpu() {
        eprintln!("cmdai: error: {message}");
        return ExitCode::from(exit::FAILURE);
    }
    // The preview's sandbox runs this program again inside its namespaces.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == preview::HELPER)
    {
        return ExitCode::from(u8::try_from(cmdai_preview::serve()).unwrap_or(1));
    }
    let cli = cli::parse();
    init_logging(cli.verbose);
    // A panic inside the shell parser is caught and reported as a finding; keep its message
    // off the terminal.
    cmdai_core::safety::quiet_parser_panics();
    interactive::init_colors();
    let result = Settings::resolve(cli).and_then(|settings| {
        if let Some(threads) = settings.threads {
            use_threads(threads);
        }
        run(settings)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        // `cmdai man | head`: the reader left; nothing is wrong.
        Err(error)
            if error
                .chain()
                .filter_map(|c| c.downcast_ref::<std::io::Error>())
                .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(error) if error.downcast_ref::<safety::NotRun>().is_some() => {
            eprintln!("cmdai: {error}");
            ExitCode::from(exit_code(&error))
        }
        Err(error) => {
            eprintln!("cmdai: error: {error:#}");
            if let Some(hint) = hint(&error) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(exit_code(&error))
        }
    }
}

/// Runs the action; returns the exit status (a command run with -x gives its own).
fn run(settings: Settings) -> anyhow::Result<u8> {
    let done = match &settings.action {
        Action::Generate { request } => return generate::one(&settings, request),
        Action::Session { first } => return generate::session(&settings, first.as_deref()),
        Action::Check { command } => return safety::check(&settings, command),
        Action::Preview { command } => return preview::command(&settings, command),
        Action::Fix(options) => return fix::run(&settings, options),
        Action::Doctor => return doctor::run(&settings),
        Action::GpuKernel { ordinal, module } => return gpu::compile_here(*ordinal, module),
        Action::Batch => generate::batch(&settings),
        Action::Eval(options) => eval::run(&settings, options),
        Action::Bench(options) => bench::run(&settings, *options),
        Action::Config(command) => settings::config_command(&settings, command),
        Action::Completions(shell) => {
            let mut command = cli::command();
            clap_complete::generate(*shell, &mut command, "cmdai", &mut std::io::stdout());
            Ok(())
        }
        Action::Init {
            shell,
            key,
            fix_key,
        } => init::print(*shell, key, fix_key),
        Action::Man => {
            let command = cli::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
            Ok(())
        }
        Action::ModelsList => models::list(settings.output),
        Action::ModelsPull { model, force } => {
            models::pull(model.as_deref(), *force, settings.offline, settings.device)
        }
        Action::ModelsPath { model } => models::path(model.as_deref(), settings.offline),
        Action::ModelsVerify { model } => models::verify(model.as_deref()),
        Action::ModelsRm { model } => models::remove(model),
        Action::ModelsInfo { model } => models::info(model, settings.output),
    };
    done.map(|()| 0)
}

/// Candle's CPU kernels size their thread pool from `RAYON_NUM_THREADS` when they start. Setting
/// it in this process would need `unsafe` (other threads may read the environment), so cmdai
/// runs itself again with it set; the new process sees the same arguments.
fn use_threads(threads: u32) {
    let wanted = threads.to_string();
    if std::env::var("RAYON_NUM_THREADS").ok().as_deref() == Some(wanted.as_str()) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command
        .args(std::env::args_os().skip(1))
        .env("RAYON_NUM_THREADS", &wanted);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = command.exec();
        tracing::warn!("cannot apply --threads: {error}");
    }
    #[cfg(not(unix))]
    match command.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(error) => tracing::warn!("cannot apply --threads: {error}"),
    }
}

/// The build targets x86-64-v3 so candle's AVX2/FMA kernels are compiled in; on an older CPU
/// say so instead of dying of an illegal instruction.
fn check_cpu() -> Result<(), String> {
    #[cfg(target_arch = "x86_64")]
    if !(std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"))
    {
        return Err(
            "this build of cmdai needs a CPU with AVX2 and FMA (x86-64-v3); rebuild with \
                    RUSTFLAGS=\"-C target-cpu=native\" for this machine"
                .into(),
        );
    }
    Ok(())
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = settings::log_filter()
        .and_then(|filter| tracing_subscriber::EnvFilter::try_new(filter).ok())
        .unwrap_or_else(|| level.into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .init();
}

/// What to do about an error, in terms of cmdai's flags and commands, which the libraries that
/// report the errors do not know.
fn hint(error: &anyhow::Error) -> Option<String> {
    use cmdai_core::{GenerateError, StopReason};
    use cmdai_models::ModelsError;
    error.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<ModelsError>() {
            return match e {
                ModelsError::Offline { id, .. } => Some(format!(
                    "run `cmdai models pull {id}` with network access (without --offline), or \
                     pass --model /path/to/file.gguf"
                )),
                ModelsError::NoCacheDir => {
                    Some("set CMDAI_CACHE_DIR to the directory to keep models in".into())
                }
                ModelsError::Corrupt { id, .. } => {
                    Some(format!("run `cmdai models pull --force {id}`"))
                }
                ModelsError::Io { error, .. } => {
                    use std::io::ErrorKind;
                    match error.kind() {
                        ErrorKind::StorageFull
                        | ErrorKind::QuotaExceeded
                        | ErrorKind::FileTooLarge
                        | ErrorKind::PermissionDenied
                        | ErrorKind::ReadOnlyFilesystem => Some(
                            "set CMDAI_CACHE_DIR to a writable directory on a disk with room"
                                .into(),
                        ),
                        _ => None,
                    }
                }
                _ => None,
            };
        }
        if let Some(cmdai_backend_candle::CandleError::NotEnoughMemory { .. }) =
            cause.downcast_ref::<cmdai_backend_candle::CandleError>()
        {
            return Some("`cmdai models list` shows smaller models; pick one with --model".into());
        }
        match cause.downcast_ref::<GenerateError>()? {
            GenerateError::EmptyRequest => Some("e.g. `cmdai \"list files\"`".into()),
            GenerateError::Parse {
                stopped: StopReason::Length,
                ..
            } => Some("allow a longer reply with --max-tokens".into()),
            GenerateError::Parse {
                stopped: StopReason::TimeLimit,
                ..
            } => Some("allow more time with --time-limit".into()),
            _ => None,
        }
    })
}

/// Maps an error to the documented exit code by what failed.
fn exit_code(error: &anyhow::Error) -> u8 {
    use cmdai_core::{BackendError, GenerateError};
    for cause in error.chain() {
        if let Some(invalid) = cause.downcast_ref::<cmdai_cli::defs::InvalidValue>() {
            return match invalid.origin {
                cmdai_cli::defs::Origin::Flag => exit::USAGE,
                _ => exit::FAILURE,
            };
        }
        if let Some(not_run) = cause.downcast_ref::<safety::NotRun>() {
            return not_run.code;
        }
        if let Some(e) = cause.downcast_ref::<cmdai_models::ModelsError>() {
            return match e {
                cmdai_models::ModelsError::Interrupted => exit::INTERRUPTED,
                _ => exit::MODEL,
            };
        }
        if cause
            .downcast_ref::<cmdai_backend_candle::CandleError>()
            .is_some()
        {
            return exit::MODEL;
        }
        if let Some(BackendError::Unreachable { .. }) = cause.downcast_ref::<BackendError>() {
            return exit::UNREACHABLE;
        }
        if let Some(e) = cause.downcast_ref::<GenerateError>() {
            return match e {
                GenerateError::Backend(BackendError::Cancelled) => exit::INTERRUPTED,
                GenerateError::Backend(BackendError::Unreachable { .. }) => exit::UNREACHABLE,
                GenerateError::Parse { .. } => exit::NO_COMMAND,
                _ => exit::FAILURE,
            };
        }
    }
    exit::FAILURE
}
