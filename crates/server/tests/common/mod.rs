//! Rows for the tests.
#![allow(dead_code)] // each test binary uses a different part of this module

use anomalog_server::{
    AnomalyRow, ExplanationItem, IncidentRow, Sample, SeriesPoint, Severity, Status,
};

/// An incident with one sample and a two-item explanation.
pub fn incident(
    id: &str,
    client: &str,
    category: &str,
    severity: Severity,
    last: i64,
) -> IncidentRow {
    IncidentRow {
        id: id.into(),
        client: Some(client.into()),
        category: category.into(),
        severity,
        first_seen: last - 120,
        last_seen: last,
        count: 3,
        max_score: 0.93,
        samples: vec![Sample {
            ts: Some("2024-05-01T12:00:00+00:00".into()),
            request: format!("GET /{category}?id=1 HTTP/1.1"),
            status: Some(404),
            score: 0.93,
            source: "file:/var/log/access.log".into(),
            line: 42,
        }],
        explanation: vec![
            ExplanationItem {
                feature: "client_error_ratio_60s".into(),
                value: Some(0.8),
                typical: Some(0.02),
                contribution: 0.6,
            },
            ExplanationItem {
                feature: "path_entropy".into(),
                value: None,
                typical: Some(3.1),
                contribution: 0.4,
            },
        ],
        status: Status::Open,
        feedback: None,
    }
}

/// An anomaly of an incident, detected at `seen`.
pub fn anomaly(incident: Option<&str>, seen: i64, request: &str) -> AnomalyRow {
    AnomalyRow {
        id: 0,
        incident_id: incident.map(str::to_string),
        seen,
        ts: Some("2024-05-01T12:00:00+00:00".into()),
        source: "file:/var/log/access.log".into(),
        line: 7,
        client: Some("192.0.2.10".into()),
        request: request.into(),
        status: Some(500),
        score: 0.88,
        explanation: vec![ExplanationItem {
            feature: "status_5xx".into(),
            value: Some(1.0),
            typical: Some(0.0),
            contribution: 1.0,
        }],
    }
}

/// A series point.
pub fn point(minute: i64, requests: u64, mean: f64, max: f64) -> SeriesPoint {
    SeriesPoint {
        minute,
        requests,
        errors_4xx: requests / 10,
        errors_5xx: requests / 20,
        anomalies: 1,
        mean_score: mean,
        max_score: max,
    }
}

/// A response read off a raw socket.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends one HTTP/1.1 request over a fresh connection and reads the whole answer.
pub fn http(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let timeout = Some(std::time::Duration::from_secs(10));
    stream.set_read_timeout(timeout).unwrap();
    stream.set_write_timeout(timeout).unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Response { status, headers, body: body.to_string() }
}
