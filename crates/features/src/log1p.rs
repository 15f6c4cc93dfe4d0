//! The logarithm of the [`crate::Transform::Log1p`] columns: signed `ln(1 + |x|)` in
//! plain IEEE operations (additions, products, one division and fused multiply-adds),
//! within 2 ulp of the exact value.
//!
//! The library `ln_1p` is a call per value and cannot be vectorized. This one is the
//! same few operations for every input, without table or branch, so a loop over many
//! values compiles to vector instructions, four values at a time with AVX2. Every
//! operation is exactly rounded by IEEE 754 (the fused multiply-adds included, in
//! hardware or in software), so the scalar, vector and portable builds give the same
//! bits on every machine: training and scoring transform a value identically.
//!
//! The method: `1 + |x| = 2^k * m` with `m` in `[sqrt(2)/2, sqrt(2))`, and
//! `ln(m) = 2 atanh(s)` with `s = (m - 1) / (m + 1)`, so `|s| < 0.1716`; the series
//! `2s (1 + s^2/3 + s^4/5 + ...)` truncated after `s^18` errs by less than 1e-17
//! relative. The rounding of `1 + |x|` is corrected by `(|x| - (u - 1)) / u`.

/// `ln 2` split so that `k * LN2_HI` is exact for every exponent `k` of a double
/// (32 significant bits), and `LN2_LO = ln 2 - LN2_HI` to double precision.
const LN2_HI: f64 = 0.693_147_180_369_123_8;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// The significand bits of a double.
const FRAC_MASK: u64 = (1 << 52) - 1;
/// The significand bits of `sqrt(2)`: a significand at or above it is halved.
const SQRT2_FRAC: u64 = 0x6_a09e_667f_3bcd;
/// The exponent bits of 1.0 and of 0.5.
const ONE_EXP: u64 = 0x3ff0_0000_0000_0000;
const HALF_EXP: u64 = 0x3fe0_0000_0000_0000;
/// 2^52, whose doubles in `[2^52, 2^53)` are the integers: a biased exponent placed in
/// the low bits of its significand is read back exactly.
const TWO_POW_52: f64 = 4_503_599_627_370_496.0;
const TWO_POW_52_BITS: u64 = 0x4330_0000_0000_0000;
/// `1 / (2j + 1)` for `j = 1..=9`: the series of `atanh(s) / s` in `z = s^2`.
const C: [f64; 9] = [
    1.0 / 3.0,
    1.0 / 5.0,
    1.0 / 7.0,
    1.0 / 9.0,
    1.0 / 11.0,
    1.0 / 13.0,
    1.0 / 15.0,
    1.0 / 17.0,
    1.0 / 19.0,
];

/// Signed `ln(1 + |x|)`: `-ln(1 + |x|)` for negative `x`, the sign of zero kept. `x`
/// must be finite or NaN (NaN gives NaN).
#[inline(always)]
pub fn signed_ln_1p(x: f64) -> f64 {
    let a = x.abs();
    let u = 1.0 + a;
    let bits = u.to_bits();
    let frac = bits & FRAC_MASK;
    let big = frac >= SQRT2_FRAC;
    let m = f64::from_bits(frac | if big { HALF_EXP } else { ONE_EXP });
    let e = f64::from_bits((bits >> 52) | TWO_POW_52_BITS) - (TWO_POW_52 + 1023.0);
    let k = if big { e + 1.0 } else { e };
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let mut p = C[8];
    for &c in C[..8].iter().rev() {
        p = p.mul_add(z, c);
    }
    let two_s = s + s;
    // What the rounding of `1 + a` lost, relative to `u`.
    let lost = (a - (u - 1.0)) / u;
    let y = k.mul_add(LN2_HI, two_s + (two_s * z).mul_add(p, k.mul_add(LN2_LO, lost)));
    y.copysign(x)
}

/// [`signed_ln_1p`] of every value of `values`, in place.
#[inline(always)]
fn ln_1p_slice_generic(values: &mut [f64]) {
    for v in values {
        *v = signed_ln_1p(*v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn ln_1p_slice_avx2(values: &mut [f64]) {
    ln_1p_slice_generic(values);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
fn signed_ln_1p_fma(x: f64) -> f64 {
    signed_ln_1p(x)
}

/// [`signed_ln_1p`] of one value, with hardware fused multiply-adds when the CPU has
/// them (the same bits either way).
#[inline]
pub fn ln_1p(x: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has FMA, checked just above.
        return unsafe { signed_ln_1p_fma(x) };
    }
    signed_ln_1p(x)
}

/// [`signed_ln_1p`] of every value of `values`, in place, in vector instructions when
/// the CPU has AVX2 and FMA (the same bits either way).
#[inline]
pub fn ln_1p_slice(values: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        unsafe { ln_1p_slice_avx2(values) };
        return;
    }
    ln_1p_slice_generic(values);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite doubles of one sign.
    fn ulps(a: f64, b: f64) -> u64 {
        a.to_bits().abs_diff(b.to_bits())
    }

    fn inputs() -> Vec<f64> {
        let mut xs =
            vec![0.0, 1e-320, 5e-324, 1e-300, 1e-17, 1e-10, 0.5, 1.0, 2.0, 1e300, f64::MAX];
        xs.extend((0..5000).map(f64::from));
        xs.extend((0..5000).map(|i| f64::from(i) * 0.001));
        // Pseudo-random doubles over every binade from 2^-60 to 2^1023.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let exponent = 1023 - 60 + (state >> 53) % (60 + 1024);
            let bits = (exponent.min(2046) << 52) | (state & FRAC_MASK);
            xs.push(f64::from_bits(bits));
        }
        // Around the halving threshold of the significand.
        for d in 0..200u64 {
            for base in [1.0f64, 2.0, 1024.0] {
                let t = f64::from_bits((base * std::f64::consts::SQRT_2).to_bits() - 100 + d);
                xs.push(t - 1.0);
            }
        }
        xs
    }

    #[test]
    fn within_two_ulp_of_the_library() {
        let mut worst = (0, 0.0);
        for x in inputs() {
            let (ours, exact) = (signed_ln_1p(x), x.ln_1p());
            let d = ulps(ours, exact);
            if d > worst.0 {
                worst = (d, x);
            }
        }
        assert!(worst.0 <= 2, "{} ulp at {:e}", worst.0, worst.1);
    }

    #[test]
    fn signs_zeros_and_nan() {
        assert_eq!(signed_ln_1p(0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(signed_ln_1p(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(signed_ln_1p(-3.5), -signed_ln_1p(3.5));
        assert_eq!(signed_ln_1p(-f64::MAX), -signed_ln_1p(f64::MAX));
        assert!(signed_ln_1p(f64::NAN).is_nan());
        assert!((signed_ln_1p(f64::MAX) - f64::MAX.ln()).abs() < 1e-12);
    }

    #[test]
    fn every_build_gives_the_same_bits() {
        let xs = inputs();
        let mut vector: Vec<f64> = xs.iter().map(|x| -x).chain(xs.iter().copied()).collect();
        let scalar: Vec<f64> = vector.iter().map(|&x| signed_ln_1p(x)).collect();
        let dispatched: Vec<f64> = vector.iter().map(|&x| ln_1p(x)).collect();
        ln_1p_slice(&mut vector);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&scalar), bits(&vector));
        assert_eq!(bits(&scalar), bits(&dispatched));
    }
}
