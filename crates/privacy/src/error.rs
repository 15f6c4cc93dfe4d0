//! Errors of building a [`Privacy`](crate::Privacy) configuration.

/// Why a key or a privacy configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivacyError {
    /// No key was given, neither as an argument nor in the environment.
    #[error("no pseudonymization key: pass --key or set {env}")]
    MissingKey {
        /// The environment variable that was looked up.
        env: &'static str,
    },
    /// The key is the empty string.
    #[error("the pseudonymization key is empty; use a random secret of at least {min} bytes")]
    EmptyKey {
        /// The shortest key accepted, in bytes.
        min: usize,
    },
    /// The key is shorter than the minimum.
    #[error(
        "the pseudonymization key is {len} bytes long; use a random secret of at least {min} bytes"
    )]
    KeyTooShort {
        /// Length of the key given, in bytes.
        len: usize,
        /// The shortest key accepted, in bytes.
        min: usize,
    },
    /// Keyed pseudonyms were asked for without a key.
    #[error("keyed pseudonymization needs a key")]
    KeyRequired,
    /// A truncation prefix is longer than the address.
    #[error("an {family} prefix is at most {max} bits, not {bits}")]
    BadPrefix {
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// The prefix length given.
        bits: u8,
        /// The address length in bits.
        max: u8,
    },
    /// A redaction rule is empty or too short to be safe.
    #[error("redaction rule `{field}` has an unusable entry {value:?}: {reason}")]
    BadRule {
        /// The rule list (`names`, `literals`, `token_prefixes`).
        field: &'static str,
        /// The entry.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}
