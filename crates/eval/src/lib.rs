//! Evaluation for anomalog: labeled synthetic traffic, detection metrics and the HTML report.
//!
//! # Brief overview
//!
//! - [`simulate::simulate`] writes a deterministic day of web-shop traffic in the combined
//!   log format (with a trailing request time) and a matching labels file, configured by
//!   [`SimConfig`] and summarized by [`SimSummary`].
//! - [`Labels`] reads a labels file (`0`, `1` or `1 CATEGORY` per line).
//! - [`metrics::evaluate`] turns scores and labels into an [`Evaluation`]: precision,
//!   recall, F1 and FPR at the production threshold, ROC-AUC, PR-AUC (average precision),
//!   the best F1 and recall per category; [`curves::curves`] gives plot-ready ROC and PR
//!   curves.
//! - [`report::render_report`] renders a [`ReportData`] into one self-contained HTML file
//!   with inline SVG charts.
//!
//! The crate depends on no other anomalog crate: the CLI fills plain structs from its
//! records, scores and explanations.
//!
//! # Example
//!
//! ```
//! use anomalog_eval::{Labels, SimConfig, metrics, simulate};
//!
//! let config = SimConfig { lines: 2_000, seed: 7, ..SimConfig::default() };
//! let (mut log, mut labels) = (Vec::new(), Vec::new());
//! let summary = simulate::simulate(&config, &mut log, &mut labels)?;
//! assert_eq!(summary.lines, 2_000);
//!
//! let labels = Labels::from_reader(&labels[..], "labels.txt".as_ref())?;
//! // A stand-in detector: long request lines look suspicious.
//! let scores: Vec<f64> = String::from_utf8_lossy(&log)
//!     .lines()
//!     .map(|line| line.len() as f64)
//!     .collect();
//! let eval = metrics::evaluate(&scores, &labels, 400.0)?;
//! assert_eq!(eval.records, 2_000);
//! assert!(eval.roc_auc.is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod civil;
pub mod curves;
pub mod labels;
pub mod metrics;
pub mod report;
pub mod simulate;

pub use curves::{Curves, PrPoint, RocPoint};
pub use labels::{Labels, LabelsError};
pub use metrics::{BestF1, CategoryRecall, ConfusionMatrix, Evaluation, MetricsError};
pub use report::{ReportData, render_report};
pub use simulate::{Category, SimConfig, SimSummary};
