use super::*;

fn anomaly(client: &str, category: &str, score: f64) -> Anomaly {
    Anomaly {
        ts: None,
        source: "access.log".into(),
        line: 1,
        client: Some(client.into()),
        category: category.into(),
        request: "GET /?id=1' OR 1=1-- HTTP/1.1".into(),
        status: Some(200),
        score,
        explanation: vec![ExplanationItem {
            feature: "query_special_chars".into(),
            value: Some(9.0),
            typical: Some(0.0),
            contribution: 0.8,
        }],
    }
}

fn config() -> IncidentConfig {
    IncidentConfig { window_secs: 60, update_interval_secs: 10, max_open: 100, max_samples: 3 }
}

const T0: i64 = 1_714_564_800_000;

#[test]
fn repeats_update_instead_of_realerting() {
    let mut t = IncidentTracker::new(config());
    let first = t.observe(&anomaly("1.2.3.4", "sqli", 0.85), T0).unwrap();
    assert_eq!(first.event, EventKind::Opened);
    // Repeats within the update interval at the same severity stay silent.
    for i in 1..5 {
        assert!(t.observe(&anomaly("1.2.3.4", "sqli", 0.85), T0 + i * 1000).is_none());
    }
    assert!(t.tick(T0 + 5_000).is_empty());
    // Once the interval has passed, one update carries all of them.
    let events = t.tick(T0 + 10_000);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, EventKind::Updated);
    assert_eq!(events[0].incident.count, 5);
    assert_eq!(events[0].incident.id, first.incident.id);
    assert_eq!(events[0].incident.samples.len(), 3);
    assert!(t.tick(T0 + 11_000).is_empty());
    assert_eq!(t.open_count(), 1);
}

#[test]
fn severity_increase_updates_at_once() {
    let mut t = IncidentTracker::new(config());
    let e = t.observe(&anomaly("1.2.3.4", "sqli", 0.82), T0).unwrap();
    assert_eq!(e.incident.severity, Severity::Medium);
    let e = t.observe(&anomaly("1.2.3.4", "sqli", 0.99), T0 + 1).unwrap();
    assert_eq!(e.event, EventKind::Updated);
    assert_eq!(e.incident.severity, Severity::Critical);
    assert_eq!(e.incident.max_score, 0.99);
}

#[test]
fn different_clients_and_categories_are_different_incidents() {
    let mut t = IncidentTracker::new(config());
    let a = t.observe(&anomaly("1.2.3.4", "sqli", 0.9), T0).unwrap();
    let b = t.observe(&anomaly("5.6.7.8", "sqli", 0.9), T0).unwrap();
    let c = t.observe(&anomaly("1.2.3.4", "scan", 0.9), T0).unwrap();
    for e in [&a, &b, &c] {
        assert_eq!(e.event, EventKind::Opened);
    }
    assert_ne!(a.incident.id, b.incident.id);
    assert_ne!(a.incident.id, c.incident.id);
    assert_ne!(b.incident.id, c.incident.id);
    assert_eq!(t.open_count(), 3);
}

#[test]
fn closes_after_quiet_window() {
    let mut t = IncidentTracker::new(config());
    t.observe(&anomaly("1.2.3.4", "sqli", 0.9), T0);
    t.observe(&anomaly("1.2.3.4", "sqli", 0.9), T0 + 30_000);
    let events = t.tick(T0 + 60_000);
    // Activity 30 s ago keeps it open; the pending change is sent as an update.
    assert!(events.iter().all(|e| e.event == EventKind::Updated));
    let events = t.tick(T0 + 90_000);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, EventKind::Closed);
    assert_eq!(events[0].incident.count, 2);
    assert_eq!(t.open_count(), 0);
    // A new anomaly (a later line) afterwards opens a new incident with a new id.
    let mut later = anomaly("1.2.3.4", "sqli", 0.9);
    later.line = 40;
    let e = t.observe(&later, T0 + 100_000).unwrap();
    assert_eq!(e.event, EventKind::Opened);
    assert_ne!(e.incident.id, events[0].incident.id);
}

#[test]
fn cap_closes_least_recent() {
    let mut t = IncidentTracker::new(IncidentConfig { max_open: 2, ..config() });
    t.observe(&anomaly("a", "x", 0.9), T0);
    t.observe(&anomaly("b", "x", 0.9), T0 + 1);
    t.observe(&anomaly("c", "x", 0.9), T0 + 2);
    assert_eq!(t.open_count(), 2);
    let events = t.tick(T0 + 3);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, EventKind::Closed);
    assert_eq!(events[0].incident.client.as_deref(), Some("a"));
}

#[test]
fn snapshot_restores_and_ids_are_stable() {
    let mut t = IncidentTracker::new(config());
    let opened = t.observe(&anomaly("1.2.3.4", "sqli", 0.9), T0).unwrap();
    let mut restored = IncidentTracker::new(config());
    restored.restore(&t.snapshot());
    assert!(restored.observe(&anomaly("1.2.3.4", "sqli", 0.9), T0 + 1).is_none());
    assert_eq!(opened.incident.id, incident_id(&anomaly("1.2.3.4", "sqli", 0.9)));
}

#[test]
fn ids_come_from_the_opening_record_not_the_clock() {
    // The same record opening an incident at another time (a replay after a restart,
    // another process of a consumer group) gives the same id.
    let a = anomaly("1.2.3.4", "sqli", 0.9);
    let first = IncidentTracker::new(config()).observe(&a, T0).unwrap();
    let replay = IncidentTracker::new(config()).observe(&a, T0 + 3_600_000).unwrap();
    assert_eq!(first.incident.id, replay.incident.id);
    // Another line, source, logged time, client or category is another incident.
    let mut other = a.clone();
    other.line = 2;
    assert_ne!(incident_id(&other), incident_id(&a));
    other = a.clone();
    other.source = "other.log".into();
    assert_ne!(incident_id(&other), incident_id(&a));
    other = a.clone();
    other.ts = anomalog_ingest::Timestamp::from_unix_secs_f64(1.7e9);
    assert_ne!(incident_id(&other), incident_id(&a));
    other = a.clone();
    other.category = "xss".into();
    assert_ne!(incident_id(&other), incident_id(&a));
    assert_eq!(incident_id(&a).len(), 16);
}

#[test]
fn events_round_trip_through_json() {
    let mut t = IncidentTracker::new(config());
    let e = t.observe(&anomaly("1.2.3.4", "sqli", 0.9), T0).unwrap();
    let json = serde_json::to_string(&e).unwrap();
    assert!(json.contains(r#""event":"opened""#), "{json}");
    assert!(json.contains(r#""first_seen":"2024-05-01T12:00:00Z""#), "{json}");
    let back: IncidentEvent = serde_json::from_str(&json).unwrap();
    assert_eq!(back, e);
    assert!(e.incident.summary().starts_with("[HIGH] sqli from 1.2.3.4: 1 request"));
}

#[test]
fn journal_replays_to_the_same_state() {
    let mut t = IncidentTracker::new(IncidentConfig { max_open: 3, ..config() });
    let mut journal = Vec::new();
    t.full_journal(&mut journal);
    assert!(journal.is_empty());
    // Opened, updated, closed by the window and by the cap, between two saves each.
    t.observe(&anomaly("a", "sqli", 0.85), T0);
    t.observe(&anomaly("b", "sqli", 0.85), T0 + 1);
    t.take_journal(&mut journal);
    let saved = journal.len();
    t.observe(&anomaly("a", "sqli", 0.99), T0 + 2);
    t.tick(T0 + 20_000);
    t.take_journal(&mut journal);
    assert!(journal.len() > saved);
    t.observe(&anomaly("c", "xss", 0.9), T0 + 30_000);
    t.observe(&anomaly("d", "xss", 0.9), T0 + 30_001);
    t.observe(&anomaly("e", "xss", 0.9), T0 + 30_002);
    t.tick(T0 + 70_000);
    t.take_journal(&mut journal);
    let mut replayed = IncidentTracker::new(config());
    replayed.replay_journal(&journal);
    assert_eq!(replayed.snapshot(), t.snapshot());
    assert_eq!(replayed.open_count(), 3);
    // Nothing changed: nothing to write. A fresh start holds the same state.
    let mut more = Vec::new();
    t.take_journal(&mut more);
    assert!(more.is_empty());
    let mut whole = Vec::new();
    t.full_journal(&mut whole);
    let mut fresh = IncidentTracker::new(config());
    fresh.replay_journal(&whole);
    assert_eq!(fresh.snapshot(), t.snapshot());
    // A damaged line is skipped, not fatal.
    fresh.replay_journal(b"{not json\n");
    assert_eq!(fresh.open_count(), 3);
}

#[test]
fn cap_follows_activity_after_updates_and_restores() {
    let mut t = IncidentTracker::new(IncidentConfig { max_open: 2, ..config() });
    t.observe(&anomaly("a", "x", 0.9), T0);
    t.observe(&anomaly("b", "x", 0.9), T0 + 1);
    // `a` is active again: `b` is now the least recent.
    t.observe(&anomaly("a", "x", 0.9), T0 + 2);
    t.observe(&anomaly("c", "x", 0.9), T0 + 3);
    let closed = t.tick(T0 + 4);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].incident.client.as_deref(), Some("b"));
    // A restored tracker evicts by the same order.
    let mut restored = IncidentTracker::new(IncidentConfig { max_open: 2, ..config() });
    restored.restore(&t.snapshot());
    restored.observe(&anomaly("d", "x", 0.9), T0 + 5);
    let closed = restored.tick(T0 + 6);
    assert_eq!(closed[0].incident.client.as_deref(), Some("a"));
    // Closed by the window, then reopened: one incident, evicted last.
    let events = t.tick(T0 + 120_000);
    assert_eq!(events.len(), 2);
    t.observe(&anomaly("a", "x", 0.9), T0 + 120_001);
    assert_eq!(t.open_count(), 1);
}

#[test]
fn a_site_wide_category_is_one_incident_whatever_the_clients() {
    let mut t = IncidentTracker::new(config());
    let first = t.observe(&anomaly("1.2.3.4", "site_incident", 0.9), T0).unwrap();
    assert_eq!(first.event, EventKind::Opened);
    assert_eq!(first.incident.client, None);
    assert!(
        first.incident.summary().contains("from the whole site"),
        "{}",
        first.incident.summary()
    );
    // Every client served during a 5xx storm shows it: one incident, not one per client,
    // updated (as the severity rises with the count), never opened again.
    let mut events = Vec::new();
    for i in 1..50 {
        let client = format!("10.0.0.{i}");
        events.extend(t.observe(&anomaly(&client, "site_incident", 0.9), T0 + i));
    }
    events.extend(t.tick(T0 + 20_000));
    assert_eq!(t.open_count(), 1);
    assert!(!events.is_empty() && events.len() <= 4, "{} events", events.len());
    assert!(
        events.iter().all(|e| e.event == EventKind::Updated && e.incident.id == first.incident.id)
    );
    assert_eq!(events.last().unwrap().incident.count, 50);
    // Per-client categories stay per client.
    t.observe(&anomaly("1.2.3.4", "sqli", 0.9), T0 + 1).unwrap();
    t.observe(&anomaly("5.6.7.8", "sqli", 0.9), T0 + 2).unwrap();
    assert_eq!(t.open_count(), 3);
}
