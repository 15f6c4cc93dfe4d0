//! Privacy: pseudonymization of client addresses and redaction of secrets in web
//! server logs, so that anomalies can be found without keeping raw identifiers.
//!
//! # Brief overview
//!
//! - [`Privacy`] is one checked configuration: a [`ClientMode`] (keyed pseudonyms or
//!   prefix truncation), an optional [`Key`], and [`RedactionRules`].
//! - [`Privacy::anonymize_line`] rewrites a raw line of any [`Format`] in place, for
//!   `anomalog anonymize`: same format out, same number of lines.
//! - [`Privacy::apply_to_record`] anonymizes a parsed [`Record`] before it is stored,
//!   displayed or alerted.
//! - [`Privacy::pseudonymize_client`], [`Privacy::redact_target`] and
//!   [`Privacy::redact_text`] are the single-field building blocks.
//!
//! # Pseudonyms
//!
//! With a key, a client address becomes `ip4-` or `ip6-` followed by 16 lowercase hex
//! digits, the first 64 bits of HMAC-SHA256 over the address bytes (an IPv4-mapped
//! IPv6 address counts as its IPv4 address). A host name becomes `host-<hex>`, a user
//! name `user-<hex>`; a port logged with an address is kept (`ip4-<hex>:8080`).
//!
//! - Stable: the same address and key always give the same pseudonym, so per-client
//!   features and incidents keep working; another key gives unrelated pseudonyms.
//! - Not reversible without the key, and with it only by trying addresses.
//! - Never mistaken for an address: a token that looks like an address (say, one in a
//!   reserved range) would be looked up in GeoIP and blocklists, reported to abuse
//!   desks, and confused with real clients by people and tools; a reserved range is
//!   also too small (2^28 addresses at most) to keep collisions rare. The `ip4-`/`ip6-`
//!   prefix keeps the address family visible, and the token is a single field in every
//!   format (no spaces, quotes or brackets).
//!
//! With [`ClientMode::Truncate`] the address keeps its prefix (`/24` and `/48` by
//! default) and the rest is zeroed: a real, coarser address, for operators who need
//! network-level grouping more than unlinkability.
//!
//! # Redaction
//!
//! Secrets are replaced by [`URL_MARKER`] (`REDACTED`) in URLs, bodies and raw lines,
//! keeping parameter names (`password=REDACTED`), and by [`TEXT_MARKER`] (`[REDACTED]`)
//! in free text; see [`RedactionRules`] for what counts as a secret.
//!
//! # Example
//!
//! ```
//! use anomalog_ingest::formats;
//! use anomalog_privacy::{Key, Privacy};
//!
//! let key = Key::new("correct horse battery staple").unwrap();
//! let privacy = Privacy::keyed(key);
//! let format = formats::from_spec("combined", &Default::default()).unwrap();
//! let line = br#"198.51.100.23 - - [02/Mar/2026:10:00:00 +0000] "GET /reset?email=jo%40example.com&token=abc HTTP/1.1" 200 512 "-" "curl/8.0""#;
//!
//! let mut out = Vec::new();
//! privacy.anonymize_line(format.as_ref(), line, &mut out);
//! let record = format.parse(&out).unwrap();
//! assert!(record.client.as_deref().unwrap().starts_with("ip4-"));
//! assert_eq!(record.target.as_deref(), Some("/reset?email=REDACTED&token=REDACTED"));
//! assert_eq!(record.status, Some(200));
//! ```
//!
//! [`Format`]: anomalog_ingest::Format
//! [`Record`]: anomalog_ingest::Record

mod addr;
mod detect;
mod edit;
mod error;
mod key;
mod line;
mod privacy;
mod pseudonym;
mod record;
mod redact;
mod rules;

pub use detect::luhn_valid;
pub use error::PrivacyError;
pub use key::{KEY_ENV, Key, MIN_KEY_LEN};
pub use privacy::{ClientMode, Privacy};
pub use pseudonym::PSEUDONYM_HEX_DIGITS;
pub use redact::{TEXT_MARKER, URL_MARKER};
pub use rules::{DEFAULT_SECRET_NAMES, RedactionRules};
