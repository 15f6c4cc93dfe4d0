//! One call from per-record scores (and optional labels) to a [`ReportData`], with the
//! defaults the report is designed for.

use super::data::{ReportData, RunSummary, ScoreHistogram, TopAnomaly, timeline};
use crate::curves::{DEFAULT_CURVE_POINTS, curves};
use crate::labels::Labels;
use crate::metrics::{MetricsError, evaluate, is_flagged};

/// Histogram bins: fine enough to show the overlap of the classes around the threshold.
const HISTOGRAM_BINS: usize = 60;
/// Timeline bins: about one per 7 pixels of the chart.
const TIMELINE_BINS: usize = 160;

/// Per-record inputs of a report; slices are indexed by record.
#[derive(Clone, Copy, Debug)]
pub struct ReportInputs<'a> {
    /// Anomaly scores, higher = more anomalous.
    pub scores: &'a [f64],
    /// Ground truth, when known; must have one label per score.
    pub labels: Option<&'a Labels>,
    /// Timestamps in unix seconds (`None` when a record has none); may be empty.
    pub timestamps: &'a [Option<i64>],
    /// The production threshold.
    pub threshold: f64,
}

impl ReportData {
    /// Computes metrics, curves, histogram and timeline from `inputs`. Title, subtitle and
    /// top anomalies are the caller's (see [`top_indices`] to choose the records);
    /// `run.records` and `run.flagged` are filled in here.
    pub fn from_inputs(
        title: &str,
        subtitle: &str,
        inputs: ReportInputs<'_>,
        mut run: RunSummary,
        top_anomalies: Vec<TopAnomaly>,
    ) -> Result<ReportData, MetricsError> {
        let ReportInputs { scores, labels, timestamps, threshold } = inputs;
        let truth = labels.map(Labels::anomalous);
        let evaluation = labels.map(|l| evaluate(scores, l, threshold)).transpose()?;
        let curves = match truth {
            Some(t) => curves(scores, t, DEFAULT_CURVE_POINTS)?,
            None => Default::default(),
        };
        // A log scale keeps rare anomalies visible next to the normal mass.
        let histogram_log_y = evaluation
            .as_ref()
            .is_none_or(|e| e.records > 0 && (e.anomalies as f64) < 0.2 * e.records as f64);
        run.records = scores.len() as u64;
        run.flagged = scores.iter().filter(|&&s| is_flagged(s, threshold)).count() as u64;
        let timeline = if timestamps.len() == scores.len() {
            timeline(timestamps, scores, threshold, truth, TIMELINE_BINS)
        } else {
            Vec::new()
        };
        Ok(ReportData {
            title: title.to_owned(),
            subtitle: subtitle.to_owned(),
            threshold,
            run,
            evaluation,
            curves,
            histogram: ScoreHistogram::compute(scores, truth, HISTOGRAM_BINS),
            histogram_log_y,
            timeline,
            top_anomalies,
        })
    }
}

/// Indices of the `k` highest scores, highest first (NaN scores last, ties by index).
pub fn top_indices(scores: &[f64], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    let key = |i: usize| crate::curves::rank_key(scores[i]);
    order.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
    order.truncate(k);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_from_scores() {
        let scores = [0.1, 0.9, f64::NAN, 0.5, 0.9];
        assert_eq!(top_indices(&scores, 3), vec![1, 4, 3]);
        let mut labels = Labels::new();
        for a in [false, true, false, false, true] {
            labels.push(a, Some("scan"));
        }
        let ts: Vec<Option<i64>> = (0..5).map(|i| Some(1_000 + i * 60)).collect();
        let inputs = ReportInputs {
            scores: &scores,
            labels: Some(&labels),
            timestamps: &ts,
            threshold: 0.6,
        };
        let data =
            ReportData::from_inputs("t", "s", inputs, RunSummary::default(), Vec::new()).unwrap();
        assert_eq!((data.run.records, data.run.flagged), (5, 2));
        assert_eq!(data.evaluation.as_ref().map(|e| e.recall), Some(1.0));
        assert!(!data.curves.roc.is_empty());
        assert_eq!(data.timeline.iter().map(|b| b.records).sum::<u64>(), 5);
        let bad = ReportInputs { scores: &scores[..2], ..inputs };
        assert!(ReportData::from_inputs("t", "s", bad, RunSummary::default(), Vec::new()).is_err());
    }
}
