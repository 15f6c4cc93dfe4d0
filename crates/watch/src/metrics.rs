//! Counters of the daemon, readable while it runs and rendered in the Prometheus text
//! exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::outbox::SinkStats;
use crate::source::SourceHealth;

/// Counters of one daemon; shared (behind an `Arc`) with whatever serves `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Lines read from all sources.
    pub lines_read: AtomicU64,
    /// Lines the scorer could not parse.
    pub rejects: AtomicU64,
    /// Lines scored.
    pub scored: AtomicU64,
    /// Lines scored as anomalous.
    pub anomalies: AtomicU64,
    /// Incidents opened.
    pub incidents_opened: AtomicU64,
    /// Incidents closed.
    pub incidents_closed: AtomicU64,
    /// Incidents open now.
    pub incidents_open: AtomicU64,
    /// Incident events handed to the outboxes.
    pub events: AtomicU64,
    /// Checkpoints written.
    pub checkpoints: AtomicU64,
    /// Source poll errors survived.
    pub source_errors: AtomicU64,
    rejects_by_reason: Mutex<BTreeMap<&'static str, u64>>,
    sources: Mutex<BTreeMap<String, SourceHealth>>,
    sinks: Mutex<Vec<(String, Arc<SinkStats>)>>,
}

/// A copy of the daemon's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonStats {
    /// Lines read from all sources.
    pub lines_read: u64,
    /// Lines the scorer could not parse.
    pub rejects: u64,
    /// Lines scored.
    pub scored: u64,
    /// Lines scored as anomalous.
    pub anomalies: u64,
    /// Incidents opened.
    pub incidents_opened: u64,
    /// Incidents closed.
    pub incidents_closed: u64,
    /// Alerts delivered, summed over sinks.
    pub alerts_sent: u64,
    /// Failed delivery attempts, summed over sinks.
    pub alerts_failed: u64,
    /// Alerts waiting in outboxes, summed over sinks.
    pub alerts_queued: u64,
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// Adds rejects by reason.
    pub fn add_rejects(&self, counts: &BTreeMap<&'static str, u64>) {
        let mut map = self.rejects_by_reason.lock().unwrap_or_else(|p| p.into_inner());
        for (reason, n) in counts {
            *map.entry(reason).or_default() += n;
        }
    }

    /// Records the current health of a source.
    pub fn set_source(&self, id: &str, health: SourceHealth) {
        let mut map = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(id) {
            Some(h) => *h = health,
            None => {
                map.insert(id.to_string(), health);
            }
        }
    }

    /// Registers a sink's delivery counters under `name`.
    pub fn add_sink(&self, name: &str, stats: Arc<SinkStats>) {
        self.sinks.lock().unwrap_or_else(|p| p.into_inner()).push((name.to_string(), stats));
    }

    /// The counters now.
    pub fn snapshot(&self) -> DaemonStats {
        let sinks = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        let sum = |f: fn(&SinkStats) -> &AtomicU64| sinks.iter().map(|(_, s)| get(f(s))).sum();
        DaemonStats {
            lines_read: get(&self.lines_read),
            rejects: get(&self.rejects),
            scored: get(&self.scored),
            anomalies: get(&self.anomalies),
            incidents_opened: get(&self.incidents_opened),
            incidents_closed: get(&self.incidents_closed),
            alerts_sent: sum(|s| &s.sent),
            alerts_failed: sum(|s| &s.failed),
            alerts_queued: sum(|s| &s.queued),
        }
    }

    /// All counters in the Prometheus text exposition format (version 0.0.4).
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP anomalog_{name} {help}\n# TYPE anomalog_{name} {kind}");
            for (labels, v) in samples {
                let _ = writeln!(out, "anomalog_{name}{labels} {v}");
            }
        };
        let one = |c: &AtomicU64| vec![(String::new(), get(c))];
        metric(
            "lines_read_total",
            "counter",
            "Lines read from all sources.",
            &one(&self.lines_read),
        );
        metric(
            "lines_rejected_total",
            "counter",
            "Lines that could not be parsed.",
            &one(&self.rejects),
        );
        metric("lines_scored_total", "counter", "Lines scored.", &one(&self.scored));
        metric("anomalies_total", "counter", "Lines scored as anomalous.", &one(&self.anomalies));
        metric(
            "incidents_opened_total",
            "counter",
            "Incidents opened.",
            &one(&self.incidents_opened),
        );
        metric(
            "incidents_closed_total",
            "counter",
            "Incidents closed.",
            &one(&self.incidents_closed),
        );
        metric("incidents_open", "gauge", "Incidents open now.", &one(&self.incidents_open));
        metric(
            "incident_events_total",
            "counter",
            "Incident events queued for alerting.",
            &one(&self.events),
        );
        metric("checkpoints_total", "counter", "Checkpoints written.", &one(&self.checkpoints));
        metric(
            "source_errors_total",
            "counter",
            "Source errors survived.",
            &one(&self.source_errors),
        );

        let reasons = self.rejects_by_reason.lock().unwrap_or_else(|p| p.into_inner());
        let samples: Vec<_> =
            reasons.iter().map(|(r, n)| (format!("{{reason=\"{}\"}}", escape(r)), *n)).collect();
        metric("rejects_by_reason_total", "counter", "Rejected lines by reason.", &samples);
        drop(reasons);

        let sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let per_source = |f: fn(&SourceHealth) -> u64| -> Vec<(String, u64)> {
            sources.iter().map(|(id, h)| (format!("{{source=\"{}\"}}", escape(id)), f(h))).collect()
        };
        metric(
            "source_lag_bytes",
            "gauge",
            "Bytes written to followed files, not read yet.",
            &per_source(|h| h.lag_bytes),
        );
        metric(
            "source_dropped_total",
            "counter",
            "Messages dropped on a full queue (UDP).",
            &per_source(|h| h.dropped),
        );
        metric(
            "source_oversized_total",
            "counter",
            "Lines over the length limit, skipped.",
            &per_source(|h| h.oversized),
        );
        metric(
            "source_read_errors_total",
            "counter",
            "Read errors survived, per source.",
            &per_source(|h| h.errors),
        );
        drop(sources);

        let sinks = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        let per_sink = |f: fn(&SinkStats) -> &AtomicU64| -> Vec<(String, u64)> {
            sinks.iter().map(|(n, s)| (format!("{{sink=\"{}\"}}", escape(n)), get(f(s)))).collect()
        };
        metric("alerts_sent_total", "counter", "Alerts delivered.", &per_sink(|s| &s.sent));
        metric(
            "alerts_failed_total",
            "counter",
            "Failed delivery attempts.",
            &per_sink(|s| &s.failed),
        );
        metric("alerts_dropped_total", "counter", "Alerts given up on.", &per_sink(|s| &s.dropped));
        metric("alerts_queued", "gauge", "Alerts waiting in the outbox.", &per_sink(|s| &s.queued));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_text_format() {
        let m = Metrics::default();
        m.lines_read.fetch_add(3, Ordering::Relaxed);
        m.add_rejects(&BTreeMap::from([("bad \"quote\"", 2)]));
        m.set_source("file:/a.log", SourceHealth { lag_bytes: 10, ..SourceHealth::default() });
        let stats = Arc::new(SinkStats::default());
        stats.sent.fetch_add(4, Ordering::Relaxed);
        m.add_sink("webhook", stats);
        let text = m.render_prometheus();
        assert!(
            text.contains(
                "# TYPE anomalog_lines_read_total counter\nanomalog_lines_read_total 3\n"
            )
        );
        assert!(
            text.contains("anomalog_rejects_by_reason_total{reason=\"bad \\\"quote\\\"\"} 2\n")
        );
        assert!(text.contains("anomalog_source_lag_bytes{source=\"file:/a.log\"} 10\n"));
        assert!(text.contains("anomalog_alerts_sent_total{sink=\"webhook\"} 4\n"));
        assert_eq!(m.snapshot().alerts_sent, 4);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<u64>().is_ok(), "{line}");
        }
    }
}
