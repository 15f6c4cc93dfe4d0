//! Histogram-Based Outlier Score (Goldstein and Dengel, 2012).
//!
//! One histogram per feature; a row's score is the sum over features of
//! `ln(densest bin height) - ln(height of the row's bin)`, so a row whose every value
//! falls in the densest bins scores 0. Empty bins get a pseudo-count; values outside the
//! training range get the empty-bin term plus `ln(1 + distance / bin width)`, so far
//! values rank above near ones. Fast and linear, but blind to interactions between
//! features, which the forest covers in the default ensemble.

mod algorithm;
mod params;

pub use algorithm::Hbos;
pub use params::{BinMode, HbosParams, HbosValidParams};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FitError;
    use crate::matrix::{Matrix, MatrixView};
    use crate::testutil::{Plant, blob, roc_auc, top_feature};
    use crate::traits::{Detector, Fit, ParamGuard};

    #[test]
    fn ranks_and_explains() {
        for mode in [BinMode::EqualWidth, BinMode::Quantile] {
            let (m, labels) = blob(1000, 20, 6, Plant::Everywhere, 1);
            let h = HbosParams::new().mode(mode).fit(m.view(), 0).expect("fit");
            assert!(roc_auc(&h.score(m.view()), &labels) > 0.95);
            let (m, labels) = blob(1000, 10, 6, Plant::Column(3, 8.0), 2);
            // Quantile bins absorb a cluster of training outliers into a wide tail bin, so
            // that mode is fitted on the inliers only (see `BinMode::Quantile`).
            let train = match mode {
                BinMode::EqualWidth => m.view(),
                BinMode::Quantile => {
                    MatrixView::new(&m.view().as_slice()[..6000], 1000, 6).expect("m")
                }
            };
            let h = HbosParams::new().mode(mode).fit(train, 0).expect("fit");
            let auc = roc_auc(&h.score(m.view()), &labels);
            assert!(auc > 0.95, "{mode:?} {auc}");
            for r in 1000..1010 {
                assert_eq!(top_feature(&h.explain(m.view().row(r))), 3);
            }
        }
    }

    #[test]
    fn constant_column_and_missing() {
        let m = Matrix::new(vec![1.0, 5.0, 2.0, 5.0, 3.0, 5.0], 3, 2).expect("m");
        let h = HbosParams::new().fit(m.view(), 0).expect("fit");
        assert_eq!(h.explain(&[2.0, 5.0])[1].1, 0.0);
        assert!(h.score_row(&[2.0, 6.0]) > h.score_row(&[2.0, 5.0]));
        assert!(h.score_row(&[2.0, 60.0]) > h.score_row(&[2.0, 6.0]));
        assert_eq!(h.score_row(&[f64::NAN, 5.0]), h.score_row(&[2.0, 5.0]));
        assert!(h.score_row(&[1.0]).is_nan());
    }

    #[test]
    fn errors() {
        assert!(HbosParams::new().bins(0).check().is_err());
        assert!(HbosParams::new().alpha(0.0).check().is_err());
        let same = Matrix::new(vec![1.0; 6], 3, 2).expect("m");
        assert!(matches!(
            HbosParams::new().fit(same.view(), 0),
            Err(FitError::IdenticalRows { .. })
        ));
    }
}
