//! The structural check of a fitted One-Class SVM (see [`crate::Detector::validate`]).
//!
//! The check reads the model through its serialized form, a mirror of the fitted fields,
//! so it needs no access to the private fields of the solver code; a mirror that no
//! longer matches the model is reported as an invalid state, and the tests catch it.

use super::algorithm::OneClassSvm;
use super::params::OneClassSvmParams;
use crate::error::InvalidModel;
use crate::impute::Imputer;
use crate::traits::ParamGuard;
use serde::Deserialize;

#[derive(Deserialize)]
struct OneClassSvmState {
    params: OneClassSvmParams,
    gamma: f64,
    mean: Vec<f64>,
    scale: Vec<f64>,
    landmarks: Vec<f64>,
    alpha: Vec<f64>,
    rho: f64,
    inside: Vec<u32>,
    imputer: Imputer,
}

/// Errors with the first inconsistency found.
pub(super) fn check(model: &OneClassSvm) -> Result<(), InvalidModel> {
    let err = |reason: String| InvalidModel::new("ocsvm", reason);
    let bytes = postcard::to_stdvec(model).map_err(|e| err(e.to_string()))?;
    let s: OneClassSvmState = postcard::from_bytes(&bytes).map_err(|e| err(e.to_string()))?;
    s.params.check().map_err(|e| err(e.to_string()))?;
    let d = s.mean.len();
    s.imputer.check(d).map_err(err)?;
    if s.scale.len() != d || s.scale.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(err("feature scales are not one positive number per feature".into()));
    }
    if !(s.gamma.is_finite() && s.gamma > 0.0 && s.rho.is_finite()) {
        return Err(err(format!("kernel width {} or offset {} is not usable", s.gamma, s.rho)));
    }
    let m = s.alpha.len();
    if m == 0 || m.checked_mul(d) != Some(s.landmarks.len()) {
        return Err(err(format!(
            "{} landmark values for {m} landmarks of {d} features",
            s.landmarks.len()
        )));
    }
    if s.mean.iter().chain(&s.landmarks).chain(&s.alpha).any(|v| !v.is_finite()) {
        return Err(err("means, landmarks or weights are not finite".into()));
    }
    if let Some(i) = s.inside.iter().find(|&&i| i as usize >= m) {
        return Err(err(format!("inside landmark {i} of {m}")));
    }
    Ok(())
}
