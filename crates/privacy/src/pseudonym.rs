//! Pseudonyms and truncated forms of client addresses, host names and user names.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::addr::{self, Client};
use crate::privacy::{ClientMode, Privacy};

/// Hex digits in a pseudonym: 64 bits, so that even a billion distinct clients are
/// unlikely to share one.
pub const PSEUDONYM_HEX_DIGITS: usize = 16;

impl Privacy {
    /// The replacement for a client field (an address, possibly with a port, or a host
    /// name): see the crate documentation for the formats. The same input and key always
    /// give the same output; `-` and empty fields are kept.
    ///
    /// ```
    /// use anomalog_privacy::{Key, Privacy};
    ///
    /// let p = Privacy::keyed(Key::new("0123456789abcdef0123").unwrap());
    /// let a = p.pseudonymize_client("192.0.2.7");
    /// assert!(a.starts_with("ip4-") && a.len() == 20);
    /// assert_eq!(a, p.pseudonymize_client("::ffff:192.0.2.7"));
    /// assert!(p.pseudonymize_client("2001:db8::1").starts_with("ip6-"));
    ///
    /// let t = Privacy::truncating();
    /// assert_eq!(t.pseudonymize_client("192.0.2.7"), "192.0.2.0");
    /// assert_eq!(t.pseudonymize_client("2001:db8:aa:bb::1"), "2001:db8:aa::");
    /// ```
    pub fn pseudonymize_client<'c>(&self, client: &'c str) -> Cow<'c, str> {
        if client.is_empty() || client == "-" {
            return Cow::Borrowed(client);
        }
        Cow::Owned(match addr::client(client) {
            Client::Ip(ip, None) => self.address(ip),
            Client::Ip(ip @ IpAddr::V4(_), Some(port)) => format!("{}:{port}", self.address(ip)),
            Client::Ip(ip, Some(port)) => format!("[{}]:{port}", self.address(ip)),
            Client::Name(name) => self.name_token("host", &name.to_ascii_lowercase()),
        })
    }

    /// The replacement for a user name (`%u`, `$remote_user`) or RFC 1413 identity:
    /// `user-` and 16 hex digits of HMAC-SHA256, or `user-redacted` without a key.
    pub fn pseudonymize_user<'u>(&self, user: &'u str) -> Cow<'u, str> {
        if user.is_empty() || user == "-" {
            return Cow::Borrowed(user);
        }
        Cow::Owned(self.name_token("user", user))
    }

    /// The replacement for one IP address.
    pub(crate) fn address(&self, ip: IpAddr) -> String {
        let ip = addr::canonical(ip);
        match (self.mode, &self.key) {
            (ClientMode::Truncate { v4_bits, v6_bits }, _) => truncate(ip, v4_bits, v6_bits),
            (ClientMode::Hmac, Some(key)) => match ip {
                IpAddr::V4(v4) => {
                    format!("ip4-{}", key.token(b"ip4", &v4.octets(), PSEUDONYM_HEX_DIGITS))
                }
                IpAddr::V6(v6) => {
                    format!("ip6-{}", key.token(b"ip6", &v6.octets(), PSEUDONYM_HEX_DIGITS))
                }
            },
            // `Privacy::new` refuses Hmac without a key; never let an address through.
            (ClientMode::Hmac, None) => match ip {
                IpAddr::V4(_) => "ip4-redacted".to_string(),
                IpAddr::V6(_) => "ip6-redacted".to_string(),
            },
        }
    }

    /// `<kind>-<hex>` keyed on the text, or `<kind>-redacted` without a key.
    fn name_token(&self, kind: &str, text: &str) -> String {
        match &self.key {
            Some(key) => {
                format!(
                    "{kind}-{}",
                    key.token(kind.as_bytes(), text.as_bytes(), PSEUDONYM_HEX_DIGITS)
                )
            }
            None => format!("{kind}-redacted"),
        }
    }
}

/// `ip` with every bit after the prefix zeroed.
fn truncate(ip: IpAddr, v4_bits: u8, v6_bits: u8) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(v4_bits.min(32))).unwrap_or(0);
            Ipv4Addr::from(u32::from(v4) & mask).to_string()
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(v6_bits.min(128))).unwrap_or(0);
            Ipv6Addr::from(u128::from(v6) & mask).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Key, RedactionRules};

    fn keyed(secret: &str) -> Privacy {
        Privacy::keyed(Key::new(secret).unwrap())
    }

    #[test]
    fn stable_for_a_key_and_different_across_keys() {
        let a = keyed("first key, sixteen+ bytes");
        let b = keyed("second key, sixteen+ bytes");
        for client in ["203.0.113.9", "2001:db8::42", "crawler.example.net"] {
            assert_eq!(a.pseudonymize_client(client), a.pseudonymize_client(client));
            assert_ne!(a.pseudonymize_client(client), b.pseudonymize_client(client));
            assert_ne!(a.pseudonymize_client(client), client);
        }
        assert_ne!(a.pseudonymize_client("203.0.113.9"), a.pseudonymize_client("203.0.113.10"));
    }

    #[test]
    fn formats_show_the_family() {
        let p = keyed("0123456789abcdef");
        let v4 = p.pseudonymize_client("198.51.100.1");
        let v6 = p.pseudonymize_client("2001:db8::1");
        let host = p.pseudonymize_client("Proxy.Example.com");
        assert!(v4.starts_with("ip4-") && v4.len() == 4 + PSEUDONYM_HEX_DIGITS, "{v4}");
        assert!(v6.starts_with("ip6-") && v6.len() == 4 + PSEUDONYM_HEX_DIGITS, "{v6}");
        assert!(host.starts_with("host-"), "{host}");
        assert_eq!(host, p.pseudonymize_client("proxy.example.com"));
        assert!(v4.parse::<IpAddr>().is_err() && v6.parse::<IpAddr>().is_err());
        // Ports are kept, the address is not.
        assert_eq!(p.pseudonymize_client("198.51.100.1:8080"), format!("{v4}:8080"));
        assert_eq!(p.pseudonymize_client("[2001:db8::1]:443"), format!("[{v6}]:443"));
        assert_eq!(p.pseudonymize_client("-"), "-");
    }

    #[test]
    fn truncation_keeps_the_prefix() {
        let p = Privacy::truncating();
        assert_eq!(p.pseudonymize_client("203.0.113.77"), "203.0.113.0");
        assert_eq!(p.pseudonymize_client("2001:db8:1234:5678::9"), "2001:db8:1234::");
        let custom = ClientMode::Truncate { v4_bits: 16, v6_bits: 32 };
        let p = Privacy::new(custom, None, RedactionRules::default()).unwrap();
        assert_eq!(p.pseudonymize_client("203.0.113.77"), "203.0.0.0");
        assert_eq!(p.pseudonymize_client("2001:db8:1234::9"), "2001:db8::");
        let edges = ClientMode::Truncate { v4_bits: 0, v6_bits: 128 };
        let p = Privacy::new(edges, None, RedactionRules::default()).unwrap();
        assert_eq!(p.pseudonymize_client("203.0.113.77"), "0.0.0.0");
        assert_eq!(p.pseudonymize_client("2001:db8::9"), "2001:db8::9");
        // Without a key, names cannot be pseudonymized and are dropped.
        assert_eq!(Privacy::truncating().pseudonymize_client("host.example"), "host-redacted");
    }

    #[test]
    fn users() {
        let p = keyed("0123456789abcdef");
        let u = p.pseudonymize_user("alice@example.com");
        assert!(u.starts_with("user-") && !u.contains("alice"));
        assert_eq!(u, p.pseudonymize_user("alice@example.com"));
        assert_eq!(Privacy::truncating().pseudonymize_user("bob"), "user-redacted");
    }
}
