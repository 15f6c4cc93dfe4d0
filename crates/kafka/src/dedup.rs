//! Suppressing repeated alerts: at-least-once input gives at-most-once alerts per key.
//!
//! After a crash, or a partition moving to another process, records whose alerts were
//! already queued are read and scored again, and produce the same events again. Every
//! event has a stable [`crate::key::event_key`]; [`Deduplicate`] wraps any
//! [`Sink`] and delivers an event only if its key is not in the [`AlertLedger`]
//! shared by all processes, recording the key after the delivery succeeded. A crash
//! between a delivery and its record can still repeat that one alert (delivery stays
//! at least once); two processes delivering the same key in the same instant can too.
//!
//! Ledgers: [`MemoryLedger`] (one process), [`DirLedger`] (processes on one host, or a
//! shared volume), and the PostgreSQL one (`store::postgres::PgLedger`, feature
//! `postgres`) for processes on several hosts.

use std::collections::{HashSet, VecDeque};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anomalog_watch::incident::IncidentEvent;
use anomalog_watch::sink::Sink;
use anomalog_watch::{SinkError, WatchError};

use crate::key::event_key;

/// The keys of alerts already delivered, shared by every process of a deployment.
pub trait AlertLedger: Send + Sync {
    /// Whether an alert with this key was delivered.
    fn contains(&self, key: &str) -> Result<bool, SinkError>;

    /// Records that the alert with this key was delivered.
    fn record(&self, key: &str) -> Result<(), SinkError>;

    /// Forgets the keys recorded before `before_unix` (seconds); returns how many. A key
    /// only matters while the records that produce its alert can still be read again
    /// (the topic's retention), so old keys can go. Bounded ledgers forget by
    /// themselves and keep the default, which does nothing.
    fn prune(&self, before_unix: i64) -> Result<u64, SinkError> {
        let _ = before_unix;
        Ok(0)
    }
}

impl<L: AlertLedger + ?Sized> AlertLedger for Arc<L> {
    fn contains(&self, key: &str) -> Result<bool, SinkError> {
        (**self).contains(key)
    }

    fn record(&self, key: &str) -> Result<(), SinkError> {
        (**self).record(key)
    }

    fn prune(&self, before_unix: i64) -> Result<u64, SinkError> {
        (**self).prune(before_unix)
    }
}

/// The latest `capacity` keys, in memory: for one process (or several daemons in one).
#[derive(Debug)]
pub struct MemoryLedger {
    capacity: usize,
    keys: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl MemoryLedger {
    /// A ledger keeping the latest `capacity` keys.
    pub fn new(capacity: usize) -> MemoryLedger {
        MemoryLedger { capacity: capacity.max(1), keys: Mutex::default() }
    }
}

impl AlertLedger for MemoryLedger {
    fn contains(&self, key: &str) -> Result<bool, SinkError> {
        Ok(self.keys.lock().unwrap_or_else(|p| p.into_inner()).0.contains(key))
    }

    fn record(&self, key: &str) -> Result<(), SinkError> {
        let mut guard = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *guard;
        if set.insert(key.to_string()) {
            order.push_back(key.to_string());
            while order.len() > self.capacity {
                if let Some(old) = order.pop_front() {
                    set.remove(&old);
                }
            }
        }
        Ok(())
    }
}

/// One empty file per key in a directory: shared by processes that see the same
/// directory. Creation with `O_EXCL` makes a record atomic; [`AlertLedger::prune`]
/// removes the files modified before a time.
#[derive(Debug, Clone)]
pub struct DirLedger {
    dir: PathBuf,
}

impl DirLedger {
    /// Opens (creating) the ledger directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<DirLedger, WatchError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| WatchError::io(&dir, e))?;
        Ok(DirLedger { dir })
    }

    fn path(&self, key: &str) -> PathBuf {
        let name: String = key
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
            .collect();
        self.dir.join(name)
    }
}

impl AlertLedger for DirLedger {
    fn contains(&self, key: &str) -> Result<bool, SinkError> {
        let path = self.path(key);
        path.try_exists()
            .map_err(|e| SinkError::Retryable(format!("alert ledger {}: {e}", path.display())))
    }

    fn record(&self, key: &str) -> Result<(), SinkError> {
        let path = self.path(key);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(SinkError::Retryable(format!("alert ledger {}: {e}", path.display()))),
        }
    }

    fn prune(&self, before_unix: i64) -> Result<u64, SinkError> {
        let error = |e: std::io::Error| {
            SinkError::Retryable(format!("alert ledger {}: {e}", self.dir.display()))
        };
        let before = std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(before_unix).unwrap_or(0));
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir).map_err(error)? {
            let entry = entry.map_err(error)?;
            let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < before);
            // A file removed meanwhile by another process is fine.
            if old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Counters of a [`Deduplicate`] sink.
#[derive(Debug, Default)]
pub struct DedupStats {
    /// Events handed to the wrapped sink and delivered.
    pub delivered: AtomicU64,
    /// Events not delivered because their key was in the ledger.
    pub suppressed: AtomicU64,
    /// Delivered events whose key could not be recorded (they may repeat).
    pub ledger_errors: AtomicU64,
}

/// A sink that delivers each [`event_key`] at most once per ledger and scope; see the
/// module documentation.
pub struct Deduplicate<S, L> {
    inner: S,
    ledger: L,
    scope: String,
    stats: Arc<DedupStats>,
}

impl<S: Sink, L: AlertLedger> Deduplicate<S, L> {
    /// Wraps `inner`, consulting `ledger` with the bare event keys: for a ledger that
    /// serves this one receiver.
    pub fn new(inner: S, ledger: L) -> Deduplicate<S, L> {
        Deduplicate::scoped(inner, ledger, "")
    }

    /// Wraps `inner`, consulting `ledger` with keys prefixed by `scope` (`scope/KEY`):
    /// one ledger then serves several receivers, each getting every alert once. The
    /// scope names the receiver the same way in every process (the outbox key of its
    /// spec), so the processes of a group share the receiver's keys.
    pub fn scoped(inner: S, ledger: L, scope: &str) -> Deduplicate<S, L> {
        let scope = if scope.is_empty() { String::new() } else { format!("{scope}/") };
        Deduplicate { inner, ledger, scope, stats: Arc::default() }
    }

    /// The counters, live.
    pub fn stats(&self) -> Arc<DedupStats> {
        Arc::clone(&self.stats)
    }
}

impl<S: Sink, L: AlertLedger> Sink for Deduplicate<S, L> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        let key = format!("{}{}", self.scope, event_key(event));
        if self.ledger.contains(&key)? {
            self.stats.suppressed.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.inner.deliver(event)?;
        self.stats.delivered.fetch_add(1, Ordering::Relaxed);
        // The alert is out: failing here must not make the outbox send it again.
        if self.ledger.record(&key).is_err() {
            self.stats.ledger_errors.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use anomalog_watch::incident::EventKind;

    use super::*;
    use crate::key::tests::event;

    struct Collect(Arc<Mutex<Vec<IncidentEvent>>>);

    impl Sink for Collect {
        fn name(&self) -> &str {
            "collect"
        }

        fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
            self.0.lock().unwrap().push(event.clone());
            Ok(())
        }
    }

    fn check_ledger(ledger: Arc<dyn AlertLedger>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        // Two "processes" share the ledger and see the same records.
        let mut a = Deduplicate::new(Collect(Arc::clone(&seen)), Arc::clone(&ledger));
        let mut b = Deduplicate::new(Collect(Arc::clone(&seen)), Arc::clone(&ledger));
        a.deliver(&event(EventKind::Opened, "kafka:t/0", 5, 1_000)).unwrap();
        b.deliver(&event(EventKind::Opened, "kafka:t/0", 5, 2_000)).unwrap();
        b.deliver(&event(EventKind::Closed, "kafka:t/0", 5, 2_000)).unwrap();
        a.deliver(&event(EventKind::Opened, "kafka:t/1", 5, 1_000)).unwrap();
        let kinds: Vec<_> = seen.lock().unwrap().iter().map(|e| e.event).collect();
        assert_eq!(kinds, vec![EventKind::Opened, EventKind::Closed, EventKind::Opened]);
        assert_eq!(b.stats().suppressed.load(Ordering::Relaxed), 1);
        assert_eq!(a.stats().delivered.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn memory_ledger_suppresses_repeats() {
        check_ledger(Arc::new(MemoryLedger::new(100)));
    }

    #[test]
    fn dir_ledger_suppresses_repeats() {
        let dir = tempfile::tempdir().unwrap();
        check_ledger(Arc::new(DirLedger::open(dir.path().join("ledger")).unwrap()));
    }

    #[test]
    fn scopes_keep_receivers_apart() {
        let ledger: Arc<dyn AlertLedger> = Arc::new(MemoryLedger::new(100));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut webhook =
            Deduplicate::scoped(Collect(Arc::clone(&seen)), Arc::clone(&ledger), "webhook-a");
        let mut jsonl =
            Deduplicate::scoped(Collect(Arc::clone(&seen)), Arc::clone(&ledger), "jsonl-b");
        let mut webhook_elsewhere =
            Deduplicate::scoped(Collect(Arc::clone(&seen)), Arc::clone(&ledger), "webhook-a");
        let e = event(EventKind::Opened, "kafka:t/0", 5, 1_000);
        webhook.deliver(&e).unwrap();
        jsonl.deliver(&e).unwrap();
        webhook_elsewhere.deliver(&e).unwrap();
        assert_eq!(seen.lock().unwrap().len(), 2);
        assert_eq!(webhook_elsewhere.stats().suppressed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn dir_ledger_prunes_old_keys() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = DirLedger::open(dir.path()).unwrap();
        ledger.record("a-opened").unwrap();
        assert_eq!(ledger.prune(0).unwrap(), 0);
        assert!(ledger.contains("a-opened").unwrap());
        assert_eq!(ledger.prune(i64::MAX / 2).unwrap(), 1);
        assert!(!ledger.contains("a-opened").unwrap());
    }

    #[test]
    fn memory_ledger_forgets_the_oldest_keys() {
        let ledger = MemoryLedger::new(2);
        for k in ["a", "b", "c"] {
            ledger.record(k).unwrap();
        }
        assert!(!ledger.contains("a").unwrap());
        assert!(ledger.contains("b").unwrap() && ledger.contains("c").unwrap());
    }
}
