//! Broker errors injected mid-stream on librdkafka's mock cluster: failed fetches,
//! failed offset commits and a broker outage. Every record is still scored (exactly
//! once unless the errors made the member rejoin the group), failed commits are sent
//! again, and the group ends committed at the end of every partition.

#![cfg(feature = "rdkafka")]

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use anomalog_kafka::source::KafkaSource;
use anomalog_watch::Daemon;
use common::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::{MockCluster, MockCoordinator};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

const TOPIC: &str = "access";

#[test]
fn injected_broker_errors_lose_and_repeat_nothing() {
    let cluster = MockCluster::new(3).unwrap();
    cluster.create_topic(TOPIC, 3, 1).unwrap();
    // The group's coordinator stays up; the broker taken down leads partition 2 only,
    // so the outage stalls a partition without forcing a rebalance.
    cluster.coordinator(MockCoordinator::Group("errors".into()), 1).unwrap();
    for (p, broker) in [(0, 1), (1, 2), (2, 3)] {
        cluster.partition_leader(TOPIC, p, Some(broker)).unwrap();
    }
    let brokers = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Lines::new(&brokers, TOPIC);
    for i in 0..300 {
        lines.send(i % 3, &format!("192.0.2.{}", i % 30), 1, false);
    }
    lines.flush();

    let seen: Seen = Arc::default();
    let stop = flag();
    let (tx, rx) = mpsc::channel();
    let (b, d, s, st) =
        (brokers.clone(), dir.path().to_path_buf(), Arc::clone(&seen), Arc::clone(&stop));
    let daemon = thread::spawn(move || {
        let mut config = daemon_config(&d);
        config.batch_lines = 20;
        let mut daemon = Daemon::new(config).unwrap();
        let source = KafkaSource::new(&source_config(&b, TOPIC, "errors")).unwrap();
        tx.send(source.metrics()).unwrap();
        daemon.add_source(Box::new(source));
        daemon.run(&mut Recorder(s), &st).unwrap()
    });
    let metrics = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let count = |seen: &Seen| seen.lock().unwrap().len() as u64;
    wait_until("the first records", Duration::from_secs(20), || count(&seen) >= 60);

    // Commits fail for a while, fetches are cut, one broker goes away and comes back,
    // while more records arrive.
    use RDKafkaRespErr::*;
    cluster.request_errors(
        RDKafkaApiKey::OffsetCommit,
        &[
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR__TRANSPORT,
        ],
    );
    cluster.request_errors(
        RDKafkaApiKey::Fetch,
        &[
            RD_KAFKA_RESP_ERR__TRANSPORT,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR__TRANSPORT,
        ],
    );
    for i in 0..300 {
        lines.send(i % 3, &format!("192.0.2.{}", i % 30), 2, false);
    }
    lines.flush();
    cluster.broker_down(3).unwrap();
    thread::sleep(Duration::from_millis(1500));
    cluster.broker_up(3).unwrap();
    for i in 0..300 {
        lines.send(i % 3, &format!("192.0.2.{}", i % 30), 3, false);
    }
    lines.flush();

    let total = lines.sent();
    wait_until("every record scored", Duration::from_secs(30), || count(&seen) == total);
    let lag_zero = || {
        let p = metrics.partitions();
        p.len() == 3 && p.values().all(|l| l.lag() == Some(0))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !lag_zero() {
        assert!(
            std::time::Instant::now() < deadline,
            "lag: {:?}\n{}",
            metrics.partitions(),
            metrics.render_prometheus()
        );
        thread::sleep(Duration::from_millis(20));
    }
    // A coordinator error can make the member rejoin; a revocation whose commit is hit
    // by an injected error lets the records since the last commit be read again.
    let rejoined = metrics.rebalances.load(Ordering::Relaxed) > 1;
    set(&stop);
    daemon.join().unwrap();

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len() as u64, total);
    let twice = seen.values().filter(|&&n| n > 1).count();
    assert!(twice == 0 || rejoined, "{twice} records scored twice without a rebalance");

    let check: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "errors")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition(TOPIC, p);
    }
    let committed = check.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    for e in committed.elements() {
        let (_, high) =
            check.fetch_watermarks(TOPIC, e.partition(), Duration::from_secs(10)).unwrap();
        assert_eq!(e.offset(), Offset::Offset(high), "partition {}", e.partition());
    }
}
