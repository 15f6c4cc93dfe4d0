//! Single-core parse throughput of the line formats on generated lines.
//!
//! ```text
//! cargo run --release -p anomalog-ingest --example format_throughput [LINES]
//! ```
//!
//! Generates LINES (default 1,000,000) varied lines per format in memory, then times
//! `Format::parse` over them (best of three passes) and prints lines per second.

use std::hint::black_box;
use std::time::Instant;

use anomalog_ingest::formats::{self, FormatOptions};

const NGINX_TIMED: &str = r#"nginx:'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_response_time'"#;

const PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/api/v1/items?page=2&sort=desc",
    "/static/css/site.3f9a1c.css",
    "/search?q=wireless+headphones&cat=audio",
    "/wp-login.php",
    "/images/products/12345/large.jpg",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
    "curl/8.5.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
];

/// A tiny deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn combined_line(rng: &mut Rng, timed: bool) -> String {
    let ip = rng.next();
    let mut line = format!(
        "{}.{}.{}.{} - - [02/Mar/2026:{:02}:{:02}:{:02} +0100] \"GET {} HTTP/1.1\" {} {} \"{}\" \"{}\"",
        ip & 0xff,
        (ip >> 8) & 0xff,
        (ip >> 16) & 0xff,
        (ip >> 24) & 0xff,
        rng.next() % 24,
        rng.next() % 60,
        rng.next() % 60,
        rng.pick(PATHS),
        [200, 200, 200, 304, 404, 500][(rng.next() % 6) as usize],
        rng.next() % 100_000,
        if rng.next().is_multiple_of(2) { "-" } else { "https://www.example.com/" },
        rng.pick(AGENTS),
    );
    if timed {
        line.push_str(&format!(
            " {}.{:03} 0.{:03}",
            rng.next() % 3,
            rng.next() % 1000,
            rng.next() % 1000
        ));
    }
    line
}

fn json_line(rng: &mut Rng) -> String {
    let ip = rng.next();
    format!(
        r#"{{"time_local":"02/Mar/2026:{:02}:{:02}:{:02} +0100","remote_addr":"10.{}.{}.{}","remote_user":"-","request":"GET {} HTTP/1.1","status":"{}","body_bytes_sent":"{}","request_time":"0.{:03}","upstream_response_time":"0.{:03}","http_referer":"-","http_user_agent":"{}"}}"#,
        rng.next() % 24,
        rng.next() % 60,
        rng.next() % 60,
        ip & 0xff,
        (ip >> 8) & 0xff,
        (ip >> 16) & 0xff,
        rng.pick(PATHS),
        [200, 404][(rng.next() % 2) as usize],
        rng.next() % 100_000,
        rng.next() % 1000,
        rng.next() % 1000,
        rng.pick(AGENTS),
    )
}

fn measure(spec: &str, lines: &[String]) {
    let format = match formats::from_spec(spec, &FormatOptions::default()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{spec}: {e}");
            return;
        }
    };
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut best = f64::INFINITY;
    let mut ok = 0;
    for _ in 0..3 {
        let start = Instant::now();
        ok = 0;
        for line in lines {
            if let Ok(record) = format.parse(black_box(line.as_bytes())) {
                ok += 1;
                black_box(&record);
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    let name = format.name().chars().take(40).collect::<String>();
    println!(
        "{name:<42} {:>10.0} lines/s  {:>7.1} MB/s  ({ok}/{} parsed)",
        lines.len() as f64 / best,
        bytes as f64 / best / 1e6,
        lines.len()
    );
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let combined: Vec<String> = (0..n).map(|_| combined_line(&mut rng, false)).collect();
    measure("combined", &combined);
    let timed: Vec<String> = (0..n).map(|_| combined_line(&mut rng, true)).collect();
    measure("combined", &timed);
    measure(NGINX_TIMED, &timed);
    let json: Vec<String> = (0..n).map(|_| json_line(&mut rng)).collect();
    measure("json", &json);
}
