//! The dashboard in headless Chromium: the page's own JavaScript renders the incidents
//! from the API, and attacker-controlled strings stay text.
//!
//! Needs `/usr/bin/chromium`. Without it the test is skipped with a message, unless
//! `CI` is set, where it fails.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anomalog_server::{Batch, Server, ServerHandle, ServerState, Severity, Store};
use common::{incident, point};

const CHROMIUM: &str = "/usr/bin/chromium";
const XSS_REQUEST: &str = "GET /search?q=<script>alert(1)</script> HTTP/1.1";
const XSS_CLIENT: &str = "<img src=x onerror=document.body.setAttribute('data-pwned','1')>";

fn chromium_or_skip() -> Option<&'static str> {
    if Path::new(CHROMIUM).exists() {
        return Some(CHROMIUM);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{CHROMIUM} is missing; CI must install the chromium package"
    );
    eprintln!("skipping the browser test: {CHROMIUM} not found (apt-get install chromium)");
    None
}

fn serve(dir: &Path) -> ServerHandle {
    let store = Arc::new(Store::open(dir.join("anomalog.db")).unwrap());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        as i64;
    let mut xss = incident("inc-xss", "198.51.100.23", "xss", Severity::Critical, now - 30);
    xss.samples[0].request = XSS_REQUEST.into();
    xss.count = 17;
    xss.max_score = 0.99;
    let mut odd_client = incident("inc-img", XSS_CLIENT, "scan", Severity::Medium, now - 300);
    odd_client.samples[0].request = "GET /wp-login.php HTTP/1.1".into();
    let rows = [
        xss,
        incident("inc-sqli", "203.0.113.7", "sqli", Severity::High, now - 90),
        odd_client,
        incident("inc-burst", "192.0.2.44", "error_burst", Severity::Low, now - 1200),
    ];
    // An hour of traffic with a spike of errors and scores ten minutes ago.
    let series: Vec<_> = (0..60)
        .map(|i| {
            let minute = now - 3600 + i * 60;
            let spike = (48..52).contains(&i);
            let requests = 400 + ((i * 37) % 90) as u64 + if spike { 600 } else { 0 };
            let mut p = point(minute, requests, 0.18 + (i % 7) as f64 * 0.01, 0.6);
            if spike {
                p.errors_4xx = requests / 3;
                p.errors_5xx = requests / 12;
                p.mean_score = 0.45;
                p.max_score = 0.99;
            }
            p
        })
        .collect();
    store.write(&Batch { incidents: &rows, series: &series, ..Batch::default() }).unwrap();
    lifecycle(&store, now);
    let state = Arc::new(ServerState::new(store.clone()).with_lifecycle(Some(store)));
    Server::start("127.0.0.1:0".parse().unwrap(), state).unwrap()
}

/// Two models (the second promoted after drift) and drift windows over the hour.
fn lifecycle(store: &Store, now: i64) {
    use anomalog_server::{DriftPoint, ModelStatus, NewModel};
    for (records, rate, reason) in [
        (120_000, None, "in use when watch started (site.model)"),
        (37_500, Some(0.011), "not worse than the current model on the holdout"),
    ] {
        let id = store
            .insert_model(&NewModel {
                path: String::new(),
                sha256: "00".repeat(32),
                detector: "ensemble".into(),
                training: serde_json::json!({ "records": records }),
                metrics: serde_json::json!({ "candidate": { "alert_rate": rate } }),
                status: ModelStatus::Active,
                reason: reason.into(),
            })
            .unwrap();
        store.log_event("promoted", Some(id), &format!("model {id}: {reason}")).unwrap();
    }
    for i in 0..12 {
        let psi = if (6..10).contains(&i) { 0.4 + 0.05 * i as f64 } else { 0.03 };
        store
            .add_drift_point(&DriftPoint {
                at: now - 3600 + i * 300,
                model_id: Some(1),
                records: 100_000,
                drifted: psi > 0.25,
                score_psi: psi,
                drifted_features: if psi > 0.25 { 14 } else { 1 },
                top: vec![("path_template_unknown".into(), psi * 2.0)],
            })
            .unwrap();
    }
}

/// Runs Chromium with `args` plus the common flags, killing it after 20 s.
fn run_chromium(exe: &str, profile: &Path, args: &[String]) -> String {
    let mut child = Command::new(exe)
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
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

#[test]
fn dashboard_renders_incidents_and_escapes_requests() {
    let Some(exe) = chromium_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let url = format!("http://{}/", server.local_addr());
    let dom = run_chromium(exe, &dir.path().join("profile"), &["--dump-dom".into(), url]);
    server.shutdown();

    assert!(dom.contains("class=\"incident\""), "no incident rendered:\n{dom}");
    for text in ["198.51.100.23", "203.0.113.7", "192.0.2.44", "sqli", "error_burst", "xss"] {
        assert!(dom.contains(text), "{text} missing from the rendered page");
    }
    assert!(dom.contains("client_error_ratio_60s"), "explanation table missing");
    assert!(dom.contains("false positive") && dom.contains("confirmed"), "buttons missing");
    // The attack strings are text: escaped in the serialized DOM, never elements.
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "request not shown as text");
    assert!(!dom.contains("<script>alert(1)"), "the request became markup");
    assert!(dom.contains("&lt;img src=x onerror="), "client not shown as text");
    assert!(!dom.contains("<img src=\"x\""), "the client became markup");
    assert!(!dom.contains("data-pwned=\"1\""), "injected script ran");
    assert_eq!(dom.matches("<script").count(), 1, "only the page's own script");
    // The header counts and the charts came from the API.
    assert!(dom.contains("id=\"n-total\">4<"), "incident count missing");
    assert!(dom.contains("<path"), "charts not drawn");
}

/// Writes a screenshot for a person to look at: `cargo test -p anomalog-server --test
/// dashboard_browser -- --ignored --nocapture` prints its path (set
/// `ANOMALOG_SCREENSHOT=/path.png` to choose it).
#[test]
#[ignore = "writes a PNG for manual inspection"]
fn dashboard_screenshot() {
    let Some(exe) = chromium_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path());
    let out = std::env::var("ANOMALOG_SCREENSHOT").unwrap_or_else(|_| {
        std::env::temp_dir().join("anomalog-dashboard.png").display().to_string()
    });
    let url = format!("http://{}/", server.local_addr());
    run_chromium(
        exe,
        &dir.path().join("profile"),
        &["--window-size=1400,1300".into(), format!("--screenshot={out}"), url],
    );
    server.shutdown();
    assert!(Path::new(&out).exists(), "no screenshot written");
    println!("screenshot: {out}");
}
