//! The storage and serving half of `anomalog watch`.
//!
//! - [`Store`]: an embedded SQLite file (default `anomalog.db`, mode 0600, WAL) of
//!   [`IncidentRow`]s, [`AnomalyRow`]s and per-minute [`SeriesPoint`]s, with paging and
//!   filters ([`IncidentQuery`] -> [`Page`]), operator [`Feedback`] and retention;
//!   and the model lifecycle: the history of models ([`ModelRow`]), the log of
//!   retraining and promotion ([`LifecycleEvent`]), the allow-list false positives feed
//!   ([`AllowPattern`]) and live drift ([`DriftPoint`]).
//! - [`IncidentStore`]: the store's incident operations as a trait, so that the server
//!   serves any backend (the SQLite [`Store`] here, PostgreSQL in `anomalog-kafka`).
//! - [`Server`]: a small threaded HTTP server over [`ServerState`] serving `/metrics`,
//!   `/healthz`, the JSON API under `/api/` (incidents, series, and the lifecycle:
//!   models, lifecycle steps, drift, allow-list) and the dashboard at `/`.
//!
//! ```
//! use anomalog_server::{IncidentQuery, IncidentRow, Severity, Status, Store};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path().join("anomalog.db"))?;
//! store.upsert_incident(&IncidentRow {
//!     id: "inc-1".into(),
//!     client: Some("203.0.113.7".into()),
//!     category: "sqli".into(),
//!     severity: Severity::High,
//!     first_seen: 1_714_564_800,
//!     last_seen: 1_714_564_860,
//!     count: 12,
//!     max_score: 0.97,
//!     samples: vec![],
//!     explanation: vec![],
//!     status: Status::Open,
//!     feedback: None,
//! })?;
//! let page = store.list_incidents(&IncidentQuery { category: Some("sqli".into()), ..Default::default() })?;
//! assert_eq!(page.total, 1);
//! assert_eq!(page.items[0].client.as_deref(), Some("203.0.113.7"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod api;
mod auth;
mod backend;
#[doc(hidden)]
pub mod conformance;
mod error;
mod http;
mod lifecycle;
mod lifecycle_api;
mod query;
mod rows;
mod schema;
mod store;
mod time;

pub use backend::{IncidentStore, IncidentStoreError};
pub use error::{ServerError, StoreError};
pub use http::{Server, ServerHandle, ServerState};
pub use lifecycle::{
    AllowPattern, DriftPoint, FeedbackOutcome, LifecycleEvent, ModelRow, ModelStatus, NewModel,
    path_template,
};
pub use rows::{
    AnomalyRow, ExplanationItem, Feedback, IncidentQuery, IncidentRow, Page, RetentionReport,
    Sample, SeriesPoint, Severity, Status,
};
pub use schema::SCHEMA_VERSION;
pub use store::{Batch, MAX_SERIES_POINTS, Store};
pub use time::{parse_rfc3339, rfc3339};
