//! The live daemon behind `anomalog watch`: follow log sources, score each line, group
//! anomalies into incidents and deliver alerts, losing no line across rotations,
//! restarts and receiver outages.
//!
//! # Brief overview
//!
//! Data flows one way: **sources -> scorer -> incidents -> outboxes -> sinks**.
//!
//! - [`source::Source`] is the pull trait of a line source with a checkpointed
//!   position: [`source::file::FileSource`] follows files like `tail -F` (rotation,
//!   copytruncate, globs), [`source::syslog::SyslogSource`] listens on UDP or TCP,
//!   [`source::stdin::ReaderSource`] reads stdin.
//! - [`LineScorer`] turns a line into a [`LineOutcome`] (rejected, normal, or an
//!   [`incident::Anomaly`]); the model code implements it.
//! - [`incident::IncidentTracker`] groups anomalies by client and category into
//!   [`incident::Incident`]s and emits opened/updated/closed events.
//! - [`outbox::Outbox`] is a durable per-sink queue with a delivery thread (retries,
//!   backoff, rate limit) feeding a [`sink::Sink`]: stdout, JSONL file, webhook, Slack,
//!   Alertmanager.
//! - [`checkpoint::CheckpointStore`] saves positions and incident state atomically.
//! - [`Daemon`] ties them together; [`metrics::Metrics`] counts everything and
//!   renders Prometheus text.
//!
//! # Example
//!
//! ```
//! use std::io::Write;
//! use std::sync::atomic::AtomicBool;
//! use anomalog_watch::{Daemon, DaemonConfig, LineOutcome, LineScorer};
//! use anomalog_watch::incident::Anomaly;
//!
//! /// Flags every line that mentions "attack".
//! struct Keyword;
//! impl LineScorer for Keyword {
//!     fn score_line(&mut self, _source: &str, line: &[u8]) -> LineOutcome {
//!         if !line.windows(6).any(|w| w == b"attack") {
//!             return LineOutcome::Normal { score: 0.1 };
//!         }
//!         LineOutcome::Anomalous(Box::new(Anomaly {
//!             ts: None, source: String::new(), line: 0,
//!             client: Some("203.0.113.7".into()), category: "keyword".into(),
//!             request: String::from_utf8_lossy(line).into_owned(), status: None,
//!             score: 0.99, explanation: vec![],
//!         }))
//!     }
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let log = dir.path().join("access.log");
//! std::fs::write(&log, "GET /ok\nGET /attack\n")?;
//! let alerts = dir.path().join("alerts.jsonl");
//! let mut config = DaemonConfig::default();
//! config.sources = vec![format!("file:{}", log.display())];
//! config.alerts = vec![format!("jsonl:{}", alerts.display())];
//! config.state_dir = dir.path().join("state");
//! config.file.start_at = anomalog_watch::source::file::StartAt::Beginning;
//!
//! // Stop after the first rounds; a real daemon stops on SIGTERM.
//! let daemon = Daemon::new(config)?;
//! let shutdown = AtomicBool::new(false);
//! let stats = std::thread::scope(|s| {
//!     s.spawn(|| {
//!         std::thread::sleep(std::time::Duration::from_millis(300));
//!         shutdown.store(true, std::sync::atomic::Ordering::Relaxed);
//!     });
//!     daemon.run(&mut Keyword, &shutdown)
//! })?;
//! assert_eq!(stats.lines_read, 2);
//! assert_eq!(stats.anomalies, 1);
//! assert!(std::fs::read_to_string(&alerts)?.contains("\"event\":\"opened\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod checkpoint;
pub mod daemon;
pub mod error;
pub mod incident;
pub mod metrics;
pub mod outbox;
pub mod priority;
pub mod ratelimit;
pub mod sink;
pub mod source;
pub mod time;

pub use daemon::{Daemon, DaemonConfig, LineOutcome, LineScorer, run};
pub use error::{SinkError, WatchError};
pub use metrics::{DaemonStats, Metrics};
