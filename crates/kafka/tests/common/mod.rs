//! Helpers of the mock-cluster tests: producing numbered lines, a scorer that records
//! what it saw, a sink that collects alerts, bounded waiting.

#![allow(dead_code)] // Each test file uses its own subset of the helpers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anomalog_kafka::KafkaSourceConfig;
use anomalog_watch::incident::{Anomaly, IncidentEvent};
use anomalog_watch::sink::Sink;
use anomalog_watch::{LineOutcome, LineScorer, SinkError};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

/// Waits up to three times `limit` for `cond`; panics with `what` otherwise. The limits
/// are what a quiet machine needs; a loaded one (a CI runner building beside the test)
/// slows the group's rebalances several times over, and a passing run waits no longer.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit * 3;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Produces lines to explicit partitions (the partitioning by client is the test's).
pub struct Lines {
    producer: BaseProducer,
    topic: String,
    next_seq: u64,
}

impl Lines {
    pub fn new(brokers: &str, topic: &str) -> Lines {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("linger.ms", "5")
            .create()
            .expect("producer");
        Lines { producer, topic: topic.to_string(), next_seq: 0 }
    }

    /// Sends `CLIENT seq=N phase=P GET /PATH` to `partition`; returns the sequence number.
    pub fn send(&mut self, partition: i32, client: &str, phase: u32, attack: bool) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let path = if attack { "/?id=1'attack" } else { "/index.html" };
        let line = format!("{client} seq={seq} phase={phase} GET {path}\n");
        let record = BaseRecord::to(&self.topic).partition(partition).key(client).payload(&line);
        let mut record = record;
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    // Queue full: let deliveries drain.
                    self.producer.poll(Duration::from_millis(10));
                    record = back;
                }
            }
        }
        seq
    }

    pub fn flush(&self) {
        self.producer.flush(Duration::from_secs(20)).expect("flush");
    }

    pub fn sent(&self) -> u64 {
        self.next_seq
    }
}

/// What one daemon's scorer saw: sequence number -> times scored.
pub type Seen = Arc<Mutex<BTreeMap<u64, u32>>>;

/// Records every line's sequence number; lines containing `attack` are anomalies of
/// their client.
pub struct Recorder(pub Seen);

impl LineScorer for Recorder {
    fn score_line(&mut self, _source: &str, line: &[u8]) -> LineOutcome {
        let text = String::from_utf8_lossy(line).into_owned();
        let seq = text
            .split(' ')
            .find_map(|w| w.strip_prefix("seq="))
            .and_then(|n| n.parse::<u64>().ok());
        let Some(seq) = seq else { return LineOutcome::Rejected("no sequence number") };
        *self.0.lock().unwrap().entry(seq).or_default() += 1;
        if !text.contains("attack") {
            return LineOutcome::Normal { score: 0.1 };
        }
        LineOutcome::Anomalous(Box::new(Anomaly {
            ts: None,
            source: String::new(),
            line: 0,
            client: text.split(' ').next().map(str::to_string),
            category: "sqli".into(),
            request: text.clone(),
            status: Some(500),
            score: 0.95,
            explanation: vec![],
        }))
    }
}

/// Collects delivered alerts.
#[derive(Clone, Default)]
pub struct Collect(pub Arc<Mutex<Vec<IncidentEvent>>>);

impl Sink for Collect {
    fn name(&self) -> &str {
        "collect"
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

/// Source settings for a test group: fast heartbeats and statistics.
pub fn source_config(brokers: &str, topic: &str, group: &str) -> KafkaSourceConfig {
    KafkaSourceConfig {
        brokers: brokers.to_string(),
        topic: topic.to_string(),
        group: group.to_string(),
        session_timeout_ms: 6_000,
        heartbeat_interval_ms: 500,
        stats_interval_ms: 200,
        ..KafkaSourceConfig::default()
    }
}

/// Daemon settings for tests: small batches, short sleeps, no default stdout sink.
pub fn daemon_config(state_dir: &std::path::Path) -> anomalog_watch::DaemonConfig {
    let defaults = anomalog_watch::DaemonConfig::default();
    anomalog_watch::DaemonConfig {
        state_dir: state_dir.to_path_buf(),
        alerts: vec![],
        batch_lines: 50,
        poll_interval_ms: 20,
        shutdown_grace_ms: 3_000,
        exit_when_finished: false,
        delivery: anomalog_watch::outbox::DeliveryConfig {
            initial_backoff_ms: 50,
            ..defaults.delivery.clone()
        },
        ..defaults
    }
}

/// A stop flag for a daemon thread.
pub fn flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

pub fn set(flag: &AtomicBool) {
    flag.store(true, Ordering::Relaxed);
}
