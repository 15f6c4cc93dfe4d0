//! Error types shared by every detector.

use thiserror::Error;

/// A matrix could not be built from the given buffer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MatrixError {
    /// The buffer length is not `rows * cols`.
    #[error("matrix buffer has {len} values, expected rows ({rows}) x cols ({cols})")]
    LengthMismatch {
        /// Values in the buffer.
        len: usize,
        /// Declared rows.
        rows: usize,
        /// Declared columns.
        cols: usize,
    },
}

/// A hyperparameter is outside its valid range.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("invalid parameter `{param}`: {reason}")]
pub struct ParamError {
    /// Name of the parameter, as spelled in the params builder.
    pub param: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ParamError {
    /// Builds an error for `param`.
    pub fn new(param: &'static str, reason: impl Into<String>) -> Self {
        Self { param, reason: reason.into() }
    }
}

/// Fitting a detector failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FitError {
    /// The parameters did not pass validation.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The training matrix has no rows.
    #[error("training set is empty")]
    Empty,
    /// The training matrix has no columns.
    #[error("training set has no feature columns")]
    NoColumns,
    /// The training matrix has fewer rows than the detector needs.
    #[error("training set has {rows} rows, at least {min} are needed")]
    TooFewRows {
        /// Rows given.
        rows: usize,
        /// Rows needed.
        min: usize,
    },
    /// Every training row is the same, so there is nothing to learn a spread from.
    #[error("all {rows} training rows are identical; nothing to learn")]
    IdenticalRows {
        /// Rows given.
        rows: usize,
    },
    /// The fitted model produced no usable training scores (for example, all non-finite).
    #[error("{detector}: {reason}")]
    Degenerate {
        /// Detector name.
        detector: &'static str,
        /// What went wrong.
        reason: &'static str,
    },
    /// A training value is NaN or infinite.
    #[error("training value at row {row}, column {col} is not finite ({value})")]
    NonFinite {
        /// Zero-based row index.
        row: usize,
        /// Zero-based column (feature) index.
        col: usize,
        /// The offending value.
        value: f64,
    },
}

/// Scoring input does not match the fitted model.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScoreError {
    /// The matrix or row has a different number of columns than the training data.
    #[error("model was trained on {expected} features, input has {found}")]
    ColumnMismatch {
        /// Columns at training time.
        expected: usize,
        /// Columns given.
        found: usize,
    },
}

/// A fitted detector's state is inconsistent: an index out of range, mismatched lengths or
/// a value no fit produces (a damaged, hand-edited or foreign model file).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{detector} model state is invalid: {reason}")]
pub struct InvalidModel {
    /// Detector name.
    pub detector: &'static str,
    /// The first inconsistency found.
    pub reason: String,
}

impl InvalidModel {
    /// Builds an error for `detector`.
    pub fn new(detector: &'static str, reason: impl Into<String>) -> Self {
        Self { detector, reason: reason.into() }
    }
}
