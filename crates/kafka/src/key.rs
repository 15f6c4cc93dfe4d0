//! Stable identities of alert events, the same in every process.
//!
//! An incident's id already names it across processes: the daemon derives it from the
//! record that opened the incident (`anomalog_watch::incident::incident_id`: client,
//! category, source `kafka:TOPIC/PARTITION`, line, logged time), which every process
//! that reads that record agrees on. [`event_key`] adds what the event says, so a
//! repeated event has a repeated key and can be suppressed ([`crate::dedup`]); the Kafka
//! sink's message key is the incident id, so a compacted topic keeps an incident's
//! latest event.

use anomalog_watch::incident::{EventKind, IncidentEvent};

/// The identity of one alert: the incident id and the event (`opened`, `closed`, or
/// `updated` with the count and severity it reports).
pub fn event_key(event: &IncidentEvent) -> String {
    let id = &event.incident.id;
    match event.event {
        EventKind::Opened => format!("{id}-opened"),
        EventKind::Closed => format!("{id}-closed"),
        EventKind::Updated => {
            format!("{id}-updated-{}-{}", event.incident.count, event.incident.severity.as_str())
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use anomalog_watch::incident::{Incident, Sample, Severity, stable_hash};

    use super::*;

    /// An event of the incident opened by line `line` of `source`, processed at
    /// `first_seen`; like the daemon's, its id follows the opening record.
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
                id: stable_hash(&[source.as_bytes(), &line.to_le_bytes()]),
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
    fn keys_ignore_processing_time_and_follow_the_opening_record() {
        let a = event(EventKind::Opened, "kafka:logs/3", 101, 1_000);
        let b = event(EventKind::Opened, "kafka:logs/3", 101, 9_999);
        assert_eq!(event_key(&a), event_key(&b));
        let other = event(EventKind::Opened, "kafka:logs/3", 102, 1_000);
        assert_ne!(event_key(&a), event_key(&other));
        let closed = event(EventKind::Closed, "kafka:logs/3", 101, 1_000);
        assert_ne!(event_key(&a), event_key(&closed));
        let mut updated = a.clone();
        updated.event = EventKind::Updated;
        let mut grown = updated.clone();
        grown.incident.count = 2;
        assert_ne!(event_key(&updated), event_key(&grown));
    }
}
