//! Picking a detector by name, and one serializable type over every fitted detector.

use crate::autoencoder::{Autoencoder, AutoencoderParams};
use crate::ensemble::{Ensemble, EnsembleParams};
use crate::error::{FitError, InvalidModel, ParamError};
use crate::hbos::{Hbos, HbosParams};
use crate::iforest::{IsolationForest, IsolationForestParams};
use crate::matrix::MatrixView;
use crate::ocsvm::{OneClassSvm, OneClassSvmParams};
use crate::tail::{TailParams, TailProbability};
use crate::traits::{Detector, Fit, ParamGuard};
use crate::zscore::{ZScore, ZScoreParams};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The detectors selectable by name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DetectorKind {
    /// `iforest`: classic Isolation Forest.
    IsolationForest,
    /// `eif`: Extended Isolation Forest (hyperplanes over 32 features).
    ExtendedIsolationForest,
    /// `ocsvm`: One-Class SVM (RBF via Nyström, SGD).
    OneClassSvm,
    /// `autoencoder`: MLP autoencoder.
    Autoencoder,
    /// `hbos`: histogram-based outlier score.
    Hbos,
    /// `zscore`: per-feature robust z-scores.
    ZScore,
    /// `tail`: per-feature empirical tail probabilities, top-k surprises summed.
    Tail,
    /// `ensemble`: hbos + tail, ECDF-normalized and averaged (the default).
    #[default]
    Ensemble,
}

impl DetectorKind {
    /// Every kind, in the order shown in help texts.
    pub const ALL: [DetectorKind; 8] = [
        Self::Ensemble,
        Self::IsolationForest,
        Self::ExtendedIsolationForest,
        Self::OneClassSvm,
        Self::Autoencoder,
        Self::Hbos,
        Self::ZScore,
        Self::Tail,
    ];

    /// The name accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Self::IsolationForest => "iforest",
            Self::ExtendedIsolationForest => "eif",
            Self::OneClassSvm => "ocsvm",
            Self::Autoencoder => "autoencoder",
            Self::Hbos => "hbos",
            Self::ZScore => "zscore",
            Self::Tail => "tail",
            Self::Ensemble => "ensemble",
        }
    }

    /// Default parameters of this kind.
    pub fn default_params(self) -> AnyParams {
        match self {
            Self::IsolationForest => AnyParams::IsolationForest(IsolationForestParams::new()),
            Self::ExtendedIsolationForest => {
                AnyParams::IsolationForest(IsolationForestParams::extended())
            }
            Self::OneClassSvm => AnyParams::OneClassSvm(OneClassSvmParams::new()),
            Self::Autoencoder => AnyParams::Autoencoder(AutoencoderParams::new()),
            Self::Hbos => AnyParams::Hbos(HbosParams::new()),
            Self::ZScore => AnyParams::ZScore(ZScoreParams::new()),
            Self::Tail => AnyParams::Tail(TailParams::new()),
            Self::Ensemble => AnyParams::Ensemble(EnsembleParams::new()),
        }
    }

    /// Fits this kind with default parameters.
    pub fn fit(self, x: MatrixView<'_>, seed: u64) -> Result<AnyDetector, FitError> {
        self.default_params().fit(x, seed)
    }
}

impl fmt::Display for DetectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A detector name that is not one of [`DetectorKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown detector `{0}` (expected one of: ensemble, iforest, eif, ocsvm, autoencoder, hbos, zscore, tail)"
)]
pub struct UnknownDetector(pub String);

impl FromStr for DetectorKind {
    type Err = UnknownDetector;

    /// Case-insensitive; also accepts a few common spellings (`isolation-forest`,
    /// `one-class-svm`, `ae`, `z-score`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', '_'], "");
        Ok(match norm.as_str() {
            "iforest" | "isolationforest" | "if" => Self::IsolationForest,
            "eif" | "extendediforest" | "extendedisolationforest" => Self::ExtendedIsolationForest,
            "ocsvm" | "oneclasssvm" | "svm" => Self::OneClassSvm,
            "autoencoder" | "ae" => Self::Autoencoder,
            "hbos" => Self::Hbos,
            "zscore" | "z" | "robustz" => Self::ZScore,
            "tail" | "tailprob" | "tailprobability" => Self::Tail,
            "ensemble" | "default" => Self::Ensemble,
            _ => return Err(UnknownDetector(s.to_owned())),
        })
    }
}

/// Parameters of any detector; fitting gives an [`AnyDetector`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AnyParams {
    /// Isolation Forest (classic or extended).
    IsolationForest(IsolationForestParams),
    /// One-Class SVM.
    OneClassSvm(OneClassSvmParams),
    /// Autoencoder.
    Autoencoder(AutoencoderParams),
    /// HBOS.
    Hbos(HbosParams),
    /// Robust z-score.
    ZScore(ZScoreParams),
    /// Ensemble.
    Ensemble(EnsembleParams),
    /// Per-feature tail probabilities.
    Tail(TailParams),
}

impl AnyParams {
    /// Validates the parameters without fitting.
    pub fn validate(&self) -> Result<(), ParamError> {
        match self {
            Self::IsolationForest(p) => p.check().map(drop),
            Self::OneClassSvm(p) => p.check().map(drop),
            Self::Autoencoder(p) => p.check().map(drop),
            Self::Hbos(p) => p.check().map(drop),
            Self::ZScore(p) => p.check().map(drop),
            Self::Ensemble(p) => p.check().map(drop),
            Self::Tail(p) => p.check().map(drop),
        }
    }
}

impl Fit for AnyParams {
    type Model = AnyDetector;

    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<AnyDetector, FitError> {
        Ok(match self {
            Self::IsolationForest(p) => AnyDetector::IsolationForest(p.fit(x, seed)?),
            Self::OneClassSvm(p) => AnyDetector::OneClassSvm(p.fit(x, seed)?),
            Self::Autoencoder(p) => AnyDetector::Autoencoder(p.fit(x, seed)?),
            Self::Hbos(p) => AnyDetector::Hbos(p.fit(x, seed)?),
            Self::ZScore(p) => AnyDetector::ZScore(p.fit(x, seed)?),
            Self::Ensemble(p) => AnyDetector::Ensemble(p.fit(x, seed)?),
            Self::Tail(p) => AnyDetector::Tail(p.fit(x, seed)?),
        })
    }
}

/// Any fitted detector, serializable into the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AnyDetector {
    /// Isolation Forest (classic or extended).
    IsolationForest(IsolationForest),
    /// One-Class SVM.
    OneClassSvm(OneClassSvm),
    /// Autoencoder.
    Autoencoder(Autoencoder),
    /// HBOS.
    Hbos(Hbos),
    /// Robust z-score.
    ZScore(ZScore),
    /// Ensemble.
    Ensemble(Ensemble),
    /// Per-feature tail probabilities.
    Tail(TailProbability),
}

impl AnyDetector {
    /// The wrapped detector.
    pub fn as_detector(&self) -> &dyn Detector {
        match self {
            Self::IsolationForest(d) => d,
            Self::OneClassSvm(d) => d,
            Self::Autoencoder(d) => d,
            Self::Hbos(d) => d,
            Self::ZScore(d) => d,
            Self::Ensemble(d) => d,
            Self::Tail(d) => d,
        }
    }
}

impl Detector for AnyDetector {
    fn name(&self) -> &'static str {
        self.as_detector().name()
    }

    fn n_features(&self) -> usize {
        self.as_detector().n_features()
    }

    fn medians(&self) -> &[f64] {
        self.as_detector().medians()
    }

    fn validate(&self) -> Result<(), InvalidModel> {
        self.as_detector().validate()
    }

    fn score_row(&self, row: &[f64]) -> f64 {
        self.as_detector().score_row(row)
    }

    fn explain(&self, row: &[f64]) -> Vec<(usize, f64)> {
        self.as_detector().explain(row)
    }

    fn score(&self, x: MatrixView<'_>) -> Vec<f64> {
        self.as_detector().score(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        for k in DetectorKind::ALL {
            assert_eq!(k.name().parse::<DetectorKind>(), Ok(k));
            assert_eq!(k.to_string(), k.name());
        }
        assert_eq!("Isolation-Forest".parse(), Ok(DetectorKind::IsolationForest));
        let e = "forest".parse::<DetectorKind>().expect_err("unknown");
        assert!(e.to_string().contains("iforest"));
    }
}
