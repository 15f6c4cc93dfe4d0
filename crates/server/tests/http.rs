//! The HTTP endpoints over a real socket on 127.0.0.1:0.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use anomalog_server::{
    Batch, Server, ServerError, ServerHandle, ServerState, Severity, Status, Store,
};
use common::{http, incident, point};

const T0: i64 = 1_714_564_800;
const JSON: (&str, &str) = ("Content-Type", "application/json");

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    server: ServerHandle,
}

impl Fixture {
    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

fn start(token: Option<&str>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("anomalog.db")).unwrap());
    let mut closed = incident("c", "192.0.2.2", "scan", Severity::Critical, T0 + 50);
    closed.status = Status::Closed;
    let rows = [
        incident("a", "192.0.2.1", "sqli", Severity::Low, T0),
        incident("b", "192.0.2.1", "scan", Severity::High, T0 + 100),
        closed,
    ];
    let series = [point(T0, 100, 0.2, 0.5), point(T0 + 60, 50, 0.3, 0.95)];
    store.write(&Batch { incidents: &rows, series: &series, ..Batch::default() }).unwrap();
    store.insert_anomalies(&[common::anomaly(Some("b"), T0 + 100, "GET /b")]).unwrap();
    let state = ServerState::new(store.clone())
        .with_lifecycle(Some(store.clone()))
        .with_metrics(|| "# TYPE anomalog_lines_total counter\nanomalog_lines_total 42\n".into())
        .with_token(token.map(str::to_string));
    let server = Server::start("127.0.0.1:0".parse().unwrap(), Arc::new(state)).unwrap();
    Fixture { _dir: dir, store, server }
}

#[test]
fn metrics_are_prometheus_text() {
    let f = start(None);
    let r = http(f.addr(), "GET", "/metrics", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
    assert!(r.body.contains("anomalog_lines_total 42"), "{}", r.body);
}

#[test]
fn healthz_answers_ok_and_reports_failure() {
    let f = start(None);
    let r = http(f.addr(), "GET", "/healthz", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.json()["status"], "ok");

    let state = ServerState::new(f.store.clone()).with_health(|| Err("source stalled".into()));
    let sick = Server::start("127.0.0.1:0".parse().unwrap(), Arc::new(state)).unwrap();
    let r = http(sick.local_addr(), "GET", "/healthz", &[], "");
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["reason"], "source stalled");
    sick.shutdown();
}

#[test]
fn incidents_list_pages_and_filters() {
    let f = start(None);
    let r = http(f.addr(), "GET", "/api/incidents", &[], "");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["total"], 3);
    assert_eq!(v["limit"], 50);
    assert_eq!(v["offset"], 0);
    let ids: Vec<_> = v["items"].as_array().unwrap().iter().map(|i| i["id"].clone()).collect();
    assert_eq!(ids, ["b", "c", "a"]);
    let first = &v["items"][0];
    assert_eq!(first["client"], "192.0.2.1");
    assert_eq!(first["severity"], "high");
    assert_eq!(first["last_seen"], T0 + 100);
    assert_eq!(first["last_seen_at"], "2024-05-01T12:01:40Z");
    assert_eq!(first["explanation"][0]["feature"], "client_error_ratio_60s");
    assert_eq!(first["samples"][0]["status"], 404);

    let ids = |target: &str| -> Vec<String> {
        let v = http(f.addr(), "GET", target, &[], "").json();
        v["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().into()).collect()
    };
    assert_eq!(ids("/api/incidents?limit=1&offset=1"), ["c"]);
    assert_eq!(ids("/api/incidents?severity=high"), ["b", "c"]);
    assert_eq!(ids("/api/incidents?category=sqli"), ["a"]);
    assert_eq!(ids("/api/incidents?client=192.0.2.1&status=open"), ["b", "a"]);
    assert_eq!(ids("/api/incidents?status=closed"), ["c"]);
    assert_eq!(ids(&format!("/api/incidents?since={}", T0 + 50)), ["b", "c"]);
    assert_eq!(ids("/api/incidents?since=2024-05-01T12:01:00Z"), ["b"]);

    let v = http(f.addr(), "GET", "/api/incidents?limit=100000", &[], "").json();
    assert_eq!(v["limit"], 500, "the page size is capped");
    for bad in ["limit=-1", "offset=x", "severity=urgent", "status=maybe", "since=yesterday"] {
        let r = http(f.addr(), "GET", &format!("/api/incidents?{bad}"), &[], "");
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["error"].as_str().is_some());
    }
    let long = format!("/api/incidents?client={}", "x".repeat(300));
    assert_eq!(http(f.addr(), "GET", &long, &[], "").status, 400);
    let huge = format!("/api/incidents?client={}", "x".repeat(5000));
    assert!(matches!(http(f.addr(), "GET", &huge, &[], "").status, 400 | 413 | 414 | 431));
}

#[test]
fn one_incident_with_its_anomalies() {
    let f = start(None);
    let r = http(f.addr(), "GET", "/api/incidents/b", &[], "");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["id"], "b");
    assert_eq!(v["anomalies"][0]["request"], "GET /b");
    let r = http(f.addr(), "GET", "/api/incidents/nope", &[], "");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
}

#[test]
fn without_the_lifecycle_store_feedback_is_stored_and_lifecycle_routes_are_absent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("anomalog.db")).unwrap());
    let rows = [incident("a", "192.0.2.1", "sqli", Severity::Low, T0)];
    store.write(&Batch { incidents: &rows, ..Batch::default() }).unwrap();
    let server =
        Server::start("127.0.0.1:0".parse().unwrap(), Arc::new(ServerState::new(store.clone())))
            .unwrap();
    let r = http(
        server.local_addr(),
        "POST",
        "/api/incidents/a/feedback",
        &[JSON],
        r#"{"feedback":"fp"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        store.get_incident("a").unwrap().unwrap().feedback,
        Some(anomalog_server::Feedback::FalsePositive)
    );
    // No allow pattern without the lifecycle store: the verdict only.
    assert!(store.allow_patterns().unwrap().is_empty());
    for route in ["/api/models", "/api/lifecycle", "/api/drift", "/api/allowlist"] {
        assert_eq!(http(server.local_addr(), "GET", route, &[], "").status, 404, "{route}");
    }
}

#[test]
fn feedback_is_stored_and_validated() {
    let f = start(None);
    let post = |target: &str, headers: &[(&str, &str)], body: &str| {
        http(f.addr(), "POST", target, headers, body)
    };
    let r = post("/api/incidents/a/feedback", &[JSON], r#"{"feedback":"fp"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["feedback"], "fp");
    assert_eq!(
        f.store.get_incident("a").unwrap().unwrap().feedback,
        Some(anomalog_server::Feedback::FalsePositive)
    );
    let r = post("/api/incidents/b/feedback", &[JSON], r#"{"feedback":"confirmed"}"#);
    assert_eq!(r.status, 200);
    assert_eq!(http(f.addr(), "GET", "/api/incidents/b", &[], "").json()["feedback"], "confirmed");

    let r = post("/api/incidents/nope/feedback", &[JSON], r#"{"feedback":"fp"}"#);
    assert_eq!(r.status, 404);
    for bad in [r#"{"feedback":"maybe"}"#, "{}", "not json", r#"{"feedback":"fp","x":1}"#] {
        assert_eq!(post("/api/incidents/a/feedback", &[JSON], bad).status, 400, "{bad}");
    }
    let r = post(
        "/api/incidents/a/feedback",
        &[("Content-Type", "text/plain")],
        r#"{"feedback":"fp"}"#,
    );
    assert_eq!(r.status, 415, "a cross-site form post is refused");
    let big = format!(r#"{{"feedback":"fp","pad":"{}"}}"#, "x".repeat(20_000));
    assert_eq!(post("/api/incidents/a/feedback", &[JSON], &big).status, 413);
    assert_eq!(http(f.addr(), "GET", "/api/incidents/a/feedback", &[], "").status, 405);
}

#[test]
fn series_points() {
    let f = start(None);
    let r = http(f.addr(), "GET", &format!("/api/series?since={T0}&until={}", T0 + 3600), &[], "");
    assert_eq!(r.status, 200);
    let v = r.json();
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0]["minute"], T0);
    assert_eq!(points[0]["requests"], 100);
    assert_eq!(points[1]["max_score"], 0.95);
    assert_eq!(http(f.addr(), "GET", "/api/series?since=soon", &[], "").status, 400);
    // The default window is the last hour, which holds nothing here.
    assert!(
        http(f.addr(), "GET", "/api/series", &[], "").json()["points"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn dashboard_has_a_strict_policy() {
    let f = start(None);
    let r = http(f.addr(), "GET", "/", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
    let csp = r.header("Content-Security-Policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("http"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
    assert!(r.body.contains(&format!("nonce=\"{nonce}\"")));
    assert!(!r.body.contains("{{NONCE}}"));
    assert_eq!(http(f.addr(), "GET", "/nope", &[], "").status, 404);
}

#[test]
fn token_is_enforced_everywhere_but_healthz() {
    let f = start(Some("s3cret-token"));
    let bearer = [("Authorization", "Bearer s3cret-token")];
    for target in ["/", "/metrics", "/api/incidents", "/api/incidents/a", "/api/series"] {
        let r = http(f.addr(), "GET", target, &[], "");
        assert_eq!(r.status, 401, "{target}");
        assert!(r.header("WWW-Authenticate").is_some(), "{target}");
        assert!(!r.body.contains("s3cret"));
        let r = http(f.addr(), "GET", target, &[("Authorization", "Bearer wrong")], "");
        assert_eq!(r.status, 401, "{target}");
        assert_eq!(http(f.addr(), "GET", target, &bearer, "").status, 200, "{target}");
    }
    assert_eq!(http(f.addr(), "GET", "/healthz", &[], "").status, 200);
    let r = http(f.addr(), "POST", "/api/incidents/a/feedback", &[JSON], r#"{"feedback":"fp"}"#);
    assert_eq!(r.status, 401);
    assert_eq!(f.store.get_incident("a").unwrap().unwrap().feedback, None);
    let r = http(
        f.addr(),
        "POST",
        "/api/incidents/a/feedback",
        &[JSON, bearer[0]],
        r#"{"feedback":"fp"}"#,
    );
    assert_eq!(r.status, 200);
    // A browser: Basic with the token as the password ("anomalog:s3cret-token").
    let basic = [("Authorization", "Basic YW5vbWFsb2c6czNjcmV0LXRva2Vu")];
    assert_eq!(http(f.addr(), "GET", "/", &basic, "").status, 200);
    let r = http(f.addr(), "GET", "/", &[], "");
    assert!(r.header("WWW-Authenticate").unwrap().starts_with("Basic"));
}

#[test]
fn non_loopback_requires_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("anomalog.db")).unwrap());
    let state = Arc::new(ServerState::new(store.clone()));
    let err = Server::start("0.0.0.0:0".parse().unwrap(), state).unwrap_err();
    assert!(matches!(err, ServerError::TokenRequired { .. }), "{err:?}");
    assert!(err.to_string().contains("0.0.0.0"), "{err}");
    let state = Arc::new(ServerState::new(store.clone()).with_token(Some(String::new())));
    let err = Server::start("127.0.0.1:0".parse().unwrap(), state).unwrap_err();
    assert!(matches!(err, ServerError::InvalidToken), "{err:?}");
    let state = Arc::new(ServerState::new(store).with_token(Some("t0ken".into())));
    let server = Server::start("0.0.0.0:0".parse().unwrap(), state).unwrap();
    assert!(server.local_addr().port() != 0);
    server.shutdown();
}

#[test]
fn foreign_host_names_are_refused_without_a_token() {
    let f = start(None);
    // Raw, because the helper always sends the real address as Host.
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(f.addr()).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    s.write_all(
        b"GET /api/incidents HTTP/1.1\r\nHost: evil.example:9898\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
}

#[test]
fn shutdown_stops_serving() {
    let f = start(None);
    let addr = f.addr();
    assert_eq!(http(addr, "GET", "/healthz", &[], "").status, 200);
    f.server.shutdown();
    let refused = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2));
    assert!(refused.is_err(), "the port is closed after shutdown");
}

#[test]
fn lifecycle_routes_serve_models_steps_drift_and_the_allowlist() {
    use anomalog_server::{DriftPoint, ModelStatus, NewModel};
    let f = start(None);
    let id = f
        .store
        .insert_model(&NewModel {
            path: "/m/1.model".into(),
            sha256: "00".repeat(32),
            detector: "ensemble".into(),
            training: serde_json::json!({ "records": 5 }),
            metrics: serde_json::json!({ "candidate": { "alert_rate": 0.01 } }),
            status: ModelStatus::Active,
            reason: "test".into(),
        })
        .unwrap();
    f.store.log_event("promoted", Some(id), "model 1 promoted").unwrap();
    f.store
        .add_drift_point(&DriftPoint {
            at: T0,
            model_id: Some(id),
            records: 100,
            drifted: true,
            score_psi: 0.4,
            drifted_features: 3,
            top: vec![("path_depth".into(), 0.9)],
        })
        .unwrap();
    let post = |target: &str, body: &str| http(f.addr(), "POST", target, &[JSON], body);
    let r = post("/api/incidents/a/feedback", r#"{"feedback":"fp"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.json()["allowed"].as_array().unwrap().is_empty(), "{}", r.body);

    let get = |target: &str| http(f.addr(), "GET", target, &[], "");
    let models = get("/api/models").json();
    assert_eq!(models["items"][0]["id"], id);
    assert_eq!(models["items"][0]["status"], "active");
    assert_eq!(get(&format!("/api/models/{id}")).json()["detector"], "ensemble");
    assert_eq!(get("/api/models/99").status, 404);
    assert_eq!(get("/api/models/x").status, 400);
    let steps = get("/api/lifecycle?limit=10").json();
    assert_eq!(steps["items"][0]["kind"], "feedback");
    assert_eq!(steps["items"][1]["message"], "model 1 promoted");
    assert_eq!(get("/api/drift").json()["points"][0]["score_psi"], 0.4);
    assert_eq!(get("/api/allowlist").json()["items"][0]["incident_id"], "a");
    assert_eq!(get("/api/drift?limit=x").status, 400);
    assert_eq!(get("/api/models/1/x").status, 404);
    assert_eq!(post("/api/models", "{}").status, 405);
}
