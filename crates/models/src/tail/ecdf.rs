//! One feature's training distribution as a compact set of knots with exact tie counts,
//! and the tail surprise of a value under it.

use crate::stats::{quantile_sorted, sort_f64};
use serde::{Deserialize, Serialize};

/// Evenly spaced knots over the body of the distribution.
const BODY_KNOTS: usize = 64;
/// Tail probabilities that get a knot on each side: the tails decide the score, so they
/// are resolved down to one in ten million.
const TAIL_LEVELS: [f64; 18] = [
    5e-2, 2e-2, 1e-2, 5e-3, 2e-3, 1e-3, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5, 5e-6, 2e-6, 1e-6, 5e-7,
    2e-7, 1e-7,
];
/// Distance unit beyond a constant side, relative to the value's magnitude: any change of
/// a value that never moved is extreme.
const CONSTANT_UNIT: f64 = 1e-3;
/// Pseudo-count added to tail counts, so a value beyond everything seen has a small but
/// finite probability, `PSEUDO / (n + 1)`.
const PSEUDO: f64 = 0.5;

/// The empirical distribution of one feature, stored as surprises so that scoring needs
/// one binary search and no logarithm for a value inside the training range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FeatureTails {
    /// Distinct knot values, strictly increasing (actual training values).
    values: Vec<f64>,
    /// Per knot: `-log10 P(X >= knot)`.
    up_at: Vec<f64>,
    /// Per knot: `-log10 P(X > knot)`.
    up_after: Vec<f64>,
    /// Per knot: `-log10 P(X <= knot)`.
    lo_at: Vec<f64>,
    /// Per knot: `-log10 P(X < knot)`.
    lo_before: Vec<f64>,
    /// Surprise of a value just beyond the training range, `-log10(PSEUDO / (n + 1))`.
    beyond: f64,
    /// Distance that costs one more decade of surprise below the minimum / above the
    /// maximum: the spread of the outer percent of the distribution.
    unit_lo: f64,
    unit_hi: f64,
    /// Rank correlation of the values with their row order, in -1..=1.
    trend: f64,
}

/// Spearman rank correlation between `values` and their position (tied values share
/// their mid rank, so a constant column has no trend).
#[cfg(test)]
fn rank_trend(values: &[f64]) -> f64 {
    rank_trend_sorted(&sorted_with_rows(values))
}

/// `(value, row)` pairs in ascending value order, ties in row order: one sort gives both
/// the sorted values and the ranks of the trend, and sorting the pairs themselves reads
/// memory in order, unlike sorting row indices by the values they point to.
fn sorted_with_rows(values: &[f64]) -> Vec<(f64, usize)> {
    let mut pairs: Vec<(f64, usize)> = values.iter().copied().zip(0..).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    pairs
}

/// [`rank_trend`] of pairs from [`sorted_with_rows`].
fn rank_trend_sorted(pairs: &[(f64, usize)]) -> f64 {
    let n = pairs.len();
    let mean = (n as f64 - 1.0) / 2.0;
    let (mut cov, mut var_rank) = (0.0, 0.0);
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && pairs[end].0 == pairs[start].0 {
            end += 1;
        }
        let rank = (start + end - 1) as f64 / 2.0 - mean;
        for &(_, row) in &pairs[start..end] {
            cov += rank * (row as f64 - mean);
            var_rank += rank * rank;
        }
        start = end;
    }
    let var_pos = (n as f64 * n as f64 - 1.0) * n as f64 / 12.0;
    if var_rank > 0.0 && var_pos > 0.0 { cov / (var_rank * var_pos).sqrt() } else { 0.0 }
}

impl FeatureTails {
    /// Summarizes a column given in row order (reorders it).
    pub(crate) fn fit(values: &mut [f64]) -> Self {
        let pairs = sorted_with_rows(values);
        let trend = rank_trend_sorted(&pairs);
        for (v, (sorted, _)) in values.iter_mut().zip(pairs) {
            *v = sorted;
        }
        let sorted = &*values;
        let n = sorted.len();
        let last = (n - 1) as f64;
        let mut levels: Vec<f64> = (0..=BODY_KNOTS).map(|i| i as f64 / BODY_KNOTS as f64).collect();
        levels.extend(TAIL_LEVELS.iter().flat_map(|&p| [p, 1.0 - p]));
        sort_f64(&mut levels);
        // Nearest rank, so every knot is a real value and its tie counts are exact.
        let mut knots: Vec<f64> =
            levels.iter().map(|&p| sorted[(p * last).round() as usize]).collect();
        knots.dedup();
        // Tail counts get a pseudo-count, so a value beyond everything seen is rare, not
        // impossible.
        let surprise =
            |count: usize| -((count as f64 + PSEUDO) / (n as f64 + 1.0)).min(1.0).log10();
        let below: Vec<usize> = knots.iter().map(|&k| sorted.partition_point(|&v| v < k)).collect();
        let at_or_below: Vec<usize> =
            knots.iter().map(|&k| sorted.partition_point(|&v| v <= k)).collect();
        let (min, max) = (sorted[0], sorted[n - 1]);
        let median = quantile_sorted(sorted, 0.5);
        let unit = |candidates: [f64; 3], edge: f64| {
            candidates
                .into_iter()
                .find(|u| *u > 0.0 && u.is_finite())
                .unwrap_or(CONSTANT_UNIT * edge.abs().max(1.0))
        };
        Self {
            up_at: below.iter().map(|&b| surprise(n - b)).collect(),
            up_after: at_or_below.iter().map(|&a| surprise(n - a)).collect(),
            lo_at: at_or_below.iter().map(|&a| surprise(a)).collect(),
            lo_before: below.iter().map(|&b| surprise(b)).collect(),
            beyond: surprise(0),
            unit_hi: unit([max - quantile_sorted(sorted, 0.99), max - median, max - min], max),
            unit_lo: unit([quantile_sorted(sorted, 0.01) - min, median - min, max - min], min),
            values: knots,
            trend,
        }
    }

    /// Checks what [`FeatureTails::surprises`] relies on.
    pub(crate) fn check(&self) -> Result<(), String> {
        let v = &self.values;
        if v.is_empty() || v.iter().any(|x| !x.is_finite()) || v.windows(2).any(|w| w[0] >= w[1]) {
            return Err("knots are not finite and strictly increasing".into());
        }
        for (name, s) in [
            ("upper", &self.up_at),
            ("upper-after", &self.up_after),
            ("lower", &self.lo_at),
            ("lower-before", &self.lo_before),
        ] {
            if s.len() != v.len() || s.iter().any(|x| !x.is_finite()) {
                return Err(format!("{} {name} surprises for {} knots", s.len(), v.len()));
            }
        }
        if !self.beyond.is_finite() || !self.trend.is_finite() {
            return Err("tail constants are not finite".into());
        }
        if [self.unit_lo, self.unit_hi].iter().any(|u| !(u.is_finite() && *u > 0.0)) {
            return Err("tail distance units are not positive numbers".into());
        }
        Ok(())
    }

    /// Rank correlation of the training values with their row order.
    pub(crate) fn trend(&self) -> f64 {
        self.trend
    }

    /// `-log10` of the upper and lower tail probabilities, `P(X >= x)` and `P(X <= x)`.
    /// Between knots the surprise is interpolated linearly, i.e. the probability
    /// log-linearly, which follows exponential-like tails; beyond the training range it
    /// grows with the log of the distance in units of the outer tail's spread.
    pub(crate) fn surprises(&self, x: f64) -> (f64, f64) {
        let v = &self.values;
        let i = v.partition_point(|&k| k <= x);
        if i == 0 {
            let far = (1.0 + (v[0] - x) / self.unit_lo).log10();
            return (self.up_at[0], self.beyond + far);
        }
        let j = i - 1;
        if v[j] == x {
            return (self.up_at[j], self.lo_at[j]);
        }
        if i == v.len() {
            let far = (1.0 + (x - v[j]) / self.unit_hi).log10();
            return (self.beyond + far, self.lo_at[j]);
        }
        let frac = (x - v[j]) / (v[i] - v[j]);
        let lerp = |a: f64, b: f64| a + (b - a) * frac;
        (lerp(self.up_after[j], self.up_at[i]), lerp(self.lo_at[j], self.lo_before[i]))
    }

    /// `-log10 P(X >= x)`.
    #[cfg(test)]
    pub(crate) fn upper(&self, x: f64) -> f64 {
        self.surprises(x).0
    }

    /// `-log10 P(X <= x)`.
    #[cfg(test)]
    pub(crate) fn lower(&self, x: f64) -> f64 {
        self.surprises(x).1
    }

    /// Number of knots kept.
    #[cfg(test)]
    pub(crate) fn knots(&self) -> usize {
        self.values.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuous_tails() {
        let mut v: Vec<f64> = (0..10_000).map(f64::from).collect();
        let t = FeatureTails::fit(&mut v);
        assert!(t.knots() < 120);
        // P(X >= 9900) = 1%.
        assert!((t.upper(9900.0) - 2.0).abs() < 0.01, "{}", t.upper(9900.0));
        assert!((t.lower(99.0) - 2.0).abs() < 0.01, "{}", t.lower(99.0));
        assert!(t.upper(5000.0) < 0.31 && t.lower(5000.0) < 0.31);
        assert!(t.upper(-5.0) < 1e-3 && t.lower(20_000.0) < 1e-3);
        // Beyond the range: rarer than anything seen, and further is rarer.
        assert!(t.upper(10_000.0) > t.upper(9_999.0));
        assert!(t.upper(20_000.0) > t.upper(10_000.0));
        assert!(t.lower(-100.0) > t.lower(0.0));
    }

    #[test]
    fn trends() {
        let up: Vec<f64> = (0..500).map(|i| f64::from(i / 3)).collect();
        assert!(rank_trend(&up) > 0.99);
        let down: Vec<f64> = up.iter().rev().copied().collect();
        assert!(rank_trend(&down) < -0.99);
        let flat: Vec<f64> = (0..500).map(|i| f64::from(i % 7)).collect();
        assert!(rank_trend(&flat).abs() < 0.05);
        assert_eq!(rank_trend(&[3.0; 10]), 0.0);
    }

    #[test]
    fn ties_and_constants() {
        // 99% zeros and 1% ones: a one is a 1% event, a zero is nothing.
        let mut v: Vec<f64> = (0..1000).map(|i| if i < 10 { 1.0 } else { 0.0 }).collect();
        let t = FeatureTails::fit(&mut v);
        assert!(t.upper(0.0) < 0.01 && t.lower(0.0) < 0.01);
        assert!((t.upper(1.0) - 2.0).abs() < 0.03, "{}", t.upper(1.0));
        // Between 0 and 1 there is no training value: P(X >= 0.5) = P(X >= 1).
        assert!((t.upper(0.5) - t.upper(1.0)).abs() < 1e-9);
        assert!(t.upper(2.0) > t.upper(1.0));
        let mut c = vec![7.0; 100];
        let t = FeatureTails::fit(&mut c);
        assert!(t.upper(7.0) < 1e-2);
        assert!(t.upper(7.01) > 2.0 && t.lower(6.99) > 2.0);
    }
}
