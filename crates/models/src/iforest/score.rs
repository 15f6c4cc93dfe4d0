//! Scoring kernels: path lengths of blocks of rows through the flat trees.
//!
//! An axis-parallel forest is scored through an [`AxisLayout`] derived from its nodes when
//! it is first used (the model file does not store it): only the features some split uses
//! are kept, numbered densely, and each group of [`GROUP`] rows is copied into a
//! feature-major buffer of `f32` values (`buf[slot * GROUP + lane]`), which for the few
//! features a forest uses stays in the first-level cache.
//!
//! Every kernel walks the trees one after the other over a group of rows, with all the
//! rows of the group in flight at once so their memory loads overlap, and adds each tree's
//! leaf value to the row's sum in tree order. The sums are therefore bit-identical
//! whichever kernel runs: on x86-64 the group is walked sixteen rows per vector with
//! AVX-512, else eight with AVX2, elsewhere by the portable kernel.

use super::build::{Shape, to_f32};
use serde::{Deserialize, Serialize};

/// An axis-parallel split: `to_f32(value) >= threshold` goes right (see
/// [`super::build::to_f32`]). Pass-through nodes below an early leaf have threshold `+inf`,
/// which no rounded value reaches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[repr(C)]
pub(super) struct AxisNode {
    pub(super) threshold: f32,
    pub(super) feature: u32,
}

/// Rows per group: the feature-major buffer holds this many rows of every used feature.
const GROUP: usize = 128;
/// Rows walked together by the portable kernel.
const LANES: usize = 8;
/// Blocks with fewer rows go to the portable kernel, which walks only the lanes it needs.
#[cfg(target_arch = "x86_64")]
const MIN_VECTOR_ROWS: usize = 16;

/// The scoring form of an axis-parallel forest.
#[derive(Debug, Clone)]
pub(super) struct AxisLayout {
    /// The original index of each feature some split uses, ascending; never empty.
    used: Vec<u32>,
    /// Tree `t`'s thresholds at `t * stride..`, in heap order, then padding.
    thresholds: Vec<f32>,
    /// The slot (index into `used`) of each threshold's feature; `0` for padding and
    /// pass-through nodes.
    slots: Vec<u32>,
    /// Entries per tree: the internal nodes, at least 32 so that a 16-wide load at the
    /// start of levels 2 to 4 stays inside the tree.
    stride: usize,
}

impl AxisLayout {
    /// The layout of `n_trees` trees of `shape`, from a forest whose nodes passed
    /// [`super::validate::check`] (every feature below `d`).
    pub(super) fn new(nodes: &[AxisNode], n_trees: usize, shape: Shape, d: usize) -> Self {
        let mut slot_of = vec![u32::MAX; d];
        for n in nodes.iter().filter(|n| n.threshold != f32::INFINITY) {
            slot_of[n.feature as usize] = 0;
        }
        let mut used = Vec::new();
        for (f, slot) in slot_of.iter_mut().enumerate() {
            if *slot == 0 {
                *slot = used.len() as u32;
                used.push(f as u32);
            }
        }
        if used.is_empty() {
            used.push(0);
        }
        let stride = shape.internal.max(32);
        let mut thresholds = vec![f32::INFINITY; n_trees * stride];
        let mut slots = vec![0; n_trees * stride];
        for t in 0..n_trees {
            let tree = &nodes[t * shape.internal..(t + 1) * shape.internal];
            for (i, n) in tree.iter().enumerate() {
                thresholds[t * stride + i] = n.threshold;
                if n.threshold != f32::INFINITY {
                    slots[t * stride + i] = slot_of[n.feature as usize];
                }
            }
        }
        Self { used, thresholds, slots, stride }
    }

    /// Features the forest splits on.
    pub(super) fn used(&self) -> usize {
        self.used.len()
    }

    /// Copies the rows of `group` (`n <= GROUP` rows of `d` values) into `buf`,
    /// feature-major and rounded to `f32`, a missing or infinite value replaced by the
    /// feature's training median (`medians`); lanes past `n` repeat the first row. Only
    /// the features the forest uses are read.
    fn transpose(&self, group: &[f64], d: usize, medians: &[f64], buf: &mut [f32]) {
        // Row after row, so each row's cache lines are read once.
        for (j, row) in group.chunks_exact(d).enumerate() {
            for (s, &f) in self.used.iter().enumerate() {
                let x = row[f as usize];
                buf[s * GROUP + j] = to_f32(if x.is_finite() { x } else { medians[f as usize] });
            }
        }
        let n = group.len() / d;
        for s in 0..self.used.len() {
            let first = buf[s * GROUP];
            buf[s * GROUP + n..(s + 1) * GROUP].fill(first);
        }
    }
}

/// An axis-parallel forest's arrays: `layout` derived from its nodes, `leaves` holding
/// `n_trees * shape.leaves` path lengths, `medians` one value per feature.
#[derive(Clone, Copy)]
pub(super) struct AxisForest<'a> {
    pub(super) layout: &'a AxisLayout,
    pub(super) medians: &'a [f64],
    pub(super) leaves: &'a [f64],
    pub(super) n_trees: usize,
    pub(super) shape: Shape,
    pub(super) d: usize,
}

impl AxisForest<'_> {
    /// Adds each row's path length summed over all trees to `acc`; `rows` holds
    /// `acc.len()` rows of `d` values, whose missing values count as the medians.
    ///
    /// # Safety
    ///
    /// `layout` must come from [`AxisLayout::new`] on this forest's nodes, and the forest
    /// must have passed [`super::validate::check`]: the vector kernel reads the arrays
    /// without bounds checks.
    pub(super) unsafe fn path_sums(&self, rows: &[f64], acc: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if acc.len() >= MIN_VECTOR_ROWS {
            if avx512::usable(self.d) {
                // SAFETY: `usable` checked the CPU features, and the caller the forest.
                unsafe { avx512::path_sums(self, rows, acc) };
                return;
            }
            if avx2::usable(self.d) {
                // SAFETY: as above.
                unsafe { avx2::path_sums(self, rows, acc) };
                return;
            }
        }
        self.path_sums_portable(rows, acc);
    }

    /// The portable kernel, [`LANES`] rows at a time.
    pub(super) fn path_sums_portable(&self, rows: &[f64], acc: &mut [f64]) {
        let (d, shape, layout) = (self.d, self.shape, self.layout);
        let mut buf = vec![0.0f32; GROUP * layout.used()];
        for (group, a) in rows.chunks(GROUP * d).zip(acc.chunks_mut(GROUP)) {
            layout.transpose(group, d, self.medians, &mut buf);
            for t in 0..self.n_trees {
                let thresholds = &layout.thresholds[t * layout.stride..(t + 1) * layout.stride];
                let slots = &layout.slots[t * layout.stride..(t + 1) * layout.stride];
                let leaves = &self.leaves[t * shape.leaves..(t + 1) * shape.leaves];
                for (start, a) in (0..a.len()).step_by(LANES).zip(a.chunks_mut(LANES)) {
                    let mut idx = [0usize; LANES];
                    for _ in 0..shape.depth {
                        for (j, i) in idx.iter_mut().enumerate() {
                            let v = buf[slots[*i] as usize * GROUP + start + j];
                            *i = 2 * *i + 1 + (v >= thresholds[*i]) as usize;
                        }
                    }
                    for (a, &i) in a.iter_mut().zip(&idx) {
                        *a += leaves[i - shape.internal];
                    }
                }
            }
        }
    }
}

/// Hyperplanes store their terms in blocks of this many (see [`hyper_dot`]).
pub(super) const TERM_BLOCK: usize = 8;

/// The projection of `row` on a hyperplane of `features.len()` terms (a multiple of
/// [`TERM_BLOCK`]): term `j` goes to partial sum `j % 8`, in order, and the eight partial
/// sums are added pairwise, `((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))`. Every
/// kernel sums in this order, with a rounding after each product and each sum, so every
/// kernel takes the same decision.
#[inline]
pub(super) fn hyper_dot(features: &[u32], coefs: &[f64], row: &[f64]) -> f64 {
    let mut s = [0.0f64; TERM_BLOCK];
    for (f, c) in features.chunks_exact(TERM_BLOCK).zip(coefs.chunks_exact(TERM_BLOCK)) {
        for l in 0..TERM_BLOCK {
            s[l] += c[l] * row[f[l] as usize];
        }
    }
    let q = [s[0] + s[4], s[1] + s[5], s[2] + s[6], s[3] + s[7]];
    let h = [q[0] + q[2], q[1] + q[3]];
    h[0] + h[1]
}

/// A hyperplane forest: node `i` of the forest uses `features[i * k..(i + 1) * k]` with
/// `coefs` alike (`k` a multiple of [`TERM_BLOCK`]); `thresholds` holds
/// `n_trees * shape.internal` values, `leaves` `n_trees * shape.leaves`.
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
    /// Whether `row` goes right at forest node `node`.
    pub(super) fn goes_right(&self, node: usize, row: &[f64]) -> bool {
        let terms = node * self.k..(node + 1) * self.k;
        hyper_dot(&self.features[terms.clone()], &self.coefs[terms], row) >= self.thresholds[node]
    }

    /// Like [`AxisForest::path_sums`], for finite rows.
    ///
    /// # Safety
    ///
    /// The forest must have passed [`super::validate::check`]: the vector kernel reads
    /// its arrays without bounds checks.
    pub(super) unsafe fn path_sums(&self, rows: &[f64], acc: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if avx512::usable(0) {
            // SAFETY: `usable` checked the CPU features, and the caller the forest.
            unsafe { avx512::hyper_path_sums(self, rows, acc) };
            return;
        }
        self.path_sums_portable(rows, acc);
    }

    /// The portable kernel, [`LANES`] rows at a time.
    pub(super) fn path_sums_portable(&self, rows: &[f64], acc: &mut [f64]) {
        let (d, shape) = (self.d, self.shape);
        for t in 0..self.n_trees {
            let first = t * shape.internal;
            let leaves = &self.leaves[t * shape.leaves..(t + 1) * shape.leaves];
            for (group, a) in rows.chunks(LANES * d).zip(acc.chunks_mut(LANES)) {
                let mut idx = [0usize; LANES];
                for _ in 0..shape.depth {
                    for (i, row) in idx.iter_mut().zip(group.chunks_exact(d)) {
                        *i = 2 * *i + 1 + self.goes_right(first + *i, row) as usize;
                    }
                }
                for (a, &i) in a.iter_mut().zip(&idx) {
                    *a += leaves[i - shape.internal];
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use super::{AxisForest, AxisLayout, GROUP};
    use std::arch::x86_64::*;

    /// Rows per vector.
    const W: usize = 8;
    /// Vectors per group.
    const V: usize = GROUP / W;
    /// `log2(GROUP)`: a slot times `GROUP` is a shift.
    const SHIFT: i32 = GROUP.trailing_zeros() as i32;

    /// Whether the kernel can run: the CPU has AVX2, and a group of rows of `d` features
    /// and its buffer are addressable with 32-bit gather indices.
    pub(in super::super) fn usable(d: usize) -> bool {
        d.checked_mul(GROUP).is_some_and(|n| n <= i32::MAX as usize)
            && is_x86_feature_detected!("avx2")
    }

    /// [`AxisForest::path_sums`] eight rows per vector, [`GROUP`] rows at a time, for CPUs
    /// without AVX-512: the walk of [`super::avx512::path_sums`] with levels 2 to 4 taken
    /// from registers by permutes and deeper ones gathered.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2 ([`usable`]); otherwise as
    /// [`super::avx512::path_sums`].
    #[target_feature(enable = "avx2")]
    pub(in super::super) unsafe fn path_sums(
        forest: &AxisForest<'_>,
        rows: &[f64],
        acc: &mut [f64],
    ) {
        // SAFETY: as in `avx512::path_sums`; plain loads of levels 2 to 4 read 8 entries
        // from index 3, 7, 15 or 23, inside the stride of at least 32.
        unsafe {
            let (d, shape, layout) = (forest.d, forest.shape, forest.layout);
            let mut buf = vec![0.0f32; GROUP * layout.used()];
            let lanes: [__m256i; V] = std::array::from_fn(|v| {
                _mm256_add_epi32(
                    _mm256_set1_epi32((v * W) as i32),
                    _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                )
            });
            let one = _mm256_set1_epi32(1);
            let two = _mm256_set1_epi32(2);
            let internal = _mm256_set1_epi32(shape.internal as i32);
            for (group, a) in rows.chunks(GROUP * d).zip(acc.chunks_mut(GROUP)) {
                transpose(layout, group, d, forest.medians, &mut buf);
                let values = buf.as_ptr();
                let column = |slot: u32, v: usize| {
                    _mm256_loadu_ps(values.add(((slot as usize) << SHIFT) + v * W))
                };
                let gather_value = |slot: __m256i, v: usize| {
                    let at = _mm256_add_epi32(_mm256_slli_epi32::<SHIFT>(slot), lanes[v]);
                    _mm256_i32gather_ps::<4>(values, at)
                };
                let mut sums = [_mm256_setzero_pd(); 2 * V];
                for t in 0..forest.n_trees {
                    let thresholds = layout.thresholds.as_ptr().add(t * layout.stride);
                    let slots = layout.slots.as_ptr().add(t * layout.stride);
                    let leaves = forest.leaves.as_ptr().add(t * shape.leaves);
                    let mut idx = [_mm256_setzero_si256(); V];
                    let root = _mm256_set1_ps(*thresholds);
                    for (v, i) in idx.iter_mut().enumerate() {
                        step(i, column(*slots, v), root, one);
                    }
                    for level in 1..shape.depth {
                        let base = (1i32 << level) - 1;
                        let first = base as usize;
                        let tv = |k: usize| _mm256_loadu_ps(thresholds.add(first + 8 * k));
                        let sv = |k: usize| _mm256_loadu_si256(slots.add(first + 8 * k).cast());
                        let offset = _mm256_set1_epi32(base);
                        match level {
                            1 => {
                                let (t1, t2) = (
                                    _mm256_set1_ps(*thresholds.add(1)),
                                    _mm256_set1_ps(*thresholds.add(2)),
                                );
                                let (s1, s2) = (*slots.add(1), *slots.add(2));
                                for (v, i) in idx.iter_mut().enumerate() {
                                    let at_two = _mm256_castsi256_ps(_mm256_cmpeq_epi32(*i, two));
                                    let value =
                                        _mm256_blendv_ps(column(s1, v), column(s2, v), at_two);
                                    step(i, value, _mm256_blendv_ps(t1, t2, at_two), one);
                                }
                            }
                            2 | 3 => {
                                let (tv, sv) = (tv(0), sv(0));
                                for (v, i) in idx.iter_mut().enumerate() {
                                    let rel = _mm256_sub_epi32(*i, offset);
                                    let threshold = _mm256_permutevar8x32_ps(tv, rel);
                                    let slot = _mm256_permutevar8x32_epi32(sv, rel);
                                    step(i, gather_value(slot, v), threshold, one);
                                }
                            }
                            4 => {
                                let (ta, tb, sa, sb) = (tv(0), tv(1), sv(0), sv(1));
                                for (v, i) in idx.iter_mut().enumerate() {
                                    let rel = _mm256_sub_epi32(*i, offset);
                                    // Bit 3 of `rel` in the sign bit picks the second half.
                                    let high = _mm256_castsi256_ps(_mm256_slli_epi32::<28>(rel));
                                    let threshold = _mm256_blendv_ps(
                                        _mm256_permutevar8x32_ps(ta, rel),
                                        _mm256_permutevar8x32_ps(tb, rel),
                                        high,
                                    );
                                    let slot = _mm256_castps_si256(_mm256_blendv_ps(
                                        _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(sa, rel)),
                                        _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(sb, rel)),
                                        high,
                                    ));
                                    step(i, gather_value(slot, v), threshold, one);
                                }
                            }
                            _ => {
                                for (v, i) in idx.iter_mut().enumerate() {
                                    let threshold = _mm256_i32gather_ps::<4>(thresholds, *i);
                                    let slot = _mm256_i32gather_epi32::<4>(slots.cast(), *i);
                                    step(i, gather_value(slot, v), threshold, one);
                                }
                            }
                        }
                    }
                    for (v, &i) in idx.iter().enumerate() {
                        let leaf = _mm256_sub_epi32(i, internal);
                        let (low, high) =
                            (_mm256_castsi256_si128(leaf), _mm256_extracti128_si256::<1>(leaf));
                        sums[2 * v] =
                            _mm256_add_pd(sums[2 * v], _mm256_i32gather_pd::<8>(leaves, low));
                        sums[2 * v + 1] =
                            _mm256_add_pd(sums[2 * v + 1], _mm256_i32gather_pd::<8>(leaves, high));
                    }
                }
                let mut out = [0.0f64; GROUP];
                for (v, s) in sums.iter().enumerate() {
                    _mm256_storeu_pd(out[v * 4..].as_mut_ptr(), *s);
                }
                for (a, s) in a.iter_mut().zip(out) {
                    *a += s;
                }
            }
        }
    }

    /// [`AxisLayout::transpose`], four rows of a feature per gather, with the same values
    /// (see `avx512::transpose`).
    ///
    /// # Safety
    ///
    /// As [`path_sums`]: `group` holds at most [`GROUP`] rows of `d` values, `d * GROUP`
    /// fits in `i32`, `medians` has `d` values, `buf` `GROUP * used` values.
    #[target_feature(enable = "avx2")]
    unsafe fn transpose(
        layout: &AxisLayout,
        group: &[f64],
        d: usize,
        medians: &[f64],
        buf: &mut [f32],
    ) {
        // SAFETY: see the function doc; every offset is a row start inside `group` plus a
        // used feature below `d`, every store inside a column of `buf`.
        unsafe {
            let n = group.len() / d;
            let mut rows = [0i32; GROUP];
            for (j, r) in rows[..n].iter_mut().enumerate() {
                *r = (j * d) as i32;
            }
            let (lo, hi) = (_mm_set1_ps(f32::MIN), _mm_set1_ps(f32::MAX));
            for (s, &f) in layout.used.iter().enumerate() {
                let f = f as usize;
                let median = _mm256_set1_pd(*medians.get_unchecked(f));
                let column = group.as_ptr().add(f);
                let out = buf.as_mut_ptr().add(s * GROUP);
                for b in (0..GROUP).step_by(4) {
                    let at = _mm_loadu_si128(rows.as_ptr().add(b).cast());
                    let v = _mm256_i32gather_pd::<8>(column, at);
                    let finite =
                        _mm256_cmp_pd::<_CMP_EQ_OQ>(_mm256_sub_pd(v, v), _mm256_setzero_pd());
                    let x = _mm256_cvtpd_ps(_mm256_blendv_pd(median, v, finite));
                    _mm_storeu_ps(out.add(b), _mm_min_ps(hi, _mm_max_ps(lo, x)));
                }
            }
        }
    }

    /// One level down: `2i + 1`, plus one where the value reaches the threshold (the
    /// comparison's all-ones lanes are -1).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn step(i: &mut __m256i, value: __m256, threshold: __m256, one: __m256i) {
        let right = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(value, threshold));
        *i = _mm256_sub_epi32(_mm256_add_epi32(_mm256_add_epi32(*i, *i), one), right);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{AxisForest, AxisLayout, GROUP, HyperForest, LANES, TERM_BLOCK};
    use std::arch::x86_64::*;

    /// Rows per vector.
    const W: usize = 16;
    /// Vectors in flight: enough independent gathers to hide their latency.
    const V: usize = GROUP / W;
    /// `log2(GROUP)`: a slot times `GROUP` is a shift.
    const SHIFT: u32 = GROUP.trailing_zeros();

    /// Whether the kernel can run: the CPU has the instructions, and a group of rows of `d`
    /// features and its buffer are addressable with 32-bit gather indices.
    pub(super) fn usable(d: usize) -> bool {
        d.checked_mul(GROUP).is_some_and(|n| n <= i32::MAX as usize)
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx2")
    }

    /// [`AxisForest::path_sums`] sixteen rows per vector, [`GROUP`] rows at a time.
    ///
    /// Levels 0 and 1 have one and two nodes: every lane compares with a broadcast
    /// threshold and reads its value with a plain load of the buffer. Levels 2 to 7 (4 to
    /// 128 nodes) are loaded into registers once per tree, and each lane picks its node's
    /// threshold and slot with a permute; deeper levels gather them. Only the values of
    /// the rows (one gather per level) and the leaf path lengths are gathered on every
    /// level.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F, AVX-512VL and AVX2 ([`usable`]); `forest.layout`
    /// must be the layout of a forest that passed [`super::super::validate`], so that
    /// node indices stay below `shape.internal <= stride` for `depth` steps from the root,
    /// leaf indices below `shape.leaves`, and slots below `used`. `rows` holds `acc.len()`
    /// rows of `d` values.
    #[target_feature(enable = "avx512f,avx512vl,avx2")]
    pub(super) unsafe fn path_sums(forest: &AxisForest<'_>, rows: &[f64], acc: &mut [f64]) {
        // SAFETY: every load and gather stays inside its array (see the function doc):
        // plain loads of levels 2 to 4 read 16 entries from index 3, 7 or 15, inside the
        // stride of at least 32; levels 5 to 7 exist only when the stride holds them.
        unsafe {
            let (d, shape, layout) = (forest.d, forest.shape, forest.layout);
            let mut buf = vec![0.0f32; GROUP * layout.used()];
            let lanes: [__m512i; V] = std::array::from_fn(|v| {
                _mm512_add_epi32(
                    _mm512_set1_epi32((v * W) as i32),
                    _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                )
            });
            let one = _mm512_set1_epi32(1);
            let internal = _mm512_set1_epi32(shape.internal as i32);
            for (group, a) in rows.chunks(GROUP * d).zip(acc.chunks_mut(GROUP)) {
                transpose(layout, group, d, forest.medians, &mut buf);
                let values = buf.as_ptr();
                let column = |slot: u32, v: usize| {
                    _mm512_loadu_ps(values.add(((slot as usize) << SHIFT) + v * W))
                };
                let mut sums = [_mm512_setzero_pd(); 2 * V];
                for t in 0..forest.n_trees {
                    let thresholds = layout.thresholds.as_ptr().add(t * layout.stride);
                    let slots = layout.slots.as_ptr().add(t * layout.stride);
                    let leaves = forest.leaves.as_ptr().add(t * shape.leaves);
                    let mut idx = [_mm512_setzero_si512(); V];
                    let root = _mm512_set1_ps(*thresholds);
                    for (v, i) in idx.iter_mut().enumerate() {
                        let right = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(column(*slots, v), root);
                        *i = _mm512_mask_add_epi32(one, right, one, one);
                    }
                    for level in 1..shape.depth {
                        let base = (1i32 << level) - 1;
                        let first = base as usize;
                        if level == 1 {
                            let (t1, t2) = (
                                _mm512_set1_ps(*thresholds.add(1)),
                                _mm512_set1_ps(*thresholds.add(2)),
                            );
                            let (s1, s2) = (*slots.add(1), *slots.add(2));
                            for (v, i) in idx.iter_mut().enumerate() {
                                let at_two = _mm512_cmpeq_epi32_mask(*i, _mm512_set1_epi32(2));
                                let value =
                                    _mm512_mask_blend_ps(at_two, column(s1, v), column(s2, v));
                                let threshold = _mm512_mask_blend_ps(at_two, t1, t2);
                                step(i, value, threshold, one);
                            }
                            continue;
                        }
                        let tv = |k: usize| _mm512_loadu_ps(thresholds.add(first + 16 * k));
                        let sv = |k: usize| _mm512_loadu_si512(slots.add(first + 16 * k).cast());
                        let offset = _mm512_set1_epi32(base);
                        match level {
                            2..=4 => {
                                let (tv, sv) = (tv(0), sv(0));
                                for (v, i) in idx.iter_mut().enumerate() {
                                    let rel = _mm512_sub_epi32(*i, offset);
                                    let threshold = _mm512_permutexvar_ps(rel, tv);
                                    let slot = _mm512_permutexvar_epi32(rel, sv);
                                    let value = gather_value(slot, lanes[v], values);
                                    step(i, value, threshold, one);
                                }
                            }
                            5 => {
                                let (ta, tb, sa, sb) = (tv(0), tv(1), sv(0), sv(1));
                                for (v, i) in idx.iter_mut().enumerate() {
                                    let rel = _mm512_sub_epi32(*i, offset);
                                    let threshold = _mm512_permutex2var_ps(ta, rel, tb);
                                    let slot = _mm512_permutex2var_epi32(sa, rel, sb);
                                    let value = gather_value(slot, lanes[v], values);
                                    step(i, value, threshold, one);
                                }
                            }
                            6 => {
                                let (ta, tb, tc, td) = (tv(0), tv(1), tv(2), tv(3));
                                let (sa, sb, sc, sd) = (sv(0), sv(1), sv(2), sv(3));
                                let upper = _mm512_set1_epi32(32);
                                for (v, i) in idx.iter_mut().enumerate() {
                                    let rel = _mm512_sub_epi32(*i, offset);
                                    let high = _mm512_test_epi32_mask(rel, upper);
                                    let threshold = _mm512_mask_blend_ps(
                                        high,
                                        _mm512_permutex2var_ps(ta, rel, tb),
                                        _mm512_permutex2var_ps(tc, rel, td),
                                    );
                                    let slot = _mm512_mask_blend_epi32(
                                        high,
                                        _mm512_permutex2var_epi32(sa, rel, sb),
                                        _mm512_permutex2var_epi32(sc, rel, sd),
                                    );
                                    let value = gather_value(slot, lanes[v], values);
                                    step(i, value, threshold, one);
                                }
                            }
                            7 => {
                                let t: [__m512; 8] = std::array::from_fn(tv);
                                let s: [__m512i; 8] = std::array::from_fn(sv);
                                let (b5, b6) = (_mm512_set1_epi32(32), _mm512_set1_epi32(64));
                                for (v, i) in idx.iter_mut().enumerate() {
                                    let rel = _mm512_sub_epi32(*i, offset);
                                    let (m5, m6) = (
                                        _mm512_test_epi32_mask(rel, b5),
                                        _mm512_test_epi32_mask(rel, b6),
                                    );
                                    let pick_t =
                                        |a: usize| _mm512_permutex2var_ps(t[a], rel, t[a + 1]);
                                    let pick_s =
                                        |a: usize| _mm512_permutex2var_epi32(s[a], rel, s[a + 1]);
                                    let threshold = _mm512_mask_blend_ps(
                                        m6,
                                        _mm512_mask_blend_ps(m5, pick_t(0), pick_t(2)),
                                        _mm512_mask_blend_ps(m5, pick_t(4), pick_t(6)),
                                    );
                                    let slot = _mm512_mask_blend_epi32(
                                        m6,
                                        _mm512_mask_blend_epi32(m5, pick_s(0), pick_s(2)),
                                        _mm512_mask_blend_epi32(m5, pick_s(4), pick_s(6)),
                                    );
                                    let value = gather_value(slot, lanes[v], values);
                                    step(i, value, threshold, one);
                                }
                            }
                            _ => {
                                for (v, i) in idx.iter_mut().enumerate() {
                                    let threshold = _mm512_i32gather_ps::<4>(*i, thresholds);
                                    let slot = _mm512_i32gather_epi32::<4>(*i, slots.cast());
                                    let value = gather_value(slot, lanes[v], values);
                                    step(i, value, threshold, one);
                                }
                            }
                        }
                    }
                    for (v, &i) in idx.iter().enumerate() {
                        let leaf = _mm512_sub_epi32(i, internal);
                        let (low, high) =
                            (_mm512_castsi512_si256(leaf), _mm512_extracti64x4_epi64::<1>(leaf));
                        sums[2 * v] =
                            _mm512_add_pd(sums[2 * v], _mm512_i32gather_pd::<8>(low, leaves));
                        sums[2 * v + 1] =
                            _mm512_add_pd(sums[2 * v + 1], _mm512_i32gather_pd::<8>(high, leaves));
                    }
                }
                let mut out = [0.0f64; GROUP];
                for (v, s) in sums.iter().enumerate() {
                    _mm512_storeu_pd(out[v * 8..].as_mut_ptr(), *s);
                }
                for (a, s) in a.iter_mut().zip(out) {
                    *a += s;
                }
            }
        }
    }

    /// [`HyperForest::path_sums`]: each row's projection is eight lanes of products and
    /// the reduction of [`super::hyper_dot`]; [`LANES`] rows are walked together so their
    /// gathers overlap.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F, AVX-512VL and AVX2 ([`usable`]), and `forest` must
    /// satisfy the checks of [`super::super::validate`]: `k` a multiple of 8, `thresholds`,
    /// `features`, `coefs` and `leaves` of the lengths of the struct doc, every feature
    /// below `d`. `rows` holds `acc.len()` rows of `d` values.
    #[target_feature(enable = "avx512f,avx512vl,avx2")]
    pub(super) unsafe fn hyper_path_sums(forest: &HyperForest<'_>, rows: &[f64], acc: &mut [f64]) {
        const _: () = assert!(TERM_BLOCK == 8);
        // SAFETY: node indices stay below `shape.internal` for `depth` steps from the root
        // and leaf indices below `shape.leaves`; a node's terms are `k` entries from
        // `node * k`; features index inside a row.
        unsafe {
            let (d, k, shape) = (forest.d, forest.k, forest.shape);
            let (features, coefs) = (forest.features.as_ptr(), forest.coefs.as_ptr());
            for t in 0..forest.n_trees {
                let first = t * shape.internal;
                let leaves = forest.leaves.as_ptr().add(t * shape.leaves);
                for (group, a) in rows.chunks(LANES * d).zip(acc.chunks_mut(LANES)) {
                    let n = a.len();
                    let mut idx = [0usize; LANES];
                    for _ in 0..shape.depth {
                        for (j, i) in idx[..n].iter_mut().enumerate() {
                            let row = group.as_ptr().add(j * d);
                            let node = first + *i;
                            let mut sum = _mm512_setzero_pd();
                            for c in (node * k..(node + 1) * k).step_by(TERM_BLOCK) {
                                let f = _mm256_loadu_si256(features.add(c).cast());
                                let v = _mm512_i32gather_pd::<8>(f, row);
                                sum = _mm512_add_pd(
                                    sum,
                                    _mm512_mul_pd(_mm512_loadu_pd(coefs.add(c)), v),
                                );
                            }
                            let q = _mm256_add_pd(
                                _mm512_castpd512_pd256(sum),
                                _mm512_extractf64x4_pd::<1>(sum),
                            );
                            let h = _mm_add_pd(
                                _mm256_castpd256_pd128(q),
                                _mm256_extractf128_pd::<1>(q),
                            );
                            let dot = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
                            *i = 2 * *i
                                + 1
                                + (dot >= *forest.thresholds.get_unchecked(node)) as usize;
                        }
                    }
                    for (a, &i) in a.iter_mut().zip(&idx) {
                        *a += *leaves.add(i - shape.internal);
                    }
                }
            }
        }
    }

    /// [`AxisLayout::transpose`], eight rows of a feature per gather: the same values, as
    /// `x - x == 0` exactly when `x` is finite, the conversion rounds to nearest as `as
    /// f32` does, and the clamp lets a NaN through as `f32::clamp` does.
    ///
    /// # Safety
    ///
    /// As [`path_sums`]: `group` holds at most [`GROUP`] rows of `d` values, `d * GROUP`
    /// fits in `i32`, `medians` has `d` values, `buf` `GROUP * used` values.
    #[target_feature(enable = "avx512f,avx512vl,avx2")]
    unsafe fn transpose(
        layout: &AxisLayout,
        group: &[f64],
        d: usize,
        medians: &[f64],
        buf: &mut [f32],
    ) {
        // SAFETY: see the function doc; every offset is a row start inside `group` plus a
        // used feature below `d`, every store inside a column of `buf`.
        unsafe {
            let n = group.len() / d;
            let mut rows = [0i32; GROUP];
            for (j, r) in rows[..n].iter_mut().enumerate() {
                *r = (j * d) as i32;
            }
            let (lo, hi) = (_mm256_set1_ps(f32::MIN), _mm256_set1_ps(f32::MAX));
            for (s, &f) in layout.used.iter().enumerate() {
                let f = f as usize;
                let median = _mm512_set1_pd(*medians.get_unchecked(f));
                let column = group.as_ptr().add(f);
                let out = buf.as_mut_ptr().add(s * GROUP);
                for b in (0..GROUP).step_by(8) {
                    let at = _mm256_loadu_si256(rows.as_ptr().add(b).cast());
                    let v = _mm512_i32gather_pd::<8>(at, column);
                    let finite =
                        _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(_mm512_sub_pd(v, v), _mm512_setzero_pd());
                    let x = _mm512_cvtpd_ps(_mm512_mask_blend_pd(finite, median, v));
                    _mm256_storeu_ps(out.add(b), _mm256_min_ps(hi, _mm256_max_ps(lo, x)));
                }
            }
        }
    }

    /// Each lane's value of feature `slot` from the group buffer.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn gather_value(slot: __m512i, lanes: __m512i, values: *const f32) -> __m512 {
        // SAFETY: the caller passes slots below `used` and lanes below GROUP.
        unsafe {
            let at = _mm512_add_epi32(_mm512_slli_epi32::<SHIFT>(slot), lanes);
            _mm512_i32gather_ps::<4>(at, values)
        }
    }

    /// One level down: `2i + 1`, plus one where the value reaches the threshold.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn step(i: &mut __m512i, value: __m512, threshold: __m512, one: __m512i) {
        let right = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(value, threshold);
        let left = _mm512_add_epi32(_mm512_add_epi32(*i, *i), one);
        *i = _mm512_mask_add_epi32(left, right, left, one);
    }
}
