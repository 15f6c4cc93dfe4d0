//! The trained pipeline: records in, scores and explanations out.
//!
//! # Brief overview
//!
//! - [`Model`] bundles the fitted feature pipeline (`anomalog-features`), the calibrated
//!   detector (`anomalog-models`) and a [`TrainingSummary`]; [`Model::train`] fits it on
//!   records, [`Model::save`] / [`Model::load`] keep it in one versioned file.
//! - [`Scorer`] scores records one by one in time order with the same feature code in
//!   batch (`detect`, `eval`) and live (`watch`) use, and explains the last score.
//! - [`category::categorize`] names what kind of anomaly a flagged record is.
//!
//! # Example
//!
//! ```
//! use anomalog_ingest::formats;
//! use anomalog_pipeline::{Model, TrainOptions, TrainingSummary};
//!
//! let format = formats::from_spec("combined", &Default::default())?;
//! let lines: Vec<String> = (0..300)
//!     .map(|i| format!(
//!         "192.0.2.{} - - [02/Mar/2026:10:{:02}:{:02} +0000] \"GET /product/{} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0\"",
//!         i % 20, i / 60, i % 60, i % 37, 1000 + i % 17))
//!     .collect();
//! let records: Vec<_> = lines.iter().map(|l| format.parse(l.as_bytes())).collect::<Result<_, _>>()?;
//! let model = Model::train(&records, TrainingSummary::default(), &TrainOptions::default())?;
//!
//! let attack = format.parse(br#"198.51.100.9 - - [02/Mar/2026:10:06:00 +0000] "GET /product/1?id=1%27%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1" 500 0 "-" "sqlmap/1.7""#)?;
//! let mut scorer = model.scorer();
//! let verdict = scorer.score(&attack);
//! assert!(verdict.flagged);
//! assert_eq!(scorer.category(&scorer.explain()), "sqli");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod category;
pub mod drift;
mod error;
mod model;
mod score;

pub use drift::{DriftMonitor, DriftOptions, DriftReport, TrainingProfile};
pub use error::PipelineError;
pub use model::{Model, TrainOptions, TrainingSummary};
pub use score::{EXPLANATION_FEATURES, Scored, Scorer};
