//! Per-feature robust z-scores, expressed as surprises.
//!
//! Continuous features are centred on their training median and divided by a per-side,
//! tail-aware robust scale (the MAD, widened so the 1st / 99th percentile sits at
//! |z| = 2.33); |z| becomes a surprise, `-log10` of the normal tail probability. Features
//! whose median holds at least half of the rows (sparse counts, flags; MAD = 0) are
//! rare-event features: a deviation costs `-log10` of the training frequency of
//! deviating on that side, plus the log of its size relative to the typical deviation.
//! Both kinds are in the same unit, so the row score, the maximum (default) or root mean
//! square over features, compares them fairly; the calibration on training scores
//! accounts for the maximum over many features being large by chance. Catches single
//! extreme values and explains them directly.

mod algorithm;
mod params;

pub use algorithm::ZScore;
pub use params::{Aggregate, ZScoreParams, ZScoreValidParams};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;
    use crate::testutil::{Plant, blob, roc_auc, top_feature};
    use crate::threshold::{Calibration, ThresholdRule};
    use crate::traits::{Detector, Fit, ParamGuard};

    #[test]
    fn ranks_and_explains() {
        for agg in [Aggregate::Max, Aggregate::Rms] {
            let (m, labels) = blob(1000, 20, 6, Plant::Everywhere, 1);
            let z = ZScoreParams::new().aggregate(agg).fit(m.view(), 0).expect("fit");
            assert!(roc_auc(&z.score(m.view()), &labels) > 0.95);
            let (m, labels) = blob(1000, 10, 6, Plant::Column(3, 8.0), 2);
            let z = ZScoreParams::new().aggregate(agg).fit(m.view(), 0).expect("fit");
            assert!(roc_auc(&z.score(m.view()), &labels) > 0.95);
            for r in 1000..1010 {
                assert_eq!(top_feature(&z.explain(m.view().row(r))), 3);
            }
        }
    }

    #[test]
    fn zero_mad_features() {
        // Column 0: mostly zero (MAD = 0); column 1: constant.
        let mut data = Vec::new();
        for i in 0..100 {
            data.extend_from_slice(&[if i == 0 { 1.0 } else { 0.0 }, 7.0]);
        }
        let m = Matrix::new(data, 100, 2).expect("m");
        let z = ZScoreParams::new().fit(m.view(), 0).expect("fit");
        assert_eq!(z.is_rare_event(0), Some(true));
        assert_eq!(z.score_row(&[0.0, 7.0]), 0.0);
        assert_eq!(z.score_row(&[f64::NAN, 7.0]), 0.0);
        // A change of a constant is rarer than a value seen once, and further is rarer.
        assert!(z.score_row(&[0.0, 8.0]) > z.score_row(&[1.0, 7.0]));
        assert!(z.score_row(&[5.0, 7.0]) > z.score_row(&[1.0, 7.0]));
        assert!(z.score_row(&[0.0, 8.0]).is_finite());
        assert!(ZScoreParams::new().clip(0.0).check().is_err());
    }

    /// Many sparse features (nonzero in 0.1% to 2% of rows) and one continuous one: no
    /// training mass may pile up at the top, so the alerting threshold is below the
    /// maximum training score and a planted outlier is ranked first.
    #[test]
    fn sparse_features_keep_a_usable_threshold() {
        let (rows, d) = (5000, 30);
        let mut data = Vec::with_capacity(rows * d);
        for i in 0..rows {
            for j in 0..d {
                let v = if j == 0 {
                    (i % 97) as f64
                } else if (i * 7 + j * 13) % (20 + 40 * j) == 0 {
                    1.0 + (i % 3) as f64
                } else {
                    0.0
                };
                data.push(v);
            }
        }
        let m = Matrix::new(data, rows, d).expect("m");
        let z = ZScoreParams::new().fit(m.view(), 0).expect("fit");
        let scores = z.score(m.view());
        let calibration = Calibration::from_scores(&scores, None).expect("finite");
        let threshold = calibration.threshold(ThresholdRule::default()).expect("valid");
        let max = scores.iter().copied().fold(0.0, f64::max);
        assert!(threshold < max, "threshold {threshold} max {max}");
        let flagged = scores.iter().filter(|s| **s > threshold).count();
        assert!(flagged > 0 && flagged <= 2 * rows / 100, "{flagged}");
        let mut outlier = m.view().row(1).to_vec();
        outlier[5] = 200.0;
        assert!(z.score_row(&outlier) > max);
        assert_eq!(top_feature(&z.explain(&outlier)), 5);
    }
}
