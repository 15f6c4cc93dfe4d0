use std::sync::atomic::AtomicBool;

use super::*;
use crate::incident::{Anomaly, IncidentConfig, IncidentTracker};

#[derive(Clone, Default)]
struct TestSink {
    up: Arc<AtomicBool>,
    permanent: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<String>>>,
}

impl Sink for TestSink {
    fn name(&self) -> &str {
        "test"
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        if self.permanent.load(Ordering::SeqCst) {
            return Err(SinkError::Permanent("rejected".into()));
        }
        if !self.up.load(Ordering::SeqCst) {
            return Err(SinkError::Retryable("down".into()));
        }
        self.got.lock().unwrap().push(event.incident.client.clone().unwrap_or_default());
        Ok(())
    }
}

fn events(n: usize) -> Vec<IncidentEvent> {
    let mut t = IncidentTracker::new(IncidentConfig::default());
    (0..n)
        .filter_map(|i| {
            let a = Anomaly {
                ts: None,
                source: "s".into(),
                line: i as u64,
                client: Some(format!("c{i}")),
                category: "x".into(),
                request: "GET /".into(),
                status: Some(200),
                score: 0.9,
                explanation: vec![],
            };
            t.observe(&a, 1_000 + i as i64)
        })
        .collect()
}

fn fast() -> DeliveryConfig {
    DeliveryConfig { initial_backoff_ms: 5, max_backoff_ms: 20, ..DeliveryConfig::default() }
}

fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    false
}

fn names(n: std::ops::Range<usize>) -> Vec<String> {
    n.map(|i| format!("c{i}")).collect()
}

#[test]
fn delivers_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TestSink::default();
    sink.up.store(true, Ordering::SeqCst);
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), fast()).unwrap();
    outbox.append(&events(5)).unwrap();
    assert!(wait_for(|| sink.got.lock().unwrap().len() == 5));
    assert_eq!(*sink.got.lock().unwrap(), names(0..5));
    let stats = outbox.stats();
    assert!(wait_for(|| stats.queued.load(Ordering::SeqCst) == 0));
    assert_eq!(stats.sent.load(Ordering::SeqCst), 5);
}

#[test]
fn outage_and_restart_keep_every_alert_once() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TestSink::default();
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), fast()).unwrap();
    outbox.append(&events(3)).unwrap();
    let stats = outbox.stats();
    assert!(wait_for(|| stats.failed.load(Ordering::SeqCst) >= 3));
    assert_eq!(stats.queued.load(Ordering::SeqCst), 3);
    outbox.shutdown(Duration::from_millis(50));

    // Restart with the receiver up: everything queued arrives, once.
    let sink = TestSink::default();
    sink.up.store(true, Ordering::SeqCst);
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), fast()).unwrap();
    assert_eq!(outbox.stats().queued.load(Ordering::SeqCst), 3);
    assert!(wait_for(|| sink.got.lock().unwrap().len() == 3));
    let stats = outbox.stats();
    assert!(wait_for(|| stats.queued.load(Ordering::SeqCst) == 0));
    drop(outbox);

    let again = TestSink::default();
    again.up.store(true, Ordering::SeqCst);
    let outbox = Outbox::open(dir.path(), Box::new(again.clone()), fast()).unwrap();
    thread::sleep(Duration::from_millis(100));
    assert!(again.got.lock().unwrap().is_empty());
    assert_eq!(*sink.got.lock().unwrap(), names(0..3));
    drop(outbox);
}

#[test]
fn receiver_coming_back_gets_the_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TestSink::default();
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), fast()).unwrap();
    outbox.append(&events(4)).unwrap();
    thread::sleep(Duration::from_millis(50));
    sink.up.store(true, Ordering::SeqCst);
    assert!(wait_for(|| sink.got.lock().unwrap().len() == 4));
    thread::sleep(Duration::from_millis(50));
    assert_eq!(*sink.got.lock().unwrap(), names(0..4));
}

#[test]
fn torn_last_line_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut content = serde_json::to_vec(&events(1)[0]).unwrap();
    content.extend_from_slice(b"\n{\"event\":\"op");
    fs::write(dir.path().join("events-0.jsonl"), &content).unwrap();
    let sink = TestSink::default();
    sink.up.store(true, Ordering::SeqCst);
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), fast()).unwrap();
    assert!(wait_for(|| sink.got.lock().unwrap().len() == 1));
    outbox.append(&events(2)[1..]).unwrap();
    assert!(wait_for(|| sink.got.lock().unwrap().len() == 2));
    assert_eq!(outbox.stats().dropped.load(Ordering::SeqCst), 0);
}

#[test]
fn permanent_failures_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TestSink::default();
    sink.permanent.store(true, Ordering::SeqCst);
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), fast()).unwrap();
    outbox.append(&events(2)).unwrap();
    let stats = outbox.stats();
    assert!(wait_for(|| stats.dropped.load(Ordering::SeqCst) == 2));
    assert!(wait_for(|| stats.queued.load(Ordering::SeqCst) == 0));
}

#[test]
fn compaction_starts_new_generations() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TestSink::default();
    sink.up.store(true, Ordering::SeqCst);
    let config = DeliveryConfig { compact_bytes: 100, ..fast() };
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), config).unwrap();
    let all = events(6);
    for chunk in all.chunks(2) {
        let want = sink.got.lock().unwrap().len() + 2;
        outbox.append(chunk).unwrap();
        assert!(wait_for(|| sink.got.lock().unwrap().len() == want));
    }
    assert!(wait_for(|| !dir.path().join("events-0.jsonl").exists()));
    drop(outbox);
    let files: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("events-"))
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(*sink.got.lock().unwrap(), names(0..6));
}

#[test]
fn rate_limit_spaces_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TestSink::default();
    sink.up.store(true, Ordering::SeqCst);
    let config = DeliveryConfig { rate_per_sec: Some(20.0), burst: 1, ..fast() };
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), config).unwrap();
    let start = Instant::now();
    outbox.append(&events(5)).unwrap();
    assert!(wait_for(|| sink.got.lock().unwrap().len() == 5));
    // One at once, then four at 50 ms intervals.
    assert!(start.elapsed() >= Duration::from_millis(190), "{:?}", start.elapsed());
}

#[test]
fn backoff_grows_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let config = DeliveryConfig {
        initial_backoff_ms: 100,
        max_backoff_ms: 1000,
        seed: 7,
        ..Default::default()
    };
    let shared = Outbox::open(dir.path(), Box::new(TestSink::default()), config.clone()).unwrap();
    let mut a =
        Worker::new(Arc::clone(&shared.shared), Box::new(TestSink::default()), config.clone());
    let mut b = Worker::new(Arc::clone(&shared.shared), Box::new(TestSink::default()), config);
    let da: Vec<_> = (0..8).map(|i| a.backoff(i)).collect();
    let db: Vec<_> = (0..8).map(|i| b.backoff(i)).collect();
    assert_eq!(da, db);
    assert!(da[0] >= Duration::from_millis(50) && da[0] < Duration::from_millis(100));
    assert!(da[7] >= Duration::from_millis(500) && da[7] < Duration::from_millis(1000));
}

#[test]
fn unsynced_appends_are_delivered_and_synced_later() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TestSink::default();
    sink.up.store(true, Ordering::SeqCst);
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), fast()).unwrap();
    let evs = events(4);
    outbox.append_unsynced(&Outbox::serialize(&evs[..2]).unwrap(), 2).unwrap();
    outbox.append_unsynced(&Outbox::serialize(&evs[2..]).unwrap(), 2).unwrap();
    // Delivery does not wait for the fsync.
    assert!(wait_for(|| sink.got.lock().unwrap().len() == 4));
    outbox.sync().unwrap();
    outbox.sync().unwrap();
    assert_eq!(*sink.got.lock().unwrap(), names(0..4));
    outbox.shutdown(Duration::from_millis(50));
    // Nothing is delivered twice after a restart.
    let sink = TestSink::default();
    sink.up.store(true, Ordering::SeqCst);
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), fast()).unwrap();
    assert_eq!(outbox.stats().queued.load(Ordering::SeqCst), 0);
}

/// A sink taking up to three events per delivery, all or none.
#[derive(Clone, Default)]
struct BatchSink {
    inner: TestSink,
    sizes: Arc<Mutex<Vec<usize>>>,
}

impl Sink for BatchSink {
    fn name(&self) -> &str {
        "batch"
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        self.deliver_batch(std::slice::from_ref(event))
    }

    fn batch_limit(&self) -> usize {
        3
    }

    fn deliver_batch(&mut self, events: &[IncidentEvent]) -> Result<(), SinkError> {
        if !self.inner.up.load(Ordering::SeqCst) {
            return Err(SinkError::Retryable("down".into()));
        }
        self.sizes.lock().unwrap().push(events.len());
        let mut got = self.inner.got.lock().unwrap();
        got.extend(events.iter().map(|e| e.incident.client.clone().unwrap_or_default()));
        Ok(())
    }
}

#[test]
fn batching_sink_gets_the_backlog_in_batches_once() {
    let dir = tempfile::tempdir().unwrap();
    let sink = BatchSink::default();
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), fast()).unwrap();
    outbox.append(&events(7)).unwrap();
    let stats = outbox.stats();
    assert!(wait_for(|| stats.failed.load(Ordering::SeqCst) >= 2));
    sink.inner.up.store(true, Ordering::SeqCst);
    assert!(wait_for(|| stats.queued.load(Ordering::SeqCst) == 0));
    assert_eq!(*sink.inner.got.lock().unwrap(), names(0..7));
    // The failed batch was retried whole, then the rest taken up to the limit.
    assert_eq!(*sink.sizes.lock().unwrap(), vec![3, 3, 1]);
    assert_eq!(stats.sent.load(Ordering::SeqCst), 7);
    drop(outbox);

    // Every batch was acknowledged: a restart delivers nothing again.
    let again = BatchSink::default();
    again.inner.up.store(true, Ordering::SeqCst);
    let outbox = Outbox::open(dir.path(), Box::new(again.clone()), fast()).unwrap();
    assert_eq!(outbox.stats().queued.load(Ordering::SeqCst), 0);
    thread::sleep(Duration::from_millis(100));
    assert!(again.inner.got.lock().unwrap().is_empty());
    drop(outbox);
}

#[test]
fn unreadable_line_in_a_batch_is_dropped_alone() {
    let dir = tempfile::tempdir().unwrap();
    let evs = events(2);
    let mut content = serde_json::to_vec(&evs[0]).unwrap();
    content.extend_from_slice(b"\nnot json\n");
    content.extend_from_slice(&serde_json::to_vec(&evs[1]).unwrap());
    content.push(b'\n');
    fs::write(dir.path().join("events-0.jsonl"), &content).unwrap();
    let sink = BatchSink::default();
    sink.inner.up.store(true, Ordering::SeqCst);
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), fast()).unwrap();
    let stats = outbox.stats();
    assert!(wait_for(|| stats.queued.load(Ordering::SeqCst) == 0));
    assert_eq!(*sink.inner.got.lock().unwrap(), names(0..2));
    assert_eq!(*sink.sizes.lock().unwrap(), vec![2]);
    assert_eq!(stats.dropped.load(Ordering::SeqCst), 1);
    assert_eq!(stats.sent.load(Ordering::SeqCst), 2);
}

#[test]
fn an_idle_queue_saves_its_acknowledgement_soon_after_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TestSink::default();
    sink.up.store(true, Ordering::SeqCst);
    let outbox = Outbox::open(dir.path(), Box::new(sink.clone()), fast()).unwrap();
    let acked = || std::fs::read_to_string(dir.path().join("acked.json")).unwrap_or_default();
    let end = |n| Outbox::serialize(&events(n)).unwrap().len();
    outbox.append(&events(2)).unwrap();
    assert!(wait_for(|| sink.got.lock().unwrap().len() == 2));
    // Saved without a shutdown, and without more events coming.
    assert!(wait_for(|| acked().contains(&format!("\"offset\":{}", end(2)))), "{}", acked());
    outbox.append(&events(3)[2..]).unwrap();
    assert!(wait_for(|| acked().contains(&format!("\"offset\":{}", end(3)))), "{}", acked());
    drop(outbox);
}
