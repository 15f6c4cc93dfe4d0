//! Drift monitoring: is the traffic still the traffic the model was trained on?
//!
//! # Brief overview
//!
//! - [`TrainingProfile`] is stored in the model ([`TrainingSummary::profile`]): one
//!   [`ValueProfile`] per feature (a histogram of the raw training values over at most
//!   [`MAX_KNOTS`] exact values, plus a count of missing values) and one of the
//!   detector's training scores. It is computed by [`Model::train`].
//! - [`DriftMonitor`] counts the raw feature values and scores of observed records on
//!   the cells of those profiles (bounded memory, so a daemon can keep one running)
//!   and turns the counts into a [`DriftReport`] on demand: per feature and for the
//!   score, the population stability index ([`psi`]) and the two-sample
//!   Kolmogorov–Smirnov statistic with its asymptotic p-value ([`ks_p_value`]), and a
//!   verdict under [`DriftOptions`].
//!
//! Both the training side and the observed side go through the same
//! [`Scorer`](crate::Scorer) feature code, so traffic identical to the training data
//! has a PSI of (about) 0 everywhere.
//!
//! # Example
//!
//! ```
//! use anomalog_ingest::formats;
//! use anomalog_pipeline::drift::{DriftMonitor, DriftOptions};
//! use anomalog_pipeline::{Model, TrainOptions, TrainingSummary};
//!
//! let format = formats::from_spec("combined", &Default::default())?;
//! let line = |i: usize, path: &str| format!(
//!     "192.0.2.{} - - [02/Mar/2026:10:{:02}:{:02} +0000] \"GET {path}/{} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0\"",
//!     i % 20, i / 60, i % 60, i % 37, 1000 + i % 17);
//! let training: Vec<String> = (0..600).map(|i| line(i, "/product")).collect();
//! let records: Vec<_> = training.iter().map(|l| format.parse(l.as_bytes())).collect::<Result<_, _>>()?;
//! let model = Model::train(&records, TrainingSummary::default(), &TrainOptions::default())?;
//!
//! let options = DriftOptions { min_records: 100, ..DriftOptions::default() };
//! let mut monitor = DriftMonitor::new(&model, options)?;
//! let mut scorer = model.scorer();
//! for record in &records {
//!     let scored = scorer.score(record);
//!     monitor.observe_scored(&scorer, &scored);
//! }
//! let same = monitor.report();
//! assert!(!same.drifted && same.score_psi < 0.01);
//!
//! monitor.reset();
//! let moved: Vec<String> = (0..600).map(|i| line(i, "/new-section/product")).collect();
//! let mut scorer = model.scorer();
//! for l in &moved {
//!     let scored = scorer.score(&format.parse(l.as_bytes())?);
//!     monitor.observe_scored(&scorer, &scored);
//! }
//! let report = monitor.report();
//! assert!(report.drifted);
//! println!("most drifted: {}", report.most_drifted()[0].name);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`TrainingSummary::profile`]: crate::TrainingSummary::profile
//! [`Model::train`]: crate::Model::train

mod column;
mod error;
mod monitor;
mod profile;
mod stats;

pub use column::KS_TRAINING_CAP;
pub use error::DriftError;
pub use monitor::{
    DEFAULT_BINS, DEFAULT_FEATURE_SHARE, DEFAULT_MIN_RECORDS, DEFAULT_PSI_THRESHOLD, DriftMonitor,
    DriftOptions, DriftReport, FeatureDrift,
};
pub use profile::{MAX_KNOTS, MAX_PROFILED_ROWS, TrainingProfile, ValueProfile};
pub use stats::{PSI_EPSILON, kolmogorov_q, ks_p_value, ks_statistic, psi};
