//! Small numeric helpers shared by the detectors: training-set validation, medians,
//! quantiles, per-column moments and seed derivation.

use crate::error::FitError;
use crate::matrix::MatrixView;
use rand::Rng;
use rayon::prelude::*;

/// Checks the properties every detector needs from a training matrix: at least `min_rows`
/// rows, at least one column, only finite values and not all rows identical.
///
/// Non-finite values are rejected rather than imputed because a model fitted on guessed
/// values would silently learn the guess; the error names the row and column so the
/// feature stage can be fixed.
pub fn validate_training(x: MatrixView<'_>, min_rows: usize) -> Result<(), FitError> {
    if x.rows() == 0 {
        return Err(FitError::Empty);
    }
    if x.cols() == 0 {
        return Err(FitError::NoColumns);
    }
    if x.rows() < min_rows {
        return Err(FitError::TooFewRows { rows: x.rows(), min: min_rows });
    }
    if let Some(pos) = x.as_slice().iter().position(|v| !v.is_finite()) {
        let (row, col) = (pos / x.cols(), pos % x.cols());
        return Err(FitError::NonFinite { row, col, value: x.get(row, col) });
    }
    let first = x.row(0);
    if x.iter_rows().all(|r| r == first) {
        return Err(FitError::IdenticalRows { rows: x.rows() });
    }
    Ok(())
}

/// Linear-interpolated quantile `p` (0..=1) of an ascending slice; NaN when empty.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    if lo == hi { sorted[lo] } else { sorted[lo] + (sorted[hi] - sorted[lo]) * frac }
}

/// Sorts a copy-in-place buffer ascending (NaN last) so it can be used with
/// [`quantile_sorted`].
pub fn sort_f64(v: &mut [f64]) {
    v.sort_unstable_by(|a, b| a.total_cmp(b));
}

/// The same quantile as [`quantile_sorted`] without sorting: selection is linear time,
/// which matters for million-row training sets. Reorders `buf`.
pub fn quantile_unsorted(buf: &mut [f64], p: f64) -> f64 {
    if buf.is_empty() {
        return f64::NAN;
    }
    let pos = p.clamp(0.0, 1.0) * (buf.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let frac = pos - lo as f64;
    let (_, v_lo, right) = buf.select_nth_unstable_by(lo, |a, b| a.total_cmp(b));
    let v_lo = *v_lo;
    if frac == 0.0 || right.is_empty() {
        return v_lo;
    }
    let v_hi = right.iter().copied().fold(f64::INFINITY, f64::min);
    v_lo + (v_hi - v_lo) * frac
}

/// The values of column `c`.
pub fn column(x: MatrixView<'_>, c: usize) -> Vec<f64> {
    x.iter_rows().map(|r| r[c]).collect()
}

/// Median of each column of a finite matrix (columns in parallel).
pub fn column_medians(x: MatrixView<'_>) -> Vec<f64> {
    (0..x.cols()).into_par_iter().map(|c| quantile_unsorted(&mut column(x, c), 0.5)).collect()
}

/// Mean and population standard deviation of each column. A zero standard deviation is
/// reported as is; callers decide how to treat constant columns.
pub fn column_mean_std(x: MatrixView<'_>) -> (Vec<f64>, Vec<f64>) {
    let n = x.rows().max(1) as f64;
    let mut mean = vec![0.0; x.cols()];
    for r in x.iter_rows() {
        for (m, v) in mean.iter_mut().zip(r) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0.0; x.cols()];
    for r in x.iter_rows() {
        for ((s, v), m) in var.iter_mut().zip(r).zip(&mean) {
            *s += (v - m) * (v - m);
        }
    }
    let std = var.into_iter().map(|s| (s / n).sqrt()).collect();
    (mean, std)
}

/// Replaces zero (or non-finite) scales by 1 so that standardizing a constant column maps it
/// to 0 instead of dividing by zero.
pub fn safe_scale(std: &[f64]) -> Vec<f64> {
    std.iter().map(|&s| if s.is_finite() && s > 1e-12 { s } else { 1.0 }).collect()
}

/// Derives an independent seed for stream `i` of a master seed (SplitMix64 finalizer), so
/// parallel work items get reproducible, uncorrelated generators.
pub fn derive_seed(master: u64, i: u64) -> u64 {
    let mut z = master ^ i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A standard normal draw (Box-Muller), so no distribution crate is needed.
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // `1 - u` keeps the log argument in (0, 1].
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Row indices of a random subsample of at most `max` rows (all rows, in order, when
/// `n <= max`).
pub fn subsample_indices<R: Rng + ?Sized>(rng: &mut R, n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    let mut idx = rand::seq::index::sample(rng, n, max).into_vec();
    idx.sort_unstable();
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;

    #[test]
    fn validation_errors() {
        let m = Matrix::new(vec![], 0, 3).expect("valid");
        assert_eq!(validate_training(m.view(), 2), Err(FitError::Empty));
        let m = Matrix::new(vec![1.0, 2.0], 1, 2).expect("valid");
        assert_eq!(validate_training(m.view(), 2), Err(FitError::TooFewRows { rows: 1, min: 2 }));
        let m = Matrix::new(vec![1.0, 2.0, 1.0, 2.0], 2, 2).expect("valid");
        assert_eq!(validate_training(m.view(), 2), Err(FitError::IdenticalRows { rows: 2 }));
        let m = Matrix::new(vec![1.0, 2.0, 1.0, f64::NAN], 2, 2).expect("valid");
        assert!(matches!(
            validate_training(m.view(), 2),
            Err(FitError::NonFinite { row: 1, col: 1, .. })
        ));
        let m = Matrix::new(vec![1.0, 2.0, 1.0, 3.0], 2, 2).expect("valid");
        assert_eq!(validate_training(m.view(), 2), Ok(()));
    }

    #[test]
    fn quantiles_and_medians() {
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert!(quantile_sorted(&[], 0.5).is_nan());
        let v = [5.0, 1.0, 4.0, 2.0, 3.0, 9.0];
        let mut sorted = v;
        sort_f64(&mut sorted);
        for p in [0.0, 0.1, 0.25, 0.5, 0.77, 1.0] {
            assert_eq!(quantile_unsorted(&mut v.clone(), p), quantile_sorted(&sorted, p));
        }
        let m = Matrix::new(vec![1.0, 10.0, 3.0, 30.0, 2.0, 20.0], 3, 2).expect("valid");
        assert_eq!(column_medians(m.view()), vec![2.0, 20.0]);
        let (mean, std) = column_mean_std(m.view());
        assert_eq!(mean, vec![2.0, 20.0]);
        assert!((std[0] - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn seeds_differ() {
        assert_ne!(derive_seed(1, 0), derive_seed(1, 1));
        assert_ne!(derive_seed(1, 0), derive_seed(2, 0));
        assert_eq!(derive_seed(7, 3), derive_seed(7, 3));
    }
}
