//! Dense numeric kernels for the neural and kernel detectors: a safe GEMM front end over
//! `matrixmultiply` and vectorizable `exp`/`tanh` on `f32` slices.
//!
//! Shared with [`crate::ocsvm`]. Everything here is deterministic on a given machine:
//! the GEMM is single-threaded (callers parallelize across independent row blocks) and the
//! elementwise functions use only IEEE basic operations without fused multiply-adds, so
//! the SIMD width picked at run time does not change a single bit of the result.

/// Element types the GEMM supports.
pub(crate) trait Real: Copy {
    /// `matrixmultiply`'s GEMM for this type.
    ///
    /// # Safety
    /// As `matrixmultiply::sgemm`: every indexed element of `a`, `b` and `c` must be in
    /// bounds, and `c` must not alias `a` or `b`.
    #[allow(clippy::too_many_arguments)] // mirrors the BLAS signature it wraps
    unsafe fn raw_gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

impl Real for f32 {
    unsafe fn raw_gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        beta: f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }
}

impl Real for f64 {
    unsafe fn raw_gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f64,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        beta: f64,
        c: *mut f64,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }
}

/// A read-only matrix operand: `rows x cols`, element `(i, j)` at `data[i * rs + j * cs]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operand<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a, T> Operand<'a, T> {
    /// The first `rows * cols` values of `data` as a row-major matrix.
    pub(crate) fn rows(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self { data, rows, cols, rs: cols, cs: 1 }
    }

    /// The transpose (no copy).
    pub(crate) fn t(self) -> Self {
        Self { data: self.data, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }

    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// `c = alpha * a * b + beta * c`, with `c` row-major `a.rows x b.cols`; when `beta` is 0
/// the old contents of `c` are ignored (even NaN).
///
/// Panics if the shapes disagree or an operand does not fit its buffer: shapes come from
/// the model's own layer sizes, never from input data.
pub(crate) fn gemm<T: Real>(alpha: T, a: Operand<'_, T>, b: Operand<'_, T>, beta: T, c: &mut [T]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k && a.in_bounds() && b.in_bounds() && c.len() >= m * n, "gemm shapes");
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the assertion above keeps every index of a, b and c in bounds; `c` is a
    // unique borrow, so it aliases neither operand.
    unsafe {
        T::raw_gemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

/// Defines `pub(crate) fn $name(args)` calling `$body(args)` compiled for the widest SIMD
/// the CPU has (AVX-512, AVX2, or the baseline), picked at run time. `$body` must be an
/// `#[inline(always)]` function so each copy is vectorized for its own feature set.
macro_rules! simd_dispatch {
    ($(#[$doc:meta])* $name:ident => $body:ident($($arg:ident: $ty:ty),* $(,)?)) => {
        $(#[$doc])*
        pub(crate) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn wide($($arg: $ty),*) {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn narrow($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports the feature `wide` is compiled for.
                    return unsafe { wide($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: as above.
                    return unsafe { narrow($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use simd_dispatch;

/// Rows standardized together by [`standardize_t`]: one cache line of `f32` per feature
/// when they are written out feature-major.
pub(crate) const STANDARDIZE_ROWS: usize = 16;

/// Standardizes row-major `rows` (`n x d`, `d = mean.len()`) into `out` as `f32` in
/// feature-major order (`d x n`: `out[j * n + i]` is feature `j` of row `i`), computing
/// `(v - mean) * inv_scale` with a non-finite value (missing) replaced by its column's
/// `fill` first. `tmp` holds at least `STANDARDIZE_ROWS * d` values.
///
/// On CPUs with AVX-512 the transposition is done in registers, sixteen rows by sixteen
/// features at a time; every path computes each value with the same two IEEE operations
/// and one rounding, so all give the same bits.
pub(crate) fn standardize_t(
    rows: &[f64],
    mean: &[f64],
    inv_scale: &[f64],
    fill: &[f64],
    tmp: &mut [f32],
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
    {
        // SAFETY: the CPU supports AVX-512F and VL.
        unsafe { x86::standardize_t_avx512(rows, mean, inv_scale, fill, tmp, out) };
        return;
    }
    standardize_t_portable(rows, mean, inv_scale, fill, tmp, out);
}

simd_dispatch!(
    /// [`standardize_t`] without AVX-512: standardizes a group of rows row-major, then
    /// writes it out feature-major.
    standardize_t_portable => standardize_t_body(
        rows: &[f64],
        mean: &[f64],
        inv_scale: &[f64],
        fill: &[f64],
        tmp: &mut [f32],
        out: &mut [f32],
    )
);

#[inline(always)]
fn standardize_t_body(
    rows: &[f64],
    mean: &[f64],
    inv_scale: &[f64],
    fill: &[f64],
    tmp: &mut [f32],
    out: &mut [f32],
) {
    let d = mean.len();
    if d == 0 {
        return;
    }
    let n = rows.len() / d;
    assert!(out.len() >= n * d && tmp.len() >= STANDARDIZE_ROWS * d, "standardize_t shapes");
    // Standardize a group of rows row-major (contiguous, vectorized across features), then
    // write it out feature-major one contiguous run per feature, instead of scattering
    // every value to its own cache line.
    for (g, group) in rows.chunks(STANDARDIZE_ROWS * d).enumerate() {
        let len = group.len() / d;
        let t = &mut tmp[..group.len()];
        for (r, tr) in group.chunks_exact(d).zip(t.chunks_exact_mut(d)) {
            for ((((t, &v), &m), &s), &f) in tr.iter_mut().zip(r).zip(mean).zip(inv_scale).zip(fill)
            {
                let v = if v.is_finite() { v } else { f };
                *t = ((v - m) * s) as f32;
            }
        }
        let i0 = g * STANDARDIZE_ROWS;
        for j in 0..d {
            let run = &mut out[j * n + i0..j * n + i0 + len];
            for (i, o) in run.iter_mut().enumerate() {
                *o = t[i * d + j];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Rows and features transposed per register block.
    const BLOCK: usize = 16;

    /// A mask of the first `n` (at most 16) lanes.
    fn lanes(n: usize) -> u16 {
        if n >= 16 { 0xFFFF } else { (1u16 << n) - 1 }
    }

    /// Rows ahead of the current group whose memory is prefetched: the input is usually
    /// read once from main memory, and the strided reads of a transposition defeat the
    /// hardware prefetchers.
    const PREFETCH_ROWS: usize = 2 * BLOCK;

    /// [`super::standardize_t`] on AVX-512: each group of 16 rows is read sequentially,
    /// standardized and rounded to `f32` into `tmp` (row-major), then transposed 16 x 16
    /// values at a time in registers and stored as 16 runs of 16 rows, one per feature.
    #[target_feature(enable = "avx512f,avx512vl")]
    pub(super) fn standardize_t_avx512(
        rows: &[f64],
        mean: &[f64],
        inv_scale: &[f64],
        fill: &[f64],
        tmp: &mut [f32],
        out: &mut [f32],
    ) {
        let d = mean.len();
        if d == 0 {
            return;
        }
        let n = rows.len() / d;
        assert!(
            inv_scale.len() == d && fill.len() == d && tmp.len() >= BLOCK * d && out.len() >= n * d,
            "standardize_t shapes"
        );
        let (src, t, dst) = (rows.as_ptr(), tmp.as_mut_ptr(), out.as_mut_ptr());
        let end = src.wrapping_add(n * d);
        for i0 in (0..n).step_by(BLOCK) {
            let len = (n - i0).min(BLOCK);
            // Prefetching never faults, but stays within the rows for tidiness.
            let ahead = src.wrapping_add((i0 + PREFETCH_ROWS) * d);
            let mut p = ahead;
            while p < end && p < ahead.wrapping_add(len * d) {
                _mm_prefetch::<_MM_HINT_T0>(p.cast());
                p = p.wrapping_add(8);
            }
            for j0 in (0..d).step_by(8) {
                let mask = lanes(d - j0) as u8;
                // SAFETY: the lanes the mask selects are features j0 .. d of each vector.
                let (m, s, f) = unsafe {
                    (
                        _mm512_maskz_loadu_pd(mask, mean.as_ptr().add(j0)),
                        _mm512_maskz_loadu_pd(mask, inv_scale.as_ptr().add(j0)),
                        _mm512_maskz_loadu_pd(mask, fill.as_ptr().add(j0)),
                    )
                };
                for r in 0..len {
                    // SAFETY: row i0 + r < n, selected features < d; `tmp` holds BLOCK
                    // rows of d values.
                    unsafe {
                        let x = _mm512_maskz_loadu_pd(mask, src.add((i0 + r) * d + j0));
                        // Finite exactly when x - x is 0.
                        let finite = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(
                            _mm512_sub_pd(x, x),
                            _mm512_setzero_pd(),
                        );
                        let x = _mm512_mask_blend_pd(finite, f, x);
                        let z = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_sub_pd(x, m), s));
                        _mm256_mask_storeu_ps(t.add(r * d + j0), mask, z);
                    }
                }
            }
            let row_mask = lanes(len);
            for j0 in (0..d).step_by(BLOCK) {
                let width = (d - j0).min(BLOCK);
                let mask = lanes(width);
                let mut v = [_mm512_setzero_ps(); BLOCK];
                for (r, v) in v.iter_mut().enumerate().take(len) {
                    // SAFETY: row r < len of `tmp`, features j0 .. j0 + width <= d.
                    *v = unsafe { _mm512_maskz_loadu_ps(mask, t.add(r * d + j0)) };
                }
                let cols = transpose16(v);
                for (j, col) in cols.iter().enumerate().take(width) {
                    // SAFETY: feature j0 + j < d and rows i0 .. i0 + len <= n, so the
                    // selected lanes are within the n * d values of `out`.
                    unsafe { _mm512_mask_storeu_ps(dst.add((j0 + j) * n + i0), row_mask, *col) };
                }
            }
        }
    }

    /// The transpose of a 16 x 16 block held as 16 row vectors.
    #[target_feature(enable = "avx512f")]
    fn transpose16(v: [__m512; 16]) -> [__m512; 16] {
        // Interleave pairs of rows (32-bit), then pairs of pairs (64-bit): vector
        // `4k + c` then holds, in 128-bit lane `l`, rows `4k..4k + 4` of column `4l + c`.
        let mut t = [_mm512_setzero_ps(); 16];
        for k in 0..8 {
            t[2 * k] = _mm512_unpacklo_ps(v[2 * k], v[2 * k + 1]);
            t[2 * k + 1] = _mm512_unpackhi_ps(v[2 * k], v[2 * k + 1]);
        }
        let mut u = [_mm512_setzero_ps(); 16];
        for k in 0..4 {
            let pd = |x: __m512| _mm512_castps_pd(x);
            let (a, b, c, e) = (pd(t[4 * k]), pd(t[4 * k + 1]), pd(t[4 * k + 2]), pd(t[4 * k + 3]));
            u[4 * k] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
            u[4 * k + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
            u[4 * k + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, e));
            u[4 * k + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, e));
        }
        // Gather lane `l` of vectors c, 4 + c, 8 + c and 12 + c into column `4l + c`.
        let mut out = [_mm512_setzero_ps(); 16];
        for c in 0..4 {
            let x0 = _mm512_shuffle_f32x4::<0x44>(u[c], u[4 + c]);
            let x1 = _mm512_shuffle_f32x4::<0xEE>(u[c], u[4 + c]);
            let y0 = _mm512_shuffle_f32x4::<0x44>(u[8 + c], u[12 + c]);
            let y1 = _mm512_shuffle_f32x4::<0xEE>(u[8 + c], u[12 + c]);
            out[c] = _mm512_shuffle_f32x4::<0x88>(x0, y0);
            out[4 + c] = _mm512_shuffle_f32x4::<0xDD>(x0, y0);
            out[8 + c] = _mm512_shuffle_f32x4::<0x88>(x1, y1);
            out[12 + c] = _mm512_shuffle_f32x4::<0xDD>(x1, y1);
        }
        out
    }
}

/// Copies row-major `src` (`rows x cols`) into `dst` transposed (`cols x rows`).
pub(crate) fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    assert!(src.len() >= rows * cols && dst.len() >= rows * cols, "transpose shapes");
    for (i, r) in src.chunks_exact(cols).take(rows).enumerate() {
        for (j, &v) in r.iter().enumerate() {
            dst[j * rows + i] = v;
        }
    }
}

/// `Σ a_i²`, in the lane order of [`sum_sq_diff`].
#[inline(always)]
pub(crate) fn sum_sq(a: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = a.chunks_exact(8);
    let rest = chunks.remainder();
    for x in chunks {
        for i in 0..8 {
            acc[i] += x[i] * x[i];
        }
    }
    for (i, x) in rest.iter().enumerate() {
        acc[i] += x * x;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// `Σ (a_i - b_i)²`, summed in eight interleaved lanes (a fixed order, so the result does
/// not depend on the SIMD width) to break the dependency chain of a serial sum.
#[inline(always)]
pub(crate) fn sum_sq_diff(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for i in 0..8 {
            let e = x[i] - y[i];
            acc[i] += e * e;
        }
    }
    for (i, (x, y)) in ar.iter().zip(br).enumerate() {
        acc[i] += (x - y) * (x - y);
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

simd_dispatch!(
    /// `tanh(x)` ([`tanh`]) of every element.
    tanh_in_place => tanh_body(xs: &mut [f32])
);

#[inline(always)]
fn tanh_body(xs: &mut [f32]) {
    for x in xs {
        *x = tanh(*x);
    }
}

/// `e^x` within 2 ulp for `x` in [-87, 88] (clamped outside, so `exp(-inf)` is about
/// 1.6e-38, not 0), branch-free so loops over it vectorize: Cody-Waite reduction
/// `x = n ln2 + r`, a degree-6 polynomial for `e^r` (Cephes' `expf`), and `2^n` built in
/// the exponent bits.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // Adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let k = t.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    y * f32::from_bits(((k + 127) as u32) << 23)
}

/// `tanh(x)` within a few 1e-7 absolute error, branch-free; `|x| >= 9` gives ±1 exactly
/// as `f32` rounding does.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let e = exp(2.0 * x.clamp(-9.0, 9.0));
    (e - 1.0) / (e + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_matches_naive_for_every_layout() {
        let a: Vec<f64> = (0..12).map(|i| i as f64 * 0.5 - 2.0).collect(); // 3 x 4
        let b: Vec<f64> = (0..8).map(|i| 1.0 - i as f64 * 0.25).collect(); // 4 x 2
        let naive = |i: usize, j: usize| (0..4).map(|k| a[i * 4 + k] * b[k * 2 + j]).sum::<f64>();
        let mut c = vec![f64::NAN; 6];
        gemm(1.0, Operand::rows(&a, 3, 4), Operand::rows(&b, 4, 2), 0.0, &mut c);
        for i in 0..3 {
            for j in 0..2 {
                assert!((c[i * 2 + j] - naive(i, j)).abs() < 1e-12);
            }
        }
        // (bᵀ aᵀ)ᵀ through transposed views, accumulated onto ones.
        let mut ct = vec![1.0; 6];
        gemm(2.0, Operand::rows(&b, 4, 2).t(), Operand::rows(&a, 3, 4).t(), 1.0, &mut ct);
        for i in 0..3 {
            for j in 0..2 {
                assert!((ct[j * 3 + i] - 1.0 - 2.0 * naive(i, j)).abs() < 1e-12);
            }
        }
        let a32: Vec<f32> = a.iter().map(|&v| v as f32).collect();
        let b32: Vec<f32> = b.iter().map(|&v| v as f32).collect();
        let mut c32 = vec![0.0f32; 6];
        gemm(1.0, Operand::rows(&a32, 3, 4), Operand::rows(&b32, 4, 2), 0.0, &mut c32);
        assert!(c32.iter().zip(&c).all(|(x, y)| (*x as f64 - y).abs() < 1e-5));
    }

    #[test]
    #[should_panic(expected = "gemm shapes")]
    fn gemm_rejects_short_buffers() {
        let a = [1.0f32; 5];
        let mut c = [0.0f32; 4];
        gemm(1.0, Operand::rows(&a, 2, 3), Operand::rows(&a, 3, 2), 0.0, &mut c);
    }

    #[test]
    fn standardize_t_paths_agree_bit_for_bit() {
        for d in [1, 7, 16, 17, 40, 103] {
            for n in [1, 5, 15, 16, 17, 33, 130] {
                let rows: Vec<f64> = (0..n * d)
                    .map(|i| match i % 37 {
                        3 => f64::NAN,
                        11 => f64::INFINITY,
                        19 => f64::NEG_INFINITY,
                        29 => 1e300,
                        _ => (i * 7919 % 1013) as f64 * 0.37 - 150.0,
                    })
                    .collect();
                let mean: Vec<f64> = (0..d).map(|j| j as f64 * 1.5 - 3.0).collect();
                let inv: Vec<f64> = (0..d).map(|j| 1.0 / (1.0 + j as f64 * 0.1)).collect();
                let fill: Vec<f64> = (0..d).map(|j| j as f64 * 0.25).collect();
                let mut tmp = vec![0.0; STANDARDIZE_ROWS * d];
                let mut fast = vec![f32::NAN; n * d + 1];
                standardize_t(&rows, &mean, &inv, &fill, &mut tmp, &mut fast);
                let mut slow = vec![f32::NAN; n * d + 1];
                standardize_t_portable(&rows, &mean, &inv, &fill, &mut tmp, &mut slow);
                for i in 0..n {
                    for j in 0..d {
                        let v = rows[i * d + j];
                        let v = if v.is_finite() { v } else { fill[j] };
                        let want = ((v - mean[j]) * inv[j]) as f32;
                        assert_eq!(fast[j * n + i].to_bits(), want.to_bits(), "{d} {n} {i} {j}");
                        assert_eq!(slow[j * n + i].to_bits(), want.to_bits(), "{d} {n} {i} {j}");
                    }
                }
                assert!(fast[n * d].is_nan() && slow[n * d].is_nan());
            }
        }
    }

    #[test]
    fn exp_and_tanh_are_accurate() {
        let mut worst_exp: f64 = 0.0;
        let mut worst_tanh: f64 = 0.0;
        for i in -86_999..88_000 {
            let x = i as f32 * 1e-3;
            let e = exp(x) as f64;
            let want = (x as f64).exp();
            worst_exp = worst_exp.max(((e - want) / want).abs());
            let t = tanh(x / 8.0) as f64;
            worst_tanh = worst_tanh.max((t - (x as f64 / 8.0).tanh()).abs());
        }
        assert!(worst_exp < 3e-7, "{worst_exp}");
        assert!(worst_tanh < 5e-7, "{worst_tanh}");
        assert!(exp(f32::NEG_INFINITY) < 1e-37 && exp(f32::NEG_INFINITY) >= 0.0);
        assert_eq!(tanh(20.0), 1.0);
        assert_eq!(tanh(-20.0), -1.0);
        assert_eq!(tanh(0.0), 0.0);
        // The dispatched slice version agrees bit for bit with the scalar ones.
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.037).collect();
        let mut t = xs.clone();
        tanh_in_place(&mut t);
        for (i, &x) in xs.iter().enumerate() {
            assert_eq!(t[i].to_bits(), tanh(x).to_bits());
        }
    }
}
