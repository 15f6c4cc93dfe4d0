//! The two sides of every detector: fitting (params -> model) and scoring (model -> scores).

use crate::error::{FitError, InvalidModel, ParamError, ScoreError};
use crate::matrix::MatrixView;
use rayon::prelude::*;

/// Rows per parallel work item when scoring: large enough to amortize scheduling, small
/// enough to balance across cores.
pub(crate) const SCORE_BLOCK: usize = 1024;

/// A fitted anomaly detector.
///
/// Scores are "higher = more anomalous" on a detector-specific scale; use
/// [`crate::Calibration`] to map them to 0..1. Non-finite input values are treated as
/// missing and replaced by the training median of their column.
///
/// Input with the wrong number of columns cannot be scored: [`Detector::score`] and
/// [`Detector::score_row`] then return NaN scores and [`Detector::explain`] an empty list,
/// never a panic; call [`Detector::try_score`] to get an error instead.
pub trait Detector: Send + Sync {
    /// Short, stable name of the algorithm (as accepted by [`crate::DetectorKind`]).
    fn name(&self) -> &'static str;

    /// Number of features the model was trained on.
    fn n_features(&self) -> usize;

    /// Per-feature training medians (the "typical" value of each feature).
    fn medians(&self) -> &[f64];

    /// Checks every index, length and value the scoring code relies on. A fitted model
    /// always passes; a model read from a file is checked when it is read
    /// ([`crate::file::read_model_file`]), so a damaged file is a load error rather than a
    /// panic or silently wrong scores.
    fn validate(&self) -> Result<(), InvalidModel>;

    /// Anomaly score of one row.
    fn score_row(&self, row: &[f64]) -> f64;

    /// Per-feature contributions to the anomaly score of `row`, as `(feature index,
    /// non-negative contribution)`; larger means the feature explains more of the score.
    fn explain(&self, row: &[f64]) -> Vec<(usize, f64)>;

    /// Scores every row, in parallel across cores; deterministic because rows are
    /// independent.
    fn score(&self, x: MatrixView<'_>) -> Vec<f64> {
        if x.cols() != self.n_features() {
            return vec![f64::NAN; x.rows()];
        }
        let cols = x.cols().max(1);
        score_blocks(
            x,
            cols,
            || (),
            |_, block, out| {
                for (s, row) in out.iter_mut().zip(block.chunks_exact(cols)) {
                    *s = self.score_row(row);
                }
            },
        )
    }

    /// Like [`Detector::score`], but a column-count mismatch is an error.
    fn try_score(&self, x: MatrixView<'_>) -> Result<Vec<f64>, ScoreError> {
        check_columns(self.n_features(), x.cols())?;
        Ok(self.score(x))
    }
}

/// Errors unless `found == expected`.
/// Scores the rows of `x` (`cols` values each, checked by the caller) in blocks of
/// [`SCORE_BLOCK`] rows, blocks in parallel: `score_block(state, rows, scores)` fills
/// the scores of one block, with a `state` from `init` that the blocks of one worker
/// share (scratch buffers, memos). The driver of every detector's batch scoring.
pub(crate) fn score_blocks<S>(
    x: MatrixView<'_>,
    cols: usize,
    init: impl Fn() -> S + Sync + Send,
    score_block: impl Fn(&mut S, &[f64], &mut [f64]) + Sync + Send,
) -> Vec<f64> {
    let mut out = vec![0.0; x.rows()];
    out.par_chunks_mut(SCORE_BLOCK)
        .zip(x.as_slice().par_chunks(SCORE_BLOCK * cols))
        .for_each_init(init, |state, (o, block)| score_block(state, block, o));
    out
}

pub fn check_columns(expected: usize, found: usize) -> Result<(), ScoreError> {
    if expected == found { Ok(()) } else { Err(ScoreError::ColumnMismatch { expected, found }) }
}

/// Unchecked hyperparameters that validate once into checked ones, so the fitting code can
/// rely on them without re-validating.
pub trait ParamGuard {
    /// The validated parameters.
    type Checked;

    /// Validates every parameter.
    fn check(&self) -> Result<Self::Checked, ParamError>;
}

/// Hyperparameters that fit a model on a training matrix.
///
/// Fitting is deterministic: the same params, data and `seed` give the same model.
pub trait Fit {
    /// The fitted model.
    type Model: Detector;

    /// Fits on `x` (rows = observations, columns = features).
    fn fit(&self, x: MatrixView<'_>, seed: u64) -> Result<Self::Model, FitError>;
}
