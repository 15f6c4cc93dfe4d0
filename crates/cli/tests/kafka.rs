//! `anomalog watch` as a Kafka consumer group, run as an operator would: the built
//! binary, two processes in one group reading a topic of access-log lines keyed by
//! client from librdkafka's mock cluster (real Kafka protocol, on loopback, started in
//! this test process), alerting to a shared JSONL file, a webhook and a topic of the
//! same cluster, with one PostgreSQL database as their incident store (a throwaway
//! server started here).
//!
//! One process is killed with SIGKILL mid-stream; the other takes its partitions
//! over; the killed one is restarted on its state directory (delivering what its
//! outbox held) and rejoins, which moves partitions again. Then: every record is
//! committed by the group (so scored, with its alerts durable), every attacker has an
//! incident, no alert reached a receiver twice, and both dashboards list the same
//! incidents. Every wait is bounded and every child killed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anomalog_kafka::rdkafka::config::ClientConfig;
use anomalog_kafka::rdkafka::consumer::{BaseConsumer, Consumer};
use anomalog_kafka::rdkafka::mocking::MockCluster;
use anomalog_kafka::rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use anomalog_kafka::rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use anomalog_kafka::testing::TempPostgres;
use common::{Daemon, exe, free_port, get, metric};

const TOPIC: &str = "access";
/// The topic the members alert to, as a SIEM would read it.
const ALERTS: &str = "alerts";
const GROUP: &str = "fleet";
const PARTITIONS: i32 = 6;
const WAIT: Duration = Duration::from_secs(60);

/// Polls `check` until it returns `Some`, for at most [`WAIT`].
fn wait_for<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    common::wait_for(what, WAIT, check)
}

/// A loopback webhook answering 200 to every POST and keeping the bodies.
fn receiver() -> (u16, Arc<Mutex<Vec<serde_json::Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&got);
    let port = common::receiver(move |(_, body)| {
        // Kept before the answer: an alert counts as received once its body is here.
        if let Ok(event) = serde_json::from_str(&body) {
            keep.lock().unwrap().push(event);
        }
        true
    });
    (port, got)
}

/// The identity of an alert as the ledger keys it: incident id (which follows the record
/// that opened the incident), kind, and for updates what they report.
fn alert_key(event: &serde_json::Value) -> String {
    let inc = &event["incident"];
    let id = inc["id"].as_str().unwrap_or("?");
    match event["event"].as_str() {
        Some("updated") => {
            format!("{id}-updated-{}-{}", inc["count"], inc["severity"].as_str().unwrap_or("?"))
        }
        kind => format!("{id}-{}", kind.unwrap_or("?")),
    }
}

/// Alerts counted by key; panics on any key seen twice.
fn once_each(what: &str, events: &[serde_json::Value]) -> BTreeSet<String> {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for e in events {
        *counts.entry(alert_key(e)).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "{what}: alerts delivered twice: {repeated:?}");
    counts.into_keys().collect()
}

/// A model trained on simulated traffic, and more traffic of the same site to replay.
fn fixture(dir: &Path) -> (PathBuf, Vec<String>) {
    common::trained(dir, 20_000, 6_000)
}

/// An sqlmap burst from `client`.
fn attack(client: &str, n: usize) -> Vec<String> {
    common::sqlmap(client, n)
}

/// Produces lines keyed by their client (the first field), as Vector would.
struct Traffic {
    producer: BaseProducer,
    sent: u64,
}

impl Traffic {
    fn send(&mut self, lines: &[String]) {
        for line in lines {
            let client = line.split(' ').next().unwrap_or("");
            let mut record = BaseRecord::to(TOPIC).key(client).payload(line.as_str());
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        self.producer.poll(Duration::from_millis(10));
                        record = back;
                    }
                }
            }
            self.sent += 1;
        }
        self.producer.flush(Duration::from_secs(20)).expect("flush");
    }
}

/// The alerts topic read from its beginning, as a SIEM would.
struct AlertTopic {
    consumer: BaseConsumer,
    events: Vec<serde_json::Value>,
}

impl AlertTopic {
    fn new(brokers: &str) -> AlertTopic {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", "siem")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(ALERTS, 0, Offset::Beginning).unwrap();
        consumer.assign(&tpl).unwrap();
        AlertTopic { consumer, events: Vec::new() }
    }

    /// Every event produced so far (what arrives within a few quiet polls).
    fn read(&mut self) -> Vec<serde_json::Value> {
        self.read_within(Duration::from_millis(100))
    }

    /// Every event produced so far, polling until three polls of `quiet` found nothing.
    fn read_within(&mut self, quiet_poll: Duration) -> Vec<serde_json::Value> {
        let mut quiet = 0;
        while quiet < 3 {
            match self.consumer.poll(quiet_poll) {
                Some(Ok(record)) => {
                    quiet = 0;
                    let payload = anomalog_kafka::rdkafka::message::Message::payload(&record);
                    if let Some(event) = payload.and_then(|p| serde_json::from_slice(p).ok()) {
                        self.events.push(event);
                    }
                }
                Some(Err(_)) | None => quiet += 1,
            }
        }
        self.events.clone()
    }
}

/// One `anomalog watch` process of the group, killed when dropped.
struct Member(Daemon);

impl Deref for Member {
    type Target = Daemon;

    fn deref(&self) -> &Daemon {
        &self.0
    }
}

impl Member {
    fn start(dir: &Path, name: &str, model: &Path, brokers: &str, db: &str, hook: u16) -> Member {
        let port = free_port();
        let source = format!(
            "kafka://{brokers}/{TOPIC}?group={GROUP}&session_timeout_ms=6000\
             &heartbeat_interval_ms=500&stats_interval_ms=200"
        );
        let mut command = Command::new(exe());
        command
            .arg("watch")
            .arg("--model")
            .arg(model)
            .args(["--source", &source])
            .arg(format!("--alert=jsonl:{}", dir.join("alerts.jsonl").display()))
            .arg(format!("--alert=webhook:http://127.0.0.1:{hook}/hook"))
            .arg(format!("--alert=kafka://{brokers}/{ALERTS}"))
            .args(["--db", db])
            .arg("--state-dir")
            .arg(dir.join(name))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--format", "combined"]);
        Member(Daemon::start(command, port, dir.join(format!("{name}-{port}.stderr")), WAIT))
    }

    fn owned(&self) -> u64 {
        metric(self.port, "anomalog_kafka_assigned_partitions").unwrap_or(0)
    }

    /// The partitions this member owns, as `/metrics` labels them.
    fn partitions(&self) -> BTreeSet<String> {
        let text = get(self.port, "/metrics").map(|(_, body)| body).unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with("anomalog_kafka_partition_lag{"))
            .filter_map(|l| Some(l.split("partition=\"").nth(1)?.split('"').next()?.to_string()))
            .collect()
    }

    fn incidents(&self) -> Vec<serde_json::Value> {
        let (status, body) = get(self.port, "/api/incidents?limit=500").unwrap_or_default();
        assert_eq!(status, 200, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        page["items"].as_array().cloned().unwrap_or_default()
    }

    /// SIGKILL: no chance to commit, deliver or save anything; but not while an alert
    /// is in the one window no sender can close, where a receiver has it and the
    /// ledger does not yet (a repeat from there is the documented limit of the ledger,
    /// not what this test is about). The process is stopped (SIGSTOP), and killed if
    /// every alert the receivers hold is in the ledger, else resumed briefly and
    /// checked again.
    fn kill_between_deliveries(mut self, in_flight: &dyn Fn() -> usize) {
        for _ in 0..100 {
            self.signal("STOP");
            // Whatever it sent before stopping reaches the receivers meanwhile.
            std::thread::sleep(Duration::from_millis(300));
            if in_flight() == 0 {
                self.0.child.kill().unwrap();
                self.0.child.wait().unwrap();
                return;
            }
            self.signal("CONT");
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("alerts stayed delivered but unrecorded for 30 s");
    }

    /// SIGTERM, then waits for a clean exit; returns stderr.
    fn stop(self) -> String {
        self.0.stop()
    }
}

fn committed_and_ends(checker: &BaseConsumer) -> Vec<(i64, i64)> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(TOPIC, p);
    }
    let Ok(committed) = checker.committed_offsets(tpl, Duration::from_secs(5)) else {
        return Vec::new();
    };
    committed
        .elements()
        .iter()
        .map(|e| {
            let (_, high) = checker
                .fetch_watermarks(TOPIC, e.partition(), Duration::from_secs(5))
                .unwrap_or((0, -1));
            let done = match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            };
            (done, high)
        })
        .collect()
}

fn all_committed(checker: &BaseConsumer, sent: u64) -> Option<()> {
    let parts = committed_and_ends(checker);
    let ends: i64 = parts.iter().map(|(_, high)| high).sum();
    let all = parts.len() == PARTITIONS as usize && parts.iter().all(|(c, h)| c == h);
    (all && ends == sent as i64).then_some(())
}

#[test]
fn a_killed_member_loses_no_record_and_no_alert_repeats() {
    let Some(postgres) = TempPostgres::start() else { return };
    postgres.database("fleet");
    let db = format!("postgres://anomalog@127.0.0.1:{}/fleet", postgres.port);
    let dir = tempfile::tempdir().unwrap();
    let (model, normal) = fixture(dir.path());
    let cluster = MockCluster::new(3).unwrap();
    cluster.create_topic(TOPIC, PARTITIONS, 1).unwrap();
    cluster.create_topic(ALERTS, 1, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let producer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let mut traffic = Traffic { producer, sent: 0 };
    let checker: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", GROUP)
        .create()
        .unwrap();
    let (hook, webhook) = receiver();
    let member = |name: &str| Member::start(dir.path(), name, &model, &brokers, &db, hook);

    // Two members split the partitions. Each keeps its model lifecycle in a SQLite file
    // of its state directory, not at the PostgreSQL URL read as a path.
    let a = member("a");
    assert!(dir.path().join("a/lifecycle.db").is_file());
    assert!(!Path::new("postgres:").exists());
    wait_for("a to own every partition", || (a.owned() == PARTITIONS as u64).then_some(()));
    let b = member("b");
    wait_for("the group to split the partitions", || {
        let (pa, pb) = (a.owned(), b.owned());
        (pa > 0 && pb > 0 && pa + pb == PARTITIONS as u64).then_some(())
    });

    // Phase 1: normal traffic and four attackers, all committed.
    let mut attackers: Vec<String> = Vec::new();
    let mut phase = |normal: &[String], first: usize, count: usize| {
        let mut lines = normal.to_vec();
        for n in first..first + count {
            let client = format!("203.0.113.{n}");
            for (i, line) in attack(&client, 6).into_iter().enumerate() {
                lines.insert((i * 97 + n * 31) % lines.len(), line);
            }
            attackers.push(client);
        }
        lines
    };
    traffic.send(&phase(&normal[..1500], 10, 4));
    wait_for("phase 1 committed", || all_committed(&checker, traffic.sent));

    let ledger = std::cell::RefCell::new(
        anomalog_kafka::postgres::Client::connect(
            &postgres.url("fleet"),
            anomalog_kafka::postgres::NoTls,
        )
        .unwrap(),
    );
    let topic = std::cell::RefCell::new(AlertTopic::new(&brokers));
    let jsonl = dir.path().join("alerts.jsonl");
    let read_jsonl = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&jsonl)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let in_flight = || {
        let recorded: Vec<String> = ledger
            .borrow_mut()
            .query("SELECT key FROM alert_ledger", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let missing = |scope: &str, events: &[serde_json::Value]| {
            events
                .iter()
                .filter(|e| {
                    let key = format!("/{}", alert_key(e));
                    !recorded.iter().any(|r| r.starts_with(scope) && r.ends_with(&key))
                })
                .count()
        };
        missing("jsonl-", &read_jsonl())
            + missing("webhook-", &webhook.lock().unwrap())
            + missing("kafka-", &topic.borrow_mut().read())
    };
    // Phase 2: eight new attackers, some on a's partitions, produced at about 1000
    // lines/s. a is killed mid-stream, its latest records not committed yet, once it
    // has alerted for one of those attackers: b reads those records again and must not
    // repeat what a delivered. (Whether a re-read record is one whose alert a already
    // delivered depends on timing: the alert usually arrives after the commit of the
    // record that opened the incident. tests/failover.rs of anomalog-kafka forces that
    // case.)
    let owned_by_a = a.partitions();
    let on_a = |e: &serde_json::Value| {
        let client = e["incident"]["client"].as_str().unwrap_or("");
        let source = e["incident"]["samples"][0]["source"].as_str().unwrap_or("");
        let partition = source.rsplit('/').next().unwrap_or("");
        e["event"] == "opened"
            && client.starts_with("203.0.113.2")
            && owned_by_a.contains(partition)
    };
    let alerted_everywhere = || {
        let hooked: Vec<String> =
            webhook.lock().unwrap().iter().filter(|e| on_a(e)).map(alert_key).collect();
        !hooked.is_empty() && {
            let filed: BTreeSet<String> = read_jsonl().iter().map(alert_key).collect();
            hooked.iter().any(|k| filed.contains(k))
        }
    };
    let mut alive = Some(a);
    for chunk in phase(&normal[1500..4500], 20, 8).chunks(50) {
        traffic.send(chunk);
        if alive.is_some() && alerted_everywhere() {
            alive.take().unwrap().kill_between_deliveries(&in_flight);
        }
        std::thread::sleep(Duration::from_millis(40));
    }
    if let Some(a) = alive {
        wait_for("a's alert for an attacker on its partitions", || {
            alerted_everywhere().then_some(())
        });
        a.kill_between_deliveries(&in_flight);
    }
    wait_for("b to take every partition over", || (b.owned() == PARTITIONS as u64).then_some(()));

    // Phase 3: a comes back on its state directory, delivers what its outbox held and
    // rejoins: partitions move again.
    let a = member("a");
    wait_for("the group to split the partitions again", || {
        let (pa, pb) = (a.owned(), b.owned());
        (pa > 0 && pb > 0 && pa + pb == PARTITIONS as u64).then_some(())
    });
    traffic.send(&phase(&normal[4500..], 30, 4));

    // No record lost: the group committed every partition to its end, which it does
    // only once a record is scored and its alerts are in the outboxes.
    wait_for("every record committed", || all_committed(&checker, traffic.sent));
    let lag_text = get(b.port, "/metrics").unwrap().1;
    assert!(lag_text.contains("anomalog_kafka_partition_lag{"), "{lag_text}");
    assert!(metric(b.port, "anomalog_kafka_rebalances_total").unwrap() >= 2, "{lag_text}");

    // Every attacker alerted, on both receivers, and nothing twice.
    let opened = |events: &[serde_json::Value]| -> BTreeSet<String> {
        events
            .iter()
            .filter(|e| e["event"] == "opened")
            .filter_map(|e| e["incident"]["client"].as_str().map(String::from))
            .collect()
    };
    let wanted: BTreeSet<String> = attackers.iter().cloned().collect();
    wait_for("every attacker's alert on both receivers", || {
        let hooked = opened(&webhook.lock().unwrap());
        let filed = opened(&read_jsonl());
        let produced = opened(&topic.borrow_mut().read());
        (wanted.is_subset(&hooked) && wanted.is_subset(&filed) && wanted.is_subset(&produced))
            .then_some(())
    });
    // Let any repeat arrive before counting.
    std::thread::sleep(Duration::from_secs(2));
    let hooked = once_each("webhook", &webhook.lock().unwrap());
    let filed = once_each("jsonl", &read_jsonl());
    let produced = once_each("kafka", &topic.borrow_mut().read());
    assert_eq!(hooked, filed, "the receivers get the same alerts");
    assert_eq!(hooked, produced, "the receivers get the same alerts");

    // One incident store: both dashboards list the same incidents, every attacker's
    // among them, one row per incident.
    let ids = |items: &[serde_json::Value]| -> Vec<(String, String)> {
        items
            .iter()
            .map(|i| (i["id"].as_str().unwrap().into(), i["client"].as_str().unwrap_or("").into()))
            .collect()
    };
    let listed = wait_for("both dashboards to agree", || {
        let (from_a, from_b) = (a.incidents(), b.incidents());
        let clients: BTreeSet<String> = ids(&from_a).into_iter().map(|(_, c)| c).collect();
        (from_a == from_b && wanted.is_subset(&clients)).then_some(from_a)
    });
    let unique: BTreeSet<_> = ids(&listed).into_iter().map(|(id, _)| id).collect();
    assert_eq!(unique.len(), listed.len(), "an incident stored twice: {listed:?}");

    let suppressed = metric(a.port, "anomalog_alerts_suppressed_total").unwrap_or(0)
        + metric(b.port, "anomalog_alerts_suppressed_total").unwrap_or(0);
    let text_a = a.stop();
    let text_b = b.stop();
    eprintln!(
        "{} records, {} incidents, {} alert keys, {suppressed} repeats suppressed",
        traffic.sent,
        listed.len(),
        hooked.len()
    );
    assert!(text_a.contains("stopped:") && text_b.contains("stopped:"), "{text_a}\n{text_b}");
}
