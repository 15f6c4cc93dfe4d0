//! Measures the feature pipeline alone (no parsing) on synthetic access-log records.
//!
//! `cargo run --release -p anomalog-features --example throughput [RECORDS]`

use std::borrow::Cow;
use std::time::Instant;

use anomalog_features::{Families, FeatureConfig, FeaturePipeline};
use anomalog_ingest::{Record, Timestamp};

const PAGES: [&str; 8] = [
    "/",
    "/index.html",
    "/products/{}",
    "/item.jsp?id={}&color=red",
    "/search?q=blue+shoes+{}",
    "/static/app.{}.js",
    "/api/v1/orders/{}?expand=items",
    "/cart/add",
];

fn records(n: usize, seed: u64) -> Vec<Record<'static>> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let r = next();
            let page = PAGES[(r % 8) as usize].replace("{}", &(r >> 8 & 1023).to_string());
            let status = match r >> 20 & 63 {
                0 => 404,
                1 => 500,
                2 | 3 => 304,
                _ => 200,
            };
            Record {
                ts: Timestamp::from_unix_secs_f64(1.7e9 + i as f64 * 0.01),
                // A few thousand clients, some much busier than others.
                client: Some(Cow::Owned(format!("10.0.{}.{}", (r >> 30 & 15) * (r >> 34 & 15), r >> 40 & 255))),
                method: Some(Cow::Borrowed(if r >> 50 & 7 == 0 { "POST" } else { "GET" })),
                target: Some(Cow::Owned(page)),
                protocol: Some(Cow::Borrowed("HTTP/1.1")),
                status: Some(status),
                bytes: Some(r >> 12 & 65535),
                referer: Some(Cow::Borrowed("https://shop.example.com/")),
                user_agent: Some(Cow::Borrowed(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
                )),
                request_time: Some((r >> 24 & 255) as f64 / 1000.0),
                ..Record::default()
            }
        })
        .collect()
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(500_000);
    let train =
        records(std::env::var("TRAIN").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000), 7);
    let t = Instant::now();
    let mut config = FeatureConfig::default();
    if let Ok(list) = std::env::var("FAMILIES") {
        let on = |name: &str| list.split(',').any(|f| f == name);
        config.families = Families {
            lexical: on("lexical"),
            client: on("client"),
            site: on("site"),
            time: on("time"),
            params: on("params"),
        };
    }
    let (pipeline, _) = match FeaturePipeline::fit(config, &train) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("fit failed: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "fit: {} records, {} features, {:.2} s",
        train.len(),
        pipeline.names().len(),
        t.elapsed().as_secs_f64()
    );
    // Records arrive in batches, as they would from a parser, so the timed loop reads
    // recently written memory rather than a gigabyte of records built up front.
    let mut stream = pipeline.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    // A hash of every raw and scaled bit: equal checksums mean identical outputs.
    let mut checksum = 0u64;
    let mut secs = 0.0;
    const BATCH: usize = 10_000;
    for b in 0..n.div_ceil(BATCH) {
        let mut batch = records(BATCH.min(n - b * BATCH), 11 + b as u64);
        for (i, r) in batch.iter_mut().enumerate() {
            r.ts = Timestamp::from_unix_secs_f64(1.7e9 + 2000.0 + ((b * BATCH + i) as f64) * 0.01);
        }
        let t = Instant::now();
        for r in &batch {
            stream.push(r, &mut raw, &mut scaled);
            for x in raw.iter().chain(&scaled) {
                checksum =
                    (checksum.rotate_left(5) ^ x.to_bits()).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
            }
        }
        secs += t.elapsed().as_secs_f64();
    }
    println!(
        "push: {} records in {:.3} s = {:.0} records/s ({} clients tracked, ~{} bytes each; checksum {checksum:016x})",
        n,
        secs,
        n as f64 / secs,
        stream.tracked_clients(),
        stream.bytes_per_client()
    );
}
