//! Alerts as a generic JSON webhook: the event object is the POST body.

use std::time::Duration;

use super::Sink;
use super::http::JsonPoster;
use crate::error::SinkError;
use crate::incident::IncidentEvent;

/// POSTs each event (`{"event": "opened", "at": ..., "incident": {...}}`) to a URL.
pub struct WebhookSink {
    poster: JsonPoster,
}

impl WebhookSink {
    /// A sink posting to `url`, each attempt bounded by `timeout`.
    pub fn new(url: &str, timeout: Duration) -> WebhookSink {
        WebhookSink { poster: JsonPoster::new(url, timeout) }
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> &str {
        "webhook"
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        let body = serde_json::to_vec(event).map_err(|e| SinkError::Permanent(e.to_string()))?;
        self.poster.post(&body)
    }
}
