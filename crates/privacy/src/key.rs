//! The secret key behind keyed pseudonyms.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::PrivacyError;

/// The environment variable a key is read from when none is given as an argument.
pub const KEY_ENV: &str = "ANOMALOG_KEY";

/// The shortest key accepted, in bytes: shorter secrets can be guessed, and a guessed
/// key turns every pseudonym back into its address (there are only 2^32 IPv4 addresses
/// to try).
pub const MIN_KEY_LEN: usize = 16;

/// A secret key for HMAC-SHA256 pseudonyms.
///
/// Only the HMAC state derived from the secret is kept, never the secret text, and
/// `Debug` prints `Key(<hidden>)`, so the key cannot leak through logs or error
/// messages.
///
/// ```
/// use anomalog_privacy::Key;
///
/// assert!(Key::new("short").is_err());
/// let key = Key::new("a random secret of 32 characters").unwrap();
/// assert_eq!(format!("{key:?}"), "Key(<hidden>)");
/// ```
#[derive(Clone)]
pub struct Key {
    mac: Hmac<Sha256>,
}

impl Key {
    /// A key from its text; refuses an empty key or one shorter than [`MIN_KEY_LEN`]
    /// bytes.
    pub fn new(secret: &str) -> Result<Key, PrivacyError> {
        Key::from_bytes(secret.as_bytes())
    }

    /// A key from raw bytes, with the same checks as [`Key::new`].
    pub fn from_bytes(secret: &[u8]) -> Result<Key, PrivacyError> {
        if secret.is_empty() {
            return Err(PrivacyError::EmptyKey { min: MIN_KEY_LEN });
        }
        if secret.len() < MIN_KEY_LEN {
            return Err(PrivacyError::KeyTooShort { len: secret.len(), min: MIN_KEY_LEN });
        }
        // HMAC accepts keys of any length, so this cannot fail; the error is mapped
        // rather than unwrapped all the same.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .map_err(|_| PrivacyError::KeyTooShort { len: secret.len(), min: MIN_KEY_LEN })?;
        Ok(Key { mac })
    }

    /// The key given on the command line, or else the one in [`KEY_ENV`].
    pub fn from_arg_or_env(arg: Option<&str>) -> Result<Key, PrivacyError> {
        match arg {
            Some(secret) => Key::new(secret),
            None => match std::env::var(KEY_ENV) {
                Ok(secret) => Key::new(&secret),
                Err(_) => Err(PrivacyError::MissingKey { env: KEY_ENV }),
            },
        }
    }

    /// HMAC-SHA256 of `domain`, a NUL, then `data`. The domain keeps pseudonyms of
    /// different kinds of identifier (addresses, host names, user names) apart.
    pub(crate) fn digest(&self, domain: &[u8], data: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(domain);
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The first `hex_len / 2` bytes of [`Key::digest`] as lowercase hex.
    pub(crate) fn token(&self, domain: &[u8], data: &[u8], hex_len: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = self.digest(domain, data);
        let mut out = String::with_capacity(hex_len);
        for &b in digest.iter().take(hex_len.div_ceil(2).min(32)) {
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
        out.truncate(hex_len);
        out
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<hidden>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_and_short_keys() {
        assert_eq!(Key::new("").unwrap_err(), PrivacyError::EmptyKey { min: MIN_KEY_LEN });
        assert_eq!(
            Key::new("fifteen bytes!!").unwrap_err(),
            PrivacyError::KeyTooShort { len: 15, min: MIN_KEY_LEN }
        );
        assert!(Key::new("sixteen bytes!!!").is_ok());
        assert!(Key::new("").unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn debug_hides_the_key() {
        let key = Key::new("my very secret key 123").unwrap();
        let shown = format!("{key:?} {:?}", Some(&key));
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn tokens_depend_on_key_domain_and_data() {
        let a = Key::new("0123456789abcdef").unwrap();
        let b = Key::new("0123456789abcdeF").unwrap();
        let t = a.token(b"ip4", &[1, 2, 3, 4], 16);
        assert_eq!(t.len(), 16);
        assert!(t.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(t, a.token(b"ip4", &[1, 2, 3, 4], 16));
        assert_ne!(t, b.token(b"ip4", &[1, 2, 3, 4], 16));
        assert_ne!(t, a.token(b"ip6", &[1, 2, 3, 4], 16));
        assert_ne!(t, a.token(b"ip4", &[1, 2, 3, 5], 16));
    }
}
