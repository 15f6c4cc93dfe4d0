//! Alerts produced to a Kafka topic, one JSON [`IncidentEvent`] per record.
//!
//! The record key is the incident's id, which follows the record that opened it: all
//! events of one incident land in one partition, in order, and a compacted topic keeps
//! the latest state of each incident. The producer is idempotent (no duplicates from
//! its own retries); a delivery waits for the broker's acknowledgement (`acks=all`) up
//! to the configured timeout and otherwise fails as retryable, so the outbox keeps the
//! event and tries again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anomalog_watch::incident::IncidentEvent;
use anomalog_watch::sink::Sink;
use anomalog_watch::{SinkError, WatchError};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use crate::spec::KafkaSinkConfig;

/// Holds the outcome of the one record in flight.
#[derive(Default)]
struct DeliveryContext {
    outcome: Mutex<Option<Result<(), String>>>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let outcome = result.as_ref().map(|_| ()).map_err(|(e, _)| e.to_string());
        *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
    }
}

/// Produces each event to a topic; see the module documentation.
pub struct KafkaSink {
    producer: BaseProducer<DeliveryContext>,
    topic: String,
    timeout: Duration,
}

impl KafkaSink {
    /// Creates the producer (brokers are connected to in the background).
    pub fn new(config: &KafkaSinkConfig) -> Result<KafkaSink, WatchError> {
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &config.brokers)
            .set("client.id", &config.client_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("message.timeout.ms", config.timeout_ms.to_string());
        for (name, value) in &config.rdkafka {
            client.set(name, value);
        }
        let producer = client.create_with_context(DeliveryContext::default()).map_err(|e| {
            WatchError::Config(format!("kafka://{}/{}: {e}", config.brokers, config.topic))
        })?;
        Ok(KafkaSink {
            producer,
            topic: config.topic.clone(),
            timeout: Duration::from_millis(config.timeout_ms),
        })
    }

    fn outcome(&self) -> Option<Result<(), String>> {
        self.producer.context().outcome.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl Sink for KafkaSink {
    fn name(&self) -> &str {
        "kafka"
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        let payload = serde_json::to_vec(event).map_err(|e| SinkError::Permanent(e.to_string()))?;
        let key = &event.incident.id;
        let kind = serde_json::to_value(event.event)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let headers = OwnedHeaders::new().insert(Header { key: "event", value: Some(&kind) });
        let _ = self.outcome();
        let record = BaseRecord::to(&self.topic).key(key).payload(&payload).headers(headers);
        if let Err((e, _)) = self.producer.send(record) {
            return Err(SinkError::Retryable(format!("kafka {}: {e}", self.topic)));
        }
        // librdkafka fails the record itself after message.timeout.ms; the extra second
        // only guards against a report that never comes.
        let deadline = Instant::now() + self.timeout + Duration::from_secs(1);
        loop {
            self.producer.poll(Duration::from_millis(20));
            match self.outcome() {
                Some(Ok(())) => return Ok(()),
                Some(Err(e)) => {
                    return Err(SinkError::Retryable(format!("kafka {}: {e}", self.topic)));
                }
                // A record acknowledged after this retry gives a second copy with the
                // same key, which a compacted topic (or any reader keyed on it) folds.
                None if Instant::now() >= deadline => {
                    return Err(SinkError::Retryable(format!(
                        "kafka {}: no acknowledgement within {:?}",
                        self.topic, self.timeout
                    )));
                }
                None => {}
            }
        }
    }
}
