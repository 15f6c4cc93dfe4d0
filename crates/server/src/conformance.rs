//! The same checks run against every [`IncidentStore`] backend: what the dashboard and
//! the daemon rely on. Public (and hidden) so that the PostgreSQL tests, and any future
//! backend, run them too.

use crate::backend::IncidentStore;
use crate::rows::{
    AnomalyRow, ExplanationItem, Feedback, IncidentQuery, IncidentRow, Sample, SeriesPoint,
    Severity, Status,
};
use crate::store::Batch;

fn incident(id: &str, client: &str, category: &str, last_seen: i64) -> IncidentRow {
    IncidentRow {
        id: id.into(),
        client: Some(client.into()),
        category: category.into(),
        severity: Severity::High,
        first_seen: last_seen - 60,
        last_seen,
        count: 3,
        max_score: 0.97,
        samples: vec![Sample {
            ts: Some("2024-05-01T12:00:00Z".into()),
            request: "GET /?id=1' OR '1'='1 HTTP/1.1".into(),
            status: Some(500),
            score: 0.97,
            source: "kafka:logs/3".into(),
            line: 42,
        }],
        explanation: vec![ExplanationItem {
            feature: "client_error_ratio_60s".into(),
            value: Some(0.9),
            typical: None,
            contribution: 0.5,
        }],
        status: Status::Open,
        feedback: None,
    }
}

fn anomaly(incident_id: &str, seen: i64, request: &str) -> AnomalyRow {
    AnomalyRow {
        id: 0,
        incident_id: Some(incident_id.into()),
        seen,
        ts: None,
        source: "kafka:logs/3".into(),
        line: 7,
        client: Some("203.0.113.7".into()),
        request: request.into(),
        status: Some(404),
        score: 0.9,
        explanation: vec![],
    }
}

/// Runs every check on an empty store; panics on the first difference.
pub fn check(store: &dyn IncidentStore) {
    store.ping().unwrap();
    let t = 1_714_564_800;
    let a = incident("inc-a", "203.0.113.7", "sqli", t);
    let mut b = incident("inc-b", "198.51.100.2", "scan", t + 10);
    b.severity = Severity::Low;
    let c = incident("inc-c", "203.0.113.7", "scan", t + 20);
    store
        .write(&Batch {
            incidents: &[a.clone(), b.clone(), c.clone()],
            anomalies: &[anomaly("inc-a", t, "GET /1"), anomaly("inc-a", t + 1, "GET /2")],
            series: &[SeriesPoint {
                minute: t + 5,
                requests: 10,
                errors_4xx: 1,
                errors_5xx: 0,
                anomalies: 2,
                mean_score: 0.2,
                max_score: 0.9,
            }],
        })
        .unwrap();
    assert_eq!(store.get_incident("inc-a").unwrap().as_ref(), Some(&a));
    assert_eq!(store.get_incident("missing").unwrap(), None);

    // Newest first, filters, paging.
    let page = store.list_incidents(&IncidentQuery::default()).unwrap();
    let ids: Vec<_> = page.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["inc-c", "inc-b", "inc-a"]);
    assert_eq!(page.total, 3);
    let q = IncidentQuery { severity: Some(Severity::Medium), ..Default::default() };
    assert_eq!(store.list_incidents(&q).unwrap().total, 2);
    let q = IncidentQuery { client: Some("203.0.113.7".into()), limit: 1, ..Default::default() };
    let page = store.list_incidents(&q).unwrap();
    assert_eq!((page.total, page.items.len(), page.items[0].id.as_str()), (2, 1, "inc-c"));
    let q =
        IncidentQuery { since: Some(t + 15), category: Some("scan".into()), ..Default::default() };
    assert_eq!(store.list_incidents(&q).unwrap().total, 1);
    let q = IncidentQuery { status: Some(Status::Closed), ..Default::default() };
    assert_eq!(store.list_incidents(&q).unwrap().total, 0);
    let q = IncidentQuery { offset: 2, ..Default::default() };
    assert_eq!(store.list_incidents(&q).unwrap().items[0].id, "inc-a");

    // Feedback survives the daemon's updates.
    assert!(store.set_feedback("inc-a", Feedback::Confirmed).unwrap());
    assert!(!store.set_feedback("missing", Feedback::FalsePositive).unwrap());
    let mut updated = a.clone();
    updated.count = 9;
    updated.status = Status::Closed;
    store.upsert_incident(&updated).unwrap();
    let got = store.get_incident("inc-a").unwrap().unwrap();
    assert_eq!(
        (got.count, got.status, got.feedback),
        (9, Status::Closed, Some(Feedback::Confirmed))
    );

    // Anomalies: the latest, oldest first.
    store.insert_anomalies(&[anomaly("inc-a", t + 2, "GET /3")]).unwrap();
    let rows = store.incident_anomalies("inc-a", 2).unwrap();
    let requests: Vec<_> = rows.iter().map(|r| r.request.as_str()).collect();
    assert_eq!(requests, ["GET /2", "GET /3"]);
    assert!(rows[0].id < rows[1].id);
    assert_eq!((rows[0].status, rows[0].line), (Some(404), 7));

    // Series points of one minute merge.
    store
        .add_series(&SeriesPoint {
            minute: t + 50,
            requests: 30,
            errors_4xx: 2,
            errors_5xx: 1,
            anomalies: 0,
            mean_score: 0.6,
            max_score: 0.5,
        })
        .unwrap();
    let points = store.series(t - 60, t + 60).unwrap();
    assert_eq!(points.len(), 1);
    let p = points[0];
    assert_eq!((p.minute, p.requests, p.errors_4xx, p.errors_5xx), (t, 40, 3, 1));
    assert!((p.mean_score - 0.5).abs() < 1e-9 && (p.max_score - 0.9).abs() < 1e-9);
    assert!(store.series(t + 60, t + 120).unwrap().is_empty());

    // Retention: by age, then by count.
    let report = store.enforce_retention_at(t + 15 + 100, 100, 10).unwrap();
    assert_eq!((report.incidents, report.anomalies, report.series), (2, 3, 1));
    assert_eq!(store.list_incidents(&IncidentQuery::default()).unwrap().total, 1);
    store.upsert_incident(&incident("inc-d", "192.0.2.1", "scan", t + 30)).unwrap();
    let report = store.enforce_retention_at(t, 1_000_000, 1).unwrap();
    assert_eq!(report.incidents, 1);
    let left = store.list_incidents(&IncidentQuery::default()).unwrap();
    assert_eq!(left.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["inc-d"]);
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_store_passes_the_conformance_checks() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(dir.path().join("anomalog.db")).unwrap();
        super::check(&store);
    }
}
