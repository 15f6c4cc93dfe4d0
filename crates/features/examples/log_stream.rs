//! Measures the feature stage on a real log: fits the default pipeline on the first
//! TRAIN records of LOG (combined format), then streams the next RECORDS records
//! through [`FeatureStream::push`](anomalog_features::FeatureStream::push).
//!
//! ```text
//! cargo run --release -p anomalog-features --example log_stream -- LOG [TRAIN] [RECORDS]
//! ```
//!
//! Prints records/s of the push loop and, with `CHECKSUM=1` in the environment, a
//! checksum of every raw and scaled bit, so two builds can be compared for identical
//! outputs. Under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*FeatureStream*push*'`
//! it gives the instructions per record of the feature stage alone.

use std::fs::File;
use std::time::Instant;

use anomalog_features::{FeatureConfig, FeaturePipeline};
use anomalog_ingest::Record;
use anomalog_ingest::formats::{self, FormatOptions};
use anomalog_ingest::lines::{LineReader, Unit};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: log_stream LOG [TRAIN] [RECORDS]");
        std::process::exit(2);
    };
    let train_n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let format = match formats::from_spec("combined", &FormatOptions::default()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let mut lines = LineReader::new(file);
    let mut records: Vec<Record<'static>> = Vec::with_capacity(train_n + n);
    while records.len() < train_n + n {
        match lines.next_line() {
            Ok(Some((_, Unit::Data(raw)))) => {
                if let Ok(r) = format.parse(raw) {
                    records.push(r.into_owned());
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        }
    }
    let split = train_n.min(records.len());
    let (train, test) = records.split_at(split);
    let t = Instant::now();
    let (pipeline, _) = match FeaturePipeline::fit(FeatureConfig::default(), train) {
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
    let mut stream = pipeline.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    // A hash of every raw and scaled bit: equal checksums mean identical outputs. It
    // is computed only when asked, since it costs about as much as a fast push.
    let checked = std::env::var_os("CHECKSUM").is_some();
    let mut checksum = 0u64;
    let t = Instant::now();
    for r in test {
        stream.push(r, &mut raw, &mut scaled);
        if checked {
            for x in raw.iter().chain(&scaled) {
                checksum =
                    (checksum.rotate_left(5) ^ x.to_bits()).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "push: {} records in {:.3} s = {:.0} records/s ({} clients tracked, ~{} bytes each; checksum {checksum:016x})",
        test.len(),
        secs,
        test.len() as f64 / secs,
        stream.tracked_clients(),
        stream.bytes_per_client()
    );
}
