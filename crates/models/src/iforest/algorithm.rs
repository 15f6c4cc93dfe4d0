//! Isolation Forest fitting, scoring and explanation.

use super::build::{
    Shape, Splitter, TreeArrays, average_path_length, grow_tree, hyper_terms, to_f32,
};
use super::params::{
    IsolationForestParams, IsolationForestValidParams, MAX_DEPTH_LIMIT, SplitRule,
};
use super::score::{AxisForest, AxisLayout, AxisNode, HyperForest};
use super::validate;
use crate::error::{FitError, InvalidModel};
use crate::impute::Imputer;
use crate::matrix::MatrixView;
use crate::stats::{column_mean_std, column_medians, derive_seed, safe_scale, validate_training};
use crate::traits::{Detector, Fit, ParamGuard, score_blocks};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::OnceLock;

/// Rows whose path lengths are summed together before they are turned into scores.
const TREE_BLOCK: usize = 64;

/// The split nodes of every tree, tree after tree, in heap order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) enum Splits {
    Axis(Vec<AxisNode>),
    Hyper {
        /// Terms per hyperplane: its features rounded up to a multiple of 8, the extra
        /// terms with coefficient 0.
        k: usize,
        thresholds: Vec<f64>,
        features: Vec<u32>,
        coefs: Vec<f64>,
        /// Per-feature spread used to scale normals at fit time; used again to weigh
        /// hyperplane components in explanations.
        scale: Vec<f64>,
    },
}

/// A fitted Isolation Forest (classic or extended).
///
/// All trees live in flat arrays (one per forest) in a complete-binary-tree layout, so
/// scoring is index arithmetic without pointers; see the `build` module doc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForest {
    pub(super) params: IsolationForestParams,
    pub(super) n_features: usize,
    pub(super) n_trees: usize,
    pub(super) depth: usize,
    pub(super) sample_size: usize,
    /// `c(sample_size)`, the path-length normalizer of the score.
    pub(super) c_norm: f64,
    pub(super) splits: Splits,
    pub(super) leaf_depths: Vec<f64>,
    pub(super) sizes: Vec<u32>,
    pub(super) imputer: Imputer,
    /// The outcome of [`validate::check`], computed once: scoring relies on it.
    #[serde(skip)]
    checked: Checked,
    /// The scoring layout of an axis-parallel forest, derived on first use.
    #[serde(skip)]
    layout: Derived,
}

/// A value derived from the model on first use; like [`Checked`], not part of its value.
#[derive(Debug, Default)]
struct Derived(OnceLock<AxisLayout>);

impl Clone for Derived {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for Derived {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A lazily computed check result that is not part of the model's value: two forests with
/// the same trees are equal whether or not either has been checked yet, and a clone checks
/// itself again rather than trusting its original's result.
#[derive(Debug, Default)]
struct Checked(OnceLock<Result<(), String>>);

impl Clone for Checked {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for Checked {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Fit for IsolationForestParams {
    type Model = IsolationForest;

    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<IsolationForest, FitError> {
        self.check()?.fit(x, seed)
    }
}

impl Fit for IsolationForestValidParams {
    type Model = IsolationForest;

    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<IsolationForest, FitError> {
        validate_training(x, 2)?;
        let p = &self.0;
        let (n, d) = (x.rows(), x.cols());
        let psi = p.subsample.min(n);
        // ceil(log2(psi)) for psi >= 2.
        let auto_depth = (usize::BITS - (psi - 1).leading_zeros()) as usize;
        let depth = p.max_depth.unwrap_or(auto_depth).clamp(1, MAX_DEPTH_LIMIT);
        let shape = Shape::new(depth);
        let scale = match p.split {
            SplitRule::AxisParallel => Vec::new(),
            SplitRule::Hyperplane { .. } => safe_scale(&column_mean_std(x).1),
        };
        let splitter = match p.split {
            SplitRule::AxisParallel => Splitter::Axis,
            SplitRule::Hyperplane { extension_level } => Splitter::Hyper {
                k: extension_level.map_or(d, |e| e.saturating_add(1).min(d)),
                scale: &scale,
            },
        };
        let trees: Vec<TreeArrays> = (0..p.n_trees)
            .into_par_iter()
            .map(|t| {
                let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, t as u64));
                let sample = rand::seq::index::sample(&mut rng, n, psi).into_vec();
                grow_tree(x, sample, shape, &splitter, rng)
            })
            .collect();

        let mut leaf_depths = Vec::with_capacity(p.n_trees * shape.leaves);
        let mut sizes = Vec::with_capacity(p.n_trees * (shape.internal + shape.leaves));
        for t in &trees {
            leaf_depths.extend_from_slice(&t.leaf_depths);
            sizes.extend_from_slice(&t.sizes);
        }
        let splits = match splitter {
            Splitter::Axis => Splits::Axis(
                trees
                    .iter()
                    .flat_map(|t| {
                        t.thresholds.iter().zip(&t.features).map(|(&threshold, &feature)| {
                            AxisNode {
                                // Axis thresholds are grown as `f32` values.
                                threshold: threshold as f32,
                                feature,
                            }
                        })
                    })
                    .collect(),
            ),
            Splitter::Hyper { k, .. } => Splits::Hyper {
                k: hyper_terms(k),
                thresholds: trees.iter().flat_map(|t| t.thresholds.iter().copied()).collect(),
                features: trees.iter().flat_map(|t| t.features.iter().copied()).collect(),
                coefs: trees.iter().flat_map(|t| t.coefs.iter().copied()).collect(),
                scale,
            },
        };
        Ok(IsolationForest {
            params: p.clone(),
            n_features: d,
            n_trees: p.n_trees,
            depth,
            sample_size: psi,
            c_norm: average_path_length(psi),
            splits,
            leaf_depths,
            sizes,
            imputer: Imputer::new(column_medians(x)),
            checked: Checked::default(),
            layout: Derived::default(),
        })
    }
}

impl IsolationForest {
    /// The parameters the forest was fitted with.
    pub fn params(&self) -> &IsolationForestParams {
        &self.params
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.n_trees
    }

    /// Depth limit of every tree.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Rows each tree was grown on.
    pub fn sample_size(&self) -> usize {
        self.sample_size
    }

    fn shape(&self) -> Shape {
        Shape::new(self.depth)
    }

    fn score_from_sum(&self, path_sum: f64) -> f64 {
        let mean = path_sum / self.n_trees as f64;
        // c_norm is 0 only for a 1-row subsample, which validation rules out.
        (-mean / self.c_norm.max(f64::MIN_POSITIVE)).exp2()
    }

    /// The result of [`validate::check`], computed on first use.
    pub(super) fn checked(&self) -> Result<(), &str> {
        self.checked
            .0
            .get_or_init(|| validate::check(self))
            .as_ref()
            .map(|_| ())
            .map_err(String::as_str)
    }

    fn shape_checked(&self) -> Option<Shape> {
        self.checked().is_ok().then(|| self.shape())
    }

    /// The scoring form of an axis-parallel forest whose nodes are `nodes`; the forest
    /// must have passed its check.
    pub(super) fn axis<'a>(&'a self, nodes: &'a [AxisNode], shape: Shape) -> AxisForest<'a> {
        let layout = self
            .layout
            .0
            .get_or_init(|| AxisLayout::new(nodes, self.n_trees, shape, self.n_features));
        AxisForest {
            layout,
            medians: self.imputer.medians(),
            leaves: &self.leaf_depths,
            n_trees: self.n_trees,
            shape,
            d: self.n_features,
        }
    }

    pub(super) fn hyper(&self, shape: Shape) -> Option<HyperForest<'_>> {
        match &self.splits {
            Splits::Hyper { k, thresholds, features, coefs, .. } => Some(HyperForest {
                k: *k,
                thresholds,
                features,
                coefs,
                leaves: &self.leaf_depths,
                n_trees: self.n_trees,
                shape,
                d: self.n_features,
            }),
            Splits::Axis(_) => None,
        }
    }

    /// Scores `out.len()` rows; all NaN when the forest failed its check.
    fn score_block(&self, block: &[f64], out: &mut [f64]) {
        let Some(shape) = self.shape_checked() else {
            out.fill(f64::NAN);
            return;
        };
        let d = self.n_features;
        out.fill(0.0);
        match &self.splits {
            // SAFETY: `shape_checked` passed, so the forest passed `validate::check`, and
            // `axis` derives the layout from its nodes. The kernels impute the values they
            // read.
            Splits::Axis(nodes) => unsafe { self.axis(nodes, shape).path_sums(block, out) },
            Splits::Hyper { .. } => {
                let clean: Cow<'_, [f64]> = if block.iter().all(|v| v.is_finite()) {
                    Cow::Borrowed(block)
                } else {
                    Cow::Owned(
                        block
                            .chunks_exact(d)
                            .flat_map(|r| self.imputer.clean(r).into_owned())
                            .collect(),
                    )
                };
                if let Some(h) = self.hyper(shape) {
                    for (rows, o) in clean.chunks(TREE_BLOCK * d).zip(out.chunks_mut(TREE_BLOCK)) {
                        // SAFETY: as above.
                        unsafe { h.path_sums(rows, o) };
                    }
                }
            }
        }
        out.iter_mut().for_each(|v| *v = self.score_from_sum(*v));
    }
}

impl Detector for IsolationForest {
    fn name(&self) -> &'static str {
        match self.params.split {
            SplitRule::AxisParallel => "iforest",
            SplitRule::Hyperplane { .. } => "eif",
        }
    }

    fn n_features(&self) -> usize {
        self.n_features
    }

    fn medians(&self) -> &[f64] {
        self.imputer.medians()
    }

    fn validate(&self) -> Result<(), InvalidModel> {
        self.checked().map_err(|reason| InvalidModel::new(self.name(), reason))
    }

    fn score_row(&self, row: &[f64]) -> f64 {
        if row.len() != self.n_features {
            return f64::NAN;
        }
        let mut out = [0.0];
        self.score_block(row, &mut out);
        out[0]
    }

    fn score(&self, x: MatrixView<'_>) -> Vec<f64> {
        if x.cols() != self.n_features {
            return vec![f64::NAN; x.rows()];
        }
        score_blocks(x, self.n_features, || (), |_, block, o| self.score_block(block, o))
    }

    /// Credits each split on the row's path with the isolation it achieved,
    /// `log2(samples at node / samples in the child the row went to)`, weighted by
    /// `1 / path length` of the tree so trees that isolated the row early count more.
    /// Hyperplane splits share their credit among their features in proportion to
    /// `|coefficient| * feature spread`, i.e. how much each feature moves the projection.
    fn explain(&self, row: &[f64]) -> Vec<(usize, f64)> {
        if row.len() != self.n_features {
            return Vec::new();
        }
        let Some(shape) = self.shape_checked() else {
            return Vec::new();
        };
        let row = self.imputer.clean(row);
        let hyper = self.hyper(shape);
        let mut contrib = vec![0.0; self.n_features];
        let tree_nodes = shape.internal + shape.leaves;
        for t in 0..self.n_trees {
            let sizes = &self.sizes[t * tree_nodes..(t + 1) * tree_nodes];
            let h = &self.leaf_depths[t * shape.leaves..(t + 1) * shape.leaves];
            // The splits that isolated the row, on the stack: no allocation per tree.
            let mut path = [(0usize, 0.0f64); MAX_DEPTH_LIMIT];
            let mut len = 0;
            let mut i = 0;
            for _ in 0..shape.depth {
                let right = match (&self.splits, &hyper) {
                    (_, Some(h)) => h.goes_right(t * shape.internal + i, &row),
                    (Splits::Axis(nodes), None) => {
                        let n = nodes[t * shape.internal + i];
                        to_f32(row[n.feature as usize]) >= n.threshold
                    }
                    (Splits::Hyper { .. }, None) => false,
                };
                let next = 2 * i + 1 + right as usize;
                let gain = (sizes[i] as f64 / sizes[next].max(1) as f64).log2();
                if gain > 0.0 {
                    path[len] = (t * shape.internal + i, gain);
                    len += 1;
                }
                i = next;
            }
            let weight = 1.0 / h[i - shape.internal].max(1.0);
            for &(node, gain) in &path[..len] {
                match &self.splits {
                    Splits::Axis(nodes) => {
                        contrib[nodes[node].feature as usize] += weight * gain;
                    }
                    Splits::Hyper { k, features, coefs, scale, .. } => {
                        let base = node * k;
                        let parts: Vec<(usize, f64)> = (base..base + k)
                            .map(|j| {
                                let f = features[j] as usize;
                                (f, (coefs[j] * scale[f]).abs())
                            })
                            .collect();
                        let total: f64 = parts.iter().map(|p| p.1).sum();
                        if total > 0.0 {
                            for (f, w) in parts {
                                contrib[f] += weight * gain * w / total;
                            }
                        }
                    }
                }
            }
        }
        contrib.into_iter().enumerate().collect()
    }
}
