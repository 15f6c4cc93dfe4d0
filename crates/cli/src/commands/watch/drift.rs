//! Live drift monitoring: the scorer feeds every scored row to a [`DriftMonitor`];
//! every window of records its report is published for `/metrics` and a change of
//! verdict is logged. [`BackgroundDrift`] runs the monitor beside the scorer, so that
//! a batch does not wait for it.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anomalog_pipeline::Model;
use anomalog_pipeline::drift::{DriftMonitor, DriftOptions, DriftReport};

use super::judge::Chunk;

/// How many of the most drifted features `/metrics` lists by name.
const TOP_FEATURES: usize = 5;

/// The last drift report, shared between the scorer and the metrics endpoint.
#[derive(Debug, Default)]
pub struct DriftGauges {
    last: Mutex<Option<Summary>>,
}

/// What `/metrics` shows of a report.
#[derive(Debug, Clone)]
struct Summary {
    records: u64,
    drifted: bool,
    score_psi: f64,
    drifted_features: usize,
    top: Vec<(String, f64)>,
}

impl DriftGauges {
    /// Prometheus text of the last report (nothing before the first window closes).
    pub fn render_prometheus(&self) -> String {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let Some(s) = last.as_ref() else { return String::new() };
        let mut text = String::new();
        text.push_str("# HELP anomalog_drift_drifted Whether the last drift window drifted from the training data (0/1).\n");
        text.push_str("# TYPE anomalog_drift_drifted gauge\n");
        text.push_str(&format!("anomalog_drift_drifted {}\n", u8::from(s.drifted)));
        text.push_str("# HELP anomalog_drift_score_psi Population stability index of the score in the last drift window.\n");
        text.push_str("# TYPE anomalog_drift_score_psi gauge\n");
        text.push_str(&format!("anomalog_drift_score_psi {}\n", finite(s.score_psi)));
        text.push_str("# HELP anomalog_drift_drifted_features Features over the PSI threshold in the last drift window.\n");
        text.push_str("# TYPE anomalog_drift_drifted_features gauge\n");
        text.push_str(&format!("anomalog_drift_drifted_features {}\n", s.drifted_features));
        text.push_str("# HELP anomalog_drift_window_records Records in the last drift window.\n");
        text.push_str("# TYPE anomalog_drift_window_records gauge\n");
        text.push_str(&format!("anomalog_drift_window_records {}\n", s.records));
        text.push_str("# HELP anomalog_drift_feature_psi PSI of the most drifted features in the last drift window.\n");
        text.push_str("# TYPE anomalog_drift_feature_psi gauge\n");
        for (name, psi) in &s.top {
            text.push_str(&format!(
                "anomalog_drift_feature_psi{{feature=\"{name}\"}} {}\n",
                finite(*psi)
            ));
        }
        text
    }

    fn publish(&self, summary: Summary) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(summary);
    }
}

/// The scorer's side: observes rows, closes windows.
pub struct LiveDrift {
    monitor: Option<DriftMonitor>,
    window: u64,
    drifted: bool,
}

impl LiveDrift {
    /// A monitor for `model` reporting every `window` records; a model without a
    /// training profile (trained by an older version) runs without drift monitoring,
    /// said once on stderr.
    pub fn new(model: &Model, window: u64) -> LiveDrift {
        let monitor = match DriftMonitor::new(model, DriftOptions::default()) {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("anomalog: drift monitoring off for this model: {e}");
                None
            }
        };
        LiveDrift { monitor, window: window.max(1), drifted: false }
    }

    /// Adds the rows of a judged chunk, with their raw scores; closes each window as it
    /// fills, appending its report to `reports`.
    pub fn observe(
        &mut self,
        chunk: &Chunk,
        raw_scores: &[f64],
        gauges: &DriftGauges,
        reports: &mut Vec<DriftReport>,
    ) {
        let Some(monitor) = self.monitor.as_mut() else { return };
        let (rows, width) = (&chunk.raw, chunk.raw.len() / chunk.rows.max(1));
        let mut start = 0;
        while start < raw_scores.len() {
            let room = self.window.saturating_sub(monitor.records());
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            let end = start + room.min(raw_scores.len() - start);
            let block = rows.get(start * width..).unwrap_or(&[]);
            let block = &block[..block.len().min((end - start) * width)];
            monitor.observe_rows(block, width, &raw_scores[start..end]);
            start = end;
            if monitor.records() < self.window {
                continue;
            }
            let report = monitor.report();
            monitor.reset();
            if report.drifted != self.drifted {
                self.drifted = report.drifted;
                log_change(&report);
            }
            gauges.publish(summarize(&report));
            reports.push(report);
        }
    }
}

/// A judged chunk for the drift monitor: its rows and their raw scores.
pub type Judged = (Chunk, Vec<f64>);

/// Chunks kept for their allocations once the monitor has taken them: a batch of the
/// default size uses 8.
const POOL: usize = 16;

/// The live drift monitor, fed chunk after chunk on a thread of its own for each large
/// batch ([`BackgroundDrift::start`]): the batch ends once its rows are judged and
/// explained, and the monitor takes its last chunks while the daemon goes on with the
/// alerts and the next lines. The thread is joined when the next batch starts (or the
/// model changes), which hands back the reports of the windows that closed. Windows
/// close on the same records as line by line: the chunks come in order, and a batch's
/// thread is joined before the next one is fed. The chunks come back as soon as the
/// monitor has taken them, for the feature stage to fill again
/// ([`BackgroundDrift::chunk`]).
pub struct BackgroundDrift {
    gauges: Arc<DriftGauges>,
    state: State,
    /// Chunks the monitor has taken, to be filled again.
    pool: Vec<Chunk>,
    /// Where the running thread sends them back.
    returned: Option<Receiver<Chunk>>,
}

enum State {
    Idle(Box<LiveDrift>),
    /// Until the sender [`BackgroundDrift::start`] gave is dropped and the chunks sent
    /// are taken.
    Running(JoinHandle<Option<Fed>>),
    /// The monitor went with a thread that panicked (the panic went on to the scorer's
    /// thread); between a thread's start and its join too.
    Lost,
}

/// What a batch's thread hands back.
struct Fed {
    drift: LiveDrift,
    reports: Vec<DriftReport>,
}

impl BackgroundDrift {
    /// Runs `drift`, publishing to `gauges`.
    pub fn new(drift: LiveDrift, gauges: Arc<DriftGauges>) -> BackgroundDrift {
        BackgroundDrift {
            gauges,
            state: State::Idle(Box::new(drift)),
            pool: Vec::new(),
            returned: None,
        }
    }

    /// An empty chunk to fill: one the monitor has taken already, or a new one.
    pub fn chunk(&mut self) -> Chunk {
        self.take_returned();
        let mut chunk = self.pool.pop().unwrap_or_default();
        chunk.clear();
        chunk
    }

    /// Keeps the chunks the running thread has sent back.
    fn take_returned(&mut self) {
        while let Some(chunk) = self.returned.as_ref().and_then(|r| r.try_recv().ok()) {
            self.recycle(chunk);
        }
    }

    /// Keeps a chunk the monitor has taken, up to [`POOL`] of them.
    fn recycle(&mut self, chunk: Chunk) {
        if self.pool.len() < POOL {
            self.pool.push(chunk);
        }
    }

    /// Starts a thread for the chunks of one batch (taking the previous one's results
    /// first, as [`BackgroundDrift::collect`] does); the chunks sent go to the monitor
    /// in the order sent. `None` when no thread could be started (the chunks are then
    /// to be fed with [`BackgroundDrift::observe`], or there is nothing to monitor).
    pub fn start(&mut self, reports: &mut Vec<DriftReport>) -> Option<Sender<Judged>> {
        self.collect(reports);
        // A model without a training profile has nothing to monitor: no thread.
        if !matches!(&self.state, State::Idle(drift) if drift.monitor.is_some()) {
            return None;
        }
        let State::Idle(drift) = std::mem::replace(&mut self.state, State::Lost) else {
            return None;
        };
        let (tx, rx) = channel::<Judged>();
        let (back, returned) = channel::<Chunk>();
        let gauges = Arc::clone(&self.gauges);
        // The thread takes the monitor from here, so a failed spawn leaves it behind.
        let handover = Arc::new(Mutex::new(Some(drift)));
        let taken = Arc::clone(&handover);
        let spawned = std::thread::Builder::new().name("anomalog-drift".into()).spawn(move || {
            // Handed over before the thread starts, so always there.
            let drift = taken.lock().unwrap_or_else(|p| p.into_inner()).take()?;
            let mut fed = Fed { drift: *drift, reports: Vec::new() };
            for (chunk, scores) in rx {
                fed.drift.observe(&chunk, &scores, &gauges, &mut fed.reports);
                // The scorer may have moved on to a smaller batch: then it is dropped.
                let _ = back.send(chunk);
            }
            Some(fed)
        });
        match spawned {
            Ok(handle) => {
                self.state = State::Running(handle);
                self.returned = Some(returned);
                Some(tx)
            }
            Err(e) => {
                eprintln!("anomalog: cannot start the drift thread, monitoring inline: {e}");
                if let Some(drift) = handover.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    self.state = State::Idle(drift);
                }
                None
            }
        }
    }

    /// Feeds a chunk on the calling thread (after the results of a running thread).
    pub fn observe(&mut self, (chunk, scores): Judged, reports: &mut Vec<DriftReport>) {
        self.collect(reports);
        if let State::Idle(drift) = &mut self.state {
            drift.observe(&chunk, &scores, &self.gauges, reports);
        }
        self.recycle(chunk);
    }

    /// Waits for the running thread, if any (the sender [`BackgroundDrift::start`] gave
    /// must be dropped first), and appends the reports of the windows it closed to
    /// `reports`.
    pub fn collect(&mut self, reports: &mut Vec<DriftReport>) {
        if !matches!(self.state, State::Running(..)) {
            return;
        }
        let State::Running(handle) = std::mem::replace(&mut self.state, State::Lost) else {
            return;
        };
        let joined = handle.join();
        // Its last chunks, for the next batch.
        self.take_returned();
        self.returned = None;
        match joined {
            Ok(Some(fed)) => {
                reports.extend(fed.reports);
                self.state = State::Idle(Box::new(fed.drift));
            }
            Ok(None) => {}
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Whether a batch's thread is still running: its sender is still held, or it has
    /// chunks left.
    pub fn busy(&self) -> bool {
        matches!(&self.state, State::Running(handle) if !handle.is_finished())
    }

    /// Replaces the monitor (for a new model), after the running thread's results.
    pub fn replace(&mut self, drift: LiveDrift, reports: &mut Vec<DriftReport>) {
        self.collect(reports);
        self.state = State::Idle(Box::new(drift));
    }
}

fn summarize(report: &DriftReport) -> Summary {
    Summary {
        records: report.records,
        drifted: report.drifted,
        score_psi: report.score_psi,
        drifted_features: report.drifted_features,
        top: report
            .most_drifted()
            .into_iter()
            .take(TOP_FEATURES)
            .map(|f| (f.name.clone(), f.psi))
            .collect(),
    }
}

fn log_change(report: &DriftReport) {
    if report.drifted {
        let top: Vec<String> = report
            .most_drifted()
            .into_iter()
            .take(3)
            .map(|f| format!("{} (PSI {:.2})", f.name, f.psi))
            .collect();
        eprintln!(
            "anomalog: drift: traffic no longer looks like the training data (score PSI {:.2}, \
             {} features drifted: {}); consider retraining",
            report.score_psi,
            report.drifted_features,
            top.join(", ")
        );
    } else {
        eprintln!(
            "anomalog: drift: traffic matches the training data again (score PSI {:.2})",
            report.score_psi
        );
    }
}

/// A number Prometheus accepts.
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}
