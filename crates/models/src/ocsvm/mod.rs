//! One-Class SVM (Schölkopf et al., 2001) with an RBF kernel.
//!
//! The kernel is approximated with the Nyström method (landmarks drawn from the training
//! rows, Cholesky feature map), and the resulting linear one-class SVM is solved in the
//! primal by averaged SGD, as sklearn's `SGDOneClassSVM` does. This keeps fitting linear in
//! the number of rows (the exact dual is quadratic) and scoring at one kernel evaluation
//! per landmark, since the solution is folded back into per-landmark weights.
//!
//! Features are standardized internally (median/std: the kernel depends only on
//! differences, and a sparse feature's usual value becomes exactly zero, which the kernel
//! then skips in blocks of rows where it is zero throughout), and the default kernel width
//! is sklearn's `"scale"`, which on standardized features is `1 / n_features`.
//!
//! Scoring evaluates the kernel of a block of rows against all landmarks at once in `f32`:
//! `‖l‖² - 2 l·z` as one matrix product (the autoencoder's `affine` kernel), then the
//! weighted sum of `exp(-γ d²)` vectorized across rows. On CPUs with AVX-512 the two are
//! fused: the exponentials are taken and summed while the distances are still in
//! registers, with fused multiply-adds, so scores there differ from other CPUs' in the
//! last bits (each machine's own are deterministic). Fitting computes the Nyström
//! features in `f64` with two GEMMs per block of rows.

mod algorithm;
mod nystrom;
mod params;
mod validate;

pub use algorithm::OneClassSvm;
pub use params::{OneClassSvmParams, OneClassSvmValidParams};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FitError;
    use crate::matrix::Matrix;
    use crate::testutil::{Plant, blob, head, roc_auc, sparse_rows, top_feature};
    use crate::traits::{Detector, Fit, ParamGuard};

    #[test]
    fn ranks_and_explains() {
        let (m, labels) = blob(1000, 20, 6, Plant::Everywhere, 1);
        let s = OneClassSvmParams::new().fit(m.view(), 0).expect("fit");
        let auc = roc_auc(&s.score(m.view()), &labels);
        assert!(auc > 0.95, "{auc}");
        let (m, labels) = blob(1000, 10, 6, Plant::Column(3, 8.0), 2);
        let s = OneClassSvmParams::new().fit(m.view(), 0).expect("fit");
        let auc = roc_auc(&s.score(m.view()), &labels);
        assert!(auc > 0.95, "{auc}");
        for r in 1000..1010 {
            assert_eq!(top_feature(&s.explain(m.view().row(r))), 3);
        }
    }

    #[test]
    fn deterministic_and_errors() {
        let (m, _) = blob(300, 5, 4, Plant::Everywhere, 3);
        let a = OneClassSvmParams::new().fit(m.view(), 5).expect("fit").score(m.view());
        let b = OneClassSvmParams::new().fit(m.view(), 5).expect("fit").score(m.view());
        assert_eq!(a, b);
        assert!(OneClassSvmParams::new().nu(0.0).check().is_err());
        assert!(OneClassSvmParams::new().gamma(-1.0).check().is_err());
        let same = Matrix::new(vec![2.0; 8], 4, 2).expect("m");
        assert!(matches!(
            OneClassSvmParams::new().fit(same.view(), 0),
            Err(FitError::IdenticalRows { .. })
        ));
        let s = OneClassSvmParams::new().fit(m.view(), 0).expect("fit");
        assert!(s.score_row(&[0.0]).is_nan());
        assert!(s.score_row(&[f64::NAN, 0.0, 0.0, 0.0]).is_finite());
    }

    #[test]
    fn outliers_above_inliers_when_fitted_on_normal_rows() {
        let (m, labels) = blob(3000, 40, 12, Plant::Column(5, 6.0), 4);
        let s = OneClassSvmParams::new().fit(head(&m, 3000).view(), 1).expect("fit");
        let auc = roc_auc(&s.score(m.view()), &labels);
        assert!(auc > 0.97, "{auc}");
        let named = (3000..3040).filter(|&r| top_feature(&s.explain(m.view().row(r))) == 5);
        assert!(named.count() >= 36);
    }

    #[test]
    fn sparse_features_score_alike_alone_and_in_blocks() {
        let (train, m) = sparse_rows(700, 9);
        let a = OneClassSvmParams::new().fit(train.view(), 3).expect("fit");
        let scores = a.score(m.view());
        for (r, s) in scores.iter().enumerate() {
            assert_eq!(s.to_bits(), a.score_row(m.view().row(r)).to_bits(), "row {r}");
        }
        let rare: Vec<f64> = (0..9).map(|j| 5.0 + j as f64).collect();
        assert!(a.score_row(a.medians()) < a.score_row(&rare));
    }

    #[test]
    fn batched_scores_equal_row_scores_and_survive_round_trip() {
        let (mut m, _) = blob(2600, 10, 7, Plant::Everywhere, 5);
        let s = OneClassSvmParams::new().fit(m.view(), 2).expect("fit");
        m.as_mut_slice()[7 * 3 + 2] = f64::NAN;
        m.as_mut_slice()[7 * 2000] = f64::NEG_INFINITY;
        let scores = s.score(m.view());
        for (r, v) in scores.iter().enumerate() {
            assert_eq!(v.to_bits(), s.score_row(m.view().row(r)).to_bits(), "row {r}");
        }
        // Far from the data the kernel vanishes and the score saturates at rho.
        let far = s.score_row(&[1e6; 7]);
        assert!(scores.iter().all(|v| v.is_finite() && *v <= far + 1e-9));

        let bytes = postcard::to_stdvec(&s).expect("serialize");
        let t: OneClassSvm = postcard::from_bytes(&bytes).expect("deserialize");
        assert_eq!(s, t);
        assert_eq!(postcard::to_stdvec(&t).expect("serialize"), bytes);
        let again = t.score(m.view());
        assert!(scores.iter().zip(&again).all(|(x, y)| x.to_bits() == y.to_bits()));
        assert_eq!(t.check_state(), Ok(()));
    }
}
