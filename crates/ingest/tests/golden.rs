//! Golden tests: every `tests/golden/<case>/input.log` is parsed unit by unit with the
//! format of `format.txt` (or the directory name when there is none), and each record
//! (serialized as JSON) or reject (`{"reject":..,"field":..,"column":..}`) must equal
//! the matching line of `expected.jsonl`.
//!
//! `UPDATE_GOLDEN=1 cargo test -p anomalog-ingest --test golden` rewrites the expected
//! files; review the diff by eye before keeping it.
//!
//! Also parses the real access logs of `../shared/data/real-logs` (relative to the
//! workspace root) with `combined` when they are there, and skips silently otherwise.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anomalog_ingest::formats::{self, FormatOptions, csic2010};
use anomalog_ingest::{Format, Framing};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The units of an input: lines, or framed HTTP requests.
fn units(format: &dyn Format, input: &[u8]) -> Vec<Vec<u8>> {
    match format.framing() {
        Framing::HttpRequest => {
            csic2010::split_requests(input).into_iter().map(|(_, u)| u).collect()
        }
        Framing::Line => {
            let body = input.strip_suffix(b"\n").unwrap_or(input);
            body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
        }
    }
}

fn render(format: &dyn Format, unit: &[u8]) -> String {
    match format.parse(unit) {
        Ok(record) => serde_json::to_string(&record).expect("records serialize"),
        Err(e) => serde_json::json!({
            "reject": e.reason.as_str(),
            "field": e.field,
            "column": e.column,
        })
        .to_string(),
    }
}

#[test]
fn golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<PathBuf> = fs::read_dir(golden_dir())
        .expect("tests/golden exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "golden cases missing: {cases:?}");
    let mut failures = Vec::new();
    for case in cases {
        let name = case.file_name().and_then(|n| n.to_str()).expect("utf-8 case name").to_string();
        let spec = match fs::read_to_string(case.join("format.txt")) {
            Ok(s) => s.trim_end_matches(['\n', '\r']).to_string(),
            Err(_) => name.clone(),
        };
        let opts = match fs::read_to_string(case.join("fields.txt")) {
            Ok(s) => FormatOptions {
                json_fields: s
                    .lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            Err(_) => FormatOptions::default(),
        };
        let format = formats::from_spec(&spec, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let input = fs::read(case.join("input.log")).expect("input.log");
        let actual: Vec<String> =
            units(format.as_ref(), &input).iter().map(|u| render(format.as_ref(), u)).collect();
        let expected_path = case.join("expected.jsonl");
        if update {
            fs::write(&expected_path, actual.join("\n") + "\n").expect("write expected.jsonl");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        let expected: Vec<&str> = expected.lines().collect();
        if expected.len() != actual.len() {
            failures.push(format!(
                "{name}: {} units, {} expected lines",
                actual.len(),
                expected.len()
            ));
        }
        for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
            if a != e {
                failures.push(format!("{name} unit {}:\n  got      {a}\n  expected {e}", i + 1));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (UPDATE_GOLDEN=1 to rewrite):\n{}",
        failures.join("\n")
    );
}

/// Every line of the real logs parses as `combined`, except lines listed here with why.
#[test]
fn real_logs_parse_as_combined() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real-logs");
    let Ok(entries) = fs::read_dir(&dir) else { return };
    let format = formats::from_spec("combined", &FormatOptions::default()).expect("combined");
    let mut files = 0;
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("gz") {
            continue;
        }
        files += 1;
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(fs::File::open(&path).expect("open"))
            .read_to_end(&mut text)
            .expect("gunzip");
        let (mut records, mut truncated) = (0, 0);
        for (n, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            match format.parse(line) {
                Ok(r) => {
                    records += 1;
                    assert!(r.ts.is_some() && r.status.is_some(), "{}:{}", path.display(), n + 1);
                    if r.extra("truncated").is_some() {
                        truncated += 1;
                    }
                }
                Err(e) => {
                    panic!("{}:{}: {e}: {}", path.display(), n + 1, String::from_utf8_lossy(line))
                }
            }
        }
        eprintln!("{}: {records} records, {truncated} truncated", path.display());
        assert!(records > 1000, "{}: only {records} records", path.display());
        // semicomplete-2015-05 has one line cut inside the user agent (line 8899).
        assert!(truncated <= 1, "{}: {truncated} truncated lines", path.display());
    }
    assert!(files == 0 || files >= 3);
}

/// Every request of the CSIC 2010 files in `../shared/data/csic2010` (when there)
/// frames and parses, and the counts match the data set's.
#[test]
fn csic2010_files_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/csic2010");
    let format = formats::from_spec("csic2010", &FormatOptions::default()).expect("csic2010");
    for (file, requests) in [
        ("normalTrafficTraining.txt.gz", 36_000),
        ("normalTrafficTest.txt.gz", 36_000),
        ("anomalousTrafficTest.txt.gz", 25_065),
    ] {
        let Ok(f) = fs::File::open(dir.join(file)) else { return };
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(f).read_to_end(&mut text).expect("gunzip");
        let units = csic2010::split_requests(&text);
        assert_eq!(units.len(), requests, "{file}");
        for (line, unit) in &units {
            let r = format.parse(unit).unwrap_or_else(|e| panic!("{file}:{line}: {e}"));
            assert!(r.path().is_some_and(|p| p.starts_with('/')), "{file}:{line}");
            if r.method.as_deref() == Some("POST") {
                assert!(r.body.is_some(), "{file}:{line}: POST without body");
            }
        }
    }
}
