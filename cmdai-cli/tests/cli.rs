//! Tests of the real `cmdai` binary. Real-model tests use the models `scripts/test.sh` fetches
//! (`CMDAI_TEST_MODEL_<ID>`); the rest use tiny random models written here, and an empty cache
//! directory so nothing is ever downloaded.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use candle_core::quantized::GgmlDType;
use cmdai_backend_candle::Architecture;
use cmdai_backend_candle::synthetic::{tiny_spec, write_random_model};
use common::real_model;
use predicates::prelude::*;
use serde_json::Value;

/// `cmdai` with an empty private cache and no network.
fn cmdai(cache: &Path) -> Command {
    let mut cmd = Command::cargo_bin("cmdai").unwrap();
    cmd.env_clear()
        .env("CMDAI_CACHE_DIR", cache)
        .env("CMDAI_CONFIG", cache.join("config.toml"))
        .env("CMDAI_OFFLINE", "1")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SHELL", "/bin/bash");
    cmd
}

fn tiny_model(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.gguf");
    write_random_model(&path, &tiny_spec(Architecture::Qwen2), GgmlDType::Q8_0, 3).unwrap();
    path
}

#[test]
fn help_shows_usage_and_examples() {
    let cache = tempfile::tempdir().unwrap();
    cmdai(cache.path()).arg("--help").assert().success().stdout(
        predicate::str::contains("Usage: cmdai").and(predicate::str::contains("cmdai batch")),
    );
}

#[test]
fn empty_request_is_an_error_that_says_what_to_do() {
    let cache = tempfile::tempdir().unwrap();
    cmdai(cache.path()).arg("   ").assert().code(1).stderr(
        predicate::str::contains("no request given")
            .and(predicate::str::contains("panicked").not()),
    );
}

#[test]
fn offline_without_a_cached_model_says_how_to_get_it() {
    let cache = tempfile::tempdir().unwrap();
    cmdai(cache.path())
        .args(["--model", "tiny", "list files"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("cmdai models pull smollm2-135m"));
    assert!(
        std::fs::read_dir(cache.path().join("models/smollm2-135m"))
            .map_or(true, |d| d.count() == 0)
    );
}

#[test]
fn unknown_model_lists_the_catalog() {
    let cache = tempfile::tempdir().unwrap();
    cmdai(cache.path())
        .args(["--model", "gpt-9", "list files"])
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("unknown model `gpt-9`")
                .and(predicate::str::contains("qwen2.5-coder-1.5b")),
        );
}

#[test]
fn truncated_model_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    cmdai(dir.path())
        .arg("--model")
        .arg(&path)
        .arg("list files")
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("is truncated")
                .and(predicate::str::contains("panicked").not()),
        );
}

#[test]
fn missing_model_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    cmdai(dir.path())
        .args(["--model", "/nonexistent/model.gguf", "list files"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("does not exist"));
}

/// A random model never answers with a command: the reply is reported, with exit code 4.
#[test]
fn reply_that_is_not_a_command_exits_4_and_quotes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path());
    let assert = cmdai(dir.path())
        .arg("--model")
        .arg(&path)
        .args(["--max-tokens", "8", "list files"])
        .assert();
    let output = assert.get_output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        // The random reply happened to look like a command line: it must then be printed alone.
        assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 1);
    } else {
        assert_eq!(output.status.code(), Some(4), "{stderr}");
        assert!(
            stderr.contains("the reply hit the token limit") || stderr.contains("not a command"),
            "{stderr}"
        );
    }
}

#[test]
fn batch_answers_every_line_in_order_with_errors_inline() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path());
    let mut input =
        b"{\"id\": 1, \"request\": \"list files\"}\nnot json\n{\"id\": \"b\", \"request\": \"\"}\n"
            .to_vec();
    input.extend_from_slice(b"\xff\xfe\n\n");
    let output = cmdai(dir.path())
        .arg("--model")
        .arg(&path)
        .args(["--max-tokens", "4", "batch"])
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines: Vec<Value> = String::from_utf8(output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "one answer per non-blank line");
    assert_eq!(lines[0]["id"], 1);
    assert!(lines[0].get("command").is_some() || lines[0].get("error").is_some());
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("line 2: not valid JSON")
    );
    assert_eq!(lines[2]["id"], "b");
    assert!(
        lines[2]["error"]
            .as_str()
            .unwrap()
            .contains("request is empty")
    );
    // Regression: a line of invalid UTF-8 used to end the whole batch.
    assert_eq!(lines[3]["error"], "line 4: not valid UTF-8");
}

#[test]
fn json_output_has_the_documented_fields() {
    let Some(model) = real_model("smollm2-135m") else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let output = cmdai(cache.path())
        .arg("--model")
        .arg(&model)
        .args(["-o", "json", "list all files in the current directory"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let value: Value = serde_json::from_slice(&output).unwrap();
    assert!(!value["command"].as_str().unwrap().is_empty());
    assert_eq!(value["backend"], "candle");
    assert_eq!(value["device"], "cpu");
    assert_eq!(value["model"], "SmolLM2-135M-Instruct.Q4_1");
    assert!(value.get("explanation").is_some());
    let level = value["risk"]["level"].as_str().unwrap();
    assert!(
        ["safe", "moderate", "high", "critical"].contains(&level),
        "{value}"
    );
    assert!(value["risk"]["findings"].is_array());
    for timing in ["load_ms", "prefill_ms", "decode_ms", "total_ms"] {
        assert!(
            value["timings"][timing].as_f64().unwrap() >= 0.0,
            "{timing}"
        );
    }
}

/// The README's first command: the default model answers the README's request correctly, and
/// a piped stdout gets the command alone so `$(cmdai ...)` works.
#[test]
fn default_model_lists_files() {
    let Some(model) = real_model("qwen2.5-coder-1.5b") else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let output = cmdai(cache.path())
        .arg("--model")
        .arg(&model)
        .arg("list all files in the current directory")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let stdout = String::from_utf8(output).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    let command = stdout.trim();
    assert!(
        command == "ls" || command.starts_with("ls ") || command.starts_with("find ."),
        "{command:?}"
    );
}

/// The whole loop at a real terminal: generate with the default model, show the risk, ask, run
/// the command in the user's shell on "yes" (the default for a safe command).
#[test]
fn default_model_command_runs_after_confirmation_at_a_terminal() {
    let Some(model) = real_model("qwen2.5-coder-1.5b") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("marker-file.txt"), "x").unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("cmdai"));
    cmd.env_clear()
        .current_dir(dir.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CMDAI_CACHE_DIR", dir.path().join("cache"))
        .env("CMDAI_CONFIG", dir.path().join("config.toml"))
        .env("CMDAI_OFFLINE", "1")
        .env("SHELL", "/bin/sh")
        .env("TERM", "dumb")
        .arg("--model")
        .arg(&model)
        .args(["-x", "list all files in the current directory"]);
    let mut session = rexpect::session::spawn_command(cmd, Some(120_000)).unwrap();
    session.exp_string("risk: safe").unwrap();
    session.exp_string("Run it? [Y/n]").unwrap();
    session.send_line("y").unwrap();
    session.exp_string("marker-file.txt").unwrap();
    session.exp_eof().unwrap();
    match session.process.wait().unwrap() {
        rexpect::process::wait::WaitStatus::Exited(_, code) => assert_eq!(code, 0),
        other => panic!("{other:?}"),
    }
}

/// `--stream` shows the model's reply on stderr as it is generated; stdout still gets the
/// command alone.
#[test]
fn stream_shows_the_reply_on_stderr() {
    let Some(model) = real_model("smollm2-135m") else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let output = cmdai(cache.path())
        .arg("--model")
        .arg(&model)
        .args(["--stream", "list all files in the current directory"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    if output.status.success() {
        let command = stdout.trim();
        assert!(!command.is_empty());
        assert!(
            stderr.contains(command),
            "the streamed reply holds the command: {stderr:?}"
        );
    } else {
        // SmolLM2 may answer prose; then the streamed text is what the error quotes.
        assert_eq!(output.status.code(), Some(4), "{stderr}");
    }
    assert!(!stderr.is_empty());
}

#[test]
fn eval_reports_quality_and_latency_for_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let dataset = dir.path().join("set.jsonl");
    std::fs::write(
        &dataset,
        "{\"nl\": \"list files\", \"cmd\": \"ls\"}\n\n{\"request\": \"disk usage\", \"command\": \"du -sh .\"}\n{\"nl\": \"where am I\", \"cmd\": \"pwd\"}\n",
    )
    .unwrap();
    let output = common::succeed(
        cmdai(dir.path())
            .arg("--model")
            .arg(&model)
            .args(["--max-tokens", "4", "-o", "json", "eval"])
            .arg(&dataset)
            .args(["--sample", "2"]),
    );
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["rows"], 2);
    assert_eq!(value["results"].as_array().unwrap().len(), 2);
    for key in [
        "parse_rate",
        "exact_match",
        "utility_match",
        "utility_and_flags_match",
    ] {
        let rate = value[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&rate), "{key} = {rate}");
    }
    assert!(value["latency_ms"]["p50"].as_f64().unwrap() > 0.0);

    std::fs::write(&dataset, "{\"nl\": \"list files\"}\n").unwrap();
    cmdai(dir.path())
        .args(["eval"])
        .arg(&dataset)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("set.jsonl:1: expected"));
}
