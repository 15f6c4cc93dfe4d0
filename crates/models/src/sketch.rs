//! A compact quantile sketch of a score distribution, used as an empirical CDF.

use crate::stats::{quantile_sorted, sort_f64};
use serde::{Deserialize, Serialize};

/// Evenly spaced quantile levels kept over the whole distribution (0, 0.001, ..., 1).
const BODY_LEVELS: usize = 1001;
/// Extra levels between 0.999 and 1 so thresholds for rare alerts (contamination down to
/// 1e-6) still interpolate between real scores instead of jumping to the maximum.
const TAIL_LEVELS: usize = 999;

/// Quantiles of a set of scores at fixed probability levels.
///
/// Empirical CDF and quantile function interpolate linearly between stored levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileSketch {
    /// Probability levels, ascending, from 0 to 1.
    levels: Vec<f64>,
    /// Score at each level, non-decreasing.
    values: Vec<f64>,
    /// Number of finite scores summarized.
    count: u64,
}

impl QuantileSketch {
    /// Summarizes `scores`, ignoring non-finite values; `None` if none is finite.
    pub fn from_scores(scores: &[f64]) -> Option<Self> {
        let mut sorted: Vec<f64> = scores.iter().copied().filter(|s| s.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sort_f64(&mut sorted);
        let body = (0..BODY_LEVELS).map(|i| i as f64 / (BODY_LEVELS - 1) as f64);
        let tail = (1..=TAIL_LEVELS).map(|i| 0.999 + 0.001 * i as f64 / (TAIL_LEVELS + 1) as f64);
        let mut levels: Vec<f64> = body.chain(tail).collect();
        sort_f64(&mut levels);
        let values = levels.iter().map(|&p| quantile_sorted(&sorted, p)).collect();
        Some(Self { levels, values, count: sorted.len() as u64 })
    }

    /// Checks what the lookups rely on: as many levels as values (at least one), levels
    /// strictly increasing within 0..=1, values finite and non-decreasing.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.values.is_empty() || self.levels.len() != self.values.len() {
            return Err(format!(
                "score sketch has {} levels and {} values",
                self.levels.len(),
                self.values.len()
            ));
        }
        if self.levels.iter().any(|l| !(0.0..=1.0).contains(l))
            || self.levels.windows(2).any(|w| w[0] >= w[1])
        {
            return Err("score sketch levels are not increasing within 0..1".into());
        }
        if self.values.iter().any(|v| !v.is_finite()) || self.values.windows(2).any(|w| w[0] > w[1])
        {
            return Err("score sketch values are not finite and non-decreasing".into());
        }
        if self.count == 0 {
            return Err("score sketch summarizes no score".into());
        }
        Ok(())
    }

    /// Number of scores summarized.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Smallest and largest summarized score.
    pub fn range(&self) -> (f64, f64) {
        (self.values[0], self.values[self.values.len() - 1])
    }

    /// Score at probability `p` (clamped to 0..=1).
    pub fn quantile(&self, p: f64) -> f64 {
        let p = if p.is_nan() { 0.5 } else { p.clamp(0.0, 1.0) };
        let hi = self.levels.partition_point(|&l| l < p).min(self.levels.len() - 1);
        if hi == 0 {
            return self.values[0];
        }
        let (l0, l1) = (self.levels[hi - 1], self.levels[hi]);
        let (v0, v1) = (self.values[hi - 1], self.values[hi]);
        v0 + (v1 - v0) * (p - l0) / (l1 - l0)
    }

    /// Fraction of summarized scores at or below `score`, in 0..=1 (NaN maps to 0).
    pub fn cdf(&self, score: f64) -> f64 {
        if score.is_nan() {
            return 0.0;
        }
        let v = &self.values;
        // First stored value strictly above `score`: among tied values the CDF takes the
        // highest level, as an empirical CDF does.
        let hi = v.partition_point(|&x| x <= score);
        if hi == 0 {
            return 0.0;
        }
        if hi == v.len() {
            return 1.0;
        }
        let (l0, l1) = (self.levels[hi - 1], self.levels[hi]);
        let (v0, v1) = (v[hi - 1], v[hi]);
        l0 + (l1 - l0) * (score - v0) / (v1 - v0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_scores() {
        let scores: Vec<f64> = (0..=10_000).map(|i| i as f64).collect();
        let s = QuantileSketch::from_scores(&scores).expect("finite");
        assert_eq!(s.count(), 10_001);
        assert!((s.quantile(0.99) - 9900.0).abs() < 1e-6);
        assert!((s.quantile(0.9999) - 9999.0).abs() < 1e-6);
        assert!((s.cdf(2500.0) - 0.25).abs() < 1e-9);
        assert_eq!(s.cdf(-1.0), 0.0);
        assert_eq!(s.cdf(20_000.0), 1.0);
        assert_eq!(s.cdf(f64::NAN), 0.0);
        for p in [0.0, 0.1, 0.5, 0.999, 0.9995, 1.0] {
            assert!((s.cdf(s.quantile(p)) - p).abs() < 1e-9, "p {p}");
        }
    }

    #[test]
    fn ties_and_empty() {
        assert!(QuantileSketch::from_scores(&[f64::NAN]).is_none());
        let s = QuantileSketch::from_scores(&[1.0, 1.0, 1.0, 2.0]).expect("finite");
        assert!(s.cdf(1.0) >= 0.66);
        assert_eq!(s.cdf(2.0), 1.0);
        let c = QuantileSketch::from_scores(&[3.0; 5]).expect("finite");
        assert_eq!(c.cdf(3.0), 1.0);
        assert_eq!(c.cdf(2.9), 0.0);
        assert_eq!(c.quantile(0.5), 3.0);
    }
}
