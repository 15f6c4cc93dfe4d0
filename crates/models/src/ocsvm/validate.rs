//! The structural check of a fitted One-Class SVM (see [`crate::Detector::validate`]):
//! its parameters, and every length, index and value scoring relies on
//! (`OneClassSvm::check_state`).

use super::algorithm::OneClassSvm;
use crate::error::InvalidModel;

/// Errors with the first inconsistency found.
pub(super) fn check(model: &OneClassSvm) -> Result<(), InvalidModel> {
    model.check_state().map_err(|reason| InvalidModel::new("one-class SVM", reason))
}
