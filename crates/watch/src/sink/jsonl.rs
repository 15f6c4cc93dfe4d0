//! Alerts appended as JSON lines to a file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Sink;
use crate::error::{SinkError, WatchError};
use crate::incident::IncidentEvent;

/// Appends each event as one JSON line to a file, synced to disk before it counts as
/// delivered.
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
    file: File,
}

impl JsonlSink {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Result<JsonlSink, WatchError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| WatchError::io(path, e))?;
        Ok(JsonlSink { path: path.to_path_buf(), file })
    }
}

impl Sink for JsonlSink {
    fn name(&self) -> &str {
        "jsonl"
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        let mut line =
            serde_json::to_vec(event).map_err(|e| SinkError::Permanent(e.to_string()))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| SinkError::Retryable(format!("{}: {e}", self.path.display())))
    }
}
