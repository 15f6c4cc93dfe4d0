//! Stable identities of incidents and of alert events, the same in every process.
//!
//! [`incident_key`] names an incident by the record that opened it (its source,
//! `kafka:TOPIC/PARTITION`, and its line, the record's offset plus one), which every
//! process that reads that record agrees on; the daemon's own incident id is derived
//! from the same record (`anomalog_watch::incident::incident_id`). [`event_key`] adds
//! what the event says, so a repeated event has a repeated key and can be suppressed
//! ([`crate::dedup`]) or compacted (the Kafka sink's message key).

use anomalog_watch::SinkError;
use anomalog_watch::incident::{EventKind, Incident, IncidentEvent};
use anomalog_watch::sink::Sink;

/// FNV-1a (64 bits) of the parts, each followed by a separator byte.
pub(crate) fn fnv64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The incident's identity across processes: a hash of client, category and the
/// source and line of its first sample (the record that opened it), in hex. An incident
/// without samples (`max_samples = 0`) falls back to its own id.
pub fn incident_key(incident: &Incident) -> String {
    let Some(first) = incident.samples.first() else {
        return incident.id.clone();
    };
    let h = fnv64(&[
        incident.client.as_deref().unwrap_or("").as_bytes(),
        incident.category.as_bytes(),
        first.source.as_bytes(),
        &first.line.to_le_bytes(),
    ]);
    format!("{h:016x}")
}

/// The identity of one alert: the incident key and the event (`opened`, `closed`, or
/// `updated` with the count and severity it reports).
pub fn event_key(event: &IncidentEvent) -> String {
    let key = incident_key(&event.incident);
    match event.event {
        EventKind::Opened => format!("{key}-opened"),
        EventKind::Closed => format!("{key}-closed"),
        EventKind::Updated => {
            format!("{key}-updated-{}-{}", event.incident.count, event.incident.severity.as_str())
        }
    }
}

/// A sink that hands on every event with the incident's id replaced by its
/// [`incident_key`]: the id then names the same incident in every process, so a
/// shared store upserts one row for it and receivers see one id from its opening to
/// its closing, whichever process sent each event.
pub struct StableIds<S> {
    inner: S,
}

impl<S: Sink> StableIds<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> StableIds<S> {
        StableIds { inner }
    }
}

impl<S: Sink> Sink for StableIds<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        let key = incident_key(&event.incident);
        if key == event.incident.id {
            return self.inner.deliver(event);
        }
        let mut event = event.clone();
        event.incident.id = key;
        self.inner.deliver(&event)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use anomalog_watch::incident::{Sample, Severity};

    use super::*;

    pub(crate) fn event(
        kind: EventKind,
        source: &str,
        line: u64,
        first_seen: i64,
    ) -> IncidentEvent {
        IncidentEvent {
            event: kind,
            at: first_seen,
            incident: Incident {
                id: format!("{first_seen:016x}"),
                client: Some("203.0.113.7".into()),
                category: "sqli".into(),
                severity: Severity::High,
                first_seen,
                last_seen: first_seen,
                count: 1,
                max_score: 0.95,
                samples: vec![Sample {
                    ts: None,
                    request: "GET /?id=1'".into(),
                    status: Some(500),
                    score: 0.95,
                    source: source.into(),
                    line,
                }],
                explanation: vec![],
            },
        }
    }

    #[test]
    fn stable_ids_follow_the_opening_record() {
        struct Ids(Vec<String>);
        impl Sink for Ids {
            fn name(&self) -> &str {
                "ids"
            }
            fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
                self.0.push(event.incident.id.clone());
                Ok(())
            }
        }
        let mut sink = StableIds::new(Ids(Vec::new()));
        sink.deliver(&event(EventKind::Opened, "kafka:logs/3", 101, 1_000)).unwrap();
        sink.deliver(&event(EventKind::Closed, "kafka:logs/3", 101, 9_000)).unwrap();
        let ids = &sink.inner.0;
        assert_eq!(ids[0], ids[1]);
        assert_eq!(
            ids[0],
            incident_key(&event(EventKind::Opened, "kafka:logs/3", 101, 5).incident)
        );
    }

    #[test]
    fn keys_ignore_processing_time_and_follow_the_opening_record() {
        let a = event(EventKind::Opened, "kafka:logs/3", 101, 1_000);
        let b = event(EventKind::Opened, "kafka:logs/3", 101, 9_999);
        assert_ne!(a.incident.id, b.incident.id);
        assert_eq!(incident_key(&a.incident), incident_key(&b.incident));
        assert_eq!(event_key(&a), event_key(&b));
        let other = event(EventKind::Opened, "kafka:logs/3", 102, 1_000);
        assert_ne!(event_key(&a), event_key(&other));
        let closed = event(EventKind::Closed, "kafka:logs/3", 101, 1_000);
        assert_ne!(event_key(&a), event_key(&closed));
        let mut no_samples = a.clone();
        no_samples.incident.samples.clear();
        assert_eq!(incident_key(&no_samples.incident), no_samples.incident.id);
    }
}
