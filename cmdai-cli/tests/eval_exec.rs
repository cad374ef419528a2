//! `cmdai eval --exec`: the real binary runs references and generated commands (scripted by the
//! chat-completions server on loopback, so every reply is known) in its sandbox. Checks that
//! equal effects count as equal, different output or files do not, and that the sandbox holds:
//! nothing written outside it, no network, a time limit, critical commands never run.

mod common;
#[path = "../../cmdai-backend-openai/tests/support/mod.rs"]
mod support;

use common::cmdai_in;
use serde_json::{Value, json};
use support::{Server, command_reply};

#[test]
fn generated_commands_are_judged_by_what_they_do_in_a_sandbox() {
    if !common::namespaces_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("escaped");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let port_holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_holder.local_addr().unwrap().port();
    // (request, reference, the server's reply, expected verdict: Some(same) or None when the
    // reference does nothing that can be compared)
    let rows: Vec<(&str, &str, String, Option<bool>)> = vec![
        (
            "count lines",
            "wc -l notes.txt",
            "wc -l notes.txt".into(),
            Some(true),
        ),
        (
            "remove the todo list",
            "rm todo.txt",
            "rm -f ./todo.txt".into(),
            Some(true),
        ),
        (
            "list the sources",
            "ls src",
            "ls src/lib".into(),
            Some(false),
        ),
        (
            "create a file",
            "touch created.txt",
            "touch other.txt".into(),
            Some(false),
        ),
        (
            "list",
            "ls",
            format!("touch '{}' && ls", outside.display()),
            Some(false),
        ),
        (
            "list again",
            "ls",
            "while :; do :; done".into(),
            Some(false),
        ),
        (
            "fetch",
            "cat notes.txt",
            format!("exec 3<>/dev/tcp/127.0.0.1/{port} && cat notes.txt"),
            Some(false),
        ),
        ("clean up", "ls data", "rm -rf /".into(), Some(false)),
        (
            "a missing file",
            "cat /nonexistent",
            "cat /nonexistent".into(),
            None,
        ),
    ];
    let server = Server::start(rows.iter().map(|row| command_reply(&row.2)).collect());
    let dataset = dir.path().join("set.jsonl");
    let lines: Vec<String> = rows
        .iter()
        .map(|(request, reference, _, _)| {
            json!({ "request": request, "command": reference }).to_string()
        })
        .collect();
    std::fs::write(&dataset, lines.join("\n")).unwrap();

    let output = common::succeed(
        cmdai_in(dir.path())
            .args(["--backend", "openai", "--remote-url", &server.url()])
            .args([
                "--remote-model",
                "scripted",
                "-o",
                "json",
                "eval",
                "--exec",
                "--exec-timeout",
                "2",
            ])
            .arg(&dataset)
            .env("TMPDIR", &tmp),
    );
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = value["results"].as_array().unwrap();
    for ((request, _, reply, expected), result) in rows.iter().zip(results) {
        assert_eq!(result["command"], reply.as_str(), "{request}");
        match expected {
            Some(same) => assert_eq!(
                (
                    result["exec"]["runnable"].as_bool(),
                    result["exec"]["same"].as_bool()
                ),
                (Some(true), Some(*same)),
                "{request}: {result}"
            ),
            None => assert_eq!(result["exec"]["runnable"], false, "{request}: {result}"),
        }
    }
    let note = |i: usize| results[i]["exec"]["note"].as_str().unwrap_or("").to_owned();
    assert_eq!(note(2), "different output");
    assert_eq!(note(3), "different files afterwards");
    assert_eq!(note(4), "the generated command failed");
    assert_eq!(note(5), "the generated command timed out");
    assert_eq!(note(6), "the generated command failed");
    assert!(note(7).contains("critical"), "{}", note(7));
    assert!(!outside.exists(), "a command wrote outside the sandbox");
    assert_eq!(value["exec_rows"], 8);
    assert_eq!(value["exec_match"], 0.25);

    // The loopback listener was never reached from inside (no network namespace access).
    port_holder.set_nonblocking(true).unwrap();
    assert!(
        port_holder.accept().is_err(),
        "a command reached the network"
    );
    // The sandboxes and the fixture are gone.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
}
