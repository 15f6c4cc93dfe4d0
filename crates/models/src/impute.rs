//! Scoring-time handling of missing values.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Replaces non-finite values in rows to be scored by the training median of their column.
///
/// Policy: training data must be finite ([`crate::FitError::NonFinite`]); at scoring time a
/// NaN or infinite value means the feature is missing, and a missing feature should neither
/// raise nor lower the anomaly score, so it takes the most typical value the model saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imputer {
    medians: Vec<f64>,
}

impl Imputer {
    /// Builds an imputer from per-column training medians.
    pub fn new(medians: Vec<f64>) -> Self {
        Self { medians }
    }

    /// Per-column training medians (the "typical" value of each feature).
    pub fn medians(&self) -> &[f64] {
        &self.medians
    }

    /// Checks that there is one finite median per feature of a `d`-feature model.
    pub(crate) fn check(&self, d: usize) -> Result<(), String> {
        if d == 0 {
            return Err("the model has no features".into());
        }
        if self.medians.len() != d {
            return Err(format!("{} medians for {d} features", self.medians.len()));
        }
        match self.medians.iter().position(|m| !m.is_finite()) {
            Some(i) => Err(format!("median of feature {i} is {}", self.medians[i])),
            None => Ok(()),
        }
    }

    /// The row with missing values filled in; borrows when the row is already finite, which
    /// is the common case and keeps scoring allocation-free.
    pub fn clean<'a>(&self, row: &'a [f64]) -> Cow<'a, [f64]> {
        if row.iter().all(|v| v.is_finite()) {
            return Cow::Borrowed(row);
        }
        Cow::Owned(
            row.iter()
                .zip(&self.medians)
                .map(|(&v, &m)| if v.is_finite() { v } else { m })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_only_non_finite() {
        let imp = Imputer::new(vec![1.0, 2.0, 3.0]);
        assert!(matches!(imp.clean(&[0.0, 0.0, 0.0]), Cow::Borrowed(_)));
        let r = imp.clean(&[f64::NAN, 5.0, f64::INFINITY]);
        assert_eq!(&*r, &[1.0, 5.0, 3.0]);
    }
}
