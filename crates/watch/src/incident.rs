//! Grouping anomalous records into incidents.
//!
//! Anomalies from one client in one category belong to one incident while they keep
//! coming; a site-wide category ([`SITE_WIDE_CATEGORIES`]) is one incident for the whole
//! site, whichever clients' requests show it (a 5xx storm is one incident, not one per
//! client that happened to be served during it). The first anomaly opens it (one [`EventKind::Opened`] event), later ones update it
//! silently, with an [`EventKind::Updated`] event at most every `update_interval_secs`
//! or at once when the severity rises, and an [`EventKind::Closed`] event once
//! `window_secs` pass without a new anomaly. The tracker works on wall-clock
//! milliseconds passed in by the caller, so it is deterministic under test, and its
//! state can be saved with the source positions and restored after a restart.
//!
//! The state is saved as a journal ([`IncidentTracker::take_journal`]): each save
//! writes only the incidents that changed since the one before, so a checkpoint costs
//! what changed, not what is open (ten thousand open incidents are megabytes of JSON).

use std::collections::{BTreeMap, BTreeSet};

use anomalog_ingest::Timestamp;
use serde::{Deserialize, Serialize};

use crate::time::{ms_rfc3339, opt_timestamp};

/// One item of an explanation: a feature, its value, what is typical, and how much it
/// contributed to the score.
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

/// One anomalous record, as the scorer reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// When the request was logged.
    #[serde(with = "opt_timestamp")]
    pub ts: Option<Timestamp>,
    /// The file or listener the line came from (filled in by the daemon).
    pub source: String,
    /// The line number there (filled in by the daemon).
    pub line: u64,
    /// Client address.
    pub client: Option<String>,
    /// What kind of anomaly (`sqli`, `scan`, `error_burst`, `anomaly`).
    pub category: String,
    /// The request (`GET /a?b HTTP/1.1`).
    pub request: String,
    /// Response status.
    pub status: Option<u16>,
    /// Anomaly score, 0..1.
    pub score: f64,
    /// Why the record scored high.
    pub explanation: Vec<ExplanationItem>,
}

/// How bad an incident is.
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
    /// From the highest score and the number of anomalous requests: the score gives
    /// the base level (below 0.8 low, below 0.9 medium, below 0.97 high, else
    /// critical), and volume raises it one level from 10 requests and two from 100.
    pub fn from_score_and_count(max_score: f64, count: u64) -> Severity {
        let base = match max_score {
            s if s >= 0.97 => 3,
            s if s >= 0.9 => 2,
            s if s >= 0.8 => 1,
            _ => 0,
        };
        let bonus = match count {
            c if c >= 100 => 2,
            c if c >= 10 => 1,
            _ => 0,
        };
        match base + bonus {
            0 => Severity::Low,
            1 => Severity::Medium,
            2 => Severity::High,
            _ => Severity::Critical,
        }
    }

    /// Lowercase name (`high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A request kept as an example of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When it was logged.
    #[serde(with = "opt_timestamp")]
    pub ts: Option<Timestamp>,
    /// The request line.
    pub request: String,
    /// Response status.
    pub status: Option<u16>,
    /// Its score.
    pub score: f64,
    /// Source and line it came from.
    pub source: String,
    /// Line number in the source.
    pub line: u64,
}

/// Categories that describe the whole site rather than the client whose request shows
/// them: their anomalies are grouped by category alone, into incidents without a client.
pub const SITE_WIDE_CATEGORIES: &[&str] = &["site_incident"];

/// Whether `category` is grouped for the whole site ([`SITE_WIDE_CATEGORIES`]).
pub fn is_site_wide(category: &str) -> bool {
    SITE_WIDE_CATEGORIES.contains(&category)
}

/// The client an anomaly of `client` in `category` is grouped by: itself, or none for a
/// site-wide category. With the category, it is the key of the open incident.
pub fn grouping_client(client: &Option<String>, category: &str) -> Option<String> {
    if is_site_wide(category) { None } else { client.clone() }
}

/// Anomalies of one client and category close together in time (of one site-wide
/// category, from any client).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable id: a hash of client, category and the record that opened it
    /// ([`incident_id`]).
    pub id: String,
    /// Client address, when known; `None` for a site-wide category.
    pub client: Option<String>,
    /// Category of the anomalies.
    pub category: String,
    /// Current severity.
    pub severity: Severity,
    /// When the first anomaly was seen (wall clock of the daemon).
    #[serde(with = "ms_rfc3339")]
    pub first_seen: i64,
    /// When the latest anomaly was seen.
    #[serde(with = "ms_rfc3339")]
    pub last_seen: i64,
    /// Number of anomalous requests.
    pub count: u64,
    /// Highest score.
    pub max_score: f64,
    /// The first few requests.
    pub samples: Vec<Sample>,
    /// Explanation of the highest-scoring request.
    pub explanation: Vec<ExplanationItem>,
}

impl Incident {
    /// A one-line summary for people (`[HIGH] sqli from 203.0.113.7: 12 requests, max
    /// score 0.97`).
    pub fn summary(&self) -> String {
        format!(
            "[{}] {} from {}: {} request{}, max score {:.2}",
            self.severity.as_str().to_uppercase(),
            self.category,
            self.client.as_deref().unwrap_or(if is_site_wide(&self.category) {
                "the whole site"
            } else {
                "unknown client"
            }),
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.max_score
        )
    }

    /// A few lines for people: the summary, time span, top explanation items, samples.
    pub fn description(&self) -> String {
        let mut text = format!(
            "{}\nincident {} first seen {}, last seen {}",
            self.summary(),
            self.id,
            crate::time::rfc3339(self.first_seen),
            crate::time::rfc3339(self.last_seen)
        );
        if !self.explanation.is_empty() {
            text.push_str("\nwhy:");
            for item in self.explanation.iter().take(3) {
                let show = |v: Option<f64>| v.map_or("missing".to_string(), |v| format!("{v:.3}"));
                text.push_str(&format!(
                    "\n  {} = {} (typical {}, contribution {:.2})",
                    item.feature,
                    show(item.value),
                    show(item.typical),
                    item.contribution
                ));
            }
        }
        for s in &self.samples {
            let status = s.status.map_or("-".to_string(), |c| c.to_string());
            text.push_str(&format!("\n  {} -> {status} (score {:.2})", s.request, s.score));
        }
        text
    }
}

/// What happened to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// First anomaly of a new incident.
    Opened,
    /// More anomalies, or a higher severity.
    Updated,
    /// No anomaly for the window: the incident is over.
    Closed,
}

/// An incident event: what alert sinks deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    /// What happened.
    pub event: EventKind,
    /// When it happened (wall clock of the daemon).
    #[serde(with = "ms_rfc3339")]
    pub at: i64,
    /// The incident as of this event.
    pub incident: Incident,
}

/// Settings of the incident tracker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentConfig {
    /// An incident closes after this many seconds without a new anomaly.
    pub window_secs: u64,
    /// Updates of one incident are sent at most this often (severity increases at once).
    pub update_interval_secs: u64,
    /// At most this many incidents are open; beyond, the least recently active closes.
    pub max_open: usize,
    /// Requests kept as samples per incident.
    pub max_samples: usize,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        IncidentConfig {
            window_secs: 300,
            update_interval_secs: 60,
            max_open: 10_000,
            max_samples: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Open {
    incident: Incident,
    last_emit: i64,
    emitted_severity: Severity,
    /// Changed since the last event.
    dirty: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TrackerState {
    open: Vec<Open>,
}

type Key = (Option<String>, String);

/// One line of the journal, as written: an incident as it is now, or the key of one
/// that closed.
#[derive(Serialize)]
enum EntryRef<'a> {
    #[serde(rename = "set")]
    Set(&'a Open),
    #[serde(rename = "del")]
    Del(&'a Key),
}

/// One line of the journal, as read back.
#[derive(Deserialize)]
enum Entry {
    #[serde(rename = "set")]
    Set(Box<Open>),
    #[serde(rename = "del")]
    Del(Key),
}

/// Groups anomalies into incidents; see the module documentation.
#[derive(Debug)]
pub struct IncidentTracker {
    config: IncidentConfig,
    open: BTreeMap<Key, Open>,
    /// Events produced outside `tick` (closings forced by the cap), handed out by it.
    pending: Vec<IncidentEvent>,
    /// Whether the state changed since the last [`IncidentTracker::take_changed`].
    changed: bool,
    /// Incidents opened, changed or closed since the last
    /// [`IncidentTracker::take_journal`].
    touched: BTreeSet<Key>,
    /// The open incidents by last activity, so the cap closes the least recent one
    /// without a scan of all of them.
    by_seen: BTreeSet<(i64, Key)>,
}

impl IncidentTracker {
    /// An empty tracker.
    pub fn new(config: IncidentConfig) -> IncidentTracker {
        IncidentTracker {
            config,
            open: BTreeMap::new(),
            pending: Vec::new(),
            changed: false,
            touched: BTreeSet::new(),
            by_seen: BTreeSet::new(),
        }
    }

    /// Whether the state changed since the last [`IncidentTracker::take_changed`].
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Whether the state changed since the last call, so that a checkpoint saves the
    /// snapshot only when there is something new in it.
    pub fn take_changed(&mut self) -> bool {
        std::mem::replace(&mut self.changed, false)
    }

    /// Number of open incidents.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// The open incidents, by client and category.
    pub fn open_incidents(&self) -> impl Iterator<Item = &Incident> {
        self.open.values().map(|o| &o.incident)
    }

    /// Takes one anomaly seen at `now` (ms since the epoch); returns the event to send,
    /// if any.
    pub fn observe(&mut self, a: &Anomaly, now: i64) -> Option<IncidentEvent> {
        self.changed = true;
        let sample = || Sample {
            ts: a.ts,
            request: a.request.clone(),
            status: a.status,
            score: a.score,
            source: a.source.clone(),
            line: a.line,
        };
        let key = (grouping_client(&a.client, &a.category), a.category.clone());
        if let Some(open) = self.open.get_mut(&key) {
            let inc = &mut open.incident;
            if now > inc.last_seen {
                let mut entry = (inc.last_seen, key);
                self.by_seen.remove(&entry);
                entry.0 = now;
                self.touched.insert(entry.1.clone());
                self.by_seen.insert(entry);
            } else {
                self.touched.insert(key);
            }
            inc.count += 1;
            inc.last_seen = inc.last_seen.max(now);
            if a.score > inc.max_score {
                inc.max_score = a.score;
                inc.explanation = a.explanation.clone();
            }
            if inc.samples.len() < self.config.max_samples {
                inc.samples.push(sample());
            }
            inc.severity = Severity::from_score_and_count(inc.max_score, inc.count);
            open.dirty = true;
            let interval = secs_to_ms(self.config.update_interval_secs);
            if inc.severity > open.emitted_severity || now - open.last_emit >= interval {
                return Some(emit(open, EventKind::Updated, now));
            }
            return None;
        }
        if self.open.len() >= self.config.max_open.max(1) {
            self.evict_oldest(now);
        }
        let incident = Incident {
            id: incident_id(a),
            client: key.0.clone(),
            category: a.category.clone(),
            severity: Severity::from_score_and_count(a.score, 1),
            first_seen: now,
            last_seen: now,
            count: 1,
            max_score: a.score,
            samples: if self.config.max_samples > 0 { vec![sample()] } else { Vec::new() },
            explanation: a.explanation.clone(),
        };
        let mut open =
            Open { emitted_severity: incident.severity, incident, last_emit: now, dirty: false };
        let event = emit(&mut open, EventKind::Opened, now);
        self.touched.insert(key.clone());
        self.by_seen.insert((now, key.clone()));
        self.open.insert(key, open);
        Some(event)
    }

    fn evict_oldest(&mut self, now: i64) {
        // The least recent, and of equally recent ones the first by key.
        let oldest = self.by_seen.pop_first().map(|(_, key)| key);
        if let Some((key, mut open)) = oldest.and_then(|k| self.open.remove_entry(&k)) {
            self.pending.push(emit(&mut open, EventKind::Closed, now));
            self.touched.insert(key);
        }
    }

    /// Closes incidents quiet for the window and sends updates held back by the
    /// interval; call it regularly (every loop of the daemon).
    pub fn tick(&mut self, now: i64) -> Vec<IncidentEvent> {
        let mut events = std::mem::take(&mut self.pending);
        let window = secs_to_ms(self.config.window_secs);
        let interval = secs_to_ms(self.config.update_interval_secs);
        let mut closed = Vec::new();
        for (key, open) in &mut self.open {
            if now - open.incident.last_seen >= window {
                closed.push(key.clone());
            } else if open.dirty && now - open.last_emit >= interval {
                events.push(emit(open, EventKind::Updated, now));
                self.touched.insert(key.clone());
            }
        }
        for key in closed {
            if let Some(mut open) = self.open.remove(&key) {
                events.push(emit(&mut open, EventKind::Closed, now));
                let entry = (open.incident.last_seen, key);
                self.by_seen.remove(&entry);
                self.touched.insert(entry.1);
            }
        }
        self.changed |= !events.is_empty();
        events
    }

    /// The open incidents and their alerting state, to store with the checkpoint.
    pub fn snapshot(&self) -> serde_json::Value {
        let state = TrackerState { open: self.open.values().cloned().collect() };
        serde_json::to_value(&state).unwrap_or(serde_json::Value::Null)
    }

    /// Restores a state saved by [`IncidentTracker::snapshot`] (the checkpoint format
    /// before the journal); a state of another shape is ignored (incidents then start
    /// afresh).
    pub fn restore(&mut self, state: &serde_json::Value) {
        if let Ok(state) = serde_json::from_value::<TrackerState>(state.clone()) {
            self.open = state
                .open
                .into_iter()
                .map(|o| ((o.incident.client.clone(), o.incident.category.clone()), o))
                .collect();
            self.index();
        }
    }

    /// Appends to `out` one journal line (JSON, newline-terminated) per incident opened,
    /// changed or closed since the last call: replaying the lines of every call in order
    /// with [`IncidentTracker::replay_journal`] restores the state.
    pub fn take_journal(&mut self, out: &mut Vec<u8>) {
        for key in std::mem::take(&mut self.touched) {
            let entry = match self.open.get(&key) {
                Some(open) => EntryRef::Set(open),
                None => EntryRef::Del(&key),
            };
            write_entry(out, &entry);
        }
    }

    /// Appends to `out` the whole state as journal lines (one per open incident), to
    /// start a journal afresh; what changed before is then in it.
    pub fn full_journal(&mut self, out: &mut Vec<u8>) {
        self.touched.clear();
        for open in self.open.values() {
            write_entry(out, &EntryRef::Set(open));
        }
    }

    /// Applies journal lines written by [`IncidentTracker::take_journal`] and
    /// [`IncidentTracker::full_journal`], in order. A line that cannot be read is
    /// skipped: the incident it describes then opens afresh.
    pub fn replay_journal(&mut self, journal: &[u8]) {
        for line in journal.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            match serde_json::from_slice::<Entry>(line) {
                Ok(Entry::Set(open)) => {
                    let key = (open.incident.client.clone(), open.incident.category.clone());
                    self.open.insert(key, *open);
                }
                Ok(Entry::Del(key)) => {
                    self.open.remove(&key);
                }
                Err(_) => {}
            }
        }
        self.index();
    }

    /// Rebuilds [`IncidentTracker::by_seen`] from the open incidents.
    fn index(&mut self) {
        self.by_seen =
            self.open.iter().map(|(key, o)| (o.incident.last_seen, key.clone())).collect();
    }
}

fn write_entry(out: &mut Vec<u8>, entry: &EntryRef<'_>) {
    // Serializing plain data into memory cannot fail.
    if serde_json::to_writer(&mut *out, entry).is_ok() {
        out.push(b'\n');
    }
}

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

fn emit(open: &mut Open, kind: EventKind, now: i64) -> IncidentEvent {
    open.last_emit = now;
    open.emitted_severity = open.incident.severity;
    open.dirty = false;
    IncidentEvent { event: kind, at: now, incident: open.incident.clone() }
}

/// The id of the incident that `opening` opens: a [`stable_hash`] of its client and
/// category and of the record itself (source, line and logged time), never of the
/// daemon's clock. A line re-read after a restart, or by another process of a Kafka
/// consumer group, opens an incident with the same id, so the store and the alert
/// receivers see one incident, not two; the logged time keeps the id unique when a
/// rotated file's line numbers start again.
pub fn incident_id(opening: &Anomaly) -> String {
    let ts = opening.ts.map_or(i64::MIN, |t| (t.unix_secs_f64() * 1000.0).round() as i64);
    stable_hash(&[
        opening.client.as_deref().unwrap_or("").as_bytes(),
        opening.category.as_bytes(),
        opening.source.as_bytes(),
        &opening.line.to_le_bytes(),
        &ts.to_le_bytes(),
    ])
}

/// FNV-1a (64 bits) of the parts, each followed by a separator byte, in hex: the same
/// for the same parts in every run and on every machine.
pub fn stable_hash(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests;
