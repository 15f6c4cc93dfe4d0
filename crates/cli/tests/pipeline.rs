//! The batch pipeline run as a user would: simulate, train, detect, eval, features, demo,
//! with the built binary on real files.

mod common;

use std::path::{Path, PathBuf};

use common::{anomalog, simulated};
use predicates::prelude::*;

fn trained(dir: &Path, log: &Path) -> PathBuf {
    let model = dir.join("shop.model");
    anomalog()
        .arg("train")
        .arg(log)
        .arg("-o")
        .arg(&model)
        .assert()
        .success()
        .stdout(predicate::str::contains("trained ensemble on"));
    model
}

#[test]
fn simulate_is_deterministic_and_labels_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let (log_a, labels_a) = simulated(dir.path(), 3000, 9);
    let a = std::fs::read(&log_a).unwrap();
    std::fs::rename(&log_a, dir.path().join("first.log")).unwrap();
    let (log_b, _) = simulated(dir.path(), 3000, 9);
    assert_eq!(a, std::fs::read(&log_b).unwrap());
    let text = String::from_utf8(a).unwrap();
    let labels = std::fs::read_to_string(labels_a).unwrap();
    assert_eq!(text.lines().count(), 3000);
    assert_eq!(labels.lines().count(), 3000);
    assert!(labels.lines().any(|l| l.starts_with("1 ")));
}

#[test]
fn train_then_detect_flags_an_injected_attack_with_an_explanation() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = simulated(dir.path(), 12_000, 5);
    let model = trained(dir.path(), &log);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&model).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "model files are owner-only");
    }
    let probe = dir.path().join("probe.log");
    std::fs::write(
        &probe,
        "203.0.113.50 - - [02/Mar/2026:23:59:00 +0000] \"GET /product/12 HTTP/1.1\" 200 5120 \"-\" \"Mozilla/5.0\" 0.021\n\
         198.51.100.66 - - [02/Mar/2026:23:59:01 +0000] \"GET /search?q=%27%20UNION%20SELECT%20username%2C%20password%20FROM%20users--%20 HTTP/1.1\" 500 0 \"-\" \"sqlmap/1.7.2#stable (https://sqlmap.org)\" 0.003\n",
    )
    .unwrap();
    let out = anomalog()
        .args(["detect", "--output", "jsonl", "--model"])
        .arg(&model)
        .arg(&probe)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let findings: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let attack = findings.iter().find(|f| f["line"] == 2).expect("the injection is flagged");
    for key in ["line", "ts", "client", "request", "status", "score", "explanation", "detector"] {
        assert!(attack.get(key).is_some(), "missing {key}: {attack}");
    }
    assert_eq!(attack["category"], "sqli");
    let score = attack["score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score));
    let explanation = attack["explanation"].as_array().unwrap();
    assert!(!explanation.is_empty());
    for key in ["feature", "value", "typical", "contribution"] {
        assert!(explanation[0].get(key).is_some(), "explanation lacks {key}");
    }

    // --all prints every record, flagged or not.
    anomalog()
        .args(["detect", "--all", "--output", "csv", "--model"])
        .arg(&model)
        .arg(&probe)
        .assert()
        .success()
        .stdout(predicate::function(|s: &str| s.lines().count() == 3));
}

#[test]
fn eval_split_prints_the_spec_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (log, labels) = simulated(dir.path(), 12_000, 11);
    let report = dir.path().join("report.html");
    let out = anomalog()
        .arg("eval")
        .arg(&log)
        .arg("--labels")
        .arg(&labels)
        .args(["--split", "0.5", "--json", "--detector", "hbos", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "records",
        "anomalies",
        "roc_auc",
        "pr_auc",
        "precision",
        "recall",
        "f1",
        "threshold",
        "false_positive_rate",
        "per_category",
        "detector",
        "train_records",
        "train_seconds",
        "score_records_per_second",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["detector"], "hbos");
    assert_eq!(v["records"], 6000);
    assert_eq!(v["train_records"], 6000);
    assert!(v["roc_auc"].as_f64().unwrap() > 0.8, "{v}");
    let html = std::fs::read_to_string(report).unwrap();
    assert!(html.contains("<svg") && !html.contains("<script>alert"));
}

#[test]
fn eval_on_raw_http_requests_labeled_by_file() {
    let dir = tempfile::tempdir().unwrap();
    let request = |i: usize, id: &str| {
        format!(
            "GET http://localhost:8080/tienda1/publico/anadir.jsp?id={id}&nombre=Vino+Rioja&precio={}&cantidad={}&B1=A%F1adir+al+carrito HTTP/1.1\r\n\
             User-Agent: Mozilla/5.0 (compatible; Konqueror/3.5; Linux) KHTML/3.5.8 (like Gecko)\r\n\
             Host: localhost:8080\r\nCookie: JSESSIONID=ABC{i}\r\nConnection: close\r\n\r\n\r\n",
            80 + i % 40,
            1 + i % 9
        )
    };
    let train: String = (0..400).map(|i| request(i, &(i % 30).to_string())).collect();
    let normal: String = (400..460).map(|i| request(i, &(i % 30).to_string())).collect();
    let attacks: String =
        (0..20).map(|i| request(i, &format!("2%27%20AND%20%271%27%3D%271{i}"))).collect();
    for (name, text) in
        [("train.txt", &train), ("normal.txt", &normal), ("anomalous.txt", &attacks)]
    {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = anomalog()
        .current_dir(dir.path())
        .args([
            "eval",
            "--format",
            "csic2010",
            "--train",
            "train.txt",
            "--normal",
            "normal.txt",
            "--anomalous",
            "anomalous.txt",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"], 80);
    assert_eq!(v["anomalies"], 20);
    assert_eq!(v["train_records"], 400);
    assert!(v["roc_auc"].as_f64().unwrap() > 0.9, "{v}");
}

#[test]
fn features_dump_has_named_columns_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (log, labels) = simulated(dir.path(), 2000, 3);
    let out = anomalog().arg("features").arg(&log).arg("--labels").arg(&labels).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().next().unwrap();
    for column in ["line", "path_length", "sql_tokens", "client_rate_10s", "label", "category"] {
        assert!(header.split(',').any(|c| c == column), "no {column} in {header}");
    }
    assert_eq!(text.lines().count(), 2001);
}

#[test]
fn features_with_a_model_stream_the_same_rows_as_a_loaded_input() {
    let dir = tempfile::tempdir().unwrap();
    let (log, labels) = simulated(dir.path(), 3000, 4);
    let model = trained(dir.path(), &log);
    let run = |extra: &[&str]| {
        let out = anomalog()
            .arg("features")
            .arg("--scaled")
            .arg("--model")
            .arg(&model)
            .args(extra)
            .arg(&log)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    // Streamed from the line buffer...
    let streamed = run(&[]);
    // ...and, with labels, from records copied into memory first.
    let labels = labels.to_str().unwrap();
    let loaded = run(&["--labels", labels]);
    assert_eq!(streamed.lines().count(), 3001);
    for (s, l) in streamed.lines().zip(loaded.lines()) {
        let cut = l.rmatch_indices(',').nth(1).map_or(l.len(), |(i, _)| i);
        assert_eq!(s, &l[..cut]);
    }
    let stats = run(&["--stats"]);
    for key in ["records         3000", "parse ", "features ", "parse+features ", "clients "] {
        assert!(stats.contains(key), "{key}: {stats}");
    }
}

#[test]
fn a_corrupt_or_foreign_model_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = simulated(dir.path(), 3000, 2);
    let model = trained(dir.path(), &log);
    let mut bytes = std::fs::read(&model).unwrap();
    let truncated = dir.path().join("truncated.model");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    let flipped = dir.path().join("flipped.model");
    std::fs::write(&flipped, &bytes).unwrap();
    let foreign = dir.path().join("foreign.model");
    std::fs::write(&foreign, "not a model").unwrap();
    for bad in [truncated, flipped, foreign] {
        anomalog()
            .args(["detect", "--model"])
            .arg(&bad)
            .arg(&log)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(bad.file_name().unwrap().to_str().unwrap()))
            .stderr(predicate::str::contains("panicked").not());
    }
}

#[test]
fn demo_writes_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("demo");
    anomalog()
        .args(["demo", "--lines", "20000", "--dir"])
        .arg(&out_dir)
        .assert()
        .success()
        .stdout(predicate::str::contains("roc_auc"))
        .stdout(predicate::str::contains("report.html"));
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("<svg"));
    assert!(out_dir.join("shop.model").exists());
}

#[test]
fn training_on_nothing_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "").unwrap();
    anomalog()
        .arg("train")
        .arg(&empty)
        .arg("-o")
        .arg(dir.path().join("m.model"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no training records"));
}

#[test]
fn model_files_hold_no_client_address() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = simulated(dir.path(), 6000, 21);
    let model = trained(dir.path(), &log);
    let bytes = std::fs::read(&model).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let clients: std::collections::BTreeSet<&str> =
        text.lines().filter_map(|l| l.split(' ').next()).collect();
    assert!(clients.len() > 20, "{}", clients.len());
    for client in clients {
        let found = bytes.windows(client.len()).any(|w| w == client.as_bytes());
        assert!(!found, "client address {client} is stored in the model file");
    }
}
