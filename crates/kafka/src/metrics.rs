//! Counters and per-partition lag of a Kafka source, in the Prometheus text format.
//!
//! The daemon's `/metrics` renders its own counters; a process with Kafka sources
//! appends [`KafkaMetrics::render_prometheus`] of each source to that text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Offsets of one assigned partition. Lag counts records not yet committed, that is
/// records whose alerts are not known to be durable: what a crash would re-read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartitionLag {
    /// The offset after the last record in the partition (from librdkafka statistics).
    pub high_watermark: Option<i64>,
    /// The oldest retained offset (from statistics).
    pub low_watermark: Option<i64>,
    /// The group's committed offset: the next record whose effects are not durable.
    pub committed: Option<i64>,
    /// The offset after the last record handed to the daemon.
    pub position: Option<i64>,
}

impl PartitionLag {
    /// Records between the committed offset (or, before the first commit, the oldest
    /// retained record) and the end of the partition; `None` until the end is known.
    pub fn lag(&self) -> Option<u64> {
        let high = self.high_watermark?;
        let from = self.committed.or(self.low_watermark)?;
        Some(u64::try_from(high - from).unwrap_or(0))
    }
}

/// Counters of one Kafka source, shared (behind an `Arc`) with whatever serves them.
#[derive(Debug, Default)]
pub struct KafkaMetrics {
    topic: String,
    group: String,
    /// Records received.
    pub records: AtomicU64,
    /// Lines handed to the daemon.
    pub lines: AtomicU64,
    /// Offset commits sent.
    pub commits: AtomicU64,
    /// Offset commits that failed outright (they are sent again).
    pub commit_failures: AtomicU64,
    /// Offset commits sent again because the group had not confirmed them in time
    /// (injected or real broker errors, an unreachable coordinator).
    pub commit_retries: AtomicU64,
    /// Rebalances seen (assignments and revocations).
    pub rebalances: AtomicU64,
    /// Partitions revoked from this member.
    pub partitions_revoked: AtomicU64,
    /// Fetched records dropped unread because their partition was revoked first (the
    /// new owner reads them).
    pub discarded: AtomicU64,
    /// Errors reported by the consumer (broker down, fetch errors) and survived.
    pub errors: AtomicU64,
    partitions: Mutex<BTreeMap<i32, PartitionLag>>,
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl KafkaMetrics {
    /// Counters for the source reading `topic` in `group`.
    pub fn new(topic: &str, group: &str) -> KafkaMetrics {
        KafkaMetrics { topic: topic.to_string(), group: group.to_string(), ..Default::default() }
    }

    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<i32, PartitionLag>) -> R) -> R {
        f(&mut self.partitions.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Records that a partition was assigned (the source calls it).
    pub fn assign(&self, partition: i32) {
        self.with(|m| {
            m.entry(partition).or_default();
        });
    }

    /// Records that a partition was revoked: it is no longer reported.
    pub fn revoke(&self, partition: i32) {
        self.with(|m| m.remove(&partition));
    }

    /// Updates the offsets of one partition, if assigned.
    pub fn update(&self, partition: i32, f: impl FnOnce(&mut PartitionLag)) {
        self.with(|m| m.get_mut(&partition).map(f));
    }

    /// The assigned partitions and their offsets.
    pub fn partitions(&self) -> BTreeMap<i32, PartitionLag> {
        self.with(|m| m.clone())
    }

    /// Lag summed over the assigned partitions whose lag is known.
    pub fn total_lag(&self) -> u64 {
        self.with(|m| m.values().filter_map(PartitionLag::lag).sum())
    }

    /// The counters and the per-partition lag in the Prometheus text exposition
    /// format (version 0.0.4), labelled with topic and group (and partition).
    pub fn render_prometheus(&self) -> String {
        let base = format!("topic=\"{}\",group=\"{}\"", escape(&self.topic), escape(&self.group));
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 9] = [
            ("records_total", "Records received.", &self.records),
            ("lines_total", "Lines handed to the scorer.", &self.lines),
            ("commits_total", "Offset commits sent.", &self.commits),
            ("commit_failures_total", "Offset commits that failed.", &self.commit_failures),
            ("commit_retries_total", "Offset commits sent again.", &self.commit_retries),
            ("rebalances_total", "Rebalances seen.", &self.rebalances),
            ("partitions_revoked_total", "Partitions revoked.", &self.partitions_revoked),
            (
                "discarded_total",
                "Fetched records left to a partition's new owner.",
                &self.discarded,
            ),
            ("errors_total", "Consumer errors survived.", &self.errors),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP anomalog_kafka_{name} {help}\n# TYPE anomalog_kafka_{name} counter\n\
                 anomalog_kafka_{name}{{{base}}} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let parts = self.partitions();
        let _ = writeln!(
            out,
            "# HELP anomalog_kafka_assigned_partitions Partitions this member owns now.\n\
             # TYPE anomalog_kafka_assigned_partitions gauge\n\
             anomalog_kafka_assigned_partitions{{{base}}} {}",
            parts.len()
        );
        type Get = fn(&PartitionLag) -> Option<i64>;
        let gauges: [(&str, &str, Get); 3] = [
            (
                "partition_lag",
                "Records not yet committed (alerts not known durable), per partition.",
                |p| p.lag().map(|l| i64::try_from(l).unwrap_or(i64::MAX)),
            ),
            ("partition_committed_offset", "Committed offset, per partition.", |p| p.committed),
            ("partition_high_watermark", "End offset, per partition.", |p| p.high_watermark),
        ];
        for (name, help, get) in gauges {
            let _ = writeln!(
                out,
                "# HELP anomalog_kafka_{name} {help}\n# TYPE anomalog_kafka_{name} gauge"
            );
            for (partition, p) in &parts {
                if let Some(v) = get(p) {
                    let _ = writeln!(
                        out,
                        "anomalog_kafka_{name}{{{base},partition=\"{partition}\"}} {v}"
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_uncommitted_records() {
        let m = KafkaMetrics::new("logs", "g");
        m.assign(0);
        m.assign(1);
        m.update(0, |p| {
            p.high_watermark = Some(100);
            p.low_watermark = Some(0);
        });
        assert_eq!(m.partitions()[&0].lag(), Some(100));
        m.update(0, |p| p.committed = Some(90));
        m.update(1, |p| p.committed = Some(5));
        assert_eq!(m.partitions()[&0].lag(), Some(10));
        assert_eq!(m.partitions()[&1].lag(), None);
        assert_eq!(m.total_lag(), 10);
        m.records.fetch_add(7, Ordering::Relaxed);
        let text = m.render_prometheus();
        assert!(text.contains("anomalog_kafka_records_total{topic=\"logs\",group=\"g\"} 7\n"));
        assert!(text.contains(
            "anomalog_kafka_partition_lag{topic=\"logs\",group=\"g\",partition=\"0\"} 10\n"
        ));
        assert!(!text.contains("partition_lag{topic=\"logs\",group=\"g\",partition=\"1\"}"));
        assert!(
            text.contains("anomalog_kafka_assigned_partitions{topic=\"logs\",group=\"g\"} 2\n")
        );
        m.revoke(0);
        assert_eq!(m.total_lag(), 0);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.rsplit(' ').next().unwrap().parse::<i64>().is_ok(), "{line}");
        }
    }
}
