//! A small fully connected `f32` network whose forward and backward passes are matrix
//! products over a block of rows.
//!
//! Activations of a block are stored feature-major (`width x rows`: each unit's values for
//! all rows contiguous) and weights `outputs x inputs`, so a layer is one product `W · A`
//! whose large operand is read in its natural order ([`super::affine`]); the gradients are
//! two GEMMs (`Δ · Aᵀ` for the weights, `Wᵀ · Δ` for the layer below). `f32` halves memory
//! traffic and doubles SIMD width; the reconstruction errors it scores are far larger than
//! its rounding.

use super::affine::{Prefetch, affine, affine_skipping_zeros, sq_errors};
use super::dense::simd_dispatch;
use super::dense::{Operand, gemm};
use super::params::Activation;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// One dense layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    inputs: usize,
    outputs: usize,
    /// `outputs x inputs`, row-major.
    w: Vec<f32>,
    b: Vec<f32>,
}

/// A multilayer perceptron: hidden layers use `activation`, the last layer is linear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    layers: Vec<Layer>,
    activation: Activation,
}

/// Per-layer buffers for blocks of up to `rows` rows, reused across blocks.
pub struct Workspace {
    rows: usize,
    /// Output of each layer (hidden activations, then the reconstruction).
    acts: Vec<Vec<f32>>,
    delta: Vec<f32>,
    delta_prev: Vec<f32>,
    /// What the next forward pass prefetches.
    prefetch: Prefetch,
    /// Scratch for the first layer's list of nonzero inputs.
    cols: Vec<u32>,
}

/// Adam optimizer state (first and second moments per parameter).
pub struct Adam {
    m: Vec<(Vec<f32>, Vec<f32>)>,
    v: Vec<(Vec<f32>, Vec<f32>)>,
    grads: Vec<(Vec<f32>, Vec<f32>)>,
    t: i32,
    lr: f64,
}

impl Workspace {
    /// Rows a block may have.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Has the next forward pass bring `data` into the cache as it runs.
    pub(crate) fn prefetch(&mut self, data: &[f64], tiles: usize) {
        self.prefetch = Prefetch::new(data, tiles);
    }
}

impl Network {
    /// Glorot-uniform weights, zero biases.
    pub fn new<R: Rng>(widths: &[usize], activation: Activation, rng: &mut R) -> Self {
        let layers = widths
            .windows(2)
            .map(|io| {
                let (inputs, outputs) = (io[0], io[1]);
                let limit = (6.0 / (inputs + outputs) as f64).sqrt() as f32;
                let w = (0..inputs * outputs).map(|_| rng.random_range(-limit..limit)).collect();
                Layer { inputs, outputs, w, b: vec![0.0; outputs] }
            })
            .collect();
        Self { layers, activation }
    }

    /// Re-expresses the network for inputs shifted by `delta` (one per input): the new
    /// network maps `z + delta` to its old output for `z`, plus `delta`, so its errors
    /// against the shifted inputs are the old ones. The first layer's bias absorbs
    /// `-W delta` and the last layer's `+delta`, summed in `f64` and rounded once.
    pub fn shift_inputs(&mut self, delta: &[f64]) {
        let Some(first) = self.layers.first_mut() else { return };
        assert_eq!(delta.len(), first.inputs, "shift_inputs width");
        for (b, w) in first.b.iter_mut().zip(first.w.chunks_exact(first.inputs)) {
            let dot: f64 = w.iter().zip(delta).map(|(&w, d)| f64::from(w) * d).sum();
            *b = (f64::from(*b) - dot) as f32;
        }
        let last = self.layers.last_mut().expect("a first layer, so a last");
        assert_eq!(delta.len(), last.outputs, "shift_inputs width");
        for (b, d) in last.b.iter_mut().zip(delta) {
            *b = (f64::from(*b) + d) as f32;
        }
    }

    /// Register tiles of a forward pass over `rows` rows (see [`Prefetch`]).
    pub(crate) fn tiles(&self, rows: usize) -> usize {
        self.layers.iter().map(|l| Prefetch::tiles(l.outputs, rows)).sum()
    }

    /// Width of the input (and of the reconstruction).
    pub fn inputs(&self) -> usize {
        self.layers.first().map_or(0, |l| l.inputs)
    }

    /// Buffers for blocks of up to `rows` rows.
    pub fn workspace(&self, rows: usize) -> Workspace {
        let acts = self.layers.iter().map(|l| vec![0.0; rows * l.outputs]).collect();
        let widest = self.layers.iter().map(|l| l.inputs.max(l.outputs)).max().unwrap_or(0);
        Workspace {
            rows,
            acts,
            delta: vec![0.0; rows * widest],
            delta_prev: vec![0.0; rows * widest],
            prefetch: Prefetch::none(),
            cols: Vec::new(),
        }
    }

    /// Fresh optimizer state.
    pub fn adam(&self, lr: f64) -> Adam {
        let zeros =
            || self.layers.iter().map(|l| (vec![0.0; l.w.len()], vec![0.0; l.b.len()])).collect();
        Adam { m: zeros(), v: zeros(), grads: zeros(), t: 0, lr }
    }

    /// Runs `rows` rows (feature-major in `input`, `inputs x rows`, at most the workspace's
    /// rows) forward; returns the reconstruction, feature-major too.
    pub fn forward<'w>(&self, input: &[f32], rows: usize, ws: &'w mut Workspace) -> &'w [f32] {
        if rows == 0 {
            return &[];
        }
        let last = self.layers.len() - 1;
        self.run_layers(input, rows, ws, last + 1);
        &ws.acts[last][..rows * self.layers[last].outputs]
    }

    /// Each row's squared reconstruction error summed over the features in order
    /// (`errors[i]` for the `rows = errors.len()` rows of `input`, as in [`Self::forward`]).
    /// On AVX-512 the last layer's output is compared as it is computed, never stored.
    pub fn reconstruction_errors(&self, input: &[f32], ws: &mut Workspace, errors: &mut [f32]) {
        let rows = errors.len();
        if rows == 0 {
            return;
        }
        let last = self.layers.len() - 1;
        self.run_layers(input, rows, ws, last);
        let l = &self.layers[last];
        let (before, after) = ws.acts.split_at_mut(last);
        let a_in = if last == 0 { input } else { &before[last - 1][..] };
        let a_in = &a_in[..rows * l.inputs];
        let target = &input[..rows * l.outputs];
        if !sq_errors(&l.w, &l.b, a_in, target, errors, &mut ws.prefetch) {
            let out = &mut after[0][..rows * l.outputs];
            affine(&l.w, &l.b, a_in, rows, out, None, &mut ws.prefetch);
            row_sq_errors(out, target, errors);
        }
        ws.prefetch = Prefetch::none();
    }

    /// Runs the first `count` layers over `rows` rows of `input`.
    fn run_layers(&self, input: &[f32], rows: usize, ws: &mut Workspace, count: usize) {
        let last = self.layers.len() - 1;
        for (li, l) in self.layers.iter().enumerate().take(count) {
            let (before, after) = ws.acts.split_at_mut(li);
            let a_in = if li == 0 { input } else { &before[li - 1][..] };
            let a_out = &mut after[0][..rows * l.outputs];
            let act = (li != last).then_some(self.activation);
            let a_in = &a_in[..rows * l.inputs];
            if li == 0 {
                // Standardized inputs are often exactly zero (see `Autoencoder::center`).
                let (pf, cols) = (&mut ws.prefetch, &mut ws.cols);
                affine_skipping_zeros(&l.w, &l.b, a_in, rows, a_out, act, pf, cols);
            } else {
                affine(&l.w, &l.b, a_in, rows, a_out, act, &mut ws.prefetch);
            }
        }
        if count > last {
            ws.prefetch = Prefetch::none();
        }
    }

    /// One Adam step on the mean squared reconstruction error of a minibatch (feature-major,
    /// `inputs x rows`); returns the batch loss (mean over rows and features).
    pub fn train_step(
        &mut self,
        input: &[f32],
        rows: usize,
        ws: &mut Workspace,
        opt: &mut Adam,
    ) -> f64 {
        let d = self.inputs();
        self.forward(input, rows, ws);
        let n = rows * d;
        let out = &ws.acts[self.layers.len() - 1][..n];
        let scale = 2.0 / n as f32;
        let mut loss = 0.0f64;
        for ((dl, o), x) in ws.delta[..n].iter_mut().zip(out).zip(&input[..n]) {
            let e = o - x;
            loss += f64::from(e * e);
            *dl = scale * e;
        }
        for li in (0..self.layers.len()).rev() {
            let l = &self.layers[li];
            let a_in = if li == 0 { input } else { &ws.acts[li - 1][..] };
            let delta = &ws.delta[..rows * l.outputs];
            let (gw, gb) = &mut opt.grads[li];
            gemm(
                1.0,
                Operand::rows(delta, l.outputs, rows),
                Operand::rows(a_in, l.inputs, rows).t(),
                0.0,
                gw,
            );
            for (g, unit) in gb.iter_mut().zip(delta.chunks_exact(rows)) {
                *g = unit.iter().sum();
            }
            if li > 0 {
                let dp = &mut ws.delta_prev[..rows * l.inputs];
                gemm(
                    1.0,
                    Operand::rows(&l.w, l.outputs, l.inputs).t(),
                    Operand::rows(delta, l.outputs, rows),
                    0.0,
                    dp,
                );
                let a = &a_in[..rows * l.inputs];
                match self.activation {
                    Activation::Tanh => dp.iter_mut().zip(a).for_each(|(p, a)| *p *= 1.0 - a * a),
                    Activation::Relu => {
                        dp.iter_mut().zip(a).for_each(|(p, &a)| *p = if a > 0.0 { *p } else { 0.0 })
                    }
                }
                std::mem::swap(&mut ws.delta, &mut ws.delta_prev);
            }
        }
        opt.step(&mut self.layers);
        loss / n as f64
    }

    /// Checks the layer chain: `d` inputs and outputs, each layer fed by the previous one,
    /// buffers of the stated sizes, finite parameters.
    pub fn check_state(&self, d: usize) -> Result<(), String> {
        let (Some(first), Some(last)) = (self.layers.first(), self.layers.last()) else {
            return Err("autoencoder network has no layers".into());
        };
        if first.inputs != d || last.outputs != d {
            return Err(format!(
                "autoencoder network maps {} to {} features, expected {d}",
                first.inputs, last.outputs
            ));
        }
        for (i, l) in self.layers.iter().enumerate() {
            if l.inputs == 0 || l.outputs == 0 {
                return Err(format!("autoencoder layer {i} has a zero width"));
            }
            if i > 0 && self.layers[i - 1].outputs != l.inputs {
                return Err(format!("autoencoder layer {i} does not take layer {} output", i - 1));
            }
            if l.inputs.checked_mul(l.outputs) != Some(l.w.len()) || l.b.len() != l.outputs {
                return Err(format!("autoencoder layer {i} has weights of the wrong size"));
            }
            if !l.w.iter().chain(&l.b).all(|v| v.is_finite()) {
                return Err(format!("autoencoder layer {i} has non-finite weights"));
            }
        }
        Ok(())
    }
}

simd_dispatch!(
    /// `errors[i] = Σⱼ (a[j, i] - b[j, i])²` for feature-major `a` and `b` (`d x rows`,
    /// `rows = errors.len()`): each row's squared error, summed over features in order,
    /// vectorized across rows.
    row_sq_errors => row_sq_errors_body(a: &[f32], b: &[f32], errors: &mut [f32])
);

#[inline(always)]
fn row_sq_errors_body(a: &[f32], b: &[f32], errors: &mut [f32]) {
    let rows = errors.len();
    errors.fill(0.0);
    if rows == 0 {
        return;
    }
    for (ar, br) in a.chunks_exact(rows).zip(b.chunks_exact(rows)) {
        for ((e, x), y) in errors.iter_mut().zip(ar).zip(br) {
            *e += (x - y) * (x - y);
        }
    }
}

impl Adam {
    const B1: f64 = 0.9;
    const B2: f64 = 0.999;
    const EPS: f32 = 1e-8;

    fn step(&mut self, layers: &mut [Layer]) {
        self.t += 1;
        // Folding both bias corrections into the step size and epsilon is the form of the
        // Adam paper's section 2 and saves two divisions per parameter.
        let c1 = 1.0 - Self::B1.powi(self.t);
        let c2 = 1.0 - Self::B2.powi(self.t);
        let lr = (self.lr * c2.sqrt() / c1) as f32;
        let eps = Self::EPS * c2.sqrt() as f32;
        let (b1, b2) = (Self::B1 as f32, Self::B2 as f32);
        let update = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *p -= lr * *m / (v.sqrt() + eps);
            }
        };
        for (li, l) in layers.iter_mut().enumerate() {
            let (gw, gb) = &self.grads[li];
            let (mw, mb) = &mut self.m[li];
            let (vw, vb) = &mut self.v[li];
            update(&mut l.w, gw, mw, vw);
            update(&mut l.b, gb, mb, vb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn net() -> Network {
        Network::new(&[4, 3, 4], Activation::Tanh, &mut ChaCha8Rng::seed_from_u64(1))
    }

    #[test]
    fn check_state_names_each_inconsistency() {
        assert_eq!(net().check_state(4), Ok(()));
        assert!(net().check_state(5).is_err());
        let mut n = net();
        n.layers[0].w.pop();
        assert!(n.check_state(4).is_err());
        let mut n = net();
        n.layers[1].b[0] = f32::INFINITY;
        assert!(n.check_state(4).is_err());
        let mut n = net();
        n.layers[1].inputs = 2;
        n.layers[1].w.truncate(8);
        assert!(n.check_state(4).is_err());
        assert!(
            Network { layers: Vec::new(), activation: Activation::Relu }.check_state(4).is_err()
        );
    }

    #[test]
    fn shifted_inputs_reconstruct_with_the_same_errors() {
        let input: Vec<f32> = (0..12).map(|i| ((i * 5 % 7) as f32 - 3.0) / 3.0).collect();
        let delta = [0.5, -0.25, 0.0, 1.0];
        let shifted: Vec<f32> =
            input.iter().enumerate().map(|(k, x)| x + delta[k / 3] as f32).collect();
        for sizes in [&[4, 3, 4][..], &[4, 4]] {
            let n = Network::new(sizes, Activation::Tanh, &mut ChaCha8Rng::seed_from_u64(1));
            let mut m = n.clone();
            m.shift_inputs(&delta);
            let (mut e, mut f) = ([0.0; 3], [0.0; 3]);
            n.reconstruction_errors(&input, &mut n.workspace(3), &mut e);
            m.reconstruction_errors(&shifted, &mut m.workspace(3), &mut f);
            for (x, y) in e.iter().zip(&f) {
                assert!((x - y).abs() < 1e-5 * x.max(1.0), "{sizes:?}: {e:?} {f:?}");
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // The analytic gradient of the batch loss against a central difference in f64
        // arithmetic on a copy of the weights.
        let input: Vec<f32> = (0..12).map(|i| ((i * 5 % 7) as f32 - 3.0) / 3.0).collect();
        let loss = |n: &Network| {
            let mut ws = n.workspace(3);
            let out = n.forward(&input, 3, &mut ws);
            out.iter().zip(&input).map(|(o, x)| f64::from((o - x) * (o - x))).sum::<f64>() / 12.0
        };
        for act in [Activation::Tanh, Activation::Relu] {
            let mut n = net();
            n.activation = act;
            let mut ws = n.workspace(3);
            let mut opt = n.adam(1e-3);
            let mut probe = n.clone();
            probe.train_step(&input, 3, &mut ws, &mut opt);
            for (li, idx) in [(0, 5), (1, 2), (0, 11)] {
                let h = 1e-2;
                let mut up = n.clone();
                up.layers[li].w[idx] += h;
                let mut down = n.clone();
                down.layers[li].w[idx] -= h;
                let numeric = (loss(&up) - loss(&down)) / (2.0 * f64::from(h));
                let analytic = f64::from(opt.grads[li].0[idx]);
                assert!(
                    (numeric - analytic).abs() < 2e-3,
                    "{act:?} {li} {idx}: {numeric} {analytic}"
                );
            }
        }
    }
}
