//! HBOS fitting, scoring and explanation.

use super::params::{BinMode, HbosParams, HbosValidParams};
use crate::error::{FitError, InvalidModel};
use crate::impute::Imputer;
use crate::matrix::MatrixView;
use crate::stats::{column, column_medians, quantile_sorted, sort_f64, validate_training};
use crate::traits::{Detector, Fit, ParamGuard, score_blocks};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Bin width used for distances from a constant column's only value, relative to that
/// value's magnitude (at least 1e-3 in absolute units).
const CONSTANT_WIDTH: f64 = 1e-3;

/// One feature's histogram, stored as per-bin surprise terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Histogram {
    /// Bin edges, strictly increasing; a single edge for a constant column.
    edges: Vec<f64>,
    /// `ln(max height) - ln(height)` per bin: 0 for the densest bin, larger for rarer ones.
    terms: Vec<f64>,
    /// The term of a value outside the training range, before the distance penalty.
    outside: f64,
    /// Typical bin width, the unit of the distance penalty outside the range.
    unit: f64,
    equal_width: bool,
}

impl Histogram {
    fn fit(values: &mut [f64], p: &HbosParams) -> Self {
        let n = values.len() as f64;
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let mut edges: Vec<f64> = match p.mode {
            BinMode::EqualWidth => {
                (0..=p.bins).map(|i| lo + (hi - lo) * i as f64 / p.bins as f64).collect()
            }
            BinMode::Quantile => {
                // Only this mode needs the values in order.
                sort_f64(values);
                (0..=p.bins).map(|i| quantile_sorted(values, i as f64 / p.bins as f64)).collect()
            }
        };
        edges.dedup_by(|a, b| a <= b);
        if edges.len() < 2 {
            let unit = CONSTANT_WIDTH * lo.abs().max(1.0);
            return Self {
                edges: vec![lo],
                terms: vec![0.0],
                outside: ((n + p.alpha) / p.alpha).ln(),
                unit,
                equal_width: true,
            };
        }
        let bins = edges.len() - 1;
        let mut counts = vec![0usize; bins];
        let mut h = Self {
            edges,
            terms: Vec::new(),
            outside: 0.0,
            unit: (hi - lo) / bins as f64,
            equal_width: p.mode == BinMode::EqualWidth,
        };
        for &v in values.iter() {
            if let Some(b) = h.bin(v) {
                counts[b] += 1;
            }
        }
        let heights: Vec<f64> = counts
            .iter()
            .enumerate()
            .map(|(b, &c)| (c as f64 + p.alpha) / (h.edges[b + 1] - h.edges[b]))
            .collect();
        let max = heights.iter().copied().fold(f64::MIN_POSITIVE, f64::max).ln();
        h.terms = heights.iter().map(|x| max - x.ln()).collect();
        h.outside = max - (p.alpha / h.unit).ln();
        h
    }

    /// Checks what [`Histogram::term`] relies on.
    fn check(&self) -> Result<(), String> {
        let e = &self.edges;
        if e.is_empty() || e.iter().any(|v| !v.is_finite()) || e.windows(2).any(|w| w[0] >= w[1]) {
            return Err("bin edges are not finite and strictly increasing".into());
        }
        if self.terms.len() != e.len().saturating_sub(1).max(1) {
            return Err(format!("{} bin terms for {} edges", self.terms.len(), e.len()));
        }
        if self.terms.iter().any(|t| !t.is_finite()) || !self.outside.is_finite() {
            return Err("bin terms are not finite".into());
        }
        if !(self.unit.is_finite() && self.unit > 0.0) {
            return Err(format!("bin width {} is not a positive number", self.unit));
        }
        Ok(())
    }

    /// Bin of an in-range value.
    fn bin(&self, v: f64) -> Option<usize> {
        let bins = self.edges.len() - 1;
        let (lo, hi) = (self.edges[0], self.edges[bins]);
        if !(lo..=hi).contains(&v) {
            return None;
        }
        if bins == 0 {
            return Some(0);
        }
        let b = if self.equal_width {
            ((v - lo) / (hi - lo) * bins as f64) as usize
        } else {
            self.edges[1..].partition_point(|&e| e <= v)
        };
        Some(b.min(bins - 1))
    }

    /// Surprise of `v`; outside the training range it grows with the log of the distance
    /// in bin widths, so a far value is more surprising than a near one.
    fn term(&self, v: f64) -> f64 {
        match self.bin(v) {
            Some(b) => self.terms[b],
            None => {
                let (lo, hi) = (self.edges[0], self.edges[self.edges.len() - 1]);
                let dist = if v < lo { lo - v } else { v - hi };
                self.outside + (1.0 + dist / self.unit).ln()
            }
        }
    }
}

/// A fitted Histogram-Based Outlier Score model (Goldstein and Dengel, 2012).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hbos {
    params: HbosParams,
    histograms: Vec<Histogram>,
    imputer: Imputer,
}

impl Fit for HbosParams {
    type Model = Hbos;

    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<Hbos, FitError> {
        self.check()?.fit(x, seed)
    }
}

impl Fit for HbosValidParams {
    type Model = Hbos;

    /// Deterministic; the seed is unused.
    fn fit(&self, x: MatrixView<'_>, _seed: u64) -> Result<Hbos, FitError> {
        validate_training(x, 2)?;
        let histograms = (0..x.cols())
            .into_par_iter()
            .map(|c| Histogram::fit(&mut column(x, c), &self.0))
            .collect();
        Ok(Hbos { params: self.0.clone(), histograms, imputer: Imputer::new(column_medians(x)) })
    }
}

impl Hbos {
    /// The parameters the model was fitted with.
    pub fn params(&self) -> &HbosParams {
        &self.params
    }
}

impl Detector for Hbos {
    fn name(&self) -> &'static str {
        "hbos"
    }

    fn n_features(&self) -> usize {
        self.histograms.len()
    }

    fn medians(&self) -> &[f64] {
        self.imputer.medians()
    }

    fn validate(&self) -> Result<(), InvalidModel> {
        let err = |reason: String| InvalidModel::new("hbos", reason);
        self.params.check().map_err(|e| err(e.to_string()))?;
        self.imputer.check(self.histograms.len()).map_err(err)?;
        for (f, h) in self.histograms.iter().enumerate() {
            h.check().map_err(|reason| err(format!("feature {f}: {reason}")))?;
        }
        Ok(())
    }

    /// Sum over features of `-ln(relative density)`: features are treated as independent.
    fn score_row(&self, row: &[f64]) -> f64 {
        if row.len() != self.histograms.len() {
            return f64::NAN;
        }
        let row = self.imputer.clean(row);
        self.histograms.iter().zip(row.iter()).map(|(h, &v)| h.term(v)).sum()
    }

    /// Rows of a worker's blocks share a memo of each feature's last value and its term (most
    /// columns repeat their value from one record to the next, and a term costs a search
    /// of the bin edges). Equal values have equal terms, summed in the same order, so
    /// scores are those of [`Detector::score_row`].
    fn score(&self, x: MatrixView<'_>) -> Vec<f64> {
        let d = self.histograms.len();
        if x.cols() != d || d == 0 {
            return vec![f64::NAN; x.rows()];
        }
        // NaN never equals a value, so the first row fills the memo.
        score_blocks(
            x,
            d,
            || vec![(f64::NAN, 0.0); d],
            |memo, block, o| {
                for (score, row) in o.iter_mut().zip(block.chunks_exact(d)) {
                    let row = self.imputer.clean(row);
                    *score = self
                        .histograms
                        .iter()
                        .zip(memo.iter_mut())
                        .zip(row.iter())
                        .map(|((h, m), &v)| {
                            if m.0 != v {
                                *m = (v, h.term(v));
                            }
                            m.1
                        })
                        .sum();
                }
            },
        )
    }

    /// Each feature's term of the score sum.
    fn explain(&self, row: &[f64]) -> Vec<(usize, f64)> {
        if row.len() != self.histograms.len() {
            return Vec::new();
        }
        let row = self.imputer.clean(row);
        self.histograms.iter().zip(row.iter()).map(|(h, &v)| h.term(v)).enumerate().collect()
    }
}

impl Hbos {
    /// The score term of value `v` (not missing) of feature `f`.
    #[inline]
    pub(crate) fn term_at(&self, f: usize, v: f64) -> f64 {
        self.histograms[f].term(v)
    }

    /// How missing values are filled.
    pub(crate) fn imputer(&self) -> &Imputer {
        &self.imputer
    }

    /// [`Detector::score_row`] and [`Detector::explain`] of one row at once: the score
    /// is the sum of the explanation's terms, added in the same order, so both are
    /// what the two calls give.
    pub(crate) fn score_and_explain(&self, row: &[f64]) -> (f64, Vec<(usize, f64)>) {
        let terms = self.explain(row);
        if terms.is_empty() {
            return (self.score_row(row), terms);
        }
        (terms.iter().map(|&(_, t)| t).sum(), terms)
    }
}
