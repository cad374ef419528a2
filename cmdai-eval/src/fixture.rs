//! The built-in fixture: the directory commands run in when the caller names none: a small
//! project-like tree with the kinds of files shell requests are about (text, logs, sources,
//! scripts, hidden files, a file with a space in its name, a large file, an empty one, a symbolic
//! link, files of different ages), the same on every machine.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::EvalError;

const DAY: u64 = 24 * 60 * 60;

/// What goes into a file.
enum Contents {
    Text(&'static str),
    /// This many bytes of a fixed pseudo-random sequence.
    Bytes(usize),
}

/// One file: path, contents, age in days, permission bits.
struct File {
    path: &'static str,
    contents: Contents,
    age_days: u64,
    mode: u32,
}

const fn text(path: &'static str, body: &'static str, age_days: u64) -> File {
    File {
        path,
        contents: Contents::Text(body),
        age_days,
        mode: 0o644,
    }
}

const FILES: &[File] = &[
    text(
        "README.md",
        "# demo\n\nA small project.\n\n## Usage\n\nRun `make` then `./run.sh`.\nTODO: write more docs\n",
        3,
    ),
    text(
        "notes.txt",
        "buy milk\ncall alice\nTODO: fix the build\nbuy bread\n",
        1,
    ),
    text(
        "todo.txt",
        "1. write tests\n2. fix bug 42\n3. release\n",
        10,
    ),
    text("empty.txt", "", 2),
    text("my file.txt", "a file with a space in its name\n", 4),
    text(".hidden", "secret=1\n", 30),
    text(".env", "PORT=8080\nDEBUG=false\n", 30),
    text(
        "data.csv",
        "id,name,city,score\n1,alice,paris,90\n2,bob,berlin,75\n3,carol,paris,82\n4,dave,rome,75\n5,erin,berlin,68\n",
        5,
    ),
    text(
        "app.log",
        "2026-11-20 10:00:01 INFO server started on port 8080\n2026-11-20 10:00:05 WARN slow request /api/users 1200ms\n2026-11-20 10:01:10 ERROR database connection refused\n2026-11-20 10:02:00 INFO request /index.html 200\n2026-11-20 10:03:30 ERROR timeout contacting 10.0.0.7\n2026-11-20 10:04:00 INFO shutdown\n",
        1,
    ),
    text(
        "access.log",
        "192.168.1.10 - - [20/Nov/2026:10:00:00] \"GET / HTTP/1.1\" 200 512\n10.0.0.7 - - [20/Nov/2026:10:00:02] \"GET /about HTTP/1.1\" 404 128\n192.168.1.10 - - [20/Nov/2026:10:00:05] \"POST /login HTTP/1.1\" 302 0\n172.16.0.3 - - [20/Nov/2026:10:01:00] \"GET / HTTP/1.1\" 200 512\n192.168.1.10 - - [20/Nov/2026:10:02:00] \"GET /favicon.ico HTTP/1.1\" 404 64\n",
        2,
    ),
    text(
        "logs/2026-10-01.log",
        "2026-10-01 09:00:00 INFO nightly job ok\n2026-10-01 09:30:00 ERROR disk almost full\n",
        56,
    ),
    text(
        "logs/2026-11-19.log",
        "2026-11-19 09:00:00 INFO nightly job ok\n",
        7,
    ),
    text("logs/old/2025-12-31.log.gz", "not really gzip\n", 330),
    text(
        "src/main.c",
        "#include <stdio.h>\n#include \"util.h\"\n\nint main(void) {\n    printf(\"%d\\n\", add(2, 3));\n    return 0;\n}\n",
        6,
    ),
    text(
        "src/util.c",
        "#include \"util.h\"\n\nint add(int a, int b) { return a + b; }\n",
        6,
    ),
    text("src/util.h", "int add(int a, int b);\n", 20),
    text(
        "src/app.py",
        "import sys\n\n\ndef main():\n    # TODO: parse arguments\n    print(\"hello\", sys.argv[1:])\n\n\nif __name__ == \"__main__\":\n    main()\n",
        2,
    ),
    text(
        "src/lib/helpers.py",
        "def double(x):\n    return 2 * x\n",
        40,
    ),
    text(
        "src/lib/strings.js",
        "export const upper = (s) => s.toUpperCase();\n",
        15,
    ),
    text("docs/guide.md", "# Guide\n\nStep one.\nStep two.\n", 12),
    text(
        "docs/api.html",
        "<html><body><h1>API</h1><a href=\"https://example.com\">docs</a></body></html>\n",
        12,
    ),
    text(
        "config/settings.json",
        "{\"name\": \"demo\", \"version\": \"1.2.3\", \"debug\": false}\n",
        9,
    ),
    text(
        "config/app.conf",
        "# comment\nport = 8080\nhost = localhost\n",
        9,
    ),
    text("backup/notes.txt.bak", "buy milk\n", 90),
    text("build/output.o", "\u{7f}ELF fake object\n", 1),
    File {
        path: "run.sh",
        contents: Contents::Text("#!/bin/sh\necho running\n"),
        age_days: 8,
        mode: 0o755,
    },
    File {
        path: "Makefile",
        contents: Contents::Text("all:\n\tcc -o demo src/main.c src/util.c\n"),
        age_days: 8,
        mode: 0o644,
    },
    File {
        path: "images/photo.jpg",
        contents: Contents::Bytes(150 * 1024),
        age_days: 25,
        mode: 0o644,
    },
    File {
        path: "images/logo.png",
        contents: Contents::Bytes(4 * 1024),
        age_days: 25,
        mode: 0o644,
    },
    File {
        path: "data/big.bin",
        contents: Contents::Bytes(2 * 1024 * 1024),
        age_days: 14,
        mode: 0o644,
    },
    File {
        path: "data/medium.dat",
        contents: Contents::Bytes(200 * 1024),
        age_days: 3,
        mode: 0o600,
    },
];

/// Writes the built-in fixture into `dir` (which must exist and be empty). File times are set
/// relative to `now`, in whole days before it.
pub fn write_fixture(dir: &Path, now: SystemTime) -> Result<(), EvalError> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for file in FILES {
        let path = dir.join(file.path);
        let failed = |source| EvalError::WriteFixture {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        let bytes: Vec<u8> = match file.contents {
            Contents::Text(text) => text.as_bytes().to_vec(),
            Contents::Bytes(len) => (0..len)
                .map(|_| {
                    // xorshift64: fixed bytes that do not compress to nothing.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect(),
        };
        std::fs::write(&path, bytes).map_err(failed)?;
        let when = now - Duration::from_secs(file.age_days * DAY);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(when))
            .map_err(failed)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file.mode))
            .map_err(failed)?;
    }
    let link = dir.join("latest.log");
    std::os::unix::fs::symlink("app.log", &link)
        .map_err(|source| EvalError::WriteFixture { path: link, source })?;
    Ok(())
}
