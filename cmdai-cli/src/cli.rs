//! The command line as clap sees it. Command code never reads these types: `settings.rs`
//! turns them into validated settings first.
//!
//! A flag that sets a setting is spelled here and described in the table of
//! [`crate::defs`]: its help, default, environment variable and the
//! values it accepts. Its value stays text until the table reads it, so flag, variable and file
//! are checked alike; [`command`] adds the table's help to clap's.

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::defs::{self, Allowed};

/// The command line, with the help of each setting's flag (and the words it takes, where it
/// takes one of a few) from the table.
pub fn command() -> clap::Command {
    defs::ALL.iter().fold(Cli::command(), |command, def| {
        let arg = def.flag.and_then(|flag| {
            command
                .get_arguments()
                .find(|arg| arg.get_long() == Some(flag))
        });
        let Some(id) = arg.map(|arg| arg.get_id().clone()) else {
            return command;
        };
        command.mut_arg(id, |arg| {
            let arg = arg.help(def.flag_help());
            match def.allowed {
                Allowed::OneOf(words) => {
                    arg.value_parser(clap::builder::PossibleValuesParser::new(words))
                }
                _ => arg,
            }
        })
    })
}

/// Parses this process's arguments, or exits with clap's message.
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
}

/// Turn plain English into a shell command, with a model that runs on your machine.
#[derive(Debug, Parser)]
#[command(name = "cmdai", version, about)]
#[command(
    after_help = "Examples:\n  cmdai \"list all files in the current directory\"\n  cmdai -o json \"find log files over 100MB\"\n  echo '{\"id\": 1, \"request\": \"show disk usage\"}' | cmdai batch"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// What the command should do, in plain English.
    #[arg(value_name = "REQUEST")]
    pub request: Vec<String>,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub remote: RemoteArgs,

    #[command(flatten)]
    pub generation: GenerationArgs,

    #[command(flatten)]
    pub safety: SafetyArgs,

    #[command(flatten)]
    pub preview_limits: PreviewLimits,

    // A settings flag, as are the flags of `ModelArgs`, `RemoteArgs`, `GenerationArgs` and
    // `--safety`: their help, defaults and variables are in `defs.rs`.
    #[arg(short, long, global = true)]
    pub output: Option<String>,

    /// Ask request after request at a terminal, with the model loaded once.
    #[arg(short, long)]
    pub interactive: bool,

    /// Show the model's reply on stderr as it is generated.
    #[arg(long, global = true)]
    pub stream: bool,

    /// Also ask the model what the command does (a few sentences on stderr; `explanation` in
    /// JSON output).
    #[arg(long)]
    pub explain: bool,

    /// Offer up to N distinct commands, best first (the greedy answer, then samples; ranked by
    /// how many samples agree). Takes about N to 2N times as long.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(2..=10))]
    pub alternatives: Option<u8>,

    /// Say more on stderr: model, device and why, timings. Repeat for debug logs.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// `cmdai bench --kernels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CpuKernelsArg {
    Best,
    Avx2,
    FileLayout,
}

/// `cmdai bench --cuda-decode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CudaDecodeArg {
    Graph,
    Launches,
    Operations,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read JSON lines `{"id": ..., "request": "..."}` on stdin; write one JSON line per request.
    Batch,
    /// Measure command quality on a JSON-lines dataset ({"request"|"nl", "command"|"cmd"} per
    /// line): parse rate, exact / utility / flag-set match, latency percentiles.
    #[command(
        after_help = "Examples:\n  cmdai eval ../shared/data/nl2bash/nl2bash.jsonl --sample 500 --sample-seed 1\n  cmdai eval data.jsonl --exec --exec-timeout 10\n  cmdai eval eval/tasks/dev.jsonl --exec --check-references\n\nRows may also have \"id\", \"setup\" (a shell script run in the fixture before each command),\n\"ordered\" (true: output lines must come in the same order), \"category\" and \"level\"."
    )]
    Eval {
        /// The dataset.
        file: std::path::PathBuf,
        /// Evaluate a seeded random sample of this many rows instead of every row.
        #[arg(long, value_name = "N")]
        sample: Option<usize>,
        /// Seed for --sample.
        #[arg(long = "sample-seed", default_value_t = 1)]
        sample_seed: u64,
        /// Also run the reference and the generated command, each in a fresh copy of a fixture
        /// directory with no network and the rest of the file system read-only (Linux user
        /// namespaces), and compare their output and the files they leave.
        #[arg(long)]
        exec: bool,
        /// The directory to copy for --exec (default: a built-in project-like tree).
        #[arg(long, value_name = "DIR", requires = "exec")]
        fixture: Option<std::path::PathBuf>,
        /// Time limit for each command run by --exec, in seconds.
        #[arg(long = "exec-timeout", value_name = "SECONDS", default_value_t = 5, requires = "exec", value_parser = clap::value_parser!(u64).range(1..=600))]
        exec_timeout: u64,
        /// With --exec, load no model: run each reference twice and list the rows that cannot
        /// count (the reference or the row's set-up fails, does nothing observable, or does
        /// something else the second time). Exits 1 when any row is listed.
        #[arg(long = "check-references", requires = "exec")]
        check_references: bool,
    },
    /// Analyse a command you already have (no model is loaded); with -x, run it under the
    /// same policy. Exits 5 if the policy would refuse to run it.
    #[command(
        after_help = "Examples:\n  cmdai check 'find / -name core -delete'\n  cmdai check -o json -- rm -rf ./build\n  cmdai check -x 'du -sh ~/.cache'"
    )]
    Check {
        /// The command, as you would type it in the shell (quote it, or put it after --).
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMMAND"
        )]
        command: Vec<String>,
    },
    /// Show what a command would change, without changing it: it runs against a copy-on-write
    /// view of the working directory (Linux), with no network and everything else read-only.
    #[command(
        after_help = "Examples:\n  cmdai preview 'find . -name \"*.tmp\" -delete'\n  cmdai preview -o json -- sed -i s/foo/bar/ notes.txt\n\nCommands rated critical, and commands that use the network or talk to other machines, are\nnot previewed. Exits 5 when a command is not previewed for that reason."
    )]
    Preview {
        /// The command, as you would type it in the shell (quote it, or put it after --).
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMMAND"
        )]
        command: Vec<String>,
    },
    /// Fix the last command (or change one that worked): from the shell integration, `--command`,
    /// or your shell's history file. HINT says what went wrong or what to change.
    #[command(
        after_help = "Examples:\n  cmdai fix\n  cmdai fix it said permission denied\n  cmdai fix --command 'tail -r log.txt' --status 1\n  cmdai fix --command 'ls' only .txt files"
    )]
    Fix {
        /// What went wrong, or what to change ("only .txt files").
        #[arg(value_name = "HINT", trailing_var_arg = true)]
        hint: Vec<String>,
        /// The command line to fix [default: the last one in your shell's history file].
        #[arg(long, value_name = "COMMAND")]
        command: Option<String>,
        /// Its exit status, if you know it (the shell integration passes it).
        #[arg(long, value_name = "CODE", allow_negative_numbers = true)]
        status: Option<i32>,
    },
    /// Measure model load time, prefill and decode speed and peak memory (like llama-bench).
    Bench {
        /// Prompt tokens to prefill.
        #[arg(short = 'p', long = "prompt-tokens", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
        prompt_tokens: u32,
        /// Tokens to decode one at a time.
        #[arg(short = 'n', long = "gen-tokens", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
        generate: u32,
        /// Timed repetitions (after one untimed warm-up).
        #[arg(short = 'r', long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        repetitions: u32,
        /// Which CPU kernels run the interleaved weights: `best` (what requests use: AVX-512
        /// VNNI, else AVX2), `avx2`, or `file-layout` (none: the GGUF file's own layout).
        #[arg(long, value_enum, default_value_t = CpuKernelsArg::Best)]
        kernels: CpuKernelsArg,
        /// How a decode step runs on CUDA: `graph` (what requests use), `launches` (the same
        /// kernels one by one) or `operations` (candle's, one after another).
        #[arg(long = "cuda-decode", value_enum, default_value_t = CudaDecodeArg::Graph)]
        cuda_decode: CudaDecodeArg,
        /// Also time the command for a dozen built-in everyday requests through the full prompt
        /// (what a user waits for), without drafts and then with --draft's: the medians, the
        /// drafted tokens the model confirmed, and whether the commands were the same.
        #[arg(long)]
        requests: bool,
    },
    /// Show or change the configuration file (see README: Configuration).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script: `cmdai completions bash > /etc/bash_completion.d/cmdai`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        #[arg(value_name = "SHELL")]
        target: clap_complete::Shell,
    },
    /// Print the shell integration to load from your shell's rc file: a key (Alt-m unless
    /// --key says otherwise) turns the request on the command line into the command; on an
    /// empty line, or with the fix key (Alt-j), it fixes the last command.
    #[command(
        after_help = "Setup:\n  bash: eval \"$(cmdai init bash)\"    in ~/.bashrc\n  zsh:  eval \"$(cmdai init zsh)\"     in ~/.zshrc\n  fish: cmdai init fish | source     in ~/.config/fish/config.fish"
    )]
    Init {
        /// bash, zsh or fish.
        #[arg(value_name = "SHELL")]
        target: InitShell,
        /// The key, in the notation all three shells share: `\\em` is Alt-m, `\\C-g`-style
        /// names are not portable, so use `\\e` plus a letter.
        #[arg(long, default_value = "\\em")]
        key: String,
        /// The key that fixes the last command (with text on the line: as that text says).
        #[arg(long = "fix-key", default_value = "\\ej")]
        fix_key: String,
    },
    /// Check the setup: platform, CPU features, devices, configuration, cache and models.
    Doctor,
    /// Loads one GPU kernel module, so that the driver compiles it into its cache (what
    /// `gpu.rs` runs, one process per module: the driver compiles one module at a time per
    /// process). Prints the microseconds it took and whether it was PTX.
    #[command(name = "__gpu-kernel", hide = true)]
    GpuKernel { ordinal: usize, module: String },
    /// Print the manual page (roff): `cmdai man > ~/.local/share/man/man1/cmdai.1`.
    Man,
    /// List, download or locate models.
    #[command(subcommand)]
    Models(ModelsCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print where the configuration file is.
    Path,
    /// Print the settings in effect (file, CMDAI_* variables and flags applied), as TOML.
    Show,
    /// Print one setting in effect, e.g. `cmdai config get safety.policy`.
    Get {
        /// A key such as `model`, `generation.temperature` or `safety.deny`.
        key: String,
    },
    /// Write a setting to the configuration file, e.g. `cmdai config set device cpu`.
    Set {
        /// A key such as `model`, `generation.temperature` or `safety.deny`.
        key: String,
        /// The value; several values for a list (`safety.allow`, `safety.deny`).
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        values: Vec<String>,
    },
    /// Remove a setting from the configuration file (all of them if none is named).
    Reset {
        /// The key to remove.
        key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the models cmdai knows and whether each is downloaded.
    List,
    /// Download a model into the cache (the default model if none is named).
    Pull {
        /// Catalog id or alias.
        model: Option<String>,
        /// Download again even if the model is cached.
        #[arg(long)]
        force: bool,
    },
    /// Re-hash cached models against the catalog (all cached ones if none is named).
    Verify {
        /// Catalog id or alias.
        model: Option<String>,
    },
    /// Delete a model from the cache.
    Rm {
        /// Catalog id or alias.
        model: String,
    },
    /// Summarise a model file's GGUF metadata and whether cmdai supports it.
    Info {
        /// Catalog id or alias, or a path to a .gguf file.
        model: String,
    },
    /// Print the cached file of a model, downloading it first if needed.
    Path {
        /// Catalog id or alias.
        model: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    #[arg(short, long, value_name = "ID|PATH", global = true)]
    pub model: Option<String>,

    #[arg(short = 't', long, global = true)]
    pub threads: Option<String>,

    #[arg(long, global = true)]
    pub device: Option<String>,

    #[arg(long, global = true)]
    pub shell: Option<String>,

    #[arg(long, global = true)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct RemoteArgs {
    #[arg(long, global = true)]
    pub backend: Option<String>,

    #[arg(long, value_name = "URL", global = true)]
    pub remote_url: Option<String>,

    #[arg(long, value_name = "NAME", global = true)]
    pub remote_model: Option<String>,

    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        global = true
    )]
    pub fallback: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The local model, with candle.
    Local,
    /// An OpenAI-compatible chat-completions server.
    Openai,
}

#[derive(Debug, Args)]
pub struct SafetyArgs {
    /// Run the command in your shell ($SHELL) after showing its risk and asking.
    #[arg(short = 'x', long, global = true)]
    pub execute: bool,

    /// Answer yes to the confirmation, where the safety policy lets -y confirm (see README).
    #[arg(short = 'y', long, global = true, requires = "execute")]
    pub yes: bool,

    /// Show the command and its risk; never run it (overrides -x).
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// With -x: before asking, show what the command would change (see `cmdai preview`).
    #[arg(long, global = true)]
    pub preview: bool,

    #[arg(long = "safety", value_name = "POLICY", global = true)]
    pub policy: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerationArgs {
    #[arg(long, global = true)]
    pub max_tokens: Option<String>,

    #[arg(long, global = true)]
    pub temperature: Option<String>,

    #[arg(long, global = true)]
    pub top_p: Option<String>,

    #[arg(long, global = true)]
    pub seed: Option<String>,

    #[arg(long, value_name = "SECONDS", global = true)]
    pub time_limit: Option<String>,

    #[arg(long, global = true)]
    pub draft: Option<String>,

    #[arg(long, value_name = "ID|PATH", global = true)]
    pub draft_model: Option<String>,

    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        global = true
    )]
    pub look_at_files: Option<String>,

    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        global = true
    )]
    pub trial: Option<String>,
}

/// The limits of a preview.
#[derive(Debug, Clone, Copy, Args)]
pub struct PreviewLimits {
    /// Stop the previewed command after this many seconds.
    #[arg(long = "preview-timeout", value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600), global = true)]
    pub timeout: u64,
    /// The most the previewed command may write, in MiB, before it sees "no space left".
    #[arg(long = "preview-max-size", value_name = "MIB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65536), global = true)]
    pub max_size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// The command (with details on a terminal).
    Text,
    /// One JSON object.
    Json,
}

// The table in `defs.rs` reads these from text; its words are the variants' (a test checks).
impl std::str::FromStr for OutputFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        <Self as ValueEnum>::from_str(text, false)
    }
}

impl std::str::FromStr for BackendKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        <Self as ValueEnum>::from_str(text, false)
    }
}
