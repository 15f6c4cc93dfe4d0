//! HTTP sinks against a tiny receiver on a loopback port, with outages and restarts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anomalog_watch::incident::{Anomaly, IncidentConfig, IncidentEvent, IncidentTracker};
use anomalog_watch::outbox::{DeliveryConfig, Outbox};
use anomalog_watch::sink::SinkSpec;

type Requests = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// A minimal HTTP/1.1 server answering 200 to every request and recording the path
/// and JSON body.
struct Receiver {
    requests: Requests,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(addr: SocketAddr) -> Receiver {
        let listener = TcpListener::bind(addr).unwrap();
        listener.set_nonblocking(true).unwrap();
        let requests = Requests::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (Arc::clone(&requests), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
                let mut len = 0;
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                r.lock().unwrap().push((path, serde_json::from_slice(&body).unwrap()));
                let mut stream = reader.into_inner();
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .unwrap();
            }
        });
        Receiver { requests, stop, thread: Some(thread) }
    }

    fn wait_for(&self, n: usize) -> Vec<(String, serde_json::Value)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.requests.lock().unwrap().len() < n && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        // A little longer, so that duplicates would show.
        thread::sleep(Duration::from_millis(200));
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn events(clients: &[&str]) -> Vec<IncidentEvent> {
    let mut t = IncidentTracker::new(IncidentConfig::default());
    clients
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let a = Anomaly {
                ts: None,
                source: "access.log".into(),
                line: i as u64 + 1,
                client: Some((*c).into()),
                category: "sqli".into(),
                request: "GET /?id=1%27%20OR%201=1 HTTP/1.1".into(),
                status: Some(200),
                score: 0.95,
                explanation: vec![],
            };
            t.observe(&a, 1_714_564_800_000)
        })
        .collect()
}

fn fast() -> DeliveryConfig {
    DeliveryConfig { initial_backoff_ms: 20, max_backoff_ms: 100, ..DeliveryConfig::default() }
}

fn outbox(dir: &std::path::Path, spec: &str) -> Outbox {
    let spec = SinkSpec::parse(spec).unwrap();
    Outbox::open(&dir.join(spec.key()), spec.build(Duration::from_secs(2)).unwrap(), fast())
        .unwrap()
}

#[test]
fn webhook_posts_event_json() {
    let addr = free_addr();
    let receiver = Receiver::start(addr);
    let dir = tempfile::tempdir().unwrap();
    let ob = outbox(dir.path(), &format!("webhook:http://{addr}/hook"));
    ob.append(&events(&["203.0.113.7"])).unwrap();
    let got = receiver.wait_for(1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "/hook");
    let event: IncidentEvent = serde_json::from_value(got[0].1.clone()).unwrap();
    assert_eq!(event.incident.client.as_deref(), Some("203.0.113.7"));
}

#[test]
fn alertmanager_receives_v2_alerts() {
    let addr = free_addr();
    let receiver = Receiver::start(addr);
    let dir = tempfile::tempdir().unwrap();
    let ob = outbox(dir.path(), &format!("alertmanager:http://{addr}"));
    let evs = events(&["203.0.113.7"]);
    ob.append(&evs).unwrap();
    let got = receiver.wait_for(1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "/api/v2/alerts");
    let alert = &got[0].1[0];
    assert_eq!(alert["labels"]["alertname"], "AnomalogIncident");
    assert_eq!(alert["labels"]["severity"], "high");
    assert_eq!(alert["labels"]["client"], "203.0.113.7");
    assert_eq!(alert["labels"]["category"], "sqli");
    assert_eq!(alert["labels"]["incident_id"], evs[0].incident.id.as_str());
    assert!(alert["annotations"]["summary"].as_str().unwrap().contains("sqli from 203.0.113.7"));
    assert_eq!(alert["startsAt"], "2024-05-01T12:00:00Z");
    assert!(alert["endsAt"].as_str().unwrap() > alert["startsAt"].as_str().unwrap());
}

#[test]
fn slack_gets_readable_text() {
    let addr = free_addr();
    let receiver = Receiver::start(addr);
    let dir = tempfile::tempdir().unwrap();
    let ob = outbox(dir.path(), &format!("slack:http://{addr}/services/x"));
    ob.append(&events(&["203.0.113.7"])).unwrap();
    let got = receiver.wait_for(1);
    let text = got[0].1["text"].as_str().unwrap();
    assert!(text.starts_with("*New incident* [HIGH] sqli from 203.0.113.7"), "{text}");
}

#[test]
fn receiver_outage_and_restart_lose_and_repeat_nothing() {
    let addr = free_addr();
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("webhook:http://{addr}/hook");
    let ob = outbox(dir.path(), &spec);
    ob.append(&events(&["a", "b", "c"])).unwrap();
    let stats = ob.stats();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.failed.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(stats.failed.load(Ordering::SeqCst) >= 2);
    assert_eq!(stats.queued.load(Ordering::SeqCst), 3);
    // The daemon stops while the receiver is down...
    ob.shutdown(Duration::from_millis(100));
    // ...and starts again (same outbox directory) after it came back.
    let receiver = Receiver::start(addr);
    let ob = outbox(dir.path(), &spec);
    ob.append(&events(&["d"])).unwrap();
    let got = receiver.wait_for(4);
    let clients: Vec<_> =
        got.iter().map(|(_, b)| b["incident"]["client"].as_str().unwrap().to_string()).collect();
    assert_eq!(clients, ["a", "b", "c", "d"]);
    drop(ob);
    // A further restart sends nothing again.
    let ob = outbox(dir.path(), &spec);
    thread::sleep(Duration::from_millis(200));
    assert_eq!(receiver.requests.lock().unwrap().len(), 4);
    drop(ob);
}
