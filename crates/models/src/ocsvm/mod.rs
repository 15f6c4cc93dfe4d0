//! One-Class SVM (Schölkopf et al., 2001) with an RBF kernel.
//!
//! The kernel is approximated with the Nyström method (landmarks drawn from the training
//! rows, Cholesky feature map), and the resulting linear one-class SVM is solved in the
//! primal by averaged SGD, as sklearn's `SGDOneClassSVM` does. This keeps fitting linear in
//! the number of rows (the exact dual is quadratic) and scoring at one kernel evaluation
//! per landmark, since the solution is folded back into per-landmark weights.
//!
//! Features are standardized internally (mean/std), and the default kernel width is
//! sklearn's `"scale"`, which on standardized features is `1 / n_features`.

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
    use crate::testutil::{Plant, blob, roc_auc, top_feature};
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
}
