//! Scoring kernels: path lengths of blocks of rows through the flat trees.
//!
//! Every kernel walks trees tree after tree over a group of rows, with all the rows of the
//! group in flight at once so their memory loads overlap, and adds each tree's leaf value
//! to the row's sum in tree order. The sums are therefore bit-identical whichever kernel
//! runs: on x86-64 with AVX-512 the axis-parallel forest is walked eight rows per vector
//! with gathers, elsewhere by the portable kernel.

use super::build::Shape;
use serde::{Deserialize, Serialize};

/// An axis-parallel split: `feature >= threshold` goes right. Kept together (16 bytes, C
/// layout) so a traversal step touches one cache line and vector gathers can address
/// both fields from one base.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[repr(C)]
pub(super) struct AxisNode {
    pub(super) threshold: f64,
    pub(super) feature: u32,
}

/// Rows walked together by the portable kernels.
const LANES: usize = 8;

/// An axis-parallel forest's arrays: `nodes` holds `n_trees * shape.internal` splits,
/// `leaves` `n_trees * shape.leaves` path lengths.
#[derive(Clone, Copy)]
pub(super) struct AxisForest<'a> {
    pub(super) nodes: &'a [AxisNode],
    pub(super) leaves: &'a [f64],
    pub(super) n_trees: usize,
    pub(super) shape: Shape,
    pub(super) d: usize,
}

impl AxisForest<'_> {
    /// Adds each row's path length summed over all trees to `acc`; `rows` holds
    /// `acc.len()` finite rows of `d` values.
    ///
    /// # Safety
    ///
    /// The arrays must have the lengths of the struct doc and every split feature must be
    /// below `d`, as [`super::validate::check`] ensures: the vector kernel reads them
    /// without bounds checks.
    pub(super) unsafe fn path_sums(&self, rows: &[f64], acc: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if avx512::usable(self.d) {
            // SAFETY: `usable` checked the CPU features, and the caller the forest.
            unsafe { avx512::path_sums(self, rows, acc) };
            return;
        }
        self.path_sums_portable(rows, acc);
    }

    /// The portable kernel, [`LANES`] rows at a time.
    pub(super) fn path_sums_portable(&self, rows: &[f64], acc: &mut [f64]) {
        let (d, shape) = (self.d, self.shape);
        for t in 0..self.n_trees {
            let nodes = &self.nodes[t * shape.internal..(t + 1) * shape.internal];
            let leaves = &self.leaves[t * shape.leaves..(t + 1) * shape.leaves];
            for (group, a) in rows.chunks(LANES * d).zip(acc.chunks_mut(LANES)) {
                let mut idx = [0usize; LANES];
                let idx = &mut idx[..a.len()];
                for _ in 0..shape.depth {
                    for (j, i) in idx.iter_mut().enumerate() {
                        let n = nodes[*i];
                        let v = group[j * d + n.feature as usize];
                        *i = 2 * *i + 1 + (v >= n.threshold) as usize;
                    }
                }
                for (a, &i) in a.iter_mut().zip(idx.iter()) {
                    *a += leaves[i - shape.internal];
                }
            }
        }
    }
}

/// A hyperplane forest: node `i` of the forest uses `features[i * k..(i + 1) * k]` with
/// `coefs` alike; same layout and checks as [`AxisForest`].
#[derive(Clone, Copy)]
pub(super) struct HyperForest<'a> {
    pub(super) k: usize,
    pub(super) thresholds: &'a [f64],
    pub(super) features: &'a [u32],
    pub(super) coefs: &'a [f64],
    pub(super) leaves: &'a [f64],
    pub(super) n_trees: usize,
    pub(super) shape: Shape,
    pub(super) d: usize,
}

impl HyperForest<'_> {
    /// Whether `row` goes right at forest node `node`. The projection sums its terms in
    /// the stored order, so every kernel takes the same decision.
    pub(super) fn goes_right(&self, node: usize, row: &[f64]) -> bool {
        let base = node * self.k;
        let f = &self.features[base..base + self.k];
        let c = &self.coefs[base..base + self.k];
        let dot: f64 = f.iter().zip(c).map(|(&f, &c)| c * row[f as usize]).sum();
        dot >= self.thresholds[node]
    }

    /// Like [`AxisForest::path_sums`]; each lane's projection is summed in the stored
    /// order, the lanes interleaved so their additions overlap.
    pub(super) fn path_sums(&self, rows: &[f64], acc: &mut [f64]) {
        let (d, k, shape) = (self.d, self.k, self.shape);
        for t in 0..self.n_trees {
            let first = t * shape.internal;
            let leaves = &self.leaves[t * shape.leaves..(t + 1) * shape.leaves];
            for (group, a) in rows.chunks(LANES * d).zip(acc.chunks_mut(LANES)) {
                let n = a.len();
                let mut idx = [0usize; LANES];
                for _ in 0..shape.depth {
                    let mut dot = [-0.0f64; LANES];
                    for m in 0..k {
                        for j in 0..n {
                            let at = (first + idx[j]) * k + m;
                            let v = group[j * d + self.features[at] as usize];
                            dot[j] += self.coefs[at] * v;
                        }
                    }
                    for j in 0..n {
                        let right = dot[j] >= self.thresholds[first + idx[j]];
                        idx[j] = 2 * idx[j] + 1 + right as usize;
                    }
                }
                for (a, &i) in a.iter_mut().zip(&idx[..n]) {
                    *a += leaves[i - shape.internal];
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::AxisForest;
    use std::arch::x86_64::*;

    /// Rows per vector.
    const W: usize = 8;
    /// Vectors in flight: enough independent gathers to hide their latency.
    const V: usize = 8;
    /// Rows per group.
    const L: usize = W * V;

    /// Whether the kernel can run: the CPU has the instructions and the transposed group
    /// buffer is addressable with 32-bit gather indices.
    pub(super) fn usable(d: usize) -> bool {
        d.checked_mul(L).is_some_and(|n| n <= i32::MAX as usize)
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx2")
    }

    /// [`AxisForest::path_sums`] with eight-lane gathers, [`L`] rows at a time. The rows
    /// of a group are transposed (`buf[feature * L + lane]`) so that one gather reads
    /// each lane's split feature; a short last group repeats its first row in the unused
    /// lanes, whose sums are dropped.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F, AVX-512VL and AVX2 ([`usable`]), and `forest` must
    /// satisfy the checks of [`super::super::validate`]: `nodes.len() == n_trees *
    /// internal`, `leaves.len() == n_trees * leaves`, every feature below `d`, and
    /// `d * L` must fit in `i32`. `rows` holds `acc.len()` rows of `d` values.
    #[target_feature(enable = "avx512f,avx512vl,avx2")]
    pub(super) unsafe fn path_sums(forest: &AxisForest<'_>, rows: &[f64], acc: &mut [f64]) {
        // SAFETY: every gather index stays inside its array (see the function doc): node
        // indices below `internal` for `depth` steps from the root, leaf indices below
        // `leaves`, and `feature * L + lane < d * L`.
        unsafe {
            let (d, shape) = (forest.d, forest.shape);
            let internal = shape.internal as i32;
            let mut buf = vec![0.0f64; L * d];
            let lanes: [__m256i; V] = std::array::from_fn(|v| {
                _mm256_add_epi32(
                    _mm256_set1_epi32((v * W) as i32),
                    _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                )
            });
            let one = _mm256_set1_epi32(1);
            let shift = _mm_cvtsi32_si128(L.trailing_zeros() as i32);
            for (group, a) in rows.chunks(L * d).zip(acc.chunks_mut(L)) {
                let n = a.len();
                for f in 0..d {
                    for j in 0..L {
                        buf[f * L + j] = group[if j < n { j } else { 0 } * d + f];
                    }
                }
                let mut sums = [_mm512_setzero_pd(); V];
                for t in 0..forest.n_trees {
                    let nodes = forest.nodes[t * shape.internal..].as_ptr();
                    let thresholds = nodes.cast::<f64>();
                    // The feature of node i is the 32-bit word at byte 16 i + 8.
                    let features = nodes.cast::<u8>().add(8).cast::<i32>();
                    let leaves = forest.leaves[t * shape.leaves..].as_ptr();
                    let tree = &forest.nodes[t * shape.internal..(t + 1) * shape.internal];
                    // The first two levels have one and two nodes: every lane reads the
                    // same split, so its values are eight contiguous lanes of the
                    // transposed group, loaded without gathers.
                    let column = |node: usize, v: usize| {
                        _mm512_loadu_pd(buf.as_ptr().add(tree[node].feature as usize * L + v * W))
                    };
                    let mut idx = [_mm256_setzero_si256(); V];
                    let root = _mm512_set1_pd(tree[0].threshold);
                    for (v, i) in idx.iter_mut().enumerate() {
                        let right = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(column(0, v), root);
                        *i = _mm256_mask_add_epi32(one, right, one, one);
                    }
                    if shape.depth >= 2 {
                        let (t1, t2) =
                            (_mm512_set1_pd(tree[1].threshold), _mm512_set1_pd(tree[2].threshold));
                        for (v, i) in idx.iter_mut().enumerate() {
                            let at_two = _mm256_cmpeq_epi32_mask(*i, _mm256_set1_epi32(2));
                            let value = _mm512_mask_blend_pd(at_two, column(1, v), column(2, v));
                            let threshold = _mm512_mask_blend_pd(at_two, t1, t2);
                            let right = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(value, threshold);
                            let left = _mm256_add_epi32(_mm256_add_epi32(*i, *i), one);
                            *i = _mm256_mask_add_epi32(left, right, left, one);
                        }
                    }
                    for _ in 2.min(shape.depth)..shape.depth {
                        for v in 0..V {
                            let i = idx[v];
                            let threshold =
                                _mm512_i32gather_pd::<8>(_mm256_add_epi32(i, i), thresholds);
                            let feature =
                                _mm256_i32gather_epi32::<4>(features, _mm256_slli_epi32::<2>(i));
                            let at = _mm256_add_epi32(_mm256_sll_epi32(feature, shift), lanes[v]);
                            let value = _mm512_i32gather_pd::<8>(at, buf.as_ptr());
                            let right = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(value, threshold);
                            let left = _mm256_add_epi32(_mm256_add_epi32(i, i), one);
                            idx[v] = _mm256_mask_add_epi32(left, right, left, one);
                        }
                    }
                    for v in 0..V {
                        let leaf = _mm256_sub_epi32(idx[v], _mm256_set1_epi32(internal));
                        sums[v] = _mm512_add_pd(sums[v], _mm512_i32gather_pd::<8>(leaf, leaves));
                    }
                }
                let mut out = [0.0f64; L];
                for v in 0..V {
                    _mm512_storeu_pd(out[v * W..].as_mut_ptr(), sums[v]);
                }
                for (a, s) in a.iter_mut().zip(out) {
                    *a += s;
                }
            }
        }
    }
}
