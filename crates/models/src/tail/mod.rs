//! Per-feature empirical tail probabilities.
//!
//! For every feature the training values are kept as a compact set of knots (about a
//! hundred: the body every 1/64 of the mass, the tails down to one in ten million, each
//! with exact counts of the values below and at it, so ties in sparse and discrete
//! features are handled exactly). A value's surprise is `-log10` of its tail probability,
//! `P(X >= x)` or `P(X <= x)` (the larger surprise of the two sides by default); beyond
//! the training range the surprise keeps growing with the log of the distance. The row
//! score sums the `top_k` largest surprises.
//!
//! Unlike averaging detectors, a record that is extreme in two or three of a hundred
//! features is not averaged away, and the explanation is exactly the per-feature surprise
//! ("1 in 10,000 training requests was this slow"). The maximum over many features is
//! large by chance alone; the calibration on training scores accounts for that.

mod algorithm;
mod ecdf;
mod params;

pub use algorithm::TailProbability;
pub(crate) use algorithm::{HintedTopK, SELECT_MAX};
pub use params::{MAX_TOP_K, Sides, TailParams, TailValidParams};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;
    use crate::testutil::{Plant, blob, head, roc_auc, top_feature};
    use crate::traits::{Detector, Fit, ParamGuard};

    #[test]
    fn ranks_and_explains() {
        for k in [1, 3] {
            let (m, labels) = blob(1000, 20, 6, Plant::Everywhere, 1);
            let t = TailParams::new().top_k(k).fit(head(&m, 1000).view(), 0).expect("fit");
            assert!(roc_auc(&t.score(m.view()), &labels) > 0.95);
            let (m, labels) = blob(1000, 10, 6, Plant::Column(3, 8.0), 2);
            let t = TailParams::new().top_k(k).fit(head(&m, 1000).view(), 0).expect("fit");
            assert!(roc_auc(&t.score(m.view()), &labels) > 0.95);
            for r in 1000..1010 {
                assert_eq!(top_feature(&t.explain(m.view().row(r))), 3);
            }
        }
    }

    #[test]
    fn low_side_and_sparse_features() {
        // Column 0 is sparse (98% zeros), column 1 continuous; row 2000 is unusually low
        // in column 1 only, row 2001 has a never-seen value in column 0.
        let mut data = Vec::new();
        for i in 0..2000u32 {
            let sparse = if i % 50 == 0 { 1.0 } else { 0.0 };
            data.extend_from_slice(&[sparse, 10.0 + f64::from(i % 100) / 10.0]);
        }
        let m = Matrix::new(data, 2000, 2).expect("m");
        let t = TailParams::new().top_k(1).fit(m.view(), 0).expect("fit");
        let low = t.score_row(&[0.0, 5.0]);
        let rare = t.score_row(&[4.0, 15.0]);
        let typical = t.score_row(&[0.0, 15.0]);
        let train = t.score(m.view());
        let max_train = train.iter().copied().fold(0.0, f64::max);
        assert!(low > max_train && rare > max_train && typical < 0.5, "{low} {rare} {typical}");
        let upper = TailParams::new().top_k(1).sides(Sides::Upper).fit(m.view(), 0).expect("fit");
        assert!(upper.score_row(&[0.0, 5.0]) < 0.01);
        assert!(t.score_row(&[f64::NAN, 15.0]) < 0.5);
        assert!(t.score_row(&[0.0]).is_nan() && t.explain(&[0.0]).is_empty());
        assert!(TailParams::new().top_k(0).check().is_err());
        assert!(TailParams::new().top_k(MAX_TOP_K + 1).check().is_err());
    }

    #[test]
    fn deterministic() {
        let (m, _) = blob(500, 5, 4, Plant::Everywhere, 3);
        let a = TailParams::new().fit(m.view(), 1).expect("fit");
        let b = TailParams::new().fit(m.view(), 2).expect("fit");
        assert_eq!(a, b);
        assert_eq!(a.score(m.view()), b.score(m.view()));
    }
}
