//! The scale-out side of `anomalog watch` (cargo feature `kafka`): consumer-group
//! sources (`kafka://BROKERS/TOPIC?group=G`), alerts to a topic
//! (`kafka://BROKERS/TOPIC`), a PostgreSQL incident store shared by the processes of a
//! group (`--db postgres://...`), and the alert ledger that keeps an alert from
//! reaching a receiver twice.
//!
//! [`ScaleOut::take`] moves these specs out of the configuration before the daemon,
//! which knows files, syslog and stdin, is built; [`ScaleOut::attach`] then adds them
//! to it. A build without the feature refuses them with a clear error instead of
//! reading `kafka://...` as a file name.
//!
//! With a Kafka source, records can be scored twice (a partition re-read after a crash
//! or a rebalance), so every alert sink is wrapped: incident ids already follow the
//! record that opened the incident (the same in every process), and each event key
//! (`anomalog_kafka::key::event_key`) is delivered once per receiver, as
//! recorded in the ledger (a table of the PostgreSQL store when there is one, shared by
//! the group; otherwise a directory in the state directory, which covers restarts of
//! this process).

use std::path::Path;
use std::sync::Arc;

use anomalog_server::IncidentStore;
use anomalog_watch::Daemon;
use anyhow::Result;

use super::config::WatchConfig;

/// The message of a build without the feature.
#[cfg(not(feature = "kafka"))]
const NO_KAFKA: &str = "this build has no Kafka support; rebuild with --features kafka";

/// Whether a source or alert spec names Kafka.
pub fn is_kafka(spec: &str) -> bool {
    spec.trim_start().starts_with("kafka:")
}

/// Whether `--db` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres(db: &Path) -> bool {
    let text = db.to_string_lossy();
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// The Kafka and PostgreSQL parts of a configuration; see the module documentation.
#[derive(Debug, Default)]
pub struct ScaleOut {
    /// `kafka://` sources.
    sources: Vec<String>,
    /// The alert sinks built here: all of them when there is a Kafka source (they are
    /// all wrapped), otherwise the `kafka://` ones only.
    alerts: Vec<String>,
    /// The PostgreSQL connection string of the store.
    postgres: Option<String>,
}

impl ScaleOut {
    /// Takes the Kafka sources and the alert sinks this module builds out of `config`
    /// (the daemon builds the rest). Without the `kafka` feature, any Kafka or
    /// PostgreSQL spec is an error.
    pub fn take(config: &mut WatchConfig) -> Result<ScaleOut> {
        let (sources, others): (Vec<String>, Vec<String>) =
            config.daemon.sources.drain(..).partition(|s| is_kafka(s));
        config.daemon.sources = others;
        let (alerts, others): (Vec<String>, Vec<String>) = if sources.is_empty() {
            config.daemon.alerts.drain(..).partition(|s| is_kafka(s))
        } else {
            (std::mem::take(&mut config.daemon.alerts), Vec::new())
        };
        config.daemon.alerts = others;
        let postgres = is_postgres(&config.store.path)
            .then(|| config.store.path.to_string_lossy().into_owned());
        let plan = ScaleOut { sources, alerts, postgres };
        #[cfg(not(feature = "kafka"))]
        {
            if let Some(spec) = plan.sources.iter().chain(&plan.alerts).find(|s| is_kafka(s)) {
                anyhow::bail!("`{spec}`: {NO_KAFKA}");
            }
            if plan.postgres.is_some() {
                // The URL may hold a password: not repeated here.
                anyhow::bail!(
                    "--db postgres://...: PostgreSQL comes with Kafka support, and {NO_KAFKA}"
                );
            }
        }
        Ok(plan)
    }

    /// Whether records may be scored twice (a Kafka source), so alerts are deduplicated.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code, reason = "only Kafka sources deduplicate"))]
    pub fn deduplicates(&self) -> bool {
        !self.sources.is_empty()
    }

    /// Opens the PostgreSQL store, or returns `None` when the store is a SQLite file.
    pub fn open_store(&self) -> Result<Option<Arc<dyn IncidentStore>>> {
        let Some(url) = &self.postgres else { return Ok(None) };
        #[cfg(feature = "kafka")]
        {
            let store = anomalog_kafka::store::postgres::PgStore::connect(url)?;
            Ok(Some(Arc::new(store)))
        }
        #[cfg(not(feature = "kafka"))]
        {
            let _ = url;
            anyhow::bail!("--db postgres://...: {NO_KAFKA}")
        }
    }

    /// Adds the Kafka sources and the alert sinks built here to `daemon`; returns what
    /// `/metrics` reports about them.
    pub fn attach(&self, daemon: &mut Daemon, config: &WatchConfig) -> Result<Attached> {
        #[cfg(feature = "kafka")]
        {
            enabled::attach(self, daemon, config)
        }
        #[cfg(not(feature = "kafka"))]
        {
            let _ = (daemon, config);
            Ok(Attached::default())
        }
    }
}

/// What the Kafka sources and the deduplicating sinks report on `/metrics`.
#[derive(Clone, Default)]
pub struct Attached {
    #[cfg(feature = "kafka")]
    sources: Vec<Arc<anomalog_kafka::metrics::KafkaMetrics>>,
    #[cfg(feature = "kafka")]
    dedup: Vec<(String, Arc<anomalog_kafka::dedup::DedupStats>)>,
}

impl Attached {
    /// Kafka lag, commits and rebalances per source, and the alerts each sink's ledger
    /// suppressed, in the Prometheus text format.
    pub fn render_prometheus(&self) -> String {
        #[cfg(feature = "kafka")]
        {
            enabled::render(self)
        }
        #[cfg(not(feature = "kafka"))]
        {
            String::new()
        }
    }
}

#[cfg(feature = "kafka")]
mod enabled {
    use std::fmt::Write;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use anomalog_kafka::dedup::{AlertLedger, Deduplicate, DirLedger};
    use anomalog_kafka::sink::KafkaSink;
    use anomalog_kafka::source::KafkaSource;
    use anomalog_kafka::store::postgres::PgStore;
    use anomalog_kafka::{KafkaSinkConfig, KafkaSourceConfig};
    use anomalog_watch::Daemon;
    use anomalog_watch::sink::{Sink, SinkSpec};
    use anyhow::{Context, Result};

    use super::{Attached, ScaleOut, WatchConfig, is_kafka};

    /// How often old ledger keys are deleted.
    const PRUNE_EVERY: Duration = Duration::from_secs(3600);

    pub(super) fn attach(
        plan: &ScaleOut,
        daemon: &mut Daemon,
        config: &WatchConfig,
    ) -> Result<Attached> {
        let mut attached = Attached::default();
        for spec in &plan.sources {
            let source_config = KafkaSourceConfig::parse(spec)?;
            let source = KafkaSource::new(&source_config)?;
            attached.sources.push(source.metrics());
            daemon.add_source(Box::new(source));
        }
        let ledger = if plan.deduplicates() { Some(ledger(plan, config)?) } else { None };
        let timeout = Duration::from_millis(config.daemon.http_timeout_ms);
        for spec in &plan.alerts {
            let (key, sink): (String, Box<dyn Sink>) = if is_kafka(spec) {
                let sink_config = KafkaSinkConfig::parse(spec)?;
                (sink_config.key(), Box::new(KafkaSink::new(&sink_config)?))
            } else {
                let sink_spec = SinkSpec::parse(spec)?;
                (sink_spec.key(), sink_spec.build(timeout)?)
            };
            let sink: Box<dyn Sink> = match &ledger {
                Some(ledger) => {
                    let dedup = Deduplicate::scoped(sink, Arc::clone(ledger), &key);
                    attached.dedup.push((key.clone(), dedup.stats()));
                    Box::new(dedup)
                }
                None => sink,
            };
            daemon
                .add_sink(&key, sink)
                .with_context(|| format!("cannot open the outbox of `{spec}`"))?;
        }
        if let Some(ledger) = ledger {
            spawn_pruner(ledger, config.store.retention_days)?;
        }
        Ok(attached)
    }

    /// The ledger shared by the group (PostgreSQL) or by this process's runs.
    fn ledger(plan: &ScaleOut, config: &WatchConfig) -> Result<Arc<dyn AlertLedger>> {
        Ok(match &plan.postgres {
            Some(url) => Arc::new(PgStore::ledger(url)?),
            None => Arc::new(DirLedger::open(config.daemon.state_dir.join("alert-ledger"))?),
        })
    }

    /// Deletes ledger keys older than the store's retention, at start and hourly.
    fn spawn_pruner(ledger: Arc<dyn AlertLedger>, retention_days: u64) -> Result<()> {
        if retention_days == 0 {
            return Ok(());
        }
        let keep = i64::try_from(retention_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
        std::thread::Builder::new()
            .name("anomalog-ledger".into())
            .spawn(move || {
                loop {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                    if let Err(e) = ledger.prune(now.saturating_sub(keep)) {
                        eprintln!("anomalog: {e} (old alert keys kept for now)");
                    }
                    std::thread::sleep(PRUNE_EVERY);
                }
            })
            .context("cannot start the alert ledger's pruning")?;
        Ok(())
    }

    pub(super) fn render(attached: &Attached) -> String {
        let mut out = String::new();
        for metrics in &attached.sources {
            out.push_str(&metrics.render_prometheus());
        }
        if attached.dedup.is_empty() {
            return out;
        }
        type Get = fn(&anomalog_kafka::dedup::DedupStats) -> u64;
        let counters: [(&str, &str, Get); 2] = [
            (
                "alerts_suppressed_total",
                "Alerts not delivered: the ledger had their key (a record scored again).",
                |s| s.suppressed.load(Ordering::Relaxed),
            ),
            (
                "alert_ledger_errors_total",
                "Delivered alerts whose key could not be recorded (they may repeat).",
                |s| s.ledger_errors.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, get) in counters {
            let _ = writeln!(out, "# HELP anomalog_{name} {help}\n# TYPE anomalog_{name} counter");
            for (sink, stats) in &attached.dedup {
                let _ = writeln!(out, "anomalog_{name}{{sink=\"{sink}\"}} {}", get(stats));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sources: &[&str], alerts: &[&str], db: &str) -> WatchConfig {
        let mut c = WatchConfig::default();
        c.daemon.sources = sources.iter().map(|s| s.to_string()).collect();
        c.daemon.alerts = alerts.iter().map(|s| s.to_string()).collect();
        c.store.path = db.into();
        c
    }

    #[test]
    fn without_kafka_nothing_is_taken() {
        let mut c = config(&["file:/var/log/a.log"], &["stdout"], "anomalog.db");
        let plan = ScaleOut::take(&mut c).unwrap();
        assert!(!plan.deduplicates());
        assert_eq!(c.daemon.sources, ["file:/var/log/a.log"]);
        assert_eq!(c.daemon.alerts, ["stdout"]);
    }

    #[cfg(feature = "kafka")]
    #[test]
    fn kafka_sources_take_every_alert_sink() {
        let mut c = config(
            &["file:/var/log/a.log", "kafka://127.0.0.1:9092/logs?group=g"],
            &["jsonl:/tmp/a.jsonl", "kafka://127.0.0.1:9092/alerts"],
            "postgres://anomalog@db:5432/anomalog",
        );
        let plan = ScaleOut::take(&mut c).unwrap();
        assert!(plan.deduplicates());
        assert_eq!(c.daemon.sources, ["file:/var/log/a.log"]);
        assert!(c.daemon.alerts.is_empty());
        assert_eq!(plan.alerts.len(), 2);
        assert!(plan.postgres.is_some());
    }

    #[cfg(not(feature = "kafka"))]
    #[test]
    fn without_the_feature_kafka_and_postgres_are_refused() {
        for (sources, alerts, db) in [
            (&["kafka://127.0.0.1:9092/logs?group=g"][..], &["stdout"][..], "a.db"),
            (&["file:/a.log"][..], &["kafka://127.0.0.1:9092/alerts"][..], "a.db"),
            (&["file:/a.log"][..], &["stdout"][..], "postgres://u:secret@db/anomalog"),
        ] {
            let err = ScaleOut::take(&mut config(sources, alerts, db)).unwrap_err().to_string();
            assert!(err.contains("rebuild with --features kafka"), "{err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }
}
