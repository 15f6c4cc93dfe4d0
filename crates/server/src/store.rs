//! The embedded SQLite store of incidents, anomalies and per-minute series.
//!
//! One file (default `anomalog.db`) in WAL mode, created owner-only (0600, and so are
//! its `-wal`/`-shm` files). The store holds two connections: one writes, one only
//! reads, so the dashboard's reads do not wait behind the daemon's write batches.
//! Every method takes `&self`; share the store as `Arc<Store>`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::StoreError;
use crate::rows::{
    AnomalyRow, ExplanationItem, Feedback, IncidentQuery, IncidentRow, Page, RetentionReport,
    SeriesPoint, Severity, Status,
};
use crate::schema::{self, Check};
use crate::time::{now_secs, rfc3339};

/// Most series points one call returns (a week of minutes); the latest are kept.
pub const MAX_SERIES_POINTS: usize = 7 * 24 * 60;

/// How long a writer waits for a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Several writes applied in one transaction: all of them or none.
#[derive(Debug, Clone, Copy, Default)]
pub struct Batch<'a> {
    /// Incidents to insert or update.
    pub incidents: &'a [IncidentRow],
    /// Anomalies to append.
    pub anomalies: &'a [AnomalyRow],
    /// Series points to merge into their minutes.
    pub series: &'a [SeriesPoint],
}

/// The incident store: one SQLite file in WAL mode, owner-only, with a writing and a
/// read-only connection so that dashboard reads do not wait behind write batches.
/// Every method takes `&self`; share it as `Arc<Store>`.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    pub(crate) writer: Mutex<Connection>,
    pub(crate) reader: Mutex<Connection>,
}

impl Store {
    /// Opens the database at `path`, creating it (mode 0600) with the current schema
    /// if it does not exist. The parent directory must exist. A file from a newer
    /// anomalog is refused with [`StoreError::SchemaTooNew`].
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        create_private(&path)?;
        let sql = |e| StoreError::from_sqlite(&path, e);
        let mut writer = Connection::open(&path).map_err(sql)?;
        writer.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        let mode: String =
            writer.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(sql)?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Some file systems cannot share memory for WAL; the rollback journal works
            // everywhere, only with less read/write concurrency.
            writer.pragma_update(None, "journal_mode", "DELETE").map_err(sql)?;
        }
        writer.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
        match schema::ensure(&mut writer).map_err(sql)? {
            Check::Current => {}
            Check::TooNew(found) => {
                return Err(StoreError::SchemaTooNew {
                    path,
                    found,
                    supported: schema::SCHEMA_VERSION,
                });
            }
        }
        restrict_sidecars(&path)?;
        let reader = Connection::open(&path).map_err(sql)?;
        reader.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        reader.pragma_update(None, "query_only", true).map_err(sql)?;
        Ok(Store { path, writer: Mutex::new(writer), reader: Mutex::new(reader) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks that the database answers a trivial query.
    pub fn ping(&self) -> Result<(), StoreError> {
        let conn = lock(&self.reader);
        conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Inserts an incident or updates the stored one with the same id. The operator's
    /// feedback is kept: the daemon does not know it.
    pub fn upsert_incident(&self, incident: &IncidentRow) -> Result<(), StoreError> {
        self.write(&Batch { incidents: std::slice::from_ref(incident), ..Batch::default() })
    }

    /// Appends anomalies in one transaction.
    pub fn insert_anomalies(&self, anomalies: &[AnomalyRow]) -> Result<(), StoreError> {
        self.write(&Batch { anomalies, ..Batch::default() })
    }

    /// Merges a point into its minute: counts add up, the mean is weighted by
    /// requests, the maximum is kept.
    pub fn add_series(&self, point: &SeriesPoint) -> Result<(), StoreError> {
        self.write(&Batch { series: std::slice::from_ref(point), ..Batch::default() })
    }

    /// Applies a batch of writes in one transaction.
    pub fn write(&self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        write_batch(&tx, batch).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// One page of incidents matching `query`, newest first.
    pub fn list_incidents(&self, query: &IncidentQuery) -> Result<Page<IncidentRow>, StoreError> {
        let limit = query.effective_limit();
        let filter = "(?1 IS NULL OR last_seen_unix >= ?1) AND (?2 IS NULL OR severity_rank >= ?2)
             AND (?3 IS NULL OR category = ?3) AND (?4 IS NULL OR client = ?4)
             AND (?5 IS NULL OR status = ?5)";
        let args = (
            query.since,
            query.severity.map(Severity::rank),
            query.category.as_deref(),
            query.client.as_deref(),
            query.status.map(Status::as_str),
        );
        let conn = lock(&self.reader);
        let total: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM incidents WHERE {filter}"), args, |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))?;
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE {filter}
             ORDER BY last_seen_unix DESC, id DESC LIMIT ?6 OFFSET ?7"
        );
        let mut stmt = conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let raw = stmt
            .query_map(
                (args.0, args.1, args.2, args.3, args.4, sat(limit), sat(query.offset)),
                RawIncident::read,
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        let items = raw.into_iter().map(|r| r.decode(&self.path)).collect::<Result<_, _>>()?;
        Ok(Page { items, total: total.max(0).unsigned_abs(), limit, offset: query.offset })
    }

    /// The incident with this id, if stored.
    pub fn get_incident(&self, id: &str) -> Result<Option<IncidentRow>, StoreError> {
        let conn = lock(&self.reader);
        let raw = conn
            .query_row(
                &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"),
                [id],
                RawIncident::read,
            )
            .optional()
            .map_err(|e| self.err(e))?;
        raw.map(|r| r.decode(&self.path)).transpose()
    }

    /// The latest `limit` anomalies of an incident, oldest first.
    pub fn incident_anomalies(
        &self,
        incident_id: &str,
        limit: usize,
    ) -> Result<Vec<AnomalyRow>, StoreError> {
        let conn = lock(&self.reader);
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, incident_id, seen, ts, source, line, client, request, status, score,
                        explanation
                 FROM anomalies WHERE incident_id = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![incident_id, sat(limit)], |r| {
                Ok((
                    AnomalyRow {
                        id: r.get(0)?,
                        incident_id: r.get(1)?,
                        seen: r.get(2)?,
                        ts: r.get(3)?,
                        source: r.get(4)?,
                        line: r.get::<_, i64>(5)?.max(0).unsigned_abs(),
                        client: r.get(6)?,
                        request: r.get(7)?,
                        status: r.get::<_, Option<i64>>(8)?.and_then(|s| u16::try_from(s).ok()),
                        score: r.get(9)?,
                        explanation: Vec::new(),
                    },
                    r.get::<_, String>(10)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for (mut row, explanation) in rows.into_iter().rev() {
            row.explanation = decode_json(&self.path, "anomalies.explanation", &explanation)?;
            out.push(row);
        }
        Ok(out)
    }

    /// Series points with `since <= minute < until`, oldest first; at most
    /// [`MAX_SERIES_POINTS`], the latest ones.
    pub fn series(&self, since: i64, until: i64) -> Result<Vec<SeriesPoint>, StoreError> {
        let conn = lock(&self.reader);
        let mut stmt = conn
            .prepare_cached(
                "SELECT minute, requests, errors_4xx, errors_5xx, anomalies, mean_score, max_score
                 FROM series WHERE minute >= ?1 AND minute < ?2 ORDER BY minute DESC LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let count = |r: &rusqlite::Row<'_>, i| r.get::<_, i64>(i).map(|v| v.max(0).unsigned_abs());
        let mut points = stmt
            .query_map(params![since, until, sat(MAX_SERIES_POINTS)], |r| {
                Ok(SeriesPoint {
                    minute: r.get(0)?,
                    requests: count(r, 1)?,
                    errors_4xx: count(r, 2)?,
                    errors_5xx: count(r, 3)?,
                    anomalies: count(r, 4)?,
                    mean_score: r.get(5)?,
                    max_score: r.get(6)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        points.reverse();
        Ok(points)
    }

    /// Records the operator's verdict on an incident. Returns whether it exists.
    pub fn set_feedback(&self, id: &str, feedback: Feedback) -> Result<bool, StoreError> {
        let conn = lock(&self.writer);
        let changed = conn
            .execute("UPDATE incidents SET feedback = ?2 WHERE id = ?1", [id, feedback.as_str()])
            .map_err(|e| self.err(e))?;
        Ok(changed > 0)
    }

    /// Deletes what is older than `max_age_secs` (incidents by last seen, anomalies by
    /// detection time, series by minute), then the oldest incidents and anomalies
    /// beyond `max_rows` each. Anomalies of a deleted incident go with it.
    pub fn enforce_retention(
        &self,
        max_age_secs: u64,
        max_rows: usize,
    ) -> Result<RetentionReport, StoreError> {
        self.enforce_retention_at(now_secs(), max_age_secs, max_rows)
    }

    /// [`Store::enforce_retention`] as of `now` (unix seconds).
    pub fn enforce_retention_at(
        &self,
        now: i64,
        max_age_secs: u64,
        max_rows: usize,
    ) -> Result<RetentionReport, StoreError> {
        let cutoff = now.saturating_sub(sat(max_age_secs));
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let report = retention(&tx, cutoff, sat(max_rows)).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(report)
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(&self.path, e)
    }

    #[cfg(test)]
    pub(crate) fn writer_for_test(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }
}

/// Locks a connection. A panic while it was held cannot leave a transaction open
/// (dropping a `Transaction` rolls back), so a poisoned lock is still usable.
pub(crate) fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Saturating conversion for counts bound as SQLite integers.
pub(crate) fn sat<T: TryInto<i64>>(n: T) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

fn write_batch(tx: &Transaction<'_>, batch: &Batch<'_>) -> rusqlite::Result<()> {
    if !batch.incidents.is_empty() {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO incidents (id, client, category, severity, severity_rank, first_seen,
                first_seen_unix, last_seen, last_seen_unix, count, max_score, samples,
                explanation, status, feedback)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (id) DO UPDATE SET client = excluded.client,
                category = excluded.category, severity = excluded.severity,
                severity_rank = excluded.severity_rank, first_seen = excluded.first_seen,
                first_seen_unix = excluded.first_seen_unix, last_seen = excluded.last_seen,
                last_seen_unix = excluded.last_seen_unix, count = excluded.count,
                max_score = excluded.max_score, samples = excluded.samples,
                explanation = excluded.explanation, status = excluded.status,
                feedback = COALESCE(incidents.feedback, excluded.feedback)",
        )?;
        for i in batch.incidents {
            stmt.execute(params![
                i.id,
                i.client,
                i.category,
                i.severity.as_str(),
                i.severity.rank(),
                rfc3339(i.first_seen),
                i.first_seen,
                rfc3339(i.last_seen),
                i.last_seen,
                sat(i.count),
                i.max_score,
                to_json(&i.samples),
                to_json(&i.explanation),
                i.status.as_str(),
                i.feedback.map(Feedback::as_str),
            ])?;
        }
    }
    if !batch.anomalies.is_empty() {
        insert_anomalies(tx, batch.anomalies)?;
    }
    if !batch.series.is_empty() {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO series (minute, requests, errors_4xx, errors_5xx, anomalies, mean_score,
                max_score) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (minute) DO UPDATE SET
                mean_score = CASE WHEN series.requests + excluded.requests > 0
                    THEN (series.mean_score * series.requests
                          + excluded.mean_score * excluded.requests)
                         / (series.requests + excluded.requests)
                    ELSE excluded.mean_score END,
                requests = series.requests + excluded.requests,
                errors_4xx = series.errors_4xx + excluded.errors_4xx,
                errors_5xx = series.errors_5xx + excluded.errors_5xx,
                anomalies = series.anomalies + excluded.anomalies,
                max_score = MAX(series.max_score, excluded.max_score)",
        )?;
        for p in batch.series {
            stmt.execute(params![
                p.minute.div_euclid(60) * 60,
                sat(p.requests),
                sat(p.errors_4xx),
                sat(p.errors_5xx),
                sat(p.anomalies),
                finite(p.mean_score),
                finite(p.max_score),
            ])?;
        }
    }
    Ok(())
}

/// Anomalies inserted by one statement: one statement per row costs SQLite its
/// per-statement work (and the table's autoincrement counter is read and written once
/// per statement) for every row.
const ANOMALIES_PER_INSERT: usize = 50;

/// Appends anomalies, [`ANOMALIES_PER_INSERT`] rows per statement (the last statement
/// takes the rest), in order: ids are given in the order of `anomalies`.
fn insert_anomalies(tx: &Transaction<'_>, anomalies: &[AnomalyRow]) -> rusqlite::Result<()> {
    const COLUMNS: usize = 10;
    let sql = |rows: usize| {
        let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; rows].join(", ");
        format!(
            "INSERT INTO anomalies (incident_id, seen, ts, source, line, client, request,
                status, score, explanation) VALUES {values}"
        )
    };
    let full = sql(ANOMALIES_PER_INSERT);
    // The explanations of the rows of one statement, as JSON, one after another.
    let mut json = Vec::with_capacity(ANOMALIES_PER_INSERT * 512);
    let mut ends = Vec::with_capacity(ANOMALIES_PER_INSERT);
    for chunk in anomalies.chunks(ANOMALIES_PER_INSERT) {
        let rest;
        let text = if chunk.len() == ANOMALIES_PER_INSERT {
            &full
        } else {
            rest = sql(chunk.len());
            &rest
        };
        let mut stmt = tx.prepare_cached(text)?;
        json.clear();
        ends.clear();
        for a in chunk {
            explanation_json(&mut json, &a.explanation);
            ends.push(json.len());
        }
        let mut start = 0;
        for (i, (a, &end)) in chunk.iter().zip(&ends).enumerate() {
            let explanation = std::str::from_utf8(&json[start..end]).unwrap_or("[]");
            start = end;
            let at = i * COLUMNS;
            stmt.raw_bind_parameter(at + 1, &a.incident_id)?;
            stmt.raw_bind_parameter(at + 2, a.seen)?;
            stmt.raw_bind_parameter(at + 3, &a.ts)?;
            stmt.raw_bind_parameter(at + 4, &a.source)?;
            stmt.raw_bind_parameter(at + 5, sat(a.line))?;
            stmt.raw_bind_parameter(at + 6, &a.client)?;
            stmt.raw_bind_parameter(at + 7, &a.request)?;
            stmt.raw_bind_parameter(at + 8, a.status)?;
            stmt.raw_bind_parameter(at + 9, a.score)?;
            stmt.raw_bind_parameter(at + 10, explanation)?;
        }
        stmt.raw_execute()?;
    }
    Ok(())
}

/// Appends an explanation as JSON to `out`: the text [`to_json`] gives it, written
/// field by field (an anomaly row's largest column, and the store writes one per
/// anomaly).
fn explanation_json(out: &mut Vec<u8>, items: &[ExplanationItem]) {
    out.push(b'[');
    for (k, e) in items.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"feature\":");
        json_str(out, &e.feature);
        out.extend_from_slice(b",\"value\":");
        json_f64(out, e.value);
        out.extend_from_slice(b",\"typical\":");
        json_f64(out, e.typical);
        out.extend_from_slice(b",\"contribution\":");
        json_f64(out, Some(e.contribution));
        out.push(b'}');
    }
    out.push(b']');
}

/// A JSON string; one needing escapes is left to `serde_json`.
fn json_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.extend_from_slice(to_json(&text).as_bytes());
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// A JSON number as `serde_json` writes it (the shortest text that reads back as the
/// same number); `null` for a missing value or one that is not finite.
fn json_f64(out: &mut Vec<u8>, value: Option<f64>) {
    match value {
        Some(v) if v.is_finite() => {
            out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
        }
        _ => out.extend_from_slice(b"null"),
    }
}

/// SQLite stores NaN as NULL, which the NOT NULL columns refuse; a score that is not a
/// number carries no information for a chart, so it counts as 0.
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

fn retention(
    tx: &Transaction<'_>,
    cutoff: i64,
    max_rows: i64,
) -> rusqlite::Result<RetentionReport> {
    let old = "SELECT id FROM incidents WHERE last_seen_unix < ?1";
    let overflow = "SELECT id FROM incidents ORDER BY last_seen_unix DESC, id DESC
                    LIMIT -1 OFFSET ?1";
    let mut report = RetentionReport::default();
    let count = |n: usize| n as u64;
    for (select, arg) in [(old, cutoff), (overflow, max_rows)] {
        report.anomalies += count(
            tx.execute(&format!("DELETE FROM anomalies WHERE incident_id IN ({select})"), [arg])?,
        );
        report.incidents +=
            count(tx.execute(&format!("DELETE FROM incidents WHERE id IN ({select})"), [arg])?);
    }
    report.anomalies += count(tx.execute("DELETE FROM anomalies WHERE seen < ?1", [cutoff])?);
    report.anomalies += count(tx.execute(
        "DELETE FROM anomalies WHERE id IN
            (SELECT id FROM anomalies ORDER BY id DESC LIMIT -1 OFFSET ?1)",
        [max_rows],
    )?);
    report.series += count(tx.execute("DELETE FROM series WHERE minute < ?1", [cutoff])?);
    Ok(report)
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serializing these plain structs cannot fail (no maps with non-string keys).
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_string())
}

fn decode_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    column: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Decode {
        path: path.to_path_buf(),
        column,
        message: e.to_string(),
    })
}

const INCIDENT_COLUMNS: &str = "id, client, category, severity, first_seen_unix, \
    last_seen_unix, count, max_score, samples, explanation, status, feedback";

/// An incident as stored, before its text columns are decoded.
struct RawIncident {
    id: String,
    client: Option<String>,
    category: String,
    severity: String,
    first_seen: i64,
    last_seen: i64,
    count: i64,
    max_score: f64,
    samples: String,
    explanation: String,
    status: String,
    feedback: Option<String>,
}

impl RawIncident {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawIncident> {
        Ok(RawIncident {
            id: r.get(0)?,
            client: r.get(1)?,
            category: r.get(2)?,
            severity: r.get(3)?,
            first_seen: r.get(4)?,
            last_seen: r.get(5)?,
            count: r.get(6)?,
            max_score: r.get(7)?,
            samples: r.get(8)?,
            explanation: r.get(9)?,
            status: r.get(10)?,
            feedback: r.get(11)?,
        })
    }

    fn decode(self, path: &Path) -> Result<IncidentRow, StoreError> {
        let bad = |column, value: &str| StoreError::Decode {
            path: path.to_path_buf(),
            column,
            message: format!("unknown value {value:?}"),
        };
        let severity = Severity::parse(&self.severity)
            .ok_or_else(|| bad("incidents.severity", &self.severity))?;
        let status =
            Status::parse(&self.status).ok_or_else(|| bad("incidents.status", &self.status))?;
        let feedback = match self.feedback.as_deref() {
            None => None,
            Some(f) => Some(Feedback::parse(f).ok_or_else(|| bad("incidents.feedback", f))?),
        };
        Ok(IncidentRow {
            id: self.id,
            client: self.client,
            category: self.category,
            severity,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            count: self.count.max(0).unsigned_abs(),
            max_score: self.max_score,
            samples: decode_json(path, "incidents.samples", &self.samples)?,
            explanation: decode_json(path, "incidents.explanation", &self.explanation)?,
            status,
            feedback,
        })
    }
}

/// Creates the database file owner-only if it does not exist yet, so that SQLite
/// never creates it with the default (world-readable) mode.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Open { path: path.to_path_buf(), source }),
    }
}

/// SQLite gives the `-wal` and `-shm` files the database's mode; this makes sure,
/// because they hold the same data.
fn restrict_sidecars(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    for suffix in ["-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let side = PathBuf::from(name);
        let Ok(meta) = std::fs::metadata(&side) else { continue };
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&side, std::fs::Permissions::from_mode(0o600))
                .map_err(|source| StoreError::Open { path: side.clone(), source })?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
