//! The feature configuration: which families run and the parameters of their windows.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::FeatureError;

/// What identifies one client for the behaviour windows.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientKey {
    /// The client address alone.
    #[default]
    Addr,
    /// The client address and the user agent: tells apart several clients behind one
    /// NAT or proxy address, at the price of more tracked state.
    AddrUa,
}

/// Which feature families run. Disabled families contribute no columns.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(default)]
pub struct Families {
    /// Request content: lengths, character classes, entropy, attack tokens, rarity.
    pub lexical: bool,
    /// Per-client behaviour over sliding windows.
    pub client: bool,
    /// Site-wide volume, error ratio and latency against their recent baseline.
    pub site: bool,
    /// Hour of day and day of week.
    pub time: bool,
    /// Per-endpoint parameter profiles.
    pub params: bool,
}

impl Default for Families {
    fn default() -> Self {
        Families { lexical: true, client: true, site: true, time: true, params: true }
    }
}

/// Configuration of the feature stage. It is stored in the model file (except
/// [`FeatureConfig::geoip`], a path on the machine that trained), so scoring uses the
/// exact parameters training used.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct FeatureConfig {
    /// Window lengths in seconds for the client and site families, shortest first
    /// after validation. The site family compares its shortest window against its
    /// longest (the baseline).
    pub windows_secs: Vec<u32>,
    /// What identifies a client.
    pub client_key: ClientKey,
    /// The most clients tracked at once; past it the least recently seen are evicted.
    pub max_clients: usize,
    /// A client idle this long is forgotten (and is new again when it returns).
    pub client_ttl_secs: u64,
    /// Which families run.
    pub families: Families,
    /// The most distinct path templates (and as many parameter names, extensions and
    /// user-agent families) kept in the vocabularies; the rarest beyond it are dropped.
    pub max_vocabulary: usize,
    /// The most (path template, parameter) profiles learned; the least used beyond it
    /// are dropped and those parameters fall back to their name-only profile.
    pub max_profiles: usize,
    /// A MaxMind `.mmdb` file for country and ASN features. Not part of the model file.
    #[serde(skip)]
    pub geoip: Option<PathBuf>,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            windows_secs: vec![10, 60, 600],
            client_key: ClientKey::Addr,
            max_clients: 100_000,
            client_ttl_secs: 1800,
            families: Families::default(),
            max_vocabulary: 50_000,
            max_profiles: 100_000,
            geoip: None,
        }
    }
}

/// Windows longer than a week gain nothing and make decay constants degenerate.
const MAX_WINDOW_SECS: u32 = 7 * 86_400;

impl FeatureConfig {
    /// Checks ranges and puts the windows in increasing order without duplicates.
    pub fn validated(mut self) -> Result<FeatureConfig, FeatureError> {
        let f = self.families;
        if !(f.lexical || f.client || f.site || f.time || f.params) {
            return Err(FeatureError::NoFeatures);
        }
        self.windows_secs.sort_unstable();
        self.windows_secs.dedup();
        if (f.client || f.site) && self.windows_secs.is_empty() {
            return Err(FeatureError::InvalidConfig {
                field: "windows_secs",
                reason: "at least one window is needed by the client and site families".into(),
            });
        }
        if let Some(&w) = self.windows_secs.iter().find(|&&w| w == 0 || w > MAX_WINDOW_SECS) {
            return Err(FeatureError::InvalidConfig {
                field: "windows_secs",
                reason: format!("{w} is not between 1 and {MAX_WINDOW_SECS} seconds"),
            });
        }
        if self.max_clients == 0 {
            return Err(FeatureError::InvalidConfig {
                field: "max_clients",
                reason: "must be at least 1".into(),
            });
        }
        if self.client_ttl_secs == 0 {
            return Err(FeatureError::InvalidConfig {
                field: "client_ttl_secs",
                reason: "must be at least 1".into(),
            });
        }
        if self.max_vocabulary == 0 || self.max_profiles == 0 {
            return Err(FeatureError::InvalidConfig {
                field: "max_vocabulary",
                reason: "vocabulary and profile limits must be at least 1".into(),
            });
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_sorted_and_checked() {
        let c = FeatureConfig { windows_secs: vec![600, 10, 60, 10], ..Default::default() };
        assert_eq!(c.validated().unwrap().windows_secs, vec![10, 60, 600]);
        let c = FeatureConfig { windows_secs: vec![0], ..Default::default() };
        assert!(c.validated().is_err());
        let c = FeatureConfig { windows_secs: vec![], ..Default::default() };
        assert!(c.validated().is_err());
        let none =
            Families { lexical: false, client: false, site: false, time: false, params: false };
        let c = FeatureConfig { families: none, ..Default::default() };
        assert!(matches!(c.validated(), Err(FeatureError::NoFeatures)));
    }
}
