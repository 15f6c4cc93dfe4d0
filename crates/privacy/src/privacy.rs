//! [`Privacy`]: one checked configuration of pseudonymization and redaction.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::PrivacyError;
use crate::key::Key;
use crate::rules::{RedactionRules, Rules};

/// How client addresses are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientMode {
    /// Keyed pseudonyms: `ip4-` or `ip6-` and 16 hex digits of HMAC-SHA256 (see the
    /// crate documentation for the format).
    Hmac,
    /// Prefix truncation: the address with every bit after the prefix zeroed
    /// (`192.0.2.77` -> `192.0.2.0` with 24 bits).
    Truncate {
        /// IPv4 prefix length kept, 0 to 32.
        v4_bits: u8,
        /// IPv6 prefix length kept, 0 to 128.
        v6_bits: u8,
    },
}

impl ClientMode {
    /// Truncation to the usual /24 for IPv4 and /48 for IPv6.
    pub const TRUNCATE_DEFAULT: ClientMode = ClientMode::Truncate { v4_bits: 24, v6_bits: 48 };
}

/// Pseudonymization of identifiers and redaction of secrets, checked once at
/// construction and then applied to raw lines ([`Privacy::anonymize_line`]) or parsed
/// records ([`Privacy::apply_to_record`]).
#[derive(Clone)]
pub struct Privacy {
    pub(crate) key: Option<Key>,
    pub(crate) mode: ClientMode,
    pub(crate) config: RedactionRules,
    pub(crate) rules: Rules,
}

impl Privacy {
    /// A configuration: `mode` for client addresses, `key` for keyed pseudonyms
    /// (required by [`ClientMode::Hmac`]; with truncation it still pseudonymizes host
    /// names and user names, which otherwise become `host-redacted`/`user-redacted`),
    /// and the redaction rules.
    pub fn new(
        mode: ClientMode,
        key: Option<Key>,
        redaction: RedactionRules,
    ) -> Result<Privacy, PrivacyError> {
        match mode {
            ClientMode::Hmac if key.is_none() => return Err(PrivacyError::KeyRequired),
            ClientMode::Truncate { v4_bits, .. } if v4_bits > 32 => {
                return Err(PrivacyError::BadPrefix { family: "IPv4", bits: v4_bits, max: 32 });
            }
            ClientMode::Truncate { v6_bits, .. } if v6_bits > 128 => {
                return Err(PrivacyError::BadPrefix { family: "IPv6", bits: v6_bits, max: 128 });
            }
            _ => {}
        }
        let rules = Rules::new(&redaction)?;
        Ok(Privacy { key, mode, config: redaction, rules })
    }

    /// Keyed pseudonyms and the default redaction rules.
    pub fn keyed(key: Key) -> Privacy {
        Privacy {
            key: Some(key),
            mode: ClientMode::Hmac,
            config: RedactionRules::default(),
            rules: default_rules(),
        }
    }

    /// Truncation to /24 and /48 without a key, and the default redaction rules.
    pub fn truncating() -> Privacy {
        Privacy {
            key: None,
            mode: ClientMode::TRUNCATE_DEFAULT,
            config: RedactionRules::default(),
            rules: default_rules(),
        }
    }

    /// How client addresses are replaced.
    pub fn mode(&self) -> ClientMode {
        self.mode
    }

    /// The redaction rules in force.
    pub fn redaction(&self) -> &RedactionRules {
        &self.config
    }
}

fn default_rules() -> Rules {
    Rules::build(&RedactionRules::default())
}

impl fmt::Debug for Privacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Privacy")
            .field("key", &self.key.as_ref().map(|_| "<hidden>"))
            .field("mode", &self.mode)
            .field("redaction", &self.config)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_are_valid() {
        assert!(Rules::new(&RedactionRules::default()).is_ok());
    }

    #[test]
    fn construction_is_checked() {
        let rules = RedactionRules::default;
        assert_eq!(
            Privacy::new(ClientMode::Hmac, None, rules()).unwrap_err(),
            PrivacyError::KeyRequired
        );
        let bad_v4 = ClientMode::Truncate { v4_bits: 33, v6_bits: 48 };
        assert!(Privacy::new(bad_v4, None, rules()).is_err());
        let bad_v6 = ClientMode::Truncate { v4_bits: 24, v6_bits: 129 };
        assert!(Privacy::new(bad_v6, None, rules()).is_err());
        assert!(Privacy::new(ClientMode::TRUNCATE_DEFAULT, None, rules()).is_ok());
    }

    #[test]
    fn debug_hides_the_key() {
        let p = Privacy::keyed(Key::new("super secret key material").unwrap());
        let shown = format!("{p:?}");
        assert!(shown.contains("<hidden>") && !shown.contains("super"), "{shown}");
    }
}
