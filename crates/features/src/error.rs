//! Errors of the features stage.

use thiserror::Error;

/// Why a feature pipeline could not be fitted or configured.
#[derive(Debug, Error)]
pub enum FeatureError {
    /// `fit` was given no training records.
    #[error("no training records: the feature pipeline needs at least one record to fit")]
    EmptyTraining,
    /// A configuration value is out of its range.
    #[error("invalid feature configuration: {field}: {reason}")]
    InvalidConfig {
        /// The configuration key at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Every feature family is disabled, so there is nothing to compute.
    #[error("invalid feature configuration: every feature family is disabled")]
    NoFeatures,
}
