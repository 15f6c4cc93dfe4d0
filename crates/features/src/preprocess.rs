//! Preprocessing learned from the training rows: imputation of missing values, a log
//! transform of heavy-tailed counts, and robust (median / IQR) scaling.
//!
//! Raw rows keep missing values as NaN, because explanations show raw values to an
//! operator; the scaled rows that detectors see never hold NaN or infinity. Missing
//! values become the training median (so they scale to 0), and the families add
//! `*_missing` indicator columns so that "missing" stays visible as a signal.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// How a raw value is transformed before scaling.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Signed `ln(1 + |x|)`, for counts, lengths, bytes and durations whose tails span
    /// orders of magnitude.
    Log1p,
    /// No transform: ratios, scores, cyclic encodings.
    Identity,
    /// A 0/1 indicator or one-hot column, passed through unscaled.
    Binary,
}

/// `ln(1 + n)` for the small whole numbers that most counts and lengths are.
static LN_1P_SMALL: LazyLock<[f64; 1024]> = LazyLock::new(|| {
    let mut t = [0.0; 1024];
    for (n, v) in t.iter_mut().enumerate() {
        *v = (n as f64).ln_1p();
    }
    t
});

impl Transform {
    #[inline]
    fn apply(self, x: f64) -> f64 {
        self.apply_with(x, &LN_1P_SMALL)
    }

    #[inline(always)]
    fn apply_with(self, x: f64, table: &[f64; 1024]) -> f64 {
        match self {
            Transform::Log1p => {
                // Most values are small whole counts: a table lookup instead of a log.
                if (0.0..1024.0).contains(&x) {
                    let n = x as usize;
                    if n as f64 == x {
                        return table[n];
                    }
                }
                x.signum() * x.abs().ln_1p()
            }
            Transform::Identity | Transform::Binary => x,
        }
    }
}

/// One named column and its transform, as a family declares it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FeatureSpec {
    /// The stable, readable column name (`client_error_ratio_60s`).
    pub name: String,
    /// The transform before scaling.
    pub transform: Transform,
}

impl FeatureSpec {
    /// A column with the given transform.
    pub fn new(name: impl Into<String>, transform: Transform) -> FeatureSpec {
        FeatureSpec { name: name.into(), transform }
    }
}

/// Scaled values are clipped to this magnitude, so one absurd value cannot dominate
/// every distance a detector computes, while staying far outside anything normal.
pub const CLIP: f64 = 100.0;

/// The scale used when a column did not vary at all in training (in transformed
/// units): any departure from the constant is then a clear deviation.
const CONSTANT_SCALE: f64 = 0.1;

/// The fitted preprocessing of one column.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ColumnScaler {
    transform: Transform,
    /// Median of the transformed training values; also the imputed value.
    center: f64,
    /// Robust spread of the transformed training values (never zero).
    scale: f64,
    /// False when the column had no value at all in training: nothing is known of
    /// what is normal for it, so it scales to a constant 0.
    active: bool,
}

impl ColumnScaler {
    /// Fits a column from its raw training values (NaN are missing). Reorders
    /// `values`. Returns the scaler and the raw median (NaN when every value was
    /// missing).
    pub fn fit(transform: Transform, values: &mut Vec<f64>) -> (ColumnScaler, f64) {
        values.retain(|v| !v.is_nan());
        for v in values.iter_mut() {
            // Infinities are clamped rather than dropped: they say "very large".
            *v = v.clamp(-f64::MAX, f64::MAX);
        }
        if values.is_empty() {
            let s = ColumnScaler { transform, center: 0.0, scale: 1.0, active: false };
            return (s, f64::NAN);
        }
        let median_raw = nth(values, 0.5);
        let q25 = transform.apply(nth(values, 0.25));
        let q75 = transform.apply(nth(values, 0.75));
        let center = transform.apply(median_raw);
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| transform.apply(v)).sum::<f64>() / n;
        let var = values.iter().map(|&v| (transform.apply(v) - mean).powi(2)).sum::<f64>() / n;
        let iqr_sigma = (q75 - q25) / 1.349;
        let scale = if iqr_sigma > 1e-9 {
            iqr_sigma
        } else if var.sqrt() > 1e-9 {
            var.sqrt()
        } else {
            CONSTANT_SCALE
        };
        (ColumnScaler { transform, center, scale, active: true }, median_raw)
    }

    /// The scaled value of one raw value; always finite.
    #[inline]
    pub fn apply(&self, raw: f64) -> f64 {
        self.apply_with(raw, &LN_1P_SMALL)
    }

    #[inline(always)]
    fn apply_with(&self, raw: f64, table: &[f64; 1024]) -> f64 {
        if !self.active || raw.is_nan() {
            return 0.0;
        }
        if self.transform == Transform::Binary {
            return raw.clamp(0.0, 1.0);
        }
        let t = self.transform.apply_with(raw.clamp(-f64::MAX, f64::MAX), table);
        ((t - self.center) / self.scale).clamp(-CLIP, CLIP)
    }

    /// Scales a whole raw row into `out` (cleared first).
    pub fn apply_row(scalers: &[ColumnScaler], raw: &[f64], out: &mut Vec<f64>) {
        let table = &*LN_1P_SMALL;
        out.clear();
        out.extend(raw.iter().zip(scalers).map(|(&x, s)| s.apply_with(x, table)));
    }

    /// The scaled value a missing raw value gets.
    pub fn imputed(&self) -> f64 {
        0.0
    }
}

/// The value at quantile `q` (nearest rank, lower), reordering `values`.
fn nth(values: &mut [f64], q: f64) -> f64 {
    let k = ((values.len() - 1) as f64 * q).floor() as usize;
    *values.select_nth_unstable_by(k, f64::total_cmp).1
}

/// Fits every column of a row-major matrix and scales it in place. Returns the scalers
/// and the raw medians.
pub fn fit_and_scale(matrix: &mut [f64], specs: &[FeatureSpec]) -> (Vec<ColumnScaler>, Vec<f64>) {
    let ncols = specs.len();
    let nrows = matrix.len().checked_div(ncols).unwrap_or(0);
    let mut column = Vec::with_capacity(nrows);
    let mut scalers = Vec::with_capacity(ncols);
    let mut medians = Vec::with_capacity(ncols);
    for (j, spec) in specs.iter().enumerate() {
        column.clear();
        column.extend((0..nrows).map(|i| matrix[i * ncols + j]));
        let (scaler, median) = ColumnScaler::fit(spec.transform, &mut column);
        for i in 0..nrows {
            let cell = &mut matrix[i * ncols + j];
            *cell = scaler.apply(*cell);
        }
        scalers.push(scaler);
        medians.push(median);
    }
    (scalers, medians)
}

/// Serde for a `Vec<f64>` that may hold NaN: written as `null`, which every format
/// (JSON included) can carry.
pub mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes NaN as `None`.
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let opt: Vec<Option<f64>> = v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
        opt.serialize(s)
    }

    /// Reads `None` as NaN.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let opt = Vec::<Option<f64>>::deserialize(d)?;
        Ok(opt.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_scaling_centers_on_the_median() {
        let mut v: Vec<f64> = (1..=101).map(f64::from).collect();
        let (s, median) = ColumnScaler::fit(Transform::Identity, &mut v);
        assert_eq!(median, 51.0);
        assert_eq!(s.apply(51.0), 0.0);
        // IQR 50 (26..76): a value a half IQR above the median is 0.6745 robust sigmas.
        assert!((s.apply(76.0) - 0.6745).abs() < 0.01);
    }

    #[test]
    fn missing_values_impute_to_the_median() {
        let mut v = vec![1.0, f64::NAN, 3.0, 2.0];
        let (s, median) = ColumnScaler::fit(Transform::Log1p, &mut v);
        assert_eq!(median, 2.0);
        assert_eq!(s.apply(f64::NAN), 0.0);
        assert_eq!(s.apply(2.0), 0.0);
    }

    #[test]
    fn constant_and_all_missing_columns_stay_finite() {
        let mut zeros = vec![0.0; 50];
        let (s, median) = ColumnScaler::fit(Transform::Log1p, &mut zeros);
        assert_eq!(median, 0.0);
        assert_eq!(s.apply(0.0), 0.0);
        // A value never seen in training stands out clearly.
        assert!(s.apply(3.0) > 10.0);
        assert_eq!(s.apply(f64::INFINITY), CLIP);
        assert_eq!(s.apply(f64::NEG_INFINITY), -CLIP);

        let mut nans = vec![f64::NAN; 10];
        let (s, median) = ColumnScaler::fit(Transform::Identity, &mut nans);
        assert!(median.is_nan());
        for x in [0.0, 1e300, f64::NAN, f64::INFINITY] {
            assert_eq!(s.apply(x), 0.0);
        }
    }

    #[test]
    fn rare_events_scale_by_their_spread() {
        let mut v = vec![0.0; 999];
        v.push(1.0);
        let (s, _) = ColumnScaler::fit(Transform::Log1p, &mut v);
        assert!(s.apply(1.0) > 10.0);
        assert_eq!(s.apply(0.0), 0.0);
    }

    #[test]
    fn matrix_is_scaled_in_place() {
        let specs = vec![
            FeatureSpec::new("a", Transform::Identity),
            FeatureSpec::new("b", Transform::Binary),
        ];
        let mut m = vec![1.0, 0.0, 2.0, 1.0, 3.0, 0.0, f64::NAN, 1.0];
        let (scalers, medians) = fit_and_scale(&mut m, &specs);
        assert_eq!(scalers.len(), 2);
        assert_eq!(medians, vec![2.0, 0.0]);
        assert!(m.iter().all(|x| x.is_finite()));
        assert_eq!(m[6], 0.0);
        assert_eq!(&m[1..2], &[0.0]);
        assert_eq!(m[3], 1.0);
    }
}
