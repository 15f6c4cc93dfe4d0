//! Errors of drift monitoring.

/// What can go wrong setting up a [`super::DriftMonitor`].
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// An option is out of range.
    #[error("drift option {name}: {reason}")]
    Option {
        /// The option.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The model carries no training profile.
    #[error("the model has no training profile to compare with; train it with `anomalog train`")]
    NoProfile,
    /// The training profile of the model does not fit its features (a damaged model
    /// file, or a bug).
    #[error("training profile: {0}")]
    Profile(String),
}
