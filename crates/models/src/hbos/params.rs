//! HBOS hyperparameters.

use crate::error::ParamError;
use crate::traits::ParamGuard;
use serde::{Deserialize, Serialize};

/// How bin edges are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinMode {
    /// Equal-width bins between the training minimum and maximum.
    EqualWidth,
    /// Dynamic bins holding about the same number of training values each (edges at
    /// quantiles); better for long-tailed features such as byte counts, but a cluster of
    /// outliers present in training shares a wide tail bin with ordinary tail values, so
    /// it needs cleaner training data than equal-width bins.
    Quantile,
}

/// Unchecked HBOS parameters (builder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HbosParams {
    /// Bins per feature.
    pub bins: usize,
    /// Bin placement.
    pub mode: BinMode,
    /// Pseudo-count added to every bin so empty bins have a finite density.
    pub alpha: f64,
}

impl Default for HbosParams {
    fn default() -> Self {
        Self { bins: 20, mode: BinMode::EqualWidth, alpha: 0.5 }
    }
}

impl HbosParams {
    /// Default parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the number of bins.
    pub fn bins(mut self, bins: usize) -> Self {
        self.bins = bins;
        self
    }

    /// Sets the bin placement.
    pub fn mode(mut self, mode: BinMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the pseudo-count.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }
}

/// Validated HBOS parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HbosValidParams(pub(crate) HbosParams);

impl ParamGuard for HbosParams {
    type Checked = HbosValidParams;

    fn check(&self) -> Result<HbosValidParams, ParamError> {
        if !(1..=100_000).contains(&self.bins) {
            return Err(ParamError::new("bins", "must be between 1 and 100000"));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(ParamError::new("alpha", "must be a finite number > 0"));
        }
        Ok(HbosValidParams(self.clone()))
    }
}
