//! Threshold calibration: how a model turns raw scores into alerts and 0..1 values.

use crate::error::ParamError;
use crate::sketch::QuantileSketch;
use serde::{Deserialize, Serialize};

/// Default share of training records expected to be anomalous.
pub const DEFAULT_CONTAMINATION: f64 = 0.01;

/// How to choose the alerting threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ThresholdRule {
    /// Flag this fraction of training-like traffic (the `1 - c` quantile of training
    /// scores).
    Contamination(f64),
    /// Flag about this many records per day, given the training volume and time span.
    AlertsPerDay(f64),
    /// An explicit raw score.
    Score(f64),
    /// An explicit 0..1 value of [`Calibration::probability`].
    Probability(f64),
}

impl Default for ThresholdRule {
    fn default() -> Self {
        Self::Contamination(DEFAULT_CONTAMINATION)
    }
}

/// The training score distribution of a fitted detector.
///
/// [`Calibration::probability`] is the empirical CDF of training scores: 0.99 means the
/// score is above 99% of training records. It is monotone in the raw score, so every
/// threshold can be expressed on either scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    sketch: QuantileSketch,
    /// Seconds between the first and last training record, when known.
    span_seconds: Option<f64>,
}

impl Calibration {
    /// Calibrates on the detector's scores of its training records; `span_seconds` is the
    /// training time span (needed only for [`ThresholdRule::AlertsPerDay`]). `None` if no
    /// score is finite.
    pub fn from_scores(scores: &[f64], span_seconds: Option<f64>) -> Option<Self> {
        Some(Self { sketch: QuantileSketch::from_scores(scores)?, span_seconds })
    }

    /// Checks the stored distribution and time span.
    pub(crate) fn check(&self) -> Result<(), String> {
        self.sketch.check()?;
        match self.span_seconds {
            Some(s) if s.is_nan() || s < 0.0 => Err(format!("training time span is {s}")),
            _ => Ok(()),
        }
    }

    /// The stored distribution.
    pub fn sketch(&self) -> &QuantileSketch {
        &self.sketch
    }

    /// Training time span in seconds, if known.
    pub fn span_seconds(&self) -> Option<f64> {
        self.span_seconds
    }

    /// Maps a raw score to 0..1 (training ECDF).
    pub fn probability(&self, score: f64) -> f64 {
        self.sketch.cdf(score)
    }

    /// The contamination (fraction of training-like records flagged) a rule amounts to.
    pub fn contamination(&self, rule: ThresholdRule) -> Result<f64, ParamError> {
        match rule {
            ThresholdRule::Contamination(c) => {
                if !(0.0..=1.0).contains(&c) {
                    return Err(ParamError::new("contamination", "must be between 0 and 1"));
                }
                Ok(c)
            }
            ThresholdRule::AlertsPerDay(a) => {
                if !(a.is_finite() && a >= 0.0) {
                    return Err(ParamError::new("alerts_per_day", "must be a finite number >= 0"));
                }
                let span = match self.span_seconds {
                    Some(s) if s.is_finite() && s > 0.0 => s,
                    _ => {
                        return Err(ParamError::new(
                            "alerts_per_day",
                            "needs the training time span, which is unknown or zero",
                        ));
                    }
                };
                let per_day = self.sketch.count() as f64 / span * 86_400.0;
                Ok((a / per_day).min(1.0))
            }
            ThresholdRule::Score(s) => Ok(1.0 - self.probability(s)),
            ThresholdRule::Probability(p) => {
                if !(0.0..=1.0).contains(&p) {
                    return Err(ParamError::new("probability", "must be between 0 and 1"));
                }
                Ok(1.0 - p)
            }
        }
    }

    /// The raw-score threshold of a rule: records scoring strictly above it are flagged.
    pub fn threshold(&self, rule: ThresholdRule) -> Result<f64, ParamError> {
        match rule {
            ThresholdRule::Score(s) if s.is_nan() => {
                Err(ParamError::new("score", "threshold must not be NaN"))
            }
            ThresholdRule::Score(s) => Ok(s),
            _ => Ok(self.sketch.quantile(1.0 - self.contamination(rule)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calib() -> Calibration {
        let scores: Vec<f64> = (0..100_000).map(|i| i as f64 / 100_000.0).collect();
        // 100 000 records over two days: 50 000 per day.
        Calibration::from_scores(&scores, Some(2.0 * 86_400.0)).expect("finite")
    }

    #[test]
    fn contamination_threshold() {
        let c = calib();
        let t = c.threshold(ThresholdRule::default()).expect("valid");
        assert!((t - 0.98999).abs() < 1e-4, "{t}");
        assert!((c.probability(t) - 0.99).abs() < 1e-6);
        assert!(c.threshold(ThresholdRule::Contamination(1.5)).is_err());
    }

    #[test]
    fn alert_budget() {
        let c = calib();
        // 50 alerts a day out of 50 000 records a day = 0.1%.
        let t = c.threshold(ThresholdRule::AlertsPerDay(50.0)).expect("valid");
        assert!((c.probability(t) - 0.999).abs() < 1e-6, "{}", c.probability(t));
        let t5 = c.threshold(ThresholdRule::AlertsPerDay(5.0)).expect("valid");
        assert!(t5 > t);
        let no_span = Calibration::from_scores(&[1.0, 2.0], None).expect("finite");
        assert!(no_span.threshold(ThresholdRule::AlertsPerDay(1.0)).is_err());
    }

    #[test]
    fn explicit_thresholds() {
        let c = calib();
        assert_eq!(c.threshold(ThresholdRule::Score(0.5)).expect("valid"), 0.5);
        assert!(c.threshold(ThresholdRule::Score(f64::NAN)).is_err());
        let t = c.threshold(ThresholdRule::Probability(0.95)).expect("valid");
        assert!((c.probability(t) - 0.95).abs() < 1e-9);
        assert!((c.contamination(ThresholdRule::Score(t)).expect("valid") - 0.05).abs() < 1e-9);
        assert!(c.probability(2.0) == 1.0 && c.probability(-1.0) == 0.0);
    }
}
