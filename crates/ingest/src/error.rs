//! Why a line was rejected, and errors of the readers.

use std::fmt;
use std::path::PathBuf;

/// The reason a line or record was rejected, counted per reason in `parse --stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// An empty or blank line.
    Empty,
    /// Longer than the configured maximum line length.
    TooLong,
    /// The line does not have the shape of the format (a missing quote, too few fields).
    Malformed,
    /// The timestamp field is not a valid time.
    BadTimestamp,
    /// The status field is not a three-digit status code.
    BadStatus,
    /// A numeric field (bytes, request time) is not a number.
    BadNumber,
    /// The request line is not `METHOD TARGET PROTOCOL`.
    BadRequestLine,
    /// The line holds bytes no log format writes (NUL and other binary).
    Binary,
    /// Not valid JSON, or not a JSON object.
    BadJson,
}

impl RejectReason {
    /// A stable, machine-readable name (`bad_timestamp`).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Empty => "empty",
            RejectReason::TooLong => "too_long",
            RejectReason::Malformed => "malformed",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::BadStatus => "bad_status",
            RejectReason::BadNumber => "bad_number",
            RejectReason::BadRequestLine => "bad_request_line",
            RejectReason::Binary => "binary",
            RejectReason::BadJson => "bad_json",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one line did not parse: the reason, the field it concerns, and the byte column
/// where the parser gave up.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// The category counted in statistics.
    pub reason: RejectReason,
    /// The field being parsed (`status`, `time_local`, `request`), or `line`.
    pub field: &'static str,
    /// 0-based byte offset in the line where the problem was found.
    pub column: usize,
}

impl ParseError {
    /// A new error.
    pub fn new(reason: RejectReason, field: &'static str, column: usize) -> ParseError {
        ParseError { reason, field, column }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in field `{}` at column {}", self.reason, self.field, self.column + 1)
    }
}

impl std::error::Error for ParseError {}

/// Errors that stop reading an input (as opposed to rejecting one line).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The input.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The `--format` specification is not understood.
    #[error("invalid format `{spec}`: {message}")]
    BadFormatSpec {
        /// What the user gave.
        spec: String,
        /// What is wrong with it.
        message: String,
    },
    /// None of the first lines of an input parse with the chosen format.
    #[error(
        "{path}: none of the first {checked} lines parse as `{format}` (line {line}: {error}); \
         choose another --format"
    )]
    FormatMismatch {
        /// The input.
        path: String,
        /// The format tried.
        format: String,
        /// How many lines were tried.
        checked: u64,
        /// The first line that failed.
        line: u64,
        /// Why it failed.
        error: ParseError,
    },
    /// `--format auto` found no format that fits.
    #[error("{path}: cannot tell the log format from the first lines; give --format")]
    UnknownFormat {
        /// The input.
        path: String,
    },
}
