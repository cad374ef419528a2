//! A chat-completions server on loopback for tests: real sockets, real HTTP/1.1, each connection
//! answered by the next scripted behaviour (streams, errors, stalls, hang-ups). Shared with the
//! CLI's tests through `#[path]`, so not every item is used by every test crate.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{Value, json};

/// What the server does with one connection.
pub enum Answer {
    /// 200 `text/event-stream`, one chunk per event, then `[DONE]`.
    Stream(Vec<Value>),
    /// 200 `text/event-stream` with these events, then the connection is dropped mid-body.
    HangUp(Vec<Value>),
    /// 200 `application/json`.
    Json(Value),
    /// Any status with a JSON body and extra headers.
    Status(u16, Value, Vec<(&'static str, &'static str)>),
    /// Reads the request and never answers (until the test ends).
    Stall,
    /// 200 `text/event-stream`: the events one by one with a pause between them, like a slow
    /// server, then `[DONE]` (or a hang-up, if the client left).
    Trickle(Vec<Value>, std::time::Duration),
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Server {
    address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Dropped with the server: releases stalled connections.
    _release: mpsc::Sender<()>,
}

impl Server {
    pub fn start(answers: Vec<Answer>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (release, released) = mpsc::channel::<()>();
        let log = Arc::clone(&seen);
        thread::spawn(move || {
            let mut stalled = Vec::new();
            for (answer, stream) in answers.into_iter().zip(listener.incoming()) {
                let mut stream = stream.unwrap();
                let request = read_request(&mut stream);
                log.lock().unwrap().push(request);
                match answer {
                    Answer::Stall => stalled.push(stream),
                    answer => {
                        let _ = respond(&mut stream, answer);
                    }
                }
            }
            // Keep stalled connections open until the test is done with the server.
            let _ = released.recv();
            drop(stalled);
        });
        Server {
            address,
            seen,
            _release: release,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut TcpStream) -> Seen {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap().to_owned();
    let path = parts.next().unwrap().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    Seen {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

/// Answers one request. Write errors are returned, not fatal: a client may rightly hang up
/// early (after `[DONE]`, or when it cancels).
fn respond(stream: &mut TcpStream, answer: Answer) -> std::io::Result<()> {
    let chunked_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let send_chunk = |stream: &mut TcpStream, data: &str| {
        let event = format!("data: {data}\n\n");
        write!(stream, "{:x}\r\n{event}\r\n", event.len())?;
        stream.flush()
    };
    match answer {
        Answer::Stream(events) => {
            stream.write_all(chunked_head.as_bytes())?;
            for event in events {
                send_chunk(stream, &event.to_string())?;
            }
            send_chunk(stream, "[DONE]")?;
            stream.write_all(b"0\r\n\r\n")
        }
        Answer::HangUp(events) => {
            stream.write_all(chunked_head.as_bytes())?;
            for event in events {
                send_chunk(stream, &event.to_string())?;
            }
            stream.shutdown(std::net::Shutdown::Both)
        }
        Answer::Trickle(events, pause) => {
            stream.write_all(chunked_head.as_bytes())?;
            for event in events {
                send_chunk(stream, &event.to_string())?;
                thread::sleep(pause);
            }
            send_chunk(stream, "[DONE]")?;
            stream.write_all(b"0\r\n\r\n")
        }
        Answer::Json(body) => write_response(stream, 200, &body, &[]),
        Answer::Status(code, body, headers) => write_response(stream, code, &body, &headers),
        Answer::Stall => unreachable!(),
    }
}

fn write_response(
    stream: &mut TcpStream,
    code: u16,
    body: &Value,
    headers: &[(&str, &str)],
) -> std::io::Result<()> {
    let body = body.to_string();
    let mut head = format!(
        "HTTP/1.1 {code} Status\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    stream.write_all(format!("{head}\r\n{body}").as_bytes())
}

pub fn delta(content: &str) -> Value {
    json!({ "choices": [{ "index": 0, "delta": { "content": content }, "finish_reason": null }] })
}

pub fn finish(reason: &str) -> Value {
    json!({ "choices": [{ "index": 0, "delta": {}, "finish_reason": reason }] })
}

pub fn usage(prompt: usize, completion: usize) -> Value {
    json!({ "choices": [], "usage": { "prompt_tokens": prompt, "completion_tokens": completion } })
}

/// A streamed reply of `text` in two pieces, as a model answering a request would send it.
pub fn text_reply(text: &str) -> Answer {
    let middle = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    let (head, tail) = text.split_at(middle);
    Answer::Stream(vec![delta(head), delta(tail), finish("stop"), usage(80, 9)])
}

/// [`text_reply`] with cmdai's reply format: `{"cmd": command}`.
pub fn command_reply(command: &str) -> Answer {
    text_reply(&json!({ "cmd": command }).to_string())
}
