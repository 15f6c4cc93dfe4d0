//! Store round trips, paging, filters, feedback, retention, permissions and schema
//! versions, on real files in a temporary directory.

mod common;

use anomalog_server::{
    AnomalyRow, Batch, Feedback, IncidentQuery, Severity, Status, Store, StoreError, rfc3339,
};
use common::{anomaly, incident, point};

const T0: i64 = 1_714_564_800;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("anomalog.db")).unwrap();
    (dir, store)
}

#[test]
fn incident_round_trip_and_update_keeps_feedback() {
    let (_dir, store) = store();
    let mut inc = incident("a", "203.0.113.7", "sqli", Severity::High, T0);
    inc.samples[0].request = "GET /?q=<script>alert(1)</script> HTTP/1.1".into();
    store.upsert_incident(&inc).unwrap();
    assert_eq!(store.get_incident("a").unwrap().as_ref(), Some(&inc));
    assert_eq!(store.get_incident("missing").unwrap(), None);

    assert!(store.set_feedback("a", Feedback::FalsePositive).unwrap());
    inc.count = 9;
    inc.status = Status::Closed;
    inc.severity = Severity::Critical;
    store.upsert_incident(&inc).unwrap();
    let back = store.get_incident("a").unwrap().unwrap();
    assert_eq!(back.count, 9);
    assert_eq!(back.status, Status::Closed);
    assert_eq!(back.severity, Severity::Critical);
    assert_eq!(back.feedback, Some(Feedback::FalsePositive), "the daemon's update keeps feedback");
}

#[test]
fn feedback_on_unknown_incident_is_not_found() {
    let (_dir, store) = store();
    assert!(!store.set_feedback("nope", Feedback::Confirmed).unwrap());
    store.upsert_incident(&incident("x", "192.0.2.1", "scan", Severity::Low, T0)).unwrap();
    assert!(store.set_feedback("x", Feedback::Confirmed).unwrap());
    assert_eq!(store.get_incident("x").unwrap().unwrap().feedback, Some(Feedback::Confirmed));
}

#[test]
fn paging_is_newest_first_and_total_counts_all() {
    let (_dir, store) = store();
    let rows: Vec<_> = (0..7)
        .map(|i| incident(&format!("i{i}"), "192.0.2.1", "scan", Severity::Low, T0 + i))
        .collect();
    store.write(&Batch { incidents: &rows, ..Batch::default() }).unwrap();
    let q = |offset| IncidentQuery { limit: 3, offset, ..IncidentQuery::default() };
    let ids = |offset| -> Vec<String> {
        store.list_incidents(&q(offset)).unwrap().items.into_iter().map(|i| i.id).collect()
    };
    assert_eq!(ids(0), ["i6", "i5", "i4"]);
    assert_eq!(ids(3), ["i3", "i2", "i1"]);
    assert_eq!(ids(6), ["i0"]);
    assert!(ids(9).is_empty());
    let page = store.list_incidents(&q(3)).unwrap();
    assert_eq!((page.total, page.limit, page.offset), (7, 3, 3));
    let big = IncidentQuery { limit: 100_000, ..IncidentQuery::default() };
    assert_eq!(store.list_incidents(&big).unwrap().limit, IncidentQuery::MAX_LIMIT);
    assert_eq!(store.list_incidents(&IncidentQuery::default()).unwrap().limit, 50);
}

#[test]
fn filters_combine() {
    let (_dir, store) = store();
    let mut closed = incident("c", "192.0.2.2", "scan", Severity::Critical, T0 + 50);
    closed.status = Status::Closed;
    let rows = [
        incident("a", "192.0.2.1", "sqli", Severity::Low, T0),
        incident("b", "192.0.2.1", "scan", Severity::High, T0 + 100),
        closed,
        incident("d", "192.0.2.3", "sqli", Severity::Medium, T0 + 200),
    ];
    store.write(&Batch { incidents: &rows, ..Batch::default() }).unwrap();
    let ids = |q: IncidentQuery| -> Vec<String> {
        store.list_incidents(&q).unwrap().items.into_iter().map(|i| i.id).collect()
    };
    let all = IncidentQuery::default;
    assert_eq!(ids(IncidentQuery { severity: Some(Severity::High), ..all() }), ["b", "c"]);
    assert_eq!(ids(IncidentQuery { category: Some("sqli".into()), ..all() }), ["d", "a"]);
    assert_eq!(ids(IncidentQuery { client: Some("192.0.2.1".into()), ..all() }), ["b", "a"]);
    assert_eq!(ids(IncidentQuery { status: Some(Status::Closed), ..all() }), ["c"]);
    assert_eq!(ids(IncidentQuery { since: Some(T0 + 50), ..all() }), ["d", "b", "c"]);
    let q = IncidentQuery {
        category: Some("scan".into()),
        status: Some(Status::Open),
        since: Some(T0),
        ..all()
    };
    assert_eq!(ids(q), ["b"]);
    // Filter values are bound, never spliced into SQL.
    assert!(ids(IncidentQuery { client: Some("' OR 1=1 --".into()), ..all() }).is_empty());
}

#[test]
fn anomalies_round_trip_in_one_batch() {
    let (_dir, store) = store();
    let rows = [
        anomaly(Some("a"), T0, "GET /1"),
        anomaly(Some("a"), T0 + 1, "GET /2"),
        anomaly(Some("b"), T0 + 2, "GET /3"),
        anomaly(None, T0 + 3, "GET /4"),
    ];
    store.insert_anomalies(&rows).unwrap();
    let got = store.incident_anomalies("a", 10).unwrap();
    assert_eq!(got.iter().map(|a| a.request.as_str()).collect::<Vec<_>>(), ["GET /1", "GET /2"]);
    assert!(got[0].id > 0);
    assert_eq!(got[1].explanation, rows[1].explanation);
    assert_eq!(got[1].status, Some(500));
    assert_eq!(store.incident_anomalies("a", 1).unwrap()[0].request, "GET /2");
}

#[test]
fn many_anomalies_are_stored_in_order_with_every_field() {
    let (_dir, store) = store();
    // Several statements' worth of rows and a remainder; fields vary from row to row.
    let rows: Vec<_> = (0..237)
        .map(|i| {
            let mut a = anomaly(Some("a"), T0 + i, &format!("GET /{i}?q=\"{i}\" HTTP/1.1"));
            a.line = i as u64;
            a.ts = (i % 3 != 0).then(|| format!("2024-05-01T12:00:{:02}+00:00", i % 60));
            a.client = (i % 5 != 0).then(|| format!("192.0.2.{}", i % 250));
            a.status = (i % 7 != 0).then_some(200 + i as u16);
            a.score = 0.5 + i as f64 / 1000.0;
            a.explanation[0].value = (i % 2 == 0).then_some(i as f64 * 0.25);
            a.explanation.truncate((i % 2) as usize + 1);
            a
        })
        .collect();
    store.insert_anomalies(&rows).unwrap();
    let got = store.incident_anomalies("a", 500).unwrap();
    assert_eq!(got.len(), rows.len());
    assert!(got.windows(2).all(|w| w[0].id < w[1].id));
    for (g, want) in got.iter().zip(&rows) {
        assert_eq!(AnomalyRow { id: 0, ..g.clone() }, *want);
    }
}

#[test]
fn series_points_merge_per_minute() {
    let (_dir, store) = store();
    store.add_series(&point(T0, 100, 0.2, 0.5)).unwrap();
    store.add_series(&point(T0 + 30, 300, 0.4, 0.9)).unwrap(); // same minute
    store.add_series(&point(T0 + 60, 10, 0.1, 0.1)).unwrap();
    let pts = store.series(T0, T0 + 120).unwrap();
    assert_eq!(pts.len(), 2);
    assert_eq!(pts[0].minute, T0);
    assert_eq!(pts[0].requests, 400);
    assert_eq!(pts[0].errors_4xx, 40);
    assert_eq!(pts[0].anomalies, 2);
    assert!((pts[0].mean_score - 0.35).abs() < 1e-9, "{}", pts[0].mean_score);
    assert_eq!(pts[0].max_score, 0.9);
    assert_eq!(pts[1].minute, T0 + 60);
    assert_eq!(store.series(T0 + 60, T0 + 61).unwrap().len(), 1);
    assert!(store.series(T0 + 120, T0 + 600).unwrap().is_empty());
    // NaN scores do not break the NOT NULL columns.
    store.add_series(&point(T0 + 120, 1, f64::NAN, f64::NAN)).unwrap();
}

#[test]
fn retention_by_age_and_by_rows() {
    let (_dir, store) = store();
    let incidents: Vec<_> = (0..5)
        .map(|i| incident(&format!("i{i}"), "192.0.2.1", "scan", Severity::Low, T0 + i * 1000))
        .collect();
    let anomalies: Vec<_> =
        (0..5).map(|i| anomaly(Some(&format!("i{i}")), T0 + i * 1000, "GET /")).collect();
    let series: Vec<_> = (0..5).map(|i| point(T0 + i * 1000, 1, 0.1, 0.1)).collect();
    store.write(&Batch { incidents: &incidents, anomalies: &anomalies, series: &series }).unwrap();

    // Older than 2500 s before T0+4000: i0 and i1 (and their anomalies and minutes).
    let r = store.enforce_retention_at(T0 + 4000, 2500, 1000).unwrap();
    assert_eq!((r.incidents, r.anomalies, r.series), (2, 2, 2));
    // Keep only the newest two incidents: i2 goes, with its anomaly.
    let r = store.enforce_retention_at(T0 + 4000, 1_000_000, 2).unwrap();
    assert_eq!((r.incidents, r.anomalies), (1, 1));
    let left = store.list_incidents(&IncidentQuery::default()).unwrap();
    assert_eq!(left.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["i4", "i3"]);
    assert!(store.incident_anomalies("i2", 10).unwrap().is_empty());
    assert_eq!(store.incident_anomalies("i3", 10).unwrap().len(), 1);
    assert_eq!(store.series(0, i64::MAX).unwrap().len(), 3);
    assert_eq!(store.enforce_retention_at(T0 + 4000, 1_000_000, 2).unwrap().incidents, 0);
}

#[cfg(unix)]
#[test]
fn files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, store) = store();
    store.upsert_incident(&incident("a", "192.0.2.1", "scan", Severity::Low, T0)).unwrap();
    let mode = |name: &str| {
        std::fs::metadata(dir.path().join(name)).map(|m| m.permissions().mode() & 0o777)
    };
    assert_eq!(mode("anomalog.db").unwrap(), 0o600);
    assert_eq!(mode("anomalog.db-wal").unwrap(), 0o600, "WAL mode keeps a -wal file");
    assert_eq!(mode("anomalog.db-shm").unwrap(), 0o600);
}

#[test]
fn reopening_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("anomalog.db");
    let inc = incident("a", "192.0.2.1", "scan", Severity::Medium, T0);
    Store::open(&path).unwrap().upsert_incident(&inc).unwrap();
    assert_eq!(Store::open(&path).unwrap().get_incident("a").unwrap(), Some(inc));
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", []).unwrap();
    drop(conn);
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::SchemaTooNew { found: 99, supported: anomalog_server::SCHEMA_VERSION, .. }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("future.db") && text.contains("99"), "{text}");
}

#[test]
fn not_a_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.db");
    std::fs::write(&path, b"this is not sqlite at all, just some text that is long enough")
        .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("junk.db"), "{err}");
}

#[test]
fn missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/anomalog.db");
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("no/such/dir"), "{err}");
}

#[test]
fn rfc3339_is_stored_beside_unix_seconds() {
    let (dir, store) = store();
    store.upsert_incident(&incident("a", "192.0.2.1", "scan", Severity::Low, T0)).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("anomalog.db")).unwrap();
    let text: String =
        conn.query_row("SELECT last_seen FROM incidents WHERE id = 'a'", [], |r| r.get(0)).unwrap();
    assert_eq!(text, rfc3339(T0));
    assert_eq!(text, "2024-05-01T12:00:00Z");
}
