//! What the integration tests of the `anomalog` binary share: running it, a model
//! trained on simulated traffic, attack lines, bounded waits, loopback HTTP and a
//! daemon process that is killed when dropped.

#![allow(dead_code, reason = "each test crate uses a part of it")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_anomalog")
}

/// The binary as a command with assertions on its output.
pub fn anomalog() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("anomalog").expect("binary built")
}

/// A simulated log and its labels, `lines` lines with `seed`, in `dir`
/// (`shop-SEED.log`, `shop-SEED.labels`).
pub fn simulated(dir: &Path, lines: usize, seed: u64) -> (PathBuf, PathBuf) {
    let log = dir.join(format!("shop-{seed}.log"));
    let labels = dir.join(format!("shop-{seed}.labels"));
    let out = anomalog()
        .args(["simulate", "--lines", &lines.to_string(), "--seed", &seed.to_string(), "--out"])
        .arg(&log)
        .arg("--labels")
        .arg(&labels)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("wrote {lines} lines")), "{stdout}");
    (log, labels)
}

/// Runs `anomalog ARGS` in `dir`; panics with its stderr unless it succeeds.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(exe()).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A model (`m.model` in `dir`) trained on `train_lines` of simulated traffic (seed 3),
/// and `normal_lines` more lines of the same site without attacks (seed 9) to replay.
pub fn trained(dir: &Path, train_lines: usize, normal_lines: usize) -> (PathBuf, Vec<String>) {
    let (train, normal) = (train_lines.to_string(), normal_lines.to_string());
    run(dir, &["simulate", "--lines", &train, "--seed", "3", "--out", "train.log"]);
    run(dir, &["train", "train.log", "-o", "m.model"]);
    let normal_args = ["--lines", &normal, "--seed", "9", "--attack-fraction", "0"];
    run(dir, &[&["simulate", "--out", "normal.log"][..], &normal_args].concat());
    let normal = std::fs::read_to_string(dir.join("normal.log")).unwrap();
    (dir.join("m.model"), normal.lines().map(String::from).collect())
}

/// `n` lines of an sqlmap UNION SELECT burst from `client`, without line ends.
pub fn sqlmap(client: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "{client} - - [02/Mar/2026:10:00:{:02} +0000] \"GET /product?id=1%27%20UNION%20\
                 SELECT%20username,password%20FROM%20users--{i} HTTP/1.1\" 500 0 \"-\" \
                 \"sqlmap/1.7.2\" 0.004",
                i % 60
            )
        })
        .collect()
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Appends `text` to `path` (created if missing), as a web server writes its log.
pub fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `GET path` on loopback: status and body; `None` when nothing answers.
pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_string());
    Some((status, body))
}

/// The sum of the samples of metric `name` on `/metrics` (over its labels); `None` if
/// absent.
pub fn gauge(port: u16, name: &str) -> Option<f64> {
    let (_, body) = get(port, "/metrics")?;
    let values: Vec<f64> = body
        .lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with(['{', ' '])))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// A counter of `/metrics` (summed over its labels); `None` if absent.
pub fn metric(port: u16, name: &str) -> Option<u64> {
    gauge(port, name).map(|v| v as u64)
}

/// One HTTP request a [`receiver`] took: path and body.
pub type Received = (String, String);

/// A loopback HTTP receiver answering 200 to every request; hands `(path, body)` of
/// each to `keep` before answering (so a request counts as received once answered).
pub fn receiver(mut keep: impl FnMut(Received) -> bool + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = header.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
            let more = keep((path, String::from_utf8_lossy(&body).into_owned()));
            let mut stream = reader.into_inner();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if !more {
                return;
            }
        }
    });
    port
}

/// A running `anomalog` daemon serving HTTP on `port`, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub port: u16,
    stderr: PathBuf,
    limit: Duration,
}

impl Daemon {
    /// Spawns `command` (stdin and stdout closed, stderr to the file `stderr`) and waits
    /// up to `limit` until `/healthz` on `port` answers 200; panics with its stderr if
    /// it exits first.
    pub fn start(mut command: Command, port: u16, stderr: PathBuf, limit: Duration) -> Daemon {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut daemon = Daemon { child, port, stderr, limit };
        wait_for("/healthz", limit, || {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("exited ({status}): {}", daemon.stderr_text());
            }
            get(port, "/healthz").filter(|(s, _)| *s == 200)
        });
        daemon
    }

    /// What it wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends signal `name` (`TERM`, `HUP`, `STOP`, ...).
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([&format!("-{name}"), &pid]).status().unwrap().success());
    }

    /// SIGTERM, then waits for a clean exit; returns stderr.
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        let status = wait_for("the daemon to exit", self.limit, || self.child.try_wait().unwrap());
        let text = self.stderr_text();
        assert!(status.success(), "exit {status}: {text}");
        text
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
