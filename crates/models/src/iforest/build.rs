//! Growing one isolation tree into the flat, complete-binary-tree layout.
//!
//! Node `i` has children `2i + 1` (left, `value < threshold`) and `2i + 2` (right). Every
//! tree is complete to the depth limit `D`: a node that stops splitting early becomes a
//! pass-through chain (threshold `+inf`, always left) ending in a leaf that holds its path
//! length. Scoring is then a fixed number of branch-free steps per tree, with no pointers.

use super::score::{TERM_BLOCK, hyper_dot};
use crate::matrix::MatrixView;
use crate::stats::standard_normal;
use rand::Rng;
use rand::seq::SliceRandom;

/// Average path length of an unsuccessful binary-search-tree lookup among `n` points,
/// `c(n)` in Liu et al. (2008): the expected remaining depth below a leaf holding `n`.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            let harmonic = (n - 1.0).ln() + 0.577_215_664_901_532_9;
            2.0 * harmonic - 2.0 * (n - 1.0) / n
        }
    }
}

/// A feature whose values on a node span at most this much counts as constant there and
/// is not split on, as in scikit-learn's tree splitter: derived columns can carry
/// floating-point noise (values of the order of 1e-15 around a constant) that would
/// otherwise take a share of the splits and isolate nothing.
pub const CONSTANT_SPAN: f64 = 1e-7;

/// An axis-parallel forest compares `f32` values: the feature value rounded to the nearest
/// `f32` (as scikit-learn's trees do), against an `f32` threshold. Trees are grown on the
/// same rounded values, so every split separates the rows it was drawn for.
/// Values beyond the `f32` range saturate to its largest finite values, so no value
/// reaches the `+inf` threshold of a pass-through node.
#[inline]
pub fn to_f32(v: f64) -> f32 {
    (v as f32).clamp(f32::MIN, f32::MAX)
}

/// The smallest `f32` at or above `t`, for a finite `t` in the `f32` range.
fn f32_at_or_above(t: f64) -> f32 {
    let r = t as f32;
    if f64::from(r) >= t { r } else { r.next_up() }
}

/// Stored terms of a hyperplane over `k` features: `k` rounded up to a multiple of
/// [`TERM_BLOCK`], the extra terms with coefficient 0 on feature 0.
pub fn hyper_terms(k: usize) -> usize {
    k.div_ceil(TERM_BLOCK) * TERM_BLOCK
}

/// Geometry of the complete tree.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Depth limit `D` (>= 1).
    pub depth: usize,
    /// Internal nodes per tree, `2^D - 1`.
    pub internal: usize,
    /// Leaves per tree, `2^D`.
    pub leaves: usize,
}

impl Shape {
    /// The shape for depth `depth`.
    pub fn new(depth: usize) -> Self {
        Self { depth, internal: (1 << depth) - 1, leaves: 1 << depth }
    }
}

/// How the tree splits, with what it needs at fit time.
pub enum Splitter<'a> {
    /// One feature per node.
    Axis,
    /// `k` features per node (stored as [`hyper_terms`]`(k)` terms); normal components
    /// are scaled by `1 / scale[j]` so that features with large units do not dominate
    /// every hyperplane.
    Hyper {
        /// Features per hyperplane.
        k: usize,
        /// Per-feature training spread.
        scale: &'a [f64],
    },
}

/// One grown tree, in the layout described in the module doc.
pub struct TreeArrays {
    /// Split feature of each internal node (`hyper_terms(k)` per node for hyperplanes).
    pub features: Vec<u32>,
    /// Hyperplane coefficients, `hyper_terms(k)` per node (empty for axis-parallel trees).
    pub coefs: Vec<f64>,
    /// Threshold of each internal node.
    pub thresholds: Vec<f64>,
    /// Path length (depth + `c(size)`) of each leaf.
    pub leaf_depths: Vec<f64>,
    /// Training samples reaching each node, internal nodes then leaves (heap order).
    pub sizes: Vec<u32>,
}

struct Grower<'a, R> {
    x: MatrixView<'a>,
    shape: Shape,
    splitter: &'a Splitter<'a>,
    k: usize,
    /// Stored terms per hyperplane: `k` rounded up to a multiple of [`TERM_BLOCK`].
    terms: usize,
    rng: R,
    out: TreeArrays,
    order: Vec<usize>,
}

/// Grows one tree on the rows `sample` of `x`.
pub fn grow_tree<R: Rng>(
    x: MatrixView<'_>,
    mut sample: Vec<usize>,
    shape: Shape,
    splitter: &Splitter<'_>,
    rng: R,
) -> TreeArrays {
    let (k, terms) = match splitter {
        Splitter::Axis => (1, 1),
        Splitter::Hyper { k, .. } => (*k, hyper_terms(*k)),
    };
    let coefs_len = if matches!(splitter, Splitter::Axis) { 0 } else { shape.internal * terms };
    let out = TreeArrays {
        features: vec![0; shape.internal * terms],
        coefs: vec![0.0; coefs_len],
        thresholds: vec![f64::INFINITY; shape.internal],
        leaf_depths: vec![0.0; shape.leaves],
        sizes: vec![0; shape.internal + shape.leaves],
    };
    let order = (0..x.cols()).collect();
    let mut g = Grower { x, shape, splitter, k, terms, rng, out, order };
    g.grow(0, 0, &mut sample);
    g.out
}

impl<R: Rng> Grower<'_, R> {
    fn grow(&mut self, node: usize, depth: usize, idx: &mut [usize]) {
        if depth == self.shape.depth || idx.len() <= 1 {
            self.leaf(node, depth, idx.len());
            return;
        }
        // Copy the reference so the match does not hold a borrow of `self`.
        let splitter = self.splitter;
        let split = match splitter {
            Splitter::Axis => self.axis_split(node, idx),
            Splitter::Hyper { scale, .. } => self.hyper_split(node, idx, scale),
        };
        if !split {
            self.leaf(node, depth, idx.len());
            return;
        }
        self.out.sizes[node] = idx.len() as u32;
        let mid = self.partition(node, idx);
        let (left, right) = idx.split_at_mut(mid);
        self.grow(2 * node + 1, depth + 1, left);
        self.grow(2 * node + 2, depth + 1, right);
    }

    /// Picks the first non-constant feature in a random order and a uniform threshold in
    /// `(min, max]`; false when every feature is constant on this node.
    fn axis_split(&mut self, node: usize, idx: &[usize]) -> bool {
        self.order.shuffle(&mut self.rng);
        for oi in 0..self.order.len() {
            let f = self.order[oi];
            let (lo, hi) = self.range_f32(idx, f);
            if hi - lo > CONSTANT_SPAN {
                // `1 - u` is in (0, 1], so the threshold is above `lo` and the left side
                // is never empty; rounding it up to an `f32` keeps it in `(lo, hi]`, as
                // both ends are `f32` values.
                let u = 1.0 - self.rng.random::<f64>();
                let t = lo + (hi - lo) * u;
                let t = if t <= lo { hi as f32 } else { f32_at_or_above(t).min(hi as f32) };
                self.out.features[node] = f as u32;
                self.out.thresholds[node] = f64::from(t);
                return true;
            }
        }
        false
    }

    /// Draws a random hyperplane over `k` random features through a uniform point of the
    /// node's bounding box; false when the node's rows are all identical.
    fn hyper_split(&mut self, node: usize, idx: &[usize], scale: &[f64]) -> bool {
        let varying: Vec<usize> = (0..self.x.cols())
            .filter(|&f| {
                let (lo, hi) = self.range(idx, f);
                hi - lo > CONSTANT_SPAN
            })
            .collect();
        if varying.is_empty() {
            return false;
        }
        // Guarantee at least one varying feature in the hyperplane so the split can
        // separate the node's rows; the rest are chosen at random among all features.
        let first = varying[self.rng.random_range(0..varying.len())];
        self.order.shuffle(&mut self.rng);
        let mut chosen = vec![first];
        chosen.extend(self.order.iter().copied().filter(|&f| f != first).take(self.k - 1));
        let mut threshold = 0.0;
        for (j, &f) in chosen.iter().enumerate() {
            let (lo, hi) = self.range(idx, f);
            let c = standard_normal(&mut self.rng) / scale[f];
            let p = lo + (hi - lo) * self.rng.random::<f64>();
            threshold += c * p;
            self.out.features[node * self.terms + j] = f as u32;
            self.out.coefs[node * self.terms + j] = c;
        }
        self.out.thresholds[node] = threshold;
        true
    }

    /// The range of feature `f` over the rows `idx`, as `f32` values (see [`to_f32`]).
    fn range_f32(&self, idx: &[usize], f: usize) -> (f64, f64) {
        idx.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
            let v = f64::from(to_f32(self.x.get(r, f)));
            (lo.min(v), hi.max(v))
        })
    }

    fn range(&self, idx: &[usize], f: usize) -> (f64, f64) {
        idx.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
            let v = self.x.get(r, f);
            (lo.min(v), hi.max(v))
        })
    }

    fn goes_right(&self, node: usize, row: &[f64]) -> bool {
        let t = self.out.thresholds[node];
        if self.out.coefs.is_empty() {
            f64::from(to_f32(row[self.out.features[node] as usize])) >= t
        } else {
            let terms = node * self.terms..(node + 1) * self.terms;
            hyper_dot(&self.out.features[terms.clone()], &self.out.coefs[terms], row) >= t
        }
    }

    /// Moves the rows going left to the front; returns how many there are.
    fn partition(&mut self, node: usize, idx: &mut [usize]) -> usize {
        let mut mid = 0;
        for i in 0..idx.len() {
            if !self.goes_right(node, self.x.row(idx[i])) {
                idx.swap(i, mid);
                mid += 1;
            }
        }
        mid
    }

    /// Ends the path at `node`: its whole subtree becomes pass-through nodes (already
    /// `+inf` thresholds) whose leaves all hold `depth + c(n)`.
    fn leaf(&mut self, node: usize, depth: usize, n: usize) {
        let value = depth as f64 + average_path_length(n);
        let mut first = node;
        let mut count = 1usize;
        for _ in depth..=self.shape.depth {
            for i in first..first + count {
                self.out.sizes[i] = n as u32;
                if i >= self.shape.internal {
                    self.out.leaf_depths[i - self.shape.internal] = value;
                }
            }
            first = 2 * first + 1;
            count *= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_of_n() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // Known value c(256) ~= 10.24.
        assert!((average_path_length(256) - 10.24).abs() < 0.01);
    }
}
