//! Throughput and lag of `anomalog watch` processes in one consumer group, against
//! librdkafka's mock cluster on loopback. Run by `bench/kafka.sh`.
//!
//! `kafka_bench run --processes N --lines L --partitions P` starts the mock cluster,
//! starts N copies of itself in `consume` mode (each a real daemon with a Kafka source
//! and a pass-through scorer, so the Kafka path is measured, not the model), waits
//! until the group has assigned every partition, produces L access-log lines keyed by
//! client, and measures the time until the processes have read all of them (the
//! throughput) and until the group has committed all of them, sampling the lag
//! (produced minus committed) every 50 ms. It prints one JSON line.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anomalog_kafka::KafkaSourceConfig;
use anomalog_kafka::source::KafkaSource;
use anomalog_watch::{Daemon, DaemonConfig, LineOutcome, LineScorer};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

const TOPIC: &str = "access";
const GROUP: &str = "bench";

type Error = Box<dyn std::error::Error>;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.windows(2).find(|w| w[0] == name).and_then(|w| w[1].parse().ok()).unwrap_or(default)
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("run") => run(&args),
        Some("consume") => consume(&args),
        _ => Err("usage: kafka_bench run [--processes N] [--lines L] [--partitions P]".into()),
    }
}

/// Counts lines and flags those with a quote in the request: the cost of the Kafka
/// path and the daemon loop, without a model.
struct PassThrough;

impl LineScorer for PassThrough {
    fn score_line(&mut self, _source: &str, line: &[u8]) -> LineOutcome {
        if memchr_quote(line) {
            LineOutcome::Anomalous(Box::new(anomalog_watch::incident::Anomaly {
                ts: None,
                source: String::new(),
                line: 0,
                client: line
                    .split(|&b| b == b' ')
                    .next()
                    .map(|c| String::from_utf8_lossy(c).into()),
                category: "sqli".into(),
                request: String::from_utf8_lossy(line).into_owned(),
                status: Some(500),
                score: 0.95,
                explanation: vec![],
            }))
        } else {
            LineOutcome::Normal { score: 0.1 }
        }
    }
}

fn memchr_quote(line: &[u8]) -> bool {
    line.contains(&b'\'')
}

fn consume(args: &[String]) -> Result<(), Error> {
    let brokers = args.windows(2).find(|w| w[0] == "--brokers").map(|w| w[1].clone());
    let state = args.windows(2).find(|w| w[0] == "--state").map(|w| w[1].clone());
    let (Some(brokers), Some(state)) = (brokers, state) else {
        return Err("consume needs --brokers and --state".into());
    };
    let config = DaemonConfig {
        state_dir: state.into(),
        alerts: vec![],
        exit_when_finished: false,
        poll_interval_ms: 5,
        ..DaemonConfig::default()
    };
    let mut daemon = Daemon::new(config)?;
    let source = KafkaSource::new(&KafkaSourceConfig {
        brokers,
        topic: TOPIC.into(),
        group: GROUP.into(),
        offset_reset: anomalog_kafka::OffsetReset::Latest,
        session_timeout_ms: 6_000,
        heartbeat_interval_ms: 500,
        stats_interval_ms: 500,
        ..KafkaSourceConfig::default()
    })?;
    let metrics = source.metrics();
    daemon.add_source(Box::new(source));
    let counters = daemon.metrics();
    let stop = Arc::new(AtomicBool::new(false));
    // The parent closes our stdin to stop us.
    let s = Arc::clone(&stop);
    thread::spawn(move || {
        let mut sink = String::new();
        let _ = std::io::stdin().read_line(&mut sink);
        s.store(true, Ordering::Relaxed);
    });
    let m = Arc::clone(&metrics);
    thread::spawn(move || {
        loop {
            let parts: Vec<i32> = m.partitions().keys().copied().collect();
            let read = counters.lines_read.load(Ordering::Relaxed);
            let list = parts.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
            println!("assigned {list}\nread {read}");
            let _ = std::io::stdout().flush();
            thread::sleep(Duration::from_millis(20));
        }
    });
    let stats = daemon.run(&mut PassThrough, &stop)?;
    println!("done {}", stats.lines_read);
    Ok(())
}

fn run(args: &[String]) -> Result<(), Error> {
    let processes = arg(args, "--processes", 1) as usize;
    let lines = arg(args, "--lines", 1_000_000);
    let partitions = arg(args, "--partitions", 8) as i32;
    let cluster = MockCluster::new(1)?;
    cluster.create_topic(TOPIC, partitions, 1)?;
    let brokers = cluster.bootstrap_servers();
    let state = tempfile::tempdir()?;

    let assigned: Arc<Mutex<Vec<BTreeSet<i32>>>> =
        Arc::new(Mutex::new(vec![BTreeSet::new(); processes]));
    let read: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(vec![0; processes]));
    let mut children: Vec<Child> = Vec::new();
    for n in 0..processes {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["consume", "--brokers", &brokers, "--state"])
            .arg(state.path().join(format!("p{n}")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let out = child.stdout.take().ok_or("child stdout")?;
        let (a, r) = (Arc::clone(&assigned), Arc::clone(&read));
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(list) = line.strip_prefix("assigned ") {
                    a.lock().unwrap()[n] = list.split(',').filter_map(|p| p.parse().ok()).collect();
                } else if let Some(count) = line.strip_prefix("read ") {
                    r.lock().unwrap()[n] = count.parse().unwrap_or(0);
                }
            }
        });
        children.push(child);
    }
    let join_started = Instant::now();
    loop {
        let sets = assigned.lock().unwrap().clone();
        let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
        if sets.iter().all(|s| !s.is_empty()) && union.len() == partitions as usize {
            break;
        }
        if join_started.elapsed() > Duration::from_secs(60) {
            return Err("the group did not assign every partition within 60 s".into());
        }
        thread::sleep(Duration::from_millis(50));
    }
    let join_secs = join_started.elapsed().as_secs_f64();
    // Latest-offset consumers start at the end once assigned; give the fetchers a moment.
    thread::sleep(Duration::from_millis(500));

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let checker: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", &brokers).set("group.id", GROUP).create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(TOPIC, p);
    }
    let committed = |tpl: &TopicPartitionList| -> u64 {
        checker
            .committed_offsets(tpl.clone(), Duration::from_secs(5))
            .map(|c| {
                c.elements()
                    .iter()
                    .filter_map(|e| match e.offset() {
                        Offset::Offset(o) => Some(o as u64),
                        _ => None,
                    })
                    .sum()
            })
            .unwrap_or(0)
    };
    let start_committed = committed(&tpl);
    let read_total = || read.lock().unwrap().iter().sum::<u64>();
    let start_read = read_total();
    let mut read_secs = None;

    let started = Instant::now();
    let mut max_lag = 0u64;
    let mut lag_sum = 0u64;
    let mut lag_samples = 0u64;
    let mut last_sample = Instant::now();
    let mut sample = |produced: u64, max_lag: &mut u64| {
        let lag = produced.saturating_sub(committed(&tpl) - start_committed);
        *max_lag = (*max_lag).max(lag);
        lag_sum += lag;
        lag_samples += 1;
        lag
    };
    for i in 0..lines {
        let client = format!("198.51.100.{}", i % 251);
        let attack = i % 997 == 0;
        let line = format!(
            "{client} - - [01/May/2024:12:00:00 +0000] \"GET /{}{} HTTP/1.1\" 200 512 \"-\" \"bench\"",
            i % 1000,
            if attack { "?id=1'" } else { "" }
        );
        let mut record = BaseRecord::to(TOPIC).key(&client).payload(&line);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    producer.poll(Duration::from_millis(1));
                    record = back;
                }
            }
        }
        if i % 1000 == 0 {
            producer.poll(Duration::ZERO);
            if last_sample.elapsed() >= Duration::from_millis(50) {
                sample(i, &mut max_lag);
                last_sample = Instant::now();
            }
        }
    }
    producer.flush(Duration::from_secs(60))?;
    let produce_secs = started.elapsed().as_secs_f64();
    loop {
        if read_secs.is_none() && read_total() - start_read >= lines {
            read_secs = Some(started.elapsed().as_secs_f64());
        }
        let lag = sample(lines, &mut max_lag);
        if lag == 0 && read_secs.is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err(format!("lag still {lag} after 300 s").into());
        }
        thread::sleep(Duration::from_millis(50));
    }
    let secs = started.elapsed().as_secs_f64();
    let read_secs = read_secs.unwrap_or(secs);
    for child in &mut children {
        drop(child.stdin.take());
    }
    for mut child in children {
        let _ = child.wait();
    }
    println!(
        "{{\"processes\":{processes},\"partitions\":{partitions},\"lines\":{lines},\
         \"read_seconds\":{read_secs:.3},\"lines_per_sec\":{:.0},\
         \"committed_seconds\":{secs:.3},\"produce_seconds\":{produce_secs:.3},\
         \"max_lag\":{max_lag},\"mean_lag\":{:.0},\"join_seconds\":{join_secs:.2}}}",
        lines as f64 / read_secs,
        lag_sum as f64 / lag_samples.max(1) as f64
    );
    Ok(())
}
