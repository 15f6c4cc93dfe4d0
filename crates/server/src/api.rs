//! Routing and the handlers: `/metrics`, `/healthz`, `/api/...` and the dashboard.

use serde::Serialize;

use crate::auth;
use crate::http::{MAX_URL, ServerState};
use crate::query::Target;
use crate::rows::{Feedback, IncidentQuery, IncidentRow, Severity, Status};
use crate::time::{now_secs, parse_rfc3339, rfc3339};

const DASHBOARD: &str = include_str!("dashboard.html");
const JSON: &str = "application/json";
/// Longest client or category filter accepted.
const MAX_FILTER: usize = 256;
/// Anomalies returned with one incident.
const INCIDENT_ANOMALIES: usize = 50;
/// Default and largest time span of `/api/series`.
const SERIES_DEFAULT_SECS: i64 = 3600;
const SERIES_MAX_SECS: i64 = 7 * 24 * 3600;

/// The parts of a request the handlers look at.
pub(crate) struct Incoming<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub authorization: Option<&'a str>,
    pub host: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// A response before it is written.
#[derive(Debug)]
pub(crate) struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply { status, content_type, body: body.into(), headers: Vec::new() }
    }

    pub(crate) fn json<T: Serialize>(status: u16, value: &T) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply::new(status, JSON, body),
            Err(_) => Reply::error(500, "cannot encode the response"),
        }
    }

    /// A JSON error: `{"error": message}`. Messages never include request headers.
    pub(crate) fn error(status: u16, message: &str) -> Reply {
        let body = serde_json::json!({ "error": message }).to_string();
        Reply::new(status, JSON, body)
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// The tiny_http response with the security headers every answer carries.
    pub(crate) fn into_response(self) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let mut response = tiny_http::Response::from_data(self.body).with_status_code(self.status);
        let fixed = [
            ("Content-Type", self.content_type),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-store"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
            ("Server", "anomalog"),
        ];
        let extra = self.headers.iter().map(|(n, v)| (*n, v.as_str()));
        for (name, value) in fixed.into_iter().chain(extra) {
            if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(h);
            }
        }
        response
    }
}

/// Answers one request.
pub(crate) fn route(state: &ServerState, rq: &Incoming<'_>) -> Reply {
    if rq.url.len() > MAX_URL {
        return Reply::error(414, "request target too long");
    }
    let target = match Target::parse(rq.url) {
        Ok(t) => t,
        Err(message) => return Reply::error(400, &message),
    };
    let path = target.path();
    if path == ["healthz"] {
        return only(rq, "GET", || healthz(state));
    }
    match &state.token {
        Some(token) if !auth::authorized(rq.authorization, token) => {
            // A browser opening the dashboard gets the Basic prompt; API clients are
            // told to send a bearer token.
            let challenge = if path.is_empty() {
                "Basic realm=\"anomalog\", charset=\"UTF-8\""
            } else {
                "Bearer realm=\"anomalog\""
            };
            return Reply::error(401, "authorization required")
                .header("WWW-Authenticate", challenge);
        }
        Some(_) => {}
        // Without a token the server is loopback-only; refusing other host names stops
        // DNS-rebinding pages from reading the API through the victim's browser.
        None if !local_host(rq.host) => return Reply::error(403, "unexpected Host header"),
        None => {}
    }
    match path.as_slice() {
        [] | ["index.html"] => only(rq, "GET", dashboard),
        ["metrics"] => only(rq, "GET", || {
            Reply::new(200, "text/plain; version=0.0.4; charset=utf-8", (state.metrics)())
        }),
        ["api", "incidents"] => only(rq, "GET", || list_incidents(state, &target)),
        ["api", "incidents", id] => only(rq, "GET", || get_incident(state, id)),
        ["api", "incidents", id, "feedback"] => only(rq, "POST", || feedback(state, id, rq)),
        ["api", "series"] => only(rq, "GET", || series(state, &target)),
        ["api", "models" | "lifecycle" | "drift" | "allowlist", ..] => only(rq, "GET", || {
            crate::lifecycle_api::route(state, &path, &target)
                .unwrap_or_else(|| Reply::error(404, "not found"))
        }),
        _ => Reply::error(404, "not found"),
    }
}

fn only(rq: &Incoming<'_>, method: &'static str, handler: impl FnOnce() -> Reply) -> Reply {
    if rq.method == method {
        handler()
    } else {
        Reply::error(405, "method not allowed").header("Allow", method)
    }
}

/// Whether the Host header names this machine: `localhost` or an IP literal.
fn local_host(host: Option<&str>) -> bool {
    let Some(host) = host else { return true };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']').map_or(rest, |(ip, _)| ip)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

fn healthz(state: &ServerState) -> Reply {
    let check = (state.health)().and_then(|()| state.store.ping().map_err(|e| e.to_string()));
    match check {
        Ok(()) => Reply::json(200, &serde_json::json!({ "status": "ok" })),
        Err(reason) => {
            Reply::json(503, &serde_json::json!({ "status": "unhealthy", "reason": reason }))
        }
    }
}

fn dashboard() -> Reply {
    let nonce = nonce();
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    Reply::new(200, "text/html; charset=utf-8", DASHBOARD.replace("{{NONCE}}", &nonce))
        .header("Content-Security-Policy", csp)
}

/// An incident as the API returns it: the row plus readable times.
#[derive(Serialize)]
struct IncidentView<'a> {
    #[serde(flatten)]
    row: &'a IncidentRow,
    first_seen_at: String,
    last_seen_at: String,
}

impl<'a> IncidentView<'a> {
    fn new(row: &'a IncidentRow) -> Self {
        IncidentView {
            row,
            first_seen_at: rfc3339(row.first_seen),
            last_seen_at: rfc3339(row.last_seen),
        }
    }
}

fn list_incidents(state: &ServerState, target: &Target) -> Reply {
    let query = match incident_query(target) {
        Ok(q) => q,
        Err(message) => return Reply::error(400, &message),
    };
    match state.store.list_incidents(&query) {
        Ok(page) => {
            let items: Vec<_> = page.items.iter().map(IncidentView::new).collect();
            Reply::json(
                200,
                &serde_json::json!({
                    "items": items, "total": page.total, "limit": page.limit, "offset": page.offset
                }),
            )
        }
        Err(e) => store_error(&e),
    }
}

/// Reads the incident filters from the query string; a bad value is a message naming it.
fn incident_query(target: &Target) -> Result<IncidentQuery, String> {
    let number = |key: &str| -> Result<Option<usize>, String> {
        target
            .param(key)
            .map(|v| {
                v.parse::<usize>().map_err(|_| format!("{key}: expected a non-negative integer"))
            })
            .transpose()
    };
    let text = |key: &str| -> Result<Option<String>, String> {
        match target.param(key) {
            Some(v) if v.len() > MAX_FILTER => {
                Err(format!("{key}: longer than {MAX_FILTER} bytes"))
            }
            v => Ok(v.map(str::to_string)),
        }
    };
    let severity = target
        .param("severity")
        .map(|v| Severity::parse(v).ok_or("severity: expected low, medium, high or critical"))
        .transpose()?;
    let status = target
        .param("status")
        .map(|v| Status::parse(v).ok_or("status: expected open or closed"))
        .transpose()?;
    Ok(IncidentQuery {
        limit: number("limit")?
            .unwrap_or(IncidentQuery::DEFAULT_LIMIT)
            .clamp(1, IncidentQuery::MAX_LIMIT),
        offset: number("offset")?.unwrap_or(0),
        since: target.param("since").map(|v| time_param("since", v)).transpose()?,
        severity,
        category: text("category")?,
        client: text("client")?,
        status,
    })
}

/// A time given as unix seconds or RFC 3339.
fn time_param(key: &str, value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .or_else(|| parse_rfc3339(value))
        .ok_or_else(|| format!("{key}: expected unix seconds or an RFC 3339 time"))
}

fn get_incident(state: &ServerState, id: &str) -> Reply {
    let incident = match state.store.get_incident(id) {
        Ok(Some(incident)) => incident,
        Ok(None) => return Reply::error(404, "no such incident"),
        Err(e) => return store_error(&e),
    };
    match state.store.incident_anomalies(id, INCIDENT_ANOMALIES) {
        Ok(anomalies) => {
            let mut value = match serde_json::to_value(IncidentView::new(&incident)) {
                Ok(v) => v,
                Err(_) => return Reply::error(500, "cannot encode the response"),
            };
            value["anomalies"] = serde_json::json!(anomalies);
            Reply::json(200, &value)
        }
        Err(e) => store_error(&e),
    }
}

fn feedback(state: &ServerState, id: &str, rq: &Incoming<'_>) -> Reply {
    // Requiring JSON makes a cross-site form post impossible: browsers must ask first
    // (CORS preflight), and this server never allows other origins.
    let is_json = rq.content_type.is_some_and(|ct| {
        ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case(JSON))
    });
    if !is_json {
        return Reply::error(415, "expected Content-Type: application/json");
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        feedback: Feedback,
    }
    let Ok(body) = serde_json::from_slice::<Body>(rq.body) else {
        return Reply::error(400, r#"expected {"feedback": "fp"} or {"feedback": "confirmed"}"#);
    };
    // Over the lifecycle's SQLite store a false positive also feeds the allow-list;
    // over another backend the verdict is stored with the incident.
    let Some(local) = &state.lifecycle else {
        return match state.store.set_feedback(id, body.feedback) {
            Ok(true) => {
                Reply::json(200, &serde_json::json!({ "id": id, "feedback": body.feedback }))
            }
            Ok(false) => Reply::error(404, "no such incident"),
            Err(e) => store_error(&e),
        };
    };
    match local.record_feedback(id, body.feedback) {
        Ok(crate::FeedbackOutcome::Recorded { patterns }) => Reply::json(
            200,
            &serde_json::json!({ "id": id, "feedback": body.feedback, "allowed": patterns }),
        ),
        Ok(crate::FeedbackOutcome::UnknownIncident) => Reply::error(404, "no such incident"),
        Err(e) => store_error(&e),
    }
}

fn series(state: &ServerState, target: &Target) -> Reply {
    let now = now_secs();
    let parse = |key, default| target.param(key).map_or(Ok(default), |v| time_param(key, v));
    let until = match parse("until", now + 60) {
        Ok(t) => t,
        Err(message) => return Reply::error(400, &message),
    };
    let since = match parse("since", until - SERIES_DEFAULT_SECS) {
        Ok(t) => t.max(until.saturating_sub(SERIES_MAX_SECS)),
        Err(message) => return Reply::error(400, &message),
    };
    match state.store.series(since, until) {
        Ok(points) => Reply::json(
            200,
            &serde_json::json!({ "since": since, "until": until, "points": points }),
        ),
        Err(e) => store_error(&e),
    }
}

pub(crate) fn store_error(e: &dyn std::fmt::Display) -> Reply {
    Reply::error(500, &e.to_string())
}

/// 128 random bits as hex for the dashboard's CSP nonce.
fn nonce() -> String {
    let mut bytes = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    if !from_os {
        // Where there is no /dev/urandom, the standard library's randomly keyed hasher
        // is the best source available without another dependency.
        use std::hash::{BuildHasher, Hasher};
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_check() {
        for ok in
            [None, Some("127.0.0.1:9898"), Some("localhost"), Some("[::1]:80"), Some("LOCALHOST:1")]
        {
            assert!(local_host(ok), "{ok:?}");
        }
        for bad in [Some("evil.example:9898"), Some("localhost.evil.example")] {
            assert!(!local_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn nonces_differ() {
        let (a, b) = (nonce(), nonce());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
