//! Tests that need the store's internals: failure modes (a full disk, a read-only file)
//! and the explanation JSON.

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

#[test]
fn explanations_are_written_as_serde_json_writes_them() {
    let item = |feature: &str, value, typical, contribution| ExplanationItem {
        feature: feature.into(),
        value,
        typical,
        contribution,
    };
    let lists = [
        vec![],
        vec![item("status_5xx", Some(1.0), Some(0.0), 1.0)],
        vec![
            item("client_error_ratio_60s", Some(0.1 + 0.2), None, 0.3333333333333333),
            item("a \"quoted\"\tname\\ é", Some(-0.0), Some(1e300), 5e-324),
            item("site_latency", Some(f64::NAN), Some(f64::INFINITY), f64::NEG_INFINITY),
            item("", Some(-123456.789e-20), Some(f64::MAX), f64::MIN_POSITIVE),
            item("\u{1}\n", Some(2.5e16), Some(1e21), 0.1),
        ],
    ];
    for list in lists {
        let mut out = b"x".to_vec();
        explanation_json(&mut out, &list);
        assert_eq!(out[1..], *serde_json::to_string(&list).unwrap().as_bytes(), "{list:?}");
    }
}
