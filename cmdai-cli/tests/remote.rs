//! `--backend openai`: the real binary against a chat-completions server on loopback (the
//! scripted server of cmdai-backend-openai's tests), and the fall-back to the local model.

mod common;
#[path = "../../cmdai-backend-openai/tests/support/mod.rs"]
mod support;

use common::{cmdai_in, real_model};
use predicates::prelude::*;
use serde_json::{Value, json};
use support::{Answer, Server, command_reply, delta, text_reply};

#[test]
fn a_request_goes_to_the_server_and_comes_back_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![command_reply(
        "find . -type f -name '*.log' -size +100M",
    )]);
    let output = common::succeed(
        cmdai_in(dir.path())
            .args(["--backend", "openai", "--remote-url", &server.url()])
            .args(["--remote-model", "qwen2.5-coder-32b", "-o", "json"])
            .arg("find log files over 100MB")
            .env("CMDAI_API_KEY", "sk-cli-secret"),
    );
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["command"], "find . -type f -name '*.log' -size +100M");
    assert_eq!(value["backend"], "openai");
    assert_eq!(value["model"], "qwen2.5-coder-32b");
    assert_eq!(value["risk"]["level"], "safe");
    assert_eq!(value["prompt_tokens"], 80);

    let seen = server.seen();
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer sk-cli-secret")
    );
    let body = &seen[0].body;
    assert_eq!(body["model"], "qwen2.5-coder-32b");
    let last = body["messages"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["content"]
            .as_str()
            .unwrap()
            .starts_with("find log files over 100MB")
    );
}

#[test]
fn the_key_never_appears_in_output_or_config() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![command_reply("ls")]);
    let url = server.url();
    for (key, value) in [
        ("backend", "openai"),
        ("remote.url", url.as_str()),
        ("remote.api_key_env", "TEAM_LLM_KEY"),
        ("remote.model", "team-coder"),
    ] {
        cmdai_in(dir.path())
            .args(["config", "set", key, value])
            .assert()
            .success();
    }
    let run = common::succeed(
        cmdai_in(dir.path())
            .args(["-vv", "list files"])
            .env("TEAM_LLM_KEY", "sk-team-secret"),
    );
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "ls");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("API key from $TEAM_LLM_KEY (set)"),
        "{stderr}"
    );
    assert!(!stderr.contains("sk-team-secret"), "{stderr}");
    assert_eq!(
        server.seen()[0].header("authorization"),
        Some("Bearer sk-team-secret")
    );
    let shown = cmdai_in(dir.path())
        .args(["config", "show"])
        .env("TEAM_LLM_KEY", "sk-team-secret")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("api_key_env = \"TEAM_LLM_KEY\""), "{shown}");
    assert!(!shown.contains("sk-team-secret"), "{shown}");
    // The key itself is not a valid variable name: pasting it there is refused.
    cmdai_in(dir.path())
        .args(["config", "set", "remote.api_key_env", "sk-proj-abc123"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("remote.api_key_env"));
}

#[test]
fn a_rejected_key_says_where_the_key_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let body = json!({ "error": { "message": "invalid api key" } });
    let server = Server::start(vec![Answer::Status(401, body, vec![])]);
    cmdai_in(dir.path())
        .args(["--backend", "openai", "--remote-url", &server.url()])
        .args(["--remote-model", "m", "list files"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("HTTP 401: invalid api key")
                .and(predicate::str::contains(
                    "no API key was sent; put the key in $CMDAI_API_KEY",
                ))
                .and(predicate::str::contains("panicked").not()),
        );
}

#[test]
fn an_unreachable_server_exits_7_or_falls_back_to_the_local_model() {
    let dir = tempfile::tempdir().unwrap();
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{address}/v1");
    cmdai_in(dir.path())
        .args([
            "--backend",
            "openai",
            "--remote-url",
            &url,
            "--remote-model",
            "m",
        ])
        .arg("list files")
        .assert()
        .code(7)
        .stderr(predicate::str::contains("cannot reach the server"));

    let Some(model) = real_model("smollm2-135m") else {
        return;
    };
    let output = cmdai_in(dir.path())
        .args([
            "--backend",
            "openai",
            "--remote-url",
            &url,
            "--remote-model",
            "m",
        ])
        .args(["--fallback", "--model"])
        .arg(&model)
        .args(["-o", "json", "list all files in the current directory"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot reach the server"), "{stderr}");
    assert!(stderr.contains("using the local model instead"), "{stderr}");
    // The small model may or may not answer with a usable command; what matters is who answered.
    if output.status.success() {
        let value: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(value["backend"], "candle");
    } else {
        assert_eq!(output.status.code(), Some(4), "{stderr}");
    }
}

#[test]
fn batch_mode_uses_the_server_for_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![command_reply("pwd"), command_reply("df -h")]);
    let output = common::succeed(
        cmdai_in(dir.path())
        .args([
        "--backend",
        "openai",
        "--remote-url",
        &server.url(),
        "batch",
        ])
        .write_stdin(
        "{\"id\": 1, \"request\": \"where am I\"}\n{\"id\": 2, \"request\": \"disk space\"}\n",
        )
        .env("CMDAI_REMOTE_MODEL", "m"),
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["command"], "pwd");
    assert_eq!(lines[1]["command"], "df -h");
    assert_eq!(lines[1]["id"], 2);
}

/// Ctrl-C (SIGINT) while a reply is streaming in: generation stops, exit 130, nothing printed
/// on stdout.
#[cfg(unix)]
#[test]
fn sigint_while_the_reply_streams_in_stops_with_130() {
    let dir = tempfile::tempdir().unwrap();
    let pieces: Vec<Value> = std::iter::once(delta("{\"cmd\": \"ls"))
        .chain((0..600).map(|_| delta(" -l")))
        .collect();
    let server = Server::start(vec![Answer::Trickle(
        pieces,
        std::time::Duration::from_millis(50),
    )]);
    // The first streamed piece on stderr means generation is under way.
    let (status, stdout, stderr) = common::interrupt_while_streaming(
        common::std_cmdai(dir.path(), &dir.path().join("cache"))
            .args(["--backend", "openai", "--remote-url", &server.url()])
            .args(["--remote-model", "m", "--stream", "list files"]),
    );
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `--explain` asks the model a second question, what the command does: in JSON it is the
/// `explanation`; in text it goes to stderr, so stdout still holds the command alone.
#[test]
fn explain_adds_the_models_explanation() {
    let dir = tempfile::tempdir().unwrap();
    let explanation = "Shows how much space this directory takes, in human units.";
    let server = Server::start(vec![
        command_reply("du -sh ."),
        text_reply(explanation),
        command_reply("du -sh ."),
        text_reply(explanation),
    ]);
    let remote = |dir: &std::path::Path| {
        let mut cmd = cmdai_in(dir);
        cmd.args(["--backend", "openai", "--remote-url", &server.url()])
            .args(["--remote-model", "m", "--explain"]);
        cmd
    };
    let output = common::succeed(remote(dir.path()).args(["-o", "json", "how big is this folder"]));
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["command"], "du -sh .");
    assert_eq!(value["explanation"], explanation);

    let output = common::succeed(remote(dir.path()).arg("how big is this folder"));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "du -sh .\n");
    assert!(String::from_utf8_lossy(&output.stderr).contains(explanation));
    let asked = &server.seen()[1].body;
    assert!(asked.get("response_format").is_none(), "{asked}");
}

/// `--alternatives N`: the greedy answer, then samples with their own seeds, until N distinct
/// commands; ranked by how many samples agree, each with its risk.
#[test]
fn alternatives_are_distinct_ranked_and_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![
        command_reply("ls -a"),
        command_reply("ls -la"),
        command_reply("ls   -la"),
        command_reply("rm -rf /"),
    ]);
    let output = common::succeed(
        cmdai_in(dir.path())
            .args(["--backend", "openai", "--remote-url", &server.url()])
            .args(["--remote-model", "m", "-o", "json", "--alternatives", "3"])
            .arg("list all files"),
    );
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    let found: Vec<(&str, u64, &str)> = value["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["command"].as_str().unwrap(),
                a["votes"].as_u64().unwrap(),
                a["risk"]["level"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("ls -la", 2, "safe"),
            ("ls -a", 1, "safe"),
            ("rm -rf /", 1, "critical")
        ]
    );
    let seen = server.seen();
    assert_eq!(seen[0].body["temperature"], 0.0);
    let seeds: Vec<&Value> = seen[1..].iter().map(|s| &s.body["seed"]).collect();
    assert!(
        seen[1..]
            .iter()
            .all(|s| s.body["temperature"].as_f64() >= Some(0.69))
    );
    assert!(seeds[0] != seeds[1] && seeds[1] != seeds[2], "{seeds:?}");
}

#[test]
fn the_files_a_request_names_reach_the_model_only_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.csv"), "id,name,city\n1,ann,paris\n").unwrap();
    let reply = || command_reply("tail -n +2 data.csv | cut -d, -f3 | sort -u");
    let server = Server::start(vec![reply(), reply()]);
    let request = "which cities are in data.csv";
    for look in [None, Some("--look-at-files")] {
        common::succeed(
            cmdai_in(dir.path())
                .args(["--backend", "openai", "--remote-url", &server.url()])
                .args(["--remote-model", "qwen2.5-coder-32b"])
                .args(look)
                .arg(request),
        );
    }
    let last_message = |index: usize| {
        let body = &server.seen()[index].body;
        let last = body["messages"].as_array().unwrap().last().unwrap().clone();
        last["content"].as_str().unwrap().to_owned()
    };
    // By default nothing of the file goes to a server.
    assert_eq!(last_message(0), request);
    let described = last_message(1);
    assert!(described.starts_with(request), "{described}");
    assert!(
        described.contains("data.csv: a file; its first line is: id,name,city"),
        "{described}"
    );
}

#[test]
fn a_command_that_needs_a_missing_program_is_asked_for_again() {
    let dir = tempfile::tempdir().unwrap();
    // A PATH with ls and mv, and no rename.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for program in ["ls", "mv"] {
        let path = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
            .unwrap();
        std::os::unix::fs::symlink(path, bin.join(program)).unwrap();
    }
    let loop_over_files = r#"for f in *\ *; do mv -- "$f" "${f// /_}"; done"#;
    let server = Server::start(vec![
        command_reply("rename 's/ /_/g' *"),
        command_reply(loop_over_files),
    ]);
    let output = common::succeed(
        cmdai_in(dir.path())
            .env("PATH", &bin)
            .args(["--backend", "openai", "--remote-url", &server.url()])
            .args(["--remote-model", "qwen2.5-coder-32b", "-o", "json"])
            .arg("replace the spaces in file names here with underscores"),
    );
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["command"], loop_over_files);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let messages = seen[1].body["messages"].as_array().unwrap().clone();
    let asked: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(
        asked
            .iter()
            .any(|text| text.contains("rename is not installed on this system")),
        "{asked:?}"
    );
    assert_eq!(value["flaw"], Value::Null);

    // A second answer with the same flaw: the first stays, and the flaw is said.
    // Asked four more times: two greedy answers, two samples.
    let flawed_again = || {
        let mut replies = vec![command_reply("rename 's/ /_/g' *")];
        replies.extend((0..4).map(|_| command_reply("rename -v 's/ /_/g' *")));
        replies
    };
    let server = Server::start(flawed_again());
    let run = |format: &[&str]| {
        common::succeed(
            cmdai_in(dir.path())
                .env("PATH", &bin)
                .args(["--backend", "openai", "--remote-url", &server.url()])
                .args(["--remote-model", "qwen2.5-coder-32b"])
                .args(format)
                .arg("replace the spaces in file names here with underscores"),
        )
    };
    let value: Value = serde_json::from_slice(&run(&["-o", "json"]).stdout).unwrap();
    assert_eq!(value["command"], "rename 's/ /_/g' *");
    assert_eq!(value["flaw"], "rename is not installed on this system");
    let server_replies_again = Server::start(flawed_again());
    let output = common::succeed(
        cmdai_in(dir.path())
            .env("PATH", &bin)
            .args([
                "--backend",
                "openai",
                "--remote-url",
                &server_replies_again.url(),
            ])
            .args(["--remote-model", "qwen2.5-coder-32b"])
            .arg("replace the spaces in file names here with underscores"),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("note: this command looks wrong: rename is not installed on this system"),
        "{stderr}"
    );
}

/// The words of the user turns `server` was sent in its `n`th request.
fn asked(server: &Server, n: usize) -> Vec<String> {
    server.seen()[n].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_command_that_fails_when_tried_is_asked_for_again_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "bob\nalice\ncarol\n").unwrap();
    std::fs::write(dir.path().join("b.txt"), "dave\ncarol\nbob\n").unwrap();
    let request = "which names are in both a.txt and b.txt?";
    // It writes before it fails: the trial must not write here.
    let failing = "sed -i 's/bob/robert/' a.txt && awk 'NR == FNR {seen[$0]; next' a.txt b.txt";
    let working = "sort a.txt b.txt | uniq -d";
    let server = Server::start(vec![command_reply(failing), command_reply(working)]);
    let ask = |dir: &std::path::Path, server: &Server, extra: &[&str], request: &str| {
        let output = common::succeed(
            cmdai_in(dir)
                .args(["--backend", "openai", "--remote-url", &server.url()])
                .args(["--remote-model", "qwen2.5-coder-32b", "-o", "json"])
                .args(extra)
                .arg(request),
        );
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let run = |server: &Server, extra: &[&str]| ask(dir.path(), server, extra, request);
    let value = run(&server, &[]);
    assert_eq!(value["command"], working);
    assert_eq!(value["flaw"], Value::Null);
    assert_eq!(server.seen().len(), 2);
    let follow_up = asked(&server, 1).pop().unwrap();
    assert!(
        follow_up.contains(&format!(
            "(not `{failing}`: it failed when tried here: awk: "
        )),
        "{follow_up}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "bob\nalice\ncarol\n",
        "the trial wrote nothing here"
    );
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["a.txt", "b.txt", "cache"], "nothing was left here");

    // Turned off: the first command, unjudged.
    let server = Server::start(vec![command_reply(failing)]);
    let value = run(&server, &["--trial=false"]);
    assert_eq!(value["command"], failing);
    assert_eq!(server.seen().len(), 1);

    // The other answers fail too (two greedy, two sampled): the first stays, and its error is
    // said.
    let server = Server::start((0..5).map(|_| command_reply(failing)).collect());
    let value = run(&server, &[]);
    assert_eq!(value["command"], failing);
    assert_eq!(server.seen().len(), 5);
    let flaw = value["flaw"].as_str().unwrap();
    assert!(
        flaw.starts_with("it failed when tried here: awk:"),
        "{flaw}"
    );

    // Files the request names that are not here: the request is about another place, and a
    // missing file is not the command's fault.
    let elsewhere = tempfile::tempdir().unwrap();
    let server = Server::start(vec![command_reply("comm -12 x.txt y.txt")]);
    let value = ask(
        elsewhere.path(),
        &server,
        &[],
        "which names are in both x.txt and y.txt?",
    );
    assert_eq!(value["command"], "comm -12 x.txt y.txt");
    assert_eq!(value["flaw"], Value::Null);
    assert_eq!(server.seen().len(), 1);
}
