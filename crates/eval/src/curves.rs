//! Threshold sweeps: the operating points behind ROC and precision-recall curves.
//!
//! Scores are "higher = more anomalous" and a record is flagged when `score >= threshold`.
//! NaN scores rank below every number (including `-inf`) and tie with each other; no
//! finite threshold flags them, but the sweep ends with a point that counts them as
//! flagged so that curves end at recall 1.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::metrics::MetricsError;

/// Cumulative counts when every record scoring at least `threshold` is flagged.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    /// The score of the lowest flagged group; NaN for the final point that flags NaN scores.
    pub threshold: f64,
    /// Anomalous records flagged.
    pub true_positives: u64,
    /// Normal records flagged.
    pub false_positives: u64,
}

/// One point of a ROC curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    /// Threshold producing this point (`+inf` for the origin).
    pub threshold: f64,
    /// False positive rate.
    pub fpr: f64,
    /// True positive rate (recall).
    pub tpr: f64,
}

/// One point of a precision-recall curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrPoint {
    /// Threshold producing this point.
    pub threshold: f64,
    /// Recall (true positive rate).
    pub recall: f64,
    /// Precision.
    pub precision: f64,
}

/// ROC and precision-recall curves, downsampled for plotting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Curves {
    /// ROC points from (0, 0) to (1, 1); empty without both classes.
    pub roc: Vec<RocPoint>,
    /// Precision-recall points in increasing recall; empty without positives.
    pub pr: Vec<PrPoint>,
}

/// Default number of points kept per curve: enough for a smooth 500-pixel chart.
pub const DEFAULT_CURVE_POINTS: usize = 500;

/// Maps a score to a key where NaN sorts lowest and `-0.0 == 0.0`, so ties are exact.
pub(crate) fn rank_key(score: f64) -> f64 {
    if score.is_nan() {
        // Negative NaN is the minimum under `total_cmp`; one bit pattern makes NaNs tie.
        -f64::NAN
    } else if score == 0.0 {
        0.0
    } else {
        score
    }
}

pub(crate) fn check_lengths(scores: &[f64], labels: &[bool]) -> Result<(), MetricsError> {
    if scores.len() == labels.len() {
        Ok(())
    } else {
        Err(MetricsError::LengthMismatch { scores: scores.len(), labels: labels.len() })
    }
}

/// Every distinct threshold, from the highest score down, with cumulative counts.
pub fn operating_points(
    scores: &[f64],
    labels: &[bool],
) -> Result<Vec<OperatingPoint>, MetricsError> {
    check_lengths(scores, labels)?;
    let mut order: Vec<(f64, bool)> =
        scores.iter().zip(labels).map(|(&s, &l)| (rank_key(s), l)).collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut points = Vec::new();
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut i = 0;
    while i < order.len() {
        let key = order[i].0;
        while i < order.len() && order[i].0.total_cmp(&key) == Ordering::Equal {
            if order[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let threshold = if key.is_nan() { f64::NAN } else { key };
        points.push(OperatingPoint { threshold, true_positives: tp, false_positives: fp });
    }
    Ok(points)
}

/// ROC and PR curves with at most about `max_points` points each.
pub fn curves(scores: &[f64], labels: &[bool], max_points: usize) -> Result<Curves, MetricsError> {
    let points = operating_points(scores, labels)?;
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let kept = downsample(&points, positives, negatives, max_points.max(3));
    let mut out = Curves::default();
    if positives > 0.0 && negatives > 0.0 {
        out.roc.push(RocPoint { threshold: f64::INFINITY, fpr: 0.0, tpr: 0.0 });
        out.roc.extend(kept.iter().map(|p| RocPoint {
            threshold: p.threshold,
            fpr: p.false_positives as f64 / negatives,
            tpr: p.true_positives as f64 / positives,
        }));
    }
    if positives > 0.0 {
        out.pr.extend(kept.iter().map(|p| PrPoint {
            threshold: p.threshold,
            recall: p.true_positives as f64 / positives,
            precision: p.true_positives as f64 / (p.true_positives + p.false_positives) as f64,
        }));
    }
    Ok(out)
}

/// Keeps points that moved at least a fixed step along `fpr + tpr` (monotone, from 0 to 2),
/// so steep and flat stretches of the curve both keep their shape.
fn downsample(
    points: &[OperatingPoint],
    positives: f64,
    negatives: f64,
    max_points: usize,
) -> Vec<OperatingPoint> {
    if points.len() <= max_points {
        return points.to_vec();
    }
    let pos = positives.max(1.0);
    let neg = negatives.max(1.0);
    let position =
        |p: &OperatingPoint| p.true_positives as f64 / pos + p.false_positives as f64 / neg;
    let step = 2.0 / (max_points - 2) as f64;
    let mut kept: Vec<OperatingPoint> = Vec::with_capacity(max_points);
    let mut last = f64::NEG_INFINITY;
    for (i, p) in points.iter().enumerate() {
        let at = position(p);
        if i == 0 || i + 1 == points.len() || at - last >= step {
            kept.push(*p);
            last = at;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_ties_and_puts_nan_last() {
        let scores = [0.5, f64::NAN, 0.9, 0.5, -0.0, 0.0];
        let labels = [true, true, false, false, true, false];
        let pts = operating_points(&scores, &labels).unwrap();
        let summary: Vec<(u64, u64)> =
            pts.iter().map(|p| (p.true_positives, p.false_positives)).collect();
        assert_eq!(summary, vec![(0, 1), (1, 2), (2, 3), (3, 3)]);
        assert_eq!(pts[0].threshold, 0.9);
        assert_eq!(pts[2].threshold, 0.0);
        assert!(pts[3].threshold.is_nan());
    }

    #[test]
    fn curves_span_the_unit_square() {
        let scores: Vec<f64> = (0..10_000).map(|i| (i % 997) as f64).collect();
        let labels: Vec<bool> = (0..10_000).map(|i| i % 7 == 0).collect();
        let c = curves(&scores, &labels, 100).unwrap();
        assert!(c.roc.len() <= 102, "{}", c.roc.len());
        assert_eq!((c.roc[0].fpr, c.roc[0].tpr), (0.0, 0.0));
        let last = c.roc.last().unwrap();
        assert_eq!((last.fpr, last.tpr), (1.0, 1.0));
        assert_eq!(c.pr.last().unwrap().recall, 1.0);
    }

    #[test]
    fn single_class_has_no_roc() {
        let c = curves(&[0.1, 0.2], &[false, false], 10).unwrap();
        assert!(c.roc.is_empty() && c.pr.is_empty());
        let c = curves(&[0.1, 0.2], &[true, true], 10).unwrap();
        assert!(c.roc.is_empty());
        assert_eq!(c.pr.len(), 2);
    }
}
