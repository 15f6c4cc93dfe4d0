//! Per-feature robust z-scores.
//!
//! Each feature is centred on its training median and divided by a robust scale (MAD,
//! with documented fallbacks when it is zero; see [`ZScore`]), |z| is clipped, and the row
//! score is the maximum (default) or root mean square over features. The simplest
//! detector: catches single extreme values and explains them directly.

mod algorithm;
mod params;

pub use algorithm::ZScore;
pub use params::{Aggregate, ZScoreParams, ZScoreValidParams};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;
    use crate::testutil::{Plant, blob, roc_auc, top_feature};
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
    fn zero_mad_fallbacks() {
        // Column 0: mostly zero (MAD = IQR = 0, std > 0); column 1: constant.
        let mut data = Vec::new();
        for i in 0..100 {
            data.extend_from_slice(&[if i == 0 { 1.0 } else { 0.0 }, 7.0]);
        }
        let m = Matrix::new(data, 100, 2).expect("m");
        let z = ZScoreParams::new().fit(m.view(), 0).expect("fit");
        assert!(z.scales().iter().all(|s| *s > 0.0 && s.is_finite()));
        assert!((z.scales()[1] - 7e-3).abs() < 1e-12);
        assert_eq!(z.score_row(&[0.0, 7.0]), 0.0);
        assert_eq!(z.score_row(&[0.0, 8.0]), 10.0);
        assert_eq!(z.score_row(&[f64::NAN, 7.0]), 0.0);
        assert!(ZScoreParams::new().clip(0.0).check().is_err());
    }
}
