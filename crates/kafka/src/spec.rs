//! `kafka://BROKERS/TOPIC?key=value&...` as written on the command line, for the source
//! (`--source`) and the alert sink (`--alert`).

use std::collections::BTreeMap;

use anomalog_watch::WatchError;
use anomalog_watch::incident::stable_hash;
use serde::{Deserialize, Serialize};

/// Where a new consumer group starts reading a partition that has no committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetReset {
    /// From the oldest retained record: nothing retained is skipped.
    #[default]
    Earliest,
    /// From the next record produced: like `tail -F` starting at the end.
    Latest,
}

impl OffsetReset {
    /// The librdkafka value of `auto.offset.reset`.
    pub fn as_str(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        }
    }
}

/// Settings of the Kafka source; `kafka://BROKERS/TOPIC?group=G` sets the first three,
/// the other query keys have the names of the fields below.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSourceConfig {
    /// Bootstrap brokers, `host:port` separated by commas.
    pub brokers: String,
    /// The topic of access-log lines (one line per record, keyed by client address).
    pub topic: String,
    /// The consumer group; every process of one deployment uses the same group.
    pub group: String,
    /// `client.id` reported to the brokers; default `anomalog`.
    pub client_id: String,
    /// Where a partition without a committed offset starts.
    pub offset_reset: OffsetReset,
    /// A member missing heartbeats for this long is declared dead and its partitions
    /// move (the failover time after `kill -9`).
    pub session_timeout_ms: u64,
    /// Heartbeat interval; well below a third of the session timeout.
    pub heartbeat_interval_ms: u64,
    /// A member that does not poll for this long leaves the group.
    pub max_poll_interval_ms: u64,
    /// Partition assignment strategy; `cooperative-sticky` moves only the partitions
    /// that must move when members come and go.
    pub assignment_strategy: String,
    /// How often librdkafka reports watermarks, which the lag metrics come from.
    pub stats_interval_ms: u64,
    /// Further librdkafka properties (`security.protocol`, `sasl.mechanism`, ...),
    /// given as `rdkafka.NAME=VALUE` query keys.
    pub rdkafka: BTreeMap<String, String>,
}

impl Default for KafkaSourceConfig {
    fn default() -> Self {
        KafkaSourceConfig {
            brokers: String::new(),
            topic: String::new(),
            group: String::new(),
            client_id: "anomalog".to_string(),
            offset_reset: OffsetReset::Earliest,
            session_timeout_ms: 10_000,
            heartbeat_interval_ms: 1_000,
            max_poll_interval_ms: 300_000,
            assignment_strategy: "cooperative-sticky".to_string(),
            stats_interval_ms: 1_000,
            rdkafka: BTreeMap::new(),
        }
    }
}

impl KafkaSourceConfig {
    /// Parses `kafka://BROKERS/TOPIC?group=G[&offset_reset=latest&...]`.
    pub fn parse(spec: &str) -> Result<KafkaSourceConfig, WatchError> {
        let url = KafkaUrl::parse(spec)?;
        let mut config = KafkaSourceConfig {
            brokers: url.brokers.clone(),
            topic: url.topic.clone(),
            ..KafkaSourceConfig::default()
        };
        for (key, value) in &url.query {
            let bad = |what: &str| config_error(spec, &format!("`{key}`: {what}"));
            let ms = || value.parse::<u64>().map_err(|_| bad("expected milliseconds"));
            match key.as_str() {
                "group" => config.group = value.clone(),
                "client_id" => config.client_id = value.clone(),
                "offset_reset" => {
                    config.offset_reset = match value.as_str() {
                        "earliest" => OffsetReset::Earliest,
                        "latest" => OffsetReset::Latest,
                        _ => return Err(bad("expected earliest or latest")),
                    }
                }
                "session_timeout_ms" => config.session_timeout_ms = ms()?,
                "heartbeat_interval_ms" => config.heartbeat_interval_ms = ms()?,
                "max_poll_interval_ms" => config.max_poll_interval_ms = ms()?,
                "stats_interval_ms" => config.stats_interval_ms = ms()?,
                "assignment_strategy" => config.assignment_strategy = value.clone(),
                _ => match key.strip_prefix("rdkafka.") {
                    Some(name) if !name.is_empty() => {
                        config.rdkafka.insert(name.to_string(), value.clone());
                    }
                    _ => return Err(bad("unknown key")),
                },
            }
        }
        config.check().map_err(|m| config_error(spec, &m))?;
        Ok(config)
    }

    /// Checks what must hold before a consumer is built: brokers, topic and group set,
    /// heartbeats well inside the session timeout.
    pub fn check(&self) -> Result<(), String> {
        if self.brokers.is_empty() || self.topic.is_empty() {
            return Err("brokers and topic are required".into());
        }
        if self.group.is_empty() {
            return Err("a consumer group is required (`?group=NAME`)".into());
        }
        if self.heartbeat_interval_ms.saturating_mul(3) > self.session_timeout_ms {
            return Err(format!(
                "heartbeat_interval_ms ({}) must be at most a third of session_timeout_ms ({})",
                self.heartbeat_interval_ms, self.session_timeout_ms
            ));
        }
        Ok(())
    }

    /// The source id, key of the source in metrics: `kafka://BROKERS/TOPIC?group=G`.
    pub fn id(&self) -> String {
        format!("kafka://{}/{}?group={}", self.brokers, self.topic, self.group)
    }
}

/// Settings of the Kafka alert sink: `kafka://BROKERS/TOPIC[?timeout_ms=N]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSinkConfig {
    /// Bootstrap brokers, `host:port` separated by commas.
    pub brokers: String,
    /// The topic alerts are produced to (keyed by incident, so compaction keeps the
    /// latest event of each incident).
    pub topic: String,
    /// `client.id` reported to the brokers; default `anomalog-alerts`.
    pub client_id: String,
    /// One delivery attempt fails (and is retried by the outbox) after this long.
    pub timeout_ms: u64,
    /// Further librdkafka properties, given as `rdkafka.NAME=VALUE` query keys.
    pub rdkafka: BTreeMap<String, String>,
}

impl Default for KafkaSinkConfig {
    fn default() -> Self {
        KafkaSinkConfig {
            brokers: String::new(),
            topic: String::new(),
            client_id: "anomalog-alerts".to_string(),
            timeout_ms: 10_000,
            rdkafka: BTreeMap::new(),
        }
    }
}

impl KafkaSinkConfig {
    /// Parses `kafka://BROKERS/TOPIC[?timeout_ms=N&client_id=X&rdkafka.NAME=VALUE]`.
    pub fn parse(spec: &str) -> Result<KafkaSinkConfig, WatchError> {
        let url = KafkaUrl::parse(spec)?;
        let mut config = KafkaSinkConfig {
            brokers: url.brokers.clone(),
            topic: url.topic.clone(),
            ..KafkaSinkConfig::default()
        };
        for (key, value) in &url.query {
            let bad = |what: &str| config_error(spec, &format!("`{key}`: {what}"));
            match key.as_str() {
                "timeout_ms" => {
                    config.timeout_ms = value
                        .parse::<u64>()
                        .ok()
                        .filter(|&t| t > 0)
                        .ok_or_else(|| bad("expected milliseconds"))?;
                }
                "client_id" => config.client_id = value.clone(),
                _ => match key.strip_prefix("rdkafka.") {
                    Some(name) if !name.is_empty() => {
                        config.rdkafka.insert(name.to_string(), value.clone());
                    }
                    _ => return Err(bad("unknown key")),
                },
            }
        }
        Ok(config)
    }

    /// A stable name safe as a directory name, the key of the sink's outbox
    /// (`kafka-alerts-1a2b3c4d`).
    pub fn key(&self) -> String {
        let readable: String = self
            .topic
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
            .take(48)
            .collect();
        let hash = stable_hash(&[self.brokers.as_bytes(), self.topic.as_bytes()]);
        format!("kafka-{readable}-{}", &hash[..8])
    }
}

/// The parts of `kafka://BROKERS/TOPIC?query`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KafkaUrl {
    brokers: String,
    topic: String,
    query: Vec<(String, String)>,
}

impl KafkaUrl {
    fn parse(spec: &str) -> Result<KafkaUrl, WatchError> {
        let trimmed = spec.trim();
        let rest = trimmed
            .strip_prefix("kafka://")
            .ok_or_else(|| config_error(spec, "expected kafka://BROKERS/TOPIC"))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (brokers, topic) = location
            .split_once('/')
            .ok_or_else(|| config_error(spec, "expected kafka://BROKERS/TOPIC"))?;
        let brokers_ok = brokers.split(',').all(|b| {
            b.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        });
        if brokers.is_empty() || !brokers_ok {
            return Err(config_error(spec, "brokers must be HOST:PORT[,HOST:PORT...]"));
        }
        let topic_ok =
            topic.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if topic.is_empty() || topic.len() > 249 || !topic_ok {
            return Err(config_error(spec, "the topic must be 1-249 of [A-Za-z0-9._-]"));
        }
        let mut pairs = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| config_error(spec, &format!("`{pair}`: expected KEY=VALUE")))?;
            if v.is_empty() {
                return Err(config_error(spec, &format!("`{k}`: empty value")));
            }
            pairs.push((k.to_string(), v.to_string()));
        }
        Ok(KafkaUrl { brokers: brokers.to_string(), topic: topic.to_string(), query: pairs })
    }
}

fn config_error(spec: &str, message: &str) -> WatchError {
    WatchError::Config(format!("`{}`: {message}", spec.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_specs_parse() {
        let c = KafkaSourceConfig::parse(
            "kafka://k1:9092,k2:9092/access-logs?group=anomalog&offset_reset=latest\
             &session_timeout_ms=6000&rdkafka.security.protocol=ssl",
        )
        .unwrap();
        assert_eq!(c.brokers, "k1:9092,k2:9092");
        assert_eq!(c.topic, "access-logs");
        assert_eq!(c.group, "anomalog");
        assert_eq!(c.offset_reset, OffsetReset::Latest);
        assert_eq!(c.session_timeout_ms, 6000);
        assert_eq!(c.rdkafka.get("security.protocol").map(String::as_str), Some("ssl"));
        assert_eq!(c.id(), "kafka://k1:9092,k2:9092/access-logs?group=anomalog");
    }

    #[test]
    fn bad_source_specs_are_refused() {
        for bad in [
            "kafka://k1:9092/logs",
            "kafka:k1:9092/logs?group=g",
            "kafka://k1/logs?group=g",
            "kafka://k1:9092/?group=g",
            "kafka://k1:9092/lo gs?group=g",
            "kafka://k1:9092/logs?group=g&colour=red",
            "kafka://k1:9092/logs?group=g&offset_reset=middle",
            "kafka://k1:9092/logs?group=g&session_timeout_ms=abc",
            "kafka://k1:9092/logs?group=g&session_timeout_ms=1000&heartbeat_interval_ms=1000",
            "kafka://k1:9092/logs?group",
        ] {
            let err = KafkaSourceConfig::parse(bad).unwrap_err();
            assert!(err.to_string().contains(bad.trim()), "{bad}: {err}");
        }
    }

    #[test]
    fn sink_specs_parse() {
        let c = KafkaSinkConfig::parse("kafka://127.0.0.1:9092/alerts?timeout_ms=500").unwrap();
        assert_eq!(
            (c.brokers.as_str(), c.topic.as_str(), c.timeout_ms),
            ("127.0.0.1:9092", "alerts", 500)
        );
        assert!(c.key().starts_with("kafka-alerts-"), "{}", c.key());
        assert_eq!(c.key(), KafkaSinkConfig::parse("kafka://127.0.0.1:9092/alerts").unwrap().key());
        assert!(KafkaSinkConfig::parse("kafka://127.0.0.1:9092/alerts?group=g").is_err());
        assert!(KafkaSinkConfig::parse("kafka://127.0.0.1:9092/alerts?timeout_ms=0").is_err());
    }
}
