//! The model behind the daemon: parses each line with the log format, scores it with
//! the trained pipeline, and turns flagged records into anomalies with their
//! explanation and category. Every scored line also feeds the per-minute series.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anomalog_ingest::formats::{self, FormatOptions};
use anomalog_ingest::{Format, Framing, Record};
use anomalog_pipeline::{Model, Scorer};
use anomalog_watch::incident::{Anomaly, ExplanationItem};
use anomalog_watch::{LineOutcome, LineScorer};
use anyhow::{Result, bail};

use super::store::StoreFeed;

/// Lines of a source sampled before `--format auto` settles on a format.
const DETECT_LINES: usize = 20;

/// A model loaded after a SIGHUP, waiting for the scorer to pick it up between two
/// lines. Loading happens on the signal thread, so scoring never waits for it.
#[derive(Debug, Default)]
pub struct ModelSlot {
    pending: AtomicBool,
    model: Mutex<Option<Model>>,
    /// Models swapped in since the start.
    pub reloads: AtomicU64,
    /// Reloads refused because the file could not be loaded.
    pub reload_failures: AtomicU64,
}

impl ModelSlot {
    /// Hands a freshly loaded model to the scorer (replacing one not yet taken).
    pub fn offer(&self, model: Model) {
        *self.model.lock().unwrap_or_else(|p| p.into_inner()) = Some(model);
        self.pending.store(true, Ordering::Release);
    }

    fn take(&self) -> Option<Model> {
        if !self.pending.swap(false, Ordering::Acquire) {
            return None;
        }
        self.model.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// How lines are parsed: one format for every source, or detected per source.
enum Formats {
    Fixed(Box<dyn Format>),
    Auto(HashMap<String, Detection>),
}

/// `--format auto` for one source: the format that parses most of its first lines.
#[derive(Default)]
struct Detection {
    sample: Vec<Vec<u8>>,
    format: Option<Box<dyn Format>>,
}

impl Detection {
    /// The format for the next line, re-deciding while the sample is still small.
    fn format_for(&mut self, source: &str, line: &[u8]) -> Option<&dyn Format> {
        if self.sample.len() < DETECT_LINES && !line.trim_ascii().is_empty() {
            self.sample.push(line.to_vec());
            let sample: Vec<&[u8]> = self.sample.iter().map(Vec::as_slice).collect();
            let found = formats::detect(&sample, &FormatOptions::default())
                .filter(|f| f.framing() == Framing::Line);
            let changed = match (&found, &self.format) {
                (Some(new), Some(old)) => new.name() != old.name(),
                (Some(_), None) => true,
                _ => false,
            };
            if changed {
                if let Some(f) = &found {
                    eprintln!("anomalog: {source}: format {} (detected)", f.name());
                }
                self.format = found;
            }
        }
        self.format.as_deref()
    }
}

/// Checks a `format` setting and builds it (`None` for `auto`).
pub fn parse_format(spec: &str) -> Result<Option<Box<dyn Format>>> {
    if spec.trim() == "auto" {
        return Ok(None);
    }
    let format = formats::from_spec(spec, &FormatOptions::default())?;
    if format.framing() != Framing::Line {
        bail!("format `{spec}` spans several lines per record; watch reads one line per record");
    }
    Ok(Some(format))
}

/// Implements [`LineScorer`] with a trained [`Model`].
pub struct ModelScorer {
    // The daemon holds the scorer for its whole run and a SIGHUP swaps the model inside
    // it, while `Scorer` borrows its model: each loaded model is therefore leaked once
    // (`Box::leak`) and lives until the process ends. A model is about a megabyte and a
    // reload is an operator's action, so what is kept is bounded by what they do.
    scorer: Scorer<'static>,
    formats: Formats,
    slot: Arc<ModelSlot>,
    feed: StoreFeed,
}

impl ModelScorer {
    /// A scorer over `model`, parsing with `format` (`None`: detect per source),
    /// taking reloaded models from `slot` and reporting to the store through `feed`.
    pub fn new(
        model: Model,
        format: Option<Box<dyn Format>>,
        slot: Arc<ModelSlot>,
        feed: StoreFeed,
    ) -> ModelScorer {
        let formats = match format {
            Some(f) => Formats::Fixed(f),
            None => Formats::Auto(HashMap::new()),
        };
        ModelScorer { scorer: leak(model).scorer(), formats, slot, feed }
    }

    fn swap_model(&mut self) {
        if let Some(model) = self.slot.take() {
            let model = leak(model);
            self.scorer = model.scorer();
            self.slot.reloads.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "anomalog: model reloaded: {} on {} records, threshold {:.4}",
                model.detector_name,
                model.training.records,
                model.threshold()
            );
        }
    }
}

fn leak(model: Model) -> &'static Model {
    Box::leak(Box::new(model))
}

impl LineScorer for ModelScorer {
    fn score_line(&mut self, source: &str, line: &[u8]) -> LineOutcome {
        self.swap_model();
        let format: &dyn Format = match &mut self.formats {
            Formats::Fixed(f) => &**f,
            Formats::Auto(by_source) => {
                if !by_source.contains_key(source) {
                    by_source.insert(source.to_string(), Detection::default());
                }
                match by_source.get_mut(source).and_then(|d| d.format_for(source, line)) {
                    Some(f) => f,
                    None => return LineOutcome::Rejected("unknown_format"),
                }
            }
        };
        let record = match format.parse(line) {
            Ok(r) => r,
            Err(e) => return LineOutcome::Rejected(e.reason.as_str()),
        };
        let verdict = self.scorer.score(&record);
        self.feed.count(record.status, verdict.score, verdict.flagged);
        if !verdict.flagged {
            return LineOutcome::Normal { score: verdict.score };
        }
        let explanation = self.scorer.explain();
        let category = self.scorer.category(&explanation);
        let anomaly = Anomaly {
            ts: record.ts,
            source: source.to_string(),
            line: 0,
            client: record.client.as_deref().map(str::to_string),
            category: category.to_string(),
            request: request_text(&record),
            status: record.status,
            score: verdict.score,
            explanation: explanation
                .into_iter()
                .map(|e| ExplanationItem {
                    feature: e.feature,
                    value: e.value.is_finite().then_some(e.value),
                    typical: e.typical.is_finite().then_some(e.typical),
                    contribution: e.contribution,
                })
                .collect(),
        };
        self.feed.anomaly(&anomaly);
        LineOutcome::Anomalous(Box::new(anomaly))
    }
}

/// The request as logged: `METHOD TARGET PROTOCOL`, with missing parts left out.
pub fn request_text(r: &Record<'_>) -> String {
    [r.method.as_deref(), r.target.as_deref(), r.protocol.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_text_skips_missing_parts() {
        let f = parse_format("combined").unwrap().unwrap();
        let line =
            br#"192.0.2.1 - - [02/Mar/2026:10:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 5 "-" "-""#;
        assert_eq!(request_text(&f.parse(line).unwrap()), "GET /a?b=1 HTTP/1.1");
        assert_eq!(request_text(&Record::default()), "");
    }

    #[test]
    fn multi_line_formats_are_refused() {
        assert!(parse_format("csic2010").is_err());
        assert!(parse_format("auto").unwrap().is_none());
        assert!(parse_format("nope").is_err());
    }

    #[test]
    fn detection_settles_per_source() {
        let mut d = Detection::default();
        let line = br#"192.0.2.1 - - [02/Mar/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-""#;
        assert_eq!(
            d.format_for("x", line).map(|f| f.name().to_string()).as_deref(),
            Some("combined")
        );
        assert!(Detection::default().format_for("x", b"").is_none());
    }
}
