//! Failure modes that need the store's internals: a full disk and a read-only file.

use super::*;
use crate::rows::AnomalyRow;

fn anomaly(request: String) -> AnomalyRow {
    AnomalyRow {
        id: 0,
        incident_id: None,
        seen: 1_700_000_000,
        ts: None,
        source: "test".into(),
        line: 1,
        client: Some("192.0.2.1".into()),
        request,
        status: Some(200),
        score: 0.9,
        explanation: Vec::new(),
    }
}

#[test]
fn full_disk_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.db");
    let store = Store::open(&path).unwrap();
    {
        let conn = store.writer_for_test();
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        // max_page_count simulates a full disk: SQLite reports SQLITE_FULL past it.
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(())).unwrap();
    }
    let big: Vec<AnomalyRow> =
        (0..200).map(|i| anomaly(format!("GET /{i}/{}", "x".repeat(4000)))).collect();
    let err = store.insert_anomalies(&big).unwrap_err();
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
    assert!(err.to_string().contains("full.db"), "{err}");
    assert!(err.to_string().contains("disk full"), "{err}");
    // Nothing of the failed batch was kept, and the store still works for reads.
    assert!(store.incident_anomalies("none", 10).unwrap().is_empty());
    store.ping().unwrap();
}

#[test]
fn read_only_database_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let store = Store::open(&path).unwrap();
    // query_only makes SQLite refuse writes with SQLITE_READONLY, as a read-only file
    // does (file modes cannot be used here: tests may run as root).
    store.writer_for_test().pragma_update(None, "query_only", true).unwrap();
    let err = store.insert_anomalies(&[anomaly("GET /".into())]).unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
    assert!(err.to_string().contains("ro.db"), "{err}");
}
