//! Errors of the store and of the server.

use std::path::PathBuf;

/// What went wrong in the store. Every variant names the database file, so an
/// operator can tell which file is full, read-only or from a newer release.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file or its directory could not be created or opened.
    #[error("{path}: cannot open the database: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The disk (or the configured size limit) is full.
    #[error("{path}: disk full, cannot write the database")]
    DiskFull {
        /// The database file.
        path: PathBuf,
    },
    /// The database file or its directory is read-only.
    #[error("{path}: the database is read-only (check the file and directory permissions)")]
    ReadOnly {
        /// The database file.
        path: PathBuf,
    },
    /// The file exists but is not an anomalog database (or is damaged).
    #[error("{path}: not a database or damaged: {message}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        message: String,
    },
    /// The file was written by a newer anomalog with a schema this one cannot read.
    #[error(
        "{path}: schema version {found} is newer than the supported version {supported}; \
         upgrade anomalog or use another --db"
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The version stored in the file.
        found: i64,
        /// The newest version this build reads.
        supported: i64,
    },
    /// A stored value could not be decoded (for example invalid JSON in a column).
    #[error("{path}: invalid stored value in {column}: {message}")]
    Decode {
        /// The database file.
        path: PathBuf,
        /// Table and column (`incidents.samples`).
        column: &'static str,
        /// What was wrong.
        message: String,
    },
    /// Any other SQLite error.
    #[error("{path}: database error: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Classifies a SQLite error so that a full disk and a read-only file say so.
    pub(crate) fn from_sqlite(path: &std::path::Path, err: rusqlite::Error) -> StoreError {
        use rusqlite::ffi::ErrorCode;
        let path = path.to_path_buf();
        match err.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreError::DiskFull { path },
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path },
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StoreError::Corrupt { path, message: err.to_string() }
            }
            _ => StoreError::Sqlite { path, source: err },
        }
    }
}

/// What went wrong starting the HTTP server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A non-loopback address was requested without a bearer token.
    #[error(
        "refusing to listen on {addr} without a bearer token: \
         set a token or listen on 127.0.0.1"
    )]
    TokenRequired {
        /// The requested address.
        addr: std::net::SocketAddr,
    },
    /// The bearer token is empty or contains characters a header cannot carry.
    #[error("the bearer token must be non-empty visible ASCII without spaces")]
    InvalidToken,
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: std::net::SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The HTTP server could not be started on the bound socket.
    #[error("cannot start the HTTP server on {addr}: {message}")]
    Start {
        /// The bound address.
        addr: std::net::SocketAddr,
        /// What failed.
        message: String,
    },
}
