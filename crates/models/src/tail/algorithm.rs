//! Tail-probability fitting, scoring and explanation.

use super::ecdf::FeatureTails;
use super::params::{MAX_TOP_K, Sides, TailParams, TailValidParams};
use crate::error::{FitError, InvalidModel};
use crate::impute::Imputer;
use crate::matrix::MatrixView;
use crate::stats::{column, column_medians, validate_training};
use crate::traits::{Detector, Fit, ParamGuard, score_blocks};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// A fitted per-feature tail-probability model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailProbability {
    params: TailParams,
    features: Vec<FeatureTails>,
    /// Per feature: whether it is scored (see [`TailParams::max_trend`]).
    scored: Vec<bool>,
    imputer: Imputer,
}

impl Fit for TailParams {
    type Model = TailProbability;

    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<TailProbability, FitError> {
        self.check()?.fit(x, seed)
    }
}

impl Fit for TailValidParams {
    type Model = TailProbability;

    /// Deterministic; the seed is unused.
    fn fit(&self, x: MatrixView<'_>, _seed: u64) -> Result<TailProbability, FitError> {
        validate_training(x, 2)?;
        let features: Vec<FeatureTails> =
            (0..x.cols()).into_par_iter().map(|c| FeatureTails::fit(&mut column(x, c))).collect();
        // `>=` so that max_trend = 1 scores even a perfectly monotonic feature.
        let scored = features
            .iter()
            .map(|f| self.0.max_trend >= 1.0 || f.trend().abs() <= self.0.max_trend)
            .collect();
        Ok(TailProbability {
            params: self.0.clone(),
            features,
            scored,
            imputer: Imputer::new(column_medians(x)),
        })
    }
}

/// Rows of up to this many features keep all their surprises on the stack and select the
/// top `k` in one pass, instead of inserting every surprise into a sorted top-`k` list.
pub(crate) const SELECT_MAX: usize = 256;

/// The sum of the `k` largest values (all of them when there are fewer), added in
/// descending order like [`TopK::sum`], so both give the same bits. Overwrites `values`.
fn top_k_sum(values: &mut [f64], k: usize) -> f64 {
    top_k(values, k, 0).0
}

/// [`top_k_sum`], and the `k + slack`-th largest value (the smallest when there are
/// fewer; NaN when there are none). Writes the `k + slack` largest, in descending
/// order, over the front of `values` (what is behind them is left as it was).
///
/// The values are selected and sorted as integer keys that order as
/// [`f64::total_cmp`] orders the values: integer comparisons need no comparator call
/// and sort without branches. Equal keys are equal bits, so which of two equal values
/// is taken does not change the sum.
fn top_k(values: &mut [f64], k: usize, slack: usize) -> (f64, f64) {
    let k = k.clamp(1, MAX_TOP_K).min(values.len());
    if k == 0 {
        return (0.0, f64::NAN);
    }
    let wide = (k + slack).min(values.len());
    // A buffer no larger than needed: zeroing one costs per row.
    let (mut small, mut large, mut heap);
    let keys = if values.len() <= HINT_KEEP {
        small = [0i64; HINT_KEEP];
        &mut small[..values.len()]
    } else if values.len() <= SELECT_MAX {
        large = [0i64; SELECT_MAX];
        &mut large[..values.len()]
    } else {
        heap = vec![0i64; values.len()];
        &mut heap[..]
    };
    // Descending order of the values is ascending order of the complemented keys.
    for (key, &v) in keys.iter_mut().zip(values.iter()) {
        *key = !total_key(v);
    }
    if keys.len() <= HINT_KEEP {
        // Few values (those a hint kept): sorting them all is cheaper than selecting.
        keys.sort_unstable();
    } else {
        keys.select_nth_unstable(wide - 1);
        keys[..wide].sort_unstable();
    }
    let top = &keys[..wide];
    for (v, &key) in values.iter_mut().zip(top.iter()) {
        *v = from_total_key(!key);
    }
    (values[..k].iter().sum(), values[wide - 1])
}

/// The order of [`f64::total_cmp`] as an integer: negative values have their other bits
/// flipped (as `total_cmp` does), which is its own inverse.
#[inline(always)]
fn total_key(v: f64) -> i64 {
    let bits = v.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

/// The value of a [`total_key`].
#[inline(always)]
fn from_total_key(key: i64) -> f64 {
    f64::from_bits((key ^ (((key >> 63) as u64) >> 1) as i64) as u64)
}

/// Values a hint lets through that fit on the stack; more costs a full selection.
const HINT_KEEP: usize = 64;
/// The hint for the next row is this row's `k + HINT_SLACK`-th largest surprise.
const HINT_SLACK: usize = 8;

/// [`top_k_sum`] of the surprises of a row that `surprise(f)` gives, written to
/// `values`, guided by `hint`: a guess of a value a little below the `k`-th largest
/// (the previous row's `k + HINT_SLACK`-th). When at least `k` values are at or above
/// it, the `k` largest are all among those, and only they are selected from; the same
/// values summed in the same order give the same bits whatever the hint, and a hint too
/// high costs a full selection. `hint` is updated for the next row.
fn top_k_sum_hinted(
    values: &mut [f64],
    k: usize,
    hint: &mut f64,
    mut surprise: impl FnMut(usize) -> f64,
) -> f64 {
    let mut top = HintedTopK::new(*hint);
    for (f, slot) in values.iter_mut().enumerate() {
        let v = surprise(f);
        *slot = v;
        top.push(v);
    }
    top.finish(values, k, hint)
}

/// The selection of [`top_k_sum_hinted`], fed one value at a time by a caller that
/// computes them in a loop of its own: [`HintedTopK::push`] every value in feature
/// order (also written to the `values` given to [`HintedTopK::finish`]).
pub(crate) struct HintedTopK {
    /// The hint's bits as a signed integer, at least +0.
    floor: i64,
    kept: [f64; HINT_KEEP],
    n: usize,
}

impl HintedTopK {
    pub(crate) fn new(hint: f64) -> Self {
        // For a floor of +0 or more (sign bit clear), comparing the bits as signed
        // integers orders values as `f64::total_cmp` does: negative values (even -0)
        // fall below it.
        HintedTopK { floor: (hint.to_bits() as i64).max(0), kept: [0.0; HINT_KEEP], n: 0 }
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, v: f64) {
        // Branch-free compaction: every value is written, only those kept advance `n`.
        if let Some(k) = self.kept.get_mut(self.n) {
            *k = v;
        }
        self.n += usize::from(v.to_bits() as i64 >= self.floor);
    }

    /// The sum of the `k` largest of the values pushed, which are `values`; updates
    /// `hint` for the next row.
    pub(crate) fn finish(mut self, values: &mut [f64], k: usize, hint: &mut f64) -> f64 {
        let want = k.clamp(1, MAX_TOP_K).min(values.len());
        let n = self.n;
        let (sum, edge) = if n >= want && n <= HINT_KEEP {
            top_k(&mut self.kept[..n], k, HINT_SLACK)
        } else {
            top_k(values, k, HINT_SLACK)
        };
        *hint = edge;
        sum
    }
}

/// The `k` largest values pushed so far, kept on the stack.
struct TopK {
    values: [f64; MAX_TOP_K],
    len: usize,
    k: usize,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self { values: [0.0; MAX_TOP_K], len: 0, k: k.clamp(1, MAX_TOP_K) }
    }

    /// Insertion into a descending array: k is small, so this beats a heap.
    fn push(&mut self, v: f64) {
        if self.len == self.k {
            if v <= self.values[self.k - 1] {
                return;
            }
            self.len -= 1;
        }
        let mut i = self.len;
        while i > 0 && self.values[i - 1] < v {
            self.values[i] = self.values[i - 1];
            i -= 1;
        }
        self.values[i] = v;
        self.len += 1;
    }

    fn sum(&self) -> f64 {
        self.values[..self.len].iter().sum()
    }
}

impl TailProbability {
    /// The parameters the model was fitted with.
    pub fn params(&self) -> &TailParams {
        &self.params
    }

    /// Indices of the features left unscored because they trend with time in training.
    pub fn trending_features(&self) -> Vec<usize> {
        self.scored.iter().enumerate().filter(|(_, s)| !**s).map(|(f, _)| f).collect()
    }

    /// The sum of the `top_k` largest surprises of a clean row, each from `surprise`;
    /// with a `hint` (see [`top_k_sum_hinted`]) for rows scored one after another.
    fn sum_surprises(
        &self,
        row: &[f64],
        hint: Option<&mut f64>,
        mut surprise: impl FnMut(usize, f64) -> f64,
    ) -> f64 {
        if row.len() <= SELECT_MAX {
            let mut buf = [0.0; SELECT_MAX];
            let surprises = &mut buf[..row.len()];
            if let Some(hint) = hint {
                return top_k_sum_hinted(surprises, self.params.top_k, hint, |f| {
                    surprise(f, row[f])
                });
            }
            for (f, (s, &v)) in surprises.iter_mut().zip(row.iter()).enumerate() {
                *s = surprise(f, v);
            }
            return top_k_sum(surprises, self.params.top_k);
        }
        let mut top = TopK::new(self.params.top_k);
        for (f, &v) in row.iter().enumerate() {
            top.push(surprise(f, v));
        }
        top.sum()
    }

    /// Surprise of one value of feature `f`: `-log10` of its tail probability.
    fn surprise(&self, f: usize, v: f64) -> f64 {
        if !self.scored[f] {
            return 0.0;
        }
        let (upper, lower) = self.features[f].surprises(v);
        match self.params.sides {
            Sides::Both => upper.max(lower),
            Sides::Upper => upper,
        }
    }
}

impl Detector for TailProbability {
    fn name(&self) -> &'static str {
        "tail"
    }

    fn n_features(&self) -> usize {
        self.features.len()
    }

    fn medians(&self) -> &[f64] {
        self.imputer.medians()
    }

    fn validate(&self) -> Result<(), InvalidModel> {
        let err = |reason: String| InvalidModel::new("tail", reason);
        self.params.check().map_err(|e| err(e.to_string()))?;
        self.imputer.check(self.features.len()).map_err(err)?;
        if self.scored.len() != self.features.len() {
            return Err(err(format!(
                "{} scored flags for {} features",
                self.scored.len(),
                self.features.len()
            )));
        }
        for (f, t) in self.features.iter().enumerate() {
            t.check().map_err(|reason| err(format!("feature {f}: {reason}")))?;
        }
        Ok(())
    }

    /// Sum of the `top_k` largest per-feature surprises.
    fn score_row(&self, row: &[f64]) -> f64 {
        if row.len() != self.features.len() {
            return f64::NAN;
        }
        let row = self.imputer.clean(row);
        self.sum_surprises(&row, None, |f, v| self.surprise(f, v))
    }

    /// Rows of a worker's blocks share a memo of each feature's last value and its surprise: most
    /// columns repeat their value from one record to the next (a count of zero, the same
    /// status class), and a surprise costs a search of the training values. Equal values
    /// have equal surprises, so scores are those of [`Detector::score_row`]. Each row's
    /// `k`-th largest surprise guides the selection of the next row's largest ones
    /// ([`top_k_sum_hinted`]), which gives the same sum as a full selection.
    fn score(&self, x: MatrixView<'_>) -> Vec<f64> {
        let d = self.features.len();
        if x.cols() != d || d == 0 {
            return vec![f64::NAN; x.rows()];
        }
        // NaN never equals a value, so the first row fills the memo; a NaN hint is
        // never cleared, so the first row selects from all its surprises.
        score_blocks(
            x,
            d,
            || (vec![(f64::NAN, 0.0); d], f64::NAN),
            |(memo, hint), block, o| {
                for (score, row) in o.iter_mut().zip(block.chunks_exact(d)) {
                    let row = self.imputer.clean(row);
                    *score = self.sum_surprises(&row, Some(hint), |f, v| {
                        let m = &mut memo[f];
                        if m.0 != v {
                            *m = (v, self.surprise(f, v));
                        }
                        m.1
                    });
                }
            },
        )
    }

    /// Each feature's surprise, `-log10` of its tail probability under training data.
    fn explain(&self, row: &[f64]) -> Vec<(usize, f64)> {
        if row.len() != self.features.len() {
            return Vec::new();
        }
        let row = self.imputer.clean(row);
        row.iter().enumerate().map(|(f, &v)| (f, self.surprise(f, v))).collect()
    }
}

impl TailProbability {
    /// The surprise of value `v` (not missing) of feature `f`.
    #[inline]
    pub(crate) fn surprise_at(&self, f: usize, v: f64) -> f64 {
        self.surprise(f, v)
    }

    /// How missing values are filled.
    pub(crate) fn imputer(&self) -> &Imputer {
        &self.imputer
    }

    /// The score of a clean row of at most [`SELECT_MAX`] features whose surprises
    /// were pushed to `top` and written to `values` (one slot per feature), with the
    /// `hint` of rows scored one after another: what [`Detector::score`] computes for
    /// each row.
    pub(crate) fn score_surprises(
        &self,
        top: HintedTopK,
        values: &mut [f64],
        hint: &mut f64,
    ) -> f64 {
        top.finish(values, self.params.top_k, hint)
    }

    /// [`Detector::score_row`] and [`Detector::explain`] of one row at once: the score
    /// is the sum of the `top_k` largest surprises of the explanation, selected and
    /// added as `score_row` does, so both are what the two calls give.
    pub(crate) fn score_and_explain(&self, row: &[f64]) -> (f64, Vec<(usize, f64)>) {
        let surprises = self.explain(row);
        if surprises.is_empty() {
            return (self.score_row(row), surprises);
        }
        let mut values: Vec<f64> = surprises.iter().map(|&(_, s)| s).collect();
        let score = if values.len() <= SELECT_MAX {
            top_k_sum(&mut values, self.params.top_k)
        } else {
            let mut top = TopK::new(self.params.top_k);
            values.iter().for_each(|&v| top.push(v));
            top.sum()
        };
        (score, surprises)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_largest() {
        let mut t = TopK::new(3);
        for v in [1.0, 5.0, 2.0, 4.0, 0.5, 3.0] {
            t.push(v);
        }
        assert_eq!(t.sum(), 12.0);
        let mut one = TopK::new(1);
        [0.2, 0.9, 0.1].into_iter().for_each(|v| one.push(v));
        assert_eq!(one.sum(), 0.9);
    }

    #[test]
    fn integer_keys_select_as_total_cmp() {
        let mut state = 11u64;
        let specials = [f64::NAN, -f64::NAN, 0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, -1.5];
        for len in [1, 2, 7, 20, 36, 64, 104, 300] {
            for (k, slack) in [(1, 0), (5, 4), (16, 0), (16, 4), (MAX_TOP_K, 4)] {
                let values: Vec<f64> = (0..len)
                    .map(|i| {
                        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        match (state >> 33) % 9 {
                            0 => specials[i % specials.len()],
                            r => ((state >> 40) % 40) as f64 * 0.5 - f64::from(r as u8 % 2),
                        }
                    })
                    .collect();
                let mut sorted = values.clone();
                sorted.sort_by(|a, b| b.total_cmp(a));
                let k_ = k.min(len);
                let wide = (k_ + slack).min(len);
                let want: f64 = sorted[..k_].iter().sum();
                let (sum, edge) = top_k(&mut values.clone(), k, slack);
                assert_eq!(sum.to_bits(), want.to_bits(), "len {len} k {k}");
                assert_eq!(edge.to_bits(), sorted[wide - 1].to_bits(), "len {len} k {k}");
            }
        }
    }

    #[test]
    fn selection_and_insertion_give_the_same_bits() {
        let mut state = 7u64;
        for len in [1, 2, 5, 16, 17, 40, 103] {
            for k in [1, 3, 16, MAX_TOP_K] {
                let values: Vec<f64> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        // Coarse values so that ties are common.
                        ((state >> 40) % 50) as f64 * 0.37
                    })
                    .collect();
                let mut top = TopK::new(k);
                values.iter().for_each(|&v| top.push(v));
                let selected = top_k_sum(&mut values.clone(), k);
                assert_eq!(selected.to_bits(), top.sum().to_bits(), "len {len} k {k}");
                // Any hint gives the same bits: too low, about right, too high, NaN.
                for mut hint in [0.0, -0.0, 1.0, 5.0, 17.0, 1e9, f64::NAN, f64::NEG_INFINITY] {
                    let mut out = vec![0.0; len];
                    let hinted = top_k_sum_hinted(&mut out, k, &mut hint, |f| values[f]);
                    assert_eq!(hinted.to_bits(), selected.to_bits(), "len {len} k {k} hint {hint}");
                }
                // Zeros of both signs and negative values too.
                let signed: Vec<f64> = values
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| match i % 5 {
                        0 => -0.0,
                        1 => -v,
                        2 => 0.0,
                        _ => v,
                    })
                    .collect();
                let selected = top_k_sum(&mut signed.clone(), k);
                for mut hint in [0.0, -0.0, 0.37, 3.0, -1.0, f64::NAN, f64::INFINITY] {
                    let mut out = vec![0.0; len];
                    let hinted = top_k_sum_hinted(&mut out, k, &mut hint, |f| signed[f]);
                    assert_eq!(hinted.to_bits(), selected.to_bits(), "len {len} k {k} hint {hint}");
                }
            }
        }
    }
}
