//! Scale-out for `anomalog watch`: several processes share the work through a Kafka
//! consumer group, deliver alerts to a topic, and write incidents to one PostgreSQL
//! database.
//!
//! # Brief overview
//!
//! - [`spec`]: `kafka://BROKERS/TOPIC?group=G` as a source ([`KafkaSourceConfig`]) or
//!   an alert sink ([`KafkaSinkConfig`]); always built.
//! - `source::KafkaSource` (feature `rdkafka`): an `anomalog_watch` source reading a
//!   topic as a member of a consumer group. Offsets are committed only after the
//!   daemon has made a batch's alerts durable; a revoked partition's records are
//!   committed or left to the new owner, never half-processed.
//! - `sink::KafkaSink` (feature `rdkafka`): alerts as JSON records keyed by incident.
//! - [`key`]: incident and event keys that are the same in every process, and
//!   [`dedup`]: a sink wrapper that delivers each key once per [`dedup::AlertLedger`],
//!   which turns at-least-once input into alerts that are not repeated.
//! - [`metrics::KafkaMetrics`]: commits, rebalances and lag per partition, as
//!   Prometheus text for `/metrics`.
//! - `store::postgres::PgStore` (feature `postgres`): the incident store on PostgreSQL,
//!   an implementation of [`anomalog_server::IncidentStore`] (the trait, beside the
//!   SQLite store it generalizes), and `PgLedger`, the alert ledger in the same database.
//!
//! Without features the crate builds no client library; the CLI enables `rdkafka` and
//! `postgres` behind its own `kafka` feature.
//!
//! # Example
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use anomalog_kafka::dedup::{Deduplicate, MemoryLedger};
//! use anomalog_kafka::spec::KafkaSourceConfig;
//! use anomalog_watch::incident::IncidentEvent;
//! use anomalog_watch::sink::Sink;
//! use anomalog_watch::SinkError;
//!
//! let source = KafkaSourceConfig::parse("kafka://127.0.0.1:9092/access?group=anomalog")?;
//! assert_eq!((source.topic.as_str(), source.group.as_str()), ("access", "anomalog"));
//!
//! /// Counts what reaches the receiver.
//! struct Count(Arc<Mutex<usize>>);
//! impl Sink for Count {
//!     fn name(&self) -> &str { "count" }
//!     fn deliver(&mut self, _: &IncidentEvent) -> Result<(), SinkError> {
//!         *self.0.lock().unwrap() += 1;
//!         Ok(())
//!     }
//! }
//! // Two processes' sinks sharing one ledger deliver a repeated event once.
//! let ledger = Arc::new(MemoryLedger::new(10_000));
//! let received = Arc::new(Mutex::new(0));
//! let mut a = Deduplicate::new(Count(Arc::clone(&received)), Arc::clone(&ledger));
//! let mut b = Deduplicate::new(Count(Arc::clone(&received)), Arc::clone(&ledger));
//! let event: IncidentEvent = serde_json::from_str(r#"{"event":"opened",
//!     "at":"2024-05-01T12:00:00Z","incident":{"id":"x","client":"203.0.113.7",
//!     "category":"sqli","severity":"high","first_seen":"2024-05-01T12:00:00Z",
//!     "last_seen":"2024-05-01T12:00:00Z","count":1,"max_score":0.95,"samples":[{"ts":null,
//!     "request":"GET /?id=1'","status":500,"score":0.95,"source":"kafka:access/3",
//!     "line":101}],"explanation":[]}}"#)?;
//! a.deliver(&event)?;
//! b.deliver(&event)?;
//! assert_eq!(*received.lock().unwrap(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod dedup;
pub mod key;
pub mod metrics;
#[cfg(feature = "rdkafka")]
pub mod sink;
#[cfg(feature = "rdkafka")]
pub mod source;
pub mod spec;
pub mod store;
#[cfg(feature = "postgres")]
#[doc(hidden)]
pub mod testing;

// The client libraries, for tests and benchmarks of crates that reach them only through
// this one (the CLI's Kafka tests drive a mock cluster and a producer).
#[cfg(feature = "postgres")]
#[doc(hidden)]
pub use postgres;
#[cfg(feature = "rdkafka")]
#[doc(hidden)]
pub use rdkafka;

pub use spec::{KafkaSinkConfig, KafkaSourceConfig, OffsetReset};
