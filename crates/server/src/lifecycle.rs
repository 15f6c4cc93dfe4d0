//! The model lifecycle in the store: the history of models with their metrics, the log
//! of what retraining, promotion, rollback and feedback did, the allow-list the
//! operator's false positives feed, and the drift of each window of live traffic.
//!
//! An allow pattern is what a false positive teaches: the incident's category with
//! the method and path template of each of its sample requests (a path segment holding
//! a digit stands for any value: `/stories/spring-looks/12` is `/stories/spring-looks/*`).
//! A later anomaly of the same category on the same method and template is the same
//! kind of false alarm; one of another category (a SQL injection on that page, say)
//! is not suppressed, and neither is the same behaviour on other pages. Keying on the
//! client instead would not stop a false positive that comes from many clients (a new
//! popular page), and would let that client attack unnoticed in that category.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::rows::{Feedback, IncidentRow};
use crate::store::{Store, lock, sat};
use crate::time::now_secs;

/// Where a model stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelStatus {
    /// The model scoring now.
    Active,
    /// Scored before; kept for rollback.
    Retired,
    /// A candidate that failed evaluation; never scored.
    Rejected,
}

impl ModelStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelStatus::Active => "active",
            ModelStatus::Retired => "retired",
            ModelStatus::Rejected => "rejected",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<ModelStatus> {
        match text {
            "active" => Some(ModelStatus::Active),
            "retired" => Some(ModelStatus::Retired),
            "rejected" => Some(ModelStatus::Rejected),
            _ => None,
        }
    }
}

/// A model of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRow {
    /// Assigned by the store, increasing.
    pub id: i64,
    /// When it was recorded, unix seconds.
    pub created_at: i64,
    /// The kept model file (empty for a rejected candidate, whose file is not kept).
    pub path: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// The detector (`ensemble`, `iforest`, ...).
    pub detector: String,
    /// What it was trained on (records, time range, ...), as JSON.
    pub training: serde_json::Value,
    /// Its evaluation (alert rates, score distribution, recall), as JSON.
    pub metrics: serde_json::Value,
    /// Active, retired or rejected.
    pub status: ModelStatus,
    /// Why it has that status.
    pub reason: String,
    /// When it last became active, unix seconds.
    pub activated_at: Option<i64>,
}

/// A model to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewModel {
    /// The kept model file.
    pub path: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// The detector.
    pub detector: String,
    /// Training summary as JSON.
    pub training: serde_json::Value,
    /// Evaluation as JSON.
    pub metrics: serde_json::Value,
    /// Its status; `Active` retires the model active before, in the same transaction.
    pub status: ModelStatus,
    /// Why.
    pub reason: String,
}

/// One step of the lifecycle, as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    /// Assigned by the store, increasing.
    pub id: i64,
    /// When, unix seconds.
    pub at: i64,
    /// What kind of step (`drift`, `retrain`, `promoted`, `rejected`, `superseded` (a
    /// candidate not promoted because the model changed while it trained), `rollback`,
    /// `feedback`, ...).
    pub kind: String,
    /// The model concerned, when one is.
    pub model_id: Option<i64>,
    /// What happened, for people.
    pub message: String,
}

/// A false alarm the operator marked: anomalies of this category on this method and
/// path template are suppressed (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowPattern {
    /// The incident marked as a false positive.
    pub incident_id: String,
    /// Its category.
    pub category: String,
    /// The request method (`GET`), or `*` when the sample had none.
    pub method: String,
    /// The path template (`/stories/spring-looks/*`).
    pub path: String,
}

impl AllowPattern {
    /// The pattern of one request line of an incident.
    pub fn from_request(incident_id: &str, category: &str, request: &str) -> AllowPattern {
        let (method, path) = method_and_template(request);
        AllowPattern {
            incident_id: incident_id.to_string(),
            category: category.to_string(),
            method: method.to_string(),
            path,
        }
    }

    /// Whether an anomaly of `category` on `request` (`GET /a/1?b HTTP/1.1`) is the
    /// false alarm this pattern describes.
    pub fn matches(&self, category: &str, request: &str) -> bool {
        if category != self.category {
            return false;
        }
        let (method, path) = method_and_template(request);
        (self.method == "*" || self.method == method) && self.path == path
    }
}

/// The method of a request line and the template of its path.
fn method_and_template(request: &str) -> (&str, String) {
    let mut parts = request.split_ascii_whitespace();
    let (method, target) = match (parts.next(), parts.next()) {
        (Some(m), Some(t)) => (m, t),
        (Some(t), None) => ("*", t),
        _ => ("*", ""),
    };
    (method, path_template(target))
}

/// A request target's path with every segment holding a digit replaced by `*`.
pub fn path_template(target: &str) -> String {
    let path = target.split(['?', '#']).next().unwrap_or("");
    path.split('/')
        .map(|seg| if seg.bytes().any(|b| b.is_ascii_digit()) { "*" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// The drift of one window of live traffic, as kept for the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftPoint {
    /// When the window closed, unix seconds.
    pub at: i64,
    /// The model scoring then.
    pub model_id: Option<i64>,
    /// Records in the window.
    pub records: u64,
    /// Whether the window drifted.
    pub drifted: bool,
    /// PSI of the score distribution.
    pub score_psi: f64,
    /// Features above the PSI threshold.
    pub drifted_features: u64,
    /// The most drifted features with their PSI.
    pub top: Vec<(String, f64)>,
}

/// What recording an operator's verdict did.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedbackOutcome {
    /// No incident has that id.
    UnknownIncident,
    /// Recorded; for a false positive, the allow patterns added (patterns already
    /// known are not repeated).
    Recorded {
        /// New allow patterns.
        patterns: Vec<AllowPattern>,
    },
}

const MODEL_COLUMNS: &str =
    "id, created_at, path, sha256, detector, training, metrics, status, reason, activated_at";

impl Store {
    /// Records a model; an active one retires the model active before. Returns its id.
    pub fn insert_model(&self, model: &NewModel) -> Result<i64, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let now = now_secs();
        let active = model.status == ModelStatus::Active;
        if active {
            tx.execute("UPDATE models SET status = 'retired' WHERE status = 'active'", [])
                .map_err(|e| self.err(e))?;
        }
        tx.execute(
            "INSERT INTO models (created_at, path, sha256, detector, training, metrics, status,
                reason, activated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                now,
                model.path,
                model.sha256,
                model.detector,
                model.training.to_string(),
                model.metrics.to_string(),
                model.status.as_str(),
                model.reason,
                active.then_some(now),
            ],
        )
        .map_err(|e| self.err(e))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(|e| self.err(e))?;
        Ok(id)
    }

    /// Sets the file of a recorded model (once it is written under its id).
    pub fn set_model_path(&self, id: i64, path: &str) -> Result<(), StoreError> {
        let conn = lock(&self.writer);
        conn.execute("UPDATE models SET path = ?2 WHERE id = ?1", params![id, path])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Makes model `id` the active one (the active one before is retired), with the
    /// reason. Returns false when there is no such model or it was rejected.
    pub fn activate_model(&self, id: i64, reason: &str) -> Result<bool, StoreError> {
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let status: Option<String> = tx
            .query_row("SELECT status FROM models WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        if status.is_none_or(|s| s == "rejected") {
            return Ok(false);
        }
        tx.execute("UPDATE models SET status = 'retired' WHERE status = 'active'", [])
            .map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE models SET status = 'active', reason = ?2, activated_at = ?3 WHERE id = ?1",
            params![id, reason, now_secs()],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(true)
    }

    /// The models, newest first, at most `limit`.
    pub fn models(&self, limit: usize) -> Result<Vec<ModelRow>, StoreError> {
        self.query_models(
            &format!("SELECT {MODEL_COLUMNS} FROM models ORDER BY id DESC LIMIT ?1"),
            sat(limit),
        )
    }

    /// The model with this id.
    pub fn model(&self, id: i64) -> Result<Option<ModelRow>, StoreError> {
        Ok(self
            .query_models(&format!("SELECT {MODEL_COLUMNS} FROM models WHERE id = ?1"), id)?
            .pop())
    }

    /// The active model, if one is recorded.
    pub fn active_model(&self) -> Result<Option<ModelRow>, StoreError> {
        Ok(self
            .query_models(
                &format!(
                    "SELECT {MODEL_COLUMNS} FROM models WHERE status = 'active'
                     ORDER BY id DESC LIMIT ?1"
                ),
                1,
            )?
            .pop())
    }

    fn query_models(&self, sql: &str, arg: i64) -> Result<Vec<ModelRow>, StoreError> {
        let conn = lock(&self.reader);
        let mut stmt = conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([arg], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, Option<i64>>(9)?,
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(
                |(
                    id,
                    created_at,
                    path,
                    sha256,
                    detector,
                    training,
                    metrics,
                    status,
                    reason,
                    at,
                )| {
                    let decode = |column, text: &str| {
                        serde_json::from_str(text).map_err(|e| StoreError::Decode {
                            path: self.path().to_path_buf(),
                            column,
                            message: e.to_string(),
                        })
                    };
                    Ok(ModelRow {
                        id,
                        created_at,
                        path,
                        sha256,
                        detector,
                        training: decode("models.training", &training)?,
                        metrics: decode("models.metrics", &metrics)?,
                        status: ModelStatus::parse(&status).ok_or_else(|| StoreError::Decode {
                            path: self.path().to_path_buf(),
                            column: "models.status",
                            message: format!("unknown value {status:?}"),
                        })?,
                        reason,
                        activated_at: at,
                    })
                },
            )
            .collect()
    }

    /// Appends a step to the lifecycle log.
    pub fn log_event(
        &self,
        kind: &str,
        model_id: Option<i64>,
        message: &str,
    ) -> Result<(), StoreError> {
        let conn = lock(&self.writer);
        conn.execute(
            "INSERT INTO lifecycle_events (at, kind, model_id, message) VALUES (?1, ?2, ?3, ?4)",
            params![now_secs(), kind, model_id, message],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The latest `limit` lifecycle steps, newest first.
    pub fn events(&self, limit: usize) -> Result<Vec<LifecycleEvent>, StoreError> {
        let conn = lock(&self.reader);
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, at, kind, model_id, message FROM lifecycle_events
                 ORDER BY id DESC LIMIT ?1",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([sat(limit)], |r| {
            Ok(LifecycleEvent {
                id: r.get(0)?,
                at: r.get(1)?,
                kind: r.get(2)?,
                model_id: r.get(3)?,
                message: r.get(4)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| self.err(e))
    }

    /// Records the operator's verdict on an incident: a false positive adds the allow
    /// patterns of its samples, and both verdicts are logged as lifecycle steps.
    pub fn record_feedback(
        &self,
        id: &str,
        feedback: Feedback,
    ) -> Result<FeedbackOutcome, StoreError> {
        let Some(incident) = self.get_incident(id)? else {
            return Ok(FeedbackOutcome::UnknownIncident);
        };
        if !self.set_feedback(id, feedback)? {
            return Ok(FeedbackOutcome::UnknownIncident);
        }
        let patterns = match feedback {
            Feedback::FalsePositive => self.add_allow_patterns(&incident)?,
            Feedback::Confirmed => Vec::new(),
        };
        let message = match feedback {
            Feedback::FalsePositive => format!(
                "incident {id} ({}) marked a false positive; allow-listed: {}",
                incident.category,
                describe(&patterns)
            ),
            Feedback::Confirmed => format!(
                "incident {id} ({}) confirmed; its requests are labeled examples for evaluating \
                 candidates",
                incident.category
            ),
        };
        self.log_event("feedback", None, &message)?;
        Ok(FeedbackOutcome::Recorded { patterns })
    }

    fn add_allow_patterns(&self, incident: &IncidentRow) -> Result<Vec<AllowPattern>, StoreError> {
        let mut requests: Vec<String> =
            incident.samples.iter().map(|s| s.request.clone()).collect();
        requests.extend(self.incident_anomalies(&incident.id, 50)?.into_iter().map(|a| a.request));
        let conn = lock(&self.writer);
        let mut added = Vec::new();
        for request in requests {
            let p = AllowPattern::from_request(&incident.id, &incident.category, &request);
            if p.path.is_empty() {
                continue;
            }
            let n = conn
                .execute(
                    "INSERT INTO allow_patterns (incident_id, category, method, path, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    params![p.incident_id, p.category, p.method, p.path, now_secs()],
                )
                .map_err(|e| self.err(e))?;
            if n > 0 {
                added.push(p);
            }
        }
        Ok(added)
    }

    /// Every allow pattern, oldest first.
    pub fn allow_patterns(&self) -> Result<Vec<AllowPattern>, StoreError> {
        let conn = lock(&self.reader);
        let mut stmt = conn
            .prepare_cached(
                "SELECT incident_id, category, method, path FROM allow_patterns ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |r| {
            Ok(AllowPattern {
                incident_id: r.get(0)?,
                category: r.get(1)?,
                method: r.get(2)?,
                path: r.get(3)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| self.err(e))
    }

    /// The ids of the latest `limit` incidents with this verdict, newest first.
    pub fn incidents_with_feedback(
        &self,
        feedback: Feedback,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let conn = lock(&self.reader);
        let mut stmt = conn
            .prepare_cached(
                "SELECT id FROM incidents WHERE feedback = ?1
                 ORDER BY last_seen_unix DESC, id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![feedback.as_str(), sat(limit)], |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))
    }

    /// Sets a lifecycle setting kept with the data (`model_path`: the file `watch`
    /// scores with, which promotion and rollback replace).
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let conn = lock(&self.writer);
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![format!("lifecycle.{key}"), value],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A lifecycle setting (see [`Store::set_setting`]).
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let conn = lock(&self.reader);
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [format!("lifecycle.{key}")], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| self.err(e))
    }

    /// Keeps the drift of a window of live traffic.
    pub fn add_drift_point(&self, point: &DriftPoint) -> Result<(), StoreError> {
        let conn = lock(&self.writer);
        let top = serde_json::to_string(&point.top).unwrap_or_else(|_| "[]".to_string());
        let psi = if point.score_psi.is_finite() { point.score_psi } else { 0.0 };
        conn.execute(
            "INSERT INTO drift_reports (at, model_id, records, drifted, score_psi,
                drifted_features, top) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                point.at,
                point.model_id,
                sat(point.records),
                point.drifted,
                psi,
                sat(point.drifted_features),
                top
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The latest `limit` drift points, oldest first.
    pub fn drift_points(&self, limit: usize) -> Result<Vec<DriftPoint>, StoreError> {
        let conn = lock(&self.reader);
        let mut stmt = conn
            .prepare_cached(
                "SELECT at, model_id, records, drifted, score_psi, drifted_features, top
                 FROM drift_reports ORDER BY id DESC LIMIT ?1",
            )
            .map_err(|e| self.err(e))?;
        let mut points = stmt
            .query_map([sat(limit)], |r| {
                let top: String = r.get(6)?;
                Ok(DriftPoint {
                    at: r.get(0)?,
                    model_id: r.get(1)?,
                    records: r.get::<_, i64>(2)?.max(0).unsigned_abs(),
                    drifted: r.get(3)?,
                    score_psi: r.get(4)?,
                    drifted_features: r.get::<_, i64>(5)?.max(0).unsigned_abs(),
                    top: serde_json::from_str(&top).unwrap_or_default(),
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        points.reverse();
        Ok(points)
    }
}

fn describe(patterns: &[AllowPattern]) -> String {
    if patterns.is_empty() {
        return "nothing new".to_string();
    }
    patterns
        .iter()
        .map(|p| format!("{} {} {}", p.category, p.method, p.path))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
