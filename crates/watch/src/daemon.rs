//! The daemon loop: poll sources, score lines, track incidents, queue alerts, commit
//! checkpoints.
//!
//! One thread runs the loop; sources with blocking reads and each sink's delivery have
//! threads of their own. Each round polls every source for up to `batch_lines` lines
//! and processes them completely: every line is scored, anomalies go to the incident
//! tracker, and the resulting events are appended to every sink's outbox (delivery
//! starts at once). The outboxes are fsynced, then the source positions and the
//! tracker state are saved in one atomic checkpoint after such a round, at most every
//! `commit_interval_ms` (or sooner, once `commit_lines` lines were read since the last
//! one): a group commit, so that the fsyncs of outboxes and checkpoint are paid a few
//! times a second and not once per batch.
//!
//! A checkpoint is therefore never ahead of the lines scored, nor of the alerts they
//! produced: those are in the outboxes before it is written. After `kill -9` a restart
//! resumes at the last checkpoint, so no line is skipped; the lines read after it are
//! scored again, which repeats the alerts they produced (at most one commit interval's
//! worth: delivery is at least once).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointStore;
use crate::error::WatchError;
use crate::incident::{Anomaly, EventKind, IncidentConfig, IncidentEvent, IncidentTracker};
use crate::metrics::{DaemonStats, Metrics};
use crate::outbox::{DeliveryConfig, Outbox, OutboxSync};
use crate::sink::{Sink, SinkSpec};
use crate::source::file::{FileSource, FileSourceConfig};
use crate::source::stdin::ReaderSource;
use crate::source::syslog::{Protocol, SyslogConfig, SyslogSource};
use crate::source::{Barrier, Checkpoint, LineBatch, Source, SourceSpec};
use crate::time::now_ms;

/// What the scorer made of one line.
#[derive(Debug, Clone, PartialEq)]
pub enum LineOutcome {
    /// The line could not be parsed; the reason is counted (`bad_status`).
    Rejected(&'static str),
    /// A normal record and its score.
    Normal {
        /// Anomaly score, 0..1.
        score: f64,
    },
    /// An anomalous record. The daemon fills in `source` and `line`.
    Anomalous(Box<Anomaly>),
}

/// Turns a log line into a verdict: parse with a format, compute features, score with
/// the model. The same code as batch `detect` implements it for the daemon.
pub trait LineScorer: Send {
    /// Scores one line (without its terminator) read from `source`.
    fn score_line(&mut self, source: &str, line: &[u8]) -> LineOutcome;

    /// Scores the lines of one batch in order, appending one outcome per line to `out`.
    /// The default scores them one at a time; a scorer that gains from scoring many
    /// rows at once (a detector that walks its trees for a block of rows, on every
    /// core) overrides it, with the same outcomes as line by line.
    fn score_batch(&mut self, batch: &LineBatch, out: &mut Vec<LineOutcome>) {
        for (origin, line) in batch.iter() {
            out.push(self.score_line(&origin.origin, line));
        }
    }

    /// Moves into `out` the anomalies that belong to no line (a drift alert, say),
    /// raised since the last call; the daemon groups and alerts them like the others.
    /// None by default.
    fn drain_alerts(&mut self, _out: &mut Vec<Anomaly>) {}
}

/// Settings of the daemon. Backs both the config file (`[watch]` keys) and the
/// command-line flags; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DaemonConfig {
    /// Sources (`file:/var/log/nginx/access.log`, `file:/var/log/*/access.log`,
    /// `syslog:udp://127.0.0.1:5514`, `syslog:tcp://127.0.0.1:5514`, `stdin`).
    pub sources: Vec<String>,
    /// Alert sinks (`stdout`, `jsonl:FILE`, `webhook:URL`, `slack:URL`,
    /// `alertmanager:URL`).
    pub alerts: Vec<String>,
    /// Directory of the checkpoint and the outboxes.
    pub state_dir: PathBuf,
    /// The checkpoint file; default `STATE_DIR/checkpoint.json`.
    pub checkpoint: Option<PathBuf>,
    /// Lines taken from one source per round.
    pub batch_lines: usize,
    /// Longest time between two checkpoints while lines come in, in milliseconds;
    /// after a crash, at most this much is read (and alerted on) again.
    // Not read from the config file: every file key is documented in
    // `anomalog.example.toml`, and these two are tuning for embedders and tests.
    #[serde(skip)]
    pub commit_interval_ms: u64,
    /// Lines read since the last checkpoint that make the next round write one
    /// without waiting for the interval.
    #[serde(skip)]
    pub commit_lines: u64,
    /// Lines (or messages) a threaded source may hold for the loop.
    pub queue_lines: usize,
    /// Pause when no source had anything, in milliseconds.
    pub poll_interval_ms: u64,
    /// Time given to sinks at shutdown to deliver what is queued, in milliseconds.
    pub shutdown_grace_ms: u64,
    /// Timeout of one HTTP delivery attempt, in milliseconds.
    pub http_timeout_ms: u64,
    /// Stop when every source has ended (stdin at end of input).
    pub exit_when_finished: bool,
    /// File following.
    pub file: FileSourceConfig,
    /// Incident grouping.
    pub incidents: IncidentConfig,
    /// Alert delivery (retries, rate limit), for every sink.
    pub delivery: DeliveryConfig,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            sources: Vec::new(),
            alerts: vec!["stdout".to_string()],
            state_dir: PathBuf::from("anomalog-state"),
            checkpoint: None,
            batch_lines: 4096,
            commit_interval_ms: 1000,
            commit_lines: 200_000,
            queue_lines: 10_000,
            poll_interval_ms: 25,
            shutdown_grace_ms: 5_000,
            http_timeout_ms: 5_000,
            exit_when_finished: true,
            file: FileSourceConfig::default(),
            incidents: IncidentConfig::default(),
            delivery: DeliveryConfig::default(),
        }
    }
}

/// The assembled daemon: sources, sinks with their outboxes, the checkpoint store and
/// the incident tracker.
pub struct Daemon {
    config: DaemonConfig,
    sources: Vec<Box<dyn Source>>,
    outboxes: Vec<Outbox>,
    store: CheckpointStore,
    tracker: IncidentTracker,
    metrics: Arc<Metrics>,
}

impl Daemon {
    /// Opens the state, restores positions and incidents, binds listeners, opens the
    /// sinks' outboxes (starting delivery of what a previous run left queued).
    pub fn new(config: DaemonConfig) -> Result<Daemon, WatchError> {
        std::fs::create_dir_all(&config.state_dir)
            .map_err(|e| WatchError::io(&config.state_dir, e))?;
        let cp_path =
            config.checkpoint.clone().unwrap_or_else(|| config.state_dir.join("checkpoint.json"));
        let mut store = CheckpointStore::open(cp_path)?;
        let mut tracker = IncidentTracker::new(config.incidents.clone());
        if let Some(state) = store.incidents() {
            tracker.restore(state);
        }
        if let Some(journal) = store.take_incident_journal() {
            tracker.replay_journal(&journal);
        }
        let mut daemon = Daemon {
            sources: Vec::new(),
            outboxes: Vec::new(),
            store,
            tracker,
            metrics: Arc::new(Metrics::default()),
            config,
        };
        for spec in daemon.config.sources.clone() {
            let spec = SourceSpec::parse(&spec)?;
            let source = daemon.build_source(&spec)?;
            daemon.sources.push(source);
        }
        let timeout = Duration::from_millis(daemon.config.http_timeout_ms);
        for spec in daemon.config.alerts.clone() {
            let spec = SinkSpec::parse(&spec)?;
            daemon.add_sink(&spec.key(), spec.build(timeout)?)?;
        }
        Ok(daemon)
    }

    fn build_source(&self, spec: &SourceSpec) -> Result<Box<dyn Source>, WatchError> {
        let syslog = SyslogConfig { queue: self.config.queue_lines, ..SyslogConfig::default() };
        Ok(match spec {
            SourceSpec::File(pattern) => Box::new(FileSource::new(
                pattern,
                self.config.file.clone(),
                self.store.get(&spec.id()),
            )?),
            SourceSpec::SyslogUdp(addr) => {
                Box::new(SyslogSource::bind(Protocol::Udp, addr, syslog)?)
            }
            SourceSpec::SyslogTcp(addr) => {
                Box::new(SyslogSource::bind(Protocol::Tcp, addr, syslog)?)
            }
            SourceSpec::Stdin => {
                Box::new(ReaderSource::stdin(self.config.queue_lines, self.config.file.max_line))
            }
        })
    }

    /// The stored position of source `id`, to build a source that resumes.
    pub fn checkpoint_of(&self, id: &str) -> Option<&Checkpoint> {
        self.store.get(id)
    }

    /// Adds a source built elsewhere (its id keys its checkpoint).
    pub fn add_source(&mut self, source: Box<dyn Source>) {
        self.sources.push(source);
    }

    /// Adds a sink with its outbox in `STATE_DIR/outbox/KEY`.
    pub fn add_sink(&mut self, key: &str, sink: Box<dyn Sink>) -> Result<(), WatchError> {
        let dir = self.config.state_dir.join("outbox").join(key);
        let outbox = Outbox::open(&dir, sink, self.config.delivery.clone())?;
        self.metrics.add_sink(key, outbox.stats());
        self.outboxes.push(outbox);
        Ok(())
    }

    /// The daemon's counters, live.
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Runs until `shutdown` is set (or every source has ended, if so configured),
    /// then saves the checkpoint and gives the sinks the grace period to deliver.
    pub fn run<S: LineScorer + ?Sized>(
        mut self,
        scorer: &mut S,
        shutdown: &AtomicBool,
    ) -> Result<DaemonStats, WatchError> {
        let handles: Vec<OutboxSync> = self.outboxes.iter().map(Outbox::sync_handle).collect();
        let barrier: Barrier = Arc::new(move || handles.iter().try_for_each(OutboxSync::sync));
        for source in &mut self.sources {
            source.set_barrier(Arc::clone(&barrier));
        }
        let result = self.run_loop(scorer, shutdown);
        // After a failure (an outbox that could not be written, say), the positions of the
        // batch in hand cover lines whose alerts are not safe yet: keep the last checkpoint
        // and let a restart score them again.
        let saved = if result.is_ok() { self.commit() } else { Ok(()) };
        let grace = Duration::from_millis(self.config.shutdown_grace_ms);
        let outboxes = std::mem::take(&mut self.outboxes);
        thread::scope(|s| {
            for outbox in outboxes {
                s.spawn(move || outbox.shutdown(grace));
            }
        });
        result.and(saved)?;
        Ok(self.metrics.snapshot())
    }

    fn run_loop<S: LineScorer + ?Sized>(
        &mut self,
        scorer: &mut S,
        shutdown: &AtomicBool,
    ) -> Result<(), WatchError> {
        let mut batch = LineBatch::new();
        let mut outcomes: Vec<LineOutcome> = Vec::new();
        let mut events: Vec<IncidentEvent> = Vec::new();
        let mut side: Vec<Anomaly> = Vec::new();
        let mut rejects: BTreeMap<&'static str, u64> = BTreeMap::new();
        let poll_interval = Duration::from_millis(self.config.poll_interval_ms.max(1));
        let commit_interval = Duration::from_millis(self.config.commit_interval_ms);
        let m = Arc::clone(&self.metrics);
        // Work done since the last checkpoint: lines read, events queued.
        let mut uncommitted = false;
        let mut lines_since_commit = 0u64;
        let mut last_commit = Instant::now();
        while !shutdown.load(Ordering::Relaxed) {
            let now = now_ms();
            let mut read = 0;
            for source in &mut self.sources {
                batch.clear();
                if source.poll(&mut batch, self.config.batch_lines).is_err() {
                    m.source_errors.fetch_add(1, Ordering::Relaxed);
                }
                read += batch.len();
                let (mut scored, mut anomalies) = (0, 0);
                outcomes.clear();
                if !batch.is_empty() {
                    scorer.score_batch(&batch, &mut outcomes);
                }
                for ((origin, _), outcome) in batch.iter().zip(outcomes.drain(..)) {
                    match outcome {
                        LineOutcome::Rejected(reason) => *rejects.entry(reason).or_default() += 1,
                        LineOutcome::Normal { .. } => scored += 1,
                        LineOutcome::Anomalous(mut a) => {
                            scored += 1;
                            anomalies += 1;
                            if a.source != *origin.origin {
                                a.source = origin.origin.to_string();
                            }
                            a.line = origin.line_no;
                            events.extend(self.tracker.observe(&a, now));
                        }
                    }
                }
                m.lines_read.fetch_add(batch.len() as u64, Ordering::Relaxed);
                m.scored.fetch_add(scored, Ordering::Relaxed);
                m.anomalies.fetch_add(anomalies, Ordering::Relaxed);
                m.set_source(source.id(), source.health());
            }
            if !rejects.is_empty() {
                m.rejects.fetch_add(rejects.values().sum(), Ordering::Relaxed);
                m.add_rejects(&rejects);
                rejects.clear();
            }
            scorer.drain_alerts(&mut side);
            for a in side.drain(..) {
                events.extend(self.tracker.observe(&a, now));
            }
            events.extend(self.tracker.tick(now));
            if !events.is_empty() {
                for e in &events {
                    match e.event {
                        EventKind::Opened => m.incidents_opened.fetch_add(1, Ordering::Relaxed),
                        EventKind::Closed => m.incidents_closed.fetch_add(1, Ordering::Relaxed),
                        EventKind::Updated => 0,
                    };
                }
                m.events.fetch_add(events.len() as u64, Ordering::Relaxed);
                // Alerts are durable before the positions that produced them are: the
                // outboxes are fsynced by the next checkpoint, before it is written.
                let bytes = Outbox::serialize(&events)?;
                for outbox in &self.outboxes {
                    outbox.append_unsynced(&bytes, events.len() as u64)?;
                }
                events.clear();
            }
            m.incidents_open.store(self.tracker.open_count() as u64, Ordering::Relaxed);
            uncommitted |= read > 0 || self.tracker.changed();
            lines_since_commit += read as u64;
            if uncommitted
                && (last_commit.elapsed() >= commit_interval
                    || lines_since_commit >= self.config.commit_lines)
            {
                self.commit()?;
                uncommitted = false;
                lines_since_commit = 0;
                last_commit = Instant::now();
            }
            if self.config.exit_when_finished
                && !self.sources.is_empty()
                && self.sources.iter().all(|s| s.finished())
            {
                break;
            }
            if read == 0 {
                let wait = if uncommitted {
                    poll_interval.min(commit_interval.saturating_sub(last_commit.elapsed()))
                } else {
                    poll_interval
                };
                sleep_unless(shutdown, wait);
            }
        }
        Ok(())
    }

    /// Fsyncs the outboxes, saves every source's position and the tracker state, then
    /// lets sources commit.
    fn commit(&mut self) -> Result<(), WatchError> {
        for outbox in &self.outboxes {
            outbox.sync()?;
        }
        for source in &self.sources {
            if let Some(cp) = source.checkpoint() {
                self.store.set(source.id(), cp);
            }
        }
        if self.tracker.take_changed() {
            // What changed since the last checkpoint, or now and then the whole state.
            let mut lines = Vec::new();
            if self.store.incidents_need_restart() {
                self.tracker.full_journal(&mut lines);
                self.store.restart_incidents(&lines)?;
            } else {
                self.tracker.take_journal(&mut lines);
                self.store.append_incidents(&lines)?;
            }
        }
        self.store.save()?;
        self.metrics.checkpoints.fetch_add(1, Ordering::Relaxed);
        for source in &mut self.sources {
            source.commit()?;
        }
        Ok(())
    }
}

fn sleep_unless(flag: &AtomicBool, d: Duration) {
    let until = Instant::now() + d;
    while !flag.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

/// Builds the daemon from `config` and runs it until `shutdown` is set.
pub fn run<S: LineScorer + ?Sized>(
    config: DaemonConfig,
    scorer: &mut S,
    shutdown: Arc<AtomicBool>,
) -> Result<DaemonStats, WatchError> {
    Daemon::new(config)?.run(scorer, &shutdown)
}
