//! Keeping what the daemon sees in the incident store (SQLite or PostgreSQL) behind the dashboard and the API.
//!
//! Three paths lead there:
//! - incident events go through [`StoreSink`], an alert sink like the others, so they
//!   get the daemon's durable outbox and retries: an incident reaches the database
//!   even when the disk was full for a while;
//! - anomalies and per-minute series points go from the scorer through [`StoreFeed`]
//!   (a bounded channel that never blocks scoring) to one writer thread that batches
//!   them into transactions and applies retention;
//! - the sink tells the writer which incident each client and category currently
//!   belongs to ([`IncidentLinks`]), so stored anomalies point at their incident.
//!
//! Store errors are reported on stderr (at most once a minute) and counted in
//! [`StoreStats`]; scoring goes on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anomalog_server::{
    AnomalyRow, Batch, IncidentQuery, IncidentRow, IncidentStore, Sample, SeriesPoint, Severity,
    Status,
};
use anomalog_watch::SinkError;
use anomalog_watch::incident::{self, Anomaly, EventKind, IncidentEvent};
use anomalog_watch::sink::Sink;

/// Anomaly rows the writer thread may hold before the feed drops (and counts) more.
const QUEUE: usize = 10_000;
/// How often the writer commits what it has.
const WRITE_EVERY: Duration = Duration::from_secs(1);
/// Most incident events the store sink writes in one transaction.
const EVENTS_PER_WRITE: usize = 1000;
/// How long an anomaly waits for its incident's id before it is stored without one.
const LINK_WAIT: Duration = Duration::from_secs(5);
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// Least time between two store error messages on stderr.
const ERROR_REPORT_EVERY: Duration = Duration::from_secs(60);

/// Counters of the store side, served on `/metrics`.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// Anomaly rows written.
    pub anomalies_written: AtomicU64,
    /// Incident rows written (inserts and updates).
    pub incidents_written: AtomicU64,
    /// Series points written.
    pub series_written: AtomicU64,
    /// Failed writes (each loses its batch of anomalies and series points; incident
    /// writes are retried by the outbox).
    pub write_errors: AtomicU64,
    /// Rows dropped because the writer was behind.
    pub dropped: AtomicU64,
    /// Anomaly rows not stored because their incident had many already (see
    /// [`Thinning`]).
    pub thinned: AtomicU64,
}

impl StoreStats {
    /// The counters in the Prometheus text format.
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        for (name, help, c) in [
            ("store_anomalies_written_total", "Anomaly rows stored.", &self.anomalies_written),
            ("store_incidents_written_total", "Incident rows stored.", &self.incidents_written),
            ("store_series_written_total", "Series points stored.", &self.series_written),
            ("store_write_errors_total", "Failed store writes.", &self.write_errors),
            ("store_dropped_total", "Rows dropped: the store writer was behind.", &self.dropped),
            (
                "store_anomalies_thinned_total",
                "Anomaly rows not stored: their incident had many stored already.",
                &self.thinned,
            ),
        ] {
            out.push_str(&format!(
                "# HELP anomalog_{name} {help}\n# TYPE anomalog_{name} counter\nanomalog_{name} {}\n",
                c.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

/// Which incident each (client, category) belongs to now, as the incident events said.
#[derive(Debug, Default)]
pub struct IncidentLinks(Mutex<HashMap<(Option<String>, String), String>>);

impl IncidentLinks {
    /// Links seeded with the incidents the store holds as open (after a restart, the
    /// daemon resumes them).
    pub fn from_store(store: &dyn IncidentStore) -> IncidentLinks {
        let links = IncidentLinks::default();
        let query = IncidentQuery {
            status: Some(Status::Open),
            limit: IncidentQuery::MAX_LIMIT,
            ..IncidentQuery::default()
        };
        if let Ok(page) = store.list_incidents(&query) {
            let mut map = links.lock();
            for i in page.items {
                map.insert((i.client, i.category), i.id);
            }
        }
        links
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Option<String>, String), String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The incident of an anomaly from `client` in `category`: a site-wide category's
    /// incident has no client, whichever client's request showed it.
    fn get(&self, client: &Option<String>, category: &str) -> Option<String> {
        let key = (incident::grouping_client(client, category), category.to_string());
        self.lock().get(&key).cloned()
    }

    fn apply(&self, event: &IncidentEvent) {
        let inc = &event.incident;
        let key = (inc.client.clone(), inc.category.clone());
        let mut map = self.lock();
        match event.event {
            EventKind::Opened | EventKind::Updated => {
                map.insert(key, inc.id.clone());
            }
            EventKind::Closed => {
                if map.get(&key) == Some(&inc.id) {
                    map.remove(&key);
                }
            }
        }
    }
}

/// Writes every incident event into the store (upsert by incident id).
pub struct StoreSink {
    store: Arc<dyn IncidentStore>,
    links: Arc<IncidentLinks>,
    stats: Arc<StoreStats>,
}

impl StoreSink {
    /// A sink writing to `store` and keeping `links` current.
    pub fn new(
        store: Arc<dyn IncidentStore>,
        links: Arc<IncidentLinks>,
        stats: Arc<StoreStats>,
    ) -> StoreSink {
        StoreSink { store, links, stats }
    }
}

impl Sink for StoreSink {
    fn name(&self) -> &str {
        "store"
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        self.links.apply(event);
        match self.store.upsert_incident(&incident_row(event)) {
            Ok(()) => {
                self.stats.incidents_written.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
                Err(SinkError::Retryable(e.to_string()))
            }
        }
    }

    fn batch_limit(&self) -> usize {
        EVENTS_PER_WRITE
    }

    /// Writes the events in one transaction. An incident with several events in the
    /// batch (opened, then updated or closed) is written once, as its last event left
    /// it: an upsert replaces every column the daemon knows, so the earlier rows would
    /// only be overwritten.
    fn deliver_batch(&mut self, events: &[IncidentEvent]) -> Result<(), SinkError> {
        for event in events {
            self.links.apply(event);
        }
        let rows = latest_rows(events);
        match self.store.write(&Batch { incidents: &rows, ..Batch::default() }) {
            Ok(()) => {
                self.stats.incidents_written.fetch_add(rows.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
                Err(SinkError::Retryable(e.to_string()))
            }
        }
    }
}

/// One row per incident of `events`, from its last event, in the order of those last
/// events.
fn latest_rows(events: &[IncidentEvent]) -> Vec<IncidentRow> {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        last.insert(event.incident.id.as_str(), i);
    }
    events
        .iter()
        .enumerate()
        .filter(|(i, e)| last.get(e.incident.id.as_str()) == Some(i))
        .map(|(_, e)| incident_row(e))
        .collect()
}

/// An incident event as a store row.
pub fn incident_row(event: &IncidentEvent) -> IncidentRow {
    let inc = &event.incident;
    IncidentRow {
        id: inc.id.clone(),
        client: inc.client.clone(),
        category: inc.category.clone(),
        severity: match inc.severity {
            incident::Severity::Low => Severity::Low,
            incident::Severity::Medium => Severity::Medium,
            incident::Severity::High => Severity::High,
            incident::Severity::Critical => Severity::Critical,
        },
        first_seen: inc.first_seen.div_euclid(1000),
        last_seen: inc.last_seen.div_euclid(1000),
        count: inc.count,
        max_score: inc.max_score,
        samples: inc
            .samples
            .iter()
            .map(|s| Sample {
                ts: s.ts.map(|t| t.to_string()),
                request: s.request.clone(),
                status: s.status,
                score: s.score,
                source: s.source.clone(),
                line: s.line,
            })
            .collect(),
        explanation: inc.explanation.iter().map(explanation_item).collect(),
        status: match event.event {
            EventKind::Closed => Status::Closed,
            EventKind::Opened | EventKind::Updated => Status::Open,
        },
        feedback: None,
    }
}

fn explanation_item(e: &incident::ExplanationItem) -> anomalog_server::ExplanationItem {
    anomalog_server::ExplanationItem {
        feature: e.feature.clone(),
        value: e.value,
        typical: e.typical,
        contribution: e.contribution,
    }
}

enum Message {
    /// Anomaly rows of one scored batch, each with its category (which, with the
    /// client, finds its incident).
    Anomalies(Vec<Pending>),
}

/// An anomaly's store row, made by [`StoreFeed::row`].
pub struct StoreRow(Pending);

/// An anomaly row waiting for its incident's id.
struct Pending {
    since: Instant,
    category: String,
    row: AnomalyRow,
}

/// Requests counted per minute, shared between the scorer (adding) and the writer
/// (taking what is there every second, so the chart follows even when traffic stops).
#[derive(Debug, Default)]
struct Series {
    /// Finished minutes not yet taken, then the current one last.
    points: Vec<SeriesPoint>,
    /// Sum of the scores of the last point's requests (its mean is computed on take).
    score_sum: f64,
}

impl Series {
    fn take(&mut self) -> Vec<SeriesPoint> {
        if let Some(last) = self.points.last_mut() {
            last.mean_score = self.score_sum / last.requests.max(1) as f64;
        }
        self.score_sum = 0.0;
        std::mem::take(&mut self.points)
    }
}

/// The scorer's side of the store: counts the series of the current minute and
/// queues anomalies, never blocking.
pub struct StoreFeed {
    tx: SyncSender<Message>,
    stats: Arc<StoreStats>,
    series: Arc<Mutex<Series>>,
    /// Rows sent and not yet taken by the writer.
    queued: Arc<AtomicUsize>,
    /// Rows queued since the last [`StoreFeed::flush`].
    batch: Vec<Pending>,
}

impl StoreFeed {
    /// Counts scored requests (status, score, flagged) in the current minute, reading
    /// the clock and taking the lock once for all of them.
    pub fn count_all(&mut self, requests: impl IntoIterator<Item = (Option<u16>, f64, bool)>) {
        let minute = now_secs().div_euclid(60) * 60;
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        if series.points.last().is_none_or(|p| p.minute != minute) {
            let sum = std::mem::take(&mut series.score_sum);
            if let Some(last) = series.points.last_mut() {
                last.mean_score = sum / last.requests.max(1) as f64;
            }
            series.points.push(SeriesPoint { minute, ..SeriesPoint::default() });
        }
        let Series { points, score_sum } = &mut *series;
        let Some(p) = points.last_mut() else { return };
        for (status, score, flagged) in requests {
            let score = if score.is_finite() { score } else { 0.0 };
            *score_sum += score;
            p.requests += 1;
            match status {
                Some(400..=499) => p.errors_4xx += 1,
                Some(500..=599) => p.errors_5xx += 1,
                _ => {}
            }
            if flagged {
                p.anomalies += 1;
            }
            p.max_score = p.max_score.max(score);
        }
    }

    /// The store row of an anomaly, made on any thread for [`StoreFeed::push`].
    pub fn row(a: &Anomaly) -> StoreRow {
        let row = AnomalyRow {
            id: 0,
            incident_id: None,
            seen: now_secs(),
            ts: a.ts.map(|t| t.to_string()),
            source: a.source.clone(),
            line: a.line,
            client: a.client.clone(),
            request: a.request.clone(),
            status: a.status,
            score: a.score,
            explanation: a.explanation.iter().map(explanation_item).collect(),
        };
        StoreRow(Pending { since: Instant::now(), category: a.category.clone(), row })
    }

    /// Queues an anomaly's row; [`StoreFeed::flush`] hands it to the writer.
    pub fn push(&mut self, row: StoreRow) {
        self.batch.push(row.0);
    }

    /// Hands the rows queued since the last call to the writer thread, in one message
    /// (one wake-up of the writer per scored batch, not one per row). Never blocks: the
    /// rows that do not fit in the writer's queue are dropped and counted.
    pub fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let room = QUEUE.saturating_sub(self.queued.load(Ordering::Relaxed));
        if self.batch.len() > room {
            let dropped = self.batch.len() - room;
            self.stats.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
            self.batch.truncate(room);
            if room == 0 {
                return;
            }
        }
        let n = self.batch.len();
        self.queued.fetch_add(n, Ordering::Relaxed);
        let rows = std::mem::replace(&mut self.batch, Vec::with_capacity(n));
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.tx.try_send(Message::Anomalies(rows))
        {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            self.stats.dropped.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// Retention settings of the writer.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Maximum age in seconds; 0 keeps everything.
    pub max_age_secs: u64,
    /// Rows kept per table.
    pub max_rows: usize,
    /// Anomalies of an incident stored in full before fewer are (see [`Thinning`]); 0
    /// stores them all.
    pub anomalies_per_incident: u64,
}

/// Incidents whose stored anomalies are counted: they move to the previous generation
/// after this long (or once this many are counted), and are forgotten one generation
/// later unless they had more anomalies meanwhile.
const THINNING_GENERATION: Duration = Duration::from_secs(600);
const THINNING_MAX_INCIDENTS: usize = 50_000;

/// Which anomalies of a large incident are stored. The first `full` of an incident
/// are, then as many again each time its count doubles: every second one from `2 x
/// full` on, every fourth from `4 x full`, and so on. A flood that is one incident (a
/// 5xx storm, a scanner) then adds rows with the logarithm of its size, so it neither
/// fills the disk nor has retention push every other anomaly out, while the incident
/// row keeps the exact count and the stored ones still reach its latest requests.
/// Counts start over when the daemon restarts, or after an incident was quiet for a
/// generation or two.
#[derive(Debug)]
struct Thinning {
    full: u64,
    current: HashMap<String, u64>,
    previous: HashMap<String, u64>,
    since: Instant,
}

impl Thinning {
    fn new(full: u64) -> Thinning {
        Thinning { full, current: HashMap::new(), previous: HashMap::new(), since: Instant::now() }
    }

    /// Counts one more anomaly of `incident`; whether to store it.
    fn keep(&mut self, incident: &str) -> bool {
        if self.full == 0 {
            return true;
        }
        if self.since.elapsed() >= THINNING_GENERATION
            || self.current.len() >= THINNING_MAX_INCIDENTS
        {
            self.previous = std::mem::take(&mut self.current);
            self.since = Instant::now();
        }
        let count = match self.current.get_mut(incident) {
            Some(count) => count,
            None => {
                let before = self.previous.remove(incident).unwrap_or(0);
                self.current.entry(incident.to_string()).or_insert(before)
            }
        };
        *count += 1;
        thinned_keeps(*count, self.full)
    }
}

/// Whether the `count`-th anomaly of an incident is stored (see [`Thinning`]).
fn thinned_keeps(count: u64, full: u64) -> bool {
    if count <= full {
        return true;
    }
    // The largest power of two at most count / full (which is at least 1).
    let step = 1u64 << (63 - (count / full).leading_zeros());
    count.is_multiple_of(step)
}

/// Starts the writer thread; it ends (after a last write) once the feed is dropped.
pub fn spawn_writer(
    store: Arc<dyn IncidentStore>,
    links: Arc<IncidentLinks>,
    stats: Arc<StoreStats>,
    retention: Retention,
) -> std::io::Result<(StoreFeed, JoinHandle<()>)> {
    // Each message holds at least one row, so the row limit bounds the messages too.
    let (tx, rx) = sync_channel(QUEUE);
    let series = Arc::new(Mutex::new(Series::default()));
    let queued = Arc::new(AtomicUsize::new(0));
    let feed = StoreFeed {
        tx,
        stats: Arc::clone(&stats),
        series: Arc::clone(&series),
        queued: Arc::clone(&queued),
        batch: Vec::new(),
    };
    let writer = Writer {
        store,
        links,
        stats,
        retention,
        thinning: Thinning::new(retention.anomalies_per_incident),
        series,
        queued,
        last_error: None,
    };
    let handle = std::thread::Builder::new().name("anomalog-store".into()).spawn(move || {
        // Rows wait in a bounded queue (what overflows is counted): scoring comes first.
        anomalog_watch::priority::lower_thread_priority();
        writer.run(&rx);
    })?;
    Ok((feed, handle))
}

struct Writer {
    store: Arc<dyn IncidentStore>,
    links: Arc<IncidentLinks>,
    stats: Arc<StoreStats>,
    retention: Retention,
    thinning: Thinning,
    series: Arc<Mutex<Series>>,
    /// Rows sent by the feed and not taken yet.
    queued: Arc<AtomicUsize>,
    last_error: Option<Instant>,
}

impl Writer {
    fn run(mut self, rx: &Receiver<Message>) {
        let mut waiting: Vec<Pending> = Vec::new();
        let mut last_write = Instant::now();
        let mut last_retention: Option<Instant> = None;
        loop {
            let open = match rx.recv_timeout(WRITE_EVERY) {
                Ok(Message::Anomalies(rows)) => {
                    self.queued.fetch_sub(rows.len(), Ordering::Relaxed);
                    waiting.extend(rows);
                    true
                }
                Err(RecvTimeoutError::Timeout) => true,
                Err(RecvTimeoutError::Disconnected) => false,
            };
            if !open || last_write.elapsed() >= WRITE_EVERY || waiting.len() >= 1000 {
                self.write(&mut waiting, !open);
                last_write = Instant::now();
            }
            if last_retention.is_none_or(|t| t.elapsed() >= RETENTION_EVERY) {
                self.retain();
                last_retention = Some(Instant::now());
            }
            if !open {
                return;
            }
        }
    }

    /// Writes the series and the anomalies whose incident is known (or that waited
    /// long enough, or all of them at the end), but those of large incidents that
    /// [`Thinning`] leaves out.
    fn write(&mut self, waiting: &mut Vec<Pending>, all: bool) {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut ready = Vec::new();
        let mut kept = Vec::with_capacity(waiting.len());
        let mut thinned = 0;
        for mut p in waiting.drain(..) {
            p.row.incident_id = self.links.get(&p.row.client, &p.category);
            match &p.row.incident_id {
                Some(id) if !self.thinning.keep(id) => thinned += 1,
                Some(_) => ready.push(p.row),
                None if all || p.since.elapsed() >= LINK_WAIT => ready.push(p.row),
                None => kept.push(p),
            }
        }
        *waiting = kept;
        self.stats.thinned.fetch_add(thinned, Ordering::Relaxed);
        if ready.is_empty() && series.is_empty() {
            return;
        }
        let batch = Batch { incidents: &[], anomalies: &ready, series: &series };
        match self.store.write(&batch) {
            Ok(()) => {
                self.stats.anomalies_written.fetch_add(ready.len() as u64, Ordering::Relaxed);
                self.stats.series_written.fetch_add(series.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
                self.report(&format!(
                    "cannot store {} anomalies and {} series points: {e}",
                    ready.len(),
                    series.len()
                ));
            }
        }
    }

    fn retain(&mut self) {
        if self.retention.max_age_secs == 0 && self.retention.max_rows == usize::MAX {
            return;
        }
        let age = match self.retention.max_age_secs {
            0 => u64::MAX / 2,
            n => n,
        };
        if let Err(e) = self.store.enforce_retention(age, self.retention.max_rows) {
            self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
            self.report(&format!("retention failed: {e}"));
        }
    }

    fn report(&mut self, message: &str) {
        if self.last_error.is_none_or(|t| t.elapsed() >= ERROR_REPORT_EVERY) {
            eprintln!("anomalog: store: {message} (scoring continues)");
            self.last_error = Some(Instant::now());
        }
    }
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use anomalog_server::Store;
    use anomalog_watch::incident::{IncidentConfig, IncidentTracker};

    use super::*;

    fn opened(category: &str, clients: &[&str]) -> Vec<IncidentEvent> {
        let mut t = IncidentTracker::new(IncidentConfig::default());
        clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let a = Anomaly {
                    ts: None,
                    source: "s".into(),
                    line: i as u64,
                    client: Some((*c).to_string()),
                    category: category.into(),
                    request: "GET /?id=1' OR 1=1".into(),
                    status: Some(200),
                    score: 0.9,
                    explanation: vec![],
                };
                t.observe(&a, 1_000_000 + i as i64)
            })
            .collect()
    }

    fn sink() -> (tempfile::TempDir, Arc<Store>, StoreSink, Arc<StoreStats>, Arc<IncidentLinks>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path().join("a.db")).unwrap());
        let links = Arc::new(IncidentLinks::default());
        let stats = Arc::new(StoreStats::default());
        let sink = StoreSink::new(
            Arc::clone(&store) as Arc<dyn IncidentStore>,
            Arc::clone(&links),
            Arc::clone(&stats),
        );
        (dir, store, sink, stats, links)
    }

    #[test]
    fn a_batch_stores_what_one_event_at_a_time_stores() {
        let mut events = opened("sqli", &["10.0.0.1", "10.0.0.2"]);
        let mut closed = events[0].clone();
        closed.event = EventKind::Closed;
        closed.incident.count = 5;
        events.push(closed);

        let (_d1, one_store, mut one, _, one_links) = sink();
        for e in &events {
            one.deliver(e).unwrap();
        }
        let (_d2, batch_store, mut batch, stats, links) = sink();
        assert_eq!(batch.batch_limit(), EVENTS_PER_WRITE);
        batch.deliver_batch(&events).unwrap();

        // The incident opened and closed in the batch is written once, closed.
        assert_eq!(stats.incidents_written.load(Ordering::Relaxed), 2);
        for e in &events[..2] {
            let id = &e.incident.id;
            let got = batch_store.get_incident(id).unwrap().unwrap();
            assert_eq!(got, one_store.get_incident(id).unwrap().unwrap());
        }
        let first = batch_store.get_incident(&events[0].incident.id).unwrap().unwrap();
        assert_eq!((first.status, first.count), (Status::Closed, 5));
        // The links know only the incident still open.
        for l in [&links, &one_links] {
            assert_eq!(l.get(&Some("10.0.0.1".into()), "sqli"), None);
            assert_eq!(
                l.get(&Some("10.0.0.2".into()), "sqli"),
                Some(events[1].incident.id.clone())
            );
        }
    }

    #[test]
    fn the_feed_sends_a_batch_at_once_and_drops_what_does_not_fit() {
        let (tx, rx) = sync_channel(QUEUE);
        let stats = Arc::new(StoreStats::default());
        let queued = Arc::new(AtomicUsize::new(0));
        let mut feed = StoreFeed {
            tx,
            stats: Arc::clone(&stats),
            series: Arc::default(),
            queued: Arc::clone(&queued),
            batch: Vec::new(),
        };
        let anomaly = |line: u64| Anomaly {
            ts: None,
            source: "s".into(),
            line,
            client: Some("10.0.0.1".into()),
            category: "sqli".into(),
            request: "GET /".into(),
            status: Some(200),
            score: 0.9,
            explanation: vec![],
        };
        // Nobody takes the messages: the first two batches fit, the third in part.
        let mut line = 0;
        for size in [6_000, 3_000, 1_500, 10] {
            for _ in 0..size {
                line += 1;
                feed.push(StoreFeed::row(&anomaly(line)));
            }
            feed.flush();
        }
        feed.flush();
        let sizes: Vec<(usize, u64)> =
            rx.try_iter().map(|Message::Anomalies(rows)| (rows.len(), rows[0].row.line)).collect();
        assert_eq!(sizes, vec![(6_000, 1), (3_000, 6_001), (1_000, 9_001)]);
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 500 + 10);
        assert_eq!(queued.load(Ordering::Relaxed), QUEUE);
    }

    #[test]
    fn large_incidents_store_as_many_anomalies_again_each_time_they_double() {
        let kept = |n: u64, full: u64| (1..=n).filter(|&c| thinned_keeps(c, full)).count();
        assert_eq!(kept(100, 100), 100);
        assert_eq!(kept(200, 100), 200);
        assert_eq!(kept(400, 100), 300);
        assert_eq!(kept(800, 100), 400);
        // 1,999 in full, 1,000 for each of the next 8 doublings, then every 512th.
        assert_eq!(kept(1_000_000, 1000), 10_953);
        // Every second one from 2 x full, every fourth from 4 x full.
        assert!(!thinned_keeps(201, 100) && thinned_keeps(202, 100));
        assert!(!thinned_keeps(402, 100) && thinned_keeps(404, 100));

        let mut t = Thinning::new(2);
        let a: Vec<bool> = (0..8).map(|_| t.keep("a")).collect();
        assert_eq!(a, [true, true, true, true, false, true, false, true]);
        // Each incident is counted on its own, and 0 keeps everything.
        assert!(t.keep("b") && t.keep("b"));
        let mut all = Thinning::new(0);
        assert!((0..10_000).all(|_| all.keep("a")));
        assert!(all.current.is_empty());
    }

    #[test]
    fn the_writer_stores_fewer_anomalies_of_a_large_incident() {
        let opened = opened("site_incident", &["10.0.0.1"]).remove(0);
        let (_d, store, mut sink, stats, links) = sink();
        sink.deliver(&opened).unwrap();
        let retention =
            Retention { max_age_secs: 0, max_rows: usize::MAX, anomalies_per_incident: 2 };
        let (mut feed, writer) = spawn_writer(
            Arc::clone(&store) as Arc<dyn IncidentStore>,
            links,
            stats.clone(),
            retention,
        )
        .unwrap();
        for line in 1..=8 {
            feed.push(StoreFeed::row(&Anomaly {
                ts: None,
                source: "s".into(),
                line,
                client: Some(format!("10.0.0.{line}")),
                category: "site_incident".into(),
                request: "GET /".into(),
                status: Some(503),
                score: 0.9,
                explanation: vec![],
            }));
        }
        feed.flush();
        drop(feed);
        writer.join().unwrap();
        let stored = store.incident_anomalies(&opened.incident.id, 100).unwrap();
        let lines: Vec<u64> = stored.iter().map(|a| a.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 6, 8]);
        assert_eq!(stats.thinned.load(Ordering::Relaxed), 2);
        assert_eq!(stats.anomalies_written.load(Ordering::Relaxed), 6);
        assert!(stats.render_prometheus().contains("anomalog_store_anomalies_thinned_total 2"));
    }

    #[test]
    fn anomalies_of_any_client_link_to_the_site_wide_incident() {
        let opened = opened("site_incident", &["10.0.0.1"]).remove(0);
        let (_d, _store, mut sink, _, links) = sink();
        sink.deliver(&opened).unwrap();
        for client in ["10.0.0.1", "10.0.0.2"] {
            assert_eq!(
                links.get(&Some(client.into()), "site_incident"),
                Some(opened.incident.id.clone())
            );
        }
        assert_eq!(links.get(&Some("10.0.0.1".into()), "sqli"), None);
    }
}
