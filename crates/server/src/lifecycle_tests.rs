//! The lifecycle tables: migration from version 1, model history, feedback and the
//! allow-list, drift points.

use super::*;
use crate::rows::{Sample, Severity, Status};

fn incident(id: &str, category: &str, requests: &[&str]) -> IncidentRow {
    IncidentRow {
        id: id.into(),
        client: Some("192.0.2.7".into()),
        category: category.into(),
        severity: Severity::Medium,
        first_seen: 1_700_000_000,
        last_seen: 1_700_000_060,
        count: requests.len() as u64,
        max_score: 0.995,
        samples: requests
            .iter()
            .map(|r| Sample {
                ts: None,
                request: (*r).into(),
                status: Some(200),
                score: 0.995,
                source: "test".into(),
                line: 1,
            })
            .collect(),
        explanation: Vec::new(),
        status: Status::Open,
        feedback: None,
    }
}

fn model(status: ModelStatus) -> NewModel {
    NewModel {
        path: String::new(),
        sha256: "ab".repeat(32),
        detector: "ensemble".into(),
        training: serde_json::json!({ "records": 1000 }),
        metrics: serde_json::json!({ "alert_rate": 0.01 }),
        status,
        reason: "test".into(),
    }
}

#[test]
fn a_version_1_file_is_migrated_and_keeps_its_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("lifecycle_tests_v1.sql")).unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.get_incident("old").unwrap().unwrap().category, "scan");
    let version: String = store
        .writer_for_test()
        .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, "2");
    assert!(store.models(10).unwrap().is_empty());
    store.insert_model(&model(ModelStatus::Active)).unwrap();
    drop(store);
    // Opening again is a no-op.
    assert_eq!(Store::open(&path).unwrap().models(10).unwrap().len(), 1);
}

#[test]
fn one_model_is_active_and_rollback_switches_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db")).unwrap();
    let first = store.insert_model(&model(ModelStatus::Active)).unwrap();
    let rejected = store.insert_model(&model(ModelStatus::Rejected)).unwrap();
    let second = store.insert_model(&model(ModelStatus::Active)).unwrap();
    assert_eq!(store.active_model().unwrap().unwrap().id, second);
    assert_eq!(store.model(first).unwrap().unwrap().status, ModelStatus::Retired);
    assert!(!store.activate_model(rejected, "no").unwrap());
    assert!(!store.activate_model(999, "no").unwrap());
    assert!(store.activate_model(first, "rollback").unwrap());
    let models = store.models(10).unwrap();
    assert_eq!(models.iter().map(|m| m.id).collect::<Vec<_>>(), vec![second, rejected, first]);
    assert_eq!(models[0].status, ModelStatus::Retired);
    assert_eq!(models[2].status, ModelStatus::Active);
    assert_eq!(models[2].reason, "rollback");
    store.set_model_path(first, "/m/1.model").unwrap();
    assert_eq!(store.model(first).unwrap().unwrap().path, "/m/1.model");
}

#[test]
fn a_false_positive_feeds_the_allow_list_and_an_unknown_incident_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("f.db")).unwrap();
    store
        .upsert_incident(&incident(
            "inc-1",
            "client_behaviour",
            &[
                "GET /stories/spring-looks/12?utm_source=x HTTP/1.1",
                "GET /stories/spring-looks/7 HTTP/2.0",
            ],
        ))
        .unwrap();
    assert_eq!(
        store.record_feedback("nope", Feedback::FalsePositive).unwrap(),
        FeedbackOutcome::UnknownIncident
    );
    let FeedbackOutcome::Recorded { patterns } =
        store.record_feedback("inc-1", Feedback::FalsePositive).unwrap()
    else {
        panic!("not recorded");
    };
    // Both samples have one template.
    assert_eq!(patterns.len(), 1);
    assert_eq!(patterns[0].path, "/stories/spring-looks/*");
    let list = store.allow_patterns().unwrap();
    assert_eq!(list, patterns);
    let p = &list[0];
    assert!(p.matches("client_behaviour", "GET /stories/spring-looks/40 HTTP/1.1"));
    assert!(!p.matches("sqli", "GET /stories/spring-looks/40?id=1' HTTP/1.1"));
    assert!(!p.matches("client_behaviour", "POST /stories/spring-looks/40 HTTP/1.1"));
    assert!(!p.matches("client_behaviour", "GET /admin/1 HTTP/1.1"));
    assert_eq!(
        store.get_incident("inc-1").unwrap().unwrap().feedback,
        Some(Feedback::FalsePositive)
    );
    // Marking again adds nothing new; a confirmed incident is listed as such.
    assert!(matches!(
        store.record_feedback("inc-1", Feedback::FalsePositive).unwrap(),
        FeedbackOutcome::Recorded { patterns } if patterns.is_empty()
    ));
    store.upsert_incident(&incident("inc-2", "sqli", &["GET /p?id=1%27 HTTP/1.1"])).unwrap();
    store.record_feedback("inc-2", Feedback::Confirmed).unwrap();
    assert_eq!(store.incidents_with_feedback(Feedback::Confirmed, 10).unwrap(), vec!["inc-2"]);
    let events = store.events(10).unwrap();
    assert_eq!(events.len(), 3);
    assert!(events[0].message.contains("inc-2 (sqli) confirmed"), "{:?}", events[0]);
}

#[test]
fn path_templates_hide_values_only() {
    assert_eq!(path_template("/product/123?x=1"), "/product/*");
    assert_eq!(path_template("/media/stories/4-hero_720.webp"), "/media/stories/*");
    assert_eq!(path_template("/about"), "/about");
    assert_eq!(path_template(""), "");
}

#[test]
fn drift_points_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("d.db")).unwrap();
    for i in 0..3 {
        store
            .add_drift_point(&DriftPoint {
                at: 1_700_000_000 + i,
                model_id: Some(1),
                records: 1000,
                drifted: i == 2,
                score_psi: 0.1 * i as f64,
                drifted_features: i as u64,
                top: vec![("path_depth".into(), 0.3)],
            })
            .unwrap();
    }
    let points = store.drift_points(2).unwrap();
    assert_eq!(points.len(), 2);
    assert!(points[1].drifted && points[1].at > points[0].at);
    assert_eq!(points[1].top[0].0, "path_depth");
}
