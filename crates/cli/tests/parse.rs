//! `anomalog parse` run as a user would: the built binary on real files.

mod common;

use std::io::Write;

use common::anomalog;
use predicates::prelude::*;

const LINES: &str = r#"192.0.2.1 - - [02/Mar/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 512 "-" "Mozilla/5.0" 0.004
2001:db8::7 - alice [02/Mar/2026:10:00:01 +0000] "POST /login?next=%2F HTTP/2.0" 302 0 "https://shop.example/" "Mozilla/5.0 (X11)" 0.020
this line is garbage
192.0.2.9 - - [02/Mar/2026:10:00:02 +0000] "-" 400 0 "-" "-" 0.000
"#;

#[test]
fn jsonl_records_with_locations() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, LINES).unwrap();
    let out = anomalog().args(["parse", "--format", "combined"]).arg(&log).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["line"], 1);
    assert_eq!(rows[0]["path"], "/index.html");
    assert_eq!(rows[0]["request_time"], 0.004);
    assert_eq!(rows[1]["client"], "2001:db8::7");
    assert_eq!(rows[1]["query"], "next=%2F");
    assert_eq!(rows[1]["protocol"], "HTTP/2.0");
    assert_eq!(rows[2]["line"], 4);
    assert!(rows[2]["method"].is_null());
    assert!(rows[2]["referer"].is_null());
}

#[test]
fn stats_count_rejects_with_file_and_line_and_keep_them() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log.gz");
    let mut gz = flate2_writer(&log);
    gz.write_all(LINES.as_bytes()).unwrap();
    drop(gz);
    let rejects = dir.path().join("rejects.jsonl");
    anomalog()
        .args(["parse", "--stats", "--format", "combined", "--rejects"])
        .arg(&rejects)
        .arg(&log)
        .assert()
        .success()
        .stdout(predicate::str::contains("records     3"))
        .stdout(predicate::str::contains("rejected    1"))
        .stdout(predicate::str::contains("access.log.gz:3:"))
        .stdout(predicate::str::contains("GET").not());
    let kept = std::fs::read_to_string(&rejects).unwrap();
    let reject: serde_json::Value = serde_json::from_str(kept.trim()).unwrap();
    assert_eq!(reject["line"], 3);
    assert_eq!(reject["raw"], "this line is garbage");
}

#[test]
fn stdin_and_auto_detection() {
    anomalog()
        .args(["parse", "--output", "csv", "-"])
        .write_stdin(LINES)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("source,line,ts,client"))
        .stdout(predicate::str::contains("<stdin>,2,2026-03-02T10:00:01Z,2001:db8::7"))
        .stderr(predicate::str::contains("format combined"));
}

#[test]
fn wrong_format_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.json");
    std::fs::write(&log, "{\"msg\": \"hello\"}\n".repeat(500)).unwrap();
    let out = anomalog().args(["parse", "--format", "common"]).arg(&log).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("app.json") && err.contains("common") && err.contains("line 1"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn usage_errors_exit_2_and_missing_files_exit_1() {
    anomalog().args(["parse", "--output", "xml"]).assert().code(2);
    anomalog()
        .args(["parse", "/no/such/access.log"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("/no/such/access.log"));
}

fn flate2_writer(path: &std::path::Path) -> impl Write {
    let file = std::fs::File::create(path).unwrap();
    flate2::write::GzEncoder::new(file, flate2::Compression::fast())
}
