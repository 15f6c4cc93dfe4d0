//! The rows the store keeps and the server returns: incidents, anomalies and
//! per-minute series points, plus the incident query and result page.

use serde::{Deserialize, Serialize};

/// How bad an incident is, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Likely an attack or fault.
    Medium,
    /// An attack or fault with strong evidence.
    High,
    /// Strong evidence and sustained.
    Critical,
}

impl Severity {
    /// Lowercase name (`high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a lowercase name.
    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// Rank stored beside the name so that "at least high" is one comparison.
    pub(crate) fn rank(self) -> i64 {
        self as i64
    }
}

/// Whether anomalies may still join an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Still receiving anomalies.
    Open,
    /// No anomaly for the grouping window; final.
    Closed,
}

impl Status {
    /// Lowercase name (`open`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }

    /// Parses a lowercase name.
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "open" => Some(Status::Open),
            "closed" => Some(Status::Closed),
            _ => None,
        }
    }
}

/// An operator's verdict on an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Feedback {
    /// Not an attack or fault: a false positive.
    #[serde(rename = "fp")]
    FalsePositive,
    /// A real attack or fault.
    #[serde(rename = "confirmed")]
    Confirmed,
}

impl Feedback {
    /// The stored and wire name (`fp`, `confirmed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Feedback::FalsePositive => "fp",
            Feedback::Confirmed => "confirmed",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Feedback> {
        match text {
            "fp" => Some(Feedback::FalsePositive),
            "confirmed" => Some(Feedback::Confirmed),
            _ => None,
        }
    }
}

/// One item of an explanation: a feature, its value, what is typical, and how much
/// it contributed to the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplanationItem {
    /// Stable feature name (`client_error_ratio_60s`).
    pub feature: String,
    /// The record's value; `None` when missing.
    pub value: Option<f64>,
    /// The typical value in the training data.
    pub typical: Option<f64>,
    /// Share of the score this feature accounts for.
    pub contribution: f64,
}

/// A request kept as an example of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When it was logged (RFC 3339 in the log's zone), when known.
    #[serde(default)]
    pub ts: Option<String>,
    /// The request line, exactly as logged (may contain markup or attack payloads).
    pub request: String,
    /// Response status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Its score, 0..1.
    pub score: f64,
    /// The source it came from.
    #[serde(default)]
    pub source: String,
    /// Line number in the source.
    #[serde(default)]
    pub line: u64,
}

/// An incident: anomalies of one client and category close together in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRow {
    /// Stable id chosen by the daemon.
    pub id: String,
    /// Client address, when known.
    pub client: Option<String>,
    /// Category of the anomalies (`sqli`, `scan`, ...).
    pub category: String,
    /// Current severity.
    pub severity: Severity,
    /// When the first anomaly was seen, unix seconds.
    pub first_seen: i64,
    /// When the latest anomaly was seen, unix seconds.
    pub last_seen: i64,
    /// Number of anomalous requests.
    pub count: u64,
    /// Highest score.
    pub max_score: f64,
    /// The first few requests.
    pub samples: Vec<Sample>,
    /// Explanation of the highest-scoring request.
    pub explanation: Vec<ExplanationItem>,
    /// Open or closed.
    pub status: Status,
    /// The operator's verdict; kept when the daemon updates the incident.
    pub feedback: Option<Feedback>,
}

/// One anomalous record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyRow {
    /// Row id assigned by the store; ignored on insert.
    #[serde(default)]
    pub id: i64,
    /// The incident it joined, when any.
    pub incident_id: Option<String>,
    /// When it was detected (wall clock), unix seconds; retention uses this.
    pub seen: i64,
    /// When the request was logged (RFC 3339, the log's zone), when known.
    pub ts: Option<String>,
    /// The file or listener the line came from.
    pub source: String,
    /// The line number there.
    pub line: u64,
    /// Client address.
    pub client: Option<String>,
    /// The request line.
    pub request: String,
    /// Response status.
    pub status: Option<u16>,
    /// Anomaly score, 0..1.
    pub score: f64,
    /// Why the record scored high.
    pub explanation: Vec<ExplanationItem>,
}

/// Traffic of one minute, for the dashboard charts. Points for the same minute merge.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Start of the minute, unix seconds (rounded down to a multiple of 60 on write).
    pub minute: i64,
    /// Requests scored.
    pub requests: u64,
    /// Responses with a 4xx status.
    pub errors_4xx: u64,
    /// Responses with a 5xx status.
    pub errors_5xx: u64,
    /// Records flagged as anomalous.
    pub anomalies: u64,
    /// Mean score of the scored requests.
    pub mean_score: f64,
    /// Highest score.
    pub max_score: f64,
}

/// Which incidents to list. Results are newest first (by `last_seen`, then id).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IncidentQuery {
    /// Page size; clamped to 1..=[`IncidentQuery::MAX_LIMIT`], 0 means the default 50.
    pub limit: usize,
    /// Number of matching incidents to skip.
    pub offset: usize,
    /// Only incidents seen at or after this time (unix seconds, on `last_seen`).
    pub since: Option<i64>,
    /// Only incidents of at least this severity.
    pub severity: Option<Severity>,
    /// Only this category.
    pub category: Option<String>,
    /// Only this client.
    pub client: Option<String>,
    /// Only open or only closed incidents.
    pub status: Option<Status>,
}

impl IncidentQuery {
    /// Largest page size.
    pub const MAX_LIMIT: usize = 500;
    /// Page size when none is given.
    pub const DEFAULT_LIMIT: usize = 50;

    /// The page size actually used.
    pub fn effective_limit(&self) -> usize {
        match self.limit {
            0 => Self::DEFAULT_LIMIT,
            n => n.min(Self::MAX_LIMIT),
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Number of rows matching the query over all pages.
    pub total: u64,
    /// The page size used.
    pub limit: usize,
    /// The offset used.
    pub offset: usize,
}

/// What [`crate::Store::enforce_retention`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RetentionReport {
    /// Incidents deleted.
    pub incidents: u64,
    /// Anomalies deleted.
    pub anomalies: u64,
    /// Series minutes deleted.
    pub series: u64,
}
