//! Throughput and lag of `anomalog watch` processes in one consumer group, against
//! librdkafka's mock cluster on loopback. Run by `bench/kafka.sh`.
//!
//! `kafka_bench run --watch BIN --model MODEL --input LOG --processes N --lines L
//! --partitions P` starts the mock cluster, starts N `BIN watch` processes in one group
//! (each with its own state directory and SQLite store, a JSONL alert sink and the
//! model, so the figures include the model's scoring), waits until the group has
//! assigned every partition, produces L lines of LOG (repeated as needed) keyed by
//! client, and measures the time until the processes have read all of them (the
//! throughput, from their `/metrics`) and until the group has committed all of them,
//! sampling the lag (produced minus committed) every 50 ms, and the CPU time the
//! processes spent meanwhile (all threads, from /proc), which says how many cores a
//! rate needs whatever else shares the machine. It prints one JSON line.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

const TOPIC: &str = "access";
const GROUP: &str = "bench";

type Error = Box<dyn std::error::Error>;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

fn number(args: &[String], name: &str, default: u64) -> u64 {
    arg(args, name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("run") => run(&args),
        _ => Err("usage: kafka_bench run --watch BIN --model MODEL --input LOG \
                  [--processes N] [--lines L] [--partitions P]"
            .into()),
    }
}

/// `GET /metrics` of a process; the sum of the samples of each wanted metric.
fn metrics(port: u16, names: &[&str]) -> Option<Vec<u64>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let mut sums = vec![0u64; names.len()];
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        for (i, name) in names.iter().enumerate() {
            if line.strip_prefix(name).is_some_and(|r| r.starts_with(['{', ' '])) {
                sums[i] += line.rsplit(' ').next()?.parse::<u64>().unwrap_or(0);
            }
        }
    }
    Some(sums)
}

/// One `anomalog watch` of the group.
struct Member {
    child: Child,
    port: u16,
}

impl Member {
    /// CPU time of the process (all its threads) so far, in seconds, from /proc.
    fn cpu_seconds(&self, ticks_per_sec: f64) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The fields after the command name (which may hold spaces) start at `state`;
        // utime and stime are the 14th and 15th fields of the line.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<f64> =
            rest.split_whitespace().skip(11).take(2).filter_map(|f| f.parse().ok()).collect();
        fields.iter().sum::<f64>() / ticks_per_sec
    }

    /// Partitions owned and lines read.
    fn poll(&self) -> (u64, u64) {
        metrics(self.port, &["anomalog_kafka_assigned_partitions", "anomalog_lines_read_total"])
            .map_or((0, 0), |v| (v[0], v[1]))
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(args: &[String]) -> Result<(), Error> {
    let processes = number(args, "--processes", 1) as usize;
    let lines = number(args, "--lines", 400_000);
    let partitions = number(args, "--partitions", 24) as i32;
    let (Some(watch), Some(model), Some(input)) =
        (arg(args, "--watch"), arg(args, "--model"), arg(args, "--input"))
    else {
        return Err("run needs --watch BIN, --model MODEL and --input LOG".into());
    };
    let log = std::fs::read_to_string(&input)?;
    let template: Vec<&str> = log.lines().filter(|l| !l.is_empty()).collect();
    if template.is_empty() {
        return Err(format!("{input}: no lines").into());
    }
    let cluster = MockCluster::new(1)?;
    cluster.create_topic(TOPIC, partitions, 1)?;
    let brokers = cluster.bootstrap_servers();
    let state = tempfile::tempdir()?;

    let source = format!(
        "kafka://{brokers}/{TOPIC}?group={GROUP}&offset_reset=latest&session_timeout_ms=6000\
         &heartbeat_interval_ms=500&stats_interval_ms=500"
    );
    let mut members = Vec::new();
    for n in 0..processes {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = state.path().join(format!("p{n}"));
        std::fs::create_dir_all(&dir)?;
        let child = Command::new(&watch)
            .args(["watch", "--model", &model, "--source", &source, "--format", "combined"])
            .arg(format!("--alert=jsonl:{}", dir.join("alerts.jsonl").display()))
            .arg("--db")
            .arg(dir.join("anomalog.db"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.txt"))?)
            .spawn()?;
        members.push(Member { child, port });
    }
    let join_started = Instant::now();
    loop {
        let owned: Vec<u64> = members.iter().map(|m| m.poll().0).collect();
        if owned.iter().all(|&o| o > 0) && owned.iter().sum::<u64>() == partitions as u64 {
            break;
        }
        if join_started.elapsed() > Duration::from_secs(60) {
            return Err(format!("the group did not assign every partition: {owned:?}").into());
        }
        thread::sleep(Duration::from_millis(50));
    }
    let join_secs = join_started.elapsed().as_secs_f64();
    let ticks_per_sec = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    let cpu =
        |members: &[Member]| members.iter().map(|m| m.cpu_seconds(ticks_per_sec)).sum::<f64>();
    let cpu_before = cpu(&members);
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
    let read_total = || members.iter().map(|m| m.poll().1).sum::<u64>();
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
        let line = template[i as usize % template.len()];
        let client = line.split(' ').next().unwrap_or("");
        let mut record = BaseRecord::to(TOPIC).key(client).payload(line);
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
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!("lag still {lag} after 600 s").into());
        }
        thread::sleep(Duration::from_millis(50));
    }
    let secs = started.elapsed().as_secs_f64();
    let read_secs = read_secs.unwrap_or(secs);
    let cpu_secs = cpu(&members) - cpu_before;
    drop(members);
    println!(
        "{{\"processes\":{processes},\"partitions\":{partitions},\"lines\":{lines},\
         \"read_seconds\":{read_secs:.3},\"lines_per_sec\":{:.0},\
         \"committed_seconds\":{secs:.3},\"produce_seconds\":{produce_secs:.3},\
         \"max_lag\":{max_lag},\"mean_lag\":{:.0},\"join_seconds\":{join_secs:.2},\
         \"cpu_seconds\":{cpu_secs:.2},\"cpu_us_per_line\":{:.2}}}",
        lines as f64 / read_secs,
        lag_sum as f64 / lag_samples.max(1) as f64,
        cpu_secs * 1e6 / lines as f64
    );
    Ok(())
}
