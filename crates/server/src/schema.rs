//! The database schema and its version.
//!
//! The version lives in the `meta` table. A file without it is new and gets the
//! current schema; a file with an older version is migrated here, one version at a
//! time, in the same transaction; a file with a newer version is refused, because
//! writing to it could lose what it holds.
//!
//! - Version 1: incidents, anomalies, per-minute series.
//! - Version 2: the model lifecycle: `models` (every model with its metrics and
//!   status), `lifecycle_events` (what retraining, promotion, rollback and feedback
//!   did), `allow_patterns` (false positives the operator marked) and `drift_reports`
//!   (drift of each window of live traffic).

use rusqlite::{Connection, OptionalExtension};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 2;

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS incidents (
    id               TEXT PRIMARY KEY,
    client           TEXT,
    category         TEXT NOT NULL,
    severity         TEXT NOT NULL,
    severity_rank    INTEGER NOT NULL,
    first_seen       TEXT NOT NULL,
    first_seen_unix  INTEGER NOT NULL,
    last_seen        TEXT NOT NULL,
    last_seen_unix   INTEGER NOT NULL,
    count            INTEGER NOT NULL,
    max_score        REAL NOT NULL,
    samples          TEXT NOT NULL,
    explanation      TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    feedback         TEXT CHECK (feedback IS NULL OR feedback IN ('fp', 'confirmed'))
);
CREATE INDEX IF NOT EXISTS incidents_last_seen ON incidents (last_seen_unix DESC, id DESC);
CREATE INDEX IF NOT EXISTS incidents_client ON incidents (client);
CREATE INDEX IF NOT EXISTS incidents_category ON incidents (category);
CREATE TABLE IF NOT EXISTS anomalies (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id  TEXT,
    seen         INTEGER NOT NULL,
    ts           TEXT,
    source       TEXT NOT NULL,
    line         INTEGER NOT NULL,
    client       TEXT,
    request      TEXT NOT NULL,
    status       INTEGER,
    score        REAL NOT NULL,
    explanation  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS anomalies_incident ON anomalies (incident_id);
CREATE INDEX IF NOT EXISTS anomalies_seen ON anomalies (seen);
CREATE TABLE IF NOT EXISTS series (
    minute      INTEGER PRIMARY KEY,
    requests    INTEGER NOT NULL,
    errors_4xx  INTEGER NOT NULL,
    errors_5xx  INTEGER NOT NULL,
    anomalies   INTEGER NOT NULL,
    mean_score  REAL NOT NULL,
    max_score   REAL NOT NULL
);
";

/// From version 1 to 2: the model lifecycle tables.
const MIGRATE_2: &str = "
CREATE TABLE IF NOT EXISTS models (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  INTEGER NOT NULL,
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    detector    TEXT NOT NULL,
    training    TEXT NOT NULL,
    metrics     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'retired', 'rejected')),
    reason      TEXT NOT NULL,
    activated_at INTEGER
);
CREATE INDEX IF NOT EXISTS models_status ON models (status);
CREATE TABLE IF NOT EXISTS lifecycle_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    model_id  INTEGER,
    message   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS allow_patterns (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id  TEXT NOT NULL,
    category     TEXT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (category, method, path)
);
CREATE TABLE IF NOT EXISTS drift_reports (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    at                INTEGER NOT NULL,
    model_id          INTEGER,
    records           INTEGER NOT NULL,
    drifted           INTEGER NOT NULL,
    score_psi         REAL NOT NULL,
    drifted_features  INTEGER NOT NULL,
    top               TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS drift_reports_at ON drift_reports (at);
";

/// The outcome of checking a database's schema.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// The schema is current (created now if the file was new).
    Current,
    /// The file holds a newer schema.
    TooNew(i64),
}

/// Reads the stored version, creating the schema on a new file.
pub(crate) fn ensure(conn: &mut Connection) -> rusqlite::Result<Check> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let has_meta: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |r| r.get(0),
    )?;
    let stored: Option<String> = if has_meta {
        tx.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0))
            .optional()?
    } else {
        None
    };
    // An unparsable version is treated as newer: refusing is safer than overwriting.
    let version = stored.map(|v| v.trim().parse::<i64>().unwrap_or(i64::MAX));
    match version {
        Some(v) if v > SCHEMA_VERSION => return Ok(Check::TooNew(v)),
        Some(v) if v == SCHEMA_VERSION => {}
        // A new file gets every version's tables; an older one the versions after its.
        found => {
            let from = found.unwrap_or(0);
            if from < 1 {
                tx.execute_batch(CREATE)?;
            }
            if from < 2 {
                tx.execute_batch(MIGRATE_2)?;
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [SCHEMA_VERSION.to_string()],
            )?;
        }
    }
    tx.commit()?;
    Ok(Check::Current)
}
