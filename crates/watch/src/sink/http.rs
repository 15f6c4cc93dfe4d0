//! The one HTTP POST all webhook-style sinks share, with failures classified.

use std::time::Duration;

use crate::error::SinkError;

/// An HTTP client that posts JSON bodies and reads the status.
pub(crate) struct JsonPoster {
    agent: ureq::Agent,
    url: String,
}

impl JsonPoster {
    pub(crate) fn new(url: &str, timeout: Duration) -> JsonPoster {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build();
        JsonPoster { agent: ureq::Agent::new_with_config(config), url: url.to_string() }
    }

    /// Posts `body`; 2xx is success, 408, 429 and 5xx are worth retrying, other
    /// statuses are not, and transport errors (refused, timeout) are.
    pub(crate) fn post(&self, body: &[u8]) -> Result<(), SinkError> {
        let response = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|e| SinkError::Retryable(format!("POST {}: {e}", self.url)))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(()),
            408 | 429 | 500..=599 => {
                Err(SinkError::Retryable(format!("POST {}: HTTP {status}", self.url)))
            }
            _ => Err(SinkError::Permanent(format!("POST {}: HTTP {status}", self.url))),
        }
    }
}
