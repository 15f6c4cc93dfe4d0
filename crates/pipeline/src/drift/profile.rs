//! Compact distributions of the training data, stored in the model for drift checks.

use anomalog_features::FeaturePipeline;
use anomalog_ingest::Record;
use anomalog_models::QuantileSketch;
use serde::{Deserialize, Serialize};

/// Most distinct values a [`ValueProfile`] keeps as knots. With at most 127 cells per
/// feature, a profile of ~100 features stays under ~100 kB of model file, and 64
/// knots resolve the training CDF to about 1.6% of the mass between two knots, well
/// below the 10% bins of the population stability index.
pub const MAX_KNOTS: usize = 64;

/// Most training records whose feature values are profiled. Larger training sets are
/// sampled evenly (every k-th record, after the features saw every record in order),
/// so profiling needs at most this many rows of memory whatever the training size.
pub const MAX_PROFILED_ROWS: usize = 65_536;

/// The distribution of one value (a feature column or the detector score) as a small
/// histogram over exact values.
///
/// The finite values are summarized by up to [`MAX_KNOTS`] distinct *knots* (all the
/// distinct values when there are few, evenly spaced order statistics otherwise) with
/// exact counts of the values equal to each knot and strictly between two neighboring
/// knots. Discrete features (flags, small counts, one-hot columns) are therefore kept
/// exactly; a continuous feature is known exactly at its knots and, between them, is
/// taken as spread evenly. Missing values (NaN) are counted apart.
///
/// The knots split the real line into *cells*, in order: below the first knot, at
/// knot 0, between knots 0 and 1, at knot 1, ..., at the last knot, above the last
/// knot (`2 * knots + 1` cells; the two outer ones are empty in training).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValueProfile {
    /// Distinct finite values, strictly ascending.
    knots: Vec<f64>,
    /// Training values equal to each knot.
    at: Vec<u64>,
    /// Training values strictly between knot `i` and knot `i + 1`.
    between: Vec<u64>,
    /// Missing (NaN) training values.
    missing: u64,
}

impl ValueProfile {
    /// Profiles `values` (NaN = missing; infinities count as the largest finite values).
    /// Reorders `values`.
    pub fn from_values(values: &mut Vec<f64>) -> ValueProfile {
        let before = values.len();
        values.retain(|v| !v.is_nan());
        let missing = (before - values.len()) as u64;
        for v in values.iter_mut() {
            *v = normalize(*v);
        }
        values.sort_unstable_by(f64::total_cmp);
        let mut runs: Vec<(f64, u64)> = Vec::new();
        for &v in values.iter() {
            let len = runs.len();
            match runs.last_mut() {
                Some((last, n)) if *last == v => *n += 1,
                // One run past the limit is enough to know the knots must be sampled.
                _ if len > MAX_KNOTS => break,
                _ => runs.push((v, 1)),
            }
        }
        if runs.len() <= MAX_KNOTS {
            let knots: Vec<f64> = runs.iter().map(|r| r.0).collect();
            let between = vec![0; knots.len().saturating_sub(1)];
            return ValueProfile {
                knots,
                at: runs.iter().map(|r| r.1).collect(),
                between,
                missing,
            };
        }
        let n = values.len();
        let last = MAX_KNOTS - 1;
        let mut knots: Vec<f64> =
            (0..MAX_KNOTS).map(|k| values[(k * (n - 1) + last / 2) / last]).collect();
        knots.dedup();
        let below = |v: f64| values.partition_point(|&x| x < v) as u64;
        let upto = |v: f64| values.partition_point(|&x| x <= v) as u64;
        let at = knots.iter().map(|&k| upto(k) - below(k)).collect();
        let between = knots.windows(2).map(|w| below(w[1]) - upto(w[0])).collect();
        ValueProfile { knots, at, between, missing }
    }

    /// Profiles the distribution a quantile sketch describes (the detector's training
    /// scores, which the calibration already keeps): knots at evenly spaced quantiles,
    /// counts from the sketch's CDF scaled to its count. Ties are kept as point masses
    /// to within the sketch's resolution (0.1% of the mass).
    pub fn from_sketch(sketch: &QuantileSketch) -> ValueProfile {
        let n = sketch.count() as f64;
        let last = (MAX_KNOTS - 1) as f64;
        let mut knots: Vec<f64> =
            (0..MAX_KNOTS).map(|k| normalize(sketch.quantile(k as f64 / last))).collect();
        knots.retain(|k| !k.is_nan());
        knots.dedup();
        // Cumulative counts below and up to each knot, rounded once each (so that the
        // counts add up to the sketch's count) and kept non-decreasing.
        let mut cumulative = Vec::with_capacity(2 * knots.len());
        let mut last_count = 0u64;
        for &k in &knots {
            for share in [sketch.cdf(k.next_down()), sketch.cdf(k)] {
                last_count = last_count.max((n * share).round() as u64);
                cumulative.push(last_count);
            }
        }
        let at = cumulative.chunks_exact(2).map(|c| c[1] - c[0]).collect();
        // From "up to knot i" to "below knot i + 1".
        let between =
            cumulative.iter().skip(1).step_by(2).zip(cumulative.iter().skip(2).step_by(2));
        let between = between.map(|(upto, below)| below - upto).collect();
        ValueProfile { knots, at, between, missing: 0 }
    }

    /// The knots, ascending.
    pub fn knots(&self) -> &[f64] {
        &self.knots
    }

    /// Missing (NaN) training values.
    pub fn missing(&self) -> u64 {
        self.missing
    }

    /// Finite training values.
    pub fn finite(&self) -> u64 {
        self.at.iter().chain(&self.between).sum()
    }

    /// Number of cells (see the type documentation).
    pub fn cells(&self) -> usize {
        2 * self.knots.len() + 1
    }

    /// The cell of a value; `None` for NaN.
    ///
    /// The knots below the value are counted rather than binary-searched: there are few
    /// of them, the comparisons vectorize, and there is no chain of dependent loads.
    #[inline(always)]
    pub fn cell(&self, x: f64) -> Option<usize> {
        if x.is_nan() {
            return None;
        }
        let x = normalize(x);
        let i = self.knots.iter().fold(0, |n, &k| n + usize::from(k < x));
        Some(if self.knots.get(i) == Some(&x) { 2 * i + 1 } else { 2 * i })
    }

    /// Training counts of every cell, in cell order.
    pub fn cell_counts(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.cells());
        out.push(0);
        for (i, &at) in self.at.iter().enumerate() {
            out.push(at);
            out.push(self.between.get(i).copied().unwrap_or(0));
        }
        out
    }

    /// Whether every finite training value was the same (exactly one knot).
    pub fn is_constant(&self) -> bool {
        self.knots.len() == 1
    }

    /// Checks the invariants a profile read from a file must hold.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.at.len() != self.knots.len()
            || self.between.len() != self.knots.len().saturating_sub(1)
        {
            return Err("counts do not match the knots");
        }
        if self.knots.iter().any(|k| k.is_nan()) || self.knots.windows(2).any(|w| w[0] >= w[1]) {
            return Err("knots are not strictly ascending numbers");
        }
        if self.knots.len() > MAX_KNOTS {
            return Err("too many knots");
        }
        if self
            .at
            .iter()
            .chain(&self.between)
            .try_fold(self.missing, |a, &b| a.checked_add(b))
            .is_none()
        {
            return Err("counts overflow");
        }
        Ok(())
    }
}

/// One value as profiles compare it: infinities clamped to the finite range (they say
/// "very large"), and -0 the same as 0.
fn normalize(x: f64) -> f64 {
    if x == 0.0 { 0.0 } else { x.clamp(-f64::MAX, f64::MAX) }
}

/// What the training data looked like, per feature and for the detector score: the
/// reference that drift is measured against (see [`super::DriftMonitor`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingProfile {
    /// Records the model was trained on.
    records: u64,
    /// Records whose feature values were profiled (all of them, or an even sample of
    /// [`MAX_PROFILED_ROWS`]).
    profiled: u64,
    /// One profile per feature column, in the order of [`FeaturePipeline::names`], of
    /// the raw (unscaled) values.
    features: Vec<ValueProfile>,
    /// The detector's raw training scores.
    score: ValueProfile,
}

impl TrainingProfile {
    /// Profiles the training data: streams `records` (in time order, as in training)
    /// through the fitted `features` to get their raw rows, and takes the score
    /// distribution from the calibration sketch of the training scores.
    pub fn from_training(
        features: &FeaturePipeline,
        records: &[Record<'_>],
        scores: &QuantileSketch,
    ) -> TrainingProfile {
        TrainingProfile::from_training_within(features, records, None, scores)
    }

    /// [`TrainingProfile::from_training`] for a model fitted on the records `learn`
    /// marks within the stream of all `records` (see
    /// [`FeaturePipeline::fit_within`]): every record goes through the stream, the
    /// marked ones are profiled.
    pub fn from_training_within(
        features: &FeaturePipeline,
        records: &[Record<'_>],
        learn: Option<&[bool]>,
        scores: &QuantileSketch,
    ) -> TrainingProfile {
        let learned = |i: usize| learn.is_none_or(|l| l.get(i).copied().unwrap_or(false));
        let n =
            learn.map_or(records.len(), |l| l.iter().take(records.len()).filter(|k| **k).count());
        let width = features.names().len();
        let stride = n.div_ceil(MAX_PROFILED_ROWS).max(1);
        let rows = n.div_ceil(stride);
        let mut columns: Vec<Vec<f64>> = (0..width).map(|_| Vec::with_capacity(rows)).collect();
        let mut stream = features.stream();
        let (mut raw, mut scaled) = (Vec::with_capacity(width), Vec::with_capacity(width));
        let mut k = 0;
        for (i, record) in records.iter().enumerate() {
            // Every record goes through the stream: the window features depend on all of
            // them, sampled or not.
            stream.push(record, &mut raw, &mut scaled);
            if !learned(i) {
                continue;
            }
            if k % stride == 0 {
                for (column, &x) in columns.iter_mut().zip(&raw) {
                    column.push(x);
                }
            }
            k += 1;
        }
        TrainingProfile {
            records: n as u64,
            profiled: rows as u64,
            features: columns.iter_mut().map(ValueProfile::from_values).collect(),
            score: ValueProfile::from_sketch(scores),
        }
    }

    /// Records the model was trained on.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Records whose feature values were profiled.
    pub fn profiled(&self) -> u64 {
        self.profiled
    }

    /// The feature profiles, in column order.
    pub fn features(&self) -> &[ValueProfile] {
        &self.features
    }

    /// The profile of the detector's raw training scores.
    pub fn score(&self) -> &ValueProfile {
        &self.score
    }
}

#[cfg(test)]
impl TrainingProfile {
    /// A profile of `columns` (the values of each feature over the same records) and of
    /// the raw training `scores`.
    pub(crate) fn of_columns(mut columns: Vec<Vec<f64>>, scores: &[f64]) -> TrainingProfile {
        let records = columns.first().map_or(0, Vec::len) as u64;
        TrainingProfile {
            records,
            profiled: records,
            features: columns.iter_mut().map(ValueProfile::from_values).collect(),
            score: ValueProfile::from_sketch(&QuantileSketch::from_scores(scores).expect("finite")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discrete_values_are_kept_exactly() {
        let mut v = vec![0.0, 1.0, 0.0, f64::NAN, 3.0, 0.0, -0.0];
        let p = ValueProfile::from_values(&mut v);
        assert_eq!(p.knots(), &[0.0, 1.0, 3.0]);
        assert_eq!(p.cell_counts(), vec![0, 4, 0, 1, 0, 1, 0]);
        assert_eq!((p.finite(), p.missing()), (6, 1));
        assert_eq!(p.cell(-1.0), Some(0));
        assert_eq!(p.cell(0.0), Some(1));
        assert_eq!(p.cell(-0.0), Some(1));
        assert_eq!(p.cell(2.0), Some(4));
        assert_eq!(p.cell(3.0), Some(5));
        assert_eq!(p.cell(f64::INFINITY), Some(6));
        assert_eq!(p.cell(f64::NAN), None);
        assert!(p.check().is_ok());
    }

    #[test]
    fn continuous_values_are_bounded_and_counted() {
        let mut v: Vec<f64> = (0..10_000).map(|i| f64::from(i) * 0.5).collect();
        let p = ValueProfile::from_values(&mut v);
        assert_eq!(p.knots().len(), MAX_KNOTS);
        assert_eq!(p.finite(), 10_000);
        assert_eq!(p.knots()[0], 0.0);
        assert_eq!(p.knots()[MAX_KNOTS - 1], 4999.5);
        assert_eq!(p.cell_counts().iter().sum::<u64>(), 10_000);
        assert!(p.check().is_ok());
    }

    #[test]
    fn counting_finds_the_cell_of_the_binary_search() {
        let mut v: Vec<f64> = (0..500).map(|i| f64::from(i % 97) * 1.5 - 20.0).collect();
        v.extend([f64::NAN, 0.0, 1e300]);
        let p = ValueProfile::from_values(&mut v);
        let probes = [f64::NEG_INFINITY, -f64::MAX, -21.0, -20.0, -0.0, 0.0, 0.7, 1.5, 124.0];
        let more = [124.5, 1e300, 1e301, f64::MAX, f64::INFINITY, f64::NAN, f64::MIN_POSITIVE];
        // The cell as a binary search over the ascending knots finds it.
        let searched = |p: &ValueProfile, x: f64| {
            if x.is_nan() {
                return None;
            }
            let x = normalize(x);
            let i = p.knots().partition_point(|&k| k < x);
            Some(if p.knots().get(i) == Some(&x) { 2 * i + 1 } else { 2 * i })
        };
        for x in probes.into_iter().chain(more).chain(p.knots().to_vec()) {
            assert_eq!(p.cell(x), searched(&p, x), "{x}");
        }
        let empty = ValueProfile::from_values(&mut vec![f64::NAN]);
        assert_eq!(empty.cell(3.0), searched(&empty, 3.0));
    }

    #[test]
    fn all_missing_and_constant() {
        let p = ValueProfile::from_values(&mut vec![f64::NAN; 4]);
        assert_eq!((p.cells(), p.finite(), p.missing()), (1, 0, 4));
        assert_eq!(p.cell(5.0), Some(0));
        let c = ValueProfile::from_values(&mut vec![2.0; 4]);
        assert!(c.is_constant());
        assert_eq!(c.cell_counts(), vec![0, 4, 0]);
    }

    #[test]
    fn sketch_profile_matches_the_scores() {
        let scores: Vec<f64> =
            (0..1000).map(|i| if i < 300 { 0.5 } else { f64::from(i) }).collect();
        let sketch = QuantileSketch::from_scores(&scores).expect("finite");
        let p = ValueProfile::from_sketch(&sketch);
        assert!(p.check().is_ok());
        assert_eq!(p.knots()[0], 0.5);
        let at_tie = p.cell_counts()[1];
        assert!((295..=305).contains(&at_tie), "{at_tie}");
        assert_eq!(p.finite(), 1000);
    }
}
