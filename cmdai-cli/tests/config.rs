//! The configuration file and the commands around it, on the real binary: `cmdai config`,
//! precedence (file < CMDAI_* < flags), errors that name the key, completions and the man page.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn cmdai(dir: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("cmdai"));
    cmd.env_clear()
        .current_dir(dir)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CMDAI_CACHE_DIR", dir.join("cache"))
        .env("CMDAI_CONFIG", dir.join("conf").join("config.toml"))
        .env("CMDAI_OFFLINE", "1");
    cmd
}

fn get(dir: &Path, key: &str) -> String {
    let output = cmdai(dir).args(["config", "get", key]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn set_get_show_reset() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conf").join("config.toml");
    cmdai(dir.path())
        .args(["config", "path"])
        .assert()
        .success()
        .stdout(format!("{}\n", file.display()));
    assert_eq!(get(dir.path(), "safety.policy"), "moderate");
    assert_eq!(get(dir.path(), "generation.max_tokens"), "256");

    cmdai(dir.path())
        .args(["config", "set", "safety.policy", "strict"])
        .assert()
        .success();
    cmdai(dir.path())
        .args(["config", "set", "generation.max_tokens", "64"])
        .assert()
        .success();
    cmdai(dir.path())
        .args(["config", "set", "safety.deny", "terraform destroy*", "dd *"])
        .assert()
        .success();
    // A comment the user wrote survives edits.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("# mine\n{text}")).unwrap();
    cmdai(dir.path())
        .args(["config", "set", "device", "cpu"])
        .assert()
        .success();
    assert!(std::fs::read_to_string(&file).unwrap().contains("# mine\n"));

    assert_eq!(get(dir.path(), "safety.policy"), "strict");
    assert_eq!(get(dir.path(), "generation.max_tokens"), "64");
    cmdai(dir.path())
        .args(["config", "show"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("deny = [\"terraform destroy*\", \"dd *\"]")
                .and(predicate::str::contains("device = \"cpu\"")),
        );
    // The deny rule from the file applies.
    cmdai(dir.path())
        .args(["check", "terraform destroy -auto-approve"])
        .assert()
        .code(5);

    cmdai(dir.path())
        .args(["config", "reset", "safety.policy"])
        .assert()
        .success();
    assert_eq!(get(dir.path(), "safety.policy"), "moderate");
    cmdai(dir.path())
        .args(["config", "reset"])
        .assert()
        .success();
    assert!(!file.exists());
}

#[test]
fn flags_beat_environment_beats_file() {
    let dir = tempfile::tempdir().unwrap();
    cmdai(dir.path())
        .args(["config", "set", "generation.temperature", "0.5"])
        .assert()
        .success();
    assert_eq!(get(dir.path(), "generation.temperature"), "0.5");
    let env = cmdai(dir.path())
        .env("CMDAI_TEMPERATURE", "0.7")
        .args(["config", "get", "generation.temperature"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&env.stdout).trim(), "0.7");
    let flag = cmdai(dir.path())
        .env("CMDAI_TEMPERATURE", "0.7")
        .args([
            "--temperature",
            "0.9",
            "config",
            "get",
            "generation.temperature",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&flag.stdout).trim(), "0.9");
}

#[test]
fn bad_keys_and_values_are_errors_that_say_what_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    cmdai(dir.path())
        .args(["config", "set", "colour", "red"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("unknown configuration key `colour`")
                .and(predicate::str::contains("safety.policy")),
        );
    cmdai(dir.path())
        .args(["config", "set", "device", "gpu"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`device`").and(predicate::str::contains("cuda:N")));
    cmdai(dir.path())
        .args(["config", "set", "generation.top_p", "2"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("generation.top_p"));
    // A broken file is reported by every command that reads it, and can still be fixed.
    let file = dir.path().join("conf").join("config.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "threads = 0\n").unwrap();
    cmdai(dir.path())
        .args(["check", "ls"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`threads`"));
    cmdai(dir.path())
        .args(["config", "reset", "threads"])
        .assert()
        .success();
    cmdai(dir.path()).args(["check", "ls"]).assert().success();
}

#[test]
fn completions_and_man_page() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        cmdai(dir.path())
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("cmdai"));
    }
    // The bash script loads in a real bash and registers the completion.
    let script = cmdai(dir.path())
        .args(["completions", "bash"])
        .output()
        .unwrap()
        .stdout;
    let path = dir.path().join("cmdai.bash");
    std::fs::write(&path, script).unwrap();
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p cmdai", path.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("cmdai"));
    cmdai(dir.path())
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH cmdai 1").and(predicate::str::contains("check")));
}

#[test]
fn doctor_reports_the_setup_and_problems() {
    let dir = tempfile::tempdir().unwrap();
    cmdai(dir.path())
        .args(["config", "set", "safety.deny", "dd *"])
        .assert()
        .success();
    let output = cmdai(dir.path())
        .args(["doctor", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["device"]["name"], "cpu");
    assert_eq!(report["config"]["exists"], true);
    assert_eq!(report["config"]["deny_rules"], 1);
    assert_eq!(
        report["cache"]["path"],
        dir.path().join("cache").display().to_string()
    );
    assert!(report["models"].as_array().unwrap().is_empty());
    #[cfg(target_arch = "x86_64")]
    assert!(
        report["build"]["target_features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "avx2")
    );
    // A device that cannot be opened is a problem, with the reason and the fix.
    cmdai(dir.path())
        .args(["doctor", "--device", "cuda"])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("PROBLEM").and(predicate::str::contains("--features cuda")),
        );
}
