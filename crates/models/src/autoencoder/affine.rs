//! `out = act(W · A + b)` for the small, fixed weight matrices of a layer (or of a kernel's
//! landmarks) applied to a feature-major block of rows, the product every scoring pass
//! spends most of its time in.
//!
//! On CPUs with AVX-512 a register-blocked kernel computes it directly: each step loads 32
//! rows of one input feature (two vectors, contiguous in the feature-major layout) and
//! multiplies them into up to 12 outputs, each weight broadcast from memory, so 24 vector
//! FMAs hold the running sums in registers across the whole inner dimension. Unlike a
//! general GEMM it packs neither operand and wastes no work on padding the output count to
//! a multiple of the kernel width, which matters at these sizes (a few dozen to a hundred
//! outputs and inputs). Elsewhere `matrixmultiply` does the product.
//!
//! The activation is applied to each tile's stored sums while they are still in the L1
//! cache, one vector at a time (applied to the sums in registers, its temporaries would
//! spill them). The kernel's `tanh` is `1 - 2 / (1 + e^2x)`, with `e^2x` as `2^y`: a
//! fitted polynomial for the fraction of `y` and AVX-512's `scalef` for the integer part,
//! and a refined reciprocal estimate for the division. The same `2^y` gives the RBF
//! kernel's `exp` ([`rbf_sums`]). The kernels can also fold what follows the product
//! into the tile ([`rbf_sums`], [`sq_errors`]) and prefetch the next rows ([`Prefetch`]).
//!
//! Each output is summed over the inputs in order, the same way for every row whatever its
//! position in the block, so a row's result does not depend on the block it is scored in.

use super::dense::{Operand, gemm, tanh_in_place};
use super::params::Activation;

/// Outputs per AVX-512 register tile: 12 outputs x 2 vectors of rows = 24 accumulators,
/// plus the two row vectors and a broadcast weight, within the 32 vector registers.
const TILE_OUTPUTS: usize = 12;
/// Rows per AVX-512 register tile: two 16-lane vectors.
const TILE_ROWS: usize = 32;

/// Memory that the AVX-512 products bring into the (L2) cache while they compute, a few
/// cache lines per register tile: the rows a scoring loop reads next, which would
/// otherwise come from main memory while the CPU waits. Prefetching reads nothing
/// architecturally, so it changes no result.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Prefetch {
    next: usize,
    end: usize,
    per_tile: usize,
}

impl Prefetch {
    /// Nothing to prefetch.
    pub(crate) fn none() -> Self {
        Self::default()
    }

    /// Prefetches `data` spread over `tiles` register tiles.
    pub(crate) fn new(data: &[f64], tiles: usize) -> Self {
        let next = data.as_ptr() as usize;
        let bytes = std::mem::size_of_val(data);
        Self { next, end: next + bytes, per_tile: bytes.div_ceil(64).div_ceil(tiles.max(1)) }
    }

    /// Register tiles of a product with `outputs` outputs over `rows` rows.
    pub(crate) fn tiles(outputs: usize, rows: usize) -> usize {
        outputs.div_ceil(TILE_OUTPUTS) * rows.div_ceil(TILE_ROWS)
    }

    /// Issues one tile's share.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn issue(&mut self) {
        use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        for _ in 0..self.per_tile {
            if self.next >= self.end {
                return;
            }
            // SAFETY: a prefetch is a hint that neither reads memory architecturally nor
            // faults; the address lies within the slice given to `new`.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(self.next as *const i8) };
            self.next += 64;
        }
    }
}

/// `out[o * rows + i] = act(b[o] + Σ_p w[o * inputs + p] * a[p * rows + i])`: `w` is
/// `outputs x inputs` row-major, `a` is `inputs x rows` and `out` is `outputs x rows`
/// (feature-major blocks of `rows` rows); no activation when `act` is `None`.
///
/// Panics if a buffer is shorter than its shape says (shapes come from the model, never
/// from input data).
pub(crate) fn affine(
    w: &[f32],
    b: &[f32],
    a: &[f32],
    rows: usize,
    out: &mut [f32],
    act: Option<Activation>,
    pf: &mut Prefetch,
) {
    affine_with(w, b, a, rows, out, act, pf, None);
}

/// [`affine`] for inputs that are often exactly zero, as standardized sparse features are.
/// On AVX-512 each register tile of rows first lists the inputs that are nonzero in any
/// of its rows and multiplies only those in. A skipped input would have added `w * 0` to
/// each sum, which leaves it as it is (but for the sign of a zero sum), so the results are
/// [`affine`]'s whatever the other rows of the tile. `cols` is scratch space.
#[allow(clippy::too_many_arguments)] // `affine`'s operands and the scratch
pub(crate) fn affine_skipping_zeros(
    w: &[f32],
    b: &[f32],
    a: &[f32],
    rows: usize,
    out: &mut [f32],
    act: Option<Activation>,
    pf: &mut Prefetch,
    cols: &mut Vec<u32>,
) {
    affine_with(w, b, a, rows, out, act, pf, Some(cols));
}

/// [`affine`], skipping zero inputs when given the scratch for it.
#[allow(clippy::too_many_arguments)] // `affine`'s operands and the scratch
fn affine_with(
    w: &[f32],
    b: &[f32],
    a: &[f32],
    rows: usize,
    out: &mut [f32],
    act: Option<Activation>,
    pf: &mut Prefetch,
    skip_zeros: Option<&mut Vec<u32>>,
) {
    let outputs = b.len();
    let inputs = w.len().checked_div(outputs).unwrap_or(0);
    assert!(
        w.len() == outputs * inputs && a.len() >= inputs * rows && out.len() >= outputs * rows,
        "affine shapes"
    );
    if rows == 0 || outputs == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, and the shapes were checked above.
        unsafe { x86::affine_avx512(w, b, inputs, a, rows, out, act, pf, skip_zeros) };
        return;
    }
    let _ = skip_zeros;
    portable(w, b, inputs, a, rows, out, act);
}

/// [`affine`] through `matrixmultiply`, for CPUs without AVX-512.
fn portable(
    w: &[f32],
    b: &[f32],
    inputs: usize,
    a: &[f32],
    rows: usize,
    out: &mut [f32],
    act: Option<Activation>,
) {
    let outputs = b.len();
    let out = &mut out[..outputs * rows];
    for (unit, &bias) in out.chunks_exact_mut(rows).zip(b) {
        unit.fill(bias);
    }
    let a = &a[..inputs * rows];
    gemm(1.0, Operand::rows(w, outputs, inputs), Operand::rows(a, inputs, rows), 1.0, out);
    match act {
        Some(Activation::Tanh) => tanh_in_place(out),
        Some(Activation::Relu) => out.iter_mut().for_each(|v| *v = v.max(0.0)),
        None => {}
    }
}

/// `sums[i] = Σ_j alpha[j] exp(-gamma max(0, norms[i] + b[j] + Σ_p w[j * inputs + p] *
/// a[p * rows + i]))`, summed over `j` in order, for `rows = sums.len()` (shapes as in
/// [`affine`]): the weighted RBF kernel sums of a block of rows against landmarks, when
/// `w` holds the landmarks times -2, `b` their squared norms and `norms` the rows'.
///
/// Only on CPUs with AVX-512, where the exponentials are taken while the distances are
/// still in registers; returns `false` and does nothing elsewhere (the caller then uses
/// [`affine`] and its own sum). Its `exp` uses fused multiply-adds, so the sums differ
/// from the portable path's in the last bits. Inputs zero in every row of a register tile
/// are skipped, as in [`affine_skipping_zeros`] (`cols` is its scratch).
#[allow(clippy::too_many_arguments)] // the operands of one fused product
pub(crate) fn rbf_sums(
    w: &[f32],
    b: &[f32],
    alpha: &[f32],
    gamma: f32,
    a: &[f32],
    norms: &[f32],
    sums: &mut [f32],
    pf: &mut Prefetch,
    cols: &mut Vec<u32>,
) -> bool {
    let rows = sums.len();
    let outputs = b.len();
    let inputs = w.len().checked_div(outputs).unwrap_or(0);
    assert!(
        w.len() == outputs * inputs
            && alpha.len() == outputs
            && a.len() >= inputs * rows
            && norms.len() >= rows,
        "rbf shapes"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, and the shapes were checked above.
        unsafe { x86::rbf_avx512(w, b, alpha, gamma, inputs, a, norms, sums, pf, cols) };
        return true;
    }
    let _ = (gamma, pf, cols);
    false
}

/// `errors[i] = Σ_o (b[o] + Σ_p w[o * inputs + p] * a[p * rows + i] - target[o * rows + i])²`,
/// summed over the outputs `o` in order, for `rows = errors.len()` (shapes as in [`affine`],
/// `target` like `out`): each row's squared error of a linear layer's output against a
/// target, without storing the output.
///
/// Only on CPUs with AVX-512 (with a fused multiply-add per term); returns `false` and does
/// nothing elsewhere, where the caller uses [`affine`] and its own sum.
pub(crate) fn sq_errors(
    w: &[f32],
    b: &[f32],
    a: &[f32],
    target: &[f32],
    errors: &mut [f32],
    pf: &mut Prefetch,
) -> bool {
    let rows = errors.len();
    let outputs = b.len();
    let inputs = w.len().checked_div(outputs).unwrap_or(0);
    assert!(
        w.len() == outputs * inputs && a.len() >= inputs * rows && target.len() >= outputs * rows,
        "sq_errors shapes"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, and the shapes were checked above.
        unsafe { x86::sq_errors_avx512(w, b, inputs, a, target, errors, pf) };
        return true;
    }
    let _ = pf;
    false
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Activation;
    use std::arch::x86_64::*;

    use super::{Prefetch, TILE_OUTPUTS, TILE_ROWS};

    /// The kernel behind [`super::affine`], with its shape checks already done.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) fn affine_avx512(
        w: &[f32],
        b: &[f32],
        inputs: usize,
        a: &[f32],
        rows: usize,
        out: &mut [f32],
        act: Option<Activation>,
        pf: &mut Prefetch,
        mut skip_zeros: Option<&mut Vec<u32>>,
    ) {
        let outputs = b.len();
        for i0 in (0..rows).step_by(TILE_ROWS) {
            let masks = row_masks(rows, i0);
            let cols = match skip_zeros.as_deref_mut() {
                Some(cols) => {
                    nonzero_inputs(inputs, a.get(i0..).unwrap_or_default(), rows, masks, cols);
                    Some(&cols[..])
                }
                None => None,
            };
            let mut o0 = 0;
            while o0 < outputs {
                let t = Tile::at((w, b, inputs), a, rows, cols, (o0, i0));
                let mut fin = Finish::Store { out: &mut out[o0 * rows + i0..], act };
                pf.issue();
                o0 += t.dispatch(outputs - o0, masks, &mut fin);
            }
        }
    }

    /// The kernel behind [`super::rbf_sums`], with its shape checks already done.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) fn rbf_avx512(
        w: &[f32],
        b: &[f32],
        alpha: &[f32],
        gamma: f32,
        inputs: usize,
        a: &[f32],
        norms: &[f32],
        sums: &mut [f32],
        pf: &mut Prefetch,
        cols: &mut Vec<u32>,
    ) {
        let (outputs, rows) = (b.len(), sums.len());
        for i0 in (0..rows).step_by(TILE_ROWS) {
            let masks = row_masks(rows, i0);
            nonzero_inputs(inputs, a.get(i0..).unwrap_or_default(), rows, masks, cols);
            // SAFETY: rows i0 .. i0 + n are within `norms` and `sums` (checked by the
            // caller); masked-off lanes are not accessed.
            let (n0, n1) = unsafe {
                let p = norms.as_ptr().add(i0);
                (
                    _mm512_maskz_loadu_ps(masks.0, p),
                    _mm512_maskz_loadu_ps(masks.1, p.wrapping_add(16)),
                )
            };
            let mut fin = Finish::Rbf {
                alpha: &[],
                neg_gamma: -gamma,
                norms: (n0, n1),
                sums: (_mm512_setzero_ps(), _mm512_setzero_ps()),
            };
            let mut o0 = 0;
            while o0 < outputs {
                let t = Tile::at((w, b, inputs), a, rows, Some(&cols[..]), (o0, i0));
                if let Finish::Rbf { alpha: al, .. } = &mut fin {
                    *al = &alpha[o0..];
                }
                pf.issue();
                o0 += t.dispatch(outputs - o0, masks, &mut fin);
            }
            if let Finish::Rbf { sums: (s0, s1), .. } = fin {
                // SAFETY: as for the loads above.
                unsafe {
                    let p = sums.as_mut_ptr().add(i0);
                    _mm512_mask_storeu_ps(p, masks.0, s0);
                    _mm512_mask_storeu_ps(p.wrapping_add(16), masks.1, s1);
                }
            }
        }
    }

    /// The kernel behind [`super::sq_errors`], with its shape checks already done.
    #[target_feature(enable = "avx512f")]
    pub(super) fn sq_errors_avx512(
        w: &[f32],
        b: &[f32],
        inputs: usize,
        a: &[f32],
        target: &[f32],
        errors: &mut [f32],
        pf: &mut Prefetch,
    ) {
        let (outputs, rows) = (b.len(), errors.len());
        for i0 in (0..rows).step_by(TILE_ROWS) {
            let masks = row_masks(rows, i0);
            let mut fin =
                Finish::SqErr { target: &[], errors: (_mm512_setzero_ps(), _mm512_setzero_ps()) };
            let mut o0 = 0;
            while o0 < outputs {
                let t = Tile::at((w, b, inputs), a, rows, None, (o0, i0));
                if let Finish::SqErr { target: tg, .. } = &mut fin {
                    *tg = target.get(o0 * rows + i0..).unwrap_or_default();
                }
                pf.issue();
                o0 += t.dispatch(outputs - o0, masks, &mut fin);
            }
            if let Finish::SqErr { errors: (e0, e1), .. } = fin {
                // SAFETY: rows i0 .. i0 + n are within `errors`; masked-off lanes are not
                // accessed.
                unsafe {
                    let p = errors.as_mut_ptr().add(i0);
                    _mm512_mask_storeu_ps(p, masks.0, e0);
                    _mm512_mask_storeu_ps(p.wrapping_add(16), masks.1, e1);
                }
            }
        }
    }

    /// What a tile does with its sums (built once per tile or per row tile, so the size
    /// difference of the variants costs nothing).
    #[allow(clippy::large_enum_variant)]
    enum Finish<'a> {
        /// Applies the activation and stores them (output-major, `rows` apart).
        Store { out: &'a mut [f32], act: Option<Activation> },
        /// Adds `alpha[r] * exp(neg_gamma * max(0, sum + norm))` of output `r` to the
        /// running sums of the tile's two row vectors, outputs in order.
        Rbf { alpha: &'a [f32], neg_gamma: f32, norms: (__m512, __m512), sums: (__m512, __m512) },
        /// Adds `(sum - target[r * rows + lane])²` of output `r` to the running errors of
        /// the tile's two row vectors, outputs in order (`target` starts at the tile).
        SqErr { target: &'a [f32], errors: (__m512, __m512) },
    }

    /// Lists in `cols`, in order, the inputs `p < inputs` with a nonzero (or NaN) value
    /// `a[p * rows + lane]` in a lane the masks select (`a` starts at the tile's first row).
    #[target_feature(enable = "avx512f")]
    fn nonzero_inputs(
        inputs: usize,
        a: &[f32],
        rows: usize,
        (m0, m1): (__mmask16, __mmask16),
        cols: &mut Vec<u32>,
    ) {
        let last_row = if m1 != 0 { 16 + m1.count_ones() } else { m0.count_ones() } as usize;
        assert!(inputs == 0 || a.len() >= (inputs - 1) * rows + last_row, "affine tile");
        cols.clear();
        cols.resize(inputs, 0);
        let mut k = 0;
        let a = a.as_ptr();
        for p in 0..inputs {
            // SAFETY: the lanes the masks select are in bounds (assertion above); masked
            // loads do not touch the others.
            let (x0, x1) = unsafe {
                (
                    _mm512_maskz_loadu_ps(m0, a.add(p * rows)),
                    _mm512_maskz_loadu_ps(m1, a.add(p * rows + 16)),
                )
            };
            let zero = _mm512_setzero_ps();
            let nonzero = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(x0, zero)
                | _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(x1, zero);
            cols[k] = p as u32;
            k += usize::from(nonzero != 0);
        }
        cols.truncate(k);
    }

    /// A mask of the first `n` (at most 16) lanes.
    fn lanes(n: usize) -> __mmask16 {
        if n >= 16 { 0xFFFF } else { (1u16 << n) - 1 }
    }

    /// One register tile's operands: `w` and `b` start at its first output, `a` at its first
    /// row; `inputs` and `rows` are the full matrices' strides.
    struct Tile<'a> {
        w: &'a [f32],
        b: &'a [f32],
        inputs: usize,
        a: &'a [f32],
        rows: usize,
        /// The inputs to multiply in, ascending, when not all of them (the others are
        /// zero in every row of the tile).
        cols: Option<&'a [u32]>,
    }

    /// The lane masks of the register tile of rows from `i0` (of `rows`): its first and
    /// second 16 rows.
    fn row_masks(rows: usize, i0: usize) -> (__mmask16, __mmask16) {
        let n = (rows - i0).min(TILE_ROWS);
        (lanes(n.min(16)), lanes(n.saturating_sub(16)))
    }

    impl<'a> Tile<'a> {
        /// The tile of outputs from `o0` and rows from `i0` of a product whose weights
        /// `w` are `outputs x inputs` (biases `b`) and whose inputs `a` are
        /// `inputs x rows`.
        fn at(
            (w, b, inputs): (&'a [f32], &'a [f32], usize),
            a: &'a [f32],
            rows: usize,
            cols: Option<&'a [u32]>,
            (o0, i0): (usize, usize),
        ) -> Self {
            Tile {
                w: w.get(o0 * inputs..).unwrap_or_default(),
                b: &b[o0..],
                inputs,
                a: a.get(i0..).unwrap_or_default(),
                rows,
                cols,
            }
        }

        /// Runs the widest tile for `left` remaining outputs; returns the outputs done.
        #[target_feature(enable = "avx512f")]
        fn dispatch(&self, left: usize, masks: (__mmask16, __mmask16), fin: &mut Finish) -> usize {
            if self.cols.is_some() {
                self.dispatch_as::<true>(left, masks, fin)
            } else {
                self.dispatch_as::<false>(left, masks, fin)
            }
        }

        /// [`Self::dispatch`] with one inner loop per instance, so that each keeps all
        /// its sums in registers: over `self.cols` when `SPARSE`, else over all inputs.
        #[target_feature(enable = "avx512f")]
        fn dispatch_as<const SPARSE: bool>(
            &self,
            left: usize,
            masks: (__mmask16, __mmask16),
            fin: &mut Finish,
        ) -> usize {
            match left {
                // Over a list of inputs, the compiler hoists all the weight broadcasts of
                // a step and would spill sums of a 12-output tile.
                9.. if SPARSE => self.run::<9, SPARSE>(masks, fin),
                12.. => self.run::<12, SPARSE>(masks, fin),
                11 => self.run::<11, SPARSE>(masks, fin),
                10 => self.run::<10, SPARSE>(masks, fin),
                9 => self.run::<9, SPARSE>(masks, fin),
                8 => self.run::<8, SPARSE>(masks, fin),
                7 => self.run::<7, SPARSE>(masks, fin),
                6 => self.run::<6, SPARSE>(masks, fin),
                5 => self.run::<5, SPARSE>(masks, fin),
                4 => self.run::<4, SPARSE>(masks, fin),
                3 => self.run::<3, SPARSE>(masks, fin),
                2 => self.run::<2, SPARSE>(masks, fin),
                _ => self.run::<1, SPARSE>(masks, fin),
            }
        }

        /// Computes `R` outputs for the rows the masks select; returns `R`.
        #[target_feature(enable = "avx512f")]
        fn run<const R: usize, const SPARSE: bool>(
            &self,
            (m0, m1): (__mmask16, __mmask16),
            fin: &mut Finish,
        ) -> usize {
            const { assert!(R >= 1 && R <= TILE_OUTPUTS) };
            let (inputs, rows) = (self.inputs, self.rows);
            let last_row = if m1 != 0 { 16 + m1.count_ones() } else { m0.count_ones() } as usize;
            // Every access below stays within these bounds: weights `r * inputs + p`,
            // inputs `p * rows + lane`, outputs `r * rows + lane`, for r < R, p < inputs
            // and the masked lanes < last_row.
            assert!(
                self.w.len() >= R * inputs
                    && self.b.len() >= R
                    && (inputs == 0 || self.a.len() >= (inputs - 1) * rows + last_row),
                "affine tile"
            );
            let (w, a) = (self.w.as_ptr(), self.a.as_ptr());
            let mut acc0 = [_mm512_setzero_ps(); R];
            let mut acc1 = [_mm512_setzero_ps(); R];
            for r in 0..R {
                acc0[r] = _mm512_set1_ps(self.b[r]);
                acc1[r] = acc0[r];
            }
            // One input's products, for `p < inputs`.
            macro_rules! step {
                ($p:expr) => {{
                    let p = $p;
                    // SAFETY: the lanes the masks select are in bounds (assertion above);
                    // masked loads do not touch the others.
                    let (x0, x1) = unsafe {
                        (
                            _mm512_maskz_loadu_ps(m0, a.add(p * rows)),
                            _mm512_maskz_loadu_ps(m1, a.add(p * rows + 16)),
                        )
                    };
                    for r in 0..R {
                        // SAFETY: r * inputs + p < R * inputs <= w.len().
                        let wv = _mm512_set1_ps(unsafe { *w.add(r * inputs + p) });
                        acc0[r] = _mm512_fmadd_ps(wv, x0, acc0[r]);
                        acc1[r] = _mm512_fmadd_ps(wv, x1, acc1[r]);
                    }
                }};
            }
            if SPARSE {
                let cols = self.cols.unwrap_or_default();
                // Ascending, so all are below `inputs` when the last is.
                assert!(cols.last().is_none_or(|&p| (p as usize) < inputs), "affine tile");
                for &p in cols {
                    step!(p as usize);
                }
            } else {
                for p in 0..inputs {
                    step!(p);
                }
            }
            match fin {
                Finish::Store { out, act } => {
                    assert!(out.len() >= (R - 1) * rows + last_row, "affine tile");
                    if let Some(Activation::Relu) = act {
                        for r in 0..R {
                            acc0[r] = _mm512_max_ps(acc0[r], _mm512_setzero_ps());
                            acc1[r] = _mm512_max_ps(acc1[r], _mm512_setzero_ps());
                        }
                    }
                    let c = out.as_mut_ptr();
                    for r in 0..R {
                        // SAFETY: as for the loads, with the output bound just asserted.
                        unsafe {
                            _mm512_mask_storeu_ps(c.add(r * rows), m0, acc0[r]);
                            _mm512_mask_storeu_ps(c.add(r * rows + 16), m1, acc1[r]);
                        }
                    }
                    if let Some(Activation::Tanh) = act {
                        // From memory, one vector at a time: keeping all the sums in
                        // registers through the activation would spill them.
                        for r in 0..R {
                            // SAFETY: as for the stores above.
                            unsafe {
                                let p = c.add(r * rows);
                                let x = _mm512_maskz_loadu_ps(m0, p);
                                _mm512_mask_storeu_ps(p, m0, tanh(x));
                                let p = p.wrapping_add(16);
                                let x = _mm512_maskz_loadu_ps(m1, p);
                                _mm512_mask_storeu_ps(p, m1, tanh(x));
                            }
                        }
                    }
                }
                Finish::Rbf { alpha, neg_gamma, norms: (n0, n1), sums: (s0, s1) } => {
                    assert!(alpha.len() >= R, "rbf tile");
                    let g = _mm512_set1_ps(*neg_gamma);
                    let kernel = |acc: __m512, n: __m512| {
                        exp(_mm512_mul_ps(
                            _mm512_max_ps(_mm512_add_ps(acc, n), _mm512_setzero_ps()),
                            g,
                        ))
                    };
                    for r in 0..R {
                        let al = _mm512_set1_ps(alpha[r]);
                        *s0 = _mm512_fmadd_ps(al, kernel(acc0[r], *n0), *s0);
                        *s1 = _mm512_fmadd_ps(al, kernel(acc1[r], *n1), *s1);
                    }
                }
                Finish::SqErr { target, errors: (e0, e1) } => {
                    assert!(target.len() >= (R - 1) * rows + last_row, "sq_errors tile");
                    let z = target.as_ptr();
                    for r in 0..R {
                        // SAFETY: as for the loads, with the target bound just asserted.
                        let (z0, z1) = unsafe {
                            (
                                _mm512_maskz_loadu_ps(m0, z.add(r * rows)),
                                _mm512_maskz_loadu_ps(m1, z.add(r * rows + 16)),
                            )
                        };
                        let (d0, d1) = (_mm512_sub_ps(acc0[r], z0), _mm512_sub_ps(acc1[r], z1));
                        *e0 = _mm512_fmadd_ps(d0, d0, *e0);
                        *e1 = _mm512_fmadd_ps(d1, d1, *e1);
                    }
                }
            }
            R
        }
    }

    /// `2^y` for finite `y`, within about 1e-7 relative error: `y = n + f` with `n` the
    /// nearest integer, a degree-6 polynomial for `2^f` on [-1/2, 1/2] (coefficients
    /// fitted for relative error), and `scalef` for `2^n`.
    #[target_feature(enable = "avx512f")]
    fn exp2(y: __m512) -> __m512 {
        const C: [f32; 7] = [
            1.0,
            std::f32::consts::LN_2,
            0.240_226_46,
            0.055_503_286,
            0.009_618_489,
            0.001_339_993_2,
            0.000_153_458_08,
        ];
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(y);
        let f = _mm512_sub_ps(y, n);
        let mut p = _mm512_set1_ps(C[6]);
        for &c in C[..6].iter().rev() {
            p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(c));
        }
        _mm512_scalef_ps(p, n)
    }

    /// `e^x` for `x` in [-87, 88] (clamped outside): [`exp2`] of `x log2(e)`, within a few
    /// 1e-7 relative error (the rounding of the product adds up to 1e-5 near -87, where
    /// the value is below 1e-37).
    #[target_feature(enable = "avx512f")]
    fn exp(x: __m512) -> __m512 {
        let x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0)), _mm512_set1_ps(88.0));
        exp2(_mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)))
    }

    /// `tanh(x) = 1 - 2 / (1 + e^2x)` within about 2e-7 absolute error; `|x| >= 9` gives
    /// ±1.
    #[target_feature(enable = "avx512f")]
    fn tanh(x: __m512) -> __m512 {
        let x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-9.0)), _mm512_set1_ps(9.0));
        let e = exp2(_mm512_mul_ps(x, _mm512_set1_ps(2.0 * std::f32::consts::LOG2_E)));
        let den = _mm512_add_ps(e, _mm512_set1_ps(1.0));
        // One Newton step takes the 14-bit reciprocal estimate to full precision.
        let r = _mm512_rcp14_ps(den);
        let r = _mm512_mul_ps(r, _mm512_fnmadd_ps(den, r, _mm512_set1_ps(2.0)));
        _mm512_fnmadd_ps(_mm512_set1_ps(2.0), r, _mm512_set1_ps(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_product_for_every_tile_remainder() {
        for outputs in [1, 5, 11, 12, 13, 25, 35] {
            for inputs in [0, 1, 7, 19] {
                for rows in [1, 3, 16, 17, 31, 32, 33, 70] {
                    let w: Vec<f32> =
                        (0..outputs * inputs).map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0).collect();
                    let b: Vec<f32> = (0..outputs).map(|o| o as f32 * 0.25 - 1.0).collect();
                    let a: Vec<f32> =
                        (0..inputs * rows).map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0).collect();
                    // One spare value past the end must stay untouched.
                    let mut out = vec![f32::NAN; outputs * rows + 1];
                    affine(&w, &b, &a, rows, &mut out, None, &mut Prefetch::none());
                    let mut slow = vec![f32::NAN; outputs * rows + 1];
                    portable(&w, &b, inputs, &a, rows, &mut slow, None);
                    let mut skip = vec![f32::NAN; outputs * rows + 1];
                    let (pf, cols) = (&mut Prefetch::none(), &mut Vec::new());
                    affine_skipping_zeros(&w, &b, &a, rows, &mut skip, None, pf, cols);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&skip), bits(&out), "{outputs} {inputs} {rows}");
                    for o in 0..outputs {
                        for i in 0..rows {
                            let want: f64 = f64::from(b[o])
                                + (0..inputs)
                                    .map(|p| f64::from(w[o * inputs + p] * a[p * rows + i]))
                                    .sum::<f64>();
                            for got in [out[o * rows + i], slow[o * rows + i]] {
                                let err = (f64::from(got) - want).abs();
                                assert!(err < 1e-5, "{outputs} {inputs} {rows}");
                            }
                        }
                    }
                    assert!(out[outputs * rows].is_nan() && slow[outputs * rows].is_nan());
                }
            }
        }
    }

    #[test]
    fn skipping_zero_inputs_changes_no_bit() {
        // Inputs zero in every row, in some rows only, in one row of a tile (each of the
        // two vectors), and NaN in one row; for every tile remainder and output count.
        for outputs in [1, 9, 12, 13, 35] {
            for rows in [1, 15, 16, 17, 32, 33, 70] {
                let inputs = 11;
                let w: Vec<f32> =
                    (0..outputs * inputs).map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0).collect();
                let b: Vec<f32> = (0..outputs).map(|o| o as f32 * 0.25 - 1.0).collect();
                let mut a = vec![0.0f32; inputs * rows];
                for i in 0..rows {
                    a[i] = (i as f32 - 5.0) / 4.0; // input 0: dense
                    a[2 * rows + i] = if i % 3 == 0 { 1.5 } else { 0.0 };
                    a[5 * rows + i] = if i == rows - 1 { -2.0 } else { 0.0 };
                    a[6 * rows + i] = if i == 17 { 0.5 } else { -0.0 };
                    a[8 * rows + i] = if i == rows / 2 { f32::NAN } else { 0.0 };
                }
                for act in [None, Some(Activation::Tanh)] {
                    let mut dense = vec![f32::NAN; outputs * rows + 1];
                    affine(&w, &b, &a, rows, &mut dense, act, &mut Prefetch::none());
                    let mut sparse = vec![f32::NAN; outputs * rows + 1];
                    let mut cols = Vec::new();
                    let pf = &mut Prefetch::none();
                    affine_skipping_zeros(&w, &b, &a, rows, &mut sparse, act, pf, &mut cols);
                    for (i, (x, y)) in dense.iter().zip(&sparse).enumerate() {
                        let same = x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
                        assert!(same, "{outputs} {rows} {act:?} at {i}: {x} {y}");
                    }
                }
            }
        }
    }

    #[test]
    fn rbf_sums_match_their_definition() {
        for outputs in [1, 7, 12, 13, 30] {
            for rows in [1, 16, 17, 33, 70] {
                let inputs = 5;
                let w: Vec<f32> =
                    (0..outputs * inputs).map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0).collect();
                let b: Vec<f32> = (0..outputs).map(|o| o as f32 * 0.1).collect();
                let alpha: Vec<f32> = (0..outputs).map(|o| 1.0 - o as f32 * 0.07).collect();
                // Input 1 is zero in every row, input 3 in all but one (skipped in most
                // row tiles).
                let a: Vec<f32> = (0..inputs * rows)
                    .map(|i| match (i / rows, i % rows) {
                        (1, _) => 0.0,
                        (3, r) if r != 20 => 0.0,
                        _ => ((i * 5 % 11) as f32 - 5.0) / 4.0,
                    })
                    .collect();
                let norms: Vec<f32> = (0..rows).map(|i| (i % 4) as f32).collect();
                let mut sums = vec![f32::NAN; rows];
                let pf = &mut Prefetch::none();
                if !rbf_sums(&w, &b, &alpha, 0.3, &a, &norms, &mut sums, pf, &mut Vec::new()) {
                    return;
                }
                for (i, &got) in sums.iter().enumerate() {
                    let want: f64 = (0..outputs)
                        .map(|o| {
                            let k = f64::from(b[o])
                                + f64::from(norms[i])
                                + (0..inputs)
                                    .map(|p| f64::from(w[o * inputs + p] * a[p * rows + i]))
                                    .sum::<f64>();
                            f64::from(alpha[o]) * (-0.3 * k.max(0.0)).exp()
                        })
                        .sum();
                    assert!((f64::from(got) - want).abs() < 1e-5, "{outputs} {rows} {i}");
                }
            }
        }
    }

    #[test]
    fn sq_errors_match_their_definition() {
        for outputs in [1, 7, 12, 13, 30] {
            for rows in [1, 16, 17, 33, 70] {
                let inputs = 6;
                let w: Vec<f32> =
                    (0..outputs * inputs).map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0).collect();
                let b: Vec<f32> = (0..outputs).map(|o| o as f32 * 0.1).collect();
                let a: Vec<f32> =
                    (0..inputs * rows).map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0).collect();
                let target: Vec<f32> =
                    (0..outputs * rows).map(|i| ((i * 3 % 7) as f32 - 3.0) / 2.0).collect();
                let mut errors = vec![f32::NAN; rows];
                if !sq_errors(&w, &b, &a, &target, &mut errors, &mut Prefetch::none()) {
                    return;
                }
                for (i, &got) in errors.iter().enumerate() {
                    let want: f64 = (0..outputs)
                        .map(|o| {
                            let y = f64::from(b[o])
                                + (0..inputs)
                                    .map(|p| f64::from(w[o * inputs + p] * a[p * rows + i]))
                                    .sum::<f64>();
                            (y - f64::from(target[o * rows + i])).powi(2)
                        })
                        .sum();
                    assert!((f64::from(got) - want).abs() < 1e-4 * want.max(1.0), "{i}");
                }
            }
        }
    }

    #[test]
    fn activations_match_their_definitions() {
        // One input, one output, weight 1: out = act(x).
        let xs: Vec<f32> = (-4000..4000).map(|i| i as f32 * 3e-3).chain([-1e9, 1e9]).collect();
        for act in [Activation::Tanh, Activation::Relu] {
            let mut out = vec![0.0; xs.len()];
            affine(&[1.0], &[0.0], &xs, xs.len(), &mut out, Some(act), &mut Prefetch::none());
            let mut slow = vec![0.0; xs.len()];
            portable(&[1.0], &[0.0], 1, &xs, xs.len(), &mut slow, Some(act));
            for ((&x, &o), &s) in xs.iter().zip(&out).zip(&slow) {
                let want = match act {
                    Activation::Tanh => f64::from(x).tanh(),
                    Activation::Relu => f64::from(x).max(0.0),
                };
                for got in [o, s] {
                    assert!((f64::from(got) - want).abs() < 5e-7, "{act:?} {x} {got}");
                }
            }
        }
    }
}
