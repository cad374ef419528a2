//! Bad input on the real binary: each case must end with a clear message naming the problem,
//! the documented exit status, no panic, and nothing half-written in the cache.

mod common;

use std::path::{Path, PathBuf};

use candle_core::quantized::GgmlDType;
use cmdai_backend_candle::Architecture;
use cmdai_backend_candle::synthetic::{tiny_spec, write_random_model};
use common::{cmdai_in, std_cmdai};
use predicates::prelude::*;

fn string(text: &str) -> Vec<u8> {
    let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

/// A GGUF v3 header with `tensors` declared tensors and the given raw metadata entries.
fn header(tensors: u64, entries: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&tensors.to_le_bytes());
    bytes.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for entry in entries {
        bytes.extend_from_slice(entry);
    }
    bytes
}

fn string_entry(key: &str, value: &str) -> Vec<u8> {
    let mut bytes = string(key);
    bytes.extend_from_slice(&8u32.to_le_bytes());
    bytes.extend_from_slice(&string(value));
    bytes
}

fn tensor_info(name: &str, dims: &[u64], dtype: u32) -> Vec<u8> {
    let mut bytes = string(name);
    bytes.extend_from_slice(&(dims.len() as u32).to_le_bytes());
    for dim in dims {
        bytes.extend_from_slice(&dim.to_le_bytes());
    }
    bytes.extend_from_slice(&dtype.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes
}

fn tiny_model(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.gguf");
    write_random_model(&path, &tiny_spec(Architecture::Qwen2), GgmlDType::Q8_0, 5).unwrap();
    path
}

/// Replaces the first `from` in the file's bytes with `to` (same length).
fn patched(model: &Path, from: &str, to: &str, out: &Path) -> PathBuf {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(model).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap();
    bytes[at..at + to.len()].copy_from_slice(to.as_bytes());
    std::fs::write(out, bytes).unwrap();
    out.to_owned()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                files(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[test]
fn malformed_model_files_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let arch = string_entry("general.architecture", "llama");
    let mut huge_array = string("tokenizer.ggml.tokens");
    huge_array.extend_from_slice(&9u32.to_le_bytes());
    huge_array.extend_from_slice(&8u32.to_le_bytes());
    huge_array.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let mut unknown_type = header(1, std::slice::from_ref(&arch));
    unknown_type.extend(tensor_info("token_embd.weight", &[64, 262], 99));
    let mut huge_dims = header(1, std::slice::from_ref(&arch));
    huge_dims.extend(tensor_info("token_embd.weight", &[1 << 40; 4], 0));
    let mut past_the_end = header(1, std::slice::from_ref(&arch));
    past_the_end.extend(tensor_info("token_embd.weight", &[64, 262], 0));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("wrong-magic", b"GGML\x03\0\0\0".repeat(8), "unknown magic"),
        ("empty", Vec::new(), "not a valid GGUF model file"),
        (
            "huge-tensor-count",
            header(1 << 62, std::slice::from_ref(&arch)),
            "tensor_count",
        ),
        (
            "huge-array",
            header(0, &[arch.clone(), huge_array]),
            "array length",
        ),
        ("unknown-type", unknown_type, "unknown dtype"),
        ("huge-shape", huge_dims, "too large"),
        ("data-past-the-end", past_the_end, "truncated"),
    ];
    for (name, bytes, reason) in cases {
        let path = dir.path().join(format!("{name}.gguf"));
        std::fs::write(&path, bytes).unwrap();
        cmdai_in(dir.path())
            .arg("--model")
            .arg(&path)
            .arg("list files")
            .assert()
            .code(3)
            .stderr(
                predicate::str::contains(reason).and(predicate::str::contains("panicked").not()),
            );
    }
    assert!(files(&dir.path().join("cache")).is_empty());
}

#[test]
fn a_model_without_a_tokenizer_or_of_another_architecture_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let cases = [
        // (bytes to change, changed to, what the error must name)
        (
            "tokenizer.ggml.tokens",
            "tokenizer.ggml.tokenz",
            vec!["tokenizer.ggml.tokens"],
        ),
        (
            "\x05\0\0\0\0\0\0\0qwen2",
            "\x05\0\0\0\0\0\0\0rwkv6",
            vec!["rwkv6", "llama"],
        ),
    ];
    for (index, (from, to, named)) in cases.into_iter().enumerate() {
        let broken = patched(&model, from, to, &dir.path().join(format!("{index}.gguf")));
        let assert = cmdai_in(dir.path())
            .arg("--model")
            .arg(&broken)
            .arg("list files")
            .assert()
            .code(3);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(named.iter().all(|n| stderr.contains(n)), "{stderr}");
    }
}

#[test]
fn a_request_longer_than_the_context_says_to_shorten_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let request = "list every file ".repeat(6_250); // 100,000 characters
    cmdai_in(dir.path())
        .arg("--model")
        .arg(&model)
        .arg(&request)
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("shorten the request")
                .and(predicate::str::contains("panicked").not()),
        );
}

#[cfg(unix)]
#[test]
fn invalid_utf8_in_arguments_is_a_usage_error() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    cmdai_in(dir.path())
        .arg(std::ffi::OsStr::from_bytes(b"list \xff\xfe files"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("invalid UTF-8")
                .and(predicate::str::contains("panicked").not()),
        );
}

/// A setting's value out of range is named with where it came from: from a flag it is a usage
/// error (exit 2, as clap's own), from the environment another error (exit 1).
#[test]
fn a_setting_out_of_range_names_its_source() {
    let dir = tempfile::tempdir().unwrap();
    cmdai_in(dir.path())
        .args(["--top-p", "2", "list files"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--top-p 2 is not valid; expected a number above 0, at most 1",
        ));
    cmdai_in(dir.path())
        .env("CMDAI_THREADS", "0")
        .arg("list files")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("CMDAI_THREADS=0 is not valid"));
}

/// Spaces and non-ASCII in the cache path, and two processes sharing the cache at once: both
/// finish, and the prompt cache holds whole files only.
#[test]
fn an_unusual_cache_path_shared_by_two_processes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let cache = dir.path().join("my cache/ünïcødé");
    let run = || {
        let mut command = std_cmdai(dir.path(), &cache);
        command
            .arg("--model")
            .arg(&model)
            .args(["--max-tokens", "4", "list files"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command.spawn().unwrap()
    };
    let (first, second) = (run(), run());
    for child in [first, second] {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // A random model's reply is rarely a command (4); either way no cache error.
        assert!(matches!(output.status.code(), Some(0 | 4)), "{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("cache"),
            "{stderr}"
        );
    }
    let cached = files(&cache.join("prompt-cache"));
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(
        cached[0].extension().is_some_and(|e| e == "safetensors"),
        "{cached:?}"
    );
}

/// SIGTERM while the model is loaded and waiting for batch input: the process ends, and the
/// prompt cache holds whole files only.
#[cfg(unix)]
#[test]
fn sigterm_leaves_no_half_written_cache() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let cache = dir.path().join("cache");
    let mut child = std_cmdai(dir.path(), &cache)
        .arg("--model")
        .arg(&model)
        .args(["--max-tokens", "4", "batch"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{{\"id\": 1, \"request\": \"list files\"}}").unwrap();
    // The first answer means the model is loaded and the prompt cache written; then SIGTERM.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert!(line.contains("\"id\":1"), "{line}");
    writeln!(stdin, "{{\"id\": 2, \"request\": \"show disk usage\"}}").unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert!(!status.success());
    for file in files(&cache) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.contains("partial") && !name.starts_with('.'),
            "{file:?}"
        );
    }
}

/// A model larger than the free memory is refused before loading, with the numbers. The file
/// declares 200 GB of weights and is sparse, so it takes no disk space.
#[test]
fn a_model_larger_than_memory_is_refused_before_loading() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = header(1, &[string_entry("general.architecture", "llama")]);
    bytes.extend(tensor_info("token_embd.weight", &[1 << 16, 762_939], 0)); // 200 GB of f32
    let offset = bytes.len().next_multiple_of(32) as u64;
    let path = dir.path().join("huge.gguf");
    let file = std::fs::File::create(&path).unwrap();
    std::io::Write::write_all(&mut &file, &bytes).unwrap();
    file.set_len(offset + (1u64 << 16) * 762_939 * 4).unwrap();
    cmdai_in(dir.path())
        .arg("--model")
        .arg(&path)
        .args(["--device", "cpu", "list files"])
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("needs about 200.1 GB of memory")
                .and(predicate::str::contains("is available"))
                .and(predicate::str::contains("panicked").not()),
        );
}

/// A cache that cannot be written (here: a path under a regular file, since tests run as root,
/// which ignores permissions): a model given by path still answers, with a warning that the
/// prompt state was not saved; a download says where and why it cannot write.
#[test]
fn an_unwritable_cache_is_a_warning_for_a_local_file_and_an_error_for_a_download() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let blocker = dir.path().join("not-a-directory");
    std::fs::write(&blocker, "").unwrap();
    let cache = blocker.join("cache");
    let output = std_cmdai(dir.path(), &cache)
        .arg("--model")
        .arg(&model)
        .args(["--max-tokens", "4", "list files"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(matches!(output.status.code(), Some(0 | 4)), "{stderr}");
    assert!(stderr.contains("cannot save the prompt state"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Online, but towards nothing: the cache directory must fail before any request.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = std_cmdai(dir.path(), &cache)
        .env("CMDAI_OFFLINE", "0")
        .env("CMDAI_PYPI_INDEX", format!("http://{nowhere}"))
        .env("HF_ENDPOINT", format!("http://{nowhere}"))
        .args(["models", "pull", "tiny"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("cannot create") && stderr.contains("Not a directory"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("Not a directory").count(), 1, "{stderr}");
}

/// Ctrl-C (SIGINT) while the local model generates: generation stops between two tokens, the
/// exit status is 130 and nothing reaches stdout. The tiny random model never picks its end
/// token greedily, so it would write until the context is full (1900 tokens) if not stopped.
#[cfg(unix)]
#[test]
fn sigint_during_local_generation_stops_with_130() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let (status, stdout, stderr) = common::interrupt_while_streaming(
        std_cmdai(dir.path(), &dir.path().join("cache"))
            .arg("--model")
            .arg(&model)
            .args(["--stream", "--max-tokens", "1900", "list files"]),
    );
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
