//! A local server that behaves like the Follow Up Boss API under stress: real sockets
//! (tiny_http on 127.0.0.1), scripted answers. Shared by `examples/client.rs` and
//! `tests/http_client.rs`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Answer {
    pub fn new(status: u16, body: &str) -> Self {
        Self { status, headers: Vec::new(), body: body.to_owned() }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// How the server decides its answers.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// The next answer of the queue for each request; `201` once it is empty.
    Script(VecDeque<Answer>),
    /// `limit` requests per sliding `window`, with `X-RateLimit-*` headers on every answer and
    /// 429 + `Retry-After` beyond it.
    RateLimited { limit: usize, window: Duration },
    /// 503 (with an HTML page from the "proxy") until `for_` has passed since the start.
    Outage { for_: Duration },
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub at: Duration,
    pub body: String,
    pub status: u16,
}

pub struct Server {
    pub url: String,
    pub log: Arc<Mutex<Vec<Received>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

const JSON: &str = "application/json; charset=utf-8";

/// The scenarios `--script` picks from.
pub fn scenario(name: &str) -> Option<Behaviour> {
    let bad_gateway = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\r\n";
    Some(match name {
        "default" => Behaviour::Script(VecDeque::from([
            // Lead 1: an overloaded server, then accepted.
            Answer::new(503, r#"{"errorMessage":"Service temporarily unavailable."}"#).header("Content-Type", JSON),
            Answer::new(502, bad_gateway).header("Content-Type", "text/html"),
            Answer::new(504, ""),
            Answer::new(201, r#"{"id":101}"#).header("Content-Type", JSON),
            // Lead 2: rate limited in the `events` context.
            Answer::new(429, r#"{"errorMessage":"Too many requests. Please slow down."}"#)
                .header("Content-Type", JSON)
                .header("Retry-After", "2")
                .header("X-RateLimit-Limit", "250")
                .header("X-RateLimit-Remaining", "0")
                .header("X-RateLimit-Window", "10")
                .header("X-RateLimit-Context", "events"),
            Answer::new(201, r#"{"id":102}"#).header("Content-Type", JSON).header("X-RateLimit-Context", "events"),
            // Lead 3: a bad request.
            Answer::new(400, r#"{"errorMessage":"Invalid fields in the request body: emails."}"#).header("Content-Type", JSON),
            // Lead 4: the account is locked.
            Answer::new(403, r#"{"errorMessage":"This account is locked. Please update billing at https:\/\/app.followupboss.com."}"#)
                .header("Content-Type", JSON),
            // Lead 5: fine.
            Answer::new(201, r#"{"id":105}"#).header("Content-Type", JSON),
        ])),
        "rate-limit" => Behaviour::RateLimited { limit: 5, window: Duration::from_secs(4) },
        "outage" => Behaviour::Outage { for_: Duration::from_secs(6) },
        _ => return None,
    })
}

impl Server {
    /// Starts the server on a free loopback port, in its own thread.
    pub fn start(behaviour: Behaviour) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let url = format!("http://{}/v1/events", server.server_addr().to_ip().expect("an IP address"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (server, log) = (Arc::clone(&server), Arc::clone(&log));
            std::thread::spawn(move || serve(&server, behaviour, &log))
        };
        Self { url, log, server, thread: Some(thread) }
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(server: &tiny_http::Server, mut behaviour: Behaviour, log: &Mutex<Vec<Received>>) {
    let start = Instant::now();
    let mut window: VecDeque<Instant> = VecDeque::new();
    for mut request in server.incoming_requests() {
        let mut body = String::new();
        let _ = request.as_reader().read_to_string(&mut body);
        let now = Instant::now();
        let answer = match &mut behaviour {
            Behaviour::Script(queue) => queue.pop_front().unwrap_or_else(|| Answer::new(201, r#"{"id":1}"#)),
            Behaviour::Outage { for_ } if now - start < *for_ => Answer::new(
                503,
                "<html><head><title>503 Service Temporarily Unavailable</title></head><body>maintenance</body></html>",
            )
            .header("Content-Type", "text/html"),
            Behaviour::Outage { .. } => Answer::new(201, r#"{"id":1}"#),
            Behaviour::RateLimited { limit, window: length } => {
                while window.front().is_some_and(|&t| now - t >= *length) {
                    window.pop_front();
                }
                let full = window.len() >= *limit;
                if !full {
                    window.push_back(now);
                }
                let answer = if full {
                    let wait = *length - (now - window[0]);
                    Answer::new(429, r#"{"errorMessage":"Too many requests."}"#)
                        .header("Retry-After", wait.as_secs_f64().ceil().to_string())
                } else {
                    Answer::new(201, r#"{"id":1}"#)
                };
                answer
                    .header("X-RateLimit-Limit", limit.to_string())
                    .header("X-RateLimit-Remaining", (*limit - window.len()).to_string())
                    .header("X-RateLimit-Window", length.as_secs().to_string())
                    .header("X-RateLimit-Context", "events")
            }
        };
        log.lock().unwrap().push(Received { at: now - start, body, status: answer.status });
        let mut response = tiny_http::Response::from_string(answer.body).with_status_code(answer.status);
        for (name, value) in answer.headers {
            if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(header);
            }
        }
        let _ = request.respond(response);
    }
}
