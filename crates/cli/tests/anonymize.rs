//! `anomalog anonymize` on real files: no raw address or secret survives, the format
//! and the line count do.

use assert_cmd::Command;
use predicates::prelude::*;

const LOG: &str = "\
203.0.113.7 - - [02/Mar/2026:10:00:00 +0000] \"GET /login?user=alice&password=hunter2hunter2 HTTP/1.1\" 302 0 \"-\" \"Mozilla/5.0\" 0.010
2001:db8::42 - - [02/Mar/2026:10:00:01 +0000] \"GET /account?email=alice%40example.com&token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl HTTP/1.1\" 200 512 \"-\" \"curl/8.0\" 0.004
garbage from 198.51.100.23 with password=letmein
203.0.113.7 - - [02/Mar/2026:10:00:02 +0000] \"GET /product/12 HTTP/1.1\" 200 5120 \"-\" \"Mozilla/5.0\" 0.021
";

const SECRETS: [&str; 8] = [
    "203.0.113.7",
    "2001:db8::42",
    "198.51.100.23",
    "hunter2hunter2",
    "alice%40example.com",
    "eyJhbGciOiJIUzI1NiJ9",
    "letmein",
    "c2lnbmF0dXJl",
];

fn anonymize(dir: &std::path::Path, key: &str, extra: &[&str]) -> String {
    let log = dir.join("access.log");
    std::fs::write(&log, LOG).unwrap();
    let out = dir.join("shared.log");
    Command::cargo_bin("anomalog")
        .unwrap()
        .args(["anonymize", "--format", "combined", "-o"])
        .arg(&out)
        .args(extra)
        .arg(&log)
        .env("ANOMALOG_KEY", key)
        .assert()
        .success();
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn keyed_pseudonyms_are_stable_and_secrets_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let a = anonymize(dir.path(), "a key of sufficient length", &[]);
    for secret in SECRETS {
        assert!(!a.contains(secret), "{secret} survived:\n{a}");
    }
    assert_eq!(a.lines().count(), LOG.lines().count());
    // The same client gets the same pseudonym on both of its lines.
    let first: Vec<&str> = a.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(first[0], first[3]);
    assert!(first[0].starts_with("ip4-"), "{}", first[0]);
    assert!(first[1].starts_with("ip6-"), "{}", first[1]);
    // Same key, same output; another key, other pseudonyms.
    assert_eq!(a, anonymize(dir.path(), "a key of sufficient length", &[]));
    assert_ne!(a, anonymize(dir.path(), "another key, also long enough", &[]));

    // The output still parses as the same format, with the same statuses.
    let shared = dir.path().join("shared.log");
    Command::cargo_bin("anomalog")
        .unwrap()
        .args(["parse", "--stats", "--format", "combined"])
        .arg(&shared)
        .assert()
        .success()
        .stdout(predicate::str::contains("records     3"));
}

#[test]
fn truncation_keeps_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let out = anonymize(dir.path(), "", &["--truncate"]);
    assert!(out.starts_with("203.0.113.0 "), "{out}");
    assert!(!out.contains("hunter2hunter2"));
}

#[test]
fn a_short_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, LOG).unwrap();
    Command::cargo_bin("anomalog")
        .unwrap()
        .args(["anonymize", "-o", "-", "--key", "short"])
        .arg(&log)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("16"))
        .stderr(predicate::str::contains("short").not());
}
