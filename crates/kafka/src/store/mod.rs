//! The PostgreSQL incident store (feature `postgres`), an implementation of
//! [`anomalog_server::IncidentStore`] for deployments where several processes share
//! one database. The trait, its error type and the conformance checks every backend
//! passes live in `anomalog-server`, beside the SQLite store.

#[cfg(feature = "postgres")]
pub mod postgres;

pub use anomalog_server::{IncidentStore, IncidentStoreError};
