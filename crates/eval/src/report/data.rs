//! What a report shows, as plain data the CLI fills from its own records, scores and
//! explanations, plus helpers that aggregate per-record values into chart-sized series.

use serde::{Deserialize, Serialize};

use crate::curves::Curves;
use crate::metrics::{Evaluation, is_flagged};

/// Everything [`super::render_report`] needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    /// Page title, e.g. "anomalog evaluation".
    pub title: String,
    /// A line under the title: inputs, generation time, version (caller-formatted).
    pub subtitle: String,
    /// The production threshold (records scoring at least this are flagged).
    pub threshold: f64,
    /// Run facts for the summary table.
    pub run: RunSummary,
    /// Metrics against labels; `None` when the input had no labels (charts that need
    /// labels are then left out).
    pub evaluation: Option<Evaluation>,
    /// ROC and PR curves (see [`crate::curves::curves`]).
    pub curves: Curves,
    /// Score distribution by class.
    pub histogram: ScoreHistogram,
    /// Plot the histogram's counts on a log scale (useful when anomalies are rare).
    pub histogram_log_y: bool,
    /// Traffic and scores over time.
    pub timeline: Vec<TimelineBin>,
    /// The highest-scoring records, highest first.
    pub top_anomalies: Vec<TopAnomaly>,
}

/// Facts about the run for the summary table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Detector name, e.g. `iforest`.
    pub detector: String,
    /// Records scored.
    pub records: u64,
    /// Records flagged at the threshold.
    pub flagged: u64,
    /// Records the model was trained on.
    pub train_records: Option<u64>,
    /// Training wall time in seconds.
    pub train_seconds: Option<f64>,
    /// Scoring wall time in seconds.
    pub score_seconds: Option<f64>,
    /// Further rows for the summary table, shown as given.
    pub extra: Vec<(String, String)>,
}

/// Score histogram with one series per class over shared, equal-width bins.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreHistogram {
    /// Lower edge of the first bin.
    pub min: f64,
    /// Upper edge of the last bin.
    pub max: f64,
    /// Counts of normal records (of all records when unlabeled).
    pub normal: Vec<u64>,
    /// Counts of anomalous records; empty when unlabeled.
    pub anomalous: Vec<u64>,
}

impl ScoreHistogram {
    /// Bins the finite scores into `bins` equal-width bins spanning their range; NaN and
    /// infinite scores are left out.
    pub fn compute(scores: &[f64], labels: Option<&[bool]>, bins: usize) -> Self {
        let bins = bins.max(1);
        let finite = || scores.iter().copied().filter(|s| s.is_finite());
        let (mut min, mut max) =
            finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| (lo.min(s), hi.max(s)));
        if min > max {
            (min, max) = (0.0, 1.0);
        }
        if max - min < 1e-12 {
            max = min + 1.0;
        }
        let mut normal = vec![0u64; bins];
        let mut anomalous = if labels.is_some() { vec![0u64; bins] } else { Vec::new() };
        for (i, &s) in scores.iter().enumerate() {
            if !s.is_finite() {
                continue;
            }
            let b = (((s - min) / (max - min)) * bins as f64).floor() as usize;
            let b = b.min(bins - 1);
            match labels.and_then(|l| l.get(i)) {
                Some(true) => anomalous[b] += 1,
                _ => normal[b] += 1,
            }
        }
        ScoreHistogram { min, max, normal, anomalous }
    }
}

/// Traffic and scores in one time bin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineBin {
    /// Start of the bin, unix seconds.
    pub start: i64,
    /// Width of the bin in seconds.
    pub seconds: u32,
    /// Records in the bin.
    pub records: u64,
    /// Records flagged at the threshold.
    pub flagged: u64,
    /// Records labeled anomalous, when labels are known.
    pub labeled_anomalies: Option<u64>,
    /// Mean score (NaN scores ignored; 0 for an empty bin).
    pub mean_score: f64,
    /// Highest score (0 for an empty bin).
    pub max_score: f64,
}

/// Bin widths a reader finds natural, in seconds.
const BIN_WIDTHS: &[i64] =
    &[60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 604_800];

/// Aggregates records (timestamp in unix seconds, score) into at most `max_bins` bins of a
/// natural width (one minute, five minutes, ... one week). Records without a timestamp are
/// skipped.
pub fn timeline(
    timestamps: &[Option<i64>],
    scores: &[f64],
    threshold: f64,
    labels: Option<&[bool]>,
    max_bins: usize,
) -> Vec<TimelineBin> {
    let stamped = || {
        timestamps.iter().zip(scores).enumerate().filter_map(|(i, (t, s))| t.map(|t| (i, t, *s)))
    };
    let Some((lo, hi)) = stamped().fold(None, |acc: Option<(i64, i64)>, (_, t, _)| {
        Some(acc.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))))
    }) else {
        return Vec::new();
    };
    let max_bins = max_bins.max(1) as i64;
    let width = BIN_WIDTHS
        .iter()
        .copied()
        .find(|w| (hi.div_euclid(*w) - lo.div_euclid(*w)) < max_bins)
        .unwrap_or_else(|| ((hi - lo) / max_bins + 1).max(1));
    let first = lo.div_euclid(width) * width;
    let n = ((hi - first) / width + 1) as usize;
    let mut bins: Vec<TimelineBin> = (0..n)
        .map(|k| TimelineBin {
            start: first + k as i64 * width,
            seconds: width as u32,
            labeled_anomalies: labels.map(|_| 0),
            ..TimelineBin::default()
        })
        .collect();
    let mut sums = vec![(0.0f64, 0u64); n];
    for (i, t, s) in stamped() {
        let k = ((t - first) / width) as usize;
        let bin = &mut bins[k];
        bin.records += 1;
        bin.flagged += u64::from(is_flagged(s, threshold));
        if let (Some(count), Some(true)) =
            (bin.labeled_anomalies.as_mut(), labels.and_then(|l| l.get(i)))
        {
            *count += 1;
        }
        if !s.is_nan() {
            sums[k].0 += s;
            sums[k].1 += 1;
            bin.max_score = if sums[k].1 == 1 { s } else { bin.max_score.max(s) };
        }
    }
    for (bin, (sum, count)) in bins.iter_mut().zip(sums) {
        bin.mean_score = if count == 0 { 0.0 } else { sum / count as f64 };
    }
    bins
}

/// One high-scoring record for the report's table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TopAnomaly {
    /// 1-based input line.
    pub line: u64,
    /// Timestamp, unix seconds.
    pub ts: Option<i64>,
    /// Client address (or pseudonym).
    pub client: String,
    /// The request line as logged, e.g. `GET /search?q=... HTTP/1.1`.
    pub request: String,
    /// HTTP status.
    pub status: Option<u16>,
    /// Anomaly score, higher = more anomalous.
    pub score: f64,
    /// The labeled category, when labels are known (`None` also for normal records).
    pub label: Option<String>,
    /// Why it scored high, largest contribution first.
    pub explanation: Vec<Contribution>,
}

/// One feature's part in a score, as `detect --output jsonl` reports it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// Feature name, e.g. `client_error_ratio_60s`.
    pub feature: String,
    /// The record's value, formatted.
    pub value: String,
    /// A typical value in training data, formatted.
    pub typical: String,
    /// Share of the score attributed to this feature.
    pub contribution: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_splits_classes_and_skips_nan() {
        let h = ScoreHistogram::compute(
            &[0.0, 0.5, 1.0, f64::NAN, 0.99],
            Some(&[false, false, true, true, true]),
            2,
        );
        assert_eq!((h.min, h.max), (0.0, 1.0));
        assert_eq!(h.normal, vec![1, 1]);
        assert_eq!(h.anomalous, vec![0, 2]);
        let flat = ScoreHistogram::compute(&[3.0, 3.0], None, 4);
        assert_eq!(flat.normal.iter().sum::<u64>(), 2);
        assert!(flat.anomalous.is_empty());
    }

    #[test]
    fn timeline_picks_a_natural_width() {
        let ts: Vec<Option<i64>> = (0..86_400).step_by(30).map(Some).chain([None]).collect();
        let scores = vec![0.5; ts.len()];
        let bins = timeline(&ts, &scores, 0.4, None, 300);
        assert_eq!(bins[0].seconds, 300);
        assert_eq!(bins.len(), 288);
        assert_eq!(bins.iter().map(|b| b.records).sum::<u64>(), 2_880);
        assert!(bins.iter().all(|b| b.flagged == b.records && b.mean_score == 0.5));
        assert!(timeline(&[None], &[0.1], 0.5, None, 10).is_empty());
    }
}
