//! Ensemble hyperparameters.

use crate::error::ParamError;
use crate::hbos::HbosParams;
use crate::iforest::IsolationForestParams;
use crate::registry::AnyParams;
use crate::traits::ParamGuard;
use crate::zscore::ZScoreParams;
use crate::{autoencoder::AutoencoderParams, ocsvm::OneClassSvmParams};
use serde::{Deserialize, Serialize};

/// How member values (each in 0..1) combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Combine {
    /// Average: robust to one member's false alarm.
    Mean,
    /// Maximum: flags what any member finds unusual.
    Max,
}

/// Unchecked ensemble parameters (builder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleParams {
    /// Member detectors (not ensembles themselves).
    pub members: Vec<AnyParams>,
    /// How member values combine.
    pub combine: Combine,
}

impl Default for EnsembleParams {
    /// Isolation Forest + HBOS + robust z-score, averaged: the forest sees interactions,
    /// HBOS rare values per feature, z-scores single extremes; all three fit in seconds.
    fn default() -> Self {
        Self {
            members: vec![
                AnyParams::IsolationForest(IsolationForestParams::new()),
                AnyParams::Hbos(HbosParams::new()),
                AnyParams::ZScore(ZScoreParams::new()),
            ],
            combine: Combine::Mean,
        }
    }
}

impl EnsembleParams {
    /// The default ensemble.
    pub fn new() -> Self {
        Self::default()
    }

    /// The default ensemble plus One-Class SVM and autoencoder (slower to fit).
    pub fn full() -> Self {
        Self::new()
            .with_member(AnyParams::OneClassSvm(OneClassSvmParams::new()))
            .with_member(AnyParams::Autoencoder(AutoencoderParams::new()))
    }

    /// An ensemble of exactly these members.
    pub fn from_members(members: Vec<AnyParams>) -> Self {
        Self { members, combine: Combine::Mean }
    }

    /// Adds a member.
    pub fn with_member(mut self, member: AnyParams) -> Self {
        self.members.push(member);
        self
    }

    /// Sets the combination rule.
    pub fn combine(mut self, combine: Combine) -> Self {
        self.combine = combine;
        self
    }
}

/// Validated ensemble parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleValidParams(pub(crate) EnsembleParams);

impl ParamGuard for EnsembleParams {
    type Checked = EnsembleValidParams;

    fn check(&self) -> Result<EnsembleValidParams, ParamError> {
        if self.members.is_empty() {
            return Err(ParamError::new("members", "an ensemble needs at least one member"));
        }
        for m in &self.members {
            if matches!(m, AnyParams::Ensemble(_)) {
                return Err(ParamError::new("members", "ensembles cannot be nested"));
            }
            m.validate()?;
        }
        Ok(EnsembleValidParams(self.clone()))
    }
}
