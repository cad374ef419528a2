//! Effects no single rule row can express: wrappers, shells and interpreters, code handed over
//! as strings, redirections, and commands that read other commands.

use super::rules::{FIND_TESTS, Wrapper, has_flag, operands, skip_options};
use super::targets::{self, TargetKind};
use super::walk::{Arg, Frame, Input, Invocation, Stage, Walker};
use super::{Category, RiskLevel, Span};

const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "yash", "posh",
    "rbash",
];

pub(super) fn is_shell(base: &str) -> bool {
    SHELLS.contains(&base)
}

/// Programs users keep in variables on purpose.
const PROGRAM_VARIABLES: &[&str] = &[
    "$EDITOR",
    "$VISUAL",
    "$PAGER",
    "$SHELL",
    "$BROWSER",
    "$MANPAGER",
];

/// Interpreters and the option that passes them inline code.
fn interpreter(base: &str) -> Option<(&'static str, &'static [&'static str])> {
    let family = base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    Some(match family {
        "python" | "pypy" => ("Python", &["-c"]),
        "perl" => ("Perl", &["-e", "-E"]),
        "ruby" => ("Ruby", &["-e"]),
        "node" | "nodejs" | "deno" | "bun" => ("JavaScript", &["-e", "--eval", "-p", "--print"]),
        "php" => ("PHP", &["-r"]),
        "lua" | "luajit" => ("Lua", &["-e"]),
        "osascript" => ("AppleScript", &["-e"]),
        "pwsh" | "powershell" => ("PowerShell", &["-c", "-Command", "-EncodedCommand", "-e"]),
        "Rscript" => ("R", &["-e"]),
        "tclsh" | "wish" => ("Tcl", &["-c"]),
        "jrunscript" | "jshell" => ("Java", &["-e"]),
        _ => return None,
    })
}

/// Words in inline code of other languages that delete, execute or reach the network.
const RISKY_CODE: &[&str] = &[
    "rmtree",
    "os.remove",
    "os.unlink",
    "unlink(",
    "os.system",
    "subprocess",
    "exec(",
    "eval(",
    "rm -rf",
    "/dev/sd",
    "shutil",
    "File.delete",
    "fs.rm",
    "rimraf",
    "child_process",
    "system(",
    "`",
    "Remove-Item",
    "Format-Volume",
    "b64decode",
    "FromBase64String",
    "do shell script",
];

impl Walker<'_> {
    /// `sudo`, `env`, `timeout`...: judge the command they run, with their privilege.
    pub(super) fn unwrap(
        &mut self,
        base: &str,
        wrapper: &Wrapper,
        invocation: &Invocation,
        frame: &Frame,
    ) -> Stage {
        let args = &invocation.args;
        let privileged = invocation.privileged || wrapper.privileged;
        let (index, wants_shell) = match wrapped(base, wrapper, args) {
            Wrapped::Code(code) => {
                if wrapper.privileged {
                    self.privilege_note(base, invocation.span);
                }
                if let Some(code) = code {
                    self.code_argument(&code, frame, privileged, "the shell string");
                }
                return Stage::Other;
            }
            Wrapped::Command(index) => (index, false),
            Wrapped::Nothing { index, wants_shell } => (index, wants_shell),
        };
        if base == "env" && args.get(index).is_none() {
            // `env | curl -d @- ...`: the environment, tokens and keys included.
            return Stage::Secret;
        }
        let Some(name) = args.get(index).filter(|_| !wrapper.no_command) else {
            // `su alice` opens a shell as alice, `su` and `su root` as root.
            let user = args
                .get(index)
                .map(|a| a.text.as_str())
                .filter(|u| *u != "root" && *u != "-");
            if let (true, Some(user)) = (wrapper.no_command, user) {
                let message = format!("opens a shell as `{user}`");
                self.report(
                    RiskLevel::Moderate,
                    Category::Privilege,
                    invocation.span,
                    message,
                );
            } else if privileged && (wants_shell || wrapper.no_command) {
                self.report(
                    RiskLevel::High,
                    Category::Privilege,
                    invocation.span,
                    "opens a root shell: everything typed there runs as root",
                );
            }
            return Stage::Other;
        };
        if wrapper.privileged {
            self.privilege_note(base, invocation.span);
        }
        let inner = Invocation {
            name: name.clone(),
            args: args[index + 1..].to_vec(),
            span: invocation.span,
            stdin: invocation.stdin.clone(),
            privileged,
        };
        self.invoke(inner, frame)
    }

    fn privilege_note(&mut self, base: &str, span: Span) {
        self.report(
            RiskLevel::Moderate,
            Category::Privilege,
            span,
            format!("runs as root ({base})"),
        );
    }

    /// Forms whose meaning is in code rather than in the rule table. Returns whether `base`
    /// was one of them.
    pub(super) fn special(&mut self, base: &str, invocation: &Invocation, frame: &Frame) -> bool {
        self.network_sink(base, invocation);
        if self.database(base, invocation) {
            return true;
        }
        match base {
            "docker" | "podman" | "nerdctl" | "kubectl" | "oc"
                if self.container_exec(base, invocation, frame) => {}
            "alias" => self.alias(invocation, frame),
            "cp" | "mv" | "install" | "ln" | "rsync" => {
                self.published_secret(invocation);
                self.installed_to_run_later(invocation);
                return false;
            }
            "git" if invocation.args.iter().any(|a| a.text == "config") => {
                // `git config alias.st '!rm -rf ~'`: the alias is shell code.
                for pair in invocation.args.windows(2) {
                    if pair[0].text.starts_with("alias.")
                        && let Some(code) = pair[1].text.strip_prefix('!')
                    {
                        let nested = self.nested(frame, code, pair[1].span, invocation.privileged);
                        self.code(&nested);
                    }
                }
                return false;
            }
            "tee" => {
                self.tee(invocation, frame);
                return false;
            }
            "ztcp" | "zsocket" => self.socket_opened = true,
            "set" => self.set_positionals(invocation),
            "read" => {
                // `... | while read p`: the variables take the loop's input, item by item.
                if let Some(taint) = self.loop_input {
                    for name in operands(&invocation.args) {
                        self.taints.insert(name.text.clone(), taint);
                    }
                }
            }
            "gcc" | "cc" | "clang" | "g++" | "c++" | "go" | "rustc" | "javac" | "tcc" => {
                // A program written by this very command and compiled: its source is known.
                for file in operands(&invocation.args) {
                    let text = self
                        .written
                        .get(file.text.trim_start_matches("./"))
                        .cloned();
                    if let Some((level, category, note)) =
                        text.as_deref().and_then(inline_code_risk)
                    {
                        self.report(
                            level,
                            category,
                            file.span,
                            format!("compiles `{}`, which this command wrote; {note}", file.text),
                        );
                    }
                }
            }
            "tar" | "unzip" | "bsdtar" => {
                // `curl ... | tar xz -C /tmp && /tmp/x/run`: what the archive held is unseen.
                let from_download = matches!(&invocation.stdin, Input::Pipe(stages, _) if stages.iter().any(|s| matches!(s, Stage::Download)))
                    || invocation.args.iter().any(|a| self.was_downloaded(&a.text));
                if from_download {
                    let dir = option_value(&invocation.args, &["-C", "--directory", "-d"])
                        .map_or_else(
                            || "./".to_owned(),
                            |d| format!("{}/", d.text.trim_end_matches('/')),
                        );
                    self.downloaded.insert(dir);
                }
                return false;
            }
            "fallocate" | "truncate" => {
                let size = option_value(&invocation.args, &["-l", "--length", "-s", "--size"]);
                if let Some(size) =
                    size.filter(|s| super::effects::huge_size(s.text.trim_start_matches('+')))
                {
                    self.report(
                        RiskLevel::High,
                        Category::Resources,
                        size.span,
                        format!(
                            "reserves {} of disk space, enough to fill most disks",
                            size.text
                        ),
                    );
                }
                return false;
            }
            "awk" | "gawk" | "mawk" | "nawk" | "busybox-awk" => {
                self.awk(invocation, frame);
                return false;
            }
            "cd" | "pushd" => self.change_directory(invocation),
            "php" if has_flag(&invocation.args, "-S") => {
                let root = option_value(&invocation.args, &["-t"]);
                self.serves(root.as_ref(), invocation.span);
            }
            "http-server" | "serve" | "live-server" | "httpd" | "darkhttpd" | "miniserve"
            | "static-web-server" | "twistd" | "webfsd" => {
                let root = option_value(
                    &invocation.args,
                    &["-h", "--root", "-d", "--dir", "--path", "-r"],
                )
                .or_else(|| {
                    operands(&invocation.args)
                        .into_iter()
                        .find(|a| !a.text.chars().all(|c| c.is_ascii_digit()))
                        .cloned()
                });
                self.serves(root.as_ref(), invocation.span);
            }
            "deno" | "bun" | "npx"
                if invocation
                    .args
                    .iter()
                    .any(|a| a.text.contains("file-server") || a.text.contains("file_server")) =>
            {
                let root = operands(&invocation.args)
                    .into_iter()
                    .skip_while(|a| {
                        !a.text.contains("file-server") && !a.text.contains("file_server")
                    })
                    .nth(1)
                    .cloned();
                self.serves(root.as_ref(), invocation.span);
            }
            "caddy" if invocation.args.iter().any(|a| a.text == "file-server") => {
                let root = option_value(&invocation.args, &["--root", "-r"]);
                self.serves(root.as_ref(), invocation.span);
            }
            _ if SHELLS.contains(&base) => self.shell(base, invocation, frame),
            "eval" => self.eval(invocation, frame),
            "source" | "." => self.source_file(invocation, frame),
            "xargs" | "parallel" => self.xargs(base, invocation, frame),
            "find" => self.find_exec(invocation, frame),
            "watch" => self.watch(invocation, frame),
            "ssh" => self.ssh(invocation, frame),
            "kill" => self.kill(invocation),
            "curl" | "wget" | "aria2c" => self.transfer(base, invocation),
            "scp" | "sftp" => {
                // `scp host:payload /tmp/p && /tmp/p`: a program fetched from another machine.
                let files = operands(&invocation.args);
                if let Some((destination, sources)) = files.split_last()
                    && sources.iter().any(|s| super::rules::is_remote(&s.text))
                {
                    let name = sources
                        .last()
                        .map_or("", |s| s.text.rsplit(['/', ':']).next().unwrap_or(""));
                    self.downloaded
                        .insert(destination.text.trim_start_matches("./").to_owned());
                    self.downloaded
                        .insert(format!("{}/{name}", destination.text.trim_end_matches('/')));
                }
                return false;
            }
            "vim" | "vi" | "nvim" | "ex" | "view" | "gvim" => {
                self.editor_commands(invocation, frame)
            }
            "crontab" | "at" | "batch" => self.scheduled_text(base, invocation, frame),
            _ => match interpreter(base) {
                Some((language, code_options)) => {
                    self.interpreter(language, code_options, invocation, frame)
                }
                None => return false,
            },
        }
        true
    }

    /// The program to run is itself computed: `$x -rf /`, `$(echo rm) ...`.
    pub(super) fn computed_program(&mut self, name: &Arg) {
        if matches!(name.text.as_str(), "$0" | "${0}") && self.starts_copies() {
            self.report(
                RiskLevel::Critical,
                Category::Resources,
                name.span,
                "the script starts copies of itself in a pipeline or the background (a fork bomb)",
            );
        } else if self.socket_opened {
            self.report(
                RiskLevel::Critical,
                Category::Network,
                name.span,
                "runs commands that arrive over the network socket the command opened",
            );
        } else if name.from_download {
            self.report(
                RiskLevel::Critical,
                Category::DownloadExecute,
                name.span,
                "runs a program named by text downloaded from the network",
            );
        } else if PROGRAM_VARIABLES.contains(&name.text.as_str()) || name.text == "<input>" {
            self.report(
                RiskLevel::Moderate,
                Category::Opaque,
                name.span,
                format!("runs the program in `{}`", name.text),
            );
        } else {
            self.report(
                RiskLevel::High,
                Category::Opaque,
                name.span,
                format!(
                    "the program to run comes from `{}`, which cmdai cannot see",
                    name.text
                ),
            );
        }
    }

    pub(super) fn unknown_program(&mut self, invocation: &Invocation, frame: &Frame) {
        let name = &invocation.name;
        if let Some(text) = self
            .written
            .get(name.text.trim_start_matches("./"))
            .cloned()
        {
            let nested = self.nested(frame, &text, invocation.span, invocation.privileged);
            self.code(&nested);
        }
        if self.was_downloaded(&name.text) {
            self.report(
                RiskLevel::Critical,
                Category::DownloadExecute,
                invocation.span,
                format!(
                    "runs `{}`, which this command downloads, without showing you what is in it",
                    name.text
                ),
            );
        } else if name.text.contains('/') && !name.text.starts_with('/') {
            self.report(
                RiskLevel::Moderate,
                Category::Unknown,
                name.span,
                format!(
                    "runs the local program `{}`; cmdai does not know what it does",
                    name.text
                ),
            );
        } else {
            self.report(
                RiskLevel::Safe,
                Category::Unknown,
                name.span,
                format!("cmdai has no rules for `{}`; check what it does", name.text),
            );
        }
    }

    /// Code handed over as one argument: `sh -c CODE`, `su -c CODE`, `eval CODE`.
    pub(super) fn code_argument(
        &mut self,
        code: &Arg,
        frame: &Frame,
        privileged: bool,
        what: &str,
    ) {
        if code.is_literal() {
            let nested = self.nested(frame, &code.text, code.span, privileged);
            self.code(&nested);
        } else if code.from_download {
            self.report(
                RiskLevel::Critical,
                Category::DownloadExecute,
                code.span,
                format!("runs {what} downloaded from the network, unseen by you or cmdai"),
            );
        } else if code.from_decode {
            self.report(
                RiskLevel::High,
                Category::Opaque,
                code.span,
                format!("runs {what} decoded only at run time, so cmdai cannot see it"),
            );
        } else if let Some(program) = code
            .generated_by
            .as_deref()
            .filter(|p| !READERS.contains(p))
        {
            // `eval "$(starship init bash)"`: shell set-up code printed by an installed tool.
            self.report(
                RiskLevel::Moderate,
                Category::Opaque,
                code.span,
                format!("runs the shell code that `{program}` prints; cmdai cannot see it"),
            );
        } else {
            self.report(
                RiskLevel::High,
                Category::Opaque,
                code.span,
                format!(
                    "runs {what} `{}`, which is only known at run time",
                    code.text
                ),
            );
        }
    }

    /// Commands arriving on standard input: `curl ... | sh`, `sh <<EOF`, `echo ... | bash`.
    fn code_on_stdin(
        &mut self,
        invocation: &Invocation,
        frame: &Frame,
        what: &str,
        inline_ok: bool,
    ) {
        match &invocation.stdin {
            Input::Terminal => {}
            Input::Text(text, span) => {
                if inline_ok {
                    let nested = self.nested(frame, text, *span, invocation.privileged);
                    self.code(&nested);
                } else {
                    self.report(
                        RiskLevel::Moderate,
                        Category::Opaque,
                        *span,
                        format!("runs {what} given inline; cmdai does not analyse it"),
                    );
                }
            }
            Input::Pipe(stages, start) => {
                // Blame the pipeline from its first stage to this one.
                let span = Span::new(*start, invocation.span.end);
                if stages.iter().any(|s| matches!(s, Stage::Download)) {
                    self.report(
                        RiskLevel::Critical,
                        Category::DownloadExecute,
                        span,
                        format!("runs {what} downloaded from the network, unseen by you or cmdai"),
                    );
                } else if stages.iter().any(|s| matches!(s, Stage::Decode(_))) {
                    if let Some(Stage::Decode(Some(text))) = stages.last() {
                        // The payload is literal: what it decodes to is analysed too.
                        let nested = self.nested(frame, text, span, invocation.privileged);
                        self.code(&nested);
                    }
                    self.report(
                        RiskLevel::High,
                        Category::Opaque,
                        span,
                        format!("runs {what} decoded only at run time, so cmdai cannot see it"),
                    );
                } else if let (true, Some(Stage::Echo(text, echo_span))) =
                    (inline_ok, stages.last())
                {
                    let nested = self.nested(frame, text, *echo_span, invocation.privileged);
                    self.code(&nested);
                } else {
                    self.report(
                        RiskLevel::High,
                        Category::Opaque,
                        span,
                        format!("runs {what} produced by another program, which cmdai cannot see"),
                    );
                }
            }
        }
    }

    fn shell(&mut self, base: &str, invocation: &Invocation, frame: &Frame) {
        let args = &invocation.args;
        let mut inline = false;
        let mut from_stdin = false;
        let mut index = 0;
        while let Some(arg) = args.get(index) {
            let text = arg.text.as_str();
            if !(text.starts_with('-') || text.starts_with('+'))
                || text.len() < 2
                || !arg.is_literal()
            {
                break;
            }
            if text == "--" {
                index += 1;
                break;
            }
            if matches!(text, "-o" | "+o" | "--rcfile" | "--init-file" | "-O" | "+O") {
                index += 2;
                continue;
            }
            inline |= !text.starts_with("--") && text[1..].contains('c');
            from_stdin |= !text.starts_with("--") && text[1..].contains('s');
            index += 1;
        }
        // With -s the operands are positional parameters and the commands come from stdin;
        // `-` also means standard input.
        let operand = args
            .get(index)
            .filter(|a| inline || !matches!(a.text.as_str(), "-" | "/dev/stdin" | "/dev/fd/0"))
            .filter(|_| inline || !from_stdin);
        match operand {
            Some(code) if inline => {
                self.code_argument(code, frame, invocation.privileged, "the shell string")
            }
            Some(script) => self.script_file(base, script, invocation, frame),
            None if inline => {}
            None if self.socket_opened => self.report(
                RiskLevel::Critical,
                Category::Network,
                invocation.span,
                "starts a shell on the network socket the command opened: whoever is at the other end controls this machine"
            ),
            None if matches!(invocation.stdin, Input::Terminal) => {
                if invocation.privileged {
                    self.report(
                        RiskLevel::High,
                        Category::Privilege,
                        invocation.span,
                        "opens a root shell: everything typed there runs as root"
                    );
                }
            }
            None => self.code_on_stdin(invocation, frame, "commands", true)
        }
    }

    /// `bash install.sh`, `python3 setup.py`, `source <(curl ...)`.
    fn script_file(&mut self, runner: &str, script: &Arg, invocation: &Invocation, frame: &Frame) {
        if let Some(text) = self
            .written
            .get(script.text.trim_start_matches("./"))
            .cloned()
        {
            // `echo "rm -rf /" > x.sh && sh x.sh`: the script's text is known.
            let nested = self.nested(frame, &text, script.span, invocation.privileged);
            self.code(&nested);
        }
        // `python manage.py flush --noinput`: the script's own subcommand.
        let after: Vec<Arg> = invocation
            .args
            .iter()
            .skip_while(|a| a.span != script.span)
            .skip(1)
            .cloned()
            .collect();
        let base = script
            .text
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        self.destructive_verbs(&base, &invocation.wrapped(script, after));
        if script.from_download || self.was_downloaded(&script.text) {
            self.report(
                RiskLevel::Critical,
                Category::DownloadExecute,
                script.span,
                "runs a script downloaded from the network, unseen by you or cmdai",
            );
        } else if script.from_decode {
            self.report(
                RiskLevel::High,
                Category::Opaque,
                script.span,
                "runs a script decoded only at run time, so cmdai cannot see it",
            );
        } else {
            let as_root = if invocation.privileged {
                " as root"
            } else {
                ""
            };
            self.report(
                RiskLevel::Moderate,
                Category::Opaque,
                script.span,
                format!(
                    "{runner} runs the script `{}`{as_root}; cmdai does not check what is inside",
                    script.text
                ),
            );
        }
    }

    fn interpreter(
        &mut self,
        language: &str,
        code_options: &[&str],
        invocation: &Invocation,
        frame: &Frame,
    ) {
        let args = &invocation.args;
        if language == "Ruby"
            && args.iter().any(|a| a.text == "-run")
            && args
                .iter()
                .any(|a| a.text == "httpd" || a.text == "-ehttpd")
        {
            let root = args
                .iter()
                .skip_while(|a| a.text != "httpd" && a.text != "-ehttpd")
                .nth(1)
                .filter(|a| !a.text.starts_with('-'));
            self.serves(root, invocation.span);
            return;
        }
        if let Some(position) = args
            .iter()
            .position(|a| code_options.contains(&a.text.as_str()))
        {
            let Some(code) = args.get(position + 1) else {
                return;
            };
            self.inline_code(language, code, invocation, frame);
            return;
        }
        if let Some(position) = args.iter().position(|a| a.text == "-m") {
            let module = args.get(position + 1).map_or("", |a| a.text.as_str());
            if module == "http.server" || module == "SimpleHTTPServer" {
                let root = option_value(args, &["-d", "--directory"]);
                self.serves(root.as_ref(), invocation.span);
            }
            return;
        }
        match operands(args).first() {
            Some(script) if script.text != "-" => {
                self.script_file(language, script, invocation, frame)
            }
            _ => match super::flow::input_text(invocation) {
                // `echo 'import os; ...' | python3`: the code is known.
                Some(text) => {
                    let code = Arg::literal(text, invocation.span);
                    self.inline_code(language, &code, invocation, frame);
                }
                None => self.code_on_stdin(invocation, frame, &format!("{language} code"), false),
            },
        }
    }

    /// Code of another language given on the command line. It is not parsed, but literal
    /// payloads are decoded, shell commands in its strings are analysed, and reverse shells,
    /// fork bombs and uploads of secrets are recognised.
    fn inline_code(&mut self, language: &str, code: &Arg, invocation: &Invocation, frame: &Frame) {
        if code.from_download {
            self.report(
                RiskLevel::Critical,
                Category::DownloadExecute,
                code.span,
                format!("runs {language} code downloaded from the network, unseen by you or cmdai"),
            );
            return;
        }
        let mut text = code.text.clone();
        let decoded = super::flow::decode_literals(&code.text);
        for payload in &decoded {
            text.push('\n');
            text.push_str(payload);
            let first = payload.split_whitespace().next().unwrap_or_default();
            if self
                .rules
                .is_known(first.rsplit('/').next().unwrap_or_default())
            {
                // `os.system(bytes.fromhex('726d...').decode())`: the payload is a command.
                let nested = self.nested(frame, payload, code.span, invocation.privileged);
                self.code(&nested);
            }
        }
        // A decoded payload was read above; the decoding call itself is not the risk.
        let risky = |word: &&str| {
            let decoding_call = matches!(*word, "b64decode" | "FromBase64String");
            text.contains(word) && (decoded.is_empty() || !decoding_call)
        };
        let spawns = SPAWN.iter().any(|w| text.contains(w));
        if spawns {
            let mut strings = super::effects::quoted_strings(&text);
            // `system(scalar reverse "~ fr- mr")`, `os.system("/ fr- mr"[::-1])`.
            if ["reverse", "[::-1]", "strrev"]
                .iter()
                .any(|w| text.contains(w))
            {
                let reversed: Vec<String> =
                    strings.iter().map(|s| s.chars().rev().collect()).collect();
                strings.extend(reversed);
            }
            for string in strings {
                let first = string.split_whitespace().next().unwrap_or_default();
                let base = first.rsplit('/').next().unwrap_or_default();
                if string.contains(' ') && (self.rules.is_known(base) || is_shell(base)) {
                    let nested = self.nested(frame, &string, code.span, invocation.privileged);
                    self.code(&nested);
                }
            }
        }
        // `shutil.rmtree('/etc')`, `rmSync(os.homedir())`: a deletion call aimed at a system
        // or home directory.
        const DELETES: &[&str] = &[
            "rmtree",
            "rmSync",
            "rm_rf",
            "rimraf",
            "remove_dir_all",
            "rmdirSync",
            "Remove-Item",
            "FileUtils.rm",
            "unlink",
            "os.remove",
            "delete_tree",
            "deleteRecursively",
            "rmdir",
        ];
        if DELETES.iter().any(|d| text.contains(d)) {
            let home = [
                "homedir()",
                "expanduser(\"~\")",
                "expanduser('~')",
                "Path.home()",
                "$HOME",
                "os.environ['HOME']",
                "ENV['HOME']",
                "Dir.home",
            ]
            .iter()
            .any(|h| text.contains(h));
            let target = super::effects::quoted_strings(&text)
                .into_iter()
                .find(|path| {
                    matches!(
                        targets::classify(path, None),
                        Some(
                            TargetKind::Root
                                | TargetKind::System
                                | TargetKind::Home
                                | TargetKind::CriticalFile
                                | TargetKind::Device
                        )
                    )
                });
            if home || target.is_some() {
                let what = target.unwrap_or_else(|| "your home directory".to_owned());
                self.report(
                    RiskLevel::Critical,
                    Category::Delete,
                    code.span,
                    format!("inline {language} code deletes `{what}`"),
                );
            }
        }
        let (level, category, note) = match inline_code_risk(&text) {
            Some(risk) => risk,
            None if !code.is_literal() || RISKY_CODE.iter().any(risky) => (
                RiskLevel::High,
                Category::Opaque,
                "it deletes files, runs programs or decodes data",
            ),
            None => (
                RiskLevel::Moderate,
                Category::Opaque,
                "cmdai does not analyse it",
            ),
        };
        self.report(
            level,
            category,
            code.span,
            format!("runs inline {language} code; {note}"),
        );
    }

    /// awk programs: `system("...")` runs shell code, `/inet/tcp` opens sockets.
    fn awk(&mut self, invocation: &Invocation, frame: &Frame) {
        let Some(program) = operands(&invocation.args).first().map(|a| (*a).clone()) else {
            return;
        };
        if program.text.contains("/inet/") {
            let runs = program.text.contains("|&") || program.text.contains("system(");
            let (level, message) = if runs {
                (
                    RiskLevel::Critical,
                    "awk opens a network socket and runs what arrives on it (a reverse shell)",
                )
            } else {
                (RiskLevel::High, "awk opens a network socket")
            };
            self.report(level, Category::Network, program.span, message);
        }
        // `system("r" "m -rf /")`: awk joins adjacent strings.
        for (at, _) in program.text.match_indices("system(") {
            let call = &program.text[at + "system(".len()..];
            let call = call.split(')').next().unwrap_or_default();
            let command = super::effects::quoted_strings(call).concat();
            if !command.is_empty() {
                let nested = self.nested(frame, &command, program.span, invocation.privileged);
                self.code(&nested);
            }
        }
    }

    fn eval(&mut self, invocation: &Invocation, frame: &Frame) {
        // eval joins its words and runs them, as watch does.
        self.joined_code(
            &invocation.args,
            frame,
            invocation.privileged,
            "the text given to eval",
        );
    }

    fn source_file(&mut self, invocation: &Invocation, frame: &Frame) {
        match invocation.args.first() {
            // `source /dev/stdin <<< "..."`: the commands come from standard input.
            Some(script) if matches!(script.text.as_str(), "/dev/stdin" | "-" | "/dev/fd/0") => {
                self.code_on_stdin(invocation, frame, "commands", true);
            }
            Some(script) => self.script_file("the shell", script, invocation, frame),
            None => {}
        }
    }

    /// `xargs rm -rf`: the command runs with arguments read from standard input.
    fn xargs(&mut self, base: &str, invocation: &Invocation, frame: &Frame) {
        let args = &invocation.args;
        let (command, replace) = xargs_command(base, args);
        let Some((name, inner_args)) = args[command].split_first() else {
            return;
        };
        let mut inner_args: Vec<Arg> = inner_args
            .iter()
            .map(|arg| match &replace {
                Some(token) if arg.text.contains(token.as_str()) => {
                    let at = arg.text.find(token.as_str()).unwrap_or(0);
                    Arg {
                        dynamic_at: Some(arg.dynamic_at.map_or(at, |d| d.min(at))),
                        ..arg.clone()
                    }
                }
                _ => arg.clone(),
            })
            .collect();
        let all_pids = matches!(&invocation.stdin, Input::Pipe(stages, _) if super::walk::all_processes(stages));
        let endless = matches!(&invocation.stdin, Input::Pipe(stages, _) if stages.iter().any(|s| matches!(s, Stage::Endless)));
        let unlimited = args.iter().enumerate().any(|(i, a)| {
            matches!(a.text.as_str(), "-P0" | "--max-procs=0")
                || matches!(a.text.as_str(), "-P" | "--max-procs")
                    && args.get(i + 1).is_some_and(|v| v.text == "0")
        });
        let broad = matches!(&invocation.stdin, Input::Pipe(stages, _) if stages.iter().any(|s| matches!(s, Stage::BroadListing)));
        let deleter =
            rest_name(args).is_some_and(|name| matches!(name, "rm" | "shred" | "unlink" | "srm"));
        if broad && deleter {
            self.report(
                RiskLevel::High,
                Category::Delete,
                invocation.span,
                "deletes every file a listing of a whole home or system directory names",
            );
        }
        if endless && unlimited {
            self.report(
                RiskLevel::Critical,
                Category::Resources,
                invocation.span,
                "starts processes without end and without limit (a fork bomb): it hangs the machine"
            );
        }
        if all_pids {
            for arg in inner_args.iter_mut().filter(|a| !a.is_literal()) {
                arg.all_pids = true;
            }
        }
        // `cat ~/.kube/config | base64 | xargs -I{} curl "...?d={}"`: the input is the secret.
        let secret = matches!(&invocation.stdin, Input::Pipe(stages, _) if stages.iter().any(|s| matches!(s, Stage::Secret)));
        for arg in inner_args.iter_mut().filter(|a| !a.is_literal()) {
            arg.from_secret |= secret;
        }
        let broad_delete = broad
            && deleter
            && inner_args.iter().any(|a| {
                has_flag(std::slice::from_ref(a), "-r") || has_flag(std::slice::from_ref(a), "-R")
            });
        if broad_delete {
            self.report(
                RiskLevel::Critical,
                Category::Delete,
                invocation.span,
                "deletes, recursively, every entry a listing of `/`, a system or a home directory names"
            );
        }
        if replace.is_none() {
            inner_args.push(Arg {
                all_pids,
                from_secret: secret,
                ..Arg::input(invocation.name.span)
            });
        }
        let stage = self.invoke(invocation.wrapped(name, inner_args), frame);
        self.inner_stage = Some(stage);
    }

    /// `find ... -exec CMD {} ;`: judge CMD with `{}` standing for what find visits.
    fn find_exec(&mut self, invocation: &Invocation, frame: &Frame) {
        let args = &invocation.args;
        let roots: Vec<&Arg> = args
            .iter()
            .take_while(|a| {
                !a.is_literal() || !(a.text.starts_with('-') || a.text == "(" || a.text == "!")
            })
            .collect();
        let filtered = args.iter().any(|a| FIND_TESTS.contains(&a.text.as_str()));
        let root = roots.first().map_or(".", |r| r.text.as_str());
        let root_kind = roots
            .first()
            .and_then(|r| targets::classify(&r.text, r.dynamic_at));
        let mut index = 0;
        while index < args.len() {
            let text = args[index].text.as_str();
            if !matches!(text, "-exec" | "-execdir" | "-ok" | "-okdir") {
                index += 1;
                continue;
            }
            let start = index + 1;
            let end = args[start..]
                .iter()
                .position(|a| a.text == ";" || a.text == "+")
                .map_or(args.len(), |p| start + p);
            index = end + 1;
            let Some((name, rest)) = args.get(start..end).and_then(|a| a.split_first()) else {
                continue;
            };
            // A named data directory counts only when nothing narrows the search.
            let broad = matches!(
                root_kind,
                Some(TargetKind::Root | TargetKind::System | TargetKind::Home)
            ) || !filtered && root_kind == Some(TargetKind::UserData);
            // `-exec sh -c '... rm -f "$1"' _ {} \;` deletes what find visits too.
            let base_name = name.text.rsplit('/').next().unwrap_or_default();
            let deleter = matches!(base_name, "rm" | "shred" | "unlink" | "srm")
                || is_shell(base_name)
                    && rest.iter().any(|a| {
                        ["rm ", "shred ", "unlink "]
                            .iter()
                            .any(|d| a.text.contains(d))
                    });
            if broad && deleter {
                self.report(
                    RiskLevel::High,
                    Category::Delete,
                    invocation.span,
                    format!("deletes every matching file anywhere under `{root}`"),
                );
            }
            let inner_args = rest
                .iter()
                .map(|arg| {
                    if !arg.text.contains("{}") {
                        return arg.clone();
                    }
                    if !filtered {
                        // Nothing narrows the search: {} is everything below the root.
                        return Arg {
                            text: arg.text.replace("{}", root),
                            dynamic_at: None,
                            ..arg.clone()
                        };
                    }
                    let broad = matches!(
                        root_kind,
                        Some(TargetKind::Root | TargetKind::System | TargetKind::Home)
                    );
                    Arg {
                        dynamic_at: broad.then_some(0),
                        ..arg.clone()
                    }
                })
                .collect();
            self.invoke(invocation.wrapped(name, inner_args), frame);
        }
    }

    /// `watch CMD...`: the words are joined and run by `sh -c`.
    fn watch(&mut self, invocation: &Invocation, frame: &Frame) {
        const VALUE_OPTIONS: &[&str] = &["-n", "--interval", "-q", "--equexit"];
        let args = &invocation.args;
        let index = skip_options(args, VALUE_OPTIONS);
        self.joined_code(
            &args[index..],
            frame,
            invocation.privileged,
            "the command watch repeats",
        );
    }

    /// `ssh host 'CMD'`: the remote command is shell code too.
    fn ssh(&mut self, invocation: &Invocation, frame: &Frame) {
        const VALUE_OPTIONS: &[&str] = &[
            "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o",
            "-p", "-Q", "-R", "-S", "-W", "-w", "-B",
        ];
        let args = &invocation.args;
        let index = skip_options(args, VALUE_OPTIONS);
        // args[index] is the host; the rest is the remote command.
        if let Some(remote) = args.get(index + 1..) {
            self.joined_code(remote, frame, false, "the remote command");
        }
    }

    fn joined_code(&mut self, words: &[Arg], frame: &Frame, privileged: bool, what: &str) {
        let (Some(first), Some(last)) = (words.first(), words.last()) else {
            return;
        };
        let code = Arg {
            text: words
                .iter()
                .map(|a| a.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            span: Span::new(first.span.start, last.span.end),
            dynamic_at: words.iter().find_map(|a| a.dynamic_at),
            from_download: words.iter().any(|a| a.from_download),
            from_decode: words.iter().any(|a| a.from_decode),
            generated_by: single_generator(words),
            from_secret: words.iter().any(|a| a.from_secret),
            all_pids: false,
        };
        self.code_argument(&code, frame, privileged, what);
    }

    /// `kill -9 -1` kills everything; `kill 1` signals init.
    fn kill(&mut self, invocation: &Invocation) {
        let args = &invocation.args;
        if args.is_empty()
            || args
                .iter()
                .any(|a| matches!(a.text.as_str(), "-l" | "-L" | "--list" | "--table"))
        {
            return;
        }
        let mut signal_seen = false;
        let mut pids = Vec::new();
        let mut index = 0;
        let mut after_dashes = false;
        while let Some(arg) = args.get(index) {
            let text = arg.text.as_str();
            index += 1;
            if after_dashes || !text.starts_with('-') {
                pids.push(arg);
            } else if text == "--" {
                after_dashes = true;
            } else if text == "-s" || text == "-n" {
                index += 1;
                signal_seen = true;
            } else if !signal_seen {
                signal_seen = true;
            } else {
                pids.push(arg);
            }
        }
        if let Some(all) = pids.iter().find(|p| p.all_pids) {
            self.report(
                RiskLevel::Critical,
                Category::Process,
                all.span,
                "kills every process on the machine: the listing it is given has no filter",
            );
        } else if let Some(all) = pids.iter().find(|p| p.text == "-1") {
            self.report(
                RiskLevel::Critical,
                Category::Process,
                all.span,
                "`-1` means every process you may signal: your whole session, or the machine as root"
            );
        } else if let Some(init) = pids.iter().find(|p| p.text == "1") {
            self.report(
                RiskLevel::Critical,
                Category::Process,
                init.span,
                "process 1 is init, which the whole system runs under",
            );
        } else {
            self.report(
                RiskLevel::Moderate,
                Category::Process,
                invocation.span,
                "kills processes",
            );
        }
    }

    /// Remembers what curl/wget save (`curl -o x.sh ... && sh x.sh`) and flags uploads of
    /// secrets.
    fn transfer(&mut self, base: &str, invocation: &Invocation) {
        const OUTPUT: &[&str] = &["-o", "--output", "-O", "--output-document", "--out"];
        const UPLOAD: &[&str] = &[
            "-d",
            "--data",
            "--data-binary",
            "--data-raw",
            "--data-urlencode",
            "-F",
            "--form",
            "-T",
            "--upload-file",
            "--post-file",
            "--body-file",
        ];
        // `--post-file=x` is `--post-file x`.
        let args: Vec<Arg> = invocation
            .args
            .iter()
            .flat_map(|arg| match arg.text.split_once('=') {
                Some((option, value)) if option.starts_with("--") => vec![
                    Arg::literal(option.to_owned(), arg.span),
                    Arg {
                        text: value.to_owned(),
                        ..arg.clone()
                    },
                ],
                _ => vec![arg.clone()],
            })
            .collect();
        let args = &args;
        for (index, arg) in args.iter().enumerate() {
            let text = arg.text.as_str();
            let value = args.get(index + 1);
            let remote_name = base == "curl"
                && (has_flag(std::slice::from_ref(arg), "-O") || text == "--remote-name");
            // `-so FILE`: a short cluster ending in the output option.
            let output = OUTPUT.contains(&text)
                || base == "curl"
                    && !text.starts_with("--")
                    && text.starts_with('-')
                    && text.ends_with('o');
            if let Some(file) = value.filter(|_| output && !remote_name) {
                self.downloaded
                    .insert(file.text.trim_start_matches("./").to_owned());
                if super::effects::runs_later(&file.text) {
                    self.report(
                        RiskLevel::Critical,
                        Category::DownloadExecute,
                        file.span,
                        format!(
                            "downloads into `{}`, which runs later, unseen by you or cmdai",
                            file.text
                        ),
                    );
                }
            }
            let Some(value) = value.filter(|_| UPLOAD.contains(&text)) else {
                continue;
            };
            let file = value
                .text
                .rsplit('@')
                .next()
                .unwrap_or_default()
                .trim_start_matches('<');
            let uploads_file = value.text.contains('@')
                || matches!(text, "-T" | "--upload-file" | "--post-file" | "--body-file");
            let secret = targets::holds_secrets(file);
            if uploads_file && secret {
                self.report(
                    RiskLevel::Critical,
                    Category::Exfiltration,
                    value.span,
                    format!("sends `{file}`, which holds keys or credentials, to another machine"),
                );
            }
        }
        // `wget URL` and `curl -O URL` save under the URL's last path segment.
        let saves_remote_name = base == "wget" && !args.iter().any(|a| a.text.starts_with("-O"))
            || base == "curl"
                && (has_flag(args, "-O") || args.iter().any(|a| a.text == "--remote-name"));
        if saves_remote_name {
            for url in args.iter().filter(|a| a.text.contains("://")) {
                let path = url.text.split(['?', '#']).next().unwrap_or_default();
                if let Some(name) = path.rsplit('/').next().filter(|n| !n.is_empty()) {
                    self.downloaded.insert(name.to_owned());
                }
            }
        }
    }

    /// `echo '* * * * * rm -rf ~' | crontab -`, `at now <<< 'reboot'`: the scheduled text is
    /// shell code that will run later.
    fn scheduled_text(&mut self, base: &str, invocation: &Invocation, frame: &Frame) {
        let (text, span) = match &invocation.stdin {
            Input::Text(text, span) => (text.clone(), *span),
            Input::Pipe(stages, start) => match stages.last() {
                Some(Stage::Echo(text, span)) => (text.clone(), *span),
                Some(Stage::Decode(Some(text))) => {
                    (text.clone(), Span::new(*start, invocation.span.end))
                }
                Some(Stage::Download) => {
                    self.report(
                        RiskLevel::Critical,
                        Category::DownloadExecute,
                        invocation.span,
                        "schedules commands downloaded from the network",
                    );
                    return;
                }
                _ => return,
            },
            Input::Terminal => return,
        };
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let command = if base == "crontab" {
                let fields = if line.starts_with('@') { 1 } else { 5 };
                line.splitn(fields + 1, char::is_whitespace)
                    .nth(fields)
                    .unwrap_or_default()
            } else {
                line
            };
            let nested = self.nested(frame, command, span, invocation.privileged);
            self.code(&nested);
        }
    }

    /// `cp /tmp/.x.service ~/.config/systemd/user/`: a file from a scratch directory, or a
    /// hidden one, installed where it runs at every start.
    fn installed_to_run_later(&mut self, invocation: &Invocation) {
        let files = operands(&invocation.args);
        let Some((destination, sources)) = files.split_last() else {
            return;
        };
        let later = super::effects::runs_later(&destination.text)
            || [
                "/systemd/",
                "LaunchAgents",
                "LaunchDaemons",
                "autostart",
                "/cron",
                "/init.d/",
            ]
            .iter()
            .any(|d| destination.text.contains(d));
        let suspicious = sources.iter().find(|s| {
            ["/tmp/", "/dev/shm/", "/var/tmp/"]
                .iter()
                .any(|d| s.text.starts_with(d))
        });
        if let (true, Some(source)) = (later, suspicious) {
            self.report(
                RiskLevel::High,
                Category::Schedule,
                source.span,
                format!("installs `{}`, from a scratch directory or hidden, to run at every start or login", source.text)
            );
        }
    }

    /// `cp ~/.ssh/id_rsa /var/www/html/`: a secret copied where a web server publishes it.
    fn published_secret(&mut self, invocation: &Invocation) {
        let files = operands(&invocation.args);
        let Some((destination, sources)) = files.split_last() else {
            return;
        };
        const SERVED: &[&str] = &[
            "/var/www",
            "/srv/www",
            "/srv/http",
            "public_html",
            "htdocs",
            "/usr/share/nginx",
            "/public/",
            "/static/",
        ];
        let served = SERVED.iter().any(|d| destination.text.contains(d));
        if let Some(secret) = sources
            .iter()
            .find(|s| targets::holds_secrets(&s.text))
            .filter(|_| served)
        {
            self.report(
                RiskLevel::High,
                Category::Exfiltration,
                secret.span,
                format!(
                    "copies `{}`, which holds keys or credentials, where a web server publishes it",
                    secret.text
                ),
            );
        }
    }

    /// Whether `path` (or a directory above it) is something this command downloaded.
    pub(super) fn was_downloaded(&self, path: &str) -> bool {
        let local = path.trim_start_matches("./");
        let name = local.rsplit('/').next().unwrap_or_default();
        self.downloaded.iter().any(|d| {
            d == local
                || d.rsplit('/').next() == Some(name) && !name.is_empty()
                || d.ends_with('/') && local.starts_with(d.as_str())
        })
    }

    /// Output redirection: `> /dev/sda`, `>> /etc/sudoers`, `> notes.txt`.
    pub(super) fn redirect_write(&mut self, target: &Arg, append: bool) {
        let text = target.text.as_str();
        if targets::is_harmless(text) || text.starts_with("&") {
            return;
        }
        self.writes += 1;
        self.output_files.push(target.clone());
        let verb = if append { "appends to" } else { "overwrites" };
        let (level, category, message) = match targets::classify(text, target.dynamic_at) {
            Some(TargetKind::Device) => (
                RiskLevel::Critical,
                Category::Overwrite,
                format!(
                    "writes straight onto the disk device `{text}`, destroying its file system"
                ),
            ),
            Some(TargetKind::CriticalFile) => (
                RiskLevel::Critical,
                Category::Overwrite,
                format!("{verb} `{text}`, which the system needs to boot or let anyone log in"),
            ),
            Some(TargetKind::Root | TargetKind::System | TargetKind::Protected) => (
                RiskLevel::High,
                Category::Overwrite,
                format!("{verb} the system file `{text}`"),
            ),
            Some(TargetKind::Secret) => (
                RiskLevel::High,
                Category::Privilege,
                format!("{verb} `{text}`, which holds keys or credentials"),
            ),
            Some(TargetKind::Dynamic) => (
                RiskLevel::Moderate,
                Category::Overwrite,
                format!("{verb} a file named at run time (`{text}`)"),
            ),
            _ if !append && is_startup_file(text) => (
                RiskLevel::High,
                Category::Overwrite,
                format!(
                    "replaces your shell start-up file `{text}` with this one line, losing its settings"
                ),
            ),
            _ if append && is_startup_file(text) => (
                RiskLevel::Moderate,
                Category::Schedule,
                format!("appends to `{text}`, which runs every time a shell starts"),
            ),
            _ if append => return,
            _ => (
                RiskLevel::Moderate,
                Category::Overwrite,
                format!("overwrites `{text}` if it exists"),
            ),
        };
        self.report(level, category, target.span, message);
    }
}

/// Programs whose output is whatever a file or the user says: their output is not vetted code.
const READERS: &[&str] = &[
    "cat", "head", "tail", "less", "more", "echo", "printf", "read", "xargs", "tac", "cut", "sed",
    "awk", "tr", "xclip", "xsel", "pbpaste", "wl-paste", "jq", "grep", "sort",
];

/// The program whose output fills the words, when it is exactly one.
fn single_generator(words: &[Arg]) -> Option<String> {
    let dynamic: Vec<&Arg> = words.iter().filter(|a| !a.is_literal()).collect();
    match dynamic.as_slice() {
        [only] => only.generated_by.clone(),
        _ => None,
    }
}

/// What a wrapper (`sudo`, `env`, `nice`...) does with its arguments, read the way it reads them.
pub(super) enum Wrapped {
    /// It runs the program at this index of its arguments, with the arguments after it.
    Command(usize),
    /// It runs shell code handed to an option (`su -c CODE`, `env -S CODE`), when there is some.
    Code(Option<Arg>),
    /// It runs no program named here (`sudo -i`, `su alice`, `env` alone, `command -v ls`):
    /// `index` is where its own arguments end; `wants_shell` when an option asks for a shell.
    Nothing { index: usize, wants_shell: bool },
}

/// Skips `wrapper`'s own options, their values, assignments (`env X=1`), positionals
/// (`timeout 5`) and `--` to find what it runs.
pub(super) fn wrapped(base: &str, wrapper: &Wrapper, args: &[Arg]) -> Wrapped {
    // `command -v ls` only says what `ls` is.
    if base == "command" && (has_flag(args, "-v") || has_flag(args, "-V")) {
        return Wrapped::Nothing {
            index: args.len(),
            wants_shell: false,
        };
    }
    let mut positionals = wrapper.positionals;
    let mut wants_shell = false;
    let mut index = 0;
    while let Some(arg) = args.get(index) {
        let text = arg.text.as_str();
        if arg.is_literal() && text == "--" {
            index += 1;
            break;
        }
        if wrapper.assignments && is_assignment(text) {
            index += 1;
            continue;
        }
        if text.starts_with('-') && text.len() > 1 && arg.is_literal() {
            let (option, inline_value) = match text.split_once('=') {
                Some((option, value)) if text.starts_with("--") => (option, Some(value)),
                _ => (text, None),
            };
            if wrapper.code_options.iter().any(|o| o == option) {
                let code = match inline_value {
                    Some(value) => Some(Arg {
                        text: value.to_owned(),
                        ..arg.clone()
                    }),
                    None => args.get(index + 1).cloned(),
                };
                return Wrapped::Code(code);
            }
            wants_shell |= wrapper.shell_options.iter().any(|o| o == option);
            let takes_value =
                wrapper.value_options.iter().any(|o| o == option) && inline_value.is_none();
            index += if takes_value { 2 } else { 1 };
            continue;
        }
        if positionals > 0 {
            positionals -= 1;
            index += 1;
            continue;
        }
        break;
    }
    match args.get(index) {
        Some(_) if !wrapper.no_command => Wrapped::Command(index),
        _ => Wrapped::Nothing { index, wants_shell },
    }
}

/// xargs' (and parallel's) options whose value is the next argument.
const XARGS_VALUE_OPTIONS: &[&str] = &[
    "-I",
    "-n",
    "-P",
    "-L",
    "-l",
    "-d",
    "-E",
    "-e",
    "-s",
    "-a",
    "-j",
    "--jobs",
    "--arg-file",
    "-S",
    "--max-args",
    "--max-lines",
    "--max-procs",
    "--delimiter",
    "--eof",
    "--max-chars",
    "--process-slot-var",
];

/// The command `xargs` (or `parallel`) runs: the range of `args` that holds its name and
/// arguments (empty when there is none; parallel's `:::` ends it), and the string `-I` replaces.
pub(super) fn xargs_command(base: &str, args: &[Arg]) -> (std::ops::Range<usize>, Option<String>) {
    let mut replace = None;
    let mut index = 0;
    while let Some(arg) = args.get(index) {
        let text = arg.text.as_str();
        if !text.starts_with('-') || text == "-" {
            break;
        }
        if text == "--" {
            index += 1;
            break;
        }
        if text == "-I" || text == "-i" && base == "xargs" {
            replace = args
                .get(index + 1)
                .map(|a| a.text.clone())
                .filter(|_| text == "-I");
            index += if text == "-I" { 2 } else { 1 };
            if text == "-i" {
                replace = Some("{}".into());
            }
            continue;
        }
        if let Some(value) = text.strip_prefix("-I").filter(|v| !v.is_empty()) {
            replace = Some(value.to_owned());
        }
        index += if XARGS_VALUE_OPTIONS.contains(&text) {
            2
        } else {
            1
        };
    }
    let start = index.min(args.len());
    let end = args[start..]
        .iter()
        .position(|a| a.text.starts_with(":::"))
        .map_or(args.len(), |at| start + at);
    (start..end, replace)
}

fn is_assignment(text: &str) -> bool {
    text.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The program xargs runs: the first argument that is not an option (a close guess).
fn rest_name(args: &[Arg]) -> Option<&str> {
    const WRAPPERS: &[&str] = &["sudo", "doas", "env", "nice", "nohup", "command", "ionice"];
    args.iter()
        .map(|a| a.text.as_str())
        .filter(|t| !t.starts_with('-') && !t.chars().all(|c| c.is_ascii_digit()) && *t != "{}")
        .map(|t| t.rsplit('/').next().unwrap_or(t))
        .find(|t| !WRAPPERS.contains(t))
}

/// The value of the first of `names` (`-t DIR`, `--root=DIR`).
fn option_value(args: &[Arg], names: &[&str]) -> Option<Arg> {
    args.iter().enumerate().find_map(|(index, arg)| {
        names.iter().find_map(|name| {
            if arg.text == *name {
                args.get(index + 1).cloned()
            } else {
                arg.text
                    .strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('='))
                    .map(|value| Arg {
                        text: value.to_owned(),
                        ..arg.clone()
                    })
            }
        })
    })
}

/// Words in inline code that start programs.
const SPAWN: &[&str] = &[
    "/bin/sh",
    "/bin/bash",
    "sh -i",
    "bash -i",
    "cmd.exe",
    "spawn",
    "subprocess",
    "pty",
    "dup2",
    "exec(",
    "exec ",
    "system(",
    "popen",
    "proc_open",
    "child_process",
    "Process.Start",
    "`",
    "\"sh\"",
    "'sh'",
    "iex",
    "Invoke-Expression",
    "shell_exec",
    "passthru",
    "os.exec",
    "Runtime.getRuntime",
    "fdopen",
    "system$",
    "system ",
    "exec.Command",
    "Command::new",
    "io.popen",
    "execSync",
];

/// `2**40`, `10**12`, `1<<40`: an allocation of a terabyte-scale size.
fn huge_allocation(code: &str) -> bool {
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    [("2**", 36), ("1<<", 36), ("10**", 11)]
        .iter()
        .any(|(base, limit)| {
            compact.match_indices(base).any(|(at, _)| {
                let digits: String = compact[at + base.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits
                    .parse::<u32>()
                    .is_ok_and(|exponent| exponent >= *limit)
            })
        })
}

/// What inline code of another language does, when it is plainly a reverse shell, a fork
/// bomb, a download that is run or an upload of secrets.
fn inline_code_risk(code: &str) -> Option<(RiskLevel, Category, &'static str)> {
    const SOCKET: &[&str] = &[
        "socket",
        "fsockopen",
        "TCPSocket",
        "/inet/tcp",
        "/inet/udp",
        "net.Socket",
        "net.connect",
        "createConnection",
        "IO::Socket",
        "Net::",
        "/dev/tcp",
        "stream_socket_client",
        "TcpClient",
        "connect((",
        "net.Dial",
        "require(\"net\")",
        "require('net')",
        ".connect(",
        "TcpStream::connect",
        "socket(",
    ];
    const FETCH: &[&str] = &[
        "iwr ",
        "Invoke-WebRequest",
        "DownloadString",
        "irm ",
        "Invoke-RestMethod",
        "urlopen",
        "requests.get",
        "fetch(",
        "http.get",
        "https.get",
        "curl ",
        "wget ",
        "Net::HTTP",
        "open-uri",
        "URI.open",
        "http://",
        "https://",
        "WebClient",
        "file_get_contents(\"http",
        "file_get_contents('http",
    ];
    const SEND: &[&str] = &[
        "requests.post",
        "requests.put",
        "urlopen",
        "fetch(",
        "http.request",
        "https.request",
        "socket",
        "Net::HTTP",
        "curl",
        "Invoke-WebRequest",
        "smtplib",
        "ftplib",
    ];
    const SECRETS: &[&str] = &[
        ".ssh/id_",
        ".aws/credentials",
        "/etc/shadow",
        ".gnupg",
        ".kube/config",
        "os.environ",
        "process.env",
        "ENV[",
        ".netrc",
        ".docker/config.json",
        "Cookies",
        "Login Data",
    ];
    const RUN_FETCHED: &[&str] = &[
        "iex",
        "Invoke-Expression",
        "exec(",
        "eval(",
        "system(",
        "| sh",
        "| bash",
        "|sh",
        "|bash",
        "subprocess",
        "os.system",
        "eval ",
        "instance_eval",
        "load(",
    ];
    const LOOP: &[&str] = &["while", "loop", "for", "until", "each", "times", "repeat"];
    // PowerShell and friends are case-insensitive: `IEX`, `TCPClient`.
    let lower = code.to_lowercase();
    let has = |list: &[&str]| list.iter().any(|w| lower.contains(&w.to_lowercase()));
    if has(SOCKET) && has(SPAWN) {
        return Some((
            RiskLevel::Critical,
            Category::Network,
            "it connects to the network and hands the connection a shell (a reverse shell)",
        ));
    }
    if has(FETCH) && has(RUN_FETCHED) {
        return Some((
            RiskLevel::Critical,
            Category::DownloadExecute,
            "it downloads code and runs it, unseen by you or cmdai",
        ));
    }
    if has(SECRETS) && has(SEND) {
        return Some((
            RiskLevel::Critical,
            Category::Exfiltration,
            "it reads keys, credentials or the environment and sends them over the network",
        ));
    }
    const ENDLESS: &[&str] = &[
        "while True",
        "while 1",
        "while(1)",
        "while (1)",
        "iter(int,1)",
        "iter(int, 1)",
        "for(;;)",
        "for (;;)",
        "loop {",
        "loop do",
    ];
    let paced = ["sleep", "break", "time.", "input(", "select("]
        .iter()
        .any(|w| code.contains(w));
    if (has(ENDLESS) || huge_allocation(code)) && !paced && !code.contains("fork") {
        return Some((
            RiskLevel::High,
            Category::Resources,
            "it loops without end or pause, using up memory or processor time",
        ));
    }
    if code.contains("fork") && LOOP.iter().any(|w| code.contains(w)) {
        return Some((
            RiskLevel::Critical,
            Category::Resources,
            "it forks without end (a fork bomb) and hangs the machine",
        ));
    }
    None
}

fn is_startup_file(text: &str) -> bool {
    [
        ".bashrc",
        ".bash_profile",
        ".profile",
        ".zshrc",
        ".zprofile",
        ".zshenv",
        ".config/fish/config.fish",
        ".xinitrc",
    ]
    .iter()
    .any(|f| text.ends_with(f))
}
