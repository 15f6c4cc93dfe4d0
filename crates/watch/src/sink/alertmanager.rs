//! Alerts for the Prometheus Alertmanager v2 API (`POST /api/v2/alerts`).
//!
//! Each event becomes one alert named `AnomalogIncident`, labelled with severity,
//! client, category and incident id, so Alertmanager groups, silences and routes it
//! like any other. An open incident's alert ends 30 minutes after its last
//! activity (Alertmanager resolves it by itself if the daemon goes away); a closed
//! one ends at its closing time.

use std::time::Duration;

use serde_json::json;

use super::Sink;
use super::http::JsonPoster;
use crate::error::SinkError;
use crate::incident::{EventKind, IncidentEvent, is_site_wide};
use crate::time::rfc3339;

/// How long after the last activity an open incident's alert is considered resolved
/// if no further event arrives.
const OPEN_FOR_MS: i64 = 30 * 60 * 1000;

/// POSTs each event as a one-alert array to `URL/api/v2/alerts`.
pub struct AlertmanagerSink {
    poster: JsonPoster,
}

impl AlertmanagerSink {
    /// A sink for the Alertmanager at `base_url` (`http://127.0.0.1:9093`).
    pub fn new(base_url: &str, timeout: Duration) -> AlertmanagerSink {
        let url = format!("{}/api/v2/alerts", base_url.trim_end_matches('/'));
        AlertmanagerSink { poster: JsonPoster::new(&url, timeout) }
    }
}

/// The alert array posted for `event`.
pub fn alerts(event: &IncidentEvent) -> serde_json::Value {
    let inc = &event.incident;
    let ends = match event.event {
        EventKind::Closed => event.at,
        EventKind::Opened | EventKind::Updated => inc.last_seen.saturating_add(OPEN_FOR_MS),
    };
    let no_client = if is_site_wide(&inc.category) { "site" } else { "unknown" };
    let client = inc.client.as_deref().unwrap_or(no_client);
    json!([{
        "labels": {
            "alertname": "AnomalogIncident",
            "severity": inc.severity.as_str(),
            "client": client,
            "category": inc.category,
            "incident_id": inc.id,
        },
        "annotations": {
            "summary": inc.summary(),
            "description": inc.description(),
        },
        "startsAt": rfc3339(inc.first_seen),
        "endsAt": rfc3339(ends),
    }])
}

impl Sink for AlertmanagerSink {
    fn name(&self) -> &str {
        "alertmanager"
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        let body =
            serde_json::to_vec(&alerts(event)).map_err(|e| SinkError::Permanent(e.to_string()))?;
        self.poster.post(&body)
    }
}
