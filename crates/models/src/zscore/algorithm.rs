//! Robust z-score fitting, scoring and explanation.

use super::params::{Aggregate, ZScoreParams, ZScoreValidParams};
use crate::error::{FitError, InvalidModel};
use crate::impute::Imputer;
use crate::matrix::MatrixView;
use crate::stats::{column, quantile_unsorted, validate_training};
use crate::traits::{Detector, Fit, ParamGuard};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// MAD of a normal distribution times this is its standard deviation.
const MAD_TO_SIGMA: f64 = 1.482_6;
/// The 99th percentile of a standard normal: a side's scale puts its 1st / 99th
/// percentile at this z.
const Z99: f64 = 2.326_35;
/// Deviation unit of a side that never moved, relative to the value's magnitude.
const CONSTANT_UNIT: f64 = 1e-3;
/// Pseudo-count for the frequency of a deviation, so one never seen is rare, not
/// impossible.
const PSEUDO: f64 = 0.5;

/// How one feature turns a value into a surprise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum FeatureScale {
    /// A continuous feature: robust z on each side of the median, with a per-side scale.
    Dense {
        /// Scale below the median.
        lo: f64,
        /// Scale above the median.
        hi: f64,
    },
    /// A feature whose median value holds at least half of the training rows (a sparse
    /// count, a flag, a constant): the MAD is zero, so any deviation would be "infinitely"
    /// many MADs away. Instead, a deviation costs the surprise of deviating at all on
    /// that side, plus the log of its size relative to the typical deviation there.
    Rare {
        /// `-log10 P(x < median)` and `-log10 P(x > median)`.
        surprise_lo: f64,
        surprise_hi: f64,
        /// Median size of the deviations below and above the median.
        dev_lo: f64,
        dev_hi: f64,
    },
}

impl FeatureScale {
    /// Reorders `values`.
    fn fit(values: &mut [f64], median: f64) -> Self {
        let n = values.len() as f64;
        let mut dev: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
        let mad = quantile_unsorted(&mut dev, 0.5) * MAD_TO_SIGMA;
        if mad > 0.0 {
            // Tail-aware: a heavy tail widens its side's scale so that the 1st / 99th
            // percentile sits at |z| = 2.33, never narrower than the MAD scale.
            let q01 = quantile_unsorted(values, 0.01);
            let q99 = quantile_unsorted(values, 0.99);
            return Self::Dense {
                lo: mad.max((median - q01) / Z99),
                hi: mad.max((q99 - median) / Z99),
            };
        }
        let mut above: Vec<f64> =
            values.iter().filter(|&&v| v > median).map(|v| v - median).collect();
        let mut below: Vec<f64> =
            values.iter().filter(|&&v| v < median).map(|v| median - v).collect();
        let surprise = |k: usize| -((k as f64 + PSEUDO) / (n + 1.0)).log10();
        let fallback = CONSTANT_UNIT * median.abs().max(1.0);
        let typical = |d: &mut Vec<f64>| {
            if d.is_empty() { f64::NAN } else { quantile_unsorted(d, 0.5) }
        };
        let (t_lo, t_hi) = (typical(&mut below), typical(&mut above));
        // A side without training deviations borrows the other side's unit.
        let unit = |own: f64, other: f64| {
            [own, other].into_iter().find(|u| *u > 0.0 && u.is_finite()).unwrap_or(fallback)
        };
        Self::Rare {
            surprise_lo: surprise(below.len()),
            surprise_hi: surprise(above.len()),
            dev_lo: unit(t_lo, t_hi),
            dev_hi: unit(t_hi, t_lo),
        }
    }

    /// Checks that every scale is a positive number and every surprise finite.
    fn check(&self) -> Result<(), String> {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        let ok = match *self {
            Self::Dense { lo, hi } => positive(lo) && positive(hi),
            Self::Rare { surprise_lo, surprise_hi, dev_lo, dev_hi } => {
                surprise_lo.is_finite()
                    && surprise_hi.is_finite()
                    && positive(dev_lo)
                    && positive(dev_hi)
            }
        };
        if ok { Ok(()) } else { Err(format!("scale {self:?} is not positive and finite")) }
    }

    /// `-log10` of the one-sided tail probability of a deviation `d` from the median.
    fn surprise(&self, d: f64) -> f64 {
        if d == 0.0 {
            return 0.0;
        }
        match *self {
            Self::Dense { lo, hi } => normal_tail_surprise(if d > 0.0 { d / hi } else { -d / lo }),
            Self::Rare { surprise_lo, surprise_hi, dev_lo, dev_hi } => {
                let (base, unit) =
                    if d > 0.0 { (surprise_hi, dev_hi) } else { (surprise_lo, dev_lo) };
                base + (1.0 + d.abs() / unit).log10()
            }
        }
    }
}

/// `-log10 P(Z >= z)` for a standard normal `Z` and `z >= 0`, computed in log space so
/// it stays finite for any z (complementary error function approximation with
/// fractional error below 1.2e-7, Numerical Recipes `erfcc`).
fn normal_tail_surprise(z: f64) -> f64 {
    let x = z.max(0.0) / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let ln_erfc = t.ln() - x * x + poly;
    -(ln_erfc - std::f64::consts::LN_2) / std::f64::consts::LN_10
}

/// A fitted per-feature robust z-score model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZScore {
    params: ZScoreParams,
    scales: Vec<FeatureScale>,
    imputer: Imputer,
}

impl Fit for ZScoreParams {
    type Model = ZScore;

    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<ZScore, FitError> {
        self.check()?.fit(x, seed)
    }
}

impl Fit for ZScoreValidParams {
    type Model = ZScore;

    /// Deterministic; the seed is unused.
    fn fit(&self, x: MatrixView<'_>, _seed: u64) -> Result<ZScore, FitError> {
        validate_training(x, 2)?;
        let (medians, scales): (Vec<f64>, Vec<FeatureScale>) = (0..x.cols())
            .into_par_iter()
            .map(|c| {
                let mut values = column(x, c);
                let m = quantile_unsorted(&mut values, 0.5);
                (m, FeatureScale::fit(&mut values, m))
            })
            .unzip();
        Ok(ZScore { params: self.0.clone(), scales, imputer: Imputer::new(medians) })
    }
}

impl ZScore {
    /// The parameters the model was fitted with.
    pub fn params(&self) -> &ZScoreParams {
        &self.params
    }

    /// Whether feature `f` is treated as a rare-event feature (its median holds at least
    /// half of the training rows); `None` for an unknown feature.
    pub fn is_rare_event(&self, f: usize) -> Option<bool> {
        self.scales.get(f).map(|s| matches!(s, FeatureScale::Rare { .. }))
    }

    /// Per-feature surprises of a clean row, capped at the clip.
    fn surprises<'a>(&'a self, row: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
        let clip = self.params.clip;
        row.iter()
            .zip(self.imputer.medians())
            .zip(&self.scales)
            .map(move |((v, m), s)| s.surprise(v - m).min(clip))
    }
}

impl Detector for ZScore {
    fn name(&self) -> &'static str {
        "zscore"
    }

    fn n_features(&self) -> usize {
        self.scales.len()
    }

    fn medians(&self) -> &[f64] {
        self.imputer.medians()
    }

    fn validate(&self) -> Result<(), InvalidModel> {
        let err = |reason: String| InvalidModel::new("zscore", reason);
        self.params.check().map_err(|e| err(e.to_string()))?;
        self.imputer.check(self.scales.len()).map_err(err)?;
        for (f, s) in self.scales.iter().enumerate() {
            s.check().map_err(|reason| err(format!("feature {f}: {reason}")))?;
        }
        Ok(())
    }

    fn score_row(&self, row: &[f64]) -> f64 {
        if row.len() != self.scales.len() {
            return f64::NAN;
        }
        let row = self.imputer.clean(row);
        let s = self.surprises(&row);
        match self.params.aggregate {
            Aggregate::Max => s.fold(0.0, f64::max),
            Aggregate::Rms => (s.map(|v| v * v).sum::<f64>() / row.len() as f64).sqrt(),
        }
    }

    /// Each feature's surprise.
    fn explain(&self, row: &[f64]) -> Vec<(usize, f64)> {
        if row.len() != self.scales.len() {
            return Vec::new();
        }
        let row = self.imputer.clean(row);
        self.surprises(&row).enumerate().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_tail() {
        assert!((normal_tail_surprise(0.0) - 2f64.log10()).abs() < 1e-6);
        // P(Z >= 2.326) = 1%, P(Z >= 3.719) = 1e-4.
        assert!((normal_tail_surprise(Z99) - 2.0).abs() < 1e-3);
        assert!((normal_tail_surprise(3.719) - 4.0).abs() < 1e-2);
        assert!(normal_tail_surprise(100.0).is_finite());
        assert!(normal_tail_surprise(40.0) > normal_tail_surprise(39.0));
    }
}
