//! `anomalog drift` run as a user would: simulate, train, then compare the training log
//! and a moved, faster version of it with the model.

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn anomalog() -> Command {
    let mut cmd = Command::cargo_bin("anomalog").expect("binary built");
    cmd.timeout(Duration::from_secs(300));
    cmd
}

/// The same traffic under a new section of the site (`/x` becomes `/new-section/x`) at
/// twice the rate (every timestamp's time of day halved, so a day of requests arrives
/// in twelve hours).
fn moved_and_faster(log: &str) -> String {
    let mut out = String::with_capacity(log.len() + log.len() / 8);
    for line in log.lines() {
        out.push_str(&shift_line(line).unwrap_or_else(|| line.to_string()));
        out.push('\n');
    }
    out
}

fn shift_line(line: &str) -> Option<String> {
    // [02/Mar/2026:10:00:00 +0000]
    let open = line.find('[')?;
    let time_at = open + 1 + line[open..].find(':')?;
    let hms = line.get(time_at..time_at + 8)?;
    let field = |i: usize| hms.get(i..i + 2)?.parse::<u32>().ok();
    let secs = (field(0)? * 3600 + field(3)? * 60 + field(6)?) / 2;
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    // "GET /path HTTP/1.1"
    let request = time_at + line[time_at..].find('"')? + 1;
    let path = request + line[request..].find(' ')? + 1;
    let mut shifted = String::with_capacity(line.len() + 12);
    shifted.push_str(&line[..time_at]);
    shifted.push_str(&time);
    shifted.push_str(&line[time_at + 8..path]);
    if line[path..].starts_with('/') {
        shifted.push_str("/new-section");
    }
    shifted.push_str(&line[path..]);
    Some(shifted)
}

fn drift_json(model: &Path, log: &Path) -> Value {
    let out = anomalog().arg("drift").arg("--model").arg(model).arg("--json").arg(log).output();
    let out = out.expect("drift runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// The features sorted by PSI, most drifted first.
fn ranked(report: &Value) -> Vec<(String, f64)> {
    let features = report["features"].as_object().expect("features object");
    let mut psi: Vec<(String, f64)> = features
        .iter()
        .map(|(name, f)| (name.clone(), f["psi"].as_f64().expect("psi is a number")))
        .collect();
    psi.sort_by(|a, b| b.1.total_cmp(&a.1));
    psi
}

#[test]
fn training_log_is_stable_and_a_moved_faster_log_drifts() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("shop.log");
    let model = dir.path().join("shop.model");
    anomalog()
        .args(["simulate", "--lines", "6000", "--seed", "1", "--out"])
        .arg(&log)
        .assert()
        .success();
    anomalog().arg("train").arg(&log).arg("-o").arg(&model).assert().success();

    let same = drift_json(&model, &log);
    let same_ranked = ranked(&same);
    eprintln!("training log: score_psi {}, top {:?}", same["score_psi"], &same_ranked[..5]);
    assert_eq!(same["drifted"], false);
    assert_eq!(same["records"], 6000);
    assert_eq!(same["training_records"], 6000);
    assert!(same["score_psi"].as_f64().unwrap() < 0.02, "{}", same["score_psi"]);
    assert!(same_ranked[0].1 < 0.01, "{:?}", same_ranked[0]);
    let features = same["features"].as_object().unwrap();
    assert!(features.len() > 50);
    // A day of training cannot say which weekdays are normal: not monitored.
    assert!(!features.contains_key("weekday_sin") && features.contains_key("path_length"));
    assert!(features.values().all(|f| f["ks_p"].as_f64().unwrap() > 0.9));

    let text = std::fs::read_to_string(&log).unwrap();
    let moved = dir.path().join("moved.log");
    std::fs::write(&moved, moved_and_faster(&text)).unwrap();
    let report = drift_json(&model, &moved);
    let top = ranked(&report);
    eprintln!(
        "moved log: score_psi {}, drifted {} ({}), top {:?}",
        report["score_psi"],
        report["drifted_features"],
        report["drifted_share"],
        &top[..10]
    );
    assert_eq!(report["drifted"], true);
    assert!(report["score_psi"].as_f64().unwrap() > 0.25, "{}", report["score_psi"]);
    let path_features = ["path_template_rarity", "path_template_unknown", "ngram_unseen_ratio"];
    assert!(top[..10].iter().any(|(name, _)| path_features.contains(&name.as_str())), "{top:?}");
    assert!(top[..8].iter().all(|(_, psi)| *psi > 0.25), "{top:?}");
    let psi_of = |name: &str| top.iter().find(|f| f.0 == name).map(|f| f.1).unwrap_or(0.0);
    assert!(psi_of("path_template_rarity") > 1.0, "{top:?}");
    // Twice the rate moves the rate features too, if less: their windows are short
    // against the gaps between most requests of this small log.
    let rates = ["client_rate_600s", "client_rate_60s", "site_rate_10s"];
    assert!(rates.iter().all(|r| psi_of(r) > 0.1), "{top:?}");

    // People get a table of the most drifted features and the verdict, and a report
    // with the charts of the same numbers.
    let html = dir.path().join("drift.html");
    anomalog()
        .arg("drift")
        .arg("--model")
        .arg(&model)
        .args(["--top", "5", "--report"])
        .arg(&html)
        .arg(&moved)
        .assert()
        .success()
        .stdout(predicate::str::contains("DRIFTED"))
        .stdout(predicate::str::contains(top[0].0.as_str()))
        .stdout(predicate::str::contains("ks_p"));
    let page = std::fs::read_to_string(&html).unwrap();
    for needle in ["Most drifted features", "Score distribution", "DRIFTED", top[0].0.as_str()] {
        assert!(page.contains(needle), "report lacks {needle}");
    }
    // The PSI bars, the score's bins and one chart per most drifted feature (four).
    assert_eq!(page.matches("<svg").count(), 6);
    let first = page.find(&format!("<code>{}</code>", top[0].0)).expect("chart of the top feature");
    assert!(first < page.find("Every feature").unwrap());

    // Too few records: no verdict rather than a noisy one.
    let head: String = text.lines().take(50).map(|l| format!("{l}\n")).collect();
    let short = dir.path().join("short.log");
    std::fs::write(&short, head).unwrap();
    let few = drift_json(&model, &short);
    assert_eq!(
        (few["drifted"].clone(), few["enough_records"].clone()),
        (false.into(), false.into())
    );

    anomalog()
        .arg("drift")
        .arg("--model")
        .arg(&model)
        .args(["--bins", "1"])
        .arg(&log)
        .assert()
        .failure()
        .stderr(predicate::str::contains("bins"));
    assert!(started.elapsed() < Duration::from_secs(240), "{:?}", started.elapsed());
}

#[test]
fn help_has_an_example() {
    anomalog()
        .args(["drift", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("anomalog drift --model site.model"))
        .stdout(predicate::str::contains("--psi-threshold"));
}

#[test]
fn shifting_a_line() {
    let line = r#"192.0.2.1 - - [02/Mar/2026:10:30:03 +0000] "GET /a?b=1 HTTP/1.1" 200 5 "-" "x""#;
    assert_eq!(
        shift_line(line).unwrap(),
        r#"192.0.2.1 - - [02/Mar/2026:05:15:01 +0000] "GET /new-section/a?b=1 HTTP/1.1" 200 5 "-" "x""#
    );
}
