//! The PostgreSQL store against a server started for the test in a temporary
//! directory (Debian's `postgresql` package: `initdb` and `pg_ctl` on a loopback
//! port). Skipped with a message when PostgreSQL is not installed, unless `CI` is set.

#![cfg(feature = "postgres")]

use std::path::Path;
use std::sync::Arc;

use anomalog_kafka::dedup::{AlertLedger, Deduplicate};
use anomalog_kafka::store::postgres::PgStore;
use anomalog_kafka::store::{IncidentStore, IncidentStoreError};
use anomalog_kafka::testing::TempPostgres as Server;
use anomalog_server::conformance;
use anomalog_server::{AnomalyRow, IncidentQuery, IncidentRow, Severity, Status};

fn incident(id: &str, last_seen: i64) -> IncidentRow {
    IncidentRow {
        id: id.into(),
        client: Some("203.0.113.7".into()),
        category: "sqli".into(),
        severity: Severity::High,
        first_seen: last_seen,
        last_seen,
        count: 1,
        max_score: 0.9,
        samples: vec![],
        explanation: vec![],
        status: Status::Open,
        feedback: None,
    }
}

fn conformance_checks(server: &Server) {
    let store = PgStore::connect(&server.database("conformance")).unwrap();
    conformance::check(&store);
}

fn several_processes_share_one_database(server: &Server) {
    let url = server.database("shared");
    // Processes starting together all create or find the schema.
    let stores: Vec<Arc<PgStore>> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..4).map(|_| s.spawn(|| Arc::new(PgStore::connect(&url).unwrap()))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    std::thread::scope(|s| {
        for (n, store) in stores.iter().enumerate() {
            s.spawn(move || {
                for i in 0..25 {
                    store
                        .upsert_incident(&incident(&format!("p{n}-{i}"), 1_700_000_000 + i))
                        .unwrap();
                    // The same incident from every process (a partition read twice) is one row.
                    store.upsert_incident(&incident("shared", 1_700_000_000)).unwrap();
                }
            });
        }
    });
    let page =
        stores[0].list_incidents(&IncidentQuery { limit: 500, ..Default::default() }).unwrap();
    assert_eq!(page.total, 4 * 25 + 1);
}

fn newer_schema_is_refused(server: &Server) {
    let url = server.database("newer");
    drop(PgStore::connect(&url).unwrap());
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client.batch_execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'").unwrap();
    let err = PgStore::connect(&url).unwrap_err();
    assert!(matches!(err, IncidentStoreError::SchemaTooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{}/newer", server.port)), "{err}");
}

fn nul_characters_are_stored(server: &Server) {
    let store = PgStore::connect(&server.database("nul")).unwrap();
    store
        .insert_anomalies(&[AnomalyRow {
            id: 0,
            incident_id: Some("i".into()),
            seen: 1,
            ts: None,
            source: "kafka:access/0".into(),
            line: 1,
            client: None,
            request: "GET /\0x".into(),
            status: None,
            score: 0.5,
            explanation: vec![],
        }])
        .unwrap();
    assert_eq!(store.incident_anomalies("i", 1).unwrap()[0].request, "GET /\u{fffd}x");
}

fn ledger_is_shared(server: &Server) {
    let url = server.database("ledger");
    let a = PgStore::ledger(&url).unwrap();
    let b = PgStore::ledger(&url).unwrap();
    assert!(!a.contains("k-opened").unwrap());
    a.record("k-opened").unwrap();
    a.record("k-opened").unwrap();
    assert!(b.contains("k-opened").unwrap());
    assert_eq!(b.prune(i64::MAX).unwrap(), 1);
    assert!(!a.contains("k-opened").unwrap());
    // As a sink's ledger.
    struct Nothing;
    impl anomalog_watch::sink::Sink for Nothing {
        fn name(&self) -> &str {
            "nothing"
        }
        fn deliver(
            &mut self,
            _: &anomalog_watch::incident::IncidentEvent,
        ) -> Result<(), anomalog_watch::SinkError> {
            Ok(())
        }
    }
    let _sink = Deduplicate::new(Nothing, b);
}

fn a_restarted_server_is_reconnected_to(server: &Server) {
    let url = server.database("restart");
    let store = PgStore::connect(&url).unwrap();
    let ledger = PgStore::ledger(&url).unwrap();
    store.upsert_incident(&incident("before", 1_700_000_000)).unwrap();
    ledger.record("before-opened").unwrap();
    server.restart();
    // The operation that finds the connection closed may fail (the outbox retries it);
    // the next one reconnects.
    let retry = |f: &dyn Fn() -> bool| (0..3).any(|_| f());
    assert!(retry(&|| store.upsert_incident(&incident("after", 1_700_000_001)).is_ok()));
    assert!(retry(&|| store.get_incident("before").is_ok_and(|i| i.is_some())));
    assert!(retry(&|| ledger.contains("before-opened").is_ok_and(|held| held)));
}

fn unreachable_server_is_an_error_naming_it(_server: &Server) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err =
        PgStore::connect(&format!("postgres://anomalog:secret@127.0.0.1:{port}/x")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}/x")), "{text}");
    assert!(!text.contains("secret"), "{text}");
}

#[test]
fn postgres_store() {
    let Some(server) = Server::start() else { return };
    assert!(Path::new(&server.data()).exists());
    conformance_checks(&server);
    several_processes_share_one_database(&server);
    newer_schema_is_refused(&server);
    nul_characters_are_stored(&server);
    ledger_is_shared(&server);
    a_restarted_server_is_reconnected_to(&server);
    unreachable_server_is_an_error_naming_it(&server);
}
