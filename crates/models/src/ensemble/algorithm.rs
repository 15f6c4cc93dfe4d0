//! Ensemble fitting, scoring and explanation.

use super::params::{Combine, EnsembleParams, EnsembleValidParams};
use crate::error::{FitError, InvalidModel};
use crate::impute::Imputer;
use crate::matrix::MatrixView;
use crate::registry::AnyDetector;
use crate::sketch::QuantileSketch;
use crate::stats::{column_medians, derive_seed, validate_training};
use crate::tail::{HintedTopK, SELECT_MAX};
use crate::traits::{Detector, Fit, ParamGuard, SCORE_BLOCK};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// A fitted member and the distribution of its scores on the training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    detector: AnyDetector,
    sketch: QuantileSketch,
}

impl Member {
    /// The fitted detector.
    pub fn detector(&self) -> &AnyDetector {
        &self.detector
    }

    /// Its training score distribution.
    pub fn sketch(&self) -> &QuantileSketch {
        &self.sketch
    }
}

/// A fitted ensemble: each member's raw score is mapped through the empirical CDF of its
/// own training scores (so every member speaks the same 0..1 language) and the values are
/// combined by mean or max.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    members: Vec<Member>,
    combine: Combine,
    imputer: Imputer,
}

impl Fit for EnsembleParams {
    type Model = Ensemble;

    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<Ensemble, FitError> {
        self.check()?.fit(x, seed)
    }
}

impl Fit for EnsembleValidParams {
    type Model = Ensemble;

    /// Members are fitted one after another (each is parallel inside), member `i` with
    /// seed `derive_seed(seed, i)`.
    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<Ensemble, FitError> {
        validate_training(x, 2)?;
        let mut members = Vec::with_capacity(self.0.members.len());
        for (i, p) in self.0.members.iter().enumerate() {
            let detector = p.fit(x, derive_seed(seed, i as u64))?;
            let sketch =
                QuantileSketch::from_scores(&detector.score(x)).ok_or(FitError::Degenerate {
                    detector: detector.name(),
                    reason: "no finite training score",
                })?;
            members.push(Member { detector, sketch });
        }
        Ok(Ensemble { members, combine: self.0.combine, imputer: Imputer::new(column_medians(x)) })
    }
}

impl Ensemble {
    /// The members.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The combination rule.
    pub fn combine_rule(&self) -> Combine {
        self.combine
    }

    fn combine(&self, values: impl Iterator<Item = f64>) -> f64 {
        match self.combine {
            Combine::Mean => {
                let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
                sum / n.max(1) as f64
            }
            Combine::Max => values.fold(0.0, f64::max),
        }
    }

    /// [`Detector::score`], member by member.
    pub(crate) fn score_by_member(&self, x: MatrixView<'_>) -> Vec<f64> {
        let per_member: Vec<Vec<f64>> = self
            .members
            .iter()
            .map(|m| m.detector.score(x).into_iter().map(|s| m.sketch.cdf(s)).collect())
            .collect();
        (0..x.rows()).map(|i| self.combine(per_member.iter().map(|v| v[i]))).collect()
    }

    /// [`Detector::score`] of every row, and [`Detector::explain`] of the rows whose
    /// score `explain_if` selects, as (row, explanation) in row order: what a caller
    /// that explains the flagged rows of a batch would get from the two calls, with the
    /// same bits. The default pair takes each selected row's explanation from the
    /// memo of its one-pass scoring ([`Ensemble::score_hbos_tail`]): its HBOS terms and
    /// tail surprises are computed already, and so are both member scores.
    pub fn score_explaining(
        &self,
        x: MatrixView<'_>,
        explain_if: &(dyn Fn(f64) -> bool + Sync),
    ) -> (Vec<f64>, Explained) {
        if x.cols() != self.n_features() {
            return (vec![f64::NAN; x.rows()], Vec::new());
        }
        if let Some(both) = self.score_hbos_tail(x, Some(explain_if)) {
            return both;
        }
        let scores = self.score_by_member(x);
        let explained = scores
            .iter()
            .enumerate()
            .filter(|&(_, &s)| explain_if(s))
            .map(|(i, _)| (i, self.explain(x.row(i))))
            .collect();
        (scores, explained)
    }

    /// The default members, HBOS then tail, scored together: one pass over each row
    /// fills a memo of each feature's last value with both its HBOS term and its tail
    /// surprise (most values repeat from one record to the next), and the two raw
    /// scores are then those of the members' own [`Detector::score`] (the same terms
    /// added in the same order, the same top-k selection). Rows that `explain_if`
    /// selects are explained from the memo: its terms are the members' explanations
    /// of the row, and [`Ensemble::weigh`] combines them as [`Detector::explain`] does.
    /// `None` for other members, or when they fill missing values differently.
    fn score_hbos_tail(
        &self,
        x: MatrixView<'_>,
        explain_if: Option<&(dyn Fn(f64) -> bool + Sync)>,
    ) -> Option<(Vec<f64>, Explained)> {
        let [hm, tm] = &self.members[..] else { return None };
        let (AnyDetector::Hbos(h), AnyDetector::Tail(t)) = (&hm.detector, &tm.detector) else {
            return None;
        };
        let d = x.cols();
        if d == 0
            || d > SELECT_MAX
            || h.n_features() != d
            || t.n_features() != d
            || h.imputer() != t.imputer()
        {
            return None;
        }
        // Each feature's memo holds its last value (with its term and surprise) and the
        // value before, which a column alternating between two values (a method, a
        // status class) returns to. NaN never equals a value, so the first rows fill the
        // memo; a NaN hint is never cleared, so the first row selects from all its
        // surprises.
        let empty = (f64::NAN, 0.0, 0.0);
        let mut scores = vec![0.0; x.rows()];
        let explained: Vec<Explained> = scores
            .par_chunks_mut(SCORE_BLOCK)
            .zip(x.as_slice().par_chunks(SCORE_BLOCK * d))
            .enumerate()
            .map_init(
                || (vec![(empty, empty); d], f64::NAN, vec![0.0; 2 * d]),
                |(memo, hint, parts), (b, (out, block))| {
                    let mut buf = [0.0; SELECT_MAX];
                    let mut explained = Vec::new();
                    for (i, (score, row)) in out.iter_mut().zip(block.chunks_exact(d)).enumerate() {
                        let row = h.imputer().clean(row);
                        // The tail's selection takes each surprise as the memo gives it.
                        let mut top = HintedTopK::new(*hint);
                        for (f, (((last, before), &v), slot)) in
                            memo.iter_mut().zip(row.iter()).zip(buf.iter_mut()).enumerate()
                        {
                            if last.0 != v {
                                let next = if before.0 == v {
                                    *before
                                } else {
                                    (v, h.term_at(f, v), t.surprise_at(f, v))
                                };
                                *before = std::mem::replace(last, next);
                            }
                            *slot = last.2;
                            top.push(last.2);
                        }
                        let hbos: f64 = memo.iter().map(|m| m.0.1).sum();
                        let tail = t.score_surprises(top, &mut buf[..d], hint);
                        let weights = [hm.sketch.cdf(hbos), tm.sketch.cdf(tail)];
                        *score = self.combine(weights.into_iter());
                        if explain_if.is_some_and(|select| select(*score)) {
                            let (terms, surprises) = parts.split_at_mut(d);
                            for ((term, surprise), m) in
                                terms.iter_mut().zip(surprises.iter_mut()).zip(memo.iter())
                            {
                                (*term, *surprise) = (m.0.1, m.0.2);
                            }
                            let parts = [
                                (weights[0], terms.iter().copied().enumerate()),
                                (weights[1], surprises.iter().copied().enumerate()),
                            ];
                            explained.push((b * SCORE_BLOCK + i, Self::weigh(d, &parts)));
                        }
                    }
                    explained
                },
            )
            .collect();
        Some((scores, explained.into_iter().flatten().collect()))
    }

    /// Combines the members' explanations of a row, each given with the member's 0..1
    /// value for the row: each is normalized to sum to 1, weighted by that value
    /// (members that find the row unusual speak louder), then summed per feature. When
    /// no member finds anything, members weigh equally.
    fn weigh<E>(d: usize, parts: &[(f64, E)]) -> Vec<(usize, f64)>
    where
        E: Iterator<Item = (usize, f64)> + Clone,
    {
        let total_weight: f64 = parts.iter().map(|p| p.0).sum();
        let mut contrib: Vec<(usize, f64)> = (0..d).map(|f| (f, 0.0)).collect();
        for (w, e) in parts {
            let w = if total_weight > 0.0 { *w } else { 1.0 };
            let valid = |c: f64| if c.is_finite() && c > 0.0 { c } else { 0.0 };
            let sum: f64 = e.clone().map(|(_, c)| valid(c)).sum();
            if sum > 0.0 {
                for (f, c) in e.clone() {
                    if let Some(slot) = contrib.get_mut(f) {
                        slot.1 += w * valid(c) / sum;
                    }
                }
            }
        }
        contrib
    }
}

/// The rows a batch scoring explained, each with its [`Detector::explain`], in row
/// order (see [`Ensemble::score_explaining`]).
pub type Explained = Vec<(usize, Vec<(usize, f64)>)>;

impl Detector for Ensemble {
    fn name(&self) -> &'static str {
        "ensemble"
    }

    fn n_features(&self) -> usize {
        self.imputer.medians().len()
    }

    fn medians(&self) -> &[f64] {
        self.imputer.medians()
    }

    fn validate(&self) -> Result<(), InvalidModel> {
        let err = |reason: String| InvalidModel::new("ensemble", reason);
        let d = self.n_features();
        self.imputer.check(d).map_err(err)?;
        if self.members.is_empty() {
            return Err(err("the ensemble has no members".into()));
        }
        for (i, m) in self.members.iter().enumerate() {
            if matches!(m.detector, AnyDetector::Ensemble(_)) {
                return Err(err(format!("member {i} is itself an ensemble")));
            }
            m.detector.validate()?;
            if m.detector.n_features() != d {
                return Err(err(format!(
                    "member {i} ({}) has {} features, the ensemble {d}",
                    m.detector.name(),
                    m.detector.n_features()
                )));
            }
            m.sketch.check().map_err(|reason| err(format!("member {i}: {reason}")))?;
        }
        Ok(())
    }

    /// Missing values are filled once here, so every member gets a clean, borrowed row and
    /// scoring a finite row allocates nothing.
    fn score_row(&self, row: &[f64]) -> f64 {
        if row.len() != self.n_features() {
            return f64::NAN;
        }
        let row = self.imputer.clean(row);
        self.combine(self.members.iter().map(|m| m.sketch.cdf(m.detector.score_row(&row))))
    }

    /// Scores member by member over the whole matrix, so each member uses its own
    /// parallel batch scoring; the default pair (HBOS, then tail) is scored in one pass
    /// (see [`Ensemble::score_hbos_tail`]).
    fn score(&self, x: MatrixView<'_>) -> Vec<f64> {
        if x.cols() != self.n_features() {
            return vec![f64::NAN; x.rows()];
        }
        if let Some((scores, _)) = self.score_hbos_tail(x, None) {
            return scores;
        }
        self.score_by_member(x)
    }

    /// Each member's explanation normalized to sum to 1, weighted by that member's 0..1
    /// value for the row (members that find the row unusual speak louder), then summed per
    /// feature. When no member finds anything, members weigh equally.
    fn explain(&self, row: &[f64]) -> Vec<(usize, f64)> {
        let d = self.n_features();
        if row.len() != d {
            return Vec::new();
        }
        let parts: Vec<(f64, Vec<(usize, f64)>)> = self
            .members
            .iter()
            .map(|m| {
                // Members whose score is a sum of their explanation's terms give both from
                // one pass over the row.
                let (score, explanation) = match &m.detector {
                    AnyDetector::Hbos(h) => h.score_and_explain(row),
                    AnyDetector::Tail(t) => t.score_and_explain(row),
                    d => (d.score_row(row), d.explain(row)),
                };
                (m.sketch.cdf(score), explanation)
            })
            .collect();
        let parts: Vec<_> = parts.iter().map(|(w, e)| (*w, e.iter().copied())).collect();
        Self::weigh(d, &parts)
    }
}
