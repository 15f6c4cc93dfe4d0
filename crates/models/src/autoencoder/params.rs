//! Autoencoder hyperparameters.

use crate::error::ParamError;
use crate::traits::ParamGuard;
use serde::{Deserialize, Serialize};

/// Hidden-layer nonlinearity (the output layer is linear).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// Hyperbolic tangent: smooth and bounded, the safer default on small data.
    Tanh,
    /// Rectified linear unit.
    Relu,
}

/// Unchecked autoencoder parameters (builder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderParams {
    /// Hidden layer widths, input side first; `None` picks
    /// `[ceil(2d/3), ceil(d/3), ceil(2d/3)]` (at least 2, 1, 2) for `d` features.
    pub hidden: Option<Vec<usize>>,
    /// Hidden-layer nonlinearity.
    pub activation: Activation,
    /// Adam step size.
    pub learning_rate: f64,
    /// Rows per minibatch.
    pub batch_size: usize,
    /// Upper bound on passes over the training rows.
    pub max_epochs: usize,
    /// Epochs without validation improvement before stopping.
    pub patience: usize,
    /// Share of training rows held out for early stopping.
    pub validation_fraction: f64,
    /// Rows used for training, drawn at random when there are more.
    pub max_samples: usize,
}

impl Default for AutoencoderParams {
    fn default() -> Self {
        Self {
            hidden: None,
            activation: Activation::Tanh,
            learning_rate: 1e-3,
            batch_size: 64,
            max_epochs: 40,
            patience: 5,
            validation_fraction: 0.1,
            max_samples: 10_000,
        }
    }
}

impl AutoencoderParams {
    /// Default parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the hidden layer widths.
    pub fn hidden(mut self, widths: Vec<usize>) -> Self {
        self.hidden = Some(widths);
        self
    }

    /// Sets the nonlinearity.
    pub fn activation(mut self, a: Activation) -> Self {
        self.activation = a;
        self
    }

    /// Sets the learning rate.
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }

    /// Sets the minibatch size.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// Sets the epoch limit.
    pub fn max_epochs(mut self, n: usize) -> Self {
        self.max_epochs = n;
        self
    }

    /// Sets the early-stopping patience.
    pub fn patience(mut self, n: usize) -> Self {
        self.patience = n;
        self
    }

    /// Sets the validation share.
    pub fn validation_fraction(mut self, f: f64) -> Self {
        self.validation_fraction = f;
        self
    }

    /// Sets the training sample cap.
    pub fn max_samples(mut self, n: usize) -> Self {
        self.max_samples = n;
        self
    }

    /// Layer widths from input to output for `d` features.
    pub(crate) fn widths(&self, d: usize) -> Vec<usize> {
        let hidden = self.hidden.clone().unwrap_or_else(|| {
            let wide = (2 * d).div_ceil(3).max(2);
            vec![wide, d.div_ceil(3).max(1), wide]
        });
        let mut w = vec![d];
        w.extend(hidden);
        w.push(d);
        w
    }
}

/// Validated autoencoder parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderValidParams(pub(crate) AutoencoderParams);

impl ParamGuard for AutoencoderParams {
    type Checked = AutoencoderValidParams;

    fn check(&self) -> Result<AutoencoderValidParams, ParamError> {
        if let Some(h) = &self.hidden
            && (h.is_empty() || h.iter().any(|&w| !(1..=4096).contains(&w)))
        {
            return Err(ParamError::new("hidden", "needs 1+ layers of width 1 to 4096"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(ParamError::new("learning_rate", "must be a finite number > 0"));
        }
        if self.batch_size == 0 {
            return Err(ParamError::new("batch_size", "must be at least 1"));
        }
        if !(1..=100_000).contains(&self.max_epochs) {
            return Err(ParamError::new("max_epochs", "must be between 1 and 100000"));
        }
        if !(0.0..0.9).contains(&self.validation_fraction) {
            return Err(ParamError::new("validation_fraction", "must be in [0, 0.9)"));
        }
        if self.max_samples < 2 {
            return Err(ParamError::new("max_samples", "must be at least 2"));
        }
        Ok(AutoencoderValidParams(self.clone()))
    }
}
