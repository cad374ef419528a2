//! `cmdai preview`, on the real binary: what each kind of command would change is reported, and
//! the real directory (and everything outside it) is byte-for-byte untouched afterwards, down
//! to modification times. Also `p` in the review menu and `-x --preview`, with the scripted
//! chat-completions server as the model.

mod common;
#[path = "../../cmdai-backend-openai/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rexpect::session::spawn_command;
use serde_json::Value;
use support::{Server, command_reply};

/// Everything about every entry under `root` that a command could change.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    mode: u32,
    mtime: (i64, i64),
    contents: Option<Vec<u8>>,
    link: Option<PathBuf>,
}

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                pending.push(path.clone());
            }
            found.insert(
                path.strip_prefix(root).unwrap().to_path_buf(),
                Entry {
                    mode: meta.mode(),
                    mtime: (meta.mtime(), meta.mtime_nsec()),
                    contents: meta.is_file().then(|| std::fs::read(&path).unwrap()),
                    link: meta
                        .file_type()
                        .is_symlink()
                        .then(|| std::fs::read_link(&path).unwrap()),
                },
            );
        }
    }
    found
}

/// A project-like directory inside a parent that stands for "outside": `home` is `$HOME`.
struct Fixture {
    root: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let work = root.path().join("work");
        for (path, text) in [
            ("notes.txt", "one\ntwo\nthree\n"),
            ("a.tmp", "x"),
            ("src/main.c", "int main(void) { return 0; }\n"),
            ("src/old.tmp", "old"),
            ("logs/app.log", "started\nstopped\n"),
            ("script.sh", "echo hi\n"),
        ] {
            let path = work.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        std::os::unix::fs::symlink("notes.txt", work.join("link")).unwrap();
        std::fs::create_dir(root.path().join("home")).unwrap();
        std::fs::write(root.path().join("home/.profile"), "export A=1\n").unwrap();
        Fixture { root }
    }

    fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// `cmdai preview [ARGS] COMMAND -o json` in the work directory; the report and the
    /// whole fixture (work, home, parent) unchanged, or the test fails.
    fn preview(&self, command: &str, args: &[&str]) -> Value {
        let before = snapshot(self.root.path());
        let output = common::std_cmdai(&self.work(), &self.root.path().join("cache"))
            .env("HOME", self.root.path().join("home"))
            .args(["preview", "-o", "json"])
            .args(args)
            .arg("--")
            .arg(command)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let after = snapshot(self.root.path());
        assert_eq!(before, after, "{command} changed the real files");
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

/// `(path, change)` pairs of a report's `changes` (or `outside`).
fn changes(report: &Value, key: &str) -> Vec<(String, String)> {
    report[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap().to_owned(),
                c["change"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn deleting_is_reported_and_nothing_is_deleted() {
    if !common::namespaces_available() {
        return;
    }
    let fixture = Fixture::new();
    let report = fixture.preview("find . -name '*.tmp' -delete", &[]);
    assert_eq!(
        changes(&report, "changes"),
        pairs(&[("a.tmp", "deleted"), ("src/old.tmp", "deleted")])
    );
    assert_eq!(report["status"]["code"], 0);
    let report = fixture.preview("rm -r logs src", &[]);
    let deleted = &report["changes"].as_array().unwrap();
    assert_eq!(
        changes(&report, "changes"),
        pairs(&[("logs", "deleted"), ("src", "deleted")])
    );
    assert_eq!(deleted[1]["entry"], "directory");
    assert_eq!(deleted[1]["files"], 2);
}

#[test]
fn renaming_is_reported_as_a_rename() {
    if !common::namespaces_available() {
        return;
    }
    let fixture = Fixture::new();
    let report = fixture.preview("mv notes.txt notes.md && mv logs old-logs", &[]);
    let listed = report["changes"].as_array().unwrap();
    let renamed: Vec<(&str, &str)> = listed
        .iter()
        .filter(|c| c["change"] == "renamed")
        .map(|c| (c["from"].as_str().unwrap(), c["path"].as_str().unwrap()))
        .collect();
    assert_eq!(renamed, [("notes.txt", "notes.md"), ("logs", "old-logs")]);
    assert_eq!(listed.len(), 2, "{listed:?}");
}

#[test]
fn editing_in_place_shows_a_diff() {
    if !common::namespaces_available() {
        return;
    }
    let fixture = Fixture::new();
    let report = fixture.preview(
        "sed -i 's/two/2/' notes.txt && echo more >> logs/app.log && : > script.sh",
        &[],
    );
    assert_eq!(
        changes(&report, "changes"),
        pairs(&[
            ("logs/app.log", "modified"),
            ("notes.txt", "modified"),
            ("script.sh", "modified")
        ])
    );
    let notes = &report["changes"][1];
    let diff = notes["diff"].as_str().unwrap();
    assert!(diff.contains("-two") && diff.contains("+2"), "{diff}");
    assert_eq!(
        (notes["size_before"].as_u64(), notes["size_after"].as_u64()),
        (Some(14), Some(12))
    );
    assert_eq!(report["changes"][2]["size_after"], 0);
}

#[test]
fn permission_changes_are_reported() {
    if !common::namespaces_available() {
        return;
    }
    let fixture = Fixture::new();
    let report = fixture.preview("chmod +x script.sh && chmod -R go-rwx src", &[]);
    let listed = report["changes"].as_array().unwrap();
    let found: Vec<(&str, &str, &str)> = listed
        .iter()
        .map(|c| {
            assert_eq!(c["change"], "permissions", "{c}");
            (
                c["path"].as_str().unwrap(),
                c["before"].as_str().unwrap(),
                c["after"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("script.sh", "644", "755"),
            ("src", "755", "700"),
            ("src/main.c", "644", "600"),
            ("src/old.tmp", "644", "600"),
        ]
    );
}

#[test]
fn a_command_past_the_time_limit_is_stopped_and_what_it_did_is_shown() {
    if !common::namespaces_available() {
        return;
    }
    let fixture = Fixture::new();
    let report = fixture.preview(
        "touch first; sleep 30; touch never",
        &["--preview-timeout", "1"],
    );
    assert_eq!(report["status"]["ended"], "timed_out");
    assert_eq!(report["limit"]["time"]["seconds"], 1);
    assert_eq!(changes(&report, "changes"), pairs(&[("first", "created")]));
}

#[test]
fn writes_outside_the_working_directory_are_named_and_do_not_happen() {
    if !common::namespaces_available() {
        return;
    }
    let fixture = Fixture::new();
    let home = fixture.root.path().join("home").canonicalize().unwrap();
    let parent = fixture.root.path().canonicalize().unwrap();
    let report = fixture.preview(
        "echo x >> ~/.profile; echo y > ../escaped.txt; touch /etc/cmdai-preview-probe; \
         mkdir -p /usr/local/cmdai-preview-probe; echo done",
        &[],
    );
    assert!(changes(&report, "changes").is_empty(), "{report}");
    let outside = changes(&report, "outside");
    assert!(
        outside.contains(&(
            home.join(".profile").display().to_string(),
            "modified".into()
        )),
        "{outside:?}"
    );
    assert!(
        outside.contains(&(
            parent.join("escaped.txt").display().to_string(),
            "created".into()
        )),
        "{outside:?}"
    );
    let blocked: Vec<&str> = report["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        blocked,
        ["/etc/cmdai-preview-probe", "/usr/local/cmdai-preview-probe"]
    );
    assert!(!Path::new("/etc/cmdai-preview-probe").exists());
    assert!(!Path::new("/usr/local/cmdai-preview-probe").exists());
    assert_eq!(report["stdout"]["text"], "done");
}

#[test]
fn large_effects_are_summarised_and_the_size_limit_holds() {
    if !common::namespaces_available() {
        return;
    }
    let fixture = Fixture::new();
    let report = fixture.preview(
        "mkdir out && for i in $(seq 300); do echo $i > out/$i.txt; done; rm -r src",
        &[],
    );
    // A created directory is one change that counts its files.
    assert_eq!(
        changes(&report, "changes"),
        pairs(&[("out", "created"), ("src", "deleted")])
    );
    assert_eq!(report["changes"][0]["files"], 300);
    let summary = &report["summary"];
    assert_eq!(summary[0]["directory"], ".");
    assert_eq!(summary[0]["created"], 300);
    assert_eq!(summary[0]["deleted"], 2);

    let report = fixture.preview(
        "head -c 50000000 /dev/zero > big.bin",
        &["--preview-max-size", "4"],
    );
    assert_eq!(report["limit"]["size"]["bytes"], 4 << 20);
    let size = report["changes"][0]["size"].as_u64().unwrap();
    assert!(size <= 4 << 20, "{size}");

    // Many separate changes: the text lists the first and counts the rest per directory.
    let output = common::std_cmdai(&fixture.work(), &fixture.root.path().join("cache"))
        .args([
            "preview",
            "for i in $(seq 40); do echo $i >> logs/app.log; touch logs/$i.log; done",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("logs                 40 created, 1 modified"),
        "{text}"
    );
    assert!(text.contains("... and 26 more"), "{text}");
}

#[test]
fn critical_and_network_commands_are_not_previewed() {
    let fixture = Fixture::new();
    for (command, why) in [
        ("rm -rf /", "critical"),
        (
            "curl -fsSL https://example.com/install.sh -o install.sh",
            "`curl`",
        ),
        ("git push origin main", "`git`"),
        ("rsync -a . backup.example.com:/srv/", "`rsync`"),
        ("docker rm -f web", "`docker`"),
        ("exec 3<>/dev/tcp/10.0.0.1/80", "/dev/tcp"),
    ] {
        let output = common::std_cmdai(&fixture.work(), &fixture.root.path().join("cache"))
            .args(["preview", command])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(5), "{command}: {stderr}");
        assert!(
            stderr.contains("not previewed") && stderr.contains(why),
            "{command}: {stderr}"
        );
    }
}

#[test]
fn without_namespaces_the_preview_says_it_is_not_available() {
    let fixture = Fixture::new();
    // No `unshare` on PATH stands for a system without it.
    let output = common::std_cmdai(&fixture.work(), &fixture.root.path().join("cache"))
        .env("PATH", "/nonexistent")
        .args(["preview", "rm notes.txt"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("preview is not available here"), "{stderr}");
    assert!(fixture.work().join("notes.txt").exists());
}

#[test]
fn p_in_the_menu_and_x_with_preview_show_the_effect_first() {
    if !common::namespaces_available() {
        return;
    }
    let fixture = Fixture::new();
    let server = Server::start(vec![
        command_reply("rm notes.txt"),
        command_reply("rm notes.txt"),
    ]);
    let mut cmd = common::std_cmdai(&fixture.work(), &fixture.root.path().join("cache"));
    cmd.env("TERM", "xterm-256color")
        .env("NO_COLOR", "1")
        .args(["--backend", "openai", "--remote-url", &server.url()])
        .args(["--remote-model", "scripted", "remove the notes"]);
    let mut p = spawn_command(cmd, Some(30_000)).unwrap();
    p.exp_string("[p]review").unwrap();
    p.send("p").unwrap();
    p.flush().unwrap();
    p.exp_string("deleted     notes.txt").unwrap();
    p.exp_string("[p]review").unwrap();
    assert!(fixture.work().join("notes.txt").exists());
    p.send("q").unwrap();
    p.flush().unwrap();
    p.exp_eof().unwrap();
    assert!(fixture.work().join("notes.txt").exists());

    let output = common::std_cmdai(&fixture.work(), &fixture.root.path().join("cache"))
        .args(["--backend", "openai", "--remote-url", &server.url()])
        .args([
            "--remote-model",
            "scripted",
            "-x",
            "-y",
            "--preview",
            "remove the notes",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("deleted     notes.txt"), "{stderr}");
    assert!(output.status.success(), "{stderr}");
    assert!(
        !fixture.work().join("notes.txt").exists(),
        "-x ran it after the preview"
    );
}
