//! Which values are secrets: the configurable redaction rules.

use serde::{Deserialize, Serialize};

use crate::error::PrivacyError;

/// Parameter, cookie, header and JSON key names whose values are always redacted.
pub const DEFAULT_SECRET_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "session",
    "sessionid",
    "sessid",
    "sid",
    "auth",
    "authorization",
    "email",
    "e-mail",
];

/// The redaction rules, as configured (TOML file or flags).
///
/// A *name* rule matches a parameter, cookie, header or JSON key name, ignoring ASCII
/// case: a name of five characters or more matches anywhere in it (`password` matches
/// `new_password`, `session` matches `JSESSIONID`), a shorter one matches a whole word of
/// it, words being split at anything but letters and digits (`key` matches `api-key`
/// and `private_key`, not `monkey`; `auth` matches `x-auth`, not `author`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactionRules {
    /// Start from [`DEFAULT_SECRET_NAMES`] (default `true`).
    pub default_names: bool,
    /// More secret names, added to the defaults.
    pub names: Vec<String>,
    /// Exact substrings redacted wherever they occur (case-sensitive), e.g. a known
    /// internal host name or customer id.
    pub literals: Vec<String>,
    /// Prefixes of secret tokens (`sk_live_`, `ghp_`, `AKIA`): a prefix at the start of
    /// a word redacts it and the letters, digits, `_` and `-` after it.
    pub token_prefixes: Vec<String>,
    /// Redact things that look like e-mail addresses (default `true`).
    pub emails: bool,
    /// Redact JSON Web Tokens, `eyJ...`.`...`.`...` (default `true`).
    pub jwts: bool,
    /// Redact payment card numbers: 13 to 19 digits, optionally grouped by single spaces
    /// or dashes, starting with 2 to 6 (the payment industries of ISO/IEC 7812; a leading
    /// 1 is left alone so that millisecond Unix timestamps are not taken for cards) and
    /// passing the Luhn check (default `true`).
    pub cards: bool,
    /// Redact the credentials after `Bearer ` and `Basic ` (default `true`).
    pub bearer: bool,
}

impl Default for RedactionRules {
    fn default() -> Self {
        RedactionRules {
            default_names: true,
            names: Vec::new(),
            literals: Vec::new(),
            token_prefixes: Vec::new(),
            emails: true,
            jwts: true,
            cards: true,
            bearer: true,
        }
    }
}

/// [`RedactionRules`] checked and prepared for matching.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// Lowercase names of five characters or more, matched as substrings.
    long_names: Vec<String>,
    /// Lowercase shorter names, matched as whole words.
    short_names: Vec<String>,
    pub(crate) literals: Vec<String>,
    pub(crate) token_prefixes: Vec<String>,
    pub(crate) emails: bool,
    pub(crate) jwts: bool,
    pub(crate) cards: bool,
    pub(crate) bearer: bool,
}

impl Rules {
    /// Checks the configured rules: names and literals must not be blank, token
    /// prefixes must be at least two characters.
    pub(crate) fn new(config: &RedactionRules) -> Result<Rules, PrivacyError> {
        let bad = |field: &'static str, value: &str, reason: &'static str| PrivacyError::BadRule {
            field,
            value: value.to_string(),
            reason,
        };
        if let Some(name) = config.names.iter().find(|n| n.trim().is_empty()) {
            return Err(bad("names", name, "a name must not be blank"));
        }
        if let Some(literal) = config.literals.iter().find(|l| l.trim().is_empty()) {
            return Err(bad("literals", literal, "a literal must not be blank"));
        }
        if let Some(prefix) = config.token_prefixes.iter().find(|p| p.trim().len() < 2) {
            return Err(bad("token_prefixes", prefix, "a prefix needs two characters"));
        }
        Ok(Rules::build(config))
    }

    /// Prepares rules already checked by [`Rules::new`] (or known to be valid, as the
    /// defaults are); blank entries are skipped.
    pub(crate) fn build(config: &RedactionRules) -> Rules {
        let mut long_names = Vec::new();
        let mut short_names = Vec::new();
        let defaults = if config.default_names { DEFAULT_SECRET_NAMES } else { &[] };
        let configured = config.names.iter().map(String::as_str);
        for name in defaults.iter().copied().chain(configured) {
            let name = name.trim().to_ascii_lowercase();
            let list = if name.len() >= 5 { &mut long_names } else { &mut short_names };
            if !name.is_empty() && !list.contains(&name) {
                list.push(name);
            }
        }
        Rules {
            long_names,
            short_names,
            literals: config.literals.iter().filter(|l| !l.trim().is_empty()).cloned().collect(),
            token_prefixes: config
                .token_prefixes
                .iter()
                .map(|p| p.trim().to_string())
                .filter(|p| p.len() >= 2)
                .collect(),
            emails: config.emails,
            jwts: config.jwts,
            cards: config.cards,
            bearer: config.bearer,
        }
    }

    /// Whether values under `name` are secrets (see [`RedactionRules`]).
    pub(crate) fn is_secret_name(&self, name: &str) -> bool {
        let name = name.as_bytes();
        if self.long_names.iter().any(|n| contains_ignore_case(name, n.as_bytes())) {
            return true;
        }
        name.split(|b| !b.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
            .any(|word| self.short_names.iter().any(|n| word.eq_ignore_ascii_case(n.as_bytes())))
    }
}

/// Whether `hay` contains `needle` (lowercase), ignoring ASCII case.
pub(crate) fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules::new(&RedactionRules::default()).unwrap()
    }

    #[test]
    fn secret_names() {
        let r = rules();
        for name in [
            "password",
            "PASSWORD",
            "new_password",
            "passwd",
            "pwd",
            "token",
            "csrf_token",
            "access_token",
            "api_key",
            "apiKey",
            "x-api-key",
            "key",
            "private_key",
            "secret",
            "client_secret",
            "session",
            "JSESSIONID",
            "PHPSESSID",
            "sid",
            "auth",
            "x-auth",
            "authorization",
            "$http_authorization",
            "email",
            "E-Mail",
            "user[password]",
        ] {
            assert!(r.is_secret_name(name), "{name}");
        }
        for name in ["id", "q", "monkey", "author", "keyword", "page", "user", "lang", "side"] {
            assert!(!r.is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn configured_names_add_to_defaults() {
        let config = RedactionRules { names: vec!["ssn".into()], ..Default::default() };
        let r = Rules::new(&config).unwrap();
        assert!(r.is_secret_name("ssn") && r.is_secret_name("user-ssn"));
        assert!(r.is_secret_name("password"));
        let config = RedactionRules {
            default_names: false,
            names: vec!["ssn".into()],
            ..Default::default()
        };
        assert!(!Rules::new(&config).unwrap().is_secret_name("password"));
    }

    #[test]
    fn blank_rules_are_refused() {
        for config in [
            RedactionRules { names: vec![" ".into()], ..Default::default() },
            RedactionRules { literals: vec![String::new()], ..Default::default() },
            RedactionRules { token_prefixes: vec!["x".into()], ..Default::default() },
        ] {
            assert!(matches!(Rules::new(&config), Err(PrivacyError::BadRule { .. })));
        }
    }
}
