//! Two daemons in one consumer group on librdkafka's mock cluster: they split the
//! partitions; one dies between making a batch's alerts durable and committing its
//! offsets (the worst moment); the other takes its partitions over. No record is lost,
//! the re-read records are scored again, and no alert reaches the receiver twice.

#![cfg(feature = "rdkafka")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use anomalog_kafka::dedup::{DedupStats, Deduplicate, MemoryLedger};
use anomalog_kafka::key::event_key;
use anomalog_kafka::metrics::KafkaMetrics;
use anomalog_kafka::source::KafkaSource;
use anomalog_watch::incident::EventKind;
use anomalog_watch::source::{Barrier, Checkpoint, LineBatch, Source, SourceHealth};
use anomalog_watch::{Daemon, WatchError};
use common::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

const TOPIC: &str = "access";
const GROUP: &str = "anomalog";
const PARTITIONS: i32 = 4;

/// A source that dies like `kill -9` at its first commit after an armed poll returned
/// phase-2 lines: the batch was scored and its alerts are in the outbox, but its
/// offsets never reach the group.
struct DiesBeforeCommit {
    inner: KafkaSource,
    armed: Arc<AtomicBool>,
    died: Arc<AtomicBool>,
    saw_phase2: bool,
}

impl Source for DiesBeforeCommit {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn poll(&mut self, out: &mut LineBatch, max: usize) -> Result<(), WatchError> {
        if self.died.load(Ordering::Relaxed) {
            return Ok(());
        }
        let result = self.inner.poll(out, max);
        self.saw_phase2 |= out.iter().any(|(_, l)| l.windows(7).any(|w| w == b"phase=2"));
        result
    }

    fn checkpoint(&self) -> Option<Checkpoint> {
        self.inner.checkpoint()
    }

    fn commit(&mut self) -> Result<(), WatchError> {
        if self.died.load(Ordering::Relaxed)
            || (self.armed.load(Ordering::Relaxed) && self.saw_phase2)
        {
            self.died.store(true, Ordering::Relaxed);
            return Err(WatchError::Config("simulated crash before the offset commit".into()));
        }
        self.inner.commit()
    }

    fn health(&self) -> SourceHealth {
        self.inner.health()
    }

    fn set_barrier(&mut self, barrier: Barrier) {
        self.inner.set_barrier(barrier);
    }
}

struct Member {
    seen: Seen,
    metrics: Arc<KafkaMetrics>,
    dedup: Arc<DedupStats>,
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<Result<(), WatchError>>,
}

fn start(
    name: &str,
    brokers: &str,
    dir: &std::path::Path,
    ledger: &Arc<MemoryLedger>,
    alerts: &Collect,
    crash: Option<(Arc<AtomicBool>, Arc<AtomicBool>)>,
) -> Member {
    let seen: Seen = Arc::default();
    let stop = flag();
    let (tx, rx) = mpsc::channel();
    let (brokers, dir, ledger, alerts) =
        (brokers.to_string(), dir.join(name), Arc::clone(ledger), alerts.clone());
    let (seen2, stop2) = (Arc::clone(&seen), Arc::clone(&stop));
    let thread = thread::spawn(move || {
        let mut daemon = Daemon::new(daemon_config(&dir))?;
        let source = KafkaSource::new(&source_config(&brokers, TOPIC, GROUP))?;
        let sink = Deduplicate::new(alerts, ledger);
        tx.send((source.metrics(), sink.stats())).unwrap();
        match crash {
            Some((armed, died)) => daemon.add_source(Box::new(DiesBeforeCommit {
                inner: source,
                armed,
                died,
                saw_phase2: false,
            })),
            None => daemon.add_source(Box::new(source)),
        }
        daemon.add_sink("collect", Box::new(sink))?;
        daemon.run(&mut Recorder(seen2), &stop2).map(|_| ())
    });
    let (metrics, dedup) = rx.recv_timeout(Duration::from_secs(30)).expect("member started");
    Member { seen, metrics, dedup, stop, thread }
}

fn owned(m: &Member) -> BTreeSet<i32> {
    m.metrics.partitions().keys().copied().collect()
}

fn scored(seen: &[&Seen]) -> BTreeSet<u64> {
    seen.iter().flat_map(|s| s.lock().unwrap().keys().copied().collect::<Vec<_>>()).collect()
}

#[test]
fn a_killed_member_loses_no_record_and_no_alert_repeats() {
    let cluster = MockCluster::new(3).unwrap();
    cluster.create_topic(TOPIC, PARTITIONS, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(MemoryLedger::new(100_000));
    let alerts = Collect::default();
    let mut lines = Lines::new(&brokers, TOPIC);

    // Phase 1: 40 clients, partitioned by client; the first 8 attack.
    for _round in 0..20 {
        for c in 0..40 {
            lines.send(c % PARTITIONS, &format!("192.0.2.{c}"), 1, c < 8);
        }
    }
    lines.flush();

    let (armed, died) = (flag(), flag());
    let a = start("a", &brokers, dir.path(), &ledger, &alerts, Some((armed.clone(), died.clone())));
    wait_until("a owns every partition", Duration::from_secs(20), || owned(&a).len() == 4);
    let b = start("b", &brokers, dir.path(), &ledger, &alerts, None);
    wait_until("the group splits the partitions", Duration::from_secs(25), || {
        let (pa, pb) = (owned(&a), owned(&b));
        !pa.is_empty() && !pb.is_empty() && pa.is_disjoint(&pb) && pa.len() + pb.len() == 4
    });
    let phase1 = lines.sent();
    wait_until("phase 1 scored", Duration::from_secs(20), || {
        scored(&[&a.seen, &b.seen]).len() as u64 == phase1
    });
    // Scored is not yet committed: the daemon groups commits, and a crash before the
    // commit of phase 1's last batch would rightly re-read it. Phase 2 starts once every
    // partition's committed offset has caught up.
    wait_until("phase 1 committed", Duration::from_secs(20), || {
        [&a, &b].iter().all(|m| {
            let parts = m.metrics.partitions();
            !parts.is_empty() && parts.values().all(|p| p.lag() == Some(0))
        })
    });
    let a_parts = owned(&a);

    // Phase 2: a new attacker on each of a's partitions (its first line is in the batch
    // a dies with), normal traffic on b's.
    set(&armed);
    for round in 0..30 {
        for p in 0..PARTITIONS {
            if a_parts.contains(&p) {
                lines.send(p, &format!("198.51.100.{p}"), 2, true);
            } else {
                lines.send(p, &format!("192.0.2.{}", 100 + round), 2, false);
            }
        }
    }
    lines.flush();
    wait_until("a dies", Duration::from_secs(20), || died.load(Ordering::Relaxed));
    let a_result = a.thread.join().unwrap();
    assert!(a_result.is_err(), "the crash stops a's daemon");
    wait_until("b takes every partition over", Duration::from_secs(25), || owned(&b).len() == 4);

    // Phase 3: b alone.
    for p in 0..PARTITIONS {
        for i in 0..10 {
            lines.send(p, &format!("192.0.2.{}", 200 + i), 3, false);
        }
    }
    lines.flush();
    let total = lines.sent();
    let all = || scored(&[&a.seen, &b.seen]).len() as u64 == total;
    wait_until("every record scored", Duration::from_secs(25), all);
    wait_until("b's lag drops to zero", Duration::from_secs(20), || {
        let parts = b.metrics.partitions();
        parts.len() == 4 && parts.values().all(|p| p.lag() == Some(0))
    });
    let text = b.metrics.render_prometheus();
    assert!(
        text.contains(
            "anomalog_kafka_partition_lag{topic=\"access\",group=\"anomalog\",partition=\"0\"} 0"
        ),
        "{text}"
    );

    set(&b.stop);
    b.thread.join().unwrap().unwrap();

    // No record lost; the batch a died with was read again by b.
    let seen_a = a.seen.lock().unwrap().clone();
    let seen_b = b.seen.lock().unwrap().clone();
    assert_eq!(scored(&[&a.seen, &b.seen]), (0..total).collect::<BTreeSet<_>>());
    let again: Vec<_> = seen_a.keys().filter(|s| seen_b.contains_key(s)).collect();
    assert!(again.iter().any(|&&s| s >= phase1), "the uncommitted batch must be re-read");
    // Phase 1 records can be read twice too when the coordinator refuses a's commit of
    // the partitions it gives up to b with `RebalanceInProgress` (a further rebalance
    // round waits for a; seen under load, about one run in seven): b then starts from
    // the previous commit (the documented "lines may be scored twice after a
    // rebalance"). What must hold for them as for all is that no alert repeats, checked
    // below.
    let early: Vec<_> = again.iter().filter(|&&&s| s < phase1).collect();
    if !early.is_empty() {
        eprintln!("phase 1 records read by both members: {early:?}");
    }

    // No alert twice; every attacker alerted once.
    let events = alerts.0.lock().unwrap().clone();
    let mut keys = BTreeMap::new();
    for e in &events {
        *keys.entry(event_key(e)).or_insert(0) += 1;
    }
    assert!(keys.values().all(|&n| n == 1), "repeated alerts: {keys:?}");
    let mut opened: BTreeMap<String, u32> = BTreeMap::new();
    for e in events.iter().filter(|e| e.event == EventKind::Opened) {
        *opened.entry(e.incident.client.clone().unwrap()).or_default() += 1;
    }
    let mut attackers: Vec<String> = (0..8).map(|c| format!("192.0.2.{c}")).collect();
    attackers.extend(a_parts.iter().map(|p| format!("198.51.100.{p}")));
    attackers.sort();
    assert_eq!(opened.keys().cloned().collect::<Vec<_>>(), attackers);
    assert!(opened.values().all(|&n| n == 1), "{opened:?}");
    let suppressed =
        a.dedup.suppressed.load(Ordering::Relaxed) + b.dedup.suppressed.load(Ordering::Relaxed);
    assert!(suppressed >= 1, "the re-read batch's alerts must have been suppressed");

    // Everything is committed: the group's offsets are at the end of each partition.
    let check: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", GROUP)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(TOPIC, p);
    }
    let committed = check.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    let mut sum = 0;
    for e in committed.elements() {
        let (_, high) =
            check.fetch_watermarks(TOPIC, e.partition(), Duration::from_secs(10)).unwrap();
        assert_eq!(e.offset(), Offset::Offset(high), "partition {}", e.partition());
        sum += high;
    }
    assert_eq!(sum as u64, total);
}
