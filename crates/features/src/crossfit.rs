//! Out-of-sample values of the learned-vocabulary columns for the training rows.
//!
//! The lexical and parameter families judge a request against what training traffic
//! looked like. Scored against vocabularies that contain the row itself, a training row
//! never has an unseen trigram, character, parameter or template, while a fresh normal
//! request often has one; the scaler then learns that "unseen" never happens in normal
//! traffic and every such normal request looks like an attack. So the training rows'
//! values of these columns are cross-fitted: the rows are cut into [`FOLDS`] contiguous
//! folds, and the rows of each fold are scored against vocabularies and profiles
//! learned from the other folds. The stored model still learns from every training
//! row, and scoring is unchanged.
//!
//! Folds are contiguous stretches of time rather than every k-th row because traffic
//! repeats itself locally: a session, a retry, a form sent once by GET and once by
//! POST. Dealt row by row, a request's near-twin would sit in the other folds and
//! the row would still look familiar; a stretch of time is judged as fresh traffic is,
//! against the rest of the training period.
//!
//! Both families are stateless per record, so their columns can be recomputed after the
//! stream pass without touching the windowed families.

use std::ops::Range;

use anomalog_ingest::Record;

use crate::config::FeatureConfig;
use crate::families::lexical::{Lexical, LexicalBuilder};
use crate::families::params::{ParamBuilder, Params};
use crate::families::{FeatureFamily, Input};
use crate::request::RequestView;

/// Folds of the cross-fitting: each fold's rows are judged against the other 80%.
pub const FOLDS: usize = 5;

/// Where the cross-fitted families write in a row.
pub(crate) struct Columns {
    /// The lexical family's columns, when enabled.
    pub lexical: Option<Range<usize>>,
    /// The parameter family's columns, when enabled.
    pub params: Option<Range<usize>>,
}

/// Overwrites the lexical and parameter columns of the raw training `matrix` (row-major,
/// `width` columns, one row per record of `training`) with their out-of-sample values.
/// Does nothing with fewer training records than folds.
pub(crate) fn cross_fit(
    config: &FeatureConfig,
    training: &[Record<'_>],
    columns: &Columns,
    matrix: &mut [f64],
    width: usize,
) {
    if training.len() < FOLDS || (columns.lexical.is_none() && columns.params.is_none()) {
        return;
    }
    let mut view = RequestView::default();
    let mut out = Vec::new();
    let n = training.len();
    for fold in 0..FOLDS {
        let rows = fold * n / FOLDS..(fold + 1) * n / FOLDS;
        let mut lexical = columns.lexical.as_ref().map(|_| LexicalBuilder::default());
        let mut params = columns.params.as_ref().map(|_| ParamBuilder::default());
        for (i, record) in training.iter().enumerate() {
            if rows.contains(&i) {
                continue;
            }
            view.load(record);
            if let Some(b) = &mut lexical {
                b.add(record, &view);
            }
            if let Some(b) = &mut params {
                b.add(&view);
            }
        }
        let lexical = lexical.map(|b| b.finish(config.max_vocabulary));
        let params = params.map(|b| b.finish(config.max_profiles));
        let mut lexical = lexical.as_ref().map(Lexical::new);
        let mut params = params.as_ref().map(Params::new);
        for (i, record) in training.iter().enumerate().take(rows.end).skip(rows.start) {
            view.load(record);
            let input = Input::decoded(record, &view, 0.0, 0.0);
            let Some(row) = matrix.get_mut(i * width..(i + 1) * width) else {
                continue;
            };
            if let (Some(family), Some(range)) = (&mut lexical, &columns.lexical) {
                overwrite(family, &input, range, row, &mut out);
            }
            if let (Some(family), Some(range)) = (&mut params, &columns.params) {
                overwrite(family, &input, range, row, &mut out);
            }
        }
    }
}

/// Writes the family's values for `input` over `row[range]`.
fn overwrite(
    family: &mut dyn FeatureFamily,
    input: &Input<'_, '_>,
    range: &Range<usize>,
    row: &mut [f64],
    out: &mut Vec<f64>,
) {
    out.clear();
    family.push(input, out);
    if let Some(cells) = row.get_mut(range.clone())
        && cells.len() == out.len()
    {
        cells.copy_from_slice(out);
    }
}
