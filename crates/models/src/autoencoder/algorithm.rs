//! Autoencoder fitting, scoring and explanation.

use super::network::Network;
use super::params::{AutoencoderParams, AutoencoderValidParams};
use crate::error::FitError;
use crate::impute::Imputer;
use crate::matrix::MatrixView;
use crate::stats::{
    column_mean_std, column_medians, safe_scale, subsample_indices, validate_training,
};
use crate::traits::{Detector, Fit, ParamGuard, SCORE_BLOCK};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Relative validation-loss improvement that resets the early-stopping counter.
const MIN_IMPROVEMENT: f64 = 1e-4;

/// A fitted MLP autoencoder; the score is the reconstruction error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Autoencoder {
    params: AutoencoderParams,
    mean: Vec<f64>,
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
        let z: Vec<f64> = rows
            .iter()
            .flat_map(|&r| x.row(r).iter().enumerate().map(|(j, v)| (v - mean[j]) / scale[j]))
            .collect();
        let n = rows.len();
        let n_val = ((n as f64 * p.validation_fraction) as usize).min(n - 1);
        let (val, train) = z.split_at(n_val * d);
        let n_train = n - n_val;

        let mut net = Network::new(&p.widths(d), p.activation, &mut rng);
        let batch = p.batch_size.min(n_train);
        let mut ws = net.workspace(batch.max(SCORE_BLOCK.min(n_val.max(1))));
        let mut opt = net.adam(p.learning_rate);
        let mut order: Vec<usize> = (0..n_train).collect();
        let mut buf = vec![0.0; batch * d];
        let (mut best, mut best_net, mut stale, mut epochs_run) =
            (f64::INFINITY, net.clone(), 0, 0);
        for _ in 0..p.max_epochs {
            epochs_run += 1;
            order.shuffle(&mut rng);
            let mut train_loss = 0.0;
            for chunk in order.chunks(batch) {
                for (k, &i) in chunk.iter().enumerate() {
                    buf[k * d..(k + 1) * d].copy_from_slice(&train[i * d..(i + 1) * d]);
                }
                let loss = net.train_step(&buf[..chunk.len() * d], chunk.len(), &mut ws, &mut opt);
                train_loss += loss * chunk.len() as f64;
            }
            // Without a validation split, the training loss is the stopping criterion.
            let loss = if n_val > 0 {
                mean_error(&net, val, d, &mut ws)
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
        Ok(Autoencoder {
            params: p.clone(),
            mean,
            scale,
            network: best_net,
            epochs_run,
            imputer: Imputer::new(column_medians(x)),
        })
    }
}

/// Mean squared reconstruction error over standardized rows.
fn mean_error(net: &Network, z: &[f64], d: usize, ws: &mut super::network::Workspace) -> f64 {
    let cap = ws_capacity(ws, d);
    let mut total = 0.0;
    for block in z.chunks(cap * d) {
        let rows = block.len() / d;
        let out = net.forward(block, rows, ws);
        total += out.iter().zip(block).map(|(o, v)| (o - v) * (o - v)).sum::<f64>();
    }
    total / z.len().max(1) as f64
}

fn ws_capacity(ws: &super::network::Workspace, d: usize) -> usize {
    ws.input_capacity() / d.max(1)
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

    /// Standardized rows of a block, with missing values imputed.
    fn standardize(&self, rows: &[f64]) -> Vec<f64> {
        let d = self.mean.len();
        let mut z = Vec::with_capacity(rows.len());
        for r in rows.chunks_exact(d) {
            let r = self.imputer.clean(r);
            z.extend(r.iter().zip(&self.mean).zip(&self.scale).map(|((v, m), s)| (v - m) / s));
        }
        z
    }

    /// Per-feature squared reconstruction errors of a block of rows.
    fn errors(&self, rows: &[f64]) -> Vec<f64> {
        let d = self.mean.len();
        let z = self.standardize(rows);
        let n = z.len() / d;
        let mut ws = self.network.workspace(n);
        let out = self.network.forward(&z, n, &mut ws);
        out.iter().zip(&z).map(|(o, v)| (o - v) * (o - v)).collect()
    }
}

impl Detector for Autoencoder {
    fn name(&self) -> &'static str {
        "autoencoder"
    }

    fn n_features(&self) -> usize {
        self.mean.len()
    }

    fn medians(&self) -> &[f64] {
        self.imputer.medians()
    }

    fn validate(&self) -> Result<(), crate::error::InvalidModel> {
        super::validate::check(self)
    }

    /// Mean squared reconstruction error over features, in standardized units.
    fn score_row(&self, row: &[f64]) -> f64 {
        if row.len() != self.mean.len() {
            return f64::NAN;
        }
        self.errors(row).iter().sum::<f64>() / row.len() as f64
    }

    fn score(&self, x: MatrixView<'_>) -> Vec<f64> {
        let d = self.mean.len();
        if x.cols() != d {
            return vec![f64::NAN; x.rows()];
        }
        let mut out = vec![0.0; x.rows()];
        out.par_chunks_mut(SCORE_BLOCK).zip(x.as_slice().par_chunks(SCORE_BLOCK * d)).for_each(
            |(o, block)| {
                for (s, e) in o.iter_mut().zip(self.errors(block).chunks_exact(d)) {
                    *s = e.iter().sum::<f64>() / d as f64;
                }
            },
        );
        out
    }

    /// Each feature's squared reconstruction error.
    fn explain(&self, row: &[f64]) -> Vec<(usize, f64)> {
        if row.len() != self.mean.len() {
            return Vec::new();
        }
        self.errors(row).into_iter().enumerate().collect()
    }
}
