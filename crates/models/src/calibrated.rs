//! A fitted detector together with its calibration and alerting threshold.

use crate::error::{FitError, InvalidModel, ParamError};
use crate::explain::{Explanation, top_features};
use crate::matrix::MatrixView;
use crate::registry::AnyDetector;
use crate::threshold::{Calibration, ThresholdRule};
use crate::traits::{Detector, Fit};
use serde::{Deserialize, Serialize};

/// What the model file stores about a detector: the model, its training score
/// distribution and the threshold in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibratedDetector {
    detector: AnyDetector,
    calibration: Calibration,
    rule: ThresholdRule,
    threshold: f64,
}

impl CalibratedDetector {
    /// Fits `params` on `x`, scores the training rows to calibrate, and sets the
    /// threshold from `rule`. `span_seconds` is the training time span (for
    /// [`ThresholdRule::AlertsPerDay`]).
    pub fn fit<P: Fit<Model = AnyDetector>>(
        params: &P,
        x: MatrixView<'_>,
        seed: u64,
        span_seconds: Option<f64>,
        rule: ThresholdRule,
    ) -> Result<Self, FitError> {
        let detector = params.fit(x, seed)?;
        Self::calibrate(detector, x, span_seconds, rule)
    }

    /// Calibrates an already fitted detector on (its) training rows `x`.
    pub fn calibrate(
        detector: AnyDetector,
        x: MatrixView<'_>,
        span_seconds: Option<f64>,
        rule: ThresholdRule,
    ) -> Result<Self, FitError> {
        let calibration = Calibration::from_scores(&detector.score(x), span_seconds).ok_or(
            FitError::Degenerate { detector: detector.name(), reason: "no finite training score" },
        )?;
        let threshold = calibration.threshold(rule)?;
        Ok(Self { detector, calibration, rule, threshold })
    }

    /// Checks the detector ([`Detector::validate`]), the training score distribution and
    /// the threshold; model files are checked with this when they are read.
    pub fn validate(&self) -> Result<(), InvalidModel> {
        self.detector.validate()?;
        let name = self.detector.name();
        self.calibration.check().map_err(|reason| InvalidModel::new(name, reason))?;
        if self.threshold.is_nan() {
            return Err(InvalidModel::new(name, "alerting threshold is NaN"));
        }
        Ok(())
    }

    /// The detector.
    pub fn detector(&self) -> &AnyDetector {
        &self.detector
    }

    /// The training score distribution.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// The rule that set the threshold.
    pub fn rule(&self) -> ThresholdRule {
        self.rule
    }

    /// Raw-score threshold: rows scoring strictly above it are anomalies.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The threshold on the 0..1 scale of [`CalibratedDetector::probability`].
    pub fn probability_threshold(&self) -> f64 {
        self.calibration.probability(self.threshold)
    }

    /// Replaces the threshold rule (e.g. from a CLI flag) without refitting.
    pub fn set_rule(&mut self, rule: ThresholdRule) -> Result<(), ParamError> {
        self.threshold = self.calibration.threshold(rule)?;
        self.rule = rule;
        Ok(())
    }

    /// Raw scores of every row (see [`Detector::score`]).
    pub fn score(&self, x: MatrixView<'_>) -> Vec<f64> {
        self.detector.score(x)
    }

    /// 0..1 value of a raw score: the share of training rows scoring at or below it.
    pub fn probability(&self, score: f64) -> f64 {
        self.calibration.probability(score)
    }

    /// Whether a raw score is above the threshold (NaN never is).
    pub fn is_anomaly(&self, score: f64) -> bool {
        score > self.threshold
    }

    /// The `k` features explaining a row best, with values, typical (median) values and
    /// shares; `names` are the feature names in column order.
    pub fn explain_top<S: AsRef<str>>(
        &self,
        row: &[f64],
        names: &[S],
        k: usize,
    ) -> Vec<Explanation> {
        top_features(&self.detector.explain(row), row, names, self.detector.medians(), k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::DetectorKind;
    use crate::testutil::{Plant, blob};

    #[test]
    fn threshold_flags_about_contamination() {
        let (m, _) = blob(2000, 10, 5, Plant::Column(3, 8.0), 4);
        let params = DetectorKind::Ensemble.default_params();
        let mut c =
            CalibratedDetector::fit(&params, m.view(), 1, Some(86_400.0), ThresholdRule::default())
                .expect("fit");
        let scores = c.score(m.view());
        let flagged = scores.iter().filter(|s| c.is_anomaly(**s)).count();
        assert!((10..=30).contains(&flagged), "{flagged}");
        let (far, _) = blob(2000, 10, 5, Plant::Everywhere, 4);
        let f = CalibratedDetector::fit(&params, far.view(), 1, None, ThresholdRule::default())
            .expect("fit");
        let s = f.score(far.view());
        assert!((2000..2010).all(|r| f.is_anomaly(s[r])));
        assert!(f.probability(s[2003]) > 0.99);
        assert!((c.probability_threshold() - 0.99).abs() < 0.01);
        let names: Vec<String> = (0..5).map(|i| format!("f{i}")).collect();
        let e = c.explain_top(m.view().row(2005), &names, 2);
        assert_eq!(e[0].feature, "f3");
        assert_eq!(e[0].typical, c.detector().medians()[3]);
        c.set_rule(ThresholdRule::AlertsPerDay(2.0)).expect("span known");
        assert!(scores.iter().filter(|s| c.is_anomaly(**s)).count() <= 5);
        assert!(c.set_rule(ThresholdRule::Contamination(-1.0)).is_err());
    }

    /// Both forests flag the contamination's share of their training rows and of fresh
    /// rows like them (2% outliers, of which the threshold flags half): the scores that
    /// calibrate are the scores that alert. Hyperplanes (32 features) span fewer than the
    /// 40 columns.
    #[test]
    fn forests_flag_about_contamination() {
        let (train, _) = blob(2000, 40, 40, Plant::Everywhere, 6);
        let (fresh, _) = blob(2000, 40, 40, Plant::Everywhere, 7);
        for kind in [DetectorKind::IsolationForest, DetectorKind::ExtendedIsolationForest] {
            let params = kind.default_params();
            let c =
                CalibratedDetector::fit(&params, train.view(), 3, None, ThresholdRule::default())
                    .expect("fit");
            let name = c.detector().name();
            let flagged = |m: &crate::matrix::Matrix| {
                c.score(m.view()).iter().filter(|s| c.is_anomaly(**s)).count()
            };
            // 1% of 2040 rows is 20.4, all among the 40 planted outliers.
            let on_train = flagged(&train);
            assert!((18..=21).contains(&on_train), "{name}: {on_train} training rows flagged");
            let on_fresh = flagged(&fresh);
            assert!((10..=30).contains(&on_fresh), "{name}: {on_fresh} fresh rows flagged");
            assert!((c.probability_threshold() - 0.99).abs() < 1e-3, "{name}");
        }
    }
}
