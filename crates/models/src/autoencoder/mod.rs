//! A small multilayer-perceptron autoencoder.
//!
//! The network squeezes standardized rows through a bottleneck (by default
//! `d -> 2d/3 -> d/3 -> 2d/3 -> d`, tanh hidden layers, linear output) and learns to
//! reconstruct them with Adam on minibatches, stopping early when the loss on a held-out
//! validation split stops improving (the best weights are kept). Rows unlike the training
//! data reconstruct poorly: the score is the mean squared reconstruction error and the
//! explanation is the per-feature squared error, both in standardized units.
//!
//! Written directly on `Vec<f64>` rather than with an ML framework to keep the build small;
//! training is single-threaded and seeded, so it is reproducible, while scoring runs in
//! parallel.

mod algorithm;
mod network;
mod params;
mod validate;

pub use algorithm::Autoencoder;
pub use params::{Activation, AutoencoderParams, AutoencoderValidParams};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;
    use crate::testutil::{Plant, blob, roc_auc, top_feature};
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
}
