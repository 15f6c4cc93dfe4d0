//! Robust z-score fitting, scoring and explanation.

use super::params::{Aggregate, ZScoreParams, ZScoreValidParams};
use crate::error::FitError;
use crate::impute::Imputer;
use crate::matrix::MatrixView;
use crate::stats::{column, quantile_unsorted, validate_training};
use crate::traits::{Detector, Fit, ParamGuard};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// MAD of a normal distribution times this is its standard deviation.
const MAD_TO_SIGMA: f64 = 1.482_6;
/// IQR of a normal distribution divided by this is its standard deviation.
const IQR_TO_SIGMA: f64 = 1.349;
/// Scale of a constant column, relative to its magnitude: any change is then extreme.
const CONSTANT_SCALE: f64 = 1e-3;

/// A robust scale for a column's values, falling back step by step when the spread is
/// zero: MAD x 1.4826, then IQR / 1.349, then the standard deviation (a mostly-constant
/// column with rare other values), then `1e-3 x max(|median|, 1)` (a constant column, where
/// any change is extreme). Reorders `values`.
fn robust_scale(values: &mut [f64], median: f64) -> f64 {
    let mut dev: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    let mad = quantile_unsorted(&mut dev, 0.5) * MAD_TO_SIGMA;
    if mad > 0.0 {
        return mad;
    }
    let iqr = (quantile_unsorted(values, 0.75) - quantile_unsorted(values, 0.25)) / IQR_TO_SIGMA;
    if iqr > 0.0 {
        return iqr;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    if std > 0.0 {
        return std;
    }
    CONSTANT_SCALE * median.abs().max(1.0)
}

/// A fitted per-feature robust z-score model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZScore {
    params: ZScoreParams,
    scales: Vec<f64>,
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
        let (medians, scales): (Vec<f64>, Vec<f64>) = (0..x.cols())
            .into_par_iter()
            .map(|c| {
                let mut values = column(x, c);
                let m = quantile_unsorted(&mut values, 0.5);
                (m, robust_scale(&mut values, m))
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

    /// Per-feature scales (robust standard deviations).
    pub fn scales(&self) -> &[f64] {
        &self.scales
    }

    /// Clipped |z| of each feature of a row with the right length.
    fn abs_z(&self, row: &[f64]) -> Vec<f64> {
        let row = self.imputer.clean(row);
        let clip = self.params.clip;
        row.iter()
            .zip(self.imputer.medians())
            .zip(&self.scales)
            .map(|((v, m), s)| ((v - m) / s).abs().min(clip))
            .collect()
    }

    /// The aggregate of clipped |z| without allocating (the scoring hot path).
    fn aggregate(&self, row: &[f64]) -> f64 {
        let row = self.imputer.clean(row);
        let clip = self.params.clip;
        let z = row
            .iter()
            .zip(self.imputer.medians())
            .zip(&self.scales)
            .map(|((v, m), s)| ((v - m) / s).abs().min(clip));
        match self.params.aggregate {
            Aggregate::Max => z.fold(0.0, f64::max),
            Aggregate::Rms => (z.map(|z| z * z).sum::<f64>() / row.len() as f64).sqrt(),
        }
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

    fn score_row(&self, row: &[f64]) -> f64 {
        if row.len() != self.scales.len() {
            return f64::NAN;
        }
        self.aggregate(row)
    }

    /// Each feature's clipped |z|.
    fn explain(&self, row: &[f64]) -> Vec<(usize, f64)> {
        if row.len() != self.scales.len() {
            return Vec::new();
        }
        self.abs_z(row).into_iter().enumerate().collect()
    }
}
