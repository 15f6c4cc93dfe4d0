//! The consumer-group source: records of a topic, one log line each, read by every
//! process of a group, each process owning some partitions.
//!
//! # Offsets: committed after the alerts are durable
//!
//! Auto-commit and auto-store are off. [`KafkaSource::poll`] hands records to the
//! daemon and remembers, per partition, the offset after the last one handed out. The
//! daemon scores them, appends their alerts to the fsynced outboxes, saves its
//! checkpoint and only then calls [`Source::commit`]: the offsets become *processed*
//! and are committed to the group. A record is therefore committed only after its
//! alerts are durable: a crash at any point re-reads at most the uncommitted records,
//! whose repeated alerts carry the same keys and are suppressed by [`crate::dedup`].
//!
//! Commits are asynchronous, so the daemon never waits on the coordinator. The Rust
//! client does not report their outcome, so it is read from librdkafka's statistics
//! (the committed offset of each partition, every `stats_interval_ms`): a processed
//! offset the group has not confirmed within three intervals (at least a second) is
//! sent again, from `poll`, even when no new batch comes. This also repairs a commit
//! overwritten by librdkafka's late retry of an older one. Leaving the group (the
//! source dropped) commits the processed offsets and reads them back, for up to 5 s.
//!
//! # Rebalances: the revoked partition's state is dropped
//!
//! Partitions move only inside a call of `poll` (librdkafka runs rebalance callbacks
//! in the polling thread), and the daemon finishes each batch (scored, alerts appended
//! to the outboxes) before it polls again. So at a revocation during `poll` every
//! record already handed out is done, even if the daemon has not called `commit` yet
//! (it groups commits): the daemon's outboxes are fsynced (its [`Barrier`]), those
//! offsets are committed synchronously on the spot, the partition is forgotten, and
//! records fetched from it during the same `poll` but not handed out yet are dropped
//! (the new owner reads them from the committed offset).
//! A revocation outside `poll` (the consumer closing) commits only what the daemon
//! declared processed. A lost assignment (session timeout) cannot commit: the new
//! owner re-reads, and the ledger suppresses the repeated alerts.
//!
//! The coordinator may also refuse the revocation's commit with `RebalanceInProgress`
//! when a further round of the rebalance is already waiting for this member, which
//! cannot rejoin before the revocation returns (seen on a loaded machine when a member
//! joins). Retrying inside the revocation cannot succeed, and committing after it could
//! move the group's offset past records the new owner has not processed yet, so the
//! refusal is reported and the new owner re-reads from the previous commit: those lines
//! are scored twice and their repeated alerts are suppressed by the ledger.
//!
//! The per-client state of the daemon (open incidents) is not handed over: the new
//! owner opens incidents afresh from the records it reads, and the old owner's
//! incidents for those clients close after the incident window like any quiet
//! incident. Handing state over would need it committed with the offsets (Kafka allows
//! a few kilobytes of commit metadata) and the daemon's tracker split by partition;
//! the records carry the evidence, so an ongoing attack is alerted again within one
//! record, as a second incident.
//!
//! # Records
//!
//! Each record's value is a log line (a trailing newline is removed; a value holding
//! several lines gives several lines with the same line number). Lines are named
//! `kafka:TOPIC/PARTITION` with line number `offset + 1`, so an incident's first
//! sample identifies the record that opened it in every process.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anomalog_watch::WatchError;
use anomalog_watch::source::{Barrier, Checkpoint, LineBatch, Source, SourceHealth};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::metrics::KafkaMetrics;
use crate::spec::KafkaSourceConfig;

/// Consecutive empty polls (which include polls that only served a rebalance, commit
/// or statistics event) after which `poll` returns.
const IDLE_POLLS: u32 = 4;

/// How long leaving the group may spend making sure the final commit holds.
const FINAL_COMMIT: Duration = Duration::from_secs(5);

/// Pause between attempts to send offsets whose commit failed outright.
const COMMIT_RETRY: Duration = Duration::from_millis(200);

/// One assigned partition's offsets (each "the next offset to read").
#[derive(Debug, Clone, Copy)]
struct Part {
    /// Distinguishes this assignment from an earlier one of the same partition.
    generation: u64,
    /// After the last record handed to the daemon.
    returned: Option<i64>,
    /// After the last record the daemon finished (its alerts durable).
    processed: Option<i64>,
    /// The offset the group has confirmed as committed.
    confirmed: Option<i64>,
}

#[derive(Debug, Default)]
struct Assignment {
    parts: BTreeMap<i32, Part>,
    generations: u64,
}

impl Assignment {
    fn assign(&mut self, partition: i32) -> u64 {
        if let Some(part) = self.parts.get(&partition) {
            return part.generation;
        }
        self.generations += 1;
        let part =
            Part { generation: self.generations, returned: None, processed: None, confirmed: None };
        self.parts.insert(partition, part);
        self.generations
    }

    /// Processed offsets the group has not confirmed, for `partitions` (all if `None`).
    fn unconfirmed(&self, topic: &str, partitions: Option<&[i32]>) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for (&p, part) in &self.parts {
            if partitions.is_some_and(|only| !only.contains(&p)) {
                continue;
            }
            if let Some(offset) = part.processed.filter(|&o| Some(o) > part.confirmed) {
                // Cannot fail: the offset is a plain non-negative offset.
                let _ = tpl.add_partition_offset(topic, p, Offset::Offset(offset));
            }
        }
        tpl
    }
}

/// The consumer's callbacks; they share the assignment with the source.
struct GroupContext {
    topic: String,
    assignment: Mutex<Assignment>,
    metrics: Arc<KafkaMetrics>,
    /// A commit failed: send the processed offsets again even if no batch follows.
    retry_commit: AtomicBool,
    /// Set while `poll` runs: a revocation then comes between two batches, and every
    /// line handed out before is scored with its alerts in the outbox.
    in_poll: AtomicBool,
    /// The daemon's outbox fsync, run before a revocation commits: the alerts of the
    /// lines it commits are then durable, as at the daemon's own commits.
    barrier: Mutex<Option<Barrier>>,
}

impl GroupContext {
    fn lock(&self) -> MutexGuard<'_, Assignment> {
        // Every update is a single insertion or field store: a panic cannot leave the
        // map half-changed.
        self.assignment.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the offsets the group accepted; a partition the commit failed for (the
    /// request succeeded, that partition did not) is sent again. With `exact` the
    /// offsets replace what was confirmed (the statistics' view of the group, which
    /// can go back when librdkafka's retry of an older failed commit lands after a newer
    /// one: the processed offset is then sent again).
    fn confirm(&self, offsets: &TopicPartitionList, exact: bool) {
        let mut state = self.lock();
        for e in offsets.elements_for_topic(&self.topic) {
            if e.error().is_err() {
                self.metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                self.retry_commit.store(true, Ordering::Relaxed);
                continue;
            }
            let Offset::Offset(offset) = e.offset() else { continue };
            if let Some(part) = state.parts.get_mut(&e.partition()) {
                part.confirmed =
                    if exact { Some(offset) } else { part.confirmed.max(Some(offset)) };
                self.metrics.update(e.partition(), |m| m.committed = part.confirmed);
            }
        }
    }

    /// Commits revoked partitions' offsets and waits for the answer. A refusal is said
    /// on stderr: the new owner then re-reads from the previous commit (see the module
    /// documentation on rebalances).
    fn commit_revoked(&self, consumer: &BaseConsumer<GroupContext>, tpl: &TopicPartitionList) {
        if tpl.count() == 0 {
            return;
        }
        self.metrics.commits.fetch_add(1, Ordering::Relaxed);
        match consumer.commit(tpl, CommitMode::Sync) {
            Ok(()) => self.confirm(tpl, false),
            Err(e) => {
                let parts: Vec<String> =
                    tpl.elements().iter().map(|e| e.partition().to_string()).collect();
                eprintln!(
                    "anomalog: {}: the commit of revoked partitions {} was refused ({e}); their \
                     new owner re-reads them from the previous commit",
                    self.topic,
                    parts.join(", ")
                );
                self.metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                self.retry_commit.store(true, Ordering::Relaxed);
            }
        }
    }
}

impl ClientContext for GroupContext {
    /// librdkafka reports asynchronous commit results only through an offset-commit
    /// callback that the Rust client does not install; the statistics carry the
    /// committed offset of every partition instead, and confirm commits from there.
    fn stats(&self, statistics: Statistics) {
        let Some(topic) = statistics.topics.get(&self.topic) else { return };
        let mut confirmed = TopicPartitionList::new();
        for (&p, s) in &topic.partitions {
            if p >= 0 && s.committed_offset >= 0 {
                let _ = confirmed.add_partition_offset(
                    &self.topic,
                    p,
                    Offset::Offset(s.committed_offset),
                );
            }
            self.metrics.update(p, |m| {
                m.high_watermark = (s.hi_offset >= 0).then_some(s.hi_offset).or(m.high_watermark);
                m.low_watermark = (s.lo_offset >= 0).then_some(s.lo_offset).or(m.low_watermark);
            });
        }
        self.confirm(&confirmed, true);
    }

    fn error(&self, _error: KafkaError, _reason: &str) {
        self.metrics.errors.fetch_add(1, Ordering::Relaxed);
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(tpl) = rebalance else { return };
        self.metrics.rebalances.fetch_add(1, Ordering::Relaxed);
        let revoked: Vec<i32> =
            tpl.elements_for_topic(&self.topic).iter().map(|e| e.partition()).collect();
        // Everything handed out before this poll is processed: commit it so that the
        // new owner starts right after it. A lost assignment cannot commit any more.
        let barrier = self.barrier.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let durable = match barrier.map_or(Ok(()), |sync| sync()) {
            Ok(()) => true,
            Err(e) => {
                // Not committed: the new owner re-reads these lines, and the ledger
                // suppresses their repeated alerts.
                eprintln!("anomalog: {}: not committing revoked partitions: {e}", self.topic);
                self.metrics.errors.fetch_add(1, Ordering::Relaxed);
                false
            }
        };
        if durable && !consumer.assignment_lost() {
            let pending = {
                let mut state = self.lock();
                if self.in_poll.load(Ordering::Relaxed) {
                    for p in &revoked {
                        if let Some(part) = state.parts.get_mut(p) {
                            part.processed = part.processed.max(part.returned);
                        }
                    }
                }
                state.unconfirmed(&self.topic, Some(&revoked))
            };
            self.commit_revoked(consumer, &pending);
        }
        let mut state = self.lock();
        for p in &revoked {
            state.parts.remove(p);
            self.metrics.revoke(*p);
        }
        self.metrics.partitions_revoked.fetch_add(revoked.len() as u64, Ordering::Relaxed);
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(tpl) = rebalance else { return };
        self.metrics.rebalances.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        for e in tpl.elements_for_topic(&self.topic) {
            state.assign(e.partition());
            self.metrics.assign(e.partition());
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => self.confirm(offsets, false),
            Err(_) => {
                self.metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                self.retry_commit.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Records fetched during one `poll`, held until the end of the call so that those of
/// a partition revoked meanwhile can be dropped.
#[derive(Debug, Default)]
struct Staging {
    data: Vec<u8>,
    /// Partition, assignment generation and offset of each record.
    records: Vec<(i32, u64, i64)>,
    /// Index of the record and byte range of each line.
    lines: Vec<(usize, Range<usize>)>,
}

impl Staging {
    fn clear(&mut self) {
        self.data.clear();
        self.records.clear();
        self.lines.clear();
    }

    fn push(&mut self, partition: i32, generation: u64, offset: i64, value: &[u8]) {
        let index = self.records.len();
        self.records.push((partition, generation, offset));
        if value.is_empty() {
            return;
        }
        let body = value.strip_suffix(b"\n").unwrap_or(value);
        for line in body.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let start = self.data.len();
            self.data.extend_from_slice(line);
            self.lines.push((index, start..self.data.len()));
        }
    }
}

/// A Kafka topic read as a member of a consumer group; see the module documentation.
pub struct KafkaSource {
    id: String,
    brokers: String,
    topic: String,
    consumer: BaseConsumer<GroupContext>,
    metrics: Arc<KafkaMetrics>,
    origins: BTreeMap<i32, Arc<str>>,
    staging: Staging,
    last_commit: Instant,
    /// How long a commit may go unconfirmed before it is sent again.
    commit_retry: Duration,
}

impl KafkaSource {
    /// Joins the group and subscribes to the topic. Partitions arrive with the first
    /// polls; a broker that is not reachable yet is retried in the background.
    pub fn new(config: &KafkaSourceConfig) -> Result<KafkaSource, WatchError> {
        config.check().map_err(|m| WatchError::Config(format!("{}: {m}", config.id())))?;
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &config.brokers)
            .set("group.id", &config.group)
            .set("client.id", &config.client_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", config.offset_reset.as_str())
            .set("session.timeout.ms", config.session_timeout_ms.to_string())
            .set("heartbeat.interval.ms", config.heartbeat_interval_ms.to_string())
            .set("max.poll.interval.ms", config.max_poll_interval_ms.to_string())
            .set("partition.assignment.strategy", &config.assignment_strategy)
            .set("statistics.interval.ms", config.stats_interval_ms.to_string());
        for (name, value) in &config.rdkafka {
            client.set(name, value);
        }
        let metrics = Arc::new(KafkaMetrics::new(&config.topic, &config.group));
        let context = GroupContext {
            topic: config.topic.clone(),
            assignment: Mutex::default(),
            metrics: Arc::clone(&metrics),
            retry_commit: AtomicBool::new(false),
            in_poll: AtomicBool::new(false),
            barrier: Mutex::default(),
        };
        let consumer: BaseConsumer<GroupContext> = client
            .create_with_context(context)
            .map_err(|e| WatchError::Config(format!("{}: {e}", config.id())))?;
        consumer
            .subscribe(&[&config.topic])
            .map_err(|e| WatchError::Config(format!("{}: {e}", config.id())))?;
        Ok(KafkaSource {
            id: config.id(),
            brokers: config.brokers.clone(),
            topic: config.topic.clone(),
            consumer,
            metrics,
            origins: BTreeMap::new(),
            staging: Staging::default(),
            last_commit: Instant::now(),
            commit_retry: Duration::from_millis(config.stats_interval_ms.saturating_mul(3))
                .max(Duration::from_secs(1)),
        })
    }

    /// Sends the processed offsets the group has not confirmed (asynchronously: the
    /// answer arrives in a later poll, and a failure sets `retry_commit`).
    fn send_commit(&mut self) {
        let context = self.consumer.context();
        context.retry_commit.store(false, Ordering::Relaxed);
        let tpl = context.lock().unconfirmed(&self.topic, None);
        if tpl.count() == 0 {
            return;
        }
        self.last_commit = Instant::now();
        self.metrics.commits.fetch_add(1, Ordering::Relaxed);
        if self.consumer.commit(&tpl, CommitMode::Async).is_err() {
            self.metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
            context.retry_commit.store(true, Ordering::Relaxed);
        }
    }

    /// The source's counters and per-partition lag, live.
    pub fn metrics(&self) -> Arc<KafkaMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The partitions this member owns now.
    pub fn assignment(&self) -> Vec<i32> {
        self.consumer.context().lock().parts.keys().copied().collect()
    }

    fn origin(&mut self, partition: i32) -> Arc<str> {
        let topic = &self.topic;
        Arc::clone(
            self.origins
                .entry(partition)
                .or_insert_with(|| Arc::from(format!("kafka:{topic}/{partition}"))),
        )
    }

    /// Fetches up to `max` lines into `out`, dropping those of partitions revoked
    /// during the call.
    fn poll_records(&mut self, out: &mut LineBatch, max: usize) -> Result<(), WatchError> {
        self.staging.clear();
        let mut failure = None;
        let mut idle = 0;
        while self.staging.lines.len() < max.max(1) && idle < IDLE_POLLS {
            match self.consumer.poll(Duration::ZERO) {
                None => idle += 1,
                Some(Ok(record)) => {
                    idle = 0;
                    let p = record.partition();
                    let generation = self.consumer.context().lock().assign(p);
                    let value = record.payload().unwrap_or(b"");
                    self.staging.push(p, generation, record.offset(), value);
                }
                Some(Err(e)) => {
                    self.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    failure = Some(e);
                    break;
                }
            }
        }
        // Keep only records of partitions still owned under the same assignment.
        let staging = std::mem::take(&mut self.staging);
        let mut keep = vec![false; staging.records.len()];
        {
            let mut state = self.consumer.context().lock();
            for (i, &(p, generation, offset)) in staging.records.iter().enumerate() {
                if let Some(part) = state.parts.get_mut(&p).filter(|x| x.generation == generation) {
                    keep[i] = true;
                    part.returned = part.returned.max(Some(offset + 1));
                    self.metrics.update(p, |m| m.position = part.returned);
                }
            }
        }
        let kept = keep.iter().filter(|&&k| k).count() as u64;
        self.metrics.records.fetch_add(kept, Ordering::Relaxed);
        self.metrics.discarded.fetch_add(keep.len() as u64 - kept, Ordering::Relaxed);
        let mut lines = 0;
        for (index, range) in &staging.lines {
            if !keep[*index] {
                continue;
            }
            let (p, _, offset) = staging.records[*index];
            let origin = self.origin(p);
            out.push(&origin, offset.unsigned_abs() + 1, &staging.data[range.clone()]);
            lines += 1;
        }
        self.metrics.lines.fetch_add(lines, Ordering::Relaxed);
        self.staging = staging;
        match failure {
            // Lines fetched before the error are in `out` and get processed anyway.
            Some(e) => Err(WatchError::Net {
                addr: self.brokers.clone(),
                source: std::io::Error::other(e.to_string()),
            }),
            None => Ok(()),
        }
    }
}

impl Source for KafkaSource {
    fn id(&self) -> &str {
        &self.id
    }

    fn poll(&mut self, out: &mut LineBatch, max: usize) -> Result<(), WatchError> {
        // Offsets whose commit failed are sent again even when no new batch comes;
        // they are processed, so committing them now is as safe as after a batch.
        // Offsets the group has not confirmed are sent again even when no new batch
        // comes; they are processed, so committing them now is as safe as after one.
        let since = self.last_commit.elapsed();
        let context = self.consumer.context();
        let retry = (context.retry_commit.load(Ordering::Relaxed) && since >= COMMIT_RETRY)
            || (since >= self.commit_retry
                && context.lock().unconfirmed(&self.topic, None).count() > 0);
        if retry {
            self.metrics.commit_retries.fetch_add(1, Ordering::Relaxed);
            self.send_commit();
        }
        self.consumer.context().in_poll.store(true, Ordering::Relaxed);
        let result = self.poll_records(out, max);
        self.consumer.context().in_poll.store(false, Ordering::Relaxed);
        result
    }

    /// Kafka sources keep their position in the group, not in the daemon's checkpoint:
    /// partitions move between processes, and the committed offsets are the truth.
    fn checkpoint(&self) -> Option<Checkpoint> {
        None
    }

    fn commit(&mut self) -> Result<(), WatchError> {
        {
            let mut state = self.consumer.context().lock();
            for part in state.parts.values_mut() {
                part.processed = part.processed.max(part.returned);
            }
        }
        // A failed commit is not an error of the daemon: the alerts are durable, only a
        // crash before a later commit succeeds would repeat them. It is retried.
        self.send_commit();
        Ok(())
    }

    fn health(&self) -> SourceHealth {
        SourceHealth {
            errors: self.metrics.errors.load(Ordering::Relaxed)
                + self.metrics.commit_failures.load(Ordering::Relaxed),
            ..SourceHealth::default()
        }
    }

    fn set_barrier(&mut self, barrier: Barrier) {
        let context = self.consumer.context();
        *context.barrier.lock().unwrap_or_else(|p| p.into_inner()) = Some(barrier);
    }
}

impl Drop for KafkaSource {
    /// Commits what the daemon finished (and only that) before leaving the group, so a
    /// clean stop repeats nothing. The commit is read back and sent again until the
    /// group holds it (for up to 5 s): a failed attempt, or a late retry
    /// of an older asynchronous commit landing after it, would otherwise make the next
    /// owner re-read records.
    fn drop(&mut self) {
        let context = self.consumer.context();
        let deadline = Instant::now() + FINAL_COMMIT;
        loop {
            let processed = {
                let mut state = context.lock();
                for part in state.parts.values_mut() {
                    part.confirmed = None;
                }
                state.unconfirmed(&self.topic, None)
            };
            if processed.count() == 0 {
                return;
            }
            // Asynchronous, then read back with a timeout: a synchronous commit waits
            // without limit for a coordinator, which a stop with the brokers gone
            // would never get.
            self.metrics.commits.fetch_add(1, Ordering::Relaxed);
            let _ = self.consumer.commit(&processed, CommitMode::Async);
            let _ = self.consumer.poll(COMMIT_RETRY);
            let held = self.consumer.committed_offsets(processed.clone(), Duration::from_secs(2));
            let done = held.is_ok_and(|held| {
                processed.elements().iter().all(|want| {
                    held.find_partition(&self.topic, want.partition())
                        .is_some_and(|got| got.offset().to_raw() >= want.offset().to_raw())
                })
            });
            if done {
                return;
            }
            if Instant::now() >= deadline {
                self.metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                return;
            }
            self.metrics.commit_retries.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(COMMIT_RETRY);
        }
    }
}
