//! Isolation Forest hyperparameters.

use crate::error::ParamError;
use crate::traits::ParamGuard;
use serde::{Deserialize, Serialize};

/// Deepest tree the flat node layout allows; a complete tree of this depth has 65 535
/// internal nodes, which bounds the memory of one tree.
pub const MAX_DEPTH_LIMIT: usize = 16;

/// Features per hyperplane of the default Extended Isolation Forest (extension level 31):
/// scoring costs grow with it, and on the simulated and CSIC 2010 benchmarks 32 ranks as
/// well as hyperplanes over all of their 103 features, at under a third of the cost.
pub const DEFAULT_HYPERPLANE_FEATURES: usize = 32;

/// How a node splits its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SplitRule {
    /// Classic Isolation Forest: one random feature, one random threshold.
    AxisParallel,
    /// Extended Isolation Forest (Hariri et al. 2019): a random hyperplane through a random
    /// point of the node's bounding box. `extension_level` is the number of extra features
    /// each hyperplane involves (0 = axis-parallel, `None` = all features, the paper's
    /// "fully extended" forest). Each hyperplane takes one feature that varies on its node
    /// and the others at random among all features, so that a value unseen in training on
    /// any feature can still cut a path short.
    Hyperplane {
        /// Extra features per hyperplane beyond the first; capped to `n_features - 1`.
        extension_level: Option<usize>,
    },
}

/// Unchecked Isolation Forest parameters (builder).
///
/// Defaults follow Liu et al. (2008): 100 trees, subsample 256, depth limit
/// `ceil(log2(subsample))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForestParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Rows drawn (without replacement) to grow each tree, capped at the training size.
    pub subsample: usize,
    /// Depth limit; `None` means `ceil(log2(subsample))`.
    pub max_depth: Option<usize>,
    /// Axis-parallel (classic) or hyperplane (extended) splits.
    pub split: SplitRule,
}

impl Default for IsolationForestParams {
    fn default() -> Self {
        Self { n_trees: 100, subsample: 256, max_depth: None, split: SplitRule::AxisParallel }
    }
}

impl IsolationForestParams {
    /// Default parameters (classic Isolation Forest).
    pub fn new() -> Self {
        Self::default()
    }

    /// Default Extended Isolation Forest parameters: hyperplanes over
    /// [`DEFAULT_HYPERPLANE_FEATURES`] features.
    pub fn extended() -> Self {
        let extension_level = Some(DEFAULT_HYPERPLANE_FEATURES - 1);
        Self { split: SplitRule::Hyperplane { extension_level }, ..Self::default() }
    }

    /// Sets the number of trees.
    pub fn n_trees(mut self, n: usize) -> Self {
        self.n_trees = n;
        self
    }

    /// Sets the per-tree subsample size.
    pub fn subsample(mut self, n: usize) -> Self {
        self.subsample = n;
        self
    }

    /// Sets an explicit depth limit.
    pub fn max_depth(mut self, d: usize) -> Self {
        self.max_depth = Some(d);
        self
    }

    /// Sets the split rule.
    pub fn split(mut self, split: SplitRule) -> Self {
        self.split = split;
        self
    }
}

/// Validated Isolation Forest parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForestValidParams(pub(crate) IsolationForestParams);

impl IsolationForestValidParams {
    /// The validated values.
    pub fn params(&self) -> &IsolationForestParams {
        &self.0
    }
}

impl ParamGuard for IsolationForestParams {
    type Checked = IsolationForestValidParams;

    fn check(&self) -> Result<Self::Checked, ParamError> {
        if !(1..=10_000).contains(&self.n_trees) {
            return Err(ParamError::new("n_trees", "must be between 1 and 10000"));
        }
        if !(2..=(1 << MAX_DEPTH_LIMIT)).contains(&self.subsample) {
            return Err(ParamError::new("subsample", "must be between 2 and 65536"));
        }
        if let Some(d) = self.max_depth
            && !(1..=MAX_DEPTH_LIMIT).contains(&d)
        {
            return Err(ParamError::new("max_depth", "must be between 1 and 16"));
        }
        Ok(IsolationForestValidParams(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(IsolationForestParams::new().check().is_ok());
        assert!(IsolationForestParams::new().n_trees(0).check().is_err());
        assert!(IsolationForestParams::new().subsample(1).check().is_err());
        assert!(IsolationForestParams::new().max_depth(17).check().is_err());
        let e = IsolationForestParams::new().n_trees(0).check().expect_err("invalid");
        assert_eq!(e.param, "n_trees");
    }
}
