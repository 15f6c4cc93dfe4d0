//! The drift monitor: counts observed feature values and scores against the training
//! profile and reports PSI and KS on demand.

use anomalog_eval::report::BinShare;
use anomalog_features::families::time;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::column::Column;
use super::error::DriftError;
use super::profile::TrainingProfile;
use crate::model::Model;
use crate::score::{Scored, Scorer};

/// Default PSI above which a distribution counts as drifted (the usual "significant
/// shift" level).
pub const DEFAULT_PSI_THRESHOLD: f64 = 0.25;

/// Default share of the features that must drift for the traffic as a whole to count
/// as drifted when the score distribution has not. One feature drifting among a
/// hundred is often a benign change (a new page, a new client); a tenth of them at
/// once means the traffic the model knows has changed.
pub const DEFAULT_FEATURE_SHARE: f64 = 0.1;

/// Default number of PSI bins (equal training mass, by training quantiles).
pub const DEFAULT_BINS: usize = 10;

/// Default number of observed records below which no verdict is given: with 10 bins,
/// sampling noise alone gives a PSI of about `9 / records` (0.02 at 500 records), and
/// bins holding a small training share are often empty in a small sample.
pub const DEFAULT_MIN_RECORDS: u64 = 500;

/// How drift is measured and when it is declared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftOptions {
    /// A distribution with a PSI above this has drifted.
    pub psi_threshold: f64,
    /// The traffic has drifted when the score has, or when more than this share of the
    /// features have (0: any feature).
    pub feature_share: f64,
    /// PSI bins of finite values per distribution (by training quantiles; a missing
    /// value bin comes on top). Between 2 and 32.
    pub bins: usize,
    /// No verdict (`drifted` false) below this many observed records.
    pub min_records: u64,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            psi_threshold: DEFAULT_PSI_THRESHOLD,
            feature_share: DEFAULT_FEATURE_SHARE,
            bins: DEFAULT_BINS,
            min_records: DEFAULT_MIN_RECORDS,
        }
    }
}

impl DriftOptions {
    /// The options if they make sense.
    pub fn checked(self) -> Result<DriftOptions, DriftError> {
        let invalid = |name, reason| Err(DriftError::Option { name, reason });
        if !(self.psi_threshold.is_finite() && self.psi_threshold > 0.0) {
            return invalid("psi_threshold", "must be a positive number");
        }
        if !(0.0..1.0).contains(&self.feature_share) {
            return invalid("feature_share", "must be at least 0 and below 1");
        }
        if !(2..=32).contains(&self.bins) {
            return invalid("bins", "must be between 2 and 32");
        }
        Ok(self)
    }
}

/// Compares observed traffic with the training data of a model, in bounded memory.
///
/// Feed it the raw feature row and raw score of every scored record
/// ([`DriftMonitor::observe`], or [`DriftMonitor::observe_scored`] right after
/// [`Scorer::score`]); ask for a [`DriftReport`] whenever needed. It keeps one counter
/// per cell of each training profile (at most 129 per feature), so its memory does not
/// grow with the traffic; [`DriftMonitor::reset`] starts a new period. The batch
/// command observes a whole input and reports once; a daemon can report periodically
/// and reset.
///
/// Per feature and for the score it computes:
/// - the population stability index over about [`DriftOptions::bins`] bins of equal
///   training mass plus a bin of missing values (see [`super::psi`]);
/// - the two-sample Kolmogorov–Smirnov statistic over the finite values and its
///   asymptotic p-value (see [`super::ks_p_value`]). The training side is the
///   distribution the profile describes (exact at its knots, even between them), with
///   an effective size of the training records, capped at
///   [`super::KS_TRAINING_CAP`]; the observed side is binned on the same cells, so
///   the statistic is a slight underestimate for continuous values.
#[derive(Debug, Clone)]
pub struct DriftMonitor {
    options: DriftOptions,
    names: Vec<String>,
    features: Vec<Column>,
    /// Whether each feature is monitored: a calendar column whose period is longer
    /// than the training span is not (see [`DriftMonitor::new`]).
    judged: Vec<bool>,
    score: Column,
    records: u64,
    training_records: u64,
}

impl DriftMonitor {
    /// A monitor against the training profile of `model`. Calendar columns whose
    /// period is longer than the training span (hour of day after less than a day of
    /// training, weekday after less than a week) are left out: every hour the training
    /// never reached would show as drift, and the detectors ignore those columns for the
    /// same reason ([`anomalog_features::families::time::judgeable`]).
    pub fn new(model: &Model, options: DriftOptions) -> Result<DriftMonitor, DriftError> {
        let names = model.features.names();
        let mut monitor = DriftMonitor::from_profile(&model.training.profile, names, options)?;
        let span = model.training.span_seconds.unwrap_or(0.0);
        monitor.judged = names.iter().map(|n| time::judgeable(n, span)).collect();
        Ok(monitor)
    }

    /// A monitor against `profile`, whose feature profiles are the columns `names`.
    pub fn from_profile(
        profile: &TrainingProfile,
        names: &[String],
        options: DriftOptions,
    ) -> Result<DriftMonitor, DriftError> {
        let options = options.checked()?;
        if profile.features().is_empty() && !names.is_empty() {
            return Err(DriftError::NoProfile);
        }
        if profile.features().len() != names.len() {
            return Err(DriftError::Profile(format!(
                "{} feature profiles for {} features",
                profile.features().len(),
                names.len()
            )));
        }
        for (p, name) in profile.features().iter().zip(names) {
            p.check().map_err(|e| DriftError::Profile(format!("{name}: {e}")))?;
        }
        profile.score().check().map_err(|e| DriftError::Profile(format!("score: {e}")))?;
        let records = profile.records();
        let features = profile
            .features()
            .iter()
            .map(|p| Column::new(p.clone(), records, options.bins))
            .collect();
        Ok(DriftMonitor {
            options,
            names: names.to_vec(),
            judged: vec![true; names.len()],
            features,
            score: Column::new(profile.score().clone(), records, options.bins),
            records: 0,
            training_records: records,
        })
    }

    /// Counts one record: its raw feature row (as [`Scorer::raw_features`] gives it)
    /// and its raw detector score ([`Scored::raw`]). Extra or missing columns are
    /// ignored, so a row of another width cannot panic (it would be a bug).
    pub fn observe(&mut self, raw_features: &[f64], raw_score: f64) {
        for (column, &x) in self.features.iter_mut().zip(raw_features) {
            column.observe(x);
        }
        self.score.observe(raw_score);
        self.records += 1;
    }

    /// Counts a block of records: `rows` holds their raw feature rows one after another,
    /// `width` values each, and `raw_scores` their raw scores, one per record. The same
    /// counts as [`DriftMonitor::observe`] on each record in turn (a record beyond the
    /// end of `rows` counts its score only), taken column by column over a few records
    /// at a time: a column mostly repeats its value from one record to the next, and a
    /// run of equal values costs a comparison each.
    pub fn observe_rows(&mut self, rows: &[f64], width: usize, raw_scores: &[f64]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512 F, checked just above.
            unsafe { self.observe_rows_avx512(rows, width, raw_scores) };
            return;
        }
        self.observe_rows_with(rows, width, raw_scores);
    }

    /// [`DriftMonitor::observe_rows`] with the knot comparisons on 512-bit vectors.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn observe_rows_avx512(&mut self, rows: &[f64], width: usize, raw_scores: &[f64]) {
        self.observe_rows_with(rows, width, raw_scores);
    }

    #[inline(always)]
    fn observe_rows_with(&mut self, rows: &[f64], width: usize, raw_scores: &[f64]) {
        /// Records per pass over the columns: their rows stay in the first-level cache.
        const TILE: usize = 32;
        let full = rows.len().checked_div(width).map_or(0, |n| n.min(raw_scores.len()));
        let rows = &rows[..full * width];
        let mut start = 0;
        while start < full {
            let tile = &rows[start * width..(start + TILE).min(full) * width];
            for (j, column) in self.features.iter_mut().take(width).enumerate() {
                column.observe_all(tile.iter().skip(j).step_by(width).copied());
            }
            start += TILE;
        }
        self.score.observe_all(raw_scores.iter().copied());
        self.records += raw_scores.len() as u64;
    }

    /// Counts the record `scorer` has just scored as `scored`.
    pub fn observe_scored(&mut self, scorer: &Scorer<'_>, scored: &Scored) {
        self.observe(scorer.raw_features(), scored.raw);
    }

    /// Records observed since the start or the last reset.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Forgets the observed records (the training side stays).
    pub fn reset(&mut self) {
        self.features.iter_mut().for_each(Column::reset);
        self.score.reset();
        self.records = 0;
    }

    /// The options in force.
    pub fn options(&self) -> &DriftOptions {
        &self.options
    }

    /// The PSI bins of the score: the range of raw scores each covers and its share of
    /// the training and of the observed records, the bin of missing values last.
    pub fn score_bins(&self) -> Vec<BinShare> {
        self.score.bin_shares()
    }

    /// The PSI bins of the feature in column `index`, as [`DriftMonitor::score_bins`].
    pub fn feature_bins(&self, index: usize) -> Option<Vec<BinShare>> {
        self.features.get(index).map(Column::bin_shares)
    }

    /// Drift of what was observed against the training data.
    pub fn report(&self) -> DriftReport {
        let o = &self.options;
        let features: Vec<FeatureDrift> = (0..self.features.len())
            .filter(|&column| self.judged[column])
            .map(|column| {
                let d = self.features[column].drift();
                let name = self.names[column].clone();
                FeatureDrift { name, column, psi: d.psi, ks_d: d.ks_d, ks_p: d.ks_p }
            })
            .collect();
        let score = self.score.drift();
        let drifted_features = features.iter().filter(|f| f.psi > o.psi_threshold).count();
        let drifted_share =
            if features.is_empty() { 0.0 } else { drifted_features as f64 / features.len() as f64 };
        let enough_records = self.records >= o.min_records;
        let score_drifted = score.psi > o.psi_threshold;
        let features_drifted = drifted_features > 0 && drifted_share > o.feature_share;
        DriftReport {
            drifted: enough_records && (score_drifted || features_drifted),
            score_psi: score.psi,
            score_ks_d: score.ks_d,
            score_ks_p: score.ks_p,
            records: self.records,
            training_records: self.training_records,
            enough_records,
            drifted_features,
            drifted_share,
            psi_threshold: o.psi_threshold,
            feature_share: o.feature_share,
            features,
        }
    }
}

/// Drift of one feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDrift {
    /// The feature (the key of the `features` object in JSON).
    #[serde(skip)]
    pub name: String,
    /// Its column in the feature rows (for [`DriftMonitor::feature_bins`]).
    #[serde(skip)]
    pub column: usize,
    /// Population stability index against training.
    pub psi: f64,
    /// Kolmogorov–Smirnov statistic (largest CDF gap) of the finite values.
    pub ks_d: f64,
    /// Asymptotic p-value of `ks_d` (small = the distributions differ).
    pub ks_p: f64,
}

/// What [`DriftMonitor::report`] found. In JSON (`anomalog drift --json`) the keys are
/// the field names, and `features` is an object keyed by feature name, in column
/// order: `{"drifted": false, "score_psi": 0.01, ..., "features": {"path_length":
/// {"psi": 0.002, "ks_d": 0.01, "ks_p": 0.93}, ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// Whether the traffic has drifted: enough records, and the score PSI above the
    /// threshold or more than `feature_share` of the features above it.
    pub drifted: bool,
    /// PSI of the detector's score distribution.
    pub score_psi: f64,
    /// Kolmogorov–Smirnov statistic of the score distribution.
    pub score_ks_d: f64,
    /// Its asymptotic p-value.
    pub score_ks_p: f64,
    /// Records observed.
    pub records: u64,
    /// Records the model was trained on.
    pub training_records: u64,
    /// Whether at least the minimum number of records was observed for a verdict.
    pub enough_records: bool,
    /// Features whose PSI is above the threshold.
    pub drifted_features: usize,
    /// Their share of all features.
    pub drifted_share: f64,
    /// The PSI threshold used.
    pub psi_threshold: f64,
    /// The share of drifted features above which the traffic has drifted.
    pub feature_share: f64,
    /// Per monitored feature, in column order.
    #[serde(serialize_with = "features_by_name")]
    pub features: Vec<FeatureDrift>,
}

impl DriftReport {
    /// The features from most to least drifted: by PSI, then by KS statistic.
    pub fn most_drifted(&self) -> Vec<&FeatureDrift> {
        let mut sorted: Vec<&FeatureDrift> = self.features.iter().collect();
        sorted.sort_by(|a, b| b.psi.total_cmp(&a.psi).then(b.ks_d.total_cmp(&a.ks_d)));
        sorted
    }

    /// Whether the score distribution has drifted.
    pub fn score_drifted(&self) -> bool {
        self.score_psi > self.psi_threshold
    }
}

fn features_by_name<S: Serializer>(features: &[FeatureDrift], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(features.len()))?;
    for f in features {
        map.serialize_entry(&f.name, f)?;
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value of column `j` in record `i`: runs of repeats, missing values, rare jumps.
    fn value(i: usize, j: usize) -> f64 {
        match (i * 7 + j * 13) % 41 {
            0 => f64::NAN,
            1 => 1e6,
            k if j.is_multiple_of(3) => f64::from(u32::try_from(k).unwrap_or(0)),
            _ => f64::from(u32::try_from((i / 9 + j) % 5).unwrap_or(0)) - 1.0,
        }
    }

    #[test]
    fn a_block_of_records_counts_as_each_record_in_turn() {
        let width = 6;
        let training: Vec<Vec<f64>> =
            (0..width).map(|j| (0..500).map(|i| value(i, j)).collect()).collect();
        let scores: Vec<f64> =
            (0..500).map(|i| f64::from(u32::try_from(i % 37).unwrap_or(0))).collect();
        let names: Vec<String> = (0..width).map(|j| format!("f{j}")).collect();
        let profile = TrainingProfile::of_columns(training, &scores);
        let new = || DriftMonitor::from_profile(&profile, &names, DriftOptions::default()).unwrap();
        let (mut one_by_one, mut blocks) = (new(), new());
        // 1,000 records in blocks of uneven sizes, across tiles; the last block is
        // missing its last row (its score still counts), as `observe` takes a short row.
        let rows: Vec<f64> =
            (0..1_000).flat_map(|i| (0..width).map(move |j| value(i + 3, j))).collect();
        let raw: Vec<f64> =
            (0..1_000).map(|i| f64::from(u32::try_from(i % 53).unwrap_or(0)) - 4.0).collect();
        let mut start = 0;
        for size in [1, 31, 32, 33, 0, 400, 503] {
            let end = start + size;
            let short = if end == 1_000 { width } else { 0 };
            blocks.observe_rows(&rows[start * width..end * width - short], width, &raw[start..end]);
            start = end;
        }
        assert_eq!(start, 1_000);
        for (i, &score) in raw.iter().enumerate() {
            let row = if i == 999 { &[][..] } else { &rows[i * width..(i + 1) * width] };
            one_by_one.observe(row, score);
        }
        // Compared as text: the bin of missing values has NaN bounds.
        let text = |x: &dyn std::fmt::Debug| format!("{x:?}");
        assert_eq!(blocks.records(), one_by_one.records());
        assert_eq!(text(&blocks.score_bins()), text(&one_by_one.score_bins()));
        for j in 0..width {
            let (b, o) = (blocks.feature_bins(j), one_by_one.feature_bins(j));
            assert_eq!(text(&b), text(&o), "column {j}");
        }
        assert_eq!(text(&blocks.report()), text(&one_by_one.report()));
        assert!(blocks.report().features.iter().any(|f| f.psi > 0.0), "nothing was counted");
    }
}
