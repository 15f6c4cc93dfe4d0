//! Where alerts go: stdout, a JSONL file, a JSON webhook, Slack, Alertmanager.
//!
//! A [`Sink`] delivers one [`IncidentEvent`] and says whether a failure is worth a
//! retry. Sinks do not queue, retry or rate-limit themselves: each sink is fed by a
//! delivery thread reading its durable [`crate::outbox::Outbox`], which does that for
//! all of them. A new sink is a new file here plus one arm in [`SinkSpec`].

pub mod alertmanager;
mod http;
pub mod jsonl;
pub mod slack;
pub mod stdout;
pub mod webhook;

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{SinkError, WatchError};
use crate::incident::IncidentEvent;

/// An alert receiver.
pub trait Sink: Send {
    /// A short name for metrics and messages (`webhook`, `slack`).
    fn name(&self) -> &str;

    /// Delivers one event. [`SinkError::Retryable`] failures are retried with backoff;
    /// [`SinkError::Permanent`] ones drop the event.
    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError>;

    /// Most events [`Sink::deliver_batch`] takes at once. The default, 1, has the
    /// outbox deliver one event at a time; a sink whose receiver takes several in one
    /// write (a database transaction) says how many.
    fn batch_limit(&self) -> usize {
        1
    }

    /// Delivers up to [`Sink::batch_limit`] events, in order. A failure applies to the
    /// whole batch: it is retried (or dropped) as one, so a sink that overrides this
    /// writes all of the events or none of them.
    fn deliver_batch(&mut self, events: &[IncidentEvent]) -> Result<(), SinkError> {
        for event in events {
            self.deliver(event)?;
        }
        Ok(())
    }
}

/// A boxed sink is a sink, so wrappers (deduplication, id rewriting) take either.
impl<S: Sink + ?Sized> Sink for Box<S> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn deliver(&mut self, event: &IncidentEvent) -> Result<(), SinkError> {
        (**self).deliver(event)
    }

    fn batch_limit(&self) -> usize {
        (**self).batch_limit()
    }

    fn deliver_batch(&mut self, events: &[IncidentEvent]) -> Result<(), SinkError> {
        (**self).deliver_batch(events)
    }
}

/// A sink as written on the command line (`--alert`) or in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// `stdout`: one JSON event per line.
    Stdout,
    /// `jsonl:FILE`: one JSON event per line, appended to FILE.
    Jsonl(PathBuf),
    /// `webhook:URL`: POST of the event JSON.
    Webhook(String),
    /// `slack:URL`: POST of `{"text": summary}` to a Slack-compatible webhook.
    Slack(String),
    /// `alertmanager:URL`: POST of alerts to `URL/api/v2/alerts`.
    Alertmanager(String),
}

impl SinkSpec {
    /// Parses `stdout`, `jsonl:FILE`, `webhook:URL`, `slack:URL`, `alertmanager:URL`.
    pub fn parse(spec: &str) -> Result<SinkSpec, WatchError> {
        let spec = spec.trim();
        if spec == "stdout" || spec == "-" {
            return Ok(SinkSpec::Stdout);
        }
        let (kind, target) = spec.split_once(':').ok_or_else(|| {
            WatchError::Config(format!(
                "alert `{spec}`: expected stdout, jsonl:FILE, webhook:URL, slack:URL or alertmanager:URL"
            ))
        })?;
        if target.is_empty() {
            return Err(WatchError::Config(format!("alert `{spec}`: empty target")));
        }
        let url = |t: &str| -> Result<String, WatchError> {
            if t.starts_with("http://") {
                Ok(t.to_string())
            } else if t.starts_with("https://") {
                Err(WatchError::Config(format!(
                    "alert `{spec}`: https is not supported by this build; use http:// (for \
                     example through a local relay)"
                )))
            } else {
                Err(WatchError::Config(format!("alert `{spec}`: the URL must start with http://")))
            }
        };
        match kind {
            "jsonl" => Ok(SinkSpec::Jsonl(PathBuf::from(target))),
            "webhook" => Ok(SinkSpec::Webhook(url(target)?)),
            "slack" => Ok(SinkSpec::Slack(url(target)?)),
            "alertmanager" => Ok(SinkSpec::Alertmanager(url(target)?)),
            _ => Err(WatchError::Config(format!("alert `{spec}`: unknown kind `{kind}`"))),
        }
    }

    /// The kind (`webhook`).
    pub fn kind(&self) -> &'static str {
        match self {
            SinkSpec::Stdout => "stdout",
            SinkSpec::Jsonl(_) => "jsonl",
            SinkSpec::Webhook(_) => "webhook",
            SinkSpec::Slack(_) => "slack",
            SinkSpec::Alertmanager(_) => "alertmanager",
        }
    }

    /// A stable name made of the kind and target, safe as a directory name: the key of
    /// the sink's outbox, so a restart with the same spec finds its queue again.
    pub fn key(&self) -> String {
        let target = match self {
            SinkSpec::Stdout => String::new(),
            SinkSpec::Jsonl(p) => p.to_string_lossy().into_owned(),
            SinkSpec::Webhook(u) | SinkSpec::Slack(u) | SinkSpec::Alertmanager(u) => u.clone(),
        };
        let readable: String = target
            .trim_start_matches("http://")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
            .take(48)
            .collect();
        // The parts of the first release's hash, so that an upgrade finds its outboxes.
        let hash = crate::incident::stable_hash(&[b"", target.as_bytes(), &0i64.to_le_bytes()]);
        if readable.is_empty() {
            self.kind().to_string()
        } else {
            format!("{}-{readable}-{}", self.kind(), &hash[..8])
        }
    }

    /// Builds the sink; HTTP sinks give up on one attempt after `timeout`.
    pub fn build(&self, timeout: Duration) -> Result<Box<dyn Sink>, WatchError> {
        Ok(match self {
            SinkSpec::Stdout => Box::new(stdout::StdoutSink::new()),
            SinkSpec::Jsonl(path) => Box::new(jsonl::JsonlSink::open(path)?),
            SinkSpec::Webhook(url) => Box::new(webhook::WebhookSink::new(url, timeout)),
            SinkSpec::Slack(url) => Box::new(slack::SlackSink::new(url, timeout)),
            SinkSpec::Alertmanager(url) => {
                Box::new(alertmanager::AlertmanagerSink::new(url, timeout))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_keys_are_those_of_earlier_releases() {
        // An outbox left by an earlier release is found under the same name.
        let spec = SinkSpec::parse("webhook:http://127.0.0.1:8080/hook").unwrap();
        assert_eq!(spec.key(), "webhook-127.0.0.1_8080_hook-f247d0cd");
    }

    #[test]
    fn specs_parse() {
        assert_eq!(SinkSpec::parse("stdout").unwrap(), SinkSpec::Stdout);
        assert_eq!(
            SinkSpec::parse("jsonl:/tmp/a.jsonl").unwrap(),
            SinkSpec::Jsonl("/tmp/a.jsonl".into())
        );
        assert_eq!(
            SinkSpec::parse("webhook:http://127.0.0.1:8080/hook").unwrap(),
            SinkSpec::Webhook("http://127.0.0.1:8080/hook".into())
        );
        assert_eq!(
            SinkSpec::parse("alertmanager:http://127.0.0.1:9093").unwrap(),
            SinkSpec::Alertmanager("http://127.0.0.1:9093".into())
        );
        assert!(SinkSpec::parse("slack:https://hooks.example/x").is_err());
        assert!(SinkSpec::parse("pager:x").is_err());
        assert!(SinkSpec::parse("webhook:").is_err());
        let key = SinkSpec::parse("webhook:http://127.0.0.1:8080/hook").unwrap().key();
        assert!(key.starts_with("webhook-127.0.0.1_8080_hook-"), "{key}");
        assert_eq!(SinkSpec::Stdout.key(), "stdout");
    }
}
