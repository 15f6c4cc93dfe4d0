//! The daemon end to end: a followed file, a test scorer, a JSONL sink, restarts.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::UdpSocket;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anomalog_watch::incident::{Anomaly, IncidentEvent};
use anomalog_watch::source::file::StartAt;
use anomalog_watch::source::syslog::{Protocol, SyslogConfig, SyslogSource};
use anomalog_watch::{Daemon, DaemonConfig, DaemonStats, LineOutcome, LineScorer};

/// Lines containing "attack" are anomalous (client = first word), lines starting with
/// "garbage" are rejected; every line seen is recorded.
#[derive(Clone, Default)]
struct TestScorer {
    seen: Arc<Mutex<Vec<String>>>,
}

impl LineScorer for TestScorer {
    fn score_line(&mut self, _source: &str, line: &[u8]) -> LineOutcome {
        let text = String::from_utf8_lossy(line).into_owned();
        self.seen.lock().unwrap().push(text.clone());
        if text.starts_with("garbage") {
            return LineOutcome::Rejected("garbage");
        }
        if !text.contains("attack") {
            return LineOutcome::Normal { score: 0.1 };
        }
        LineOutcome::Anomalous(Box::new(Anomaly {
            ts: None,
            source: String::new(),
            line: 0,
            client: text.split(' ').next().map(str::to_string),
            category: "attack".into(),
            request: text.clone(),
            status: Some(404),
            score: 0.95,
            explanation: vec![],
        }))
    }
}

fn append(path: &Path, lines: &[String]) {
    let mut f = OpenOptions::new().create(true).append(true).open(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn config(dir: &Path) -> DaemonConfig {
    let mut c = DaemonConfig {
        sources: vec![format!("file:{}", dir.join("access.log").display())],
        alerts: vec![format!("jsonl:{}", dir.join("alerts.jsonl").display())],
        state_dir: dir.join("state"),
        poll_interval_ms: 10,
        batch_lines: 7,
        ..DaemonConfig::default()
    };
    c.file.start_at = StartAt::Beginning;
    c.file.rescan_ms = 0;
    c.file.rotate_grace_ms = 100;
    c
}

/// Runs the daemon until the scorer has seen `want` lines in total, then stops it.
fn run_until(
    daemon: Daemon,
    scorer: &TestScorer,
    want: usize,
    during: impl FnOnce(),
) -> DaemonStats {
    let shutdown = AtomicBool::new(false);
    thread::scope(|s| {
        let handle = s.spawn(|| daemon.run(&mut scorer.clone(), &shutdown));
        during();
        let deadline = Instant::now() + Duration::from_secs(10);
        while scorer.seen.lock().unwrap().len() < want && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        // Long enough to notice lines read twice.
        thread::sleep(Duration::from_millis(200));
        shutdown.store(true, Ordering::SeqCst);
        handle.join().unwrap().unwrap()
    })
}

fn alerts(dir: &Path) -> Vec<IncidentEvent> {
    fs::read_to_string(dir.join("alerts.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn lines(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 10 {
            3 => format!("10.0.0.{} GET /attack/{prefix}/{i}", (i / 10) % 2),
            7 => format!("garbage {prefix} {i}"),
            _ => format!("10.0.0.9 GET /ok/{prefix}/{i}"),
        })
        .collect()
}

#[test]
fn alerts_reach_jsonl_and_checkpoints_resume_across_restart_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let first = lines("a", 40);
    append(&log, &first);
    let scorer = TestScorer::default();
    let stats = run_until(Daemon::new(config(dir.path())).unwrap(), &scorer, 40, || {});
    assert_eq!(stats.lines_read, 40);
    assert_eq!(stats.rejects, 4);
    assert_eq!(stats.anomalies, 4);
    assert_eq!(stats.incidents_opened, 2);
    let got = alerts(dir.path());
    assert_eq!(got.len(), 2, "{got:?}");
    let mut clients: Vec<_> = got.iter().map(|e| e.incident.client.clone().unwrap()).collect();
    clients.sort();
    assert_eq!(clients, ["10.0.0.0", "10.0.0.1"]);

    // While down: more lines, then a rotation, then lines in the new file.
    let second = lines("b", 20);
    append(&log, &second);
    fs::rename(&log, dir.path().join("access.log.1")).unwrap();
    let third = lines("c", 20);
    append(&log, &third);
    let stats = run_until(Daemon::new(config(dir.path())).unwrap(), &scorer, 80, || {});
    assert_eq!(stats.lines_read, 40);

    let mut seen = scorer.seen.lock().unwrap().clone();
    let mut want: Vec<String> = [first, second, third].concat();
    seen.sort();
    want.sort();
    assert_eq!(seen, want, "every line scored exactly once");
    // The incidents survived the restart: repeats did not open new ones.
    assert_eq!(stats.incidents_opened, 0);
    assert!(
        alerts(dir.path())
            .iter()
            .filter(|e| e.event == anomalog_watch::incident::EventKind::Opened)
            .count()
            == 2
    );
}

#[test]
fn syslog_and_file_together_with_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    append(&log, &lines("f", 10));
    let mut daemon = Daemon::new(config(dir.path())).unwrap();
    let syslog = SyslogSource::bind(Protocol::Udp, "127.0.0.1:0", SyslogConfig::default()).unwrap();
    let addr = syslog.local_addr();
    daemon.add_source(Box::new(syslog));
    let metrics = daemon.metrics();
    let scorer = TestScorer::default();
    let stats = run_until(daemon, &scorer, 12, || {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        for msg in
            ["<190>Oct 10 13:55:36 web1 nginx: 10.9.9.9 GET /attack", "<13>1 - - - - - - garbage x"]
        {
            sock.send_to(msg.as_bytes(), addr).unwrap();
        }
    });
    assert_eq!(stats.lines_read, 12);
    let seen = scorer.seen.lock().unwrap().clone();
    assert!(seen.contains(&"10.9.9.9 GET /attack".to_string()));
    assert!(seen.contains(&"garbage x".to_string()));
    let text = metrics.render_prometheus();
    assert!(text.contains("anomalog_lines_read_total 12\n"), "{text}");
    assert!(text.contains("anomalog_rejects_by_reason_total{reason=\"garbage\"} 2\n"), "{text}");
    assert!(text.contains("anomalog_source_lag_bytes{source=\"file:"), "{text}");
    assert!(text.contains("anomalog_alerts_sent_total{sink=\"jsonl-"), "{text}");
}

#[test]
fn stdin_like_source_ends_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.sources.clear();
    let mut daemon = Daemon::new(c).unwrap();
    let input = lines("s", 30).join("\n").into_bytes();
    daemon.add_source(Box::new(anomalog_watch::source::stdin::ReaderSource::new(
        "stdin",
        std::io::Cursor::new(input),
        4,
        1 << 20,
    )));
    let scorer = TestScorer::default();
    let shutdown = AtomicBool::new(false);
    let stats = daemon.run(&mut scorer.clone(), &shutdown).unwrap();
    assert_eq!(stats.lines_read, 30);
    assert_eq!(alerts(dir.path()).len(), 2);
}

#[test]
fn checkpoints_are_group_committed_after_the_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    append(&log, &lines("g", 70));
    let mut c = config(dir.path());
    c.commit_interval_ms = 60_000;
    c.commit_lines = 1_000_000;
    let daemon = Daemon::new(c.clone()).unwrap();
    let metrics = daemon.metrics();
    let cp = dir.path().join("state/checkpoint.json");
    let scorer = TestScorer::default();
    let stats = run_until(daemon, &scorer, 70, || {});
    assert_eq!(stats.lines_read, 70);
    // Ten batches of 7 lines, one checkpoint: the one written at shutdown.
    assert_eq!(metrics.checkpoints.load(Ordering::Relaxed), 1);
    assert!(cp.exists());
    // The alerts did not wait for the checkpoint: they went out during the run.
    assert_eq!(alerts(dir.path()).len(), 2);

    // Once `commit_lines` lines are read, a checkpoint is written without waiting.
    append(&log, &lines("h", 70));
    c.commit_lines = 14;
    let daemon = Daemon::new(c).unwrap();
    let metrics = daemon.metrics();
    let stats = run_until(daemon, &scorer, 140, || {});
    assert_eq!(stats.lines_read, 70, "resumed after the lines of the first run");
    assert!(metrics.checkpoints.load(Ordering::Relaxed) >= 5);
}

/// A source that hands out its lines once and then, like a consumer group giving a
/// partition away between two batches, runs the daemon's barrier and counts the alerts
/// of those lines in the outbox files by then (that the barrier fsyncs them is
/// `Outbox::sync`'s part; this checks the daemon hands it out and it runs mid-run).
struct Revoking {
    lines: Vec<String>,
    barrier: Option<anomalog_watch::source::Barrier>,
    outbox: std::path::PathBuf,
    synced_alerts: Arc<Mutex<Option<usize>>>,
    done: bool,
}

impl anomalog_watch::source::Source for Revoking {
    fn id(&self) -> &str {
        "revoking"
    }

    fn poll(
        &mut self,
        out: &mut anomalog_watch::source::LineBatch,
        _max: usize,
    ) -> Result<(), anomalog_watch::WatchError> {
        if !self.lines.is_empty() {
            let origin: Arc<str> = Arc::from("revoking");
            for (i, l) in self.lines.drain(..).enumerate() {
                out.push(&origin, i as u64 + 1, l.as_bytes());
            }
            return Ok(());
        }
        if !self.done {
            self.done = true;
            let barrier = self.barrier.as_ref().expect("the daemon hands out its barrier");
            barrier()?;
            let text: String = fs::read_dir(&self.outbox)
                .unwrap()
                .flat_map(|sink| fs::read_dir(sink.unwrap().path()).unwrap())
                .filter_map(|e| fs::read_to_string(e.unwrap().path()).ok())
                .collect();
            *self.synced_alerts.lock().unwrap() = Some(text.matches("\"opened\"").count());
        }
        Ok(())
    }

    fn checkpoint(&self) -> Option<anomalog_watch::source::Checkpoint> {
        None
    }

    fn finished(&self) -> bool {
        self.done
    }

    fn set_barrier(&mut self, barrier: anomalog_watch::source::Barrier) {
        self.barrier = Some(barrier);
    }
}

#[test]
fn sources_get_the_outbox_barrier_and_can_run_it_between_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.sources.clear();
    c.commit_interval_ms = 60_000;
    c.commit_lines = 1_000_000;
    let mut daemon = Daemon::new(c).unwrap();
    let synced = Arc::new(Mutex::new(None));
    daemon.add_source(Box::new(Revoking {
        lines: lines("r", 30),
        barrier: None,
        outbox: dir.path().join("state/outbox"),
        synced_alerts: Arc::clone(&synced),
        done: false,
    }));
    let stats = daemon.run(&mut TestScorer::default(), &AtomicBool::new(false)).unwrap();
    assert_eq!(stats.lines_read, 30);
    // The two attackers' incidents were in an outbox when the barrier returned.
    assert!(synced.lock().unwrap().is_some_and(|n| n >= 2), "{synced:?}");
}
