//! Robust z-score hyperparameters.

use crate::error::ParamError;
use crate::traits::ParamGuard;
use serde::{Deserialize, Serialize};

/// How per-feature surprises combine into one score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregate {
    /// The largest surprise: one extreme feature is enough.
    Max,
    /// Root mean square of the surprises: many moderately unusual features add up.
    Rms,
}

/// Unchecked robust z-score parameters (builder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZScoreParams {
    /// Per-feature surprises (decades of improbability, `-log10 p`) are capped here so a
    /// single absurd value cannot swamp the root mean square. The cap is far above
    /// anything a training row reaches, so no training mass piles up at it (which would
    /// put the alerting threshold at the cap, where nothing can exceed it).
    pub clip: f64,
    /// How per-feature values combine.
    pub aggregate: Aggregate,
}

impl Default for ZScoreParams {
    fn default() -> Self {
        Self { clip: 50.0, aggregate: Aggregate::Max }
    }
}

impl ZScoreParams {
    /// Default parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the clip value.
    pub fn clip(mut self, clip: f64) -> Self {
        self.clip = clip;
        self
    }

    /// Sets the aggregation.
    pub fn aggregate(mut self, aggregate: Aggregate) -> Self {
        self.aggregate = aggregate;
        self
    }
}

/// Validated robust z-score parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZScoreValidParams(pub(crate) ZScoreParams);

impl ParamGuard for ZScoreParams {
    type Checked = ZScoreValidParams;

    fn check(&self) -> Result<ZScoreValidParams, ParamError> {
        if self.clip.is_nan() || self.clip <= 0.0 {
            return Err(ParamError::new("clip", "must be > 0"));
        }
        Ok(ZScoreValidParams(self.clone()))
    }
}
