//! One-Class SVM hyperparameters.

use crate::error::ParamError;
use crate::traits::ParamGuard;
use serde::{Deserialize, Serialize};

/// Unchecked One-Class SVM parameters (builder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneClassSvmParams {
    /// Upper bound on the fraction of training rows outside the boundary (and lower bound
    /// on the fraction of support vectors), in (0, 1].
    pub nu: f64,
    /// RBF kernel width; `None` is sklearn's `"scale"`, `1 / (n_features * variance)`,
    /// which is `1 / n_features` on the internally standardized features.
    pub gamma: Option<f64>,
    /// Nyström landmarks (rank of the kernel approximation).
    pub n_landmarks: usize,
    /// Rows used for training, drawn at random when there are more; the model is a
    /// boundary, so a large random sample describes it as well as all rows.
    pub max_samples: usize,
    /// Passes of stochastic gradient descent over the training rows.
    pub epochs: usize,
}

impl Default for OneClassSvmParams {
    fn default() -> Self {
        Self { nu: 0.1, gamma: None, n_landmarks: 128, max_samples: 20_000, epochs: 20 }
    }
}

impl OneClassSvmParams {
    /// Default parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `nu`.
    pub fn nu(mut self, nu: f64) -> Self {
        self.nu = nu;
        self
    }

    /// Sets an explicit kernel width.
    pub fn gamma(mut self, gamma: f64) -> Self {
        self.gamma = Some(gamma);
        self
    }

    /// Sets the number of landmarks.
    pub fn n_landmarks(mut self, m: usize) -> Self {
        self.n_landmarks = m;
        self
    }

    /// Sets the training sample cap.
    pub fn max_samples(mut self, n: usize) -> Self {
        self.max_samples = n;
        self
    }

    /// Sets the number of SGD epochs.
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }
}

/// Validated One-Class SVM parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneClassSvmValidParams(pub(crate) OneClassSvmParams);

impl ParamGuard for OneClassSvmParams {
    type Checked = OneClassSvmValidParams;

    fn check(&self) -> Result<OneClassSvmValidParams, ParamError> {
        if !(self.nu > 0.0 && self.nu <= 1.0) {
            return Err(ParamError::new("nu", "must be in (0, 1]"));
        }
        if let Some(g) = self.gamma
            && !(g.is_finite() && g > 0.0)
        {
            return Err(ParamError::new("gamma", "must be a finite number > 0"));
        }
        if !(1..=4096).contains(&self.n_landmarks) {
            return Err(ParamError::new("n_landmarks", "must be between 1 and 4096"));
        }
        if self.max_samples < 2 {
            return Err(ParamError::new("max_samples", "must be at least 2"));
        }
        if !(1..=10_000).contains(&self.epochs) {
            return Err(ParamError::new("epochs", "must be between 1 and 10000"));
        }
        Ok(OneClassSvmValidParams(self.clone()))
    }
}
