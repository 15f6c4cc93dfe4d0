//! The detector stage of the scorer: scores a chunk of feature rows with the model,
//! feeds the live drift monitor, and explains and categorizes the flagged rows.
//!
//! The feature stage before it is sequential (each record is seen in the context of
//! those before it), this one is not: while the feature stage computes the rows of one
//! chunk on the daemon's thread, [`judge_batch`] runs this stage on the previous chunk
//! on a second thread, so a large batch keeps both cores busy. Chunks are judged in
//! order, so drift windows close on the same records as scoring line by line.

use std::sync::mpsc;

use anomalog_models::MatrixView;
use anomalog_models::explain::Explanation;
use anomalog_pipeline::Model;
use anomalog_pipeline::drift::DriftReport;

use super::drift::{DriftGauges, LiveDrift};

/// Lines per chunk handed from the feature stage to the detector stage.
pub const CHUNK_LINES: usize = 512;

/// Batches shorter than this are judged on the calling thread: a thread costs more
/// than it saves on a few chunks.
pub const OVERLAP_LINES: usize = 2 * CHUNK_LINES;

/// Feature rows of consecutive scored records, raw and scaled, row after row.
#[derive(Default)]
pub struct Chunk {
    pub raw: Vec<f64>,
    pub scaled: Vec<f64>,
    pub rows: usize,
}

impl Chunk {
    /// Appends one record's rows.
    pub fn push(&mut self, raw: &[f64], scaled: &[f64]) {
        self.raw.extend_from_slice(raw);
        self.scaled.extend_from_slice(scaled);
        self.rows += 1;
    }

    fn clear(&mut self) {
        self.raw.clear();
        self.scaled.clear();
        self.rows = 0;
    }
}

/// The verdict on one row.
pub struct Verdict {
    /// Score on 0..1.
    pub score: f64,
    /// For a flagged row, its explanation and category.
    pub flagged: Option<(Vec<Explanation>, &'static str)>,
}

/// The detector stage's state: the model and the drift monitor it feeds.
pub struct Judge<'a> {
    pub model: &'static Model,
    pub drift: &'a mut LiveDrift,
    pub gauges: &'a DriftGauges,
    /// Reports of the drift windows that closed, in order.
    pub reports: Vec<DriftReport>,
}

impl Judge<'_> {
    /// Judges every row of `chunk`, in order, appending to `out`.
    pub fn judge(&mut self, chunk: &Chunk, out: &mut Vec<Verdict>) {
        let n = chunk.rows;
        if n == 0 {
            return;
        }
        let model = self.model;
        let detector = &model.detector;
        let width = chunk.scaled.len() / n;
        let raw_width = chunk.raw.len() / n;
        let raw_scores = match MatrixView::new(&chunk.scaled, n, width) {
            Ok(view) => detector.score(view),
            Err(_) => vec![f64::NAN; n],
        };
        for (k, raw) in raw_scores.into_iter().enumerate() {
            let raw_row = &chunk.raw[k * raw_width..(k + 1) * raw_width];
            if let Some(report) = self.drift.observe(raw_row, raw, self.gauges) {
                self.reports.push(report);
            }
            let score = detector.probability(raw);
            let flagged = detector.is_anomaly(raw).then(|| {
                // Flagged rows are few: explain them one by one, as `Scorer` does.
                let scaled = &chunk.scaled[k * width..(k + 1) * width];
                let explanation = model.explain(raw_row, scaled);
                let category = model.categorize(raw_row, &explanation);
                (explanation, category)
            });
            out.push(Verdict { score, flagged });
        }
    }
}

/// Runs the feature stage `features` and the detector stage together over one batch.
///
/// `features` is called once with a function to hand it each full chunk (it fills
/// chunks taken from `pool` and hands the last, partial one too). With `overlap`, the
/// chunks are judged on a second thread while `features` goes on; otherwise each is
/// judged when handed. Returns the verdicts of every row, in order; the chunks go
/// back to `pool` for their allocations.
pub fn judge_batch<F>(
    judge: &mut Judge<'_>,
    pool: &mut Vec<Chunk>,
    overlap: bool,
    features: F,
) -> Vec<Verdict>
where
    F: FnOnce(&mut dyn FnMut() -> Chunk, &mut dyn FnMut(Chunk)),
{
    let mut verdicts = Vec::new();
    if !overlap {
        let mut done = Vec::new();
        {
            let mut take = || pool.pop().unwrap_or_default();
            let mut hand = |chunk: Chunk| {
                judge.judge(&chunk, &mut verdicts);
                done.push(chunk);
            };
            features(&mut take, &mut hand);
        }
        recycle(pool, done);
        return verdicts;
    }
    let (to_judge, chunks) = mpsc::sync_channel::<Chunk>(2);
    let (to_pool, judged) = mpsc::channel::<Chunk>();
    let result = std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let mut out = Vec::new();
            for chunk in chunks {
                judge.judge(&chunk, &mut out);
                // The feature stage may have finished: a closed pool is fine.
                let _ = to_pool.send(chunk);
            }
            out
        });
        {
            let mut take = || {
                let mut chunk = judged.try_recv().ok().or_else(|| pool.pop()).unwrap_or_default();
                chunk.clear();
                chunk
            };
            let mut hand = |chunk: Chunk| {
                // Fails only when the worker has panicked; its join says so below.
                let _ = to_judge.send(chunk);
            };
            features(&mut take, &mut hand);
        }
        drop(to_judge);
        worker.join()
    });
    match result {
        Ok(out) => verdicts = out,
        Err(panic) => std::panic::resume_unwind(panic),
    }
    recycle(pool, judged.try_iter().collect());
    verdicts
}

/// Keeps a few cleared chunks for the next batch.
fn recycle(pool: &mut Vec<Chunk>, chunks: Vec<Chunk>) {
    for mut chunk in chunks {
        if pool.len() < 4 {
            chunk.clear();
            pool.push(chunk);
        }
    }
}
