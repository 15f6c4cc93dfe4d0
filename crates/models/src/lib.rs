//! The learning core of anomalog: unsupervised anomaly detectors over a numeric matrix.
//!
//! # Brief overview
//!
//! The features stage turns log records into a row-major `f64` matrix with named columns;
//! this crate only sees the matrix ([`MatrixView`], owned [`Matrix`]).
//!
//! Every detector has the same shape. Unchecked parameters (a builder with defaults, e.g.
//! [`iforest::IsolationForestParams`]) are validated once by [`ParamGuard::check`] and
//! fitted with [`Fit::fit`]`(matrix, seed)` into a model implementing [`Detector`]:
//! `score` (higher = more anomalous), `score_row`, and `explain` (per-feature
//! contributions). Fitting is deterministic for a given seed.
//!
//! Detectors: [`iforest`] (Isolation Forest and Extended Isolation Forest), [`ocsvm`]
//! (One-Class SVM, Nyström RBF + SGD), [`autoencoder`] (MLP autoencoder), [`hbos`]
//! (histogram-based), [`zscore`] (robust z-scores), [`tail`] (per-feature empirical tail
//! probabilities) and [`ensemble`] (ECDF-normalized combination, the default: HBOS +
//! tail probabilities).
//!
//! Around them:
//! - [`DetectorKind`] picks a detector by name (`"ensemble"`, `"iforest"`, `"eif"`,
//!   `"ocsvm"`, `"autoencoder"`, `"hbos"`, `"zscore"`, `"tail"`); [`AnyParams`] / [`AnyDetector`]
//!   are the serializable enums over all of them.
//! - [`Calibration`] keeps the training score distribution ([`QuantileSketch`]), maps raw
//!   scores to 0..1 and turns a [`ThresholdRule`] (contamination, alerts per day, explicit
//!   score or probability) into a threshold. [`CalibratedDetector`] bundles a detector with
//!   its calibration and threshold.
//! - [`explain::top_features`] turns contributions into named [`explain::Explanation`]s.
//! - [`file`] is the versioned, checksummed model file container.
//!
//! Missing values: training data must be finite ([`FitError::NonFinite`] names the row
//! and column); at scoring time NaN or infinite values are treated as missing and replaced
//! by the column's training median ([`Imputer`]).
//!
//! # Example
//!
//! ```
//! use anomalog_models::iforest::IsolationForestParams;
//! use anomalog_models::{Detector, Fit, Matrix};
//!
//! // Eight ordinary rows around (1, 10) and one far away.
//! let rows = [
//!     [1.0, 10.0], [1.1, 10.2], [0.9, 9.9], [1.0, 10.1],
//!     [1.2, 9.8], [0.8, 10.0], [1.0, 9.9], [1.1, 10.1],
//!     [9.0, 30.0],
//! ];
//! let x = Matrix::from_rows(&rows)?;
//! let forest = IsolationForestParams::new().n_trees(50).fit(x.view(), 42)?;
//! let scores = forest.score(x.view());
//! let top = scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
//! assert_eq!(top, Some(8));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod autoencoder;
pub mod ensemble;
pub mod explain;
pub mod file;
pub mod hbos;
pub mod iforest;
pub mod ocsvm;
pub mod tail;
pub mod zscore;

mod calibrated;
mod error;
mod impute;
mod matrix;
mod registry;
mod sketch;
mod stats;
mod threshold;
mod traits;

#[cfg(test)]
mod testutil;

pub use calibrated::CalibratedDetector;
pub use error::{FitError, InvalidModel, MatrixError, ParamError, ScoreError};
pub use impute::Imputer;
pub use matrix::{Matrix, MatrixView};
pub use registry::{AnyDetector, AnyParams, DetectorKind, UnknownDetector};
pub use sketch::QuantileSketch;
pub use threshold::{Calibration, DEFAULT_CONTAMINATION, ThresholdRule};
pub use traits::{Detector, Fit, ParamGuard, check_columns};
