//! Tail-probability hyperparameters.

use crate::error::ParamError;
use crate::traits::ParamGuard;
use serde::{Deserialize, Serialize};

/// Largest accepted `top_k`: the top-k buffer lives on the stack so scoring never
/// allocates.
pub const MAX_TOP_K: usize = 32;

/// Which side of a feature's distribution counts as unusual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sides {
    /// Both unusually high and unusually low values (a scraper's too-regular timing is
    /// anomalous on the low side).
    Both,
    /// Only unusually high values.
    Upper,
}

/// Unchecked tail-probability parameters (builder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailParams {
    /// The row score sums the `top_k` largest per-feature surprises: 1 is the plain
    /// maximum, which one drifting feature can dominate; the default 16 of ~100 features
    /// lets several moderately rare values add up without letting the ordinary rest
    /// drown a few extreme ones (best of 1..32 on simulated traffic and CSIC 2010).
    pub top_k: usize,
    /// Which tails count.
    pub sides: Sides,
    /// Features whose training values trend with row (time) order more strongly than
    /// this rank correlation are not scored: a calendar or age feature learned over a
    /// short span is out of range for all later traffic by construction, which says
    /// nothing about any one request. 1 scores every feature.
    pub max_trend: f64,
}

impl Default for TailParams {
    fn default() -> Self {
        Self { top_k: 16, sides: Sides::Both, max_trend: 0.9 }
    }
}

impl TailParams {
    /// Default parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how many per-feature surprises are summed.
    pub fn top_k(mut self, top_k: usize) -> Self {
        self.top_k = top_k;
        self
    }

    /// Sets which tails count.
    pub fn sides(mut self, sides: Sides) -> Self {
        self.sides = sides;
        self
    }

    /// Sets the trend above which a feature is not scored.
    pub fn max_trend(mut self, max_trend: f64) -> Self {
        self.max_trend = max_trend;
        self
    }
}

/// Validated tail-probability parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailValidParams(pub(crate) TailParams);

impl ParamGuard for TailParams {
    type Checked = TailValidParams;

    fn check(&self) -> Result<TailValidParams, ParamError> {
        if !(1..=MAX_TOP_K).contains(&self.top_k) {
            return Err(ParamError::new("top_k", "must be between 1 and 32"));
        }
        if !(self.max_trend > 0.0 && self.max_trend <= 1.0) {
            return Err(ParamError::new("max_trend", "must be in (0, 1]"));
        }
        Ok(TailValidParams(self.clone()))
    }
}
