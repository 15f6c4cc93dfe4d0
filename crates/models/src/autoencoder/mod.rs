//! A small multilayer-perceptron autoencoder.
//!
//! The network squeezes standardized rows through a bottleneck (by default
//! `d -> 2d/3 -> d/3 -> 2d/3 -> d`, tanh hidden layers, linear output) and learns to
//! reconstruct them with Adam on minibatches, stopping early when the loss on a held-out
//! validation split stops improving (the best weights are kept). Rows unlike the training
//! data reconstruct poorly: the score is the mean squared reconstruction error and the
//! explanation is the per-feature squared error, both in standardized units.
//!
//! Written directly on `f32` buffers rather than with an ML framework to keep the build
//! small. Blocks of rows are stored feature-major and every layer is one matrix product:
//! forward through `affine` (a register-blocked AVX-512 kernel with the activation fused
//! in, `matrixmultiply` elsewhere), backward through `matrixmultiply`'s GEMM. When scoring
//! on AVX-512 the last layer's output is compared with the input as it is computed, so the
//! reconstruction is never stored (with a fused multiply-add per squared error: scores
//! there differ from other CPUs' in the last bits). Rows are standardized around the
//! training medians (the network, trained around the means, is re-expressed for that
//! after training), so a sparse feature's usual value is exactly zero, and the first layer
//! skips the features that are zero in every row of a register tile: on access-log
//! features that is half to three quarters of them. Training is
//! single-threaded and seeded, so the model depends only on the seed and the data (on a
//! given machine: the kernels picked for the CPU round differently); scoring runs blocks of
//! rows in parallel, and a row's score does not depend on its block.
//!
//! `dense` and `affine` are shared with [`crate::ocsvm`], whose kernel evaluation is
//! the same kind of product.

pub(crate) mod affine;
mod algorithm;
pub(crate) mod dense;
mod network;
mod params;
mod validate;

pub use algorithm::Autoencoder;
pub use params::{Activation, AutoencoderParams, AutoencoderValidParams};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;
    use crate::testutil::{Plant, blob, head, roc_auc, sparse_rows, top_feature};
    use crate::traits::{Detector, Fit, ParamGuard};

    #[test]
    fn ranks_and_explains() {
        for act in [Activation::Tanh, Activation::Relu] {
            let (m, labels) = blob(1000, 20, 6, Plant::Everywhere, 1);
            let a = AutoencoderParams::new().activation(act).fit(m.view(), 0).expect("fit");
            let auc = roc_auc(&a.score(m.view()), &labels);
            assert!(auc > 0.95, "{act:?} {auc}");
            let (m, labels) = blob(1000, 10, 6, Plant::Column(3, 8.0), 2);
            let a = AutoencoderParams::new().activation(act).fit(m.view(), 0).expect("fit");
            let auc = roc_auc(&a.score(m.view()), &labels);
            assert!(auc > 0.95, "{act:?} {auc}");
            for r in 1000..1010 {
                assert_eq!(top_feature(&a.explain(m.view().row(r))), 3, "{act:?}");
            }
        }
    }

    #[test]
    fn deterministic_and_errors() {
        let (m, _) = blob(300, 5, 4, Plant::Everywhere, 3);
        let p = AutoencoderParams::new().max_epochs(5);
        let a = p.fit(m.view(), 9).expect("fit");
        assert_eq!(a.score(m.view()), p.fit(m.view(), 9).expect("fit").score(m.view()));
        assert_eq!(a.score(m.view())[3], a.score_row(m.view().row(3)));
        assert!(a.epochs_run() <= 5);
        assert!(AutoencoderParams::new().hidden(vec![]).check().is_err());
        assert!(AutoencoderParams::new().learning_rate(0.0).check().is_err());
        assert!(AutoencoderParams::new().validation_fraction(0.95).check().is_err());
        assert!(a.score_row(&[1.0]).is_nan());
        assert!(a.score_row(&[f64::NAN, 1.0, 2.0, 3.0]).is_finite());
        // Two rows, no validation split possible beyond one row.
        let tiny = Matrix::new(vec![0.0, 1.0, 1.0, 0.0], 2, 2).expect("m");
        assert!(AutoencoderParams::new().fit(tiny.view(), 0).is_ok());
    }

    #[test]
    fn outliers_above_inliers_when_fitted_on_normal_rows() {
        let (m, labels) = blob(2000, 40, 12, Plant::Column(5, 6.0), 4);
        let a = AutoencoderParams::new().fit(head(&m, 2000).view(), 1).expect("fit");
        let auc = roc_auc(&a.score(m.view()), &labels);
        assert!(auc > 0.97, "{auc}");
        let named = (2000..2040).filter(|&r| top_feature(&a.explain(m.view().row(r))) == 5);
        assert!(named.count() >= 36);
    }

    #[test]
    fn sparse_features_score_alike_alone_and_in_blocks() {
        // Most values at the column's median: zero after standardization, so skipped in
        // most row tiles.
        let (train, m) = sparse_rows(700, 9);
        let a = AutoencoderParams::new().max_epochs(5).fit(train.view(), 3).expect("fit");
        let scores = a.score(m.view());
        for (r, s) in scores.iter().enumerate() {
            assert_eq!(s.to_bits(), a.score_row(m.view().row(r)).to_bits(), "row {r}");
        }
        // A row of medians reconstructs better than one with rare values everywhere.
        let rare: Vec<f64> = (0..9).map(|j| 5.0 + j as f64).collect();
        assert!(a.score_row(a.medians()) < a.score_row(&rare));
    }

    #[test]
    fn batched_scores_equal_row_scores_and_survive_round_trip() {
        // More rows than one scoring block, and not a multiple of it, with missing values.
        let (mut m, _) = blob(2600, 10, 7, Plant::Everywhere, 5);
        let a = AutoencoderParams::new().max_epochs(3).fit(m.view(), 2).expect("fit");
        m.as_mut_slice()[7 * 3 + 2] = f64::NAN;
        m.as_mut_slice()[7 * 2000] = f64::INFINITY;
        let scores = a.score(m.view());
        for (r, s) in scores.iter().enumerate() {
            assert_eq!(s.to_bits(), a.score_row(m.view().row(r)).to_bits(), "row {r}");
        }
        assert!(scores.iter().all(|s| s.is_finite() && *s >= 0.0));
        // Explanations add up to the score.
        let e: f64 = a.explain(m.view().row(3)).iter().map(|c| c.1).sum::<f64>() / 7.0;
        assert!((e - scores[3]).abs() <= 1e-5 * scores[3].max(1.0));

        let bytes = postcard::to_stdvec(&a).expect("serialize");
        let b: Autoencoder = postcard::from_bytes(&bytes).expect("deserialize");
        assert_eq!(a, b);
        assert_eq!(postcard::to_stdvec(&b).expect("serialize"), bytes);
        let again = b.score(m.view());
        assert!(scores.iter().zip(&again).all(|(x, y)| x.to_bits() == y.to_bits()));
        assert_eq!(b.check_state(), Ok(()));
    }
}
