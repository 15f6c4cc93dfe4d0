//! The detector stage of the scorer: scores a chunk of feature rows with the model; the
//! flagged rows are then explained and categorized, and the judged rows go to the live
//! drift monitor in order.
//!
//! The feature stage before it is sequential (each record is seen in the context of
//! those before it), this one is not: while the feature stage computes the rows of one
//! chunk on the daemon's thread, [`judge_batch`] runs this stage on the previous chunk
//! on a second thread, so a large batch keeps both cores busy; when that thread is
//! behind, the daemon's thread scores the next chunk itself. The default ensemble
//! gives each flagged row's per-feature contributions as it scores it (from the terms
//! scoring computed; see `Ensemble::score_explaining`). A third thread takes the scored
//! chunks in order, turns those contributions into explanations and categories, has
//! the caller's `settle` turn the flagged lines into anomalies, and hands the chunks on
//! to the drift monitor, which runs beside the scorer (`BackgroundDrift`). The feature
//! stage is the one that cannot be shared out, so it keeps none of the rest: the third
//! thread runs while one of the other two waits (the detector's thread for the first
//! chunk's features, the daemon's for the last chunk's scores, and both for the rest of
//! the round). Chunks reach the monitor in order, so drift windows close on the same
//! records as scoring line by line.

use std::sync::mpsc;

use anomalog_models::explain::Explanation;
use anomalog_models::{AnyDetector, MatrixView};
use anomalog_pipeline::Model;

use super::drift::Judged;

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
        if self.rows == 0 && self.raw.capacity() == 0 {
            // A new chunk: room for a whole one at once, not by doubling.
            self.raw.reserve(CHUNK_LINES * raw.len());
            self.scaled.reserve(CHUNK_LINES * scaled.len());
        }
        self.raw.extend_from_slice(raw);
        self.scaled.extend_from_slice(scaled);
        self.rows += 1;
    }

    /// Empties the chunk, keeping its allocations.
    pub fn clear(&mut self) {
        self.raw.clear();
        self.scaled.clear();
        self.rows = 0;
    }
}

/// The verdict on one row.
pub struct Verdict {
    /// The detector's raw score.
    pub raw: f64,
    /// Score on 0..1.
    pub score: f64,
    /// Whether the detector flags the row.
    pub anomalous: bool,
    /// For a flagged row, the detector's explanation when it gave it while scoring
    /// (taken by [`Judge::explain`]).
    pub contributions: Option<Vec<(usize, f64)>>,
    /// For a flagged row, its explanation and category (filled in by
    /// [`Judge::explain`]).
    pub flagged: Option<(Vec<Explanation>, &'static str)>,
}

/// The detector stage: the model.
pub struct Judge {
    pub model: &'static Model,
}

impl Judge {
    /// Scores every row of `chunk`, in order, appending to `out`; flagged rows are
    /// explained by [`Judge::explain`].
    pub fn judge(&self, chunk: &Chunk, out: &mut Vec<Verdict>) {
        let n = chunk.rows;
        if n == 0 {
            return;
        }
        let model = self.model;
        let detector = &model.detector;
        let width = chunk.scaled.len() / n;
        // The default ensemble explains the rows it flags from what scoring them
        // computed; other detectors explain them in `explain`.
        let (raw_scores, explained) = match MatrixView::new(&chunk.scaled, n, width) {
            Ok(view) => match detector.detector() {
                AnyDetector::Ensemble(e) => {
                    e.score_explaining(view, &|raw| detector.is_anomaly(raw))
                }
                _ => (detector.score(view), Vec::new()),
            },
            Err(_) => (vec![f64::NAN; n], Vec::new()),
        };
        let first = out.len();
        out.extend(raw_scores.into_iter().map(|raw| Verdict {
            raw,
            score: detector.probability(raw),
            anomalous: detector.is_anomaly(raw),
            contributions: None,
            flagged: None,
        }));
        for (k, contributions) in explained {
            out[first + k].contributions = Some(contributions);
        }
    }

    /// Explains and categorizes the flagged rows of `chunk`, whose verdicts are
    /// `verdicts`: from the detector's explanation given while scoring, or else one by
    /// one, as `Scorer` does.
    pub fn explain(&self, chunk: &Chunk, verdicts: &mut [Verdict]) {
        let n = chunk.rows;
        if n == 0 {
            return;
        }
        let model = self.model;
        let width = chunk.scaled.len() / n;
        let raw_width = chunk.raw.len() / n;
        for (k, v) in verdicts.iter_mut().enumerate().filter(|(_, v)| v.anomalous) {
            let raw_row = &chunk.raw[k * raw_width..(k + 1) * raw_width];
            let scaled = &chunk.scaled[k * width..(k + 1) * width];
            let explanation = match v.contributions.take() {
                Some(contributions) => model.explain_contributions(&contributions, raw_row),
                None => model.explain(raw_row, scaled),
            };
            let category = model.categorize(raw_row, &explanation);
            v.flagged = Some((explanation, category));
        }
    }
}

/// Runs the feature stage `features` and the detector stage together over one batch,
/// explains the flagged rows, has `settle` finish the work on each chunk's lines, and
/// hands each judged chunk to `drift`.
///
/// `features` is called once with `take` to get empty chunks and a function to hand
/// it each full chunk with its lines `L` (and the last, partial one too).
/// With `overlap`, the chunks are scored on a second thread while `features` goes on
/// (or, when that thread is still busy with the one before, by the caller), then
/// explained, settled and handed to `drift` on a third thread, in order; the call
/// returns when every chunk has been through it. Otherwise each is judged, explained,
/// settled and handed when `features` hands it. `settle` gets a chunk's lines and their
/// verdicts, flagged rows explained (what the caller makes of its flagged lines is done
/// there, off the feature stage's thread); `drift` gets the chunks in order, with the
/// rows' raw scores. Returns each chunk's lines with their verdicts, in order.
pub fn judge_batch<L, F>(
    judge: &Judge,
    take: &mut dyn FnMut() -> Chunk,
    overlap: bool,
    features: F,
    settle: &(dyn Fn(&mut L, &mut [Verdict]) + Sync),
    drift: &(dyn Fn(Judged) + Sync),
) -> Vec<(L, Vec<Verdict>)>
where
    L: Send,
    F: FnOnce(&mut dyn FnMut() -> Chunk, &mut dyn FnMut(Chunk, L)),
{
    let mut judged = Vec::new();
    if !overlap {
        let mut hand = |chunk: Chunk, mut lines: L| {
            let mut verdicts = Vec::with_capacity(chunk.rows);
            judge.judge(&chunk, &mut verdicts);
            finish(judge, chunk, &mut lines, &mut verdicts, settle, drift);
            judged.push((lines, verdicts));
        };
        features(take, &mut hand);
        return judged;
    }
    // A chunk waits for the detector's thread only while it scores the one before: when
    // that one is busy with it, the daemon's thread scores the next chunk itself rather
    // than wait, so the two share the detector stage whenever it is the slower one.
    let (to_judge, chunks) = crossbeam_channel::bounded::<(usize, Chunk, L)>(1);
    let left = chunks.clone();
    let (to_finish, scored) = mpsc::channel::<(usize, Chunk, L, Vec<Verdict>)>();
    let (to_back, finished) = mpsc::channel::<(L, Vec<Verdict>)>();
    // A chunk with its verdicts, for the finisher; either thread scores this way.
    let score = move |seq: usize, chunk: Chunk, lines: L| {
        let mut out = Vec::with_capacity(chunk.rows);
        judge.judge(&chunk, &mut out);
        (seq, chunk, lines, out)
    };
    let scored_here = to_finish.clone();
    let judge_here = move |seq: usize, chunk: Chunk, lines: L| {
        // Fails only when the finisher has panicked; its join says so below.
        let _ = scored_here.send(score(seq, chunk, lines));
    };
    let result = std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            for (seq, chunk, lines) in chunks {
                // The feature stage may have failed: a closed channel is fine.
                let _ = to_finish.send(score(seq, chunk, lines));
            }
        });
        // Explanations, `settle` and the hand-over to `drift`, on a thread of their
        // own, chunk after chunk in order (they come from both threads).
        let finisher = scope.spawn(move || {
            let mut early = std::collections::BTreeMap::new();
            let mut next = 0;
            for (seq, chunk, lines, out) in scored {
                early.insert(seq, (chunk, lines, out));
                while let Some((chunk, mut lines, mut out)) = early.remove(&next) {
                    finish(judge, chunk, &mut lines, &mut out, settle, drift);
                    let _ = to_back.send((lines, out));
                    next += 1;
                }
            }
        });
        {
            let mut handed = 0;
            let mut hand = |chunk: Chunk, lines: L| {
                let seq = handed;
                handed += 1;
                // Full: the detector's thread has not taken the chunk before yet. (The
                // queue cannot be disconnected: `left` holds it open.)
                if let Err(crossbeam_channel::TrySendError::Full((seq, chunk, lines))) =
                    to_judge.try_send((seq, chunk, lines))
                {
                    judge_here(seq, chunk, lines);
                }
            };
            features(take, &mut hand);
        }
        drop(to_judge);
        // The chunk still queued is scored here, while the detector's thread finishes
        // the one before: the batch ends a chunk sooner.
        for (seq, chunk, lines) in left.try_iter() {
            judge_here(seq, chunk, lines);
        }
        drop((left, judge_here));
        // Ends when every chunk is back and the finisher has dropped its sender. The
        // finisher sends them in order.
        judged.extend(finished.iter());
        worker.join().and(finisher.join())
    });
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    judged
}

/// Explains the flagged rows of a judged chunk, settles its lines and hands the chunk
/// with its raw scores to `drift`.
fn finish<L>(
    judge: &Judge,
    chunk: Chunk,
    lines: &mut L,
    verdicts: &mut [Verdict],
    settle: &(dyn Fn(&mut L, &mut [Verdict]) + Sync),
    drift: &(dyn Fn(Judged) + Sync),
) {
    judge.explain(&chunk, verdicts);
    settle(lines, verdicts);
    let raw_scores: Vec<f64> = verdicts.iter().map(|v| v.raw).collect();
    drift((chunk, raw_scores));
}

#[cfg(test)]
mod tests {
    use anomalog_ingest::Format;

    use super::super::drift::{BackgroundDrift, DriftGauges, LiveDrift};
    use super::*;

    /// Raw and scaled feature rows of records.
    type Rows = Vec<(Vec<f64>, Vec<f64>)>;

    /// A row's raw score (as bits), flag, and explanation and category.
    type Outcome = (u64, bool, Option<(Vec<Explanation>, &'static str)>);

    /// A model trained on simulated traffic and the feature rows of the lines after it.
    fn model_and_rows() -> (&'static Model, Rows) {
        let config =
            anomalog_eval::simulate::SimConfig { lines: 5_000, seed: 5, ..Default::default() };
        let (mut log, mut labels) = (Vec::new(), Vec::new());
        anomalog_eval::simulate::simulate(&config, &mut log, &mut labels).unwrap();
        let format = anomalog_ingest::formats::combined::Clf::combined();
        let records: Vec<_> = log
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| format.parse(l).unwrap())
            .collect();
        let model = Model::train(&records[..2_500], Default::default(), &Default::default());
        let model: &'static Model = Box::leak(Box::new(model.unwrap()));
        let mut stream = model.features.stream();
        let rows = records[2_500..]
            .iter()
            .map(|r| {
                let (mut raw, mut scaled) = (Vec::new(), Vec::new());
                stream.push(r, &mut raw, &mut scaled);
                (raw, scaled)
            })
            .collect();
        (model, rows)
    }

    /// What `judge_batch` makes of `rows` handed in chunks of `size`: each row's raw
    /// score (as bits), flag and explanation, the drift reports (as text), and the
    /// flagged rows `settle` saw (with their category).
    fn judged(
        model: &'static Model,
        rows: &Rows,
        size: usize,
        overlap: bool,
    ) -> (Vec<Outcome>, String, Vec<(usize, &'static str)>) {
        let judge = Judge { model };
        let gauges = std::sync::Arc::new(DriftGauges::default());
        let mut drift = BackgroundDrift::new(LiveDrift::new(model, 300), gauges);
        let mut reports = Vec::new();
        let features = |take: &mut dyn FnMut() -> Chunk, hand: &mut dyn FnMut(Chunk, Lines)| {
            for (b, block) in rows.chunks(size).enumerate() {
                let mut chunk = take();
                for (raw, scaled) in block {
                    chunk.push(raw, scaled);
                }
                hand(chunk, (b * size, Vec::new()));
            }
        };
        // Each chunk's lines are its first row, and the flagged rows found by `settle`.
        type Lines = (usize, Vec<(usize, &'static str)>);
        let settle = |lines: &mut Lines, verdicts: &mut [Verdict]| {
            for (k, v) in verdicts.iter().enumerate() {
                if let Some((_, category)) = &v.flagged {
                    lines.1.push((lines.0 + k, *category));
                }
            }
        };
        // On the monitor's thread with an overlap, as the scorer does.
        let chunks = match overlap.then(|| drift.start(&mut reports)).flatten() {
            Some(to_drift) => {
                let feed = move |judged: Judged| {
                    let _ = to_drift.send(judged);
                };
                judge_batch(&judge, &mut || drift.chunk(), overlap, features, &settle, &feed)
            }
            None => {
                let inline = std::sync::Mutex::new(Vec::new());
                let feed = |judged: Judged| inline.lock().unwrap().push(judged);
                let chunks =
                    judge_batch(&judge, &mut || drift.chunk(), overlap, features, &settle, &feed);
                for judged in inline.into_inner().unwrap() {
                    drift.observe(judged, &mut reports);
                }
                chunks
            }
        };
        drift.collect(&mut reports);
        let reports = format!("{reports:?}");
        let mut verdicts = Vec::new();
        let mut settled = Vec::new();
        for ((first, flagged), out) in chunks {
            assert_eq!(first, verdicts.len(), "chunks out of order");
            settled.extend(flagged);
            verdicts.extend(out.into_iter().map(|v| (v.raw.to_bits(), v.anomalous, v.flagged)));
        }
        (verdicts, reports, settled)
    }

    #[test]
    fn chunks_scored_on_either_thread_come_back_in_order() {
        let (model, rows) = model_and_rows();
        let one_by_one = judged(model, &rows, rows.len(), false);
        assert!(!one_by_one.2.is_empty(), "nothing flagged");
        let flagged: Vec<usize> = one_by_one
            .0
            .iter()
            .enumerate()
            .filter(|(_, v)| v.2.is_some())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(flagged, one_by_one.2.iter().map(|f| f.0).collect::<Vec<_>>());
        let reports = &one_by_one.1;
        assert!(reports.matches("DriftReport").count() >= 5, "{reports}");
        // Small chunks handed at once: the detector's thread cannot keep up, so the
        // caller scores many of them, and the finisher puts them back in order.
        for size in [7, 64, 512] {
            assert_eq!(judged(model, &rows, size, true), one_by_one);
        }
    }
}
