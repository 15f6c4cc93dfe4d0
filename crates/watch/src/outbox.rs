//! A durable queue of alerts per sink, and the thread that delivers it.
//!
//! Layout of a sink's outbox directory:
//!
//! - `events-<generation>.jsonl`: append-only, one [`IncidentEvent`] per line. The daemon
//!   appends a batch's events and fsyncs before it commits the batch's source
//!   positions, so an event is on disk before the lines that caused it are
//!   considered done.
//! - `acked.json`: `{"generation": G, "offset": N}`, replaced atomically at most every
//!   [`ACK_EVERY`], and that long after the last delivery when the queue is empty (each
//!   save costs two fsyncs: saving after every event would cap delivery at a few hundred
//!   events a second, and saving whenever the queue empties costs a save per batch of
//!   alerts): every line of generation `G` before byte `N` has been delivered.
//!
//! On open, a torn last line (a crash mid-append) is cut off and delivery resumes at
//! the acknowledged offset, so a restart loses no alert and repeats only those
//! delivered since the last save of `acked.json` (at most [`ACK_EVERY`] of them:
//! delivery is at least once). When
//! everything is delivered and the file has grown past `compact_bytes`, the next
//! generation starts with an empty file.
//!
//! The delivery thread sends events in order, one at a time, waiting on the sink's
//! token bucket, and retries retryable failures forever with exponential backoff and
//! jitter drawn from a seeded generator, so a receiver outage only delays alerts.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::checkpoint::{sync_dir, write_atomic};
use crate::error::{SinkError, WatchError};
use crate::incident::IncidentEvent;
use crate::ratelimit::TokenBucket;
use crate::sink::Sink;

/// Longest time a delivered event waits for its acknowledgement to be saved (shutdown
/// saves it at once).
pub const ACK_EVERY: Duration = Duration::from_millis(100);

/// Delivery counters of one sink.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Events delivered.
    pub sent: AtomicU64,
    /// Failed delivery attempts (each retry counts).
    pub failed: AtomicU64,
    /// Events given up on (permanent failures, unreadable outbox lines).
    pub dropped: AtomicU64,
    /// Events waiting in the outbox.
    pub queued: AtomicU64,
}

/// How a sink's outbox is delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// First retry delay in milliseconds; doubled per failed attempt.
    pub initial_backoff_ms: u64,
    /// Longest retry delay in milliseconds.
    pub max_backoff_ms: u64,
    /// Seed of the jitter (each delay is scaled by a factor in [0.5, 1)).
    pub seed: u64,
    /// Deliveries per second allowed (token bucket refill); `None` is unlimited.
    pub rate_per_sec: Option<f64>,
    /// Deliveries allowed at once (token bucket size).
    pub burst: u32,
    /// Start a new outbox file once everything is delivered and the file is this big.
    pub compact_bytes: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            initial_backoff_ms: 500,
            max_backoff_ms: 60_000,
            seed: 0,
            rate_per_sec: None,
            burst: 10,
            compact_bytes: 1 << 20,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
struct Acked {
    generation: u64,
    offset: u64,
}

struct State {
    generation: u64,
    writer: File,
    /// End of the complete lines written.
    end: u64,
    acked: u64,
    /// Whether bytes were written since the last fsync.
    unsynced: bool,
    /// Set by shutdown: deliver until this instant, then stop.
    stop_at: Option<Instant>,
}

/// Fsyncs one outbox: see [`Outbox::sync_handle`].
#[derive(Clone)]
pub struct OutboxSync(Arc<Shared>);

impl OutboxSync {
    /// Fsyncs what was appended since the last sync.
    pub fn sync(&self) -> Result<(), WatchError> {
        self.0.sync()
    }
}

struct Shared {
    dir: PathBuf,
    state: Mutex<State>,
    cond: Condvar,
    stats: Arc<SinkStats>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in the other thread cannot leave the state inconsistent: every
        // field is updated only after the operation it records succeeded.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fsyncs what was appended since the last sync.
    fn sync(&self) -> Result<(), WatchError> {
        let mut st = self.lock();
        if !st.unsynced {
            return Ok(());
        }
        st.writer
            .sync_data()
            .map_err(|e| WatchError::io(events_path(&self.dir, st.generation), e))?;
        st.unsynced = false;
        Ok(())
    }
}

fn events_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("events-{generation}.jsonl"))
}

/// A sink's durable queue and its delivery thread.
pub struct Outbox {
    name: String,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

impl Outbox {
    /// Opens (creating) the outbox in `dir` and starts delivering its pending events
    /// to `sink`.
    pub fn open(
        dir: &Path,
        sink: Box<dyn Sink>,
        config: DeliveryConfig,
    ) -> Result<Outbox, WatchError> {
        fs::create_dir_all(dir).map_err(|e| WatchError::io(dir, e))?;
        let ack_path = dir.join("acked.json");
        let acked: Acked = match fs::read(&ack_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| WatchError::CorruptState {
                path: ack_path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Acked::default(),
            Err(e) => return Err(WatchError::io(ack_path, e)),
        };
        let path = events_path(dir, acked.generation);
        let io = |e| WatchError::io(&path, e);
        let mut writer =
            OpenOptions::new().create(true).read(true).append(true).open(&path).map_err(io)?;
        let mut content = Vec::new();
        writer.seek(SeekFrom::Start(0)).map_err(io)?;
        writer.read_to_end(&mut content).map_err(io)?;
        // A crash mid-append leaves a torn last line: it was never acknowledged to the
        // daemon (no checkpoint followed), so it is cut off and will be produced again.
        let end = content.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if end < content.len() {
            writer.set_len(end as u64).map_err(io)?;
            writer.sync_all().map_err(io)?;
        }
        let start = (acked.offset as usize).min(end);
        let queued = content[start..end].iter().filter(|&&b| b == b'\n').count() as u64;
        remove_other_generations(dir, acked.generation);
        sync_dir(&path).map_err(io)?;

        let stats = Arc::new(SinkStats::default());
        stats.queued.store(queued, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            state: Mutex::new(State {
                generation: acked.generation,
                writer,
                end: end as u64,
                acked: start as u64,
                unsynced: false,
                stop_at: None,
            }),
            cond: Condvar::new(),
            stats,
        });
        let name = sink.name().to_string();
        let worker_shared = Arc::clone(&shared);
        let worker = thread::Builder::new()
            .name(format!("outbox-{name}"))
            .spawn(move || {
                // Delivery can wait a little; reading and scoring cannot.
                crate::priority::lower_thread_priority();
                Worker::new(worker_shared, sink, config).run();
            })
            .map_err(|e| WatchError::io(dir, e))?;
        Ok(Outbox { name, shared, worker: Some(worker) })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sink's delivery counters.
    pub fn stats(&self) -> Arc<SinkStats> {
        Arc::clone(&self.shared.stats)
    }

    /// Appends events durably (written and fsynced when this returns) and wakes the
    /// delivery thread.
    pub fn append(&self, events: &[IncidentEvent]) -> Result<(), WatchError> {
        if events.is_empty() {
            return Ok(());
        }
        let bytes = Outbox::serialize(events)?;
        self.append_serialized(&bytes, events.len() as u64)
    }

    /// The outbox form of `events` (one JSON line each), to append to several outboxes
    /// with [`Outbox::append_serialized`] while serializing once.
    pub fn serialize(events: &[IncidentEvent]) -> Result<Vec<u8>, WatchError> {
        let mut bytes = Vec::new();
        for e in events {
            serde_json::to_writer(&mut bytes, e).map_err(|err| WatchError::CorruptState {
                path: PathBuf::from("outbox"),
                message: err.to_string(),
            })?;
            bytes.push(b'\n');
        }
        Ok(bytes)
    }

    /// Appends `count` events serialized by [`Outbox::serialize`] durably (written and
    /// fsynced when this returns) and wakes the delivery thread.
    pub fn append_serialized(&self, bytes: &[u8], count: u64) -> Result<(), WatchError> {
        self.append_unsynced(bytes, count)?;
        self.sync()
    }

    /// Appends `count` events serialized by [`Outbox::serialize`] and wakes the delivery
    /// thread, without waiting for the disk: [`Outbox::sync`] makes them durable. The
    /// daemon syncs before each checkpoint, so a crash before the sync loses only events
    /// of lines that are read, scored and alerted on again after the restart (delivery
    /// is at least once either way), and it pays one fsync per checkpoint instead of
    /// one per batch.
    pub fn append_unsynced(&self, bytes: &[u8], count: u64) -> Result<(), WatchError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let mut st = self.shared.lock();
        if let Err(e) = st.writer.write_all(bytes) {
            // Cut off whatever part was written so the file stays whole lines.
            let end = st.end;
            let _ = st.writer.set_len(end);
            return Err(WatchError::io(events_path(&self.shared.dir, st.generation), e));
        }
        st.end += bytes.len() as u64;
        st.unsynced = true;
        self.shared.stats.queued.fetch_add(count, Ordering::Relaxed);
        self.shared.cond.notify_all();
        Ok(())
    }

    /// Fsyncs what was appended since the last sync.
    pub fn sync(&self) -> Result<(), WatchError> {
        self.shared.sync()
    }

    /// A handle that fsyncs this outbox from another place ([`OutboxSync::sync`]), as
    /// [`Outbox::sync`] does.
    pub fn sync_handle(&self) -> OutboxSync {
        OutboxSync(Arc::clone(&self.shared))
    }

    /// Delivers what can be delivered within `grace`, then stops the delivery thread.
    /// Undelivered events stay in the outbox for the next start.
    pub fn shutdown(mut self, grace: Duration) {
        self.stop(grace);
    }

    fn stop(&mut self, grace: Duration) {
        self.shared.lock().stop_at = Some(Instant::now() + grace);
        self.shared.cond.notify_all();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

fn remove_other_generations(dir: &Path, generation: u64) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let keep = format!("events-{generation}.jsonl");
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("events-") && name.ends_with(".jsonl") && name != keep {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// SplitMix64: a tiny seeded generator for the retry jitter.
struct Jitter(u64);

impl Jitter {
    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Worker {
    shared: Arc<Shared>,
    sink: Box<dyn Sink>,
    config: DeliveryConfig,
    limiter: Option<TokenBucket>,
    jitter: Jitter,
    reader: Option<(u64, BufReader<File>)>,
    /// The latest acknowledgement not saved yet, and when one was last saved.
    unsaved: Option<Acked>,
    last_save: Instant,
}

enum Next {
    /// The offset after the line, and the line without its newline.
    Line(u64, Vec<u8>),
    /// Nothing more written yet after the line asked for (only when reading ahead).
    Empty,
    Stop,
}

impl Worker {
    fn new(shared: Arc<Shared>, sink: Box<dyn Sink>, config: DeliveryConfig) -> Worker {
        let limiter = config.rate_per_sec.map(|r| TokenBucket::new(r, config.burst));
        let jitter = Jitter(config.seed);
        Worker {
            shared,
            sink,
            config,
            limiter,
            jitter,
            reader: None,
            unsaved: None,
            last_save: Instant::now(),
        }
    }

    fn run(mut self) {
        self.deliver();
        self.save_ack();
    }

    fn deliver(&mut self) {
        // A rate-limited sink takes one token per event, so it gets one at a time.
        let limit = if self.limiter.is_some() { 1 } else { self.sink.batch_limit().max(1) };
        let mut batch: Vec<IncidentEvent> = Vec::new();
        while let Next::Line(mut next, line) = self.next_line(None) {
            // The lines already written after this one, up to the sink's batch limit:
            // one delivery (one transaction for the store) for all of them.
            batch.clear();
            let mut lines = 1u64;
            let mut unreadable = 0u64;
            let mut line = Some(line);
            loop {
                if let Some(l) = line.take() {
                    match serde_json::from_slice::<IncidentEvent>(&l) {
                        Ok(event) => batch.push(event),
                        Err(_) => unreadable += 1,
                    }
                }
                if batch.len() >= limit {
                    break;
                }
                match self.next_line(Some(next)) {
                    Next::Line(after, l) => {
                        next = after;
                        lines += 1;
                        line = Some(l);
                    }
                    Next::Empty | Next::Stop => break,
                }
            }
            if unreadable > 0 {
                self.shared.stats.dropped.fetch_add(unreadable, Ordering::Relaxed);
            }
            if batch.is_empty() {
                self.ack(next, lines);
                continue;
            }
            if !self.wait_for_token() {
                return;
            }
            let count = batch.len() as u64;
            let mut attempt = 0u32;
            loop {
                match self.sink.deliver_batch(&batch) {
                    Ok(()) => {
                        self.shared.stats.sent.fetch_add(count, Ordering::Relaxed);
                        break;
                    }
                    Err(SinkError::Permanent(_)) => {
                        self.shared.stats.dropped.fetch_add(count, Ordering::Relaxed);
                        break;
                    }
                    Err(SinkError::Retryable(_)) => {
                        self.shared.stats.failed.fetch_add(1, Ordering::Relaxed);
                        let delay = self.backoff(attempt);
                        attempt = attempt.saturating_add(1);
                        if !self.sleep(delay) {
                            return;
                        }
                    }
                }
            }
            self.ack(next, lines);
        }
    }

    /// The next undelivered line (without its newline) and the offset after it; `Stop` when
    /// shutting down and nothing is left, or the grace period is over. With `after`,
    /// the line at that offset (past lines read but not acknowledged yet), without
    /// waiting: `Empty` when none is complete yet.
    fn next_line(&mut self, after: Option<u64>) -> Next {
        let shared = Arc::clone(&self.shared);
        loop {
            let (generation, offset) = {
                let mut st = shared.lock();
                if let Some(offset) = after {
                    if offset >= st.end || self.reader.is_none() {
                        return Next::Empty;
                    }
                    if st.stop_at.is_some_and(|d| Instant::now() >= d) {
                        return Next::Stop;
                    }
                    (st.generation, offset)
                } else {
                    loop {
                        if st.stop_at.is_some_and(|d| Instant::now() >= d) {
                            return Next::Stop;
                        }
                        if st.acked < st.end {
                            break;
                        }
                        if st.stop_at.is_some() {
                            return Next::Stop;
                        }
                        if st.end >= self.config.compact_bytes {
                            // The new generation's acknowledgement supersedes an unsaved one.
                            self.unsaved = None;
                            compact(&shared.dir, &mut st);
                        }
                        // Idle: an acknowledgement not saved yet is saved once it is due.
                        let due = self
                            .unsaved
                            .is_some()
                            .then(|| ACK_EVERY.saturating_sub(self.last_save.elapsed()));
                        st = match due {
                            Some(wait) if wait.is_zero() => {
                                drop(st);
                                self.save_ack();
                                shared.lock()
                            }
                            Some(wait) => shared
                                .cond
                                .wait_timeout(st, wait)
                                .map_or_else(|p| p.into_inner().0, |r| r.0),
                            None => shared.cond.wait(st).unwrap_or_else(|p| p.into_inner()),
                        };
                    }
                    (st.generation, st.acked)
                }
            };
            if self.reader.as_ref().is_none_or(|(g, _)| *g != generation) {
                let path = events_path(&shared.dir, generation);
                match File::open(&path).and_then(|mut f| f.seek(SeekFrom::Start(offset)).map(|_| f))
                {
                    Ok(f) => self.reader = Some((generation, BufReader::new(f))),
                    Err(_) => {
                        if !self.sleep(Duration::from_millis(500)) {
                            return Next::Stop;
                        }
                        continue;
                    }
                }
            }
            let Some((_, reader)) = self.reader.as_mut() else { continue };
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(_) if line.last() == Some(&b'\n') => {
                    let next = offset + line.len() as u64;
                    line.pop();
                    return Next::Line(next, line);
                }
                _ => {
                    // Never expected (lines are complete before `end` moves): reopen.
                    self.reader = None;
                    if after.is_some() {
                        return Next::Empty;
                    }
                    if !self.sleep(Duration::from_millis(100)) {
                        return Next::Stop;
                    }
                }
            }
        }
    }

    /// Records that everything before `offset` (`count` events) is delivered; saves it
    /// on shutdown or when the last save is [`ACK_EVERY`] old (else an idle queue saves
    /// it when that is due).
    fn ack(&mut self, offset: u64, count: u64) {
        let save = {
            let mut st = self.shared.lock();
            st.acked = offset;
            self.unsaved = Some(Acked { generation: st.generation, offset });
            st.stop_at.is_some()
        };
        self.shared.stats.queued.fetch_sub(count, Ordering::Relaxed);
        if save || self.last_save.elapsed() >= ACK_EVERY {
            self.save_ack();
        }
    }

    fn save_ack(&mut self) {
        if let Some(acked) = self.unsaved.take() {
            // A failed write only risks a repeat after a restart; the next ack retries.
            if write_ack(&self.shared.dir, acked).is_err() {
                self.unsaved = Some(acked);
            }
            self.last_save = Instant::now();
        }
    }

    fn backoff(&mut self, attempt: u32) -> Duration {
        let base = self.config.initial_backoff_ms.max(1) as f64;
        let max = self.config.max_backoff_ms.max(1) as f64;
        let delay = (base * 2f64.powi(attempt.min(30) as i32)).min(max);
        Duration::from_secs_f64(delay * (0.5 + 0.5 * self.jitter.next_unit()) / 1000.0)
    }

    fn wait_for_token(&mut self) -> bool {
        loop {
            let Some(limiter) = self.limiter.as_mut() else { return true };
            match limiter.try_take(Instant::now()) {
                Ok(()) => return true,
                Err(wait) => {
                    if !self.sleep(wait) {
                        return false;
                    }
                }
            }
        }
    }

    /// Sleeps for `d`; false when the shutdown grace period ends first.
    fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        let mut st = self.shared.lock();
        loop {
            let now = Instant::now();
            if st.stop_at.is_some_and(|deadline| now >= deadline) {
                return false;
            }
            if now >= until {
                return true;
            }
            let mut wait = until - now;
            if let Some(deadline) = st.stop_at {
                wait = wait.min(deadline - now);
            }
            st = self.shared.cond.wait_timeout(st, wait).map_or_else(|p| p.into_inner().0, |r| r.0);
        }
    }
}

/// Starts the next generation with an empty file; only called when everything is
/// delivered.
fn compact(dir: &Path, st: &mut State) {
    let generation = st.generation + 1;
    let path = events_path(dir, generation);
    let Ok(file) = OpenOptions::new().create(true).read(true).append(true).open(&path) else {
        return;
    };
    if write_ack(dir, Acked { generation, offset: 0 }).is_err() {
        return;
    }
    let old = events_path(dir, st.generation);
    st.generation = generation;
    st.writer = file;
    // What was written to the old file is delivered; the new one holds nothing yet.
    st.unsynced = false;
    st.end = 0;
    st.acked = 0;
    let _ = fs::remove_file(old);
}

fn write_ack(dir: &Path, acked: Acked) -> Result<(), WatchError> {
    let bytes = serde_json::to_vec(&acked).unwrap_or_default();
    write_atomic(&dir.join("acked.json"), &bytes)
}

#[cfg(test)]
mod tests;
