//! `anomalog feedback` against a real SQLite store.

use anomalog_server::{Feedback, IncidentRow, Severity, Status, Store};
use assert_cmd::Command;
use predicates::prelude::*;

#[test]
fn marks_known_incidents_and_refuses_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("anomalog.db");
    let store = Store::open(&db).unwrap();
    store
        .upsert_incident(&IncidentRow {
            id: "9f2c41d07a1b3e55".into(),
            client: Some("203.0.113.9".into()),
            category: "sqli".into(),
            severity: Severity::High,
            first_seen: 1_772_445_600,
            last_seen: 1_772_445_660,
            count: 3,
            max_score: 0.999,
            samples: Vec::new(),
            explanation: Vec::new(),
            status: Status::Open,
            feedback: None,
        })
        .unwrap();
    let anomalog = || Command::cargo_bin("anomalog").unwrap();
    anomalog()
        .args(["feedback", "--db"])
        .arg(&db)
        .args(["9f2c41d07a1b3e55", "fp"])
        .assert()
        .success()
        .stdout(predicate::str::contains("marked fp"));
    let row = store.get_incident("9f2c41d07a1b3e55").unwrap().unwrap();
    assert_eq!(row.feedback, Some(Feedback::FalsePositive));
    anomalog()
        .args(["feedback", "--db"])
        .arg(&db)
        .args(["no-such-incident", "confirmed"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no incident no-such-incident"));
    anomalog().args(["feedback", "x", "maybe"]).assert().code(2);
}
