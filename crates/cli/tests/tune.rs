//! `anomalog tune` run as a user would: on simulated labeled traffic, with the built
//! binary, a small random budget and the model it writes loaded by `detect`.

mod common;

use std::path::Path;

use common::{anomalog, simulated};
use predicates::prelude::*;

/// `tune` on `log`, split in half, with a budget of 4 and extra arguments. The detectors
/// are the quick ones, so the test stays short in a debug build.
fn tune(log: &Path, labels: &Path, extra: &[&str]) -> std::process::Output {
    let out = anomalog()
        .arg("tune")
        .arg(log)
        .arg("--labels")
        .arg(labels)
        .args(["--split", "0.5", "--budget", "4", "--seed", "3"])
        .args(["--detectors", "iforest,hbos,zscore,ensemble"])
        .args(["--windows", "10,60,600", "--windows", "30,300"])
        .args(extra)
        .output()
        .expect("tune runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn table_is_ranked_json_parses_and_the_model_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (log, labels) = simulated(dir.path(), 8000, 11);
    let model = dir.path().join("best.model");

    let out = tune(&log, &labels, &["-o", model.to_str().unwrap()]);
    let table = String::from_utf8(out.stdout).unwrap();
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for column in ["rank", "detector", "params", "windows", "PR-AUC", "ROC-AUC", "F1", "fit s"] {
        assert!(header.contains(column), "{column} missing from {header}");
    }
    let rows: Vec<Vec<&str>> =
        lines.take_while(|l| !l.is_empty()).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 4, "{table}");
    let ranks: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(ranks, ["1", "2", "3", "4"], "{table}");
    // PR-AUC is the fourth column from the end: PR-AUC, ROC-AUC, F1, fit s.
    let pr_auc: Vec<f64> = rows.iter().map(|r| r[r.len() - 4].parse().unwrap()).collect();
    assert!(pr_auc.windows(2).all(|w| w[0] >= w[1]), "not ranked by PR-AUC: {table}");
    assert!(table.contains("held-out    pr_auc"), "{table}");
    assert!(table.contains("best        "), "{table}");

    anomalog()
        .args(["detect", "--model"])
        .arg(&model)
        .arg(&log)
        .args(["--output", "jsonl"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"score\""));

    // Same seed, same search: the JSON ranking agrees with the table, and the report
    // charts it.
    let html = dir.path().join("tune.html");
    let out = tune(&log, &labels, &["--json", "--report", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Validation PR-AUC") && page.contains("Cost and quality"));
    assert_eq!(page.matches("<svg").count(), 2);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let candidates = v["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 4);
    let json_pr: Vec<f64> = candidates.iter().map(|c| c["pr_auc"].as_f64().unwrap()).collect();
    assert!(json_pr.windows(2).all(|w| w[0] >= w[1]));
    for (a, b) in json_pr.iter().zip(&pr_auc) {
        assert!((a - b).abs() < 1e-4, "json {a} vs table {b}");
    }
    assert_eq!(candidates[0]["rank"], 1);
    assert_eq!(v["best"]["detector"], candidates[0]["detector"]);
    assert!(v["best"]["held_out"]["pr_auc"].is_number());
    assert!(v["best"]["held_out"]["f1"].is_number());
    assert_eq!(v["train_records"], 4000);
    let (val, held) = (&v["validation"]["records"], &v["held_out"]["records"]);
    assert_eq!(val.as_u64().unwrap() + held.as_u64().unwrap(), 4000);
}

#[test]
fn bad_options_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("tiny.log");
    std::fs::write(&log, "").unwrap();
    anomalog()
        .args(["tune", "--validation", "1.5", "--split", "0.5"])
        .arg(&log)
        .assert()
        .failure()
        .stderr(predicate::str::contains("--validation 1.5"));
    anomalog()
        .args(["tune", "--windows", "10,zero", "--split", "0.5"])
        .arg(&log)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("zero"));
    anomalog()
        .args(["tune", "--detectors", "forest", "--split", "0.5"])
        .arg(&log)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("iforest"));
}
