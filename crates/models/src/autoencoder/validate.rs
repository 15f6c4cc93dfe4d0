//! The structural check of a fitted autoencoder (see [`crate::Detector::validate`]).
//!
//! The check reads the model through its serialized form, a mirror of the fitted fields,
//! so it needs no access to the private fields of the network code; a mirror that no
//! longer matches the model is reported as an invalid state, and the tests catch it.

use super::algorithm::Autoencoder;
use super::params::{Activation, AutoencoderParams};
use crate::error::InvalidModel;
use crate::impute::Imputer;
use crate::traits::ParamGuard;
use serde::Deserialize;

#[derive(Deserialize)]
struct LayerState {
    inputs: usize,
    outputs: usize,
    w: Vec<f64>,
    b: Vec<f64>,
}

#[derive(Deserialize)]
struct NetworkState {
    layers: Vec<LayerState>,
    _activation: Activation,
}

#[derive(Deserialize)]
struct AutoencoderState {
    params: AutoencoderParams,
    mean: Vec<f64>,
    scale: Vec<f64>,
    network: NetworkState,
    _epochs_run: usize,
    imputer: Imputer,
}

/// Errors with the first inconsistency found.
pub(super) fn check(model: &Autoencoder) -> Result<(), InvalidModel> {
    let err = |reason: String| InvalidModel::new("autoencoder", reason);
    let bytes = postcard::to_stdvec(model).map_err(|e| err(e.to_string()))?;
    let s: AutoencoderState = postcard::from_bytes(&bytes).map_err(|e| err(e.to_string()))?;
    s.params.check().map_err(|e| err(e.to_string()))?;
    let d = s.mean.len();
    s.imputer.check(d).map_err(err)?;
    if s.scale.len() != d || s.scale.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(err("feature scales are not one positive number per feature".into()));
    }
    if s.mean.iter().any(|v| !v.is_finite()) {
        return Err(err("feature means are not finite".into()));
    }
    let layers = &s.network.layers;
    if layers.is_empty() {
        return Err(err("the network has no layers".into()));
    }
    let mut width = d;
    for (i, l) in layers.iter().enumerate() {
        if l.inputs != width || l.outputs == 0 {
            return Err(err(format!(
                "layer {i} maps {} inputs to {} outputs after a layer of width {width}",
                l.inputs, l.outputs
            )));
        }
        if l.inputs.checked_mul(l.outputs) != Some(l.w.len()) || l.b.len() != l.outputs {
            return Err(err(format!(
                "layer {i} has {} weights and {} biases for {} x {}",
                l.w.len(),
                l.b.len(),
                l.inputs,
                l.outputs
            )));
        }
        if l.w.iter().chain(&l.b).any(|v| !v.is_finite()) {
            return Err(err(format!("layer {i} has a non-finite weight")));
        }
        width = l.outputs;
    }
    if width != d {
        return Err(err(format!("the network outputs {width} values for {d} features")));
    }
    Ok(())
}
