//! Detection quality: confusion matrix and rates at a threshold, ROC-AUC, PR-AUC (average
//! precision), the best F1 over thresholds and recall per attack category.
//!
//! Conventions, chosen to match what an operator expects from scikit-learn:
//! - a record is flagged when `score >= threshold`; a NaN score is never flagged and ranks
//!   below every number (see [`crate::curves`]);
//! - a rate whose denominator is zero (precision with nothing flagged, recall without
//!   anomalies, FPR without normal records) is reported as 0, like scikit-learn's
//!   `zero_division=0`;
//! - ROC-AUC needs both classes and PR-AUC needs at least one anomaly; otherwise they are
//!   `None` (JSON `null`) rather than a number that looks meaningful.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::curves::{check_lengths, operating_points, rank_key};
use crate::labels::Labels;

/// Why metrics could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// Scores and labels do not describe the same records.
    #[error("{scores} scores but {labels} labels; there must be one label per scored record")]
    LengthMismatch {
        /// Number of scores.
        scores: usize,
        /// Number of labels.
        labels: usize,
    },
}

/// Whether a score is flagged at `threshold` (`score >= threshold`; NaN never is).
pub fn is_flagged(score: f64, threshold: f64) -> bool {
    score >= threshold
}

/// Counts of flagged/unflagged records against the truth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Anomalous and flagged.
    pub true_positives: u64,
    /// Normal but flagged.
    pub false_positives: u64,
    /// Normal and not flagged.
    pub true_negatives: u64,
    /// Anomalous but not flagged.
    pub false_negatives: u64,
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

impl ConfusionMatrix {
    /// Counts at `threshold`.
    pub fn at_threshold(
        scores: &[f64],
        labels: &[bool],
        threshold: f64,
    ) -> Result<Self, MetricsError> {
        check_lengths(scores, labels)?;
        let mut m = ConfusionMatrix::default();
        for (&s, &anomalous) in scores.iter().zip(labels) {
            match (is_flagged(s, threshold), anomalous) {
                (true, true) => m.true_positives += 1,
                (true, false) => m.false_positives += 1,
                (false, false) => m.true_negatives += 1,
                (false, true) => m.false_negatives += 1,
            }
        }
        Ok(m)
    }

    /// Flagged records that are anomalous (0 when nothing is flagged).
    pub fn precision(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_positives)
    }

    /// Anomalous records that are flagged (0 without anomalies).
    pub fn recall(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_negatives)
    }

    /// Harmonic mean of precision and recall (0 when both are 0).
    pub fn f1(&self) -> f64 {
        ratio(
            2 * self.true_positives,
            2 * self.true_positives + self.false_positives + self.false_negatives,
        )
    }

    /// Normal records that are flagged (0 without normal records).
    pub fn false_positive_rate(&self) -> f64 {
        ratio(self.false_positives, self.false_positives + self.true_negatives)
    }
}

/// Area under the ROC curve: the probability that a random anomaly outscores a random
/// normal record, ties counting one half (Mann-Whitney U with average ranks).
/// `None` unless both classes are present.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Result<Option<f64>, MetricsError> {
    check_lengths(scores, labels)?;
    let mut order: Vec<(f64, bool)> =
        scores.iter().zip(labels).map(|(&s, &l)| (rank_key(s), l)).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Ok(None);
    }
    let mut positive_rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && order[j].0.total_cmp(&order[i].0).is_eq() {
            j += 1;
        }
        // Ranks i+1..=j share their mean.
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        let tied_positives = order[i..j].iter().filter(|x| x.1).count();
        positive_rank_sum += mean_rank * tied_positives as f64;
        i = j;
    }
    let p = positives as f64;
    let u = positive_rank_sum - p * (p + 1.0) / 2.0;
    Ok(Some(u / (p * negatives as f64)))
}

/// PR-AUC as average precision, scikit-learn's `average_precision_score`:
/// `sum_k (R_k - R_{k-1}) * P_k` over distinct thresholds (tied scores form one step).
/// `None` without anomalies.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Result<Option<f64>, MetricsError> {
    let points = operating_points(scores, labels)?;
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    if positives == 0.0 {
        return Ok(None);
    }
    let mut ap = 0.0;
    let mut previous_recall = 0.0;
    for p in &points {
        let recall = p.true_positives as f64 / positives;
        let precision = p.true_positives as f64 / (p.true_positives + p.false_positives) as f64;
        ap += (recall - previous_recall) * precision;
        previous_recall = recall;
    }
    Ok(Some(ap))
}

/// The F1-maximizing threshold (an oracle choice, for comparison with production's).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestF1 {
    /// The best F1.
    pub f1: f64,
    /// The threshold achieving it (the highest one, when several do).
    pub threshold: f64,
    /// Precision at that threshold.
    pub precision: f64,
    /// Recall at that threshold.
    pub recall: f64,
}

/// Best F1 over all thresholds equal to a (non-NaN) score; `None` without anomalies.
pub fn best_f1(scores: &[f64], labels: &[bool]) -> Result<Option<BestF1>, MetricsError> {
    let points = operating_points(scores, labels)?;
    let positives = labels.iter().filter(|&&l| l).count() as u64;
    if positives == 0 {
        return Ok(None);
    }
    let mut best: Option<BestF1> = None;
    for p in points.iter().filter(|p| !p.threshold.is_nan()) {
        let m = ConfusionMatrix {
            true_positives: p.true_positives,
            false_positives: p.false_positives,
            false_negatives: positives - p.true_positives,
            true_negatives: 0,
        };
        let f1 = m.f1();
        if best.is_none_or(|b| f1 > b.f1) {
            best = Some(BestF1 {
                f1,
                threshold: p.threshold,
                precision: m.precision(),
                recall: m.recall(),
            });
        }
    }
    Ok(best)
}

/// Recall within one category of anomalies.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryRecall {
    /// Anomalous records of this category.
    pub count: u64,
    /// How many of them are flagged.
    pub detected: u64,
    /// `detected / count`.
    pub recall: f64,
}

/// Recall per category at `threshold`, keyed by category name.
pub fn per_category_recall(
    scores: &[f64],
    labels: &Labels,
    threshold: f64,
) -> Result<BTreeMap<String, CategoryRecall>, MetricsError> {
    check_lengths(scores, labels.anomalous())?;
    let mut out: BTreeMap<String, CategoryRecall> = BTreeMap::new();
    for (i, &s) in scores.iter().enumerate() {
        if let Some(cat) = labels.category(i) {
            let entry = out.entry(cat.to_owned()).or_insert(CategoryRecall {
                count: 0,
                detected: 0,
                recall: 0.0,
            });
            entry.count += 1;
            entry.detected += u64::from(is_flagged(s, threshold));
        }
    }
    for c in out.values_mut() {
        c.recall = ratio(c.detected, c.count);
    }
    Ok(out)
}

/// Everything `eval --json` reports about detection quality at one threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Scored records.
    pub records: u64,
    /// Anomalous records among them.
    pub anomalies: u64,
    /// The threshold the rates below are measured at.
    pub threshold: f64,
    /// Counts at `threshold`.
    pub confusion: ConfusionMatrix,
    /// Precision at `threshold`.
    pub precision: f64,
    /// Recall at `threshold`.
    pub recall: f64,
    /// F1 at `threshold`.
    pub f1: f64,
    /// False positive rate at `threshold`.
    pub false_positive_rate: f64,
    /// ROC-AUC, `None` unless both classes are present.
    pub roc_auc: Option<f64>,
    /// Average precision, `None` without anomalies.
    pub pr_auc: Option<f64>,
    /// Best F1 over thresholds, `None` without anomalies.
    pub best_f1: Option<BestF1>,
    /// Recall per category.
    pub per_category: BTreeMap<String, CategoryRecall>,
}

/// Computes every metric for `scores` against `labels` at `threshold`.
pub fn evaluate(
    scores: &[f64],
    labels: &Labels,
    threshold: f64,
) -> Result<Evaluation, MetricsError> {
    let truth = labels.anomalous();
    let confusion = ConfusionMatrix::at_threshold(scores, truth, threshold)?;
    Ok(Evaluation {
        records: scores.len() as u64,
        anomalies: confusion.true_positives + confusion.false_negatives,
        threshold,
        confusion,
        precision: confusion.precision(),
        recall: confusion.recall(),
        f1: confusion.f1(),
        false_positive_rate: confusion.false_positive_rate(),
        roc_auc: roc_auc(scores, truth)?,
        pr_auc: average_precision(scores, truth)?,
        best_f1: best_f1(scores, truth)?,
        per_category: per_category_recall(scores, labels, threshold)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_computed_without_ties() {
        // scikit-learn: roc_auc_score = 0.75, average_precision_score = 0.8333...
        let s = [0.1, 0.4, 0.35, 0.8];
        let l = [false, false, true, true];
        assert!(close(roc_auc(&s, &l).unwrap().unwrap(), 0.75));
        assert!(close(average_precision(&s, &l).unwrap().unwrap(), 5.0 / 6.0));
    }

    #[test]
    fn hand_computed_with_ties() {
        // Ascending ranks: 0.2 -> 1, the two 0.5 -> 2.5 each, 0.9 -> 4.
        // U = (2.5 + 4) - 2*3/2 = 3.5, AUC = 3.5 / (2*2).
        let s = [0.2, 0.5, 0.5, 0.9];
        let l = [false, true, false, true];
        assert!(close(roc_auc(&s, &l).unwrap().unwrap(), 0.875));
        // Steps: recall 0.5 at precision 1, then recall 1 at precision 2/3.
        assert!(close(average_precision(&s, &l).unwrap().unwrap(), 0.5 + 0.5 * 2.0 / 3.0));
        let best = best_f1(&s, &l).unwrap().unwrap();
        assert!(close(best.f1, 0.8));
        assert_eq!(best.threshold, 0.5);
        assert!(close(best.precision, 2.0 / 3.0));
        assert!(close(best.recall, 1.0));
    }

    #[test]
    fn all_tied_is_chance() {
        let s = [0.5; 4];
        let l = [true, false, true, false];
        assert!(close(roc_auc(&s, &l).unwrap().unwrap(), 0.5));
        assert!(close(average_precision(&s, &l).unwrap().unwrap(), 0.5));
    }

    #[test]
    fn single_class_is_undefined() {
        assert_eq!(roc_auc(&[0.1, 0.2], &[false, false]).unwrap(), None);
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]).unwrap(), None);
        assert_eq!(average_precision(&[0.1, 0.2], &[false, false]).unwrap(), None);
        assert_eq!(best_f1(&[0.1, 0.2], &[false, false]).unwrap(), None);
        assert!(close(average_precision(&[0.1, 0.2], &[true, true]).unwrap().unwrap(), 1.0));
        assert_eq!(roc_auc(&[], &[]).unwrap(), None);
    }

    #[test]
    fn nan_ranks_lowest_and_is_never_flagged() {
        let s = [f64::NAN, 0.3, f64::NEG_INFINITY];
        let l = [true, false, false];
        // The NaN anomaly ranks below both normals.
        assert!(close(roc_auc(&s, &l).unwrap().unwrap(), 0.0));
        let m = ConfusionMatrix::at_threshold(&s, &l, f64::NEG_INFINITY).unwrap();
        assert_eq!((m.true_positives, m.false_negatives, m.false_positives), (0, 1, 2));
    }

    #[test]
    fn confusion_and_rates() {
        let s = [0.9, 0.8, 0.7, 0.2, 0.1, 0.6];
        let l = [true, false, true, false, false, true];
        let m = ConfusionMatrix::at_threshold(&s, &l, 0.7).unwrap();
        assert_eq!(
            m,
            ConfusionMatrix {
                true_positives: 2,
                false_positives: 1,
                true_negatives: 2,
                false_negatives: 1
            }
        );
        assert!(close(m.precision(), 2.0 / 3.0));
        assert!(close(m.recall(), 2.0 / 3.0));
        assert!(close(m.f1(), 2.0 / 3.0));
        assert!(close(m.false_positive_rate(), 1.0 / 3.0));
        assert_eq!(ConfusionMatrix::default().precision(), 0.0);
    }

    #[test]
    fn per_category_and_evaluate() {
        let mut labels = Labels::new();
        labels.push(true, Some("sqli"));
        labels.push(false, None);
        labels.push(true, Some("sqli"));
        labels.push(true, Some("scan"));
        let s = [0.9, 0.1, 0.2, 0.8];
        let e = evaluate(&s, &labels, 0.5).unwrap();
        assert_eq!((e.records, e.anomalies), (4, 3));
        assert_eq!(e.per_category["sqli"].count, 2);
        assert!(close(e.per_category["sqli"].recall, 0.5));
        assert!(close(e.per_category["scan"].recall, 1.0));
        let json = serde_json::to_value(&e).unwrap();
        for key in ["records", "anomalies", "roc_auc", "pr_auc", "precision", "recall", "f1"] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert!(json["per_category"]["sqli"]["count"].is_u64());
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let err = roc_auc(&[0.1], &[true, false]).unwrap_err();
        assert_eq!(err, MetricsError::LengthMismatch { scores: 1, labels: 2 });
    }

    fn scored() -> impl Strategy<Value = (Vec<f64>, Vec<bool>)> {
        proptest::collection::vec((-1e6f64..1e6, any::<bool>()), 1..200)
            .prop_map(|v| v.into_iter().unzip())
    }

    proptest! {
        #[test]
        fn auc_is_a_probability((s, l) in scored()) {
            if let Some(auc) = roc_auc(&s, &l).unwrap() {
                prop_assert!((0.0..=1.0).contains(&auc));
            }
            if let Some(ap) = average_precision(&s, &l).unwrap() {
                prop_assert!((0.0..=1.0 + 1e-12).contains(&ap));
            }
        }

        #[test]
        fn reversed_scores_complement_auc((s, l) in scored()) {
            let mut distinct = s.clone();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            prop_assume!(distinct.len() == s.len());
            let reversed: Vec<f64> = s.iter().map(|x| -x).collect();
            if let (Some(a), Some(b)) = (roc_auc(&s, &l).unwrap(), roc_auc(&reversed, &l).unwrap()) {
                prop_assert!((a + b - 1.0).abs() < 1e-9);
            }
        }

        #[test]
        fn rank_auc_equals_trapezoid_area((s, l) in scored()) {
            // Coarse scores create many ties; both definitions must still agree.
            let coarse: Vec<f64> = s.iter().map(|x| (x / 2e5).round()).collect();
            if let Some(auc) = roc_auc(&coarse, &l).unwrap() {
                let roc = crate::curves::curves(&coarse, &l, usize::MAX).unwrap().roc;
                let area: f64 = roc.windows(2)
                    .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
                    .sum();
                prop_assert!((auc - area).abs() < 1e-9);
            }
        }
    }
}
