//! One-Class SVM fitting, scoring and explanation.

use super::nystrom::{backward_solve_transposed, landmark_cholesky, lower_inverse};
use super::params::{OneClassSvmParams, OneClassSvmValidParams};
use crate::autoencoder::affine::{Prefetch, affine, rbf_sums};
use crate::autoencoder::dense::{
    Operand, STANDARDIZE_ROWS, exp, gemm, simd_dispatch, standardize_t, sum_sq, transpose,
};
use crate::error::FitError;
use crate::impute::Imputer;
use crate::matrix::MatrixView;
use crate::stats::{
    column_mean_std, column_medians, quantile_sorted, safe_scale, sort_f64, subsample_indices,
    validate_training,
};
use crate::traits::{Detector, Fit, ParamGuard, score_blocks};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows whose kernel values are computed at once (fitting and scoring): the block's
/// kernel matrix, `rows x landmarks`, stays in the L2 cache.
const PASS_ROWS: usize = 256;

/// A fitted One-Class SVM (RBF kernel, Nyström features, linear primal solved by SGD).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneClassSvm {
    params: OneClassSvmParams,
    gamma: f64,
    /// What standardization subtracts from each feature: its training median, so that the
    /// most common value of a sparse feature (and a missing one, imputed by the median)
    /// standardizes to exactly zero and the kernel skips it. The RBF kernel depends only
    /// on differences, so the center does not change the fit.
    center: Vec<f64>,
    scale: Vec<f64>,
    /// Standardized landmark rows, row-major, in `f32`: scoring computes the kernel in
    /// single precision, and fitting uses these rounded values too, so the weights belong
    /// to exactly these points.
    landmarks: Vec<f32>,
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
        let (_, std) = column_mean_std(x);
        let scale = safe_scale(&std);
        let center = column_medians(x);
        let gamma = p.gamma.unwrap_or(1.0 / d as f64);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);

        let rows = subsample_indices(&mut rng, x.rows(), p.max_samples);
        let z: Vec<f64> = rows
            .iter()
            .flat_map(|&r| x.row(r).iter().enumerate().map(|(j, v)| (v - center[j]) / scale[j]))
            .collect();
        let n = rows.len();
        let m = p.n_landmarks.min(n);
        let landmarks32: Vec<f32> = rand::seq::index::sample(&mut rng, n, m)
            .into_iter()
            .flat_map(|i| z[i * d..(i + 1) * d].iter().map(|&v| v as f32))
            .collect();
        let landmarks: Vec<f64> = landmarks32.iter().map(|&v| f64::from(v)).collect();
        // The kernel matrix has ones on its diagonal, so a jitter of at most 0.1 always
        // makes it positive definite; failure would mean non-finite data, which
        // validation excludes.
        let chol =
            landmark_cholesky(&landmarks, d, gamma).ok_or(FitError::IdenticalRows { rows: n })?;
        let phi = nystrom_features(&z, &landmarks, &chol, d, gamma);
        let (w, rho) = sgd(&phi, m, p.nu, p.epochs, &mut rng);
        let mut alpha = w;
        backward_solve_transposed(&chol, m, &mut alpha);
        let mut model = OneClassSvm {
            params: p.clone(),
            gamma,
            center: center.clone(),
            scale,
            landmarks: landmarks32,
            alpha,
            rho,
            inside: Vec::new(),
            imputer: Imputer::new(center),
        };
        let mut at_landmarks = vec![0.0; m];
        let mut s = model.scratch(m);
        transpose(&model.landmarks, m, d, &mut s.z);
        model.decisions(&mut s, &mut at_landmarks, &mut Prefetch::none());
        model.inside = (0..m as u32).filter(|&i| at_landmarks[i as usize] <= 0.0).collect();
        debug_assert_eq!(model.check_state(), Ok(()));
        Ok(model)
    }
}

/// The Nyström features `φ(z) = C⁻¹ k(L, z)` of every standardized row (`n x m`,
/// row-major), as two matrix products per block of rows: `‖z‖² + ‖l‖² - 2 z·l` for the
/// kernel, then `K C⁻ᵀ` for the map. Blocks run in parallel; each block's result is
/// independent of the others, so the features do not depend on the thread count.
fn nystrom_features(z: &[f64], landmarks: &[f64], chol: &[f64], d: usize, gamma: f64) -> Vec<f64> {
    let m = landmarks.len() / d;
    let n = z.len() / d;
    let ln: Vec<f64> = landmarks.chunks_exact(d).map(|l| l.iter().map(|v| v * v).sum()).collect();
    let cinv = lower_inverse(chol, m);
    let mut phi = vec![0.0; n * m];
    phi.par_chunks_mut(PASS_ROWS * m).zip(z.par_chunks(PASS_ROWS * d)).for_each(|(p, zb)| {
        let rows = zb.len() / d;
        let mut k = vec![0.0; rows * m];
        for r in k.chunks_exact_mut(m) {
            r.copy_from_slice(&ln);
        }
        gemm(-2.0, Operand::rows(zb, rows, d), Operand::rows(landmarks, m, d).t(), 1.0, &mut k);
        for (kr, zr) in k.chunks_exact_mut(m).zip(zb.chunks_exact(d)) {
            let zn: f64 = zr.iter().map(|v| v * v).sum();
            kr.iter_mut().for_each(|v| *v = (-gamma * (*v + zn).max(0.0)).exp());
        }
        gemm(1.0, Operand::rows(&k, rows, m), Operand::rows(&cinv, m, m).t(), 0.0, p);
    });
    phi
}

/// Squared norms of `f32` rows `d` wide.
fn lnorms(rows: &[f32], d: usize) -> Vec<f32> {
    rows.chunks_exact(d).map(sum_sq).collect()
}

simd_dispatch!(
    /// `norms[i] = Σⱼ z[j, i]²` for feature-major `z` (`d x rows`, `rows = norms.len()`),
    /// summed over features in order, vectorized across rows.
    row_norms => row_norms_body(z: &[f32], norms: &mut [f32])
);

#[inline(always)]
fn row_norms_body(z: &[f32], norms: &mut [f32]) {
    let rows = norms.len();
    norms.fill(0.0);
    if rows == 0 {
        return;
    }
    for feature in z.chunks_exact(rows) {
        for (n, v) in norms.iter_mut().zip(feature) {
            *n += v * v;
        }
    }
}

simd_dispatch!(
    /// `sums[i] = Σⱼ αⱼ exp(-γ max(0, norms[i] + k[j, i]))`, where `k` holds
    /// `‖lⱼ‖² - 2 lⱼ·zᵢ` (`m x rows`) and `norms` the rows' squared norms: the weighted RBF
    /// sums from the distance product, where [`rbf_sums`] is not available. Vectorized
    /// across rows; each row sums over the landmarks in order.
    ///
    /// The sum is in `f32`: its rounding (a few ulp of `Σ |αⱼ| kⱼ`) is of the order of the
    /// `f32` kernel values' own, so `f64` here would buy nothing but half the lanes.
    rbf_decisions => rbf_decisions_body(
        k: &[f32],
        norms: &[f32],
        alpha: &[f32],
        gamma: f32,
        sums: &mut [f32],
    )
);

/// Rows whose RBF sums are accumulated together: one AVX-512 vector of `f32`.
const LANES: usize = 16;

#[inline(always)]
fn rbf_decisions_body(k: &[f32], norms: &[f32], alpha: &[f32], gamma: f32, sums: &mut [f32]) {
    let rows = sums.len();
    if rows == 0 {
        return;
    }
    // Sixteen rows at a time (one vector), their sums held in registers across all
    // landmarks; the tail runs the same operations per row.
    let full = rows / LANES * LANES;
    for i0 in (0..full).step_by(LANES) {
        let n: &[f32; LANES] = norms[i0..i0 + LANES].try_into().unwrap_or(&[0.0; LANES]);
        let mut acc = [0.0f32; LANES];
        for (kr, &a) in k.chunks_exact(rows).zip(alpha) {
            let kv: &[f32; LANES] = kr[i0..i0 + LANES].try_into().unwrap_or(&[0.0; LANES]);
            for l in 0..LANES {
                acc[l] += a * exp(-gamma * (kv[l] + n[l]).max(0.0));
            }
        }
        sums[i0..i0 + LANES].copy_from_slice(&acc);
    }
    for i in full..rows {
        let mut acc = 0.0f32;
        for (kr, &a) in k.chunks_exact(rows).zip(alpha) {
            acc += a * exp(-gamma * (kr[i] + norms[i]).max(0.0));
        }
        sums[i] = acc;
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

    /// Checks every length, index and value scoring and explaining rely on: the feature
    /// count agrees across standardization, imputer and landmarks, there is one weight per
    /// landmark, `inside` indexes landmarks, and everything is finite (scales and `gamma`
    /// also positive).
    pub(crate) fn check_state(&self) -> Result<(), String> {
        self.params.check().map_err(|e| format!("one-class SVM parameters: {e}"))?;
        let d = self.center.len();
        let m = self.alpha.len();
        if d == 0 || m == 0 {
            return Err("one-class SVM has no features or no landmarks".into());
        }
        if self.scale.len() != d || self.imputer.medians().len() != d {
            return Err(format!(
                "one-class SVM has {d} centers but {} scales and {} medians",
                self.scale.len(),
                self.imputer.medians().len()
            ));
        }
        if d.checked_mul(m) != Some(self.landmarks.len()) {
            return Err(format!(
                "one-class SVM has {} landmark values for {m} landmarks of {d} features",
                self.landmarks.len()
            ));
        }
        if let Some(&i) = self.inside.iter().find(|&&i| i as usize >= m) {
            return Err(format!("one-class SVM names landmark {i} of {m}"));
        }
        let finite = self.center.iter().chain(self.imputer.medians()).chain(&self.alpha);
        if !(finite.copied().chain([self.rho]).all(f64::is_finite)
            && self.landmarks.iter().all(|v| v.is_finite()))
        {
            return Err("one-class SVM has a non-finite parameter".into());
        }
        if !self.scale.iter().chain([&self.gamma]).all(|s| s.is_finite() && *s > 0.0) {
            return Err("one-class SVM has a scale or gamma that is not a finite number > 0".into());
        }
        Ok(())
    }

    /// Decision values `ρ - f(z)` of the standardized rows in `s.z` (feature-major,
    /// `d x out.len()`).
    fn decisions(&self, s: &mut Scratch, out: &mut [f64], pf: &mut Prefetch) {
        let (d, m) = (self.center.len(), self.alpha.len());
        let rows = out.len();
        if rows == 0 {
            return;
        }
        let z = &s.z[..d * rows];
        let (norms, sums) = s.sums[..2 * rows].split_at_mut(rows);
        row_norms(z, norms);
        let gamma = self.gamma as f32;
        let (w, lnorms, alpha) = (&s.minus_2l, &s.lnorms, &s.alpha);
        if !rbf_sums(w, lnorms, alpha, gamma, z, norms, sums, pf, &mut s.cols) {
            let k = &mut s.kernel[..m * rows];
            affine(&s.minus_2l, &s.lnorms, z, rows, k, None, pf);
            rbf_decisions(k, norms, &s.alpha, gamma, sums);
        }
        for (o, s) in out.iter_mut().zip(sums.iter()) {
            *o = self.rho - f64::from(*s);
        }
    }

    fn scratch(&self, rows: usize) -> Scratch {
        let d = self.center.len();
        Scratch {
            inv_scale: self.scale.iter().map(|s| 1.0 / s).collect(),
            lnorms: lnorms(&self.landmarks, d),
            minus_2l: self.landmarks.iter().map(|v| -2.0 * v).collect(),
            tmp: vec![0.0; STANDARDIZE_ROWS * d],
            z: vec![0.0; rows * d],
            sums: vec![0.0; 2 * rows],
            alpha: self.alpha.iter().map(|&a| a as f32).collect(),
            kernel: vec![0.0; rows * self.alpha.len()],
            cols: Vec::new(),
        }
    }

    /// Scores a block of raw rows into `out`, `PASS_ROWS` at a time.
    fn score_block(&self, rows: &[f64], out: &mut [f64], s: &mut Scratch) {
        let d = self.center.len();
        let tiles = Prefetch::tiles(self.alpha.len(), PASS_ROWS);
        for (k, (o, pass)) in out.chunks_mut(PASS_ROWS).zip(rows.chunks(PASS_ROWS * d)).enumerate()
        {
            let z = &mut s.z[..pass.len()];
            standardize_t(pass, &self.center, &s.inv_scale, self.imputer.medians(), &mut s.tmp, z);
            // The next pass's rows come into the cache while this one computes.
            let next = rows.get((k + 1) * PASS_ROWS * d..).unwrap_or_default();
            let mut pf = Prefetch::new(&next[..next.len().min(PASS_ROWS * d)], tiles);
            self.decisions(s, o, &mut pf);
        }
    }
}

/// Buffers one scoring thread reuses across blocks.
struct Scratch {
    inv_scale: Vec<f64>,
    /// Squared norms of the landmarks.
    lnorms: Vec<f32>,
    /// The landmarks times -2 (exact in floating point), so that one affine product gives
    /// `‖l‖² - 2 l·z`.
    minus_2l: Vec<f32>,
    tmp: Vec<f32>,
    /// Standardized rows of a pass, feature-major.
    z: Vec<f32>,
    /// Squared norms and weighted kernel sums of the rows of a pass.
    sums: Vec<f32>,
    /// The landmark weights in `f32`.
    alpha: Vec<f32>,
    kernel: Vec<f32>,
    /// Scratch for the inputs a register tile multiplies in (see [`rbf_sums`]).
    cols: Vec<u32>,
}

impl Detector for OneClassSvm {
    fn name(&self) -> &'static str {
        "ocsvm"
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

    /// `ρ - f(x)`: positive outside the learned boundary. Far from all training data the
    /// kernel vanishes and the score saturates at `ρ`.
    fn score_row(&self, row: &[f64]) -> f64 {
        if row.len() != self.center.len() {
            return f64::NAN;
        }
        let mut out = [0.0];
        self.score_block(row, &mut out, &mut self.scratch(1));
        out[0]
    }

    /// Kernel values of a block of rows against all landmarks as one matrix product,
    /// blocks in parallel; each row's score is the same as [`Detector::score_row`]'s.
    fn score(&self, x: MatrixView<'_>) -> Vec<f64> {
        let d = self.center.len();
        if x.cols() != d {
            return vec![f64::NAN; x.rows()];
        }
        score_blocks(x, d, || self.scratch(PASS_ROWS), |s, block, o| self.score_block(block, o, s))
    }

    /// Squared standardized difference, per feature, to the nearest landmark inside the
    /// learned boundary: the coordinates that keep the row away from the closest normal
    /// data. Landmarks outside the boundary are skipped because they may be training
    /// outliers, which would make a row look normal next to its own kind. Gradients are
    /// not used because the RBF kernel saturates far from the data, where they vanish
    /// exactly for the rows that need explaining.
    fn explain(&self, row: &[f64]) -> Vec<(usize, f64)> {
        let d = self.center.len();
        if row.len() != d {
            return Vec::new();
        }
        let row = self.imputer.clean(row);
        let z: Vec<f64> =
            row.iter().zip(&self.center).zip(&self.scale).map(|((v, m), s)| (v - m) / s).collect();
        let sq_dist = |l: &[f32]| -> f64 {
            z.iter().zip(l).map(|(a, &b)| (a - f64::from(b)) * (a - f64::from(b))).sum()
        };
        let nearest = self
            .inside
            .iter()
            .filter_map(|&i| self.landmarks.get(i as usize * d..(i as usize + 1) * d))
            .min_by(|a, b| sq_dist(a).total_cmp(&sq_dist(b)));
        match nearest {
            Some(l) => z
                .iter()
                .zip(l)
                .map(|(a, &b)| (a - f64::from(b)) * (a - f64::from(b)))
                .enumerate()
                .collect(),
            None => z.iter().map(|v| v * v).enumerate().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;

    #[test]
    fn check_state_catches_inconsistent_models() {
        let x = Matrix::new((0..80).map(|i| f64::from(i * 7 % 11)).collect(), 20, 4).expect("m");
        let a = OneClassSvmParams::new().fit(x.view(), 0).expect("fit");
        assert_eq!(a.check_state(), Ok(()));
        let broken: [fn(&mut OneClassSvm); 7] = [
            |s| s.scale[0] = -1.0,
            |s| s.gamma = f64::NAN,
            |s| {
                s.center.pop();
            },
            |s| {
                s.landmarks.pop();
            },
            |s| {
                s.alpha.pop();
            },
            |s| s.inside.push(10_000),
            |s| s.landmarks[3] = f32::INFINITY,
        ];
        for (i, f) in broken.iter().enumerate() {
            let mut b = a.clone();
            f(&mut b);
            assert!(b.check_state().is_err(), "case {i}");
        }
    }

    #[test]
    fn fast_kernel_agrees_with_exact_decision() {
        let x = Matrix::new((0..600).map(|i| f64::from(i * 37 % 101) / 10.0).collect(), 100, 6)
            .expect("m");
        let s = OneClassSvmParams::new().n_landmarks(32).fit(x.view(), 3).expect("fit");
        let d = 6;
        for row in x.view().iter_rows() {
            let z: Vec<f64> =
                row.iter().zip(&s.center).zip(&s.scale).map(|((v, m), c)| (v - m) / c).collect();
            let f: f64 = s
                .landmarks
                .chunks_exact(d)
                .zip(&s.alpha)
                .map(|(l, a)| {
                    let d2: f64 = z.iter().zip(l).map(|(p, &q)| (p - f64::from(q)).powi(2)).sum();
                    a * (-s.gamma * d2).exp()
                })
                .sum();
            let exact = s.rho - f;
            let scale: f64 = s.alpha.iter().map(|a| a.abs()).sum::<f64>().max(1.0);
            assert!(
                (s.score_row(row) - exact).abs() < 1e-5 * scale,
                "{} {exact}",
                s.score_row(row)
            );
        }
    }
}
