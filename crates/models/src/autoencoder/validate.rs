//! The structural check of a fitted autoencoder (see [`crate::Detector::validate`]):
//! its parameters, and every length and value scoring relies on
//! (`Autoencoder::check_state`).

use super::algorithm::Autoencoder;
use crate::error::InvalidModel;

/// Errors with the first inconsistency found.
pub(super) fn check(model: &Autoencoder) -> Result<(), InvalidModel> {
    model.check_state().map_err(|reason| InvalidModel::new("autoencoder", reason))
}
