//! What the Redis tests share: a real `redis-server` on a free loopback port (stopped,
//! continued, flushed, killed and restarted as a test says), the worker example run as a
//! fleet of processes, and their summed figures.
#![allow(dead_code)]

#[path = "../../../../examples/support/server.rs"]
pub mod server;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const WORKERS: usize = 8;

fn worker_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples").join("worker")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `redis-server` of this test's own, without persistence.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
    extra: Vec<String>,
}

impl Redis {
    pub fn start(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    pub fn start_with(port: u16, extra: &[&str]) -> Self {
        let mut redis = Self { port, child: None, extra: extra.iter().map(|s| (*s).to_owned()).collect() };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Started again, empty, on the same port (after [`kill`](Self::kill)).
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(&self.extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's package; .ci/run installs it)");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("a running redis-server").id();
        let status = Command::new("kill").args([signal, &pid.to_string()]).status().unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// `SIGSTOP`: the server keeps its socket and answers nothing, like a path that drops packets.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// [`resume`](Self::resume), for another thread.
    pub fn resumer(&self) -> impl FnOnce() + Send + 'static {
        let pid = self.child.as_ref().expect("a running redis-server").id().to_string();
        move || {
            let status = Command::new("kill").args(["-CONT", &pid]).status().unwrap();
            assert!(status.success(), "kill -CONT {pid}");
        }
    }

    /// A command on a connection of its own, as an operator would type it.
    pub fn cmd<T: redis::FromRedisValue>(&self, args: &[&[u8]]) -> T {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_connection_with_timeout(Duration::from_secs(5)).unwrap();
        let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query(&mut conn).unwrap()
    }

    /// Connections the server accepted since it started (`INFO stats`), this one included.
    pub fn connections_received(&self) -> usize {
        let info: String = self.cmd(&[b"INFO", b"stats"]);
        info.lines()
            .find_map(|l| l.strip_prefix("total_connections_received:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("total_connections_received in INFO")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A stopped server must be continued to die of SIGKILL's cleanup in time.
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
        }
        self.kill();
    }
}

/// The fleet's figures, summed over its workers (the longest store wait is the longest any
/// worker met).
#[derive(Debug, Default)]
pub struct Totals {
    pub sent: usize,
    pub ok: usize,
    pub failed: usize,
    pub r429: usize,
    pub r429_after_headers: usize,
    pub store_wait_max_ms: f64,
    pub stderr: String,
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent {} ok {} failed {} 429s {} (after headers {}) longest wait on the store {:.1} ms",
            self.sent, self.ok, self.failed, self.r429, self.r429_after_headers, self.store_wait_max_ms
        )
    }
}

/// How the fleet sends.
pub struct Fleet<'a> {
    pub redis: &'a str,
    pub url: &'a str,
    pub key: &'a str,
    pub each: usize,
    pub gap_ms: u64,
}

impl Fleet<'_> {
    /// Runs `WORKERS` workers while `during` does what the test injects; their figures.
    pub fn run(&self, during: impl FnOnce()) -> Totals {
        let children: Vec<Child> = (0..WORKERS)
            .map(|_| {
                Command::new(worker_binary())
                    .args(["--redis", self.redis, "--url", self.url, "--requests", &self.each.to_string()])
                    .args(["--key", self.key, "--gap-ms", &self.gap_ms.to_string()])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("the worker example (built by cargo test)")
            })
            .collect();
        during();
        let mut totals = Totals::default();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(out.status.success(), "a worker failed: {stdout} {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            let field = |name: &str| -> f64 {
                stdout
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{name} in {stdout:?}"))
            };
            totals.sent += field("sent") as usize;
            totals.ok += field("ok") as usize;
            totals.failed += field("failed") as usize;
            totals.r429 += field("r429") as usize;
            totals.r429_after_headers += field("r429_after_headers") as usize;
            totals.store_wait_max_ms = totals.store_wait_max_ms.max(field("store_wait_max_ms"));
            totals.stderr.push_str(&stderr);
        }
        totals
    }
}

pub fn limited_server(limit: usize, window: Duration) -> server::Server {
    server::Server::start(server::Behaviour::RateLimited { limit, window })
}

/// A server whose first answer is a 429 asking for `seconds` in the `events` context; every
/// other answer a 201.
pub fn holding_server(seconds: u32) -> server::Server {
    let script = std::collections::VecDeque::from([server::Answer::new(
        429,
        r#"{"errorMessage":"Too many requests."}"#,
    )
    .header("Retry-After", seconds.to_string())
    .header("X-RateLimit-Context", "events")]);
    server::Server::start(server::Behaviour::Script(script))
}

/// The server's first answer is a 429 asking for 3 s; every other answer a 201. Each worker
/// sends a request every 0.4 s for about 5 s: how many did the fleet send during those 3 s?
pub fn sends_during_a_hold(redis: &str, key: &str) -> (usize, Vec<server::Received>) {
    const REQUESTS: usize = 12;
    let server = holding_server(3);
    let totals = Fleet { redis, url: &server.url, key, each: REQUESTS, gap_ms: 400 }.run(|| {});
    let received = server.received();
    assert_eq!(totals.ok, WORKERS * REQUESTS, "{totals:?}");
    let told = received.iter().find(|r| r.status == 429).map(|r| r.at).expect("the 429");
    // Sends already on their way when the 429 was observed get a quarter of a second.
    let held = told + Duration::from_millis(250)..told + Duration::from_secs(3);
    (received.iter().filter(|r| held.contains(&r.at)).count(), received)
}
