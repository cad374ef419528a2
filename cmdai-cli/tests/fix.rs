//! `cmdai fix`, on the real binary with the scripted chat-completions server as the model: what
//! the model is told (the command, its exit status, the hint), where the command comes from
//! (`--command`, or the history file of bash, zsh or fish), and the errors when there is none.

mod common;
#[path = "../../cmdai-backend-openai/tests/support/mod.rs"]
mod support;

use std::path::Path;

use support::{Server, command_reply};

/// `cmdai fix ARGS` in `dir` with `HOME=dir` and `SHELL=shell`, asking `server`.
fn fix(dir: &Path, server: &Server, shell: &str, args: &[&str]) -> std::process::Output {
    common::std_cmdai(dir, &dir.join("cache"))
        .env("HOME", dir)
        .env("SHELL", shell)
        .args(["--backend", "openai", "--remote-url", &server.url()])
        .args(["--remote-model", "scripted", "fix"])
        .args(args)
        .output()
        .unwrap()
}

/// What the model was asked last in the `index`th request.
fn asked(server: &Server, index: usize) -> String {
    let seen = server.seen();
    let messages = seen[index].body["messages"].as_array().unwrap();
    messages.last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_model_is_told_the_command_its_status_and_the_hint() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![
        command_reply("tac log.txt"),
        command_reply("ls *.txt"),
    ]);
    let output = fix(
        dir.path(),
        &server,
        "/bin/bash",
        &[
            "--command",
            "tail -r log.txt",
            "--status",
            "1",
            "it",
            "said",
            "invalid option",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "tac log.txt"
    );
    let request = asked(&server, 0);
    for part in [
        "`tail -r log.txt`",
        "exit status 1",
        "it said invalid option",
    ] {
        assert!(request.contains(part), "{request}");
    }
    // A command that worked is changed as asked, not "fixed"; the answer is analysed as usual.
    let output = fix(
        dir.path(),
        &server,
        "/bin/bash",
        &[
            "-o",
            "json",
            "--command",
            "ls",
            "--status",
            "0",
            "only .txt files",
        ],
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["command"], "ls *.txt");
    assert_eq!(json["risk"]["level"], "safe");
    let request = asked(&server, 1);
    assert!(
        request.contains("`ls`") && request.contains("only .txt files"),
        "{request}"
    );
    assert!(!request.contains("Fix it"), "{request}");
}

#[test]
fn the_last_command_comes_from_the_history_file_of_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    std::fs::write(
        home.join(".bash_history"),
        "ls\n#1700000000\ngrep -r TODO --include=*.rs\ncmdai fix\n",
    )
    .unwrap();
    std::fs::write(
        home.join(".zsh_history"),
        ": 1700000000:0;ls\n: 1700000005:0;tar -xzf a.tgz -C \\\nout\n",
    )
    .unwrap();
    std::fs::create_dir_all(home.join(".local/share/fish")).unwrap();
    std::fs::write(
        home.join(".local/share/fish/fish_history"),
        "- cmd: ls\n  when: 1700000000\n- cmd: chmod 644 run.sh\n  when: 1700000009\n",
    )
    .unwrap();
    let server = Server::start(vec![
        command_reply("grep -rn TODO --include='*.rs' ."),
        command_reply("mkdir -p out && tar -xzf a.tgz -C out"),
        command_reply("chmod 755 run.sh"),
    ]);
    for (index, (shell, last)) in [
        ("/bin/bash", "grep -r TODO --include=*.rs"),
        ("/usr/bin/zsh", "tar -xzf a.tgz -C \nout"),
        ("/usr/bin/fish", "chmod 644 run.sh"),
    ]
    .into_iter()
    .enumerate()
    {
        let output = fix(home, &server, shell, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{shell}: {stderr}");
        assert!(
            stderr.contains(&format!("fixing `{last}`")),
            "{shell}: {stderr}"
        );
        let request = asked(&server, index);
        assert!(request.contains(&format!("`{last}`")), "{shell}: {request}");
        assert!(
            !request.contains("exit status"),
            "unknown status: {request}"
        );
    }
}

#[test]
fn with_no_command_to_fix_it_says_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![]);
    let output = fix(dir.path(), &server, "/bin/bash", &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--command") && stderr.contains("cmdai init"),
        "{stderr}"
    );
    assert!(server.seen().is_empty());
}
