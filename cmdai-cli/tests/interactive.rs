//! The review menu and the `-i` session, driven through a real pseudo-terminal (rexpect): run,
//! edit, revise, explain, copy, cancel and Ctrl-C. The model is the scripted chat-completions
//! server of cmdai-backend-openai's tests, so every reply is known; the last test runs the
//! whole loop with the real default model. Commands only ever touch a temporary directory.

mod common;
#[path = "../../cmdai-backend-openai/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use rexpect::process::wait::WaitStatus;
use rexpect::session::{PtySession, spawn_command};
use support::{Answer, Server, command_reply, delta, text_reply};

/// `cmdai ARGS` in `dir` at a pseudo-terminal (a terminal with a line editor, colours off),
/// asking the scripted server.
fn at_terminal(dir: &Path, server: &Server, args: &[&str]) -> PtySession {
    let mut cmd = common::std_cmdai(dir, &dir.join("cache"));
    cmd.env("TERM", "xterm-256color")
        .env("NO_COLOR", "1")
        .args(["--backend", "openai", "--remote-url", &server.url()])
        .args(["--remote-model", "scripted"])
        .args(args);
    spawn_command(cmd, Some(30_000)).expect("spawn cmdai in a pty")
}

/// Sends keys (rexpect buffers what `send` writes until a flush).
fn press(session: &mut PtySession, keys: &str) {
    session.send(keys).unwrap();
    session.flush().unwrap();
}

fn exit_code(session: &PtySession) -> i32 {
    match session.process.wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("cmdai did not exit normally: {other:?}"),
    }
}

/// The messages of the `index`th request the server saw.
fn messages(server: &Server, index: usize) -> Vec<(String, String)> {
    let seen = server.seen();
    seen[index].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = |key: &str| m[key].as_str().unwrap_or_default().to_owned();
            (text("role"), text("content"))
        })
        .collect()
}

#[test]
fn revise_regenerates_with_the_conversation_then_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "").unwrap();
    std::fs::write(dir.path().join("server.log"), "").unwrap();
    let server = Server::start(vec![command_reply("ls"), command_reply("ls *.txt")]);
    let mut p = at_terminal(dir.path(), &server, &["list files"]);
    p.exp_string("risk: safe").unwrap();
    p.exp_string("(Enter: run)").unwrap();
    press(&mut p, "v");
    p.exp_string("revise>").unwrap();
    p.send_line("only .txt files").unwrap();
    p.exp_string("ls *.txt").unwrap();
    p.exp_string("(Enter: run)").unwrap();
    press(&mut p, "r");
    let ran = p.exp_eof().unwrap();
    assert!(
        ran.contains("notes.txt") && !ran.contains("server.log"),
        "{ran}"
    );
    assert_eq!(exit_code(&p), 0);

    let revision = messages(&server, 1);
    let tail: Vec<(&str, &str)> = revision[revision.len() - 2..]
        .iter()
        .map(|(role, text)| (role.as_str(), text.as_str()))
        .collect();
    assert_eq!(
        tail,
        [
            ("assistant", "```bash\nls\n```"),
            ("user", "list files, only .txt files")
        ]
    );
}

#[test]
fn edit_starts_from_the_command_and_the_edit_is_what_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![command_reply("echo one")]);
    let mut p = at_terminal(dir.path(), &server, &["say one"]);
    p.exp_string("(Enter: run)").unwrap();
    press(&mut p, "e");
    p.exp_string("edit>").unwrap();
    // The line holds the command with the cursor at its end: typing appends.
    p.send_line(" two > said.txt").unwrap();
    p.exp_string("echo one two > said.txt").unwrap();
    p.exp_string("risk: moderate").unwrap();
    p.exp_string("(Enter: run)").unwrap();
    press(&mut p, "\r");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    let said = std::fs::read_to_string(dir.path().join("said.txt")).unwrap();
    assert_eq!(said, "one two\n");
}

#[test]
fn quit_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![command_reply("touch made-by-cmdai")]);
    let mut p = at_terminal(dir.path(), &server, &["make a file"]);
    p.exp_string("(Enter: run)").unwrap();
    press(&mut p, "q");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert!(!dir.path().join("made-by-cmdai").exists());
}

#[test]
fn ctrl_c_at_the_menu_exits_130_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![command_reply("touch made-by-cmdai")]);
    let mut p = at_terminal(dir.path(), &server, &["make a file"]);
    p.exp_string("(Enter: run)").unwrap();
    p.send_control('c').unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 130);
    assert!(!dir.path().join("made-by-cmdai").exists());
}

/// A reply that keeps coming for a minute: generation is under way until Ctrl-C stops it.
fn endless_reply() -> Answer {
    let pieces = std::iter::once(delta("{\"cmd\": \"ls"))
        .chain((0..1200).map(|_| delta(" -l")))
        .collect();
    Answer::Trickle(pieces, Duration::from_millis(50))
}

#[test]
fn ctrl_c_while_generating_stops_with_130() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![endless_reply()]);
    let mut p = at_terminal(dir.path(), &server, &["list files"]);
    p.exp_string("generating").unwrap();
    p.send_control('c').unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(!rest.contains("(Enter:"), "{rest}");
    assert_eq!(exit_code(&p), 130);
}

#[test]
fn high_risk_is_not_the_default_and_needs_a_typed_yes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![command_reply("git push --force")]);
    let mut p = at_terminal(dir.path(), &server, &["publish my rewrite"]);
    p.exp_string("risk: high").unwrap();
    p.exp_string("(Enter: quit)").unwrap();
    press(&mut p, "r");
    p.exp_string("Run it anyway? [y/N]").unwrap();
    press(&mut p, "n");
    // Back at the menu; Enter now quits without running anything.
    p.exp_string("(Enter: quit)").unwrap();
    press(&mut p, "\r");
    let rest = p.exp_eof().unwrap();
    assert!(!rest.contains("not a git repository"), "{rest}");
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn critical_risk_is_never_offered_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![command_reply("rm -rf /")]);
    let mut p = at_terminal(dir.path(), &server, &["clean up"]);
    p.exp_string("risk: critical").unwrap();
    p.exp_string("does not let cmdai run this").unwrap();
    let menu = p.exp_string("(Enter: quit)").unwrap();
    assert!(!menu.contains("[r]un"), "{menu}");
    // `r` is not a choice here: the menu asks again.
    press(&mut p, "r");
    p.exp_string("(Enter: quit)").unwrap();
    press(&mut p, "q");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn explain_streams_the_models_explanation_and_returns_to_the_menu() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![
        command_reply("du -sh ."),
        text_reply("Shows the total size of the current directory, human readable."),
    ]);
    let mut p = at_terminal(dir.path(), &server, &["how big is this folder"]);
    p.exp_string("(Enter: run)").unwrap();
    press(&mut p, "x");
    p.exp_string("Shows the total size of the current directory")
        .unwrap();
    p.exp_string("(Enter: run)").unwrap();
    press(&mut p, "q");
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    let seen = server.seen();
    assert!(seen[1].body.get("response_format").is_none());
    let asked = messages(&server, 1);
    assert_eq!(asked.last().unwrap().1, "du -sh .");
}

#[test]
fn copy_sends_osc_52_to_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![command_reply("ls -la")]);
    let mut p = at_terminal(dir.path(), &server, &["list everything"]);
    p.exp_string("(Enter: run)").unwrap();
    press(&mut p, "c");
    // base64("ls -la") = bHMgLWxh
    p.exp_string("\u{1b}]52;c;bHMgLWxh\u{7}").unwrap();
    p.exp_string("copied (OSC 52)").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
}

#[test]
fn a_session_answers_request_after_request_and_ctrl_c_only_stops_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![
        command_reply("echo first-answer"),
        endless_reply(),
        command_reply("echo second-answer"),
    ]);
    let mut p = at_terminal(dir.path(), &server, &["-i"]);
    p.exp_string("is ready").unwrap();
    p.exp_string("cmdai>").unwrap();
    p.send_line("say first").unwrap();
    p.exp_string("(Enter: run)").unwrap();
    press(&mut p, "\r");
    p.exp_string("first-answer").unwrap();
    p.exp_string("cmdai>").unwrap();
    p.send_line("list files").unwrap();
    p.exp_string("generating").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("stopped").unwrap();
    p.exp_string("cmdai>").unwrap();
    p.send_line("say second").unwrap();
    p.exp_string("echo second-answer").unwrap();
    p.exp_string("(Enter: run)").unwrap();
    press(&mut p, "q");
    p.exp_string("cmdai>").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    let requests: Vec<String> = (0..3)
        .map(|i| messages(&server, i).last().unwrap().1.clone())
        .collect();
    for (request, said) in requests
        .iter()
        .zip(["say first", "list files", "say second"])
    {
        assert!(request.starts_with(said), "{request}");
    }
}

#[test]
fn a_session_needs_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::cmdai_in(dir.path()).arg("-i").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("needs a terminal") && stderr.contains("cmdai batch"),
        "{stderr}"
    );
}

/// The whole loop with the real default model: ask, revise, run.
#[test]
fn default_model_revises_and_runs_at_a_terminal() {
    let Some(model) = common::real_model("qwen2.5-coder-1.5b") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "").unwrap();
    std::fs::write(dir.path().join("server.log"), "").unwrap();
    let mut cmd = common::std_cmdai(dir.path(), &dir.path().join("cache"));
    cmd.env("TERM", "xterm-256color")
        .env("NO_COLOR", "1")
        .arg("--model")
        .arg(&model)
        .arg("list the files in this directory");
    let mut p = spawn_command(cmd, Some(180_000)).unwrap();
    p.exp_string("risk: safe").unwrap();
    p.exp_string("(Enter: run)").unwrap();
    press(&mut p, "v");
    p.exp_string("revise>").unwrap();
    p.send_line("only .txt files").unwrap();
    p.exp_string("only .txt files").unwrap();
    let (_, revised) = p.exp_regex(r"\n[^\n]*\.txt[^\n]*\r?\n").unwrap();
    p.exp_string("(Enter: run)").unwrap();
    press(&mut p, "r");
    let ran = p.exp_eof().unwrap();
    assert!(
        ran.contains("notes.txt") && !ran.contains("server.log"),
        "revised to {revised:?}; ran: {ran}"
    );
    assert_eq!(exit_code(&p), 0);
}
