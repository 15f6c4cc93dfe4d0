//! `anomalog watch` run as an operator would: the built binary following a real log
//! file, alerting to a JSONL file, a webhook and an Alertmanager on loopback sockets,
//! storing incidents in SQLite and serving them over HTTP, stopped with SIGTERM and
//! resumed from its checkpoint. Every wait is bounded (20 s) and every child killed.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Daemon, Received, append, exe, free_port, get, metric};

/// How long a test waits for the daemon to do something before failing. Generous, since
/// a check returns as soon as it holds and CI machines are sometimes loaded.
const WAIT: Duration = Duration::from_secs(60);
const ATTACKER: &str = "203.0.113.66";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A model trained once for all tests, and clean traffic to replay.
struct Fixture {
    model: PathBuf,
    normal: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let (model, normal) = common::trained(&dir, 20_000, 300);
        Fixture { model, normal }
    })
}

fn attack_lines(n: usize) -> String {
    common::sqlmap(ATTACKER, n).into_iter().map(|l| l + "\n").collect()
}

/// Polls `check` until it returns `Some`, for at most [`WAIT`].
fn wait_for<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    common::wait_for(what, WAIT, check)
}

/// Starts `anomalog watch` on `log` in `dir` with `extra` flags (the shared model unless
/// they name one) and waits until it serves.
fn start_watch(dir: &Path, log: &Path, extra: &[String]) -> Daemon {
    let port = free_port();
    let model = match extra.iter().any(|a| a == "--model") {
        true => Vec::new(),
        false => vec!["--model".into(), fixture().model.display().to_string()],
    };
    let mut command = Command::new(exe());
    command
        .arg("watch")
        .args(model)
        .arg("--source")
        .arg(format!("file:{}", log.display()))
        .arg("--db")
        .arg(dir.join("x.db"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(extra);
    Daemon::start(command, port, dir.join(format!("stderr-{port}.txt")), WAIT)
}

fn opened_for(alerts: &Path, client: &str) -> usize {
    std::fs::read_to_string(alerts)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "opened" && e["incident"]["client"] == client)
        .count()
}

fn incidents_of(port: u16, client: &str) -> Option<Vec<serde_json::Value>> {
    let (status, body) = get(port, &format!("/api/incidents?client={client}"))?;
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).ok()?;
    page["items"].as_array().cloned().filter(|items| !items.is_empty())
}

#[test]
fn alerts_stores_serves_and_resumes_after_sigterm() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let (log, alerts) = (dir.path().join("access.log"), dir.path().join("alerts.jsonl"));
    std::fs::write(&log, "").unwrap();
    let flags = vec![format!("--alert=jsonl:{}", alerts.display())];
    let watch = start_watch(dir.path(), &log, &flags);
    assert!(watch.stderr_text().contains("anomalog watch: model"), "{}", watch.stderr_text());

    let normal = fx.normal[..200].join("\n") + "\n";
    append(&log, &normal);
    append(&log, &attack_lines(20));
    let total = 220;
    wait_for("an alert for the attacker", || (opened_for(&alerts, ATTACKER) > 0).then_some(()));
    let incidents = wait_for("the incident in the API", || incidents_of(watch.port, ATTACKER));
    assert_eq!(incidents[0]["category"], "sqli", "{incidents:?}");
    wait_for("every line scored", || {
        (metric(watch.port, "anomalog_lines_scored_total")? == total).then_some(())
    });
    assert_eq!(metric(watch.port, "anomalog_lines_read_total"), Some(total));
    assert_eq!(metric(watch.port, "anomalog_lines_rejected_total"), Some(0));
    // Stored anomalies point at their incident, and all lines count in the series.
    let id = incidents[0]["id"].as_str().unwrap().to_string();
    let detail = wait_for("anomalies linked to the incident", || {
        let (_, body) = get(watch.port, &format!("/api/incidents/{id}"))?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        (v["anomalies"].as_array()?.len() >= 10).then_some(v)
    });
    assert!(detail["anomalies"][0]["request"].as_str().unwrap().contains("UNION"));
    // Each stored anomaly names its line: the attack lines follow the 200 normal ones.
    for a in detail["anomalies"].as_array().unwrap() {
        let line = a["line"].as_u64().unwrap();
        assert!((201..=220).contains(&line), "line {line} of {a}");
    }
    wait_for("the series", || {
        let (_, body) = get(watch.port, "/api/series")?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let points = v.as_array().or_else(|| v["points"].as_array())?.clone();
        let requests: u64 = points.iter().filter_map(|p| p["requests"].as_u64()).sum();
        (requests == total).then_some(())
    });

    let text = watch.stop();
    assert!(text.contains(&format!("stopped: {total} lines read")), "{text}");

    // Restarted on the same state: nothing is read again, no alert repeats, new lines
    // are read once and the attacker's incident continues.
    let watch = start_watch(dir.path(), &log, &flags);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(metric(watch.port, "anomalog_lines_read_total"), Some(0));
    append(&log, &(fx.normal[200..210].join("\n") + "\n"));
    append(&log, &attack_lines(3));
    wait_for("the new lines", || {
        (metric(watch.port, "anomalog_lines_scored_total")? == 13).then_some(())
    });
    let text = watch.stop();
    assert!(text.contains("stopped: 13 lines read"), "{text}");
    assert_eq!(opened_for(&alerts, ATTACKER), 1, "the alert was repeated");
}

/// A loopback HTTP receiver answering 200 to every request; sends (path, body) on.
fn receiver() -> (u16, mpsc::Receiver<Received>) {
    let (tx, rx) = mpsc::channel();
    (common::receiver(move |r| tx.send(r).is_ok()), rx)
}

#[test]
fn webhook_and_alertmanager_receive_the_incident_and_sighup_reloads() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let (hook, hook_rx) = receiver();
    let (am, am_rx) = receiver();
    let model = dir.path().join("site.model");
    std::fs::copy(&fx.model, &model).unwrap();
    let flags = vec![
        format!("--alert=webhook:http://127.0.0.1:{hook}/hook"),
        format!("--alert=alertmanager:http://127.0.0.1:{am}"),
        "--model".to_string(),
        model.display().to_string(),
        "--format".to_string(),
        "combined".to_string(),
    ];
    let watch = start_watch(dir.path(), &log, &flags);
    append(&log, &(fx.normal[..50].join("\n") + "\n"));
    append(&log, &attack_lines(10));

    let deadline = Instant::now() + WAIT;
    let mut hooked = None;
    while hooked.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let (path, body) = hook_rx.recv_timeout(left).expect("no webhook call in time");
        let event: serde_json::Value = serde_json::from_str(&body).unwrap();
        if event["incident"]["client"] == ATTACKER {
            assert_eq!(path, "/hook");
            hooked = Some(event);
        }
    }
    let event = hooked.unwrap();
    assert_eq!(event["event"], "opened");
    assert_eq!(event["incident"]["category"], "sqli");
    let mut alerted = None;
    while alerted.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let (path, body) = am_rx.recv_timeout(left).expect("no Alertmanager call in time");
        assert_eq!(path, "/api/v2/alerts");
        let alerts: serde_json::Value = serde_json::from_str(&body).unwrap();
        if alerts[0]["labels"]["client"] == ATTACKER {
            alerted = Some(alerts);
        }
    }
    let alerts = alerted.unwrap();
    assert_eq!(alerts[0]["labels"]["alertname"], "AnomalogIncident");
    assert_eq!(alerts[0]["labels"]["category"], "sqli");
    assert!(alerts[0]["startsAt"].is_string() && alerts[0]["endsAt"].is_string());

    // SIGHUP with a broken model file keeps the running model...
    std::fs::write(&model, b"not a model").unwrap();
    watch.signal("HUP");
    wait_for("the refused reload", || {
        (metric(watch.port, "anomalog_model_reload_failures_total")? == 1).then_some(())
    });
    assert!(watch.stderr_text().contains("the current model keeps running"));
    append(&log, &(fx.normal[50..60].join("\n") + "\n"));
    wait_for("scoring after the refused reload", || {
        (metric(watch.port, "anomalog_lines_scored_total")? == 70).then_some(())
    });
    // ...and with a good one swaps it in before the next line.
    std::fs::copy(&fx.model, &model).unwrap();
    watch.signal("HUP");
    wait_for("the reload message", || watch.stderr_text().contains("SIGHUP: loaded").then_some(()));
    append(&log, &(fx.normal[60..70].join("\n") + "\n"));
    wait_for("the reloaded model", || {
        (metric(watch.port, "anomalog_model_reloads_total")? == 1).then_some(())
    });
    wait_for("scoring after the reload", || {
        (metric(watch.port, "anomalog_lines_scored_total")? == 80).then_some(())
    });
    watch.stop();
}

#[test]
fn two_line_config_on_stdin_alerts_to_stdout() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("anomalog.toml");
    std::fs::write(
        &config,
        format!("model = {:?}\nsources = [\"stdin\"]\n", fx.model.display().to_string()),
    )
    .unwrap();
    let input = fx.normal[..100].join("\n") + "\n" + &attack_lines(5);
    let out = assert_cmd::Command::new(exe())
        .current_dir(dir.path())
        .args(["watch", "--config", "anomalog.toml", "--listen", "off"])
        .write_stdin(input)
        .timeout(WAIT)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("stopped: 105 lines read"), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let opened = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|e| e["event"] == "opened" && e["incident"]["client"] == ATTACKER);
    assert!(opened, "no alert on stdout: {stdout}");
    assert!(dir.path().join("anomalog.db").exists());
    assert!(dir.path().join("anomalog-state/checkpoint.json").exists());
}

#[test]
fn privacy_keeps_raw_addresses_out_of_alerts_and_the_database() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("anomalog.toml");
    std::fs::write(
        &config,
        format!(
            "model = {:?}\nsources = [\"stdin\"]\n[privacy]\nenabled = true\nkey_env = \"TEST_KEY\"\n",
            fx.model.display().to_string()
        ),
    )
    .unwrap();
    let secret = "password=hunter2hunter2";
    let attacks = attack_lines(5).replace("HTTP/1.1", &format!("&{secret} HTTP/1.1"));
    let input = fx.normal[..100].join("\n") + "\n" + &attacks;
    let run = |key: Option<&str>| {
        let mut cmd = assert_cmd::Command::new(exe());
        cmd.current_dir(dir.path())
            .args(["watch", "--config", "anomalog.toml", "--listen", "off"])
            .env_remove("TEST_KEY")
            .write_stdin(input.clone())
            .timeout(WAIT);
        if let Some(k) = key {
            cmd.env("TEST_KEY", k);
        }
        cmd.output().unwrap()
    };
    // Without its key, privacy refuses to start rather than alert raw addresses.
    let refused = run(None);
    assert_eq!(refused.status.code(), Some(2), "{}", String::from_utf8_lossy(&refused.stderr));

    let out = run(Some("a test key that is long enough"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("\"opened\""), "no alert: {stdout}");
    let db = std::fs::read(dir.path().join("anomalog.db")).unwrap();
    let wal = std::fs::read(dir.path().join("anomalog.db-wal")).unwrap_or_default();
    for text in [stdout.as_bytes(), &db, &wal] {
        let text = String::from_utf8_lossy(text);
        assert!(!text.contains(ATTACKER), "raw address stored or alerted");
        assert!(!text.contains("hunter2hunter2"), "secret stored or alerted");
    }
    assert!(stdout.contains("ip4-"), "{stdout}");
}

#[test]
fn drift_of_live_traffic_is_reported() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("anomalog.toml"),
        format!(
            "model = {:?}\nsources = [\"stdin\"]\ndrift_window_records = 4000\n",
            fx.model.display().to_string()
        ),
    )
    .unwrap();
    // Another day of the same shop, as busy as the training day, without attacks.
    let out = Command::new(exe())
        .current_dir(dir.path())
        .args(["simulate", "--lines", "8000", "--hours", "9.6", "--seed", "4"])
        .args(["--attack-fraction", "0", "--out", "day.log"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let day = std::fs::read_to_string(dir.path().join("day.log")).unwrap();
    let run = |input: String| {
        let _ = std::fs::remove_dir_all(dir.path().join("anomalog-state"));
        let out = assert_cmd::Command::new(exe())
            .current_dir(dir.path())
            .args(["watch", "--config", "anomalog.toml", "--listen", "off"])
            .args(["--alert", "jsonl:a.jsonl"])
            .write_stdin(input)
            .timeout(WAIT)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let same = run(day.clone());
    assert!(!same.contains("drift: traffic no longer"), "{same}");
    // A new section of the site takes all the traffic.
    let moved = run(day.replace("\"GET /", "\"GET /new-section/v2/"));
    assert!(moved.contains("drift: traffic no longer looks like the training data"), "{moved}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "model = \"m\"\nsources = [\"stdin\"]\nbatch_line = 3\n").unwrap();
    for args in [
        vec!["watch".to_string(), "--source".into(), "stdin".into()],
        vec!["watch".into(), "--model".into(), "m.model".into()],
        vec!["watch".into(), "--config".into(), bad.display().to_string()],
    ] {
        let out = Command::new(exe()).args(&args).current_dir(dir.path()).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new(exe()).args(["watch", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("--alert"));
}

/// Without the `kafka` feature, Kafka and PostgreSQL specs are refused, never read as
/// file names.
#[cfg(not(feature = "kafka"))]
#[test]
fn kafka_specs_need_the_kafka_feature() {
    let dir = tempfile::tempdir().unwrap();
    for flags in [
        ["--source", "kafka://127.0.0.1:9092/access?group=anomalog"],
        ["--alert", "kafka://127.0.0.1:9092/alerts"],
        ["--db", "postgres://anomalog:secret@127.0.0.1:5432/anomalog"],
    ] {
        let out = Command::new(exe())
            .args(["watch", "--model", "m.model", "--source", "stdin"])
            .args(flags)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains("rebuild with --features kafka"), "{flags:?}: {stderr}");
        assert!(!stderr.contains("secret"), "{stderr}");
    }
}

#[test]
fn dashboard_in_chromium_shows_the_incident() {
    if !Path::new(CHROMIUM).exists() {
        assert!(std::env::var_os("CI").is_none(), "{CHROMIUM} is missing; CI must install it");
        eprintln!("skipping the browser test: {CHROMIUM} not found");
        return;
    }
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let watch = start_watch(dir.path(), &log, &["--alert=stdout".to_string()]);
    append(&log, &(fx.normal[..100].join("\n") + "\n"));
    append(&log, &attack_lines(10));
    wait_for("the incident in the API", || incidents_of(watch.port, ATTACKER));

    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg(format!("http://127.0.0.1:{}/", watch.port))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        dom
    });
    let finished = wait_for_exit(&mut child);
    let dom = reader.join().unwrap();
    assert!(finished, "chromium did not finish within 20 s");
    assert!(dom.contains("class=\"incident\""), "no incident rendered:\n{dom}");
    assert!(dom.contains(ATTACKER) && dom.contains("sqli"), "the incident is missing:\n{dom}");
    assert!(dom.contains("UNION"), "the sample request is missing");
    watch.stop();
}

/// Waits up to [`WAIT`] for `child`; kills it on timeout. Returns whether it finished.
fn wait_for_exit(child: &mut Child) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}
