//! Preprocessing learned from the training rows: imputation of missing values, a log
//! transform of heavy-tailed counts, and robust (median / IQR) scaling.
//!
//! Raw rows keep missing values as NaN, because explanations show raw values to an
//! operator; the scaled rows that detectors see never hold NaN or infinity. Missing
//! values become the training median (so they scale to 0), and the families add
//! `*_missing` indicator columns so that "missing" stays visible as a signal.

use std::ops::Range;

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

impl Transform {
    #[inline]
    fn apply(self, x: f64) -> f64 {
        match self {
            Transform::Log1p => crate::log1p::ln_1p(x),
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

    /// Makes the column scale to a constant 0: nothing it shows can be judged.
    pub(crate) fn deactivate(&mut self) {
        self.active = false;
    }

    /// The scaled value of one raw value; always finite.
    #[inline]
    pub fn apply(&self, raw: f64) -> f64 {
        if !self.active || raw.is_nan() {
            return 0.0;
        }
        let t = match self.transform {
            Transform::Binary => return raw.clamp(0.0, 1.0),
            Transform::Identity => raw.clamp(-f64::MAX, f64::MAX),
            Transform::Log1p => Transform::Log1p.apply(raw.clamp(-f64::MAX, f64::MAX)),
        };
        // A product by the reciprocal, as in the vector loops of [`RowScaler`].
        ((t - self.center) * (1.0 / self.scale)).clamp(-CLIP, CLIP)
    }

    /// Scales a whole raw row into `out` (cleared first).
    pub fn apply_row(scalers: &[ColumnScaler], raw: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.extend(raw.iter().zip(scalers).map(|(&x, s)| s.apply(x)));
    }

    /// The scaled value a missing raw value gets.
    pub fn imputed(&self) -> f64 {
        0.0
    }
}

/// The scalers of a whole row, arranged for the streaming hot path. A row is scaled
/// without per-column dispatch: one branch-free loop over every column centers, scales
/// and clips (the compiler turns it into vector instructions), then the log columns
/// are gathered, transformed and scaled in a second vector loop
/// ([`crate::log1p::ln_1p_slice`]) and put back. Binary columns are the same formula
/// with center 0, scale 1 and limits 0..=1; inactive columns have a NaN center, and a
/// NaN result is 0. Gives exactly the values of [`ColumnScaler::apply_row`].
///
/// The columns computed from the request content alone (see [`crate::memo`]) can be
/// remembered scaled, per content slot: a record whose content was seen recently
/// copies them instead of scaling them again.
#[derive(Debug, Clone, Default)]
pub struct RowScaler {
    center: Vec<f64>,
    /// `1 / scale`: a product is much cheaper than a division.
    inv: Vec<f64>,
    low: Vec<f64>,
    high: Vec<f64>,
    logs: LogColumns,
    /// The columns that depend on the request content alone, with the exceptions in
    /// `volatile`.
    content: Range<usize>,
    /// Columns inside `content` that do not depend on the content alone.
    volatile: Vec<usize>,
    /// Scaled `content` columns per slot, `content.len()` values each.
    remembered: Vec<f64>,
    /// A short raw row padded with NaN (never produced by the families).
    padded: Vec<f64>,
}

/// The active log columns, with their centers and scales side by side. The first
/// `always` are outside the content columns (or volatile), the rest inside.
#[derive(Debug, Clone, Default)]
struct LogColumns {
    col: Vec<usize>,
    /// Centers and reciprocal scales, padded to whole vectors ([`LOG_LANES`]).
    center: Vec<f64>,
    inv: Vec<f64>,
    always: usize,
    /// The values being transformed.
    buf: Vec<f64>,
}

/// What [`RowScaler::apply`] does with the content columns of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaledContent {
    /// Scale them, and remember nothing.
    Scale,
    /// Scale them and remember them in this slot.
    Store(usize),
    /// Copy them from this slot, where a row with the same content left them.
    Load(usize),
}

impl RowScaler {
    /// Arranges fitted column scalers.
    pub fn new(scalers: &[ColumnScaler]) -> RowScaler {
        let mut row = RowScaler::default();
        for (col, s) in scalers.iter().enumerate() {
            let (center, scale, low, high) = match (s.active, s.transform) {
                (false, _) => (f64::NAN, 1.0, 0.0, 0.0),
                (true, Transform::Binary) => (0.0, 1.0, 0.0, 1.0),
                (true, Transform::Identity) => (s.center, s.scale, -CLIP, CLIP),
                (true, Transform::Log1p) => {
                    row.logs.col.push(col);
                    (s.center, s.scale, -CLIP, CLIP)
                }
            };
            row.center.push(center);
            row.inv.push(1.0 / scale);
            row.low.push(low);
            row.high.push(high);
        }
        row.remember(0..0, &[]);
        row
    }

    /// Declares the columns in `content` a function of the request content alone,
    /// except those in `volatile`, so that [`ScaledContent::Load`] can copy them.
    pub fn remember(&mut self, content: Range<usize>, volatile: &[usize]) {
        let width = self.center.len();
        let content = content.start.min(width)..content.end.min(width);
        let always = |col: &usize| !content.contains(col) || volatile.contains(col);
        let (mut cols, inside): (Vec<usize>, Vec<usize>) =
            self.logs.col.iter().partition(|c| always(c));
        self.logs.always = cols.len();
        cols.extend(inside);
        let padding = [0.0; LOG_LANES - 1];
        self.logs.center = cols.iter().map(|&c| self.center[c]).chain(padding).collect();
        self.logs.inv = cols.iter().map(|&c| self.inv[c]).chain(padding).collect();
        self.logs.col = cols;
        self.volatile = volatile.iter().copied().filter(|c| content.contains(c)).collect();
        self.content = content;
        self.remembered.clear();
    }

    /// Starts loading the scaled content columns remembered in `slot` (see
    /// [`crate::memo::prefetch`]).
    #[inline]
    pub fn prefetch(&self, slot: usize) {
        let c = self.content.len();
        if let Some(stored) = self.remembered.get(slot * c..(slot + 1) * c) {
            crate::memo::prefetch(stored);
        }
    }

    /// Scales a raw row into `out` (inactive and missing columns are 0). `out` ends up
    /// as long as the row of scalers, every value written.
    pub fn apply(&mut self, raw: &[f64], out: &mut Vec<f64>, content: ScaledContent) {
        let width = self.center.len();
        let mut padded = std::mem::take(&mut self.padded);
        let raw = if raw.len() >= width {
            &raw[..width]
        } else {
            // A short raw row scales as missing.
            padded.clear();
            padded.extend_from_slice(raw);
            padded.resize(width, f64::NAN);
            &padded[..]
        };
        if out.len() != width {
            out.clear();
            out.resize(width, 0.0);
        }
        let c = self.content.clone();
        let stored = match content {
            ScaledContent::Load(slot) => self.remembered.get(slot * c.len()..(slot + 1) * c.len()),
            _ => None,
        };
        let columns =
            Columns { center: &self.center, inv: &self.inv, low: &self.low, high: &self.high };
        let logs = match stored {
            Some(stored) => {
                scale_range(raw, out, &columns, 0..c.start);
                out[c.clone()].copy_from_slice(stored);
                scale_range(raw, out, &columns, c.end..width);
                // Their log columns are among the first `always`, redone below.
                for &col in &self.volatile {
                    let (center, inv) = (columns.center[col], columns.inv[col]);
                    let (low, high) = (columns.low[col], columns.high[col]);
                    out[col] = scale_value(raw[col], center, inv, low, high);
                }
                self.logs.always
            }
            None => {
                scale_range(raw, out, &columns, 0..width);
                self.logs.col.len()
            }
        };
        self.logs.redo(logs, raw, out);
        if let ScaledContent::Store(slot) = content {
            let (len, end) = (c.len(), (slot + 1) * c.len());
            if self.remembered.len() < end {
                self.remembered.resize(end, 0.0);
            }
            self.remembered[end - len..end].copy_from_slice(&out[c]);
        }
        self.padded = padded;
    }
}

impl LogColumns {
    /// Overwrites the first `n` log columns of `out` with the scaled logarithms of
    /// `raw`.
    #[inline(always)]
    fn redo(&mut self, n: usize, raw: &[f64], out: &mut [f64]) {
        let cols = &self.col[..n];
        self.buf.clear();
        // NaN (missing) stays NaN through the transform, and scales to 0.
        self.buf.extend(cols.iter().map(|&col| raw[col]));
        // Whole vectors only: no scalar remainder loop.
        let m = n.next_multiple_of(LOG_LANES);
        self.buf.resize(m, 0.0);
        let (center, scale) = (&self.center[..m], &self.inv[..m]);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX-512 (F, VL) and FMA, checked just above.
            unsafe { log_scale_avx512(&mut self.buf, center, scale) };
        } else if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            unsafe { log_scale_avx2(&mut self.buf, center, scale) };
        } else {
            log_scale(&mut self.buf, center, scale);
        }
        #[cfg(not(target_arch = "x86_64"))]
        log_scale(&mut self.buf, center, scale);
        for (&col, &y) in cols.iter().zip(&self.buf) {
            out[col] = y;
        }
    }
}

/// The log columns' values, transformed, centered, scaled and clipped in place.
#[inline(always)]
fn log_scale(values: &mut [f64], center: &[f64], inv: &[f64]) {
    for ((x, &center), &inv) in values.iter_mut().zip(center).zip(inv) {
        let t = crate::log1p::signed_ln_1p(x.clamp(-f64::MAX, f64::MAX));
        *x = scale_value(t, center, inv, -CLIP, CLIP);
    }
}

/// [`log_scale`] compiled for AVX2 and FMA: four columns per instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn log_scale_avx2(values: &mut [f64], center: &[f64], inv: &[f64]) {
    log_scale(values, center, inv);
}

/// [`log_scale`] compiled for AVX-512: eight columns per instruction, and twice the
/// registers, so that the constants of the logarithm stay in them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
fn log_scale_avx512(values: &mut [f64], center: &[f64], inv: &[f64]) {
    log_scale(values, center, inv);
}

/// The per-column constants of [`RowScaler`].
struct Columns<'s> {
    center: &'s [f64],
    inv: &'s [f64],
    low: &'s [f64],
    high: &'s [f64],
}

impl Columns<'_> {
    /// The constants of columns `cols`.
    #[inline(always)]
    fn part(&self, cols: Range<usize>) -> Columns<'_> {
        Columns {
            center: &self.center[cols.clone()],
            inv: &self.inv[cols.clone()],
            low: &self.low[cols.clone()],
            high: &self.high[cols],
        }
    }
}

/// Centers, scales and clips one value: the same IEEE operations, in the same order,
/// whatever the instruction set, so the values are the same bits everywhere.
#[inline(always)]
fn scale_value(x: f64, center: f64, inv: f64, low: f64, high: f64) -> f64 {
    let v = (x.clamp(-f64::MAX, f64::MAX) - center) * inv;
    // `f64::clamp` with these limits, spelled out: they are never NaN and never
    // crossed, and the comparisons compile to vector selects.
    let v = if v < low { low } else { v };
    let v = if v > high { high } else { v };
    if v.is_nan() { 0.0 } else { v }
}

/// Scales columns `cols` of `raw` into the same columns of `out`, without the log
/// transform.
#[inline(always)]
fn scale_range(raw: &[f64], out: &mut [f64], c: &Columns<'_>, cols: Range<usize>) {
    let part = c.part(cols.clone());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        unsafe { scale_avx2(&raw[cols.clone()], &mut out[cols], &part) };
        return;
    }
    scale_row(&raw[cols.clone()], &mut out[cols], &part);
}

/// Values per vector of the loops.
const LANES: usize = 4;
/// The log columns are padded to a multiple of this: whole vectors of four (AVX2) or
/// eight (AVX-512) values.
const LOG_LANES: usize = 8;

/// Centers, scales and clips `row` into `out`, column by column, in blocks of
/// [`LANES`]; a row that is not whole blocks ends with a block overlapping the one
/// before, so that no scalar remainder loop runs.
#[inline(always)]
fn scale_row(row: &[f64], out: &mut [f64], c: &Columns<'_>) {
    let n = row.len().min(out.len()).min(c.center.len());
    let head = if n < LANES { n } else { n / LANES * LANES };
    scale_columns(&row[..head], &mut out[..head], &c.part(0..head));
    if head < n {
        let last = n - LANES..n;
        scale_columns(&row[last.clone()], &mut out[last.clone()], &c.part(last));
    }
}

/// Centers, scales and clips `row` into `out`, column by column.
#[inline(always)]
fn scale_columns(row: &[f64], out: &mut [f64], c: &Columns<'_>) {
    let columns = c.center.iter().zip(c.inv).zip(c.low.iter().zip(c.high));
    for ((y, &x), ((&center, &inv), (&low, &high))) in out.iter_mut().zip(row).zip(columns) {
        *y = scale_value(x, center, inv, low, high);
    }
}

/// [`scale_row`] compiled for AVX2: four columns per instruction, and selects in one
/// instruction instead of three.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scale_avx2(row: &[f64], out: &mut [f64], c: &Columns<'_>) {
    scale_row(row, out, c);
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
    fn row_scaler_matches_column_scalers() {
        let specs = [Transform::Log1p, Transform::Identity, Transform::Binary, Transform::Log1p];
        let mut scalers = Vec::new();
        for (j, t) in specs.into_iter().enumerate() {
            let mut v: Vec<f64> = (0..50).map(|i| f64::from(i * (j as i32 + 1)) * 0.7).collect();
            scalers.push(ColumnScaler::fit(t, &mut v).0);
        }
        scalers.push(ColumnScaler::fit(Transform::Identity, &mut vec![f64::NAN]).0);
        let mut row = RowScaler::new(&scalers);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for x in [0.0, -0.0, 3.0, 2.5, 2.5, 1e300, f64::INFINITY, -7.25, f64::NAN, 1023.0, 1024.0] {
            let raw = [x, x * 2.0, x, x + 0.5, x];
            ColumnScaler::apply_row(&scalers, &raw, &mut a);
            row.apply(&raw, &mut b, ScaledContent::Scale);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "{x}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_scaling_gives_the_same_bits() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let n = 41;
        let pick = |xs: &[f64]| (0..n).map(|i| xs[i % xs.len()]).collect::<Vec<f64>>();
        let center = pick(&[0.0, f64::NAN, 1.5, -2.0, 7.0]);
        let inv = pick(&[1.0, 10.0, 1.0 / 3.0, 1e300, 0.7, 0.5]);
        let low = pick(&[-CLIP, 0.0, -CLIP]);
        let high = pick(&[CLIP, 1.0, CLIP]);
        let columns = Columns { center: &center, inv: &inv, low: &low, high: &high };
        let values = [0.0, -0.0, f64::NAN, f64::INFINITY, -f64::INFINITY, 1e308, -5.5, 0.3, 1.0];
        for shift in 0..values.len() {
            let row: Vec<f64> = (0..n).map(|i| values[(i + shift) % values.len()]).collect();
            let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
            scale_row(&row, &mut a, &columns);
            // SAFETY: the CPU has AVX2, checked above.
            unsafe { scale_avx2(&row, &mut b, &columns) };
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b));
        }
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
