//! The error type of the daemon and its components.

use std::io;
use std::path::PathBuf;

/// What can go wrong while watching: configuration, I/O on a named path, state files.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A source, sink or option was given in a form that cannot be used.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An I/O operation on a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A network operation (binding a listener) failed.
    #[error("{addr}: {source}")]
    Net {
        /// The address involved.
        addr: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A state file (checkpoint, outbox acknowledgement) exists but cannot be read.
    #[error("{path}: corrupt state file: {message}")]
    CorruptState {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

impl WatchError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> WatchError {
        WatchError::Io { path: path.into(), source }
    }
}

/// Why one delivery of an alert failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Worth trying again later (receiver down, timeout, HTTP 429 or 5xx).
    #[error("{0} (will retry)")]
    Retryable(String),
    /// Trying again will not help (HTTP 4xx other than 408/429, an unusable event); the
    /// event is dropped and counted.
    #[error("{0} (giving up)")]
    Permanent(String),
}
