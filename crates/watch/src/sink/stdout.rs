//! Alerts as JSON lines on standard output.

use std::io::Write;

use super::Sink;
use crate::error::SinkError;
use crate::incident::IncidentEvent;

/// Writes each event as one JSON line to stdout.
#[derive(Debug, Default)]
pub struct StdoutSink;

impl StdoutSink {
    /// The sink.
    pub fn new() -> StdoutSink {
        StdoutSink
    }
}

impl Sink for StdoutSink {
    fn name(&self) -> &str {
        "stdout"
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        let line = serde_json::to_string(event).map_err(|e| SinkError::Permanent(e.to_string()))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(|e| SinkError::Retryable(format!("stdout: {e}")))
    }
}
