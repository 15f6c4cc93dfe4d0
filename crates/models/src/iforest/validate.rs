//! The structural check of a forest: every index, length and value scoring relies on.
//!
//! A fitted forest passes by construction; a forest read from a model file passes only if
//! the file was written from one. The vectorized scoring kernel reads the node arrays
//! without bounds checks, so it runs only on a forest that passed.

use super::algorithm::{IsolationForest, Splits};
use super::build::{Shape, hyper_terms};
use super::params::MAX_DEPTH_LIMIT;
use super::score::TERM_BLOCK;
use crate::traits::ParamGuard;

/// Errors with the first inconsistency found.
pub(super) fn check(f: &IsolationForest) -> Result<(), String> {
    f.params.check().map_err(|e| e.to_string())?;
    if !(1..=MAX_DEPTH_LIMIT).contains(&f.depth) {
        return Err(format!("tree depth {} is not between 1 and {MAX_DEPTH_LIMIT}", f.depth));
    }
    if f.n_trees == 0 {
        return Err("the forest has no trees".into());
    }
    if f.n_features == 0 {
        return Err("the forest has no features".into());
    }
    if f.imputer.medians().len() != f.n_features {
        return Err(format!("{} medians for {} features", f.imputer.medians().len(), f.n_features));
    }
    if !(f.c_norm.is_finite() && f.c_norm > 0.0) {
        return Err(format!("path-length normalizer {} is not a positive number", f.c_norm));
    }
    let shape = Shape::new(f.depth);
    let len = |per_tree: usize, what: &str, found: usize| match f.n_trees.checked_mul(per_tree) {
        Some(n) if n == found => Ok(()),
        _ => Err(format!(
            "{found} {what} for {} trees of depth {} ({per_tree} per tree)",
            f.n_trees, f.depth
        )),
    };
    len(shape.leaves, "leaf path lengths", f.leaf_depths.len())?;
    len(shape.internal + shape.leaves, "node sizes", f.sizes.len())?;
    if let Some(i) = f.leaf_depths.iter().position(|h| !(h.is_finite() && *h >= 0.0)) {
        return Err(format!("leaf {i} has path length {}", f.leaf_depths[i]));
    }
    let threshold_ok = |t: f64| !t.is_nan() && t != f64::NEG_INFINITY;
    let feature_ok = |feature: u32| (feature as usize) < f.n_features;
    match &f.splits {
        Splits::Axis(nodes) => {
            len(shape.internal, "split nodes", nodes.len())?;
            for (i, n) in nodes.iter().enumerate() {
                if !feature_ok(n.feature) {
                    return Err(format!(
                        "node {i} splits on feature {} of {}",
                        n.feature, f.n_features
                    ));
                }
                if !threshold_ok(f64::from(n.threshold)) {
                    return Err(format!("node {i} has threshold {}", n.threshold));
                }
            }
        }
        Splits::Hyper { k, thresholds, features, coefs, scale } => {
            if *k == 0 || k % TERM_BLOCK != 0 || *k > hyper_terms(f.n_features) {
                return Err(format!("hyperplanes of {k} terms over {} features", f.n_features));
            }
            len(shape.internal, "split thresholds", thresholds.len())?;
            let terms = thresholds.len() * k;
            if features.len() != terms || coefs.len() != terms {
                return Err(format!(
                    "{} hyperplane features and {} coefficients for {} nodes of {k} terms",
                    features.len(),
                    coefs.len(),
                    thresholds.len()
                ));
            }
            if let Some(i) = thresholds.iter().position(|t| !threshold_ok(*t)) {
                return Err(format!("node {i} has threshold {}", thresholds[i]));
            }
            if let Some(i) = features.iter().position(|&x| !feature_ok(x)) {
                return Err(format!(
                    "hyperplane term {i} uses feature {} of {}",
                    features[i], f.n_features
                ));
            }
            if let Some(i) = coefs.iter().position(|c| !c.is_finite()) {
                return Err(format!("hyperplane term {i} has coefficient {}", coefs[i]));
            }
            if scale.len() != f.n_features || scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                return Err("feature scales are not one positive number per feature".into());
            }
        }
    }
    Ok(())
}
