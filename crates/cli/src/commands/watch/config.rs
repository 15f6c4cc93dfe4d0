//! The `anomalog watch` configuration: one TOML file (every key optional) whose values
//! the command-line flags override.
//!
//! The daemon's own settings ([`DaemonConfig`]: `sources`, `alerts`, `state_dir`,
//! `[file]`, `[incidents]`, `[delivery]`, ...) sit at the top level of the file beside
//! the keys of this module (`model`, `format`, `[server]`, `[store]`, `[privacy]`), so
//! the smallest useful file is two lines:
//!
//! ```toml
//! model = "site.model"
//! sources = ["file:/var/log/nginx/access.log"]
//! ```
//!
//! `anomalog.example.toml` at the repository root documents every key.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anomalog_privacy::{ClientMode, Key, MIN_KEY_LEN, Privacy, RedactionRules};
use anomalog_watch::DaemonConfig;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::lifecycle::{AllowlistConfig, DriftAlertConfig, RetrainConfig};

/// Everything `anomalog watch` runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchConfig {
    /// The model file written by `anomalog train`. Required (here or `--model`).
    pub model: Option<PathBuf>,
    /// MaxMind `.mmdb` database for a model trained with geography features.
    pub geoip: Option<PathBuf>,
    /// Log format of the sources: `auto` (detected per source on its first lines),
    /// `combined`, `common`, `nginx:'<log_format>'`, `apache:'<LogFormat>'`, `json`
    /// or `uri`.
    pub format: String,
    /// Seconds between one-line status reports on stderr (only when stderr is a
    /// terminal); 0 turns them off.
    pub status_interval_secs: u64,
    /// Records per drift window: each window's feature and score distributions are
    /// compared with the training data (PSI, Kolmogorov–Smirnov), published on
    /// `/metrics` and a change of verdict is logged.
    pub drift_window_records: u64,
    /// The HTTP server (`/metrics`, `/healthz`, `/api/...`, the dashboard).
    pub server: ServerConfig,
    /// The incident database.
    pub store: StoreConfig,
    /// Pseudonymization of what is stored and alerted.
    pub privacy: PrivacyConfig,
    /// When drift becomes an alert.
    pub drift: DriftAlertConfig,
    /// Retraining on recent traffic and promotion of candidates.
    pub retrain: RetrainConfig,
    /// Suppression of anomalies like the marked false positives.
    pub allowlist: AllowlistConfig,
    /// Sources, alerts, state directory, file following, incident grouping, delivery.
    #[serde(flatten)]
    pub daemon: DaemonConfig,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            model: None,
            geoip: None,
            format: "auto".to_string(),
            status_interval_secs: 10,
            drift_window_records: 100_000,
            server: ServerConfig::default(),
            store: StoreConfig::default(),
            privacy: PrivacyConfig::default(),
            drift: DriftAlertConfig::default(),
            retrain: RetrainConfig::default(),
            allowlist: AllowlistConfig::default(),
            daemon: DaemonConfig::default(),
        }
    }
}

/// `[server]`: where metrics, the API and the dashboard are served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (`127.0.0.1:9898`; port 0 picks a free port); `off` runs
    /// without the server. Any address other than loopback requires a token.
    pub listen: String,
    /// Name of the environment variable holding the bearer token that every route but
    /// `/healthz` then requires. The token itself never appears in a file or a log.
    pub token_env: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { listen: "127.0.0.1:9898".to_string(), token_env: None }
    }
}

/// `[store]`: the SQLite file of incidents, anomalies and per-minute series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The database file (created owner-only, with its directory).
    pub path: PathBuf,
    /// Incidents, anomalies and series older than this many days are deleted (checked
    /// at start and hourly); 0 keeps everything.
    pub retention_days: u64,
    /// At most this many incidents and this many anomalies are kept; the oldest go
    /// first.
    pub max_rows: usize,
    /// The first this many anomalies of an incident are stored, then as many again each
    /// time its count doubles; 0 stores every one.
    pub anomalies_per_incident: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("anomalog.db"),
            retention_days: 30,
            max_rows: 1_000_000,
            anomalies_per_incident: 1000,
        }
    }
}

/// `[privacy]`: client addresses pseudonymized and secrets redacted before anything
/// is stored, shown or alerted. Scoring itself sees the raw record in memory, so
/// per-client windows and geography work as in training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Turns pseudonymization and redaction on.
    pub enabled: bool,
    /// `hmac` (keyed pseudonyms, stable for a key) or `truncate` (keep the network
    /// prefix only).
    pub mode: PrivacyMode,
    /// Name of the environment variable holding the pseudonymization key (at least 16
    /// bytes; required by `hmac`).
    pub key_env: String,
    /// With `truncate`: IPv4 prefix length kept.
    pub ipv4_prefix: u8,
    /// With `truncate`: IPv6 prefix length kept.
    pub ipv6_prefix: u8,
    /// More parameter and header names whose values are secrets.
    pub secret_names: Vec<String>,
}

/// How client addresses are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivacyMode {
    /// Keyed pseudonyms (`ip4-<hex>`).
    Hmac,
    /// Network prefix (`/24`, `/48`).
    Truncate,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            enabled: false,
            mode: PrivacyMode::Hmac,
            key_env: "ANOMALOG_KEY".to_string(),
            ipv4_prefix: 24,
            ipv6_prefix: 48,
            secret_names: Vec::new(),
        }
    }
}

impl PrivacyConfig {
    /// The privacy settings in force, `None` when disabled; a missing or short key is an
    /// error, never a silent fallback to raw addresses.
    pub fn build(&self) -> Result<Option<Privacy>> {
        if !self.enabled {
            return Ok(None);
        }
        let key = match std::env::var(&self.key_env) {
            Ok(k) if !k.is_empty() => {
                Some(Key::new(&k).with_context(|| format!("${}", self.key_env))?)
            }
            _ if self.mode == PrivacyMode::Hmac => bail!(
                "[privacy] mode = \"hmac\" needs a key in ${} (at least {MIN_KEY_LEN} bytes)",
                self.key_env
            ),
            _ => None,
        };
        let mode = match self.mode {
            PrivacyMode::Hmac => ClientMode::Hmac,
            PrivacyMode::Truncate => {
                ClientMode::Truncate { v4_bits: self.ipv4_prefix, v6_bits: self.ipv6_prefix }
            }
        };
        let rules =
            RedactionRules { names: self.secret_names.clone(), ..RedactionRules::default() };
        Ok(Some(Privacy::new(mode, key, rules)?))
    }
}

const OWN_KEYS: &[&str] = &[
    "model",
    "geoip",
    "format",
    "status_interval_secs",
    "drift_window_records",
    "server",
    "store",
    "privacy",
    "drift",
    "retrain",
    "allowlist",
];

impl WatchConfig {
    /// Reads a config file.
    pub fn load(path: &Path) -> Result<WatchConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        WatchConfig::parse(&text).with_context(|| format!("config file {}", path.display()))
    }

    /// Parses config text. Unknown keys are errors, at every level: a misspelled key
    /// silently ignored would leave a setting at its default.
    pub fn parse(text: &str) -> Result<WatchConfig> {
        let table: toml::Table = toml::from_str(text)?;
        // The daemon's keys reach it through `flatten`, which does not report unknown
        // keys; check the top level here (nested tables check themselves).
        let daemon_keys = match serde_json::to_value(DaemonConfig::default())? {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            _ => BTreeSet::new(),
        };
        for key in table.keys() {
            if !OWN_KEYS.contains(&key.as_str()) && !daemon_keys.contains(key) {
                let known: Vec<&str> = OWN_KEYS
                    .iter()
                    .copied()
                    .chain(daemon_keys.iter().map(String::as_str))
                    .collect();
                bail!("unknown key `{key}` (known keys: {})", known.join(", "));
            }
        }
        Ok(toml::from_str(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_lines_are_enough() {
        let c = WatchConfig::parse(
            "model = \"site.model\"\nsources = [\"file:/var/log/nginx/access.log\"]\n",
        )
        .unwrap();
        assert_eq!(c.model, Some(PathBuf::from("site.model")));
        assert_eq!(c.daemon.sources, vec!["file:/var/log/nginx/access.log".to_string()]);
        assert_eq!(c.server.listen, "127.0.0.1:9898");
        assert_eq!(c.store.path, PathBuf::from("anomalog.db"));
        assert_eq!(c.daemon.alerts, DaemonConfig::default().alerts);
    }

    #[test]
    fn sections_and_daemon_keys() {
        let c = WatchConfig::parse(
            r#"
            model = "m"
            format = "combined"
            alerts = ["jsonl:/tmp/a.jsonl"]
            batch_lines = 50
            [server]
            listen = "127.0.0.1:0"
            token_env = "TOKEN"
            [store]
            retention_days = 7
            [incidents]
            window_secs = 60
            [file]
            start_at = "beginning"
            "#,
        )
        .unwrap();
        assert_eq!(c.format, "combined");
        assert_eq!(c.daemon.batch_lines, 50);
        assert_eq!(c.daemon.incidents.window_secs, 60);
        assert_eq!(c.server.token_env.as_deref(), Some("TOKEN"));
        assert_eq!(c.store.retention_days, 7);
        assert_eq!(c.store.max_rows, StoreConfig::default().max_rows);
    }

    #[test]
    fn unknown_keys_are_errors() {
        for text in [
            "modle = \"x\"",
            "[server]\nlisten_addr = \"x\"",
            "[incidents]\nwindow = 3",
            "[store]\npath = \"x\"\nretention = 3",
        ] {
            assert!(WatchConfig::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn example_file_parses_and_documents_every_key() {
        let example = include_str!("../../../../../anomalog.example.toml");
        let c = WatchConfig::parse(example).unwrap();
        assert!(c.model.is_some());
        let defaults = serde_json::to_value(WatchConfig::default()).unwrap();
        let mut keys = Vec::new();
        collect_keys(&defaults, &mut keys);
        for key in keys {
            let documented =
                example.lines().any(|l| l.trim_start_matches(['#', ' ']).starts_with(&key));
            assert!(documented, "`{key}` is not documented in anomalog.example.toml");
        }
    }

    fn collect_keys(value: &serde_json::Value, out: &mut Vec<String>) {
        if let serde_json::Value::Object(map) = value {
            for (k, v) in map {
                if let serde_json::Value::Object(_) = v {
                    out.push(format!("[{k}]"));
                    collect_keys(v, out);
                } else {
                    out.push(format!("{k} ="));
                }
            }
        }
    }
}
