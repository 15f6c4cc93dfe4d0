//! The model lifecycle end to end, with the built binary: a model trained on traffic of
//! before a shift (a new section of the site becomes popular) watches the traffic of
//! after it. Drift is detected, a candidate is trained on the recent traffic and
//! promoted, the alert rate on the new normal traffic drops, attacks are still
//! detected, the traffic that did not change is not alerted on more than before, and a
//! false positive the operator marks does not recur. The rates before and after are
//! printed (`cargo test --test lifecycle -- --nocapture`). A rollback racing a
//! promotion ends with the database, the model file and the daemon agreeing. Every wait
//! is bounded and the daemon is killed when a test ends.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Daemon, exe, free_port, gauge as metric, run, wait_for};

const CATEGORIES: &str = "sqli,xss,traversal,cmdi,scan";
/// Post-shift lines per phase: before promotion, after it.
const PHASE: usize = 8000;
/// How much the alert rate on the normal traffic that did not change may rise after the
/// promotion (absolute: 0.005 = half a percentage point).
const UNCHANGED_MARGIN: f64 = 0.005;

/// Starts `anomalog watch` in `dir` with `config` (written to `watch.toml`), following
/// `access.log` from its beginning with the model `site.model`, and waits until it serves.
fn start_watch(dir: &Path, config: &str) -> Daemon {
    let port = free_port();
    std::fs::write(dir.join("watch.toml"), config).unwrap();
    let mut command = Command::new(exe());
    command
        .args(["watch", "--config", "watch.toml", "--model", "site.model"])
        .args(["--source", "file:access.log", "--db", "x.db", "--state-dir", "state"])
        .args(["--alert", "jsonl:alerts.jsonl", "--from-beginning"])
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .current_dir(dir);
    Daemon::start(command, port, dir.join("watch.err"), Duration::from_secs(30))
}

/// The body of `GET path`.
fn get(port: u16, path: &str) -> Option<String> {
    common::get(port, path).map(|(_, body)| body)
}

/// The kind of a post-shift line: the new section, the rest of normal traffic, attacks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    NewSection,
    Normal,
    Attack,
}

fn kinds(log: &str, labels: &str) -> Vec<Kind> {
    log.lines()
        .zip(labels.lines())
        .map(|(line, label)| {
            if label != "0" {
                Kind::Attack
            } else if line.contains(" /stories/") || line.contains(" /media/stories/") {
                Kind::NewSection
            } else {
                Kind::Normal
            }
        })
        .collect()
}

/// Share of lines of `kind` in `lines` (1-based line numbers of the watched file) that
/// were stored as anomalies.
fn rate(
    kinds: &[Kind],
    flagged: &HashSet<usize>,
    lines: std::ops::Range<usize>,
    kind: Kind,
) -> f64 {
    let of_kind: Vec<usize> = lines.filter(|&n| kinds[n - 1] == kind).collect();
    let hit = of_kind.iter().filter(|n| flagged.contains(n)).count();
    hit as f64 / of_kind.len().max(1) as f64
}

/// The stored anomalies of log lines: line number, category, request.
fn anomalies(db: &Path) -> Vec<(usize, String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT a.line, COALESCE(i.category, ''), a.request FROM anomalies a
             LEFT JOIN incidents i ON i.id = a.incident_id",
        )
        .unwrap();
    let rows: Vec<(usize, String, String)> = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)? as usize, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.into_iter().filter(|(n, _, _)| *n >= 1).collect()
}

fn append(path: &Path, lines: &[&str]) {
    common::append(path, &lines.iter().map(|l| format!("{l}\n")).collect::<String>());
}

fn template(request: &str) -> (String, String) {
    let mut parts = request.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").split('?').next().unwrap_or("");
    let t: Vec<&str> = path
        .split('/')
        .map(|s| if s.bytes().any(|b| b.is_ascii_digit()) { "*" } else { s })
        .collect();
    (method, t.join("/"))
}

#[test]
fn drift_retraining_promotion_and_feedback_keep_the_detector_right() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Three days of traffic before the shift train the first model.
    run(
        d,
        &[
            "simulate",
            "--lines",
            "12000",
            "--seed",
            "3",
            "--hours",
            "64",
            "--attack-fraction",
            "0.01",
            "--categories",
            CATEGORIES,
            "--out",
            "pre.log",
        ],
    );
    run(d, &["train", "pre.log", "-o", "site.model"]);
    // Three days after it: the new section draws most browsing sessions.
    let post_lines = (2 * PHASE).to_string();
    run(
        d,
        &[
            "simulate",
            "--lines",
            &post_lines,
            "--seed",
            "4",
            "--hours",
            "64",
            "--shift-at",
            "0",
            "--shift-share",
            "0.6",
            "--attack-fraction",
            "0.01",
            "--categories",
            CATEGORIES,
            "--out",
            "post.log",
            "--labels",
            "post.labels",
        ],
    );
    let post = std::fs::read_to_string(d.join("post.log")).unwrap();
    let labels = std::fs::read_to_string(d.join("post.labels")).unwrap();
    let kinds = kinds(&post, &labels);
    let lines: Vec<&str> = post.lines().collect();
    std::fs::write(d.join("access.log"), "").unwrap();

    let config = format!(
        "drift_window_records = 2000\nexit_when_finished = false\n\
         [drift]\nalert_feature_share = 0.05\n\
         [retrain]\nenabled = true\nmin_records = {}\nwindow_records = {PHASE}\n\
         cooldown_secs = 0\n[allowlist]\nreload_secs = 1\n",
        PHASE * 3 / 4
    );
    let watch = start_watch(d, &config);
    let port = watch.port;

    // Phase A1: the old model sees the new traffic; drift fires, but the window holds
    // too little to retrain on yet.
    let half = PHASE / 2;
    append(&d.join("access.log"), &lines[..half]);
    wait_for("a drift alert", Duration::from_secs(120), || {
        metric(port, "anomalog_drift_alerts_total").filter(|&n| n >= 1.0)
    });
    wait_for("phase A1 to be read", Duration::from_secs(120), || {
        metric(port, "anomalog_lines_read_total").filter(|&n| n >= half as f64)
    });

    // The operator marks the largest incidents on the new section as false positives.
    let db = d.join("x.db");
    let stored = wait_for("phase A1 anomalies in incidents", Duration::from_secs(30), || {
        let a = anomalies(&db);
        a.iter().any(|(_, c, _)| !c.is_empty()).then_some(a)
    });
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut by_incident: Vec<(String, i64)> = conn
        .prepare(
            "SELECT incident_id, COUNT(*) FROM anomalies WHERE incident_id IS NOT NULL
             AND (request LIKE '% /stories/%' OR request LIKE '% /media/stories/%')
             GROUP BY incident_id ORDER BY COUNT(*) DESC, incident_id LIMIT 3",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!by_incident.is_empty(), "no incident on the new section: {stored:?}");
    let mut patterns: HashSet<(String, (String, String))> = HashSet::new();
    let marked = by_incident.len();
    for (incident, _) in by_incident.drain(..) {
        let out = run(d, &["feedback", "--db", "x.db", &incident, "fp"]);
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(p) = l.strip_prefix("allow-listed: ") {
                let mut f = p.splitn(3, ' ');
                let (c, m, t) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
                patterns.insert((c.to_string(), (m.to_string(), t.to_string())));
            }
        }
    }
    assert!(!patterns.is_empty());
    wait_for("the allow-list to load", Duration::from_secs(30), || {
        metric(port, "anomalog_allowlist_patterns").filter(|&n| n >= patterns.len() as f64)
    });

    // Phase A2: the window fills, a candidate is trained (learning the marked false
    // positives as normal), evaluated and promoted.
    append(&d.join("access.log"), &lines[half..PHASE]);
    let promoted = wait_for("a promotion", Duration::from_secs(300), || {
        let log = watch.stderr_text();
        if log.contains("rejected (") || log.contains("retraining (drift) failed") {
            panic!("the candidate was not promoted: {log}");
        }
        metric(port, "anomalog_retrain_total{outcome=\"promoted\"}").filter(|&n| n >= 1.0)
    });
    assert_eq!(promoted, 1.0);
    assert!(metric(port, "anomalog_active_model_id").unwrap() >= 2.0);

    // Phase B: the promoted model on more of the new normal traffic.
    append(&d.join("access.log"), &lines[PHASE..]);
    wait_for("phase B to be read", Duration::from_secs(120), || {
        metric(port, "anomalog_lines_read_total").filter(|&n| n >= (2 * PHASE) as f64)
    });
    // The scorer took the promoted model before the first line of phase B.
    assert!(metric(port, "anomalog_model_reloads_total").unwrap() >= 1.0);
    let suppressed = metric(port, "anomalog_allowlist_suppressed_total").unwrap();
    // The dashboard's lifecycle routes: drift windows over time, the model history.
    let drift: serde_json::Value = serde_json::from_str(&get(port, "/api/drift").unwrap()).unwrap();
    assert!(drift["points"].as_array().unwrap().iter().any(|p| p["drifted"] == true), "{drift}");
    let history: serde_json::Value =
        serde_json::from_str(&get(port, "/api/models").unwrap()).unwrap();
    assert!(history["items"].as_array().unwrap().len() >= 2, "{history}");
    let log = watch.stop();
    for line in log.lines().filter(|l| l.contains("drift alert") || l.contains("promoted (")) {
        println!("{line}");
    }
    assert!(log.contains("drift alert"), "{log}");
    // The drift alert went through the alert sinks, once.
    let alerts = std::fs::read_to_string(d.join("alerts.jsonl")).unwrap();
    let drift_alerts = alerts
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "opened" && e["incident"]["category"] == "drift")
        .count();
    assert!(drift_alerts >= 1, "{alerts}");
    assert!(log.contains("retraining skipped: too little data"), "{log}");
    assert!(log.contains("match false positives marked since: learned as normal"), "{log}");

    let stored = anomalies(&db);
    let flagged: HashSet<usize> = stored.iter().map(|(n, _, _)| *n).collect();
    let before = 1..half + 1;
    let after = PHASE + 1..2 * PHASE + 1;
    let r = |lines: &std::ops::Range<usize>, k| rate(&kinds, &flagged, lines.clone(), k);
    let (new_before, new_after) = (r(&before, Kind::NewSection), r(&after, Kind::NewSection));
    let (old_before, old_after) = (r(&before, Kind::Normal), r(&after, Kind::Normal));
    let (attack_before, attack_after) = (r(&before, Kind::Attack), r(&after, Kind::Attack));
    let all_normal = |lines: &std::ops::Range<usize>| {
        let normal: Vec<usize> = lines.clone().filter(|&n| kinds[n - 1] != Kind::Attack).collect();
        normal.iter().filter(|n| flagged.contains(n)).count() as f64 / normal.len() as f64
    };
    let (normal_before, normal_after) = (all_normal(&before), all_normal(&after));
    println!(
        "alert rate on the new section (new normal traffic): {:.2}% before promotion, {:.2}% after",
        new_before * 100.0,
        new_after * 100.0
    );
    println!(
        "alert rate on the rest of normal traffic:            {:.2}% before, {:.2}% after \
         (allowed: {:.2}%)",
        old_before * 100.0,
        old_after * 100.0,
        (old_before + UNCHANGED_MARGIN) * 100.0
    );
    println!(
        "alert rate on all normal traffic:                    {:.2}% before, {:.2}% after",
        normal_before * 100.0,
        normal_after * 100.0
    );
    println!(
        "attack recall:                                        {:.1}% before, {:.1}% after",
        attack_before * 100.0,
        attack_after * 100.0
    );

    // The marked false positives do not recur: no anomaly after they were marked of
    // their category on their method and path template.
    let recurring = stored
        .iter()
        .filter(|(n, c, req)| *n > half && patterns.contains(&(c.clone(), template(req))))
        .count();
    println!(
        "{} allow patterns from {} marked false positives: {recurring} anomalies like them \
         afterwards, {suppressed} suppressed",
        patterns.len(),
        marked
    );
    assert_eq!(recurring, 0);
    assert!(suppressed > 0.0, "the marked false positives were seen again and suppressed");

    // The new normal traffic is learned: its alert rate falls to a third or less.
    assert!(new_before > 0.02, "the shift should raise false alarms: {new_before}");
    assert!(new_after <= new_before / 3.0, "new section: {new_before} -> {new_after}");
    // The traffic that did not change is not made worse by the retrained model: its alert
    // rate stays within UNCHANGED_MARGIN of what the model before the shift gave it.
    assert!(
        old_after <= old_before + UNCHANGED_MARGIN,
        "unchanged traffic: {old_before} -> {old_after} (margin {UNCHANGED_MARGIN})"
    );
    assert!(normal_after < normal_before, "{normal_before} -> {normal_after}");
    assert!(
        attack_after >= 0.9 && attack_after >= attack_before - 0.05,
        "attacks are still detected: {attack_before} -> {attack_after}"
    );

    // The history shows both models, the promoted one active.
    let out = run(d, &["models", "list", "--db", "x.db", "--json"]);
    let models: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let models = models.as_array().unwrap();
    let first = models.last().unwrap();
    assert_eq!(first["id"], 1, "{models:?}");
    assert_eq!(first["status"], "retired", "{models:?}");
    let active: Vec<_> = models.iter().filter(|m| m["status"] == "active").collect();
    assert_eq!(active.len(), 1, "{models:?}");
    assert!(active[0]["id"].as_i64() > Some(1));
    assert!(active[0]["metrics"]["candidate"]["alert_rate"].as_f64().is_some());
}

fn sha(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// Two models of the same site trained on different days (`m1.model`, `m2.model`), the
/// first deployed as `site.model`, and a third day as `access.log` to watch.
fn two_models(d: &Path) {
    for (seed, name) in [("1", "a"), ("2", "b"), ("5", "live")] {
        let out = format!("{name}.log");
        run(d, &["simulate", "--lines", "3000", "--seed", seed, "--hours", "4", "--out", &out]);
    }
    run(d, &["train", "a.log", "-o", "m1.model"]);
    run(d, &["train", "b.log", "-o", "m2.model"]);
    std::fs::copy(d.join("m1.model"), d.join("site.model")).unwrap();
    std::fs::copy(d.join("live.log"), d.join("access.log")).unwrap();
}

/// Replaces `dest` by a copy of `src` the way deployment tools do: write, then rename.
fn deploy(src: &Path, dest: &Path) {
    let tmp = dest.with_extension("tmp");
    std::fs::copy(src, &tmp).unwrap();
    std::fs::rename(&tmp, dest).unwrap();
}

#[test]
fn rejected_candidates_history_and_rollback_with_a_running_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_models(d);

    // A candidate that must be strictly better than the current model by a whole
    // alert rate fails evaluation: rejected, said, and the daemon goes on.
    let watch = start_watch(
        d,
        "exit_when_finished = false\n[retrain]\nenabled = true\ninterval_secs = 1\n\
         min_records = 1000\nwindow_records = 3000\ncooldown_secs = 0\n\
         max_alert_rate_increase = -1.0\n",
    );
    let port = watch.port;
    wait_for("a rejected candidate", Duration::from_secs(120), || {
        metric(port, "anomalog_retrain_total{outcome=\"rejected\"}").filter(|&n| n >= 1.0)
    });
    assert!(
        watch.stderr_text().contains("rejected (worse than the current model"),
        "{}",
        watch.stderr_text()
    );
    assert_eq!(metric(port, "anomalog_active_model_id"), Some(1.0));

    // Unknown ids and rejected candidates cannot be rolled back to; nothing changes.
    let models = |args: &[&str]| {
        Command::new(exe())
            .arg("models")
            .args(args)
            .args(["--db", "x.db"])
            .current_dir(d)
            .output()
            .unwrap()
    };
    let out = models(&["rollback", "99"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no model 99"), "{out:?}");
    let out = models(&["rollback", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was rejected"), "{out:?}");

    // A model file replaced on disk is loaded and recorded; a rollback goes back.
    deploy(&d.join("m2.model"), &d.join("site.model"));
    wait_for("the replaced model", Duration::from_secs(30), || {
        metric(port, "anomalog_active_model_id").filter(|&id| id == 3.0)
    });
    let out = models(&["rollback", "1"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(sha(&d.join("site.model")), sha(&d.join("m1.model")));
    wait_for("the rolled back model", Duration::from_secs(30), || {
        metric(port, "anomalog_active_model_id").filter(|&id| id == 1.0)
    });
    let log = watch.stop();
    assert!(log.contains("changed on disk: model 1 scores"), "{log}");

    let out = models(&["list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |id: i64| {
        list.as_array().unwrap().iter().find(|m| m["id"] == id).unwrap()["status"].clone()
    };
    assert_eq!(
        (status(1), status(2), status(3)),
        ("active".into(), "rejected".into(), "retired".into())
    );
    let out = models(&["show", "2", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(shown["metrics"]["verdict"].as_str().unwrap().contains("flags more"), "{shown}");
    let table = String::from_utf8(models(&["list"]).stdout).unwrap();
    assert!(table.lines().next().unwrap().contains("status"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");

    // Without a daemon, a rollback replaces the file all the same.
    let out = models(&["rollback", "3"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(sha(&d.join("site.model")), sha(&d.join("m2.model")));
}

/// The active model of the database and its file's SHA-256.
fn active_in_db(db: &Path) -> (i64, String) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT id, sha256 FROM models WHERE status = 'active'", [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .unwrap()
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap()).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_rollback_racing_a_promotion_leaves_file_database_and_daemon_agreeing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_models(d);

    // What `models rollback` and a promotion take while they replace the model file; the
    // test holds it so that the rollback waits while the candidate trains and then both
    // go for it at once.
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(d.join(".site.model.lock"))
        .unwrap();
    // Any candidate passes its evaluation: the race is the point, not the verdict.
    let watch = start_watch(
        d,
        "exit_when_finished = false\n[retrain]\nenabled = true\ninterval_secs = 3\n\
         min_records = 1000\nwindow_records = 3000\ncooldown_secs = 0\n\
         max_alert_rate_increase = 1.0\nmax_new_alert_rate = 1.0\nmax_recall_drop = 1.0\n",
    );
    let port = watch.port;
    // Model 2 is deployed and loaded: the candidate is trained against it, and the
    // operator goes back to model 1 meanwhile.
    deploy(&d.join("m2.model"), &d.join("site.model"));
    wait_for("model 2 to be loaded", Duration::from_secs(30), || {
        metric(port, "anomalog_active_model_id").filter(|&id| id == 2.0)
    });
    lock.lock().unwrap();
    let rollback = Command::new(exe())
        .args(["models", "rollback", "1", "--db", "x.db"])
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("a candidate in training", Duration::from_secs(120), || {
        let log = watch.stderr_text();
        (log.lines().any(|l| l.contains("retraining (schedule)") && !l.contains(" 0 records"))
            || log.contains("promoted ("))
        .then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    lock.unlock().unwrap();
    let out = rollback.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The retraining ends one way or the other: promoted (then rolled back), or not
    // made because the rollback came first (or, should the window read by then give a
    // candidate that fails its evaluation, rejected before it needs the file).
    wait_for("the retraining to end", Duration::from_secs(120), || {
        let log = watch.stderr_text();
        (log.contains("promoted (") || log.contains("not promoted:") || log.contains("rejected ("))
            .then_some(())
    });
    wait_for("the daemon to score with model 1", Duration::from_secs(30), || {
        (metric(port, "anomalog_retrain_running") == Some(0.0)
            && metric(port, "anomalog_active_model_id") == Some(1.0))
        .then_some(())
    });
    // Nothing moves any more (the window has no fresh records for another candidate):
    // the file, the database and the daemon agree on the operator's choice.
    std::thread::sleep(Duration::from_millis(1500));
    let log = watch.stop();
    let (active, active_sha) = active_in_db(&d.join("x.db"));
    assert_eq!(active, 1, "{log}");
    assert_eq!(sha256_hex(&d.join("site.model")), active_sha, "{log}");
    assert_eq!(sha(&d.join("site.model")), sha(&d.join("m1.model")));
    let last_model_line = log
        .lines()
        .rev()
        .find(|l| l.contains("scores from the next line") || l.contains("promoted ("))
        .unwrap_or("");
    assert!(
        last_model_line.contains("model 1 scores") || log.contains("not promoted:"),
        "the daemon's last model change is the rollback: {log}"
    );
    println!(
        "{}",
        log.lines()
            .filter(|l| {
                l.contains("promoted") || l.contains("rejected (") || l.contains("changed on disk")
            })
            .collect::<Vec<_>>()
            .join("\n")
    );
}
