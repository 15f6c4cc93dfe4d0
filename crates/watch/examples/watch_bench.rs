//! Load generator and alert receiver for `bench/watch.sh`.
//!
//! ```text
//! watch_bench --template T.log --out F.log --rate 50000 --secs 20 --hook 127.0.0.1:P \
//!     --metrics 127.0.0.1:Q --pid PID [--probes-per-sec 20] [--drain-secs 30]
//! ```
//!
//! Receives alerts on `--hook` (a minimal HTTP/1.1 server answering 200 to every POST),
//! waits for the daemon's `/metrics` on `--metrics`, then appends lines to `--out` at
//! `--rate` lines per second, in batches every 10 ms, for `--secs` seconds. The lines
//! are the template's, replayed in order; past its end the template starts again with
//! its timestamps shifted by its length, so log time never goes backwards. About
//! `--probes-per-sec` lines a second are replaced by a SQL injection from a client seen
//! nowhere else, whose query string carries the microsecond it was written
//! (`&t=1700000000123456`); when the `opened` alert of that client reaches the receiver,
//! the arrival time minus `t` is one write-to-delivery latency.
//!
//! Every 250 ms it samples the daemon's `anomalog_lines_read_total` and the process's
//! resident memory (`/proc/PID/status`). After generating it waits (at most
//! `--drain-secs`) for the daemon to read every line and for the probes' alerts, then
//! prints one JSON object on stdout: rates, lag, latency percentiles, memory, CPU.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anomalog_ingest::Timestamp;

const BATCH_EVERY: Duration = Duration::from_millis(10);
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    template: PathBuf,
    out: PathBuf,
    rate: u64,
    secs: f64,
    hook: String,
    metrics: String,
    pid: u32,
    probes_per_sec: u64,
    drain_secs: f64,
}

fn parse_args() -> Result<Args, Error> {
    let mut map = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(key) = it.next() {
        let name = key.strip_prefix("--").ok_or_else(|| format!("unexpected `{key}`"))?;
        let value = it.next().ok_or_else(|| format!("{key} needs a value"))?;
        map.insert(name.to_string(), value);
    }
    let get = |k: &str| map.get(k).cloned().ok_or_else(|| format!("--{k} is required"));
    Ok(Args {
        template: get("template")?.into(),
        out: get("out")?.into(),
        rate: get("rate")?.parse()?,
        secs: get("secs")?.parse()?,
        hook: get("hook")?,
        metrics: get("metrics")?,
        pid: get("pid")?.parse()?,
        probes_per_sec: map.get("probes-per-sec").map_or(Ok(20), |v| v.parse())?,
        drain_secs: map.get("drain-secs").map_or(Ok(30.0), |v| v.parse())?,
    })
}

fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// One template line: its bytes, and where its `[timestamp]` is with the instant.
struct Line {
    start: usize,
    end: usize,
    /// Bytes of the time text inside the brackets.
    ts: (usize, usize),
    secs: i64,
}

struct Template {
    data: Vec<u8>,
    lines: Vec<Line>,
    /// Seconds added to the timestamps on each pass over the template.
    period: i64,
}

impl Template {
    fn load(path: &PathBuf) -> Result<Template, Error> {
        let data = std::fs::read(path)?;
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, &b) in data.iter().enumerate() {
            if b != b'\n' {
                continue;
            }
            let line = &data[start..i];
            let open = line.iter().position(|&c| c == b'[');
            let close = line.iter().position(|&c| c == b']');
            if let (Some(o), Some(c)) = (open, close) {
                // Only `dd/Mon/yyyy:HH:MM:SS +0000` is rewritten: seconds, UTC.
                if let Some(t) = Timestamp::parse_clf(&line[o + 1..c]).filter(|_| c - o == 27) {
                    let ts = (start + o + 1, start + c);
                    lines.push(Line { start, end: i, ts, secs: t.unix_secs() });
                }
            }
            start = i + 1;
        }
        let first = lines.first().ok_or("the template has no combined-format line")?.secs;
        let last = lines.iter().map(|l| l.secs).max().unwrap_or(first);
        Ok(Template { data, lines, period: last - first + 1 })
    }
}

/// `dd/Mon/yyyy:HH:MM:SS +0000` of `secs`, cached for the last second asked.
#[derive(Default)]
struct ClfCache {
    secs: i64,
    text: Vec<u8>,
}

impl ClfCache {
    fn get(&mut self, secs: i64) -> &[u8] {
        if self.text.is_empty() || self.secs != secs {
            let t = Timestamp { unix_micros: secs * 1_000_000, offset_secs: 0 };
            let (y, mo, d, h, mi, s, _) = t.local_civil();
            self.text =
                format!("{d:02}/{}/{y:04}:{h:02}:{mi:02}:{s:02} +0000", MONTHS[mo as usize - 1])
                    .into_bytes();
            self.secs = secs;
        }
        &self.text
    }
}

struct Generator {
    template: Template,
    clf: ClfCache,
    next: u64,
    probe_every: u64,
    probes: u64,
}

impl Generator {
    /// Appends lines `next..next + n` to `buf`; `t` is the write time of this batch.
    fn fill(&mut self, buf: &mut Vec<u8>, n: u64, t: i64) {
        let count = self.template.lines.len() as u64;
        for _ in 0..n {
            let g = self.next;
            self.next += 1;
            let line = &self.template.lines[(g % count) as usize];
            let pass = (g / count) as i64;
            let data = &self.template.data;
            if g % self.probe_every == self.probe_every - 1 {
                self.probes += 1;
                let c = self.probes;
                let ts = self.clf.get(line.secs + pass * self.template.period);
                let _ = write!(buf, "10.{}.{}.{} - - [", (c >> 16) & 255, (c >> 8) & 255, c & 255);
                buf.extend_from_slice(ts);
                let _ = writeln!(
                    buf,
                    "] \"GET /search?q=1%27%20UNION%20SELECT%20username,password%20FROM%20users--\
                     &t={t} HTTP/1.1\" 500 0 \"-\" \"sqlmap/1.7.2\" 0.004"
                );
            } else if pass == 0 {
                buf.extend_from_slice(&data[line.start..=line.end]);
            } else {
                buf.extend_from_slice(&data[line.start..line.ts.0]);
                buf.extend_from_slice(self.clf.get(line.secs + pass * self.template.period));
                buf.extend_from_slice(&data[line.ts.1..=line.end]);
            }
        }
    }
}

/// Write-to-delivery latencies of the probes' `opened` alerts, in microseconds.
#[derive(Default)]
struct Received {
    latencies: Mutex<Vec<i64>>,
    events: AtomicU64,
}

fn serve_hook(listener: TcpListener, received: Arc<Received>) {
    for stream in listener.incoming().flatten() {
        let received = Arc::clone(&received);
        thread::spawn(move || {
            let _ = serve_connection(stream, &received);
        });
    }
}

/// Answers every request on one keep-alive connection with `200 OK`.
fn serve_connection(stream: TcpStream, received: &Received) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let arrived = now_us();
        writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")?;
        received.events.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = probe_time(&body) {
            received.latencies.lock().unwrap_or_else(|p| p.into_inner()).push(arrived - t);
        }
    }
}

/// The write time carried by an `opened` alert of a probe.
fn probe_time(body: &[u8]) -> Option<i64> {
    let event: serde_json::Value = serde_json::from_slice(body).ok()?;
    if event["event"] != "opened" {
        return None;
    }
    let request = event["incident"]["samples"][0]["request"].as_str()?;
    let digits = request.split("&t=").nth(1)?;
    digits.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// `anomalog_lines_read_total` from the daemon's `/metrics`.
fn lines_read(addr: &str) -> Option<u64> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("anomalog_lines_read_total "))
        .and_then(|v| v.trim().parse().ok())
}

/// Resident and peak resident memory of `pid` in MB, and its CPU seconds.
fn process(pid: u32) -> (f64, f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised name: utime and stime are the 12th and 13th.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map_or(Vec::new(), |(_, r)| r.split_whitespace().collect());
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // USER_HZ is 100 on Linux.
    (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0, (ticks(11) + ticks(12)) / 100.0)
}

struct Sample {
    at: f64,
    written: u64,
    read: u64,
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() -> Result<(), Error> {
    let args = parse_args()?;
    let received = Arc::new(Received::default());
    let listener = TcpListener::bind(&args.hook)?;
    {
        let received = Arc::clone(&received);
        thread::spawn(move || serve_hook(listener, received));
    }
    let waiting = Instant::now();
    while lines_read(&args.metrics).is_none() {
        if waiting.elapsed() > Duration::from_secs(60) {
            return Err("the daemon's /metrics did not answer within 60 s".into());
        }
        thread::sleep(Duration::from_millis(50));
    }
    let read0 = lines_read(&args.metrics).unwrap_or(0);
    let cpu0 = process(args.pid).2;

    let template = Template::load(&args.template)?;
    let mut generator = Generator {
        template,
        clf: ClfCache::default(),
        next: 0,
        probe_every: (args.rate / args.probes_per_sec.max(1)).max(2),
        probes: 0,
    };
    let mut out = OpenOptions::new().create(true).append(true).open(&args.out)?;
    let written = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let start = Instant::now();
    let sampler = {
        let (written, done, samples) =
            (Arc::clone(&written), Arc::clone(&done), Arc::clone(&samples));
        let (metrics, pid) = (args.metrics.clone(), args.pid);
        thread::spawn(move || {
            let mut rss_peak: f64 = 0.0;
            while !done.load(Ordering::Relaxed) {
                let w = written.load(Ordering::Relaxed);
                if let Some(r) = lines_read(&metrics) {
                    let at = start.elapsed().as_secs_f64();
                    let s = Sample { at, written: w, read: r.saturating_sub(read0) };
                    samples.lock().unwrap_or_else(|p| p.into_inner()).push(s);
                }
                rss_peak = rss_peak.max(process(pid).0);
                thread::sleep(SAMPLE_EVERY);
            }
            rss_peak
        })
    };

    let total = (args.rate as f64 * args.secs).round() as u64;
    let mut buf = Vec::with_capacity(1 << 20);
    let mut tick = start;
    while generator.next < total {
        tick += BATCH_EVERY;
        if let Some(wait) = tick.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let due = ((start.elapsed().as_secs_f64() * args.rate as f64) as u64).min(total);
        if due <= generator.next {
            continue;
        }
        buf.clear();
        generator.fill(&mut buf, due - generator.next, now_us());
        out.write_all(&buf)?;
        written.store(generator.next, Ordering::Relaxed);
    }
    let gen_secs = start.elapsed().as_secs_f64();
    let read_at_end = lines_read(&args.metrics).unwrap_or(read0).saturating_sub(read0);

    // Drain: every line read, then every probe's alert (or the time is up).
    let drain_start = Instant::now();
    let drain_limit = Duration::from_secs_f64(args.drain_secs);
    let mut drained = None;
    while drain_start.elapsed() < drain_limit {
        let read = lines_read(&args.metrics).unwrap_or(read0).saturating_sub(read0);
        if read >= total {
            drained = Some(drain_start.elapsed().as_secs_f64());
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let alerts_limit = Instant::now() + Duration::from_secs(10);
    while Instant::now() < alerts_limit {
        let got = received.latencies.lock().unwrap_or_else(|p| p.into_inner()).len() as u64;
        if got >= generator.probes {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    done.store(true, Ordering::Relaxed);
    let rss_peak_sampled = sampler.join().unwrap_or(0.0);
    let (rss, hwm, cpu1) = process(args.pid);

    let samples = samples.lock().unwrap_or_else(|p| p.into_inner());
    // Lag in lines over the second half of the run: bounded when it does not grow.
    let half: Vec<&Sample> =
        samples.iter().filter(|s| s.at >= gen_secs / 2.0 && s.at <= gen_secs).collect();
    let max_lag = half.iter().map(|s| s.written.saturating_sub(s.read)).max().unwrap_or(0);
    let end_lag = total.saturating_sub(read_at_end);
    let read_rate = match (half.first(), half.last()) {
        (Some(a), Some(b)) if b.at > a.at => (b.read - a.read) as f64 / (b.at - a.at),
        _ => f64::NAN,
    };
    let mut lat = received.latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    lat.sort_unstable();
    let result = serde_json::json!({
        "rate": args.rate,
        "secs": args.secs,
        "lines": total,
        "gen_rate": total as f64 / gen_secs,
        "read_rate": read_rate,
        "max_lag_lines": max_lag,
        "max_lag_secs": max_lag as f64 / args.rate as f64,
        "end_lag_lines": end_lag,
        "drain_secs": drained,
        "probes": generator.probes,
        "probe_alerts": lat.len(),
        "alerts": received.events.load(Ordering::Relaxed),
        "p50_ms": percentile(&lat, 0.5),
        "p99_ms": percentile(&lat, 0.99),
        "max_ms": percentile(&lat, 1.0),
        "rss_mb": rss,
        "rss_peak_mb": hwm.max(rss_peak_sampled),
        "cpu_secs": cpu1 - cpu0,
        "cpu_us_per_line": (cpu1 - cpu0) * 1e6 / total.max(1) as f64,
    });
    println!("{result}");
    Ok(())
}
