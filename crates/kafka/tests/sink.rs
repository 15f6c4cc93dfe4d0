//! The Kafka alert sink on librdkafka's mock cluster: events arrive as JSON keyed by
//! incident; an unreachable cluster is a retryable failure within the timeout.

#![cfg(feature = "rdkafka")]

mod common;

use std::time::{Duration, Instant};

use anomalog_kafka::KafkaSinkConfig;
use anomalog_kafka::sink::KafkaSink;
use anomalog_watch::SinkError;
use anomalog_watch::incident::{EventKind, IncidentEvent};
use anomalog_watch::sink::Sink;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

fn event(kind: EventKind, client: &str, line: u64) -> IncidentEvent {
    serde_json::from_value(serde_json::json!({
        "event": kind,
        "at": "2024-05-01T12:00:00Z",
        "incident": {
            "id": "x", "client": client, "category": "sqli", "severity": "high",
            "first_seen": "2024-05-01T12:00:00Z", "last_seen": "2024-05-01T12:00:00Z",
            "count": 1, "max_score": 0.95, "explanation": [],
            "samples": [{"ts": null, "request": "GET /?id=1'", "status": 500, "score": 0.95,
                         "source": "kafka:access/0", "line": line}]
        }
    }))
    .unwrap()
}

#[test]
fn events_arrive_keyed_by_incident() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("alerts", 2, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let spec = format!("kafka://{brokers}/alerts?timeout_ms=10000");
    let mut sink = KafkaSink::new(&KafkaSinkConfig::parse(&spec).unwrap()).unwrap();
    let sent = [
        event(EventKind::Opened, "203.0.113.7", 5),
        event(EventKind::Opened, "198.51.100.1", 9),
        event(EventKind::Closed, "203.0.113.7", 5),
    ];
    for e in &sent {
        sink.deliver(e).unwrap();
    }

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "reader")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..2 {
        tpl.add_partition_offset("alerts", p, Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < sent.len() && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let e: IncidentEvent = serde_json::from_slice(m.payload().unwrap()).unwrap();
            let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            assert_eq!(key, e.incident.id);
            let header = m.headers().unwrap().get(0);
            assert_eq!(header.key, "event");
            got.push((m.partition(), e));
        }
    }
    assert_eq!(got.len(), sent.len());
    // Both events of one incident share a partition, in order.
    let first: Vec<_> =
        got.iter().filter(|(_, e)| e.incident.client.as_deref() == Some("203.0.113.7")).collect();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].0, first[1].0);
    assert_eq!((first[0].1.event, first[1].1.event), (EventKind::Opened, EventKind::Closed));
}

#[test]
fn an_unreachable_cluster_is_a_retryable_failure() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let spec = format!("kafka://127.0.0.1:{port}/alerts?timeout_ms=500");
    let mut sink = KafkaSink::new(&KafkaSinkConfig::parse(&spec).unwrap()).unwrap();
    let started = Instant::now();
    let err = sink.deliver(&event(EventKind::Opened, "203.0.113.7", 5)).unwrap_err();
    assert!(matches!(err, SinkError::Retryable(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}
