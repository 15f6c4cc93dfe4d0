//! Errors of the features stage.

use std::path::PathBuf;

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
    /// The MaxMind database given for the geography features cannot be read.
    #[error("cannot read the GeoIP database {}: {reason}", path.display())]
    GeoIp {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Every feature family is disabled, so there is nothing to compute.
    #[error("invalid feature configuration: every feature family is disabled")]
    NoFeatures,
}
