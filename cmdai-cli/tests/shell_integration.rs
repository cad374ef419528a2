//! `cmdai init bash|zsh|fish` in the real shells, at a real pseudo-terminal: type a request,
//! press the key, the line becomes the command; Enter runs it and it lands in the history.
//! Uses the default model (`CMDAI_TEST_MODEL_QWEN2_5_CODER_1_5B`) and the shells listed in
//! `CMDAI_TEST_SHELLS` (required) or found on PATH.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use rexpect::session::{PtySession, spawn_command};

const REQUEST: &str = "list all files in the current directory";

fn shell_path(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    let required =
        std::env::var("CMDAI_TEST_SHELLS").is_ok_and(|l| l.split_whitespace().any(|s| s == name));
    assert!(
        found.is_some() || !required,
        "{name} is required by CMDAI_TEST_SHELLS but not installed"
    );
    if found.is_none() {
        eprintln!("skipping {name}: not installed");
    }
    found
}

struct Setup {
    dir: tempfile::TempDir,
    bin: PathBuf,
    model: PathBuf,
}

impl Setup {
    fn new(model: PathBuf) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("cmdai"), bin.join("cmdai"))
            .unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        std::fs::write(dir.path().join("work/marker-file.txt"), "x").unwrap();
        Setup { dir, bin, model }
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        command
            .env_clear()
            .current_dir(self.home().join("work"))
            .env("PATH", path)
            .env("HOME", self.home())
            .env("TERM", "xterm")
            .env("CMDAI_MODEL", &self.model)
            .env("CMDAI_CACHE_DIR", self.home().join("cache"))
            .env("CMDAI_CONFIG", self.home().join("config.toml"))
            .env("CMDAI_OFFLINE", "1");
        command
    }

    /// What cmdai prints for the request when its output is captured, as the widgets do.
    fn expected(&self) -> String {
        self.captured(&["--", REQUEST])
    }

    /// What `cmdai ARGS` prints when its output is captured.
    fn captured(&self, args: &[&str]) -> String {
        let output = self
            .command(&self.bin.join("cmdai"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }
}

/// Types the request, presses Alt-m, checks the line became `expected`, runs it, and checks
/// the shell's history.
fn exercise(mut session: PtySession, setup_line: &str, history: &str, expected: &str) {
    session
        .send_line(&format!("{setup_line}; echo SETUP-''DONE"))
        .unwrap();
    session.exp_string("SETUP-DONE").unwrap();
    session.exp_string("PROMPT> ").unwrap();
    session.send(REQUEST).unwrap();
    session.flush().unwrap();
    session.send("\x1bm").unwrap();
    session.flush().unwrap();
    // cmdai reports the risk on the terminal when it is done. The shell then redraws the line
    // with only the characters that changed, so the command is checked where it is whole: in
    // what runs and in the history.
    session.exp_string("risk: ").unwrap();
    session.send("\r").unwrap();
    session.flush().unwrap();
    session.exp_string("marker-file.txt").unwrap();
    session.exp_string("PROMPT> ").unwrap();
    session
        .send_line(&format!("{history}; echo HISTORY-''DONE"))
        .unwrap();
    let shown = session.exp_string("HISTORY-DONE").unwrap();
    assert!(
        shown.contains(expected),
        "history lacks `{expected}`: {shown:?}"
    );
    assert!(
        !shown.contains(REQUEST),
        "the request itself is not in the history: {shown:?}"
    );
    leave(session);
}

/// A command that fails (GNU ls: exit status 2) with a mistake in the command itself, so that
/// the fix is another command (for `ls ... no-such-dir`, the command is as meant and the model
/// gives it back, asked twice), and the hint typed for the fix key.
const FAILING: &str = "ls --sort=size --reverze";
const HINT: &str = "count the files instead";

/// Runs the failing command, types the hint and presses the fix key (Alt-j), runs the result;
/// runs the failing command again and presses Alt-m on an empty line, runs the result. The
/// history must then hold both fixes: the shell told cmdai the command, its exit status and
/// the hint exactly as `cmdai fix --command ... --status 2` does.
fn exercise_fix(mut session: PtySession, setup_line: &str, history: &str, expected: [&str; 2]) {
    session
        .send_line(&format!("{setup_line}; echo SETUP-''DONE"))
        .unwrap();
    session.exp_string("SETUP-DONE").unwrap();
    session.exp_string("PROMPT> ").unwrap();
    for with_hint in [true, false] {
        session.send_line(FAILING).unwrap();
        session.exp_string("unrecognized option").unwrap();
        session.exp_string("PROMPT> ").unwrap();
        if with_hint {
            session.send(HINT).unwrap();
            session.flush().unwrap();
            session.send("\x1bj").unwrap();
        } else {
            session.send("\x1bm").unwrap();
        }
        session.flush().unwrap();
        session.exp_string("risk: ").unwrap();
        session.send("\r").unwrap();
        session.flush().unwrap();
        session.exp_string("PROMPT> ").unwrap();
    }
    session
        .send_line(&format!("{history}; echo HISTORY-''DONE"))
        .unwrap();
    let shown = session.exp_string("HISTORY-DONE").unwrap();
    for fixed in expected {
        assert!(shown.contains(fixed), "history lacks `{fixed}`: {shown:?}");
    }
    assert!(
        !shown.contains(HINT),
        "the hint itself is not in the history: {shown:?}"
    );
    leave(session);
}

/// Ends the shell. Dropping the session would wait for it to give in to SIGTERM, which
/// interactive shells ignore: over a minute each.
fn leave(mut session: PtySession) {
    session.send_line("exit").unwrap();
    session.exp_eof().unwrap();
}

#[test]
fn the_keys_fix_the_last_command_in_bash_zsh_and_fish() {
    let Some(model) = common::real_model("qwen2.5-coder-1.5b") else {
        eprintln!("skipping: CMDAI_TEST_MODEL_QWEN2_5_CODER_1_5B not set");
        return;
    };
    let setup = Setup::new(model);
    let base = ["fix", "--command", FAILING, "--status", "2", "--"];
    let with_hint = setup.captured(&[&base[..], &[HINT]].concat());
    let without = setup.captured(&[&base[..], &[""]].concat());
    let expected = [with_hint.as_str(), without.as_str()];
    for fixed in expected {
        assert!(!fixed.is_empty() && fixed != FAILING, "{fixed}");
    }
    // Otherwise the history could not tell whether the hint reached cmdai.
    assert_ne!(with_hint, without, "the hint changes the fix");
    if let Some(bash) = shell_path("bash") {
        let mut command = setup.command(&bash);
        command.args(["--norc", "--noprofile", "-i"]);
        let session = spawn_command(command, Some(120_000)).unwrap();
        exercise_fix(
            session,
            "PS1='PROMPT> '; eval \"$(cmdai init bash)\"",
            "history 6",
            expected,
        );
    }
    if let Some(zsh) = shell_path("zsh") {
        let mut command = setup.command(&zsh);
        command.args(["-f", "-i"]);
        let session = spawn_command(command, Some(120_000)).unwrap();
        exercise_fix(
            session,
            "PS1='PROMPT> '; eval \"$(cmdai init zsh)\"",
            "fc -ln -6",
            expected,
        );
    }
    if let Some(fish) = shell_path("fish") {
        let mut command = setup.command(&fish);
        command.args(["--no-config", "-i"]);
        let session = spawn_command(command, Some(120_000)).unwrap();
        exercise_fix(
            session,
            "function fish_prompt; echo -n 'PROMPT> '; end; cmdai init fish | source",
            "history --max 6",
            expected,
        );
    }
}

#[test]
fn the_key_turns_the_request_into_the_command_in_bash_zsh_and_fish() {
    let Some(model) = common::real_model("qwen2.5-coder-1.5b") else {
        eprintln!("skipping: CMDAI_TEST_MODEL_QWEN2_5_CODER_1_5B not set");
        return;
    };
    let setup = Setup::new(model);
    let expected = setup.expected();
    assert!(
        expected.starts_with("ls") || expected.starts_with("find"),
        "{expected}"
    );

    if let Some(bash) = shell_path("bash") {
        let mut command = setup.command(&bash);
        command.args(["--norc", "--noprofile", "-i"]);
        let session = spawn_command(command, Some(120_000)).unwrap();
        exercise(
            session,
            "PS1='PROMPT> '; eval \"$(cmdai init bash)\"",
            "history 3",
            &expected,
        );
    }
    if let Some(zsh) = shell_path("zsh") {
        let mut command = setup.command(&zsh);
        command.args(["-f", "-i"]);
        let session = spawn_command(command, Some(120_000)).unwrap();
        exercise(
            session,
            "PS1='PROMPT> '; eval \"$(cmdai init zsh)\"",
            "fc -ln -3",
            &expected,
        );
    }
    if let Some(fish) = shell_path("fish") {
        let mut command = setup.command(&fish);
        command.args(["--no-config", "-i"]);
        let session = spawn_command(command, Some(120_000)).unwrap();
        exercise(
            session,
            "function fish_prompt; echo -n 'PROMPT> '; end; cmdai init fish | source",
            "history --max 3",
            &expected,
        );
    }
}
