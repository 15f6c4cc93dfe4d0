//! Where log lines come from: followed files, syslog listeners, stdin.
//!
//! Every source implements the small pull trait [`Source`]: the daemon asks it for up
//! to `max` complete lines ([`Source::poll`]), processes them completely (scores them,
//! hands their alerts to the durable outbox), and only then asks for the source's
//! position ([`Source::checkpoint`]) and tells it the lines are done
//! ([`Source::commit`]). A position therefore never runs ahead of the work done on the
//! lines before it, which is what makes a restart resume without gaps or repeats.
//!
//! Sources that wait on the outside world (sockets, stdin) run their blocking reads on
//! threads of their own and hand lines to `poll` through a bounded channel; files are
//! read in `poll` itself. A consumer-group source (Kafka) fits the same trait: `poll`
//! fetches records, `checkpoint` returns the offsets reached and `commit` commits them
//! to the group.

pub mod file;
pub mod stdin;
pub mod syslog;

use std::ops::Range;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::WatchError;

/// A source's position, in a form the source defines (for files: path, device, inode,
/// byte offset and line number of every file being followed). Stored as JSON by
/// [`crate::checkpoint::CheckpointStore`], handed back to the source on restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Checkpoint(pub serde_json::Value);

impl Checkpoint {
    /// A checkpoint holding `state`.
    pub fn from_state<T: Serialize>(state: &T) -> Checkpoint {
        Checkpoint(serde_json::to_value(state).unwrap_or(serde_json::Value::Null))
    }

    /// The state in this checkpoint, or `None` when it has another shape.
    pub fn to_state<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_value(self.0.clone()).ok()
    }
}

/// Where one line came from: the file path or listener, and its 1-based line number
/// there (for streams without files, a sequence number since the source started).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineOrigin {
    /// The file path or the listener/stream name.
    pub origin: Arc<str>,
    /// 1-based line number within `origin`.
    pub line_no: u64,
    range: Range<usize>,
}

/// A batch of lines sharing one byte buffer, so reading allocates once per batch and
/// not once per line.
#[derive(Debug, Default)]
pub struct LineBatch {
    data: Vec<u8>,
    lines: Vec<LineOrigin>,
}

impl LineBatch {
    /// An empty batch.
    pub fn new() -> LineBatch {
        LineBatch::default()
    }

    /// Appends one line (without its terminator).
    pub fn push(&mut self, origin: &Arc<str>, line_no: u64, line: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(line);
        self.lines.push(LineOrigin {
            origin: Arc::clone(origin),
            line_no,
            range: start..self.data.len(),
        });
    }

    /// Number of lines in the batch.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the batch holds no line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Removes all lines, keeping the allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.lines.clear();
    }

    /// The lines with their origins, in the order they were read.
    pub fn iter(&self) -> impl Iterator<Item = (&LineOrigin, &[u8])> {
        self.lines.iter().map(|l| (l, &self.data[l.range.clone()]))
    }
}

/// Counters a source keeps about itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceHealth {
    /// Bytes written to followed files but not read yet.
    pub lag_bytes: u64,
    /// Messages dropped because the queue was full (UDP only; other sources block).
    pub dropped: u64,
    /// Lines longer than the limit, skipped.
    pub oversized: u64,
    /// Read or receive errors that were survived.
    pub errors: u64,
}

/// Makes every alert appended to the outboxes so far durable (fsyncs them). The daemon
/// hands one to each source before its loop starts; a source that acknowledges lines
/// upstream outside [`Source::commit`] (a consumer group giving partitions away in the
/// middle of a poll) calls it first, so that alerts stay durable before the positions
/// that produced them.
pub type Barrier = std::sync::Arc<dyn Fn() -> Result<(), WatchError> + Send + Sync>;

/// A source of log lines with a checkpointed position. See the module documentation
/// for the protocol between the daemon and a source.
pub trait Source: Send {
    /// A stable name, the key of the source's checkpoint (`file:/var/log/x.log`).
    fn id(&self) -> &str;

    /// Appends up to `max` complete lines to `out`. Never blocks for long: a source
    /// with nothing to read returns at once.
    fn poll(&mut self, out: &mut LineBatch, max: usize) -> Result<(), WatchError>;

    /// The position after the last line returned by [`Source::poll`], or `None` for a
    /// source that cannot resume (a socket, stdin).
    fn checkpoint(&self) -> Option<Checkpoint>;

    /// Called when every line returned so far is fully processed and the checkpoint is
    /// stored; a source that acknowledges upstream (a consumer group) does it here.
    fn commit(&mut self) -> Result<(), WatchError> {
        Ok(())
    }

    /// Whether the source has ended for good (stdin at end of input). Followed files
    /// and listeners never end.
    fn finished(&self) -> bool {
        false
    }

    /// Lag, drop and error counters.
    fn health(&self) -> SourceHealth {
        SourceHealth::default()
    }

    /// Receives the daemon's [`Barrier`]; sources that only acknowledge in
    /// [`Source::commit`] ignore it.
    fn set_barrier(&mut self, _barrier: Barrier) {}
}

/// A source as written on the command line or in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// `file:PATH` or `file:GLOB` (a bare path is accepted too).
    File(String),
    /// `syslog:udp://ADDR`
    SyslogUdp(String),
    /// `syslog:tcp://ADDR`
    SyslogTcp(String),
    /// `stdin` or `-`
    Stdin,
}

impl SourceSpec {
    /// Parses `file:PATH`, `syslog:udp://127.0.0.1:5514`, `syslog:tcp://...`, `stdin`.
    pub fn parse(spec: &str) -> Result<SourceSpec, WatchError> {
        let spec = spec.trim();
        if spec == "stdin" || spec == "-" {
            return Ok(SourceSpec::Stdin);
        }
        if let Some(rest) = spec.strip_prefix("syslog:") {
            let rest =
                if rest.contains("://") { rest.to_string() } else { format!("udp://{rest}") };
            return match rest.split_once("://") {
                Some(("udp", addr)) if !addr.is_empty() => Ok(SourceSpec::SyslogUdp(addr.into())),
                Some(("tcp", addr)) if !addr.is_empty() => Ok(SourceSpec::SyslogTcp(addr.into())),
                _ => Err(WatchError::Config(format!(
                    "source `{spec}`: expected syslog:udp://HOST:PORT or syslog:tcp://HOST:PORT"
                ))),
            };
        }
        let path = spec.strip_prefix("file:").unwrap_or(spec);
        if path.is_empty() {
            return Err(WatchError::Config(format!("source `{spec}`: empty path")));
        }
        Ok(SourceSpec::File(path.to_string()))
    }

    /// The id of the source built from this spec, and the key of its checkpoint.
    pub fn id(&self) -> String {
        match self {
            SourceSpec::File(p) => format!("file:{p}"),
            SourceSpec::SyslogUdp(a) => format!("syslog:udp://{a}"),
            SourceSpec::SyslogTcp(a) => format!("syslog:tcp://{a}"),
            SourceSpec::Stdin => "stdin".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(
            SourceSpec::parse("file:/a/b.log").unwrap(),
            SourceSpec::File("/a/b.log".into())
        );
        assert_eq!(SourceSpec::parse("/a/*.log").unwrap(), SourceSpec::File("/a/*.log".into()));
        assert_eq!(
            SourceSpec::parse("syslog:udp://127.0.0.1:5514").unwrap(),
            SourceSpec::SyslogUdp("127.0.0.1:5514".into())
        );
        assert_eq!(
            SourceSpec::parse("syslog:tcp://127.0.0.1:5514").unwrap(),
            SourceSpec::SyslogTcp("127.0.0.1:5514".into())
        );
        assert_eq!(SourceSpec::parse("-").unwrap(), SourceSpec::Stdin);
        assert!(SourceSpec::parse("syslog:sctp://x").is_err());
        assert!(SourceSpec::parse("file:").is_err());
    }

    #[test]
    fn batch_keeps_lines_and_origins() {
        let mut b = LineBatch::new();
        let o: Arc<str> = Arc::from("x");
        b.push(&o, 1, b"one");
        b.push(&o, 2, b"");
        b.push(&o, 3, b"three");
        let got: Vec<_> = b.iter().map(|(m, l)| (m.line_no, l.to_vec())).collect();
        assert_eq!(got, vec![(1, b"one".to_vec()), (2, vec![]), (3, b"three".to_vec())]);
        b.clear();
        assert!(b.is_empty());
    }
}
