//! Alerts for Slack-compatible incoming webhooks: `{"text": "..."}`.

use std::time::Duration;

use super::Sink;
use super::http::JsonPoster;
use crate::error::SinkError;
use crate::incident::{EventKind, IncidentEvent};

/// POSTs a readable summary of each event as `{"text": ...}`.
pub struct SlackSink {
    poster: JsonPoster,
}

impl SlackSink {
    /// A sink posting to `url`, each attempt bounded by `timeout`.
    pub fn new(url: &str, timeout: Duration) -> SlackSink {
        SlackSink { poster: JsonPoster::new(url, timeout) }
    }
}

/// The message text: what happened, the summary, the explanation and samples.
pub fn text(event: &IncidentEvent) -> String {
    let what = match event.event {
        EventKind::Opened => "New incident",
        EventKind::Updated => "Incident update",
        EventKind::Closed => "Incident closed",
    };
    format!("*{what}* {}", event.incident.description())
}

impl Sink for SlackSink {
    fn name(&self) -> &str {
        "slack"
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        let body = serde_json::to_vec(&serde_json::json!({ "text": text(event) }))
            .map_err(|e| SinkError::Permanent(e.to_string()))?;
        self.poster.post(&body)
    }
}
