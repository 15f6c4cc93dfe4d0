//! The incident store as a trait, so that the server (and the daemon) work on any
//! backend, and several processes can share one database.
//!
//! [`IncidentStore`] has the operations of [`Store`] (the embedded SQLite file) with
//! the same signatures; `Store` implements it here, and the PostgreSQL store of
//! `anomalog-kafka` implements it on a server with the same tables, columns and
//! semantics, for deployments where several `anomalog watch` processes write incidents
//! that the dashboard of any of them reads.

use crate::error::StoreError;
use crate::rows::{
    AnomalyRow, Feedback, IncidentQuery, IncidentRow, Page, RetentionReport, SeriesPoint,
};
use crate::store::{Batch, Store};

/// What went wrong in a store, whichever the backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IncidentStoreError {
    /// An error of the SQLite store.
    #[error(transparent)]
    Sqlite(#[from] StoreError),
    /// A database server (PostgreSQL) refused or failed an operation.
    #[error("{target}: database error: {message}")]
    Database {
        /// The server and database (`postgres://HOST:PORT/DB`, never the password).
        target: String,
        /// What the server or the connection reported.
        message: String,
    },
    /// The database was written by a newer anomalog with a schema this one cannot read.
    #[error(
        "{target}: schema version {found} is newer than the supported version {supported}; \
         upgrade anomalog or use another database"
    )]
    SchemaTooNew {
        /// The server and database.
        target: String,
        /// The version stored in the database.
        found: i64,
        /// The newest version this build reads.
        supported: i64,
    },
    /// A stored value could not be decoded (for example invalid JSON in a column).
    #[error("{target}: invalid stored value in {column}: {message}")]
    Decode {
        /// The server and database.
        target: String,
        /// Table and column (`incidents.samples`).
        column: &'static str,
        /// What was wrong.
        message: String,
    },
}

/// The operations of the incident store; see the module documentation. Every method
/// takes `&self`; share a store as `Arc<dyn IncidentStore>`.
pub trait IncidentStore: Send + Sync {
    /// Where the data lives, for messages: the database file, or the server and
    /// database (`postgres://HOST:PORT/DB`, never a password).
    fn describe(&self) -> String;

    /// Checks that the database answers a trivial query.
    fn ping(&self) -> Result<(), IncidentStoreError>;

    /// Applies a batch of writes in one transaction: all of them or none.
    fn write(&self, batch: &Batch<'_>) -> Result<(), IncidentStoreError>;

    /// Inserts an incident or updates the stored one with the same id, keeping the
    /// operator's feedback.
    fn upsert_incident(&self, incident: &IncidentRow) -> Result<(), IncidentStoreError> {
        self.write(&Batch { incidents: std::slice::from_ref(incident), ..Batch::default() })
    }

    /// Appends anomalies in one transaction.
    fn insert_anomalies(&self, anomalies: &[AnomalyRow]) -> Result<(), IncidentStoreError> {
        self.write(&Batch { anomalies, ..Batch::default() })
    }

    /// Merges a point into its minute (counts add up, the mean is weighted by
    /// requests, the maximum is kept).
    fn add_series(&self, point: &SeriesPoint) -> Result<(), IncidentStoreError> {
        self.write(&Batch { series: std::slice::from_ref(point), ..Batch::default() })
    }

    /// One page of incidents matching `query`, newest first.
    fn list_incidents(
        &self,
        query: &IncidentQuery,
    ) -> Result<Page<IncidentRow>, IncidentStoreError>;

    /// The incident with this id, if stored.
    fn get_incident(&self, id: &str) -> Result<Option<IncidentRow>, IncidentStoreError>;

    /// The latest `limit` anomalies of an incident, oldest first.
    fn incident_anomalies(
        &self,
        incident_id: &str,
        limit: usize,
    ) -> Result<Vec<AnomalyRow>, IncidentStoreError>;

    /// Series points with `since <= minute < until`, oldest first; at most
    /// `anomalog_server::MAX_SERIES_POINTS`, the latest ones.
    fn series(&self, since: i64, until: i64) -> Result<Vec<SeriesPoint>, IncidentStoreError>;

    /// Records the operator's verdict on an incident. Returns whether it exists.
    fn set_feedback(&self, id: &str, feedback: Feedback) -> Result<bool, IncidentStoreError>;

    /// Deletes what is older than `max_age_secs` as of `now` (unix seconds), then the
    /// oldest incidents and anomalies beyond `max_rows` each.
    fn enforce_retention_at(
        &self,
        now: i64,
        max_age_secs: u64,
        max_rows: usize,
    ) -> Result<RetentionReport, IncidentStoreError>;

    /// [`IncidentStore::enforce_retention_at`] as of now.
    fn enforce_retention(
        &self,
        max_age_secs: u64,
        max_rows: usize,
    ) -> Result<RetentionReport, IncidentStoreError> {
        self.enforce_retention_at(crate::time::now_secs(), max_age_secs, max_rows)
    }
}

impl IncidentStore for Store {
    fn describe(&self) -> String {
        self.path().display().to_string()
    }

    fn ping(&self) -> Result<(), IncidentStoreError> {
        Ok(Store::ping(self)?)
    }

    fn write(&self, batch: &Batch<'_>) -> Result<(), IncidentStoreError> {
        Ok(Store::write(self, batch)?)
    }

    fn list_incidents(
        &self,
        query: &IncidentQuery,
    ) -> Result<Page<IncidentRow>, IncidentStoreError> {
        Ok(Store::list_incidents(self, query)?)
    }

    fn get_incident(&self, id: &str) -> Result<Option<IncidentRow>, IncidentStoreError> {
        Ok(Store::get_incident(self, id)?)
    }

    fn incident_anomalies(
        &self,
        incident_id: &str,
        limit: usize,
    ) -> Result<Vec<AnomalyRow>, IncidentStoreError> {
        Ok(Store::incident_anomalies(self, incident_id, limit)?)
    }

    fn series(&self, since: i64, until: i64) -> Result<Vec<SeriesPoint>, IncidentStoreError> {
        Ok(Store::series(self, since, until)?)
    }

    fn set_feedback(&self, id: &str, feedback: Feedback) -> Result<bool, IncidentStoreError> {
        Ok(Store::set_feedback(self, id, feedback)?)
    }

    fn enforce_retention_at(
        &self,
        now: i64,
        max_age_secs: u64,
        max_rows: usize,
    ) -> Result<RetentionReport, IncidentStoreError> {
        Ok(Store::enforce_retention_at(self, now, max_age_secs, max_rows)?)
    }
}
