//! Scoring records with a trained model, one at a time, as batch and live use share.

use anomalog_features::FeatureStream;
use anomalog_ingest::Record;
use anomalog_models::Detector;
use anomalog_models::explain::{Explanation, top_features};

use crate::category::categorize;
use crate::model::Model;

/// How many features an explanation lists.
pub const EXPLANATION_FEATURES: usize = 5;

/// The verdict on one record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The detector's raw score (higher = more anomalous; its scale depends on the
    /// detector).
    pub raw: f64,
    /// The score on 0..1: the share of training records that scored lower.
    pub score: f64,
    /// Whether the score is above the model's alerting threshold.
    pub flagged: bool,
}

/// Scores a stream of records in time order: keeps the client and site windows of the
/// features, so each record is scored in the context of those before it.
pub struct Scorer<'m> {
    model: &'m Model,
    stream: FeatureStream<'m>,
    raw: Vec<f64>,
    scaled: Vec<f64>,
}

impl<'m> Scorer<'m> {
    pub(crate) fn new(model: &'m Model) -> Scorer<'m> {
        Scorer { model, stream: model.features.stream(), raw: Vec::new(), scaled: Vec::new() }
    }

    /// Scores the next record.
    pub fn score(&mut self, record: &Record<'_>) -> Scored {
        self.stream.push(record, &mut self.raw, &mut self.scaled);
        let detector = &self.model.detector;
        let raw = detector.detector().score_row(&self.scaled);
        Scored { raw, score: detector.probability(raw), flagged: detector.is_anomaly(raw) }
    }

    /// Why the last scored record scored as it did: the top features with their raw
    /// values and training medians.
    pub fn explain(&self) -> Vec<Explanation> {
        self.model.explain(&self.raw, &self.scaled)
    }

    /// The category of the last scored record (see [`crate::category`]).
    pub fn category(&self, explanation: &[Explanation]) -> &'static str {
        self.model.categorize(&self.raw, explanation)
    }

    /// The raw (operator-unit) feature values of the last scored record.
    pub fn raw_features(&self) -> &[f64] {
        &self.raw
    }

    /// The scaled feature row of the last scored record, as the detector saw it.
    pub fn scaled_features(&self) -> &[f64] {
        &self.scaled
    }

    /// The model being used.
    pub fn model(&self) -> &'m Model {
        self.model
    }
}

impl Model {
    /// Why a row scored as it did: the top features with their raw values (`raw`, in
    /// operator units) and training medians; `scaled` is the row the detector saw.
    pub fn explain(&self, raw: &[f64], scaled: &[f64]) -> Vec<Explanation> {
        self.explain_contributions(&self.detector.detector().explain(scaled), raw)
    }

    /// [`Model::explain`] of a row whose detector explanation (its
    /// [`Detector::explain`] of the scaled row) is `contributions`: for a caller that
    /// had the detector explain rows while scoring them.
    pub fn explain_contributions(
        &self,
        contributions: &[(usize, f64)],
        raw: &[f64],
    ) -> Vec<Explanation> {
        let mut explanation = top_features(
            contributions,
            raw,
            self.features.names(),
            self.features.medians(),
            EXPLANATION_FEATURES,
        );
        // Decayed window sums leave values like 1e-280 where an operator means zero.
        for e in &mut explanation {
            e.value = flush_tiny(e.value);
            e.typical = flush_tiny(e.typical);
        }
        explanation
    }

    /// The category of a row from its raw values and explanation (see
    /// [`crate::category`]).
    pub fn categorize(&self, raw: &[f64], explanation: &[Explanation]) -> &'static str {
        categorize(self.features.names(), raw, explanation)
    }
}

/// Zero for magnitudes below a billionth (NaN, meaning missing, stays NaN).
fn flush_tiny(v: f64) -> f64 {
    if v.abs() < 1e-9 { 0.0 } else { v }
}
