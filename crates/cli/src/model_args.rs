//! Options of the commands that fit a model (train, eval, demo, tune).

use std::path::PathBuf;

use anomalog_features::{ClientKey, FeatureConfig};
use anomalog_models::{DetectorKind, ThresholdRule};
use anomalog_pipeline::TrainOptions;
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

/// How a model is fitted and where its alerting threshold goes.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Detector: ensemble (default: HBOS + per-feature tail probabilities), tail, hbos,
    /// zscore, iforest, eif, ocsvm, autoencoder.
    #[arg(short, long, default_value = "ensemble", value_name = "D")]
    pub detector: DetectorKind,

    /// Alert on this share of training-like traffic (default 0.01).
    #[arg(long, value_name = "SHARE", group = "threshold_rule")]
    pub contamination: Option<f64>,

    /// Alert on about this many records per day of training-like traffic.
    #[arg(long, value_name = "N", group = "threshold_rule")]
    pub alerts_per_day: Option<f64>,

    /// Alert above this score (0..1).
    #[arg(long, value_name = "SCORE", group = "threshold_rule")]
    pub threshold: Option<f64>,

    /// Seed of every random choice: the same data and seed give the same model.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Sliding windows of the per-client features, in seconds (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "10,60,600", value_name = "SECS")]
    pub windows: Vec<u32>,

    /// What identifies a client for the per-client features.
    #[arg(long, value_enum, default_value_t = ClientKeyArg::Addr)]
    pub client_key: ClientKeyArg,

    /// MaxMind .mmdb file (GeoLite2 Country or ASN) for geography features.
    #[arg(long, value_name = "FILE")]
    pub geoip: Option<PathBuf>,
}

/// `--client-key` values.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKeyArg {
    /// The client address.
    Addr,
    /// The client address and user agent.
    #[value(name = "addr+ua")]
    AddrUa,
}

impl ModelArgs {
    /// The threshold rule chosen by the flags.
    pub fn threshold_rule(&self) -> Result<ThresholdRule> {
        Ok(match (self.contamination, self.alerts_per_day, self.threshold) {
            (Some(c), _, _) if !(c > 0.0 && c < 1.0) => {
                bail!("--contamination {c}: expected a share between 0 and 1")
            }
            (Some(c), _, _) => ThresholdRule::Contamination(c),
            (_, Some(n), _) if !(n > 0.0 && n.is_finite()) => {
                bail!("--alerts-per-day {n}: expected a positive number")
            }
            (_, Some(n), _) => ThresholdRule::AlertsPerDay(n),
            (_, _, Some(p)) if !(0.0..=1.0).contains(&p) => {
                bail!("--threshold {p}: expected a score between 0 and 1")
            }
            (_, _, Some(p)) => ThresholdRule::Probability(p),
            _ => ThresholdRule::default(),
        })
    }

    /// The training options.
    pub fn train_options(&self) -> Result<TrainOptions> {
        let features = FeatureConfig {
            windows_secs: self.windows.clone(),
            client_key: match self.client_key {
                ClientKeyArg::Addr => ClientKey::Addr,
                ClientKeyArg::AddrUa => ClientKey::AddrUa,
            },
            geoip: self.geoip.clone(),
            ..FeatureConfig::default()
        };
        Ok(TrainOptions {
            detector: self.detector.default_params(),
            threshold: self.threshold_rule()?,
            features,
            seed: self.seed,
        })
    }
}
