//! The model behind the daemon: parses each line with the log format, scores it with
//! the trained pipeline, and turns flagged records into anomalies with their
//! explanation and category. Every scored line also feeds the per-minute series.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anomalog_features::stream::FeatureStream;
use anomalog_ingest::formats::{self, FormatOptions};
use anomalog_ingest::{Format, Framing, Record};
use anomalog_models::explain::Explanation;
use anomalog_pipeline::Model;
use anomalog_privacy::Privacy;
use anomalog_watch::incident::{Anomaly, ExplanationItem};
use anomalog_watch::source::LineBatch;
use anomalog_watch::{LineOutcome, LineScorer};
use anyhow::{Result, bail};

use anomalog_pipeline::drift::DriftReport;

use super::drift::{BackgroundDrift, DriftGauges, Judged, LiveDrift};
use super::judge::{CHUNK_LINES, Chunk, Judge, OVERLAP_LINES, Verdict, judge_batch};
use super::lifecycle::{DriftAlarm, Lifecycle, WindowLine};
use super::store::{StoreFeed, StoreRow};

/// Lines of a source sampled before `--format auto` settles on a format.
const DETECT_LINES: usize = 20;

/// A model loaded after a SIGHUP, waiting for the scorer to pick it up between two
/// lines. Loading happens on the signal thread, so scoring never waits for it.
#[derive(Debug, Default)]
pub struct ModelSlot {
    pending: AtomicBool,
    model: Mutex<Option<Model>>,
    /// Models swapped in since the start.
    pub reloads: AtomicU64,
    /// Reloads refused because the file could not be loaded.
    pub reload_failures: AtomicU64,
    /// The last drift report of the running model, for `/metrics`.
    pub drift: Arc<DriftGauges>,
}

impl ModelSlot {
    /// Hands a freshly loaded model to the scorer (replacing one not yet taken).
    pub fn offer(&self, model: Model) {
        *self.model.lock().unwrap_or_else(|p| p.into_inner()) = Some(model);
        self.pending.store(true, Ordering::Release);
    }

    fn take(&self) -> Option<Model> {
        // Checked before every line: a plain load keeps the common case a read.
        if !self.pending.load(Ordering::Relaxed) || !self.pending.swap(false, Ordering::Acquire) {
            return None;
        }
        self.model.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// How lines are parsed: one format for every source, or detected per source.
enum Formats {
    Fixed(Arc<dyn Format>),
    Auto(AutoFormats),
}

/// The detections of `--format auto`, by source. Consecutive lines nearly always come
/// from the same source (the daemon polls one source at a time), so the last one used
/// is checked first and most lines skip hashing the source name.
#[derive(Default)]
struct AutoFormats {
    detections: Vec<(String, Detection)>,
    index: HashMap<String, usize>,
    last: usize,
}

impl AutoFormats {
    fn detection(&mut self, source: &str) -> &mut Detection {
        let hit = self.detections.get(self.last).is_some_and(|(name, _)| name == source);
        if !hit {
            self.last = match self.index.get(source) {
                Some(&i) => i,
                None => {
                    self.detections.push((source.to_string(), Detection::default()));
                    self.index.insert(source.to_string(), self.detections.len() - 1);
                    self.detections.len() - 1
                }
            };
        }
        &mut self.detections[self.last].1
    }
}

/// `--format auto` for one source: the format that parses most of its first lines.
#[derive(Default)]
struct Detection {
    sample: Vec<Vec<u8>>,
    format: Option<Arc<dyn Format>>,
}

impl Detection {
    /// Whether the format can no longer change: the sample is complete.
    fn settled(&self) -> bool {
        self.sample.len() >= DETECT_LINES
    }

    /// The format for the next line, re-deciding while the sample is still small.
    fn format_for(&mut self, source: &str, line: &[u8]) -> Option<&dyn Format> {
        if self.sample.len() < DETECT_LINES && !line.trim_ascii().is_empty() {
            self.sample.push(line.to_vec());
            let sample: Vec<&[u8]> = self.sample.iter().map(Vec::as_slice).collect();
            let found = formats::detect(&sample, &FormatOptions::default())
                .filter(|f| f.framing() == Framing::Line);
            let changed = match (&found, &self.format) {
                (Some(new), Some(old)) => new.name() != old.name(),
                (Some(_), None) => true,
                _ => false,
            };
            if changed {
                if let Some(f) = &found {
                    eprintln!("anomalog: {source}: format {} (detected)", f.name());
                }
                self.format = found.map(Arc::from);
            }
        }
        self.format.as_deref()
    }
}

/// Checks a `format` setting and builds it (`None` for `auto`).
pub fn parse_format(spec: &str) -> Result<Option<Box<dyn Format>>> {
    if spec.trim() == "auto" {
        return Ok(None);
    }
    let format = formats::from_spec(spec, &FormatOptions::default())?;
    if format.framing() != Framing::Line {
        bail!("format `{spec}` spans several lines per record; watch reads one line per record");
    }
    Ok(Some(format))
}

/// Implements [`LineScorer`] with a trained [`Model`].
///
/// A batch is scored in two stages: the lines are parsed and pushed through the
/// feature windows in order (that part is sequential: each record is seen in the
/// context of those before it), and the detector stage ([`super::judge`]) scores
/// chunks of rows at once, on a second thread for a large batch, so the features of
/// one chunk are computed while the previous one is scored. Scores, flags and
/// explanations are the same as scoring line by line.
pub struct ModelScorer {
    // The daemon holds the scorer for its whole run and a SIGHUP swaps the model inside
    // it, while the feature stream borrows its model: each loaded model is therefore
    // leaked once (`Box::leak`) and lives until the process ends. A model is about a
    // megabyte and a reload is an operator's action, so what is kept is bounded by what
    // they do.
    model: &'static Model,
    stream: FeatureStream<'static>,
    formats: Formats,
    /// Pseudonymization and redaction of what is stored and alerted (scoring sees the
    /// raw record).
    privacy: Option<Privacy>,
    /// Drift of the live traffic from the model's training data.
    drift: BackgroundDrift,
    drift_window: u64,
    slot: Arc<ModelSlot>,
    feed: StoreFeed,
    /// The rows of the record being pushed, kept between batches for their allocations.
    rows: BatchRows,
    /// Retraining window, allow-list and drift alerts.
    lifecycle: Arc<Lifecycle>,
    alarm: DriftAlarm,
    /// Anomalies of no line (drift alerts) for the daemon.
    pending: Vec<Anomaly>,
}

/// The feature rows of the record being pushed, kept for their allocations.
#[derive(Default)]
struct BatchRows {
    raw_row: Vec<f64>,
    scaled_row: Vec<f64>,
}

impl ModelScorer {
    /// A scorer over `model`, parsing with `format` (`None`: detect per source),
    /// applying `privacy` to flagged records, taking reloaded models from `slot` and
    /// reporting to the store through `feed`.
    pub fn new(
        model: Model,
        format: Option<Box<dyn Format>>,
        privacy: Option<Privacy>,
        drift_window: u64,
        slot: Arc<ModelSlot>,
        feed: StoreFeed,
        lifecycle: Arc<Lifecycle>,
    ) -> ModelScorer {
        let formats = match format {
            Some(f) => Formats::Fixed(Arc::from(f)),
            None => Formats::Auto(AutoFormats::default()),
        };
        let model = leak(model);
        lifecycle.set_current(model);
        ModelScorer {
            model,
            stream: model.features.stream(),
            formats,
            privacy,
            drift: BackgroundDrift::new(
                LiveDrift::new(model, drift_window),
                Arc::clone(&slot.drift),
            ),
            drift_window,
            slot,
            feed,
            rows: BatchRows::default(),
            lifecycle,
            alarm: DriftAlarm::default(),
            pending: Vec::new(),
        }
    }

    fn swap_model(&mut self) {
        if let Some(model) = self.slot.take() {
            let model = leak(model);
            self.model = model;
            self.stream = model.features.stream();
            // The old model's last windows first.
            let mut reports = Vec::new();
            let drift = LiveDrift::new(model, self.drift_window);
            self.drift.replace(drift, &mut reports);
            self.drift_alerts(&reports);
            self.alarm = DriftAlarm::default();
            self.lifecycle.set_current(model);
            self.slot.reloads.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "anomalog: model reloaded: {} on {} records, threshold {:.4}",
                model.detector_name,
                model.training.records,
                model.threshold()
            );
        }
    }

    /// Waits for the drift monitor's thread, if running, and raises the alerts of the
    /// windows it closed.
    fn collect_drift(&mut self) {
        let mut reports = Vec::new();
        self.drift.collect(&mut reports);
        self.drift_alerts(&reports);
    }

    /// Raises the drift alerts of closed windows.
    fn drift_alerts(&mut self, reports: &[DriftReport]) {
        if reports.is_empty() {
            return;
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        for report in reports {
            self.pending.extend(self.alarm.window_closed(&self.lifecycle, report, now));
        }
    }
}

/// The anomaly of a flagged record at line `line` of `source`, pseudonymized and
/// redacted first when `privacy` is on.
fn anomaly_of(
    privacy: Option<&Privacy>,
    (source, line): (&str, u64),
    mut record: Record<'_>,
    score: f64,
    explanation: Vec<Explanation>,
    category: &str,
) -> Box<Anomaly> {
    if let Some(privacy) = privacy {
        privacy.apply_to_record(&mut record);
    }
    Box::new(Anomaly {
        ts: record.ts,
        source: source.to_string(),
        line,
        client: record.client.as_deref().map(str::to_string),
        category: category.to_string(),
        request: request_text(&record),
        status: record.status,
        score,
        explanation: explanation.into_iter().map(explanation_item).collect(),
    })
}

/// An explanation item as alerts and the store carry it: a missing value is `None`.
fn explanation_item(e: Explanation) -> ExplanationItem {
    ExplanationItem {
        feature: e.feature,
        value: e.value.is_finite().then_some(e.value),
        typical: e.typical.is_finite().then_some(e.typical),
        contribution: e.contribution,
    }
}

fn leak(model: Model) -> &'static Model {
    Box::leak(Box::new(model))
}

impl LineScorer for ModelScorer {
    fn score_line(&mut self, source: &str, line: &[u8]) -> LineOutcome {
        let mut batch = LineBatch::new();
        batch.push(&Arc::from(source), 0, line);
        let mut out = Vec::with_capacity(1);
        self.score_batch(&batch, &mut out);
        out.pop().unwrap_or(LineOutcome::Rejected("unknown_format"))
    }

    fn score_batch<'b>(&mut self, batch: &'b LineBatch, out: &mut Vec<LineOutcome>) {
        self.swap_model();
        let first = out.len();
        let (stream, formats, rows) = (&mut self.stream, &mut self.formats, &mut self.rows);
        let judge = Judge { model: self.model };
        let overlap = batch.len() >= OVERLAP_LINES;
        // A large batch's judged rows go to the drift monitor on a thread of its own, so
        // the batch does not wait for it; a small one's are fed here after the batch.
        let mut reports = Vec::new();
        let to_drift = if overlap { self.drift.start(&mut reports) } else { None };
        // The feature stage, in order: parse, update the windows, hand on full chunks.
        let features = |take: &mut dyn FnMut() -> Chunk,
                        hand: &mut dyn FnMut(Chunk, ChunkLines<'b>)| {
            let mut chunk = take();
            let mut lines = ChunkLines::default();
            for (i, (origin, line)) in batch.iter().enumerate() {
                let Some((format, settled)) = format_for(formats, &origin.origin, line) else {
                    out.push(LineOutcome::Rejected("unknown_format"));
                    continue;
                };
                match format.parse(line) {
                    Ok(record) => {
                        stream.push(&record, &mut rows.raw_row, &mut rows.scaled_row);
                        chunk.push(&rows.raw_row, &rows.scaled_row);
                        let at = (&*origin.origin, origin.line_no, line);
                        lines.push(ScoredLine::new(i, at, record, settled), format);
                        // Replaced below, once the chunk is judged.
                        out.push(LineOutcome::Normal { score: 0.0 });
                        if chunk.rows == CHUNK_LINES {
                            let full = std::mem::take(&mut lines);
                            hand(std::mem::replace(&mut chunk, take()), full);
                        }
                    }
                    Err(e) => out.push(LineOutcome::Rejected(e.reason.as_str())),
                }
            }
            if chunk.rows > 0 {
                hand(chunk, lines);
            }
        };
        // The flagged lines of each chunk become anomalies on the finisher's thread.
        let (privacy, lifecycle) = (self.privacy.as_ref(), &*self.lifecycle);
        let settle = |lines: &mut ChunkLines<'_>, verdicts: &mut [Verdict]| {
            lines.settle(verdicts, privacy, lifecycle);
        };
        let inline = Mutex::new(Vec::new());
        let take = &mut || self.drift.chunk();
        let judged = match to_drift {
            Some(to_drift) => {
                let feed = move |judged: Judged| {
                    // Fails only if the monitor's thread panicked; joining it says so.
                    let _ = to_drift.send(judged);
                };
                judge_batch(&judge, take, overlap, features, &settle, &feed)
            }
            None => {
                let feed = |judged: Judged| {
                    inline.lock().unwrap_or_else(|p| p.into_inner()).push(judged);
                };
                judge_batch(&judge, take, overlap, features, &settle, &feed)
            }
        };
        for judged in inline.into_inner().unwrap_or_else(|p| p.into_inner()) {
            self.drift.observe(judged, &mut reports);
        }
        self.drift_alerts(&reports);
        let retrain = self.lifecycle.retrain.enabled;
        let mut window = Vec::with_capacity(if retrain { batch.len() } else { 0 });
        let mut counts = Vec::with_capacity(batch.len());
        for (lines, verdicts) in judged {
            let mut flagged = lines.flagged.into_iter().peekable();
            for (k, (line, verdict)) in lines.lines.into_iter().zip(verdicts).enumerate() {
                let (category, anomaly) = match flagged.next_if(|f| f.at == k) {
                    Some(f) => (Some(f.category), f.anomaly),
                    None => (None, None),
                };
                if retrain {
                    window.push(WindowLine {
                        ts: line.ts,
                        line: Box::from(line.line),
                        flagged: anomaly.is_some(),
                        category,
                    });
                }
                counts.push((line.status, verdict.score, anomaly.is_some()));
                out[first + line.index] = match anomaly {
                    Some((anomaly, row)) => {
                        self.feed.push(row);
                        LineOutcome::Anomalous(anomaly)
                    }
                    None => LineOutcome::Normal { score: verdict.score },
                };
            }
        }
        self.feed.count_all(counts);
        self.feed.flush();
        self.lifecycle.extend_window(window);
    }

    fn drain_alerts(&mut self, out: &mut Vec<Anomaly>) {
        // The windows the last batch's monitor thread closed, once it is done (or else
        // when the next batch starts).
        if !self.drift.busy() {
            self.collect_drift();
        }
        out.append(&mut self.pending);
    }
}

/// What the scorer keeps of a parsed line of a batch until its row is judged: where it
/// is, the fields every line needs, and the line itself to parse again if it is flagged.
struct ScoredLine<'a> {
    /// Its index in the batch.
    index: usize,
    source: &'a str,
    line_no: u64,
    line: &'a [u8],
    status: Option<u16>,
    /// The record's time, unix seconds.
    ts: Option<i64>,
    /// The record itself when the source's format may still change (`--format auto`
    /// over its first lines), so that the same format gives it again.
    early: Option<Box<Record<'a>>>,
}

impl<'a> ScoredLine<'a> {
    /// A line and its record, parsed with a format that is `settled`.
    fn new(
        index: usize,
        (source, line_no, line): (&'a str, u64, &'a [u8]),
        record: Record<'a>,
        settled: bool,
    ) -> Self {
        let (status, ts) = (record.status, record.ts.map(|t| t.unix_secs()));
        let early = (!settled).then(|| Box::new(record));
        ScoredLine { index, source, line_no, line, status, ts, early }
    }

    /// The line's record, parsed again with `format`, the one that parsed it.
    fn record(&self, format: &dyn Format) -> Option<Record<'a>> {
        if let Some(record) = &self.early {
            return Some((**record).clone());
        }
        format.parse(self.line).ok()
    }
}

/// The lines of one chunk of a batch, handed to the detector stage with their rows;
/// it settles them ([`ChunkLines::settle`]) on the finisher's thread.
#[derive(Default)]
struct ChunkLines<'a> {
    lines: Vec<ScoredLine<'a>>,
    /// The format that parsed the lines from each index on, for their flagged ones to
    /// be parsed again: a new entry only when it changes.
    formats: Vec<(usize, Arc<dyn Format>)>,
    /// The flagged lines, in order.
    flagged: Vec<FlaggedLine>,
}

/// A flagged line of a chunk and its anomaly.
struct FlaggedLine {
    /// Its index in [`ChunkLines::lines`].
    at: usize,
    category: &'static str,
    /// The anomaly and its store row; `None` when an allowed pattern (marked a false
    /// positive before) covers it, so the line counts as normal.
    anomaly: Option<(Box<Anomaly>, StoreRow)>,
}

impl<'a> ChunkLines<'a> {
    /// Adds a line parsed with `format`.
    fn push(&mut self, line: ScoredLine<'a>, format: &Arc<dyn Format>) {
        if self.lines.is_empty() {
            self.lines.reserve(CHUNK_LINES);
        }
        if self.formats.last().is_none_or(|(_, f)| !Arc::ptr_eq(f, format)) {
            self.formats.push((self.lines.len(), Arc::clone(format)));
        }
        self.lines.push(line);
    }

    /// The format that parsed line `k`.
    fn format(&self, k: usize) -> Option<&dyn Format> {
        let run = self.formats.partition_point(|(from, _)| *from <= k).checked_sub(1)?;
        Some(&*self.formats[run].1)
    }

    /// Turns the flagged lines, whose `verdicts` give explanation and category, into
    /// anomalies (pseudonymized and redacted with `privacy`) and their store rows.
    fn settle(
        &mut self,
        verdicts: &mut [Verdict],
        privacy: Option<&Privacy>,
        lifecycle: &Lifecycle,
    ) {
        for (at, verdict) in verdicts.iter_mut().enumerate() {
            let Some((explanation, category)) = verdict.flagged.take() else { continue };
            let line = &self.lines[at];
            // A flagged line is parsed again for its anomaly: keeping every record until
            // it is judged would cost more than parsing the few flagged ones. The same
            // format parsed it before, so this cannot fail; if it did, the anomaly would
            // still be reported, with what the record lacks empty.
            let record = self.format(at).and_then(|f| line.record(f)).unwrap_or_default();
            // A marked false positive again: normal traffic, learned by retraining.
            let anomaly = (!lifecycle.suppresses(category, &request_text(&record))).then(|| {
                let at = (line.source, line.line_no);
                let anomaly = anomaly_of(privacy, at, record, verdict.score, explanation, category);
                let row = StoreFeed::row(&anomaly);
                (anomaly, row)
            });
            self.flagged.push(FlaggedLine { at, category, anomaly });
        }
    }
}

/// The format for a line of `source` (`None` while none is known), and whether it is
/// settled: the same for every later line of the source.
fn format_for<'a>(
    formats: &'a mut Formats,
    source: &str,
    line: &[u8],
) -> Option<(&'a Arc<dyn Format>, bool)> {
    match formats {
        Formats::Fixed(f) => Some((f, true)),
        Formats::Auto(auto) => {
            let detection = auto.detection(source);
            detection.format_for(source, line)?;
            let settled = detection.settled();
            detection.format.as_ref().map(|f| (f, settled))
        }
    }
}

/// The request as logged: `METHOD TARGET PROTOCOL`, with missing parts left out.
pub fn request_text(r: &Record<'_>) -> String {
    [r.method.as_deref(), r.target.as_deref(), r.protocol.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_text_skips_missing_parts() {
        let f = parse_format("combined").unwrap().unwrap();
        let line =
            br#"192.0.2.1 - - [02/Mar/2026:10:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 5 "-" "-""#;
        assert_eq!(request_text(&f.parse(line).unwrap()), "GET /a?b=1 HTTP/1.1");
        assert_eq!(request_text(&Record::default()), "");
    }

    /// A scorer over a model trained on simulated traffic, with its store in `dir`.
    fn scorer(model: &Model, dir: &std::path::Path) -> ModelScorer {
        scorer_with(model, dir, "combined")
    }

    /// [`scorer`] parsing with `format`.
    fn scorer_with(model: &Model, dir: &std::path::Path, format: &str) -> ModelScorer {
        use super::super::store::{IncidentLinks, Retention, StoreStats, spawn_writer};
        let store: Arc<dyn anomalog_server::IncidentStore> =
            Arc::new(anomalog_server::Store::open(dir.join("a.db")).unwrap());
        let links = Arc::new(IncidentLinks::from_store(store.as_ref()));
        let retention = Retention { max_age_secs: 0, max_rows: 1000, anomalies_per_incident: 0 };
        let (feed, _writer) =
            spawn_writer(store, links, Arc::new(StoreStats::default()), retention).unwrap();
        let model = Model::load(&{
            let path = dir.join("m.model");
            model.save(&path).unwrap();
            path
        })
        .unwrap();
        ModelScorer::new(
            model,
            parse_format(format).unwrap(),
            None,
            700,
            Default::default(),
            feed,
            // The retraining window on, so the test covers what it records.
            Arc::new(Lifecycle::new(
                super::super::lifecycle::RetrainConfig { enabled: true, ..Default::default() },
                Default::default(),
                Default::default(),
            )),
        )
    }

    #[test]
    fn a_batch_scores_as_its_lines_one_by_one() {
        let config =
            anomalog_eval::simulate::SimConfig { lines: 6_000, seed: 11, ..Default::default() };
        let (mut log, mut labels) = (Vec::new(), Vec::new());
        anomalog_eval::simulate::simulate(&config, &mut log, &mut labels).unwrap();
        let lines: Vec<&[u8]> = log.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        let format = parse_format("combined").unwrap().unwrap();
        let train: Vec<Record<'_>> =
            lines[..3_000].iter().map(|l| format.parse(l).unwrap()).collect();
        let model = Model::train(&train, Default::default(), &Default::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();

        // One batch of 3,000 lines (chunks judged on a second thread) and a garbage line.
        let source: Arc<str> = Arc::from("access.log");
        let mut batch = LineBatch::new();
        for (n, line) in lines[3_000..].iter().enumerate() {
            batch.push(&source, n as u64 + 1, line);
            if n == 1_234 {
                batch.push(&source, 0, b"garbage");
            }
        }
        assert!(batch.len() >= OVERLAP_LINES);
        let mut batched = Vec::new();
        let mut whole = scorer(&model, dir.path());
        whole.score_batch(&batch, &mut batched);
        whole.collect_drift();

        let mut single = scorer(&model, dir.path());
        let one_by_one: Vec<LineOutcome> =
            batch.iter().map(|(o, line)| single.score_line(&o.origin, line)).collect();
        // The drift monitor (fed on a thread of its own for the batch) closed its windows
        // on the same records: the last window's report is the same.
        let gauges = whole.slot.drift.render_prometheus();
        assert!(gauges.contains("anomalog_drift_window_records 700"), "{gauges}");
        assert_eq!(gauges, single.slot.drift.render_prometheus());
        assert_eq!(batched.len(), one_by_one.len());
        // What batch `detect` makes of the same lines: its scorer, line by line.
        let mut detect = whole.model.scorer();
        let detected: Vec<Option<_>> = batch
            .iter()
            .map(|(_, line)| {
                let record = format.parse(line).ok()?;
                let verdict = detect.score(&record);
                let explained = verdict.flagged.then(|| {
                    let explanation = detect.explain();
                    let category = detect.category(&explanation);
                    (explanation, category)
                });
                Some((verdict, explained))
            })
            .collect();
        let mut anomalies = 0;
        for (k, (a, b)) in batched.iter().zip(&one_by_one).enumerate() {
            match (a, b) {
                (LineOutcome::Normal { score: x }, LineOutcome::Normal { score: y }) => {
                    assert_eq!(x, y, "line {k}");
                    let (verdict, _) = detected[k].as_ref().unwrap();
                    assert_eq!((verdict.score, verdict.flagged), (*x, false), "line {k}");
                }
                (LineOutcome::Anomalous(x), LineOutcome::Anomalous(y)) => {
                    anomalies += 1;
                    assert_eq!(
                        (x.score, &x.category, &x.request),
                        (y.score, &y.category, &y.request)
                    );
                    assert_eq!(x.explanation, y.explanation, "line {k}");
                    let (verdict, explained) = detected[k].as_ref().unwrap();
                    let (explanation, category) = explained.as_ref().unwrap();
                    assert_eq!((verdict.score, *category), (x.score, x.category.as_str()));
                    let items: Vec<ExplanationItem> =
                        explanation.iter().cloned().map(explanation_item).collect();
                    assert_eq!(items, x.explanation, "line {k}");
                }
                (LineOutcome::Rejected(x), LineOutcome::Rejected(y)) => assert_eq!(x, y),
                _ => panic!("line {k}: the batch and the single line disagree"),
            }
        }
        assert!(anomalies > 0, "nothing flagged: the test would prove little");

        // Detecting the format gives the same outcomes, the flagged lines among the first
        // ones (parsed while the format could still change) included.
        let mut auto = scorer_with(&model, dir.path(), "auto");
        let mut detected = Vec::new();
        auto.score_batch(&batch, &mut detected);
        assert_eq!(detected, batched);
    }

    #[test]
    fn a_line_parsed_before_its_format_settles_keeps_its_record() {
        let line = br#"192.0.2.1 - - [02/Mar/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "-""#;
        let mut formats = Formats::Auto(AutoFormats::default());
        let (format, settled) = format_for(&mut formats, "x", line).unwrap();
        let format = Arc::clone(format);
        let record = format.parse(line).unwrap();
        assert!(!settled);
        let early = ScoredLine::new(0, ("x", 1, line), record.clone(), settled);
        assert!(early.early.is_some());
        // Kept, whatever format the source settles on.
        let json = parse_format("json").unwrap().unwrap();
        assert_eq!(early.record(&*json), Some(record.clone()));

        for _ in 2..DETECT_LINES {
            format_for(&mut formats, "x", line).unwrap();
        }
        let (settled_format, settled) = format_for(&mut formats, "x", line).unwrap();
        assert!(settled);
        let settled_format = Arc::clone(settled_format);
        let late = ScoredLine::new(1, ("x", 2, line), record.clone(), settled);
        assert!(late.early.is_none());
        // Parsed again with the format that parsed it.
        assert_eq!(late.record(&*settled_format), Some(record.clone()));
        assert_eq!((late.status, late.ts), (Some(200), Some(1_772_445_600)));

        // A chunk's lines find the format that parsed each of them.
        let mut lines = ChunkLines::default();
        lines.push(early, &format);
        lines.push(late, &settled_format);
        let other = ScoredLine::new(2, ("y", 1, line), record, true);
        let other_format: Arc<dyn Format> = Arc::from(json);
        lines.push(other, &other_format);
        let names: Vec<_> = (0..4).map(|k| lines.format(k).map(|f| f.name().to_string())).collect();
        let combined = Some("combined".to_string());
        assert_eq!(names, [combined.clone(), combined, Some("json".into()), Some("json".into())]);
        // The detection kept its format: one entry for the first two lines.
        assert_eq!(lines.formats.len(), 2);
    }

    #[test]
    fn multi_line_formats_are_refused() {
        assert!(parse_format("csic2010").is_err());
        assert!(parse_format("auto").unwrap().is_none());
        assert!(parse_format("nope").is_err());
    }

    #[test]
    fn detection_settles_per_source() {
        let mut d = Detection::default();
        let line = br#"192.0.2.1 - - [02/Mar/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-""#;
        assert_eq!(
            d.format_for("x", line).map(|f| f.name().to_string()).as_deref(),
            Some("combined")
        );
        assert!(Detection::default().format_for("x", b"").is_none());
    }
}
