//! Autoencoder fitting, scoring and explanation.

use super::dense::{STANDARDIZE_ROWS, standardize_t, sum_sq_diff, transpose};
use super::network::{Network, Workspace};
use super::params::{AutoencoderParams, AutoencoderValidParams};
use crate::error::FitError;
use crate::impute::Imputer;
use crate::matrix::MatrixView;
use crate::stats::{
    column_mean_std, column_medians, safe_scale, subsample_indices, validate_training,
};
use crate::traits::{Detector, Fit, ParamGuard, score_blocks};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Relative validation-loss improvement that resets the early-stopping counter.
const MIN_IMPROVEMENT: f64 = 1e-4;

/// Rows pushed through the network at once when scoring: enough for the GEMMs to run at
/// full speed, few enough that every layer's activations stay in the L2 cache.
const PASS_ROWS: usize = 128;

/// A fitted MLP autoencoder; the score is the reconstruction error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Autoencoder {
    params: AutoencoderParams,
    /// What standardization subtracts from each feature: its training median, so that the
    /// most common value of a sparse feature (and a missing one, imputed by the median)
    /// standardizes to exactly zero and scoring can skip it.
    center: Vec<f64>,
    scale: Vec<f64>,
    network: Network,
    /// Epochs actually run (early stopping may end training before the limit).
    epochs_run: usize,
    imputer: Imputer,
}

impl Fit for AutoencoderParams {
    type Model = Autoencoder;

    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<Autoencoder, FitError> {
        self.check()?.fit(x, seed)
    }
}

impl Fit for AutoencoderValidParams {
    type Model = Autoencoder;

    /// Single-threaded so the floating-point summation order, and thus the model, depends
    /// only on the seed.
    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<Autoencoder, FitError> {
        validate_training(x, 2)?;
        let p = &self.0;
        let d = x.cols();
        let (mean, std) = column_mean_std(x);
        let scale = safe_scale(&std);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rows = subsample_indices(&mut rng, x.rows(), p.max_samples);
        rows.shuffle(&mut rng);
        let z: Vec<f32> = rows
            .iter()
            .flat_map(|&r| {
                x.row(r).iter().enumerate().map(|(j, v)| ((v - mean[j]) / scale[j]) as f32)
            })
            .collect();
        let n = rows.len();
        let n_val = ((n as f64 * p.validation_fraction) as usize).min(n - 1);
        let (val, train) = z.split_at(n_val * d);
        let n_train = n - n_val;

        let mut net = Network::new(&p.widths(d), p.activation, &mut rng);
        let batch = p.batch_size.min(n_train);
        let mut ws = net.workspace(batch.max(PASS_ROWS.min(n_val.max(1))));
        let mut opt = net.adam(p.learning_rate);
        let mut order: Vec<usize> = (0..n_train).collect();
        let mut buf = vec![0.0; ws.rows() * d];
        let (mut best, mut best_net, mut stale, mut epochs_run) =
            (f64::INFINITY, net.clone(), 0, 0);
        for _ in 0..p.max_epochs {
            epochs_run += 1;
            order.shuffle(&mut rng);
            let mut train_loss = 0.0;
            for chunk in order.chunks(batch) {
                let rows = chunk.len();
                for (k, &i) in chunk.iter().enumerate() {
                    for (j, &v) in train[i * d..(i + 1) * d].iter().enumerate() {
                        buf[j * rows + k] = v;
                    }
                }
                let loss = net.train_step(&buf[..chunk.len() * d], chunk.len(), &mut ws, &mut opt);
                train_loss += loss * chunk.len() as f64;
            }
            // Without a validation split, the training loss is the stopping criterion.
            let loss = if n_val > 0 {
                mean_error(&net, val, &mut ws, &mut buf)
            } else {
                train_loss / n_train as f64
            };
            if !loss.is_finite() {
                break;
            }
            if loss < best * (1.0 - MIN_IMPROVEMENT) {
                best = loss;
                best_net = net.clone();
                stale = 0;
            } else {
                stale += 1;
                if stale >= p.patience.max(1) {
                    break;
                }
            }
        }
        // Trained on mean-centered rows, which suit gradient descent; re-expressed for
        // median-centered ones, which suit scoring (see `center`). With `δ = (mean -
        // median) / scale` the median-centered row is `z + δ`, and the network that maps
        // it to its reconstruction plus `δ` has first-layer bias `b - Wδ` and last-layer
        // bias `b + δ`: the same reconstruction errors, up to rounding.
        let medians = column_medians(x);
        let delta: Vec<f64> =
            mean.iter().zip(&medians).zip(&scale).map(|((m, c), s)| (m - c) / s).collect();
        let mut network = best_net;
        network.shift_inputs(&delta);
        let model = Autoencoder {
            params: p.clone(),
            center: medians.clone(),
            scale,
            network,
            epochs_run,
            imputer: Imputer::new(medians),
        };
        debug_assert_eq!(model.check_state(), Ok(()));
        Ok(model)
    }
}

/// Mean squared reconstruction error over standardized rows (row-major); `buf` holds a
/// workspace's worth of rows.
fn mean_error(net: &Network, z: &[f32], ws: &mut Workspace, buf: &mut [f32]) -> f64 {
    let d = net.inputs();
    let mut total = 0.0;
    for block in z.chunks(ws.rows() * d) {
        let rows = block.len() / d;
        let t = &mut buf[..block.len()];
        transpose(block, rows, d, t);
        let out = net.forward(t, rows, ws);
        total += f64::from(sum_sq_diff(out, t));
    }
    total / z.len().max(1) as f64
}

/// Buffers one scoring thread reuses across blocks.
struct Scratch {
    inv_scale: Vec<f64>,
    tmp: Vec<f32>,
    z: Vec<f32>,
    errors: Vec<f32>,
    ws: Workspace,
}

impl Autoencoder {
    /// The parameters the model was fitted with.
    pub fn params(&self) -> &AutoencoderParams {
        &self.params
    }

    /// Epochs run before early stopping.
    pub fn epochs_run(&self) -> usize {
        self.epochs_run
    }

    /// Checks every length and value scoring relies on: the feature count agrees across
    /// the standardization, the imputer and the network, and everything is finite (scales
    /// also positive).
    pub(crate) fn check_state(&self) -> Result<(), String> {
        self.params.check().map_err(|e| format!("autoencoder parameters: {e}"))?;
        let d = self.center.len();
        if d == 0 {
            return Err("autoencoder has no features".into());
        }
        if self.scale.len() != d || self.imputer.medians().len() != d {
            return Err(format!(
                "autoencoder has {d} centers but {} scales and {} medians",
                self.scale.len(),
                self.imputer.medians().len()
            ));
        }
        if !self.center.iter().chain(self.imputer.medians()).all(|v| v.is_finite()) {
            return Err("autoencoder has a non-finite center or median".into());
        }
        if !self.scale.iter().all(|s| s.is_finite() && *s > 0.0) {
            return Err("autoencoder has a scale that is not a finite number > 0".into());
        }
        self.network.check_state(d)
    }

    fn scratch(&self, rows: usize) -> Scratch {
        Scratch {
            inv_scale: self.scale.iter().map(|s| 1.0 / s).collect(),
            tmp: vec![0.0; STANDARDIZE_ROWS * self.center.len()],
            z: vec![0.0; rows * self.center.len()],
            errors: vec![0.0; rows],
            ws: self.network.workspace(rows),
        }
    }

    /// Standardizes a block of at most the scratch's rows and reconstructs it; returns the
    /// standardized rows and their reconstruction, both feature-major.
    fn reconstruct<'s>(&self, rows: &[f64], s: &'s mut Scratch) -> (&'s [f32], &'s [f32]) {
        let d = self.center.len();
        let n = rows.len() / d;
        let z = &mut s.z[..n * d];
        standardize_t(rows, &self.center, &s.inv_scale, self.imputer.medians(), &mut s.tmp, z);
        let out = self.network.forward(z, n, &mut s.ws);
        (z, out)
    }

    /// Scores a block of rows into `out` (one score per row).
    fn score_block(&self, rows: &[f64], out: &mut [f64], s: &mut Scratch) {
        let d = self.center.len();
        let tiles = self.network.tiles(PASS_ROWS);
        for (k, (o, pass)) in out.chunks_mut(PASS_ROWS).zip(rows.chunks(PASS_ROWS * d)).enumerate()
        {
            // The next pass's rows come into the cache while this one computes.
            let next = rows.get((k + 1) * PASS_ROWS * d..).unwrap_or_default();
            s.ws.prefetch(&next[..next.len().min(PASS_ROWS * d)], tiles);
            let z = &mut s.z[..pass.len()];
            standardize_t(pass, &self.center, &s.inv_scale, self.imputer.medians(), &mut s.tmp, z);
            let errors = &mut s.errors[..o.len()];
            self.network.reconstruction_errors(z, &mut s.ws, errors);
            for (o, e) in o.iter_mut().zip(errors.iter()) {
                *o = f64::from(*e) / d as f64;
            }
        }
    }
}

impl Detector for Autoencoder {
    fn name(&self) -> &'static str {
        "autoencoder"
    }

    fn n_features(&self) -> usize {
        self.center.len()
    }

    fn medians(&self) -> &[f64] {
        self.imputer.medians()
    }

    fn validate(&self) -> Result<(), crate::error::InvalidModel> {
        super::validate::check(self)
    }

    /// Mean squared reconstruction error over features, in standardized units.
    fn score_row(&self, row: &[f64]) -> f64 {
        if row.len() != self.center.len() {
            return f64::NAN;
        }
        let mut out = [0.0];
        self.score_block(row, &mut out, &mut self.scratch(1));
        out[0]
    }

    /// Blocks of rows through the network as matrix products, blocks in parallel; each
    /// row's score is the same as [`Detector::score_row`]'s.
    fn score(&self, x: MatrixView<'_>) -> Vec<f64> {
        let d = self.center.len();
        if x.cols() != d {
            return vec![f64::NAN; x.rows()];
        }
        score_blocks(x, d, || self.scratch(PASS_ROWS), |s, block, o| self.score_block(block, o, s))
    }

    /// Each feature's squared reconstruction error.
    fn explain(&self, row: &[f64]) -> Vec<(usize, f64)> {
        if row.len() != self.center.len() {
            return Vec::new();
        }
        let mut s = self.scratch(1);
        let (z, rec) = self.reconstruct(row, &mut s);
        z.iter().zip(rec).map(|(a, b)| f64::from((a - b) * (a - b))).enumerate().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoencoder::Activation;
    use crate::matrix::Matrix;

    #[test]
    fn check_state_catches_inconsistent_models() {
        let x = Matrix::new((0..80).map(|i| f64::from(i * 7 % 11)).collect(), 20, 4).expect("m");
        let a = AutoencoderParams::new().max_epochs(2).fit(x.view(), 0).expect("fit");
        assert_eq!(a.check_state(), Ok(()));
        let mut b = a.clone();
        b.scale[1] = 0.0;
        assert!(b.check_state().is_err());
        let mut b = a.clone();
        b.center.pop();
        assert!(b.check_state().is_err());
        let mut b = a.clone();
        b.center[0] = f64::NAN;
        assert!(b.check_state().is_err());
        let mut b = a.clone();
        b.network = Network::new(&[3, 2, 3], Activation::Tanh, &mut ChaCha8Rng::seed_from_u64(0));
        assert!(b.check_state().is_err());
    }
}
