//! Errors of training, scoring and the model file.

use anomalog_features::FeatureError;
use anomalog_models::file::ModelFileError;
use anomalog_models::{FitError, MatrixError};

/// What can go wrong between records and a trained model.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// No record to train on.
    #[error("no training records (did every line fail to parse?)")]
    NoTrainingData,
    /// Feature extraction could not be fitted.
    #[error("features: {0}")]
    Features(#[from] FeatureError),
    /// The detector could not be fitted.
    #[error("detector: {0}")]
    Fit(#[from] FitError),
    /// The feature matrix is inconsistent (a bug, reported rather than hidden).
    #[error("feature matrix: {0}")]
    Matrix(#[from] MatrixError),
    /// The model file could not be read or written. (What is wrong is in the message,
    /// not a source of its own, so that a chain of errors says it once.)
    #[error("{path}: {error}")]
    ModelFile {
        /// The model file.
        path: String,
        /// What is wrong with it.
        error: ModelFileError,
    },
    /// The model was trained with geography features and needs its database.
    #[error(
        "{path}: the model was trained with geography features; give the database with --geoip FILE"
    )]
    GeoIpRequired {
        /// The model file.
        path: String,
    },
    /// A file could not be opened or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error, in the message as for `ModelFile`.
        error: std::io::Error,
    },
}
