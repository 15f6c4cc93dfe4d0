//! A small fully connected network with hand-written forward, backward and Adam steps.
//!
//! Activations for a minibatch are stored row-major (`batch x width`) per layer and weights
//! as `outputs x inputs`, so the inner loops walk contiguous memory.

use super::params::Activation;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// One dense layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    inputs: usize,
    outputs: usize,
    /// `outputs x inputs`, row-major.
    w: Vec<f64>,
    b: Vec<f64>,
}

/// A multilayer perceptron: hidden layers use `activation`, the last layer is linear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    layers: Vec<Layer>,
    activation: Activation,
}

/// Per-layer buffers reused across minibatches.
pub struct Workspace {
    /// Activations: input, each hidden layer, output.
    acts: Vec<Vec<f64>>,
    delta: Vec<f64>,
    delta_prev: Vec<f64>,
}

/// Adam optimizer state (first and second moments per parameter).
pub struct Adam {
    m: Vec<(Vec<f64>, Vec<f64>)>,
    v: Vec<(Vec<f64>, Vec<f64>)>,
    grads: Vec<(Vec<f64>, Vec<f64>)>,
    t: i32,
    lr: f64,
}

impl Workspace {
    /// Input values the buffers can hold (rows x input width).
    pub fn input_capacity(&self) -> usize {
        self.acts[0].len()
    }
}

impl Network {
    /// Glorot-uniform weights, zero biases.
    pub fn new<R: Rng>(widths: &[usize], activation: Activation, rng: &mut R) -> Self {
        let layers = widths
            .windows(2)
            .map(|io| {
                let (inputs, outputs) = (io[0], io[1]);
                let limit = (6.0 / (inputs + outputs) as f64).sqrt();
                let w = (0..inputs * outputs).map(|_| rng.random_range(-limit..limit)).collect();
                Layer { inputs, outputs, w, b: vec![0.0; outputs] }
            })
            .collect();
        Self { layers, activation }
    }

    /// Buffers for minibatches of up to `batch` rows.
    pub fn workspace(&self, batch: usize) -> Workspace {
        let mut acts = vec![vec![0.0; batch * self.layers[0].inputs]];
        acts.extend(self.layers.iter().map(|l| vec![0.0; batch * l.outputs]));
        let widest = self.layers.iter().map(|l| l.inputs.max(l.outputs)).max().unwrap_or(0);
        Workspace { acts, delta: vec![0.0; batch * widest], delta_prev: vec![0.0; batch * widest] }
    }

    /// Fresh optimizer state.
    pub fn adam(&self, lr: f64) -> Adam {
        let zeros =
            || self.layers.iter().map(|l| (vec![0.0; l.w.len()], vec![0.0; l.b.len()])).collect();
        Adam { m: zeros(), v: zeros(), grads: zeros(), t: 0, lr }
    }

    /// Runs `batch` rows (row-major in `input`) forward; returns the output slice.
    pub fn forward<'w>(&self, input: &[f64], batch: usize, ws: &'w mut Workspace) -> &'w [f64] {
        ws.acts[0][..input.len()].copy_from_slice(input);
        let last = self.layers.len() - 1;
        for (li, l) in self.layers.iter().enumerate() {
            let (before, after) = ws.acts.split_at_mut(li + 1);
            let a_in = &before[li][..batch * l.inputs];
            let a_out = &mut after[0][..batch * l.outputs];
            for (xi, yo) in a_in.chunks_exact(l.inputs).zip(a_out.chunks_exact_mut(l.outputs)) {
                for ((y, wrow), b) in yo.iter_mut().zip(l.w.chunks_exact(l.inputs)).zip(&l.b) {
                    let s: f64 = wrow.iter().zip(xi).map(|(w, x)| w * x).sum::<f64>() + b;
                    *y = if li == last { s } else { self.activate(s) };
                }
            }
        }
        &ws.acts[self.layers.len()][..batch * self.layers[last].outputs]
    }

    fn activate(&self, s: f64) -> f64 {
        match self.activation {
            Activation::Tanh => s.tanh(),
            Activation::Relu => s.max(0.0),
        }
    }

    /// Derivative of the activation, from its output.
    fn derivative(&self, a: f64) -> f64 {
        match self.activation {
            Activation::Tanh => 1.0 - a * a,
            Activation::Relu => {
                if a > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }

    /// One Adam step on the mean squared reconstruction error of a minibatch; returns the
    /// batch loss (mean over rows and features).
    pub fn train_step(
        &mut self,
        input: &[f64],
        batch: usize,
        ws: &mut Workspace,
        opt: &mut Adam,
    ) -> f64 {
        let d = self.layers[0].inputs;
        self.forward(input, batch, ws);
        let out = &ws.acts[self.layers.len()];
        let scale = 2.0 / (batch * d) as f64;
        let mut loss = 0.0;
        for i in 0..batch * d {
            let e = out[i] - input[i];
            loss += e * e;
            ws.delta[i] = scale * e;
        }
        for (gw, gb) in opt.grads.iter_mut() {
            gw.iter_mut().for_each(|g| *g = 0.0);
            gb.iter_mut().for_each(|g| *g = 0.0);
        }
        for li in (0..self.layers.len()).rev() {
            let l = &self.layers[li];
            let a_in = &ws.acts[li];
            let (gw, gb) = &mut opt.grads[li];
            for r in 0..batch {
                let dr = &ws.delta[r * l.outputs..(r + 1) * l.outputs];
                let xr = &a_in[r * l.inputs..(r + 1) * l.inputs];
                for (o, &dv) in dr.iter().enumerate() {
                    gb[o] += dv;
                    let g = &mut gw[o * l.inputs..(o + 1) * l.inputs];
                    g.iter_mut().zip(xr).for_each(|(g, x)| *g += dv * x);
                }
            }
            if li > 0 {
                for r in 0..batch {
                    let dr = &ws.delta[r * l.outputs..(r + 1) * l.outputs];
                    let dp = &mut ws.delta_prev[r * l.inputs..(r + 1) * l.inputs];
                    dp.iter_mut().for_each(|v| *v = 0.0);
                    for (wrow, &dv) in l.w.chunks_exact(l.inputs).zip(dr) {
                        dp.iter_mut().zip(wrow).for_each(|(p, w)| *p += w * dv);
                    }
                    let xr = &a_in[r * l.inputs..(r + 1) * l.inputs];
                    dp.iter_mut().zip(xr).for_each(|(p, &a)| *p *= self.derivative(a));
                }
                std::mem::swap(&mut ws.delta, &mut ws.delta_prev);
            }
        }
        opt.step(&mut self.layers);
        loss / (batch * d) as f64
    }
}

impl Adam {
    const B1: f64 = 0.9;
    const B2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    fn step(&mut self, layers: &mut [Layer]) {
        self.t += 1;
        let c1 = 1.0 - Self::B1.powi(self.t);
        let c2 = 1.0 - Self::B2.powi(self.t);
        let lr = self.lr;
        let update = |p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]| {
            for i in 0..p.len() {
                m[i] = Self::B1 * m[i] + (1.0 - Self::B1) * g[i];
                v[i] = Self::B2 * v[i] + (1.0 - Self::B2) * g[i] * g[i];
                p[i] -= lr * (m[i] / c1) / ((v[i] / c2).sqrt() + Self::EPS);
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
