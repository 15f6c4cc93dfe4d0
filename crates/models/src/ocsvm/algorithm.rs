//! One-Class SVM fitting, scoring and explanation.

use super::nystrom::{
    backward_solve_transposed, forward_solve, kernel_row, landmark_cholesky, sq_dist,
};
use super::params::{OneClassSvmParams, OneClassSvmValidParams};
use crate::error::FitError;
use crate::impute::Imputer;
use crate::matrix::MatrixView;
use crate::stats::{
    column_mean_std, column_medians, quantile_sorted, safe_scale, sort_f64, subsample_indices,
    validate_training,
};
use crate::traits::{Detector, Fit, ParamGuard};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A fitted One-Class SVM (RBF kernel, Nyström features, linear primal solved by SGD).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneClassSvm {
    params: OneClassSvmParams,
    gamma: f64,
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// Standardized landmark rows, row-major.
    landmarks: Vec<f64>,
    /// Kernel-space weights: the decision function is `alpha · k(landmarks, z) - rho`.
    alpha: Vec<f64>,
    rho: f64,
    /// Landmarks inside the learned boundary: the reference points of explanations.
    inside: Vec<u32>,
    imputer: Imputer,
}

impl Fit for OneClassSvmParams {
    type Model = OneClassSvm;

    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<OneClassSvm, FitError> {
        self.check()?.fit(x, seed)
    }
}

impl Fit for OneClassSvmValidParams {
    type Model = OneClassSvm;

    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<OneClassSvm, FitError> {
        validate_training(x, 2)?;
        let p = &self.0;
        let d = x.cols();
        let (mean, std) = column_mean_std(x);
        let scale = safe_scale(&std);
        let gamma = p.gamma.unwrap_or(1.0 / d as f64);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);

        let rows = subsample_indices(&mut rng, x.rows(), p.max_samples);
        let z: Vec<f64> = rows
            .iter()
            .flat_map(|&r| x.row(r).iter().enumerate().map(|(j, v)| (v - mean[j]) / scale[j]))
            .collect();
        let n = rows.len();
        let m = p.n_landmarks.min(n);
        let landmarks: Vec<f64> = rand::seq::index::sample(&mut rng, n, m)
            .into_iter()
            .flat_map(|i| z[i * d..(i + 1) * d].iter().copied())
            .collect();
        // The kernel matrix has ones on its diagonal, so a jitter of at most 0.1 always
        // makes it positive definite; failure would mean non-finite data, which
        // validation excludes.
        let chol =
            landmark_cholesky(&landmarks, d, gamma).ok_or(FitError::IdenticalRows { rows: n })?;

        let mut phi = vec![0.0; n * m];
        for (zi, out) in z.chunks_exact(d).zip(phi.chunks_exact_mut(m)) {
            kernel_row(&landmarks, d, gamma, zi, out);
            forward_solve(&chol, m, out);
        }
        let (w, rho) = sgd(&phi, m, p.nu, p.epochs, &mut rng);
        let mut alpha = w;
        backward_solve_transposed(&chol, m, &mut alpha);
        let mut model = OneClassSvm {
            params: p.clone(),
            gamma,
            mean,
            scale,
            landmarks,
            alpha,
            rho,
            inside: Vec::new(),
            imputer: Imputer::new(column_medians(x)),
        };
        model.inside = (0..m as u32)
            .filter(|&i| {
                let l = &model.landmarks[i as usize * d..(i as usize + 1) * d];
                model.decision(l) <= 0.0
            })
            .collect();
        Ok(model)
    }
}

/// Minimizes the one-class SVM primal on explicit features `phi` (n x m),
/// `½|w|² - ρ + 1/(ν n) Σ max(0, ρ - w·φᵢ)`, as sklearn's `SGDOneClassSVM` does.
///
/// Why the primal with SGD: after the Nyström map the problem is linear in `m`
/// dimensions, so each step costs O(m) and the whole fit O(epochs · n · m), instead of the
/// O(n²) kernel matrix of the dual. Starts from the mean feature vector and its
/// ν-quantile offset (already a reasonable boundary), uses the Pegasos step size
/// `1 / (t + t₀)` for the 1-strongly-convex objective and returns the average of the
/// iterates of the second half, which removes most of the SGD noise.
fn sgd(phi: &[f64], m: usize, nu: f64, epochs: usize, rng: &mut ChaCha8Rng) -> (Vec<f64>, f64) {
    let n = phi.len() / m;
    let mut w = vec![0.0; m];
    for f in phi.chunks_exact(m) {
        w.iter_mut().zip(f).for_each(|(a, b)| *a += b / n as f64);
    }
    let mut margins: Vec<f64> = phi.chunks_exact(m).map(|f| dot(&w, f)).collect();
    sort_f64(&mut margins);
    let mut rho = quantile_sorted(&margins, nu);

    let (mut w_avg, mut rho_avg, mut averaged) = (vec![0.0; m], 0.0, 0.0);
    let mut order: Vec<usize> = (0..n).collect();
    let t0 = 1.0 / nu;
    let mut t = 0.0;
    for epoch in 0..epochs {
        order.shuffle(rng);
        for &i in &order {
            t += 1.0;
            let eta = 1.0 / (t + t0);
            let f = &phi[i * m..(i + 1) * m];
            let violated = dot(&w, f) < rho;
            w.iter_mut().for_each(|a| *a *= 1.0 - eta);
            rho += eta;
            if violated {
                let step = eta / nu;
                w.iter_mut().zip(f).for_each(|(a, b)| *a += step * b);
                rho -= step;
            }
            if epoch >= epochs / 2 {
                averaged += 1.0;
                let k = 1.0 / averaged;
                w_avg.iter_mut().zip(&w).for_each(|(a, b)| *a += (b - *a) * k);
                rho_avg += (rho - rho_avg) * k;
            }
        }
    }
    (w_avg, rho_avg)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl OneClassSvm {
    /// The parameters the model was fitted with.
    pub fn params(&self) -> &OneClassSvmParams {
        &self.params
    }

    /// Kernel width actually used.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// `ρ - f(z)` for a standardized row.
    fn decision(&self, z: &[f64]) -> f64 {
        let d = z.len();
        let f: f64 = self
            .landmarks
            .chunks_exact(d)
            .zip(&self.alpha)
            .map(|(l, a)| a * (-self.gamma * sq_dist(z, l)).exp())
            .sum();
        self.rho - f
    }

    fn standardize(&self, row: &[f64]) -> Vec<f64> {
        let row = self.imputer.clean(row);
        row.iter().zip(&self.mean).zip(&self.scale).map(|((v, m), s)| (v - m) / s).collect()
    }
}

impl Detector for OneClassSvm {
    fn name(&self) -> &'static str {
        "ocsvm"
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

    /// `ρ - f(x)`: positive outside the learned boundary. Far from all training data the
    /// kernel vanishes and the score saturates at `ρ`.
    fn score_row(&self, row: &[f64]) -> f64 {
        if row.len() != self.mean.len() {
            return f64::NAN;
        }
        self.decision(&self.standardize(row))
    }

    /// Squared standardized difference, per feature, to the nearest landmark inside the
    /// learned boundary: the coordinates that keep the row away from the closest normal
    /// data. Landmarks outside the boundary are skipped because they may be training
    /// outliers, which would make a row look normal next to its own kind. Gradients are not used because the RBF kernel saturates
    /// far from the data, where they vanish exactly for the rows that need explaining.
    fn explain(&self, row: &[f64]) -> Vec<(usize, f64)> {
        if row.len() != self.mean.len() {
            return Vec::new();
        }
        let z = self.standardize(row);
        let d = z.len();
        let nearest = self
            .inside
            .iter()
            .map(|&i| &self.landmarks[i as usize * d..(i as usize + 1) * d])
            .min_by(|a, b| sq_dist(&z, a).total_cmp(&sq_dist(&z, b)));
        match nearest {
            Some(l) => z.iter().zip(l).map(|(a, b)| (a - b) * (a - b)).enumerate().collect(),
            None => z.iter().map(|v| v * v).enumerate().collect(),
        }
    }
}
