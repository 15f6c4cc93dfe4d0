//! Features: turns normalized [`Record`](anomalog_ingest::Record)s into the numeric
//! rows the detectors learn from.
//!
//! # Brief overview
//!
//! - [`FeatureConfig`] says which families run and the window lengths, client key and
//!   memory bounds of the stateful ones. It is stored in the model file.
//! - [`FeaturePipeline::fit`] learns vocabularies and endpoint parameter profiles from
//!   training records, streams the training records through the very same code that
//!   scoring uses, and learns imputation and robust scaling from those rows. The
//!   vocabulary-based columns of the training rows are computed out of sample
//!   ([`crossfit`]), so that training rows look as familiar as fresh normal traffic
//!   does, no more.
//! - [`FeatureStream::push`] turns one record into a raw row (operator units, NaN when
//!   missing: what explanations show) and a scaled row (finite, imputed: what the
//!   detectors see). It is causal: a row depends only on past and current records.
//! - [`families`] holds one module per feature family: [`families::basics`] (missing
//!   indicators, method and status one-hot, size, time), [`families::lexical`]
//!   (request content), [`families::params`] (endpoint parameter profiles),
//!   [`families::client`] (per-client windows), [`families::site`] (site-wide series
//!   against their baseline), [`families::time`] (hour and weekday) and
//!   [`families::geo`] (country and ASN rarity, when fitted with a GeoIP database).
//! - [`preprocess`] is the missing-value, log-transform and median/IQR scaling layer.
//! - [`memo`] lets a stream reuse what the content families computed for a request
//!   target and body it saw recently (bounded; outputs are those of decoding afresh).
//!
//! Column names are part of the model file and of explanations; they are stable and
//! say what they measure (`sql_tokens`, `client_404_ratio_60s`,
//! `param_value_anomaly_max`, `site_latency_z`).
//!
//! # Example
//!
//! ```
//! use std::borrow::Cow;
//! use anomalog_features::{FeatureConfig, FeaturePipeline};
//! use anomalog_ingest::{Record, Timestamp};
//!
//! let request = |secs: f64, target: String| Record {
//!     ts: Timestamp::from_unix_secs_f64(secs),
//!     client: Some(Cow::Borrowed("192.0.2.10")),
//!     method: Some(Cow::Borrowed("GET")),
//!     target: Some(Cow::Owned(target)),
//!     status: Some(200),
//!     bytes: Some(512),
//!     ..Record::default()
//! };
//! let training: Vec<Record> = (0..200)
//!     .map(|i| request(1_700_000_000.0 + f64::from(i), format!("/item?id={}", i % 50)))
//!     .collect();
//!
//! let (pipeline, matrix) = FeaturePipeline::fit(FeatureConfig::default(), &training)?;
//! assert_eq!(matrix.len(), training.len() * pipeline.names().len());
//!
//! let mut stream = pipeline.stream();
//! let (mut raw, mut scaled) = (Vec::new(), Vec::new());
//! let attack = request(1_700_000_300.0, "/item?id=1%27%20OR%201%3D1--".into());
//! stream.push(&attack, &mut raw, &mut scaled);
//!
//! let col = |name: &str| pipeline.names().iter().position(|n| n == name).unwrap();
//! assert!(raw[col("sql_tokens")] >= 3.0);
//! assert!(raw[col("param_value_anomaly_max")] > 5.0);
//! assert!(scaled.iter().all(|x| x.is_finite()));
//! # Ok::<(), anomalog_features::FeatureError>(())
//! ```

pub mod config;
pub mod crossfit;
pub mod error;
pub mod families;
pub mod geoip;
pub mod hash;
pub mod log1p;
pub mod memo;
pub mod pipeline;
pub mod preprocess;
pub mod request;
pub mod scan;
pub mod stream;
pub mod template;
pub mod tokens;
pub mod vocab;
pub mod window;

#[cfg(test)]
mod mmdb_writer;
#[cfg(test)]
mod pinned;
#[cfg(test)]
mod tests;

pub use config::{ClientKey, Families, FeatureConfig};
pub use error::FeatureError;
pub use pipeline::FeaturePipeline;
pub use preprocess::{FeatureSpec, Transform};
pub use stream::FeatureStream;
