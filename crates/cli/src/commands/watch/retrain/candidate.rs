//! One retraining: the window split into training and holdout blocks, the candidate
//! trained and calibrated, both models evaluated, and the verdict handed to
//! [`super::promote`].

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anomalog_ingest::formats::{self, FormatOptions};
use anomalog_ingest::{Format, Record, Timestamp};
use anomalog_models::DEFAULT_CONTAMINATION;
use anomalog_models::DetectorKind;
use anomalog_pipeline::{Model, TrainOptions, TrainingSummary};
use anomalog_server::{Feedback, Store};
use anyhow::{Context, Result, anyhow};

use super::evaluate::{self, Holdout};
use super::promote::{self, Verdict};
use super::{Retrained, Stamp, WorkerContext, log};
use crate::commands::watch::lifecycle::WindowLine;
use crate::commands::watch::scorer::request_text;

/// Confirmed incidents whose requests evaluate candidates, and requests of each.
const CONFIRMED_INCIDENTS: usize = 100;
const CONFIRMED_REQUESTS: usize = 50;

/// Categories named by attack tokens in the request rather than by unusual behaviour:
/// flagged in one of these, a record is most likely an attack.
const ATTACK_CATEGORIES: &[&str] = &["sqli", "xss", "traversal", "cmdi", "scanner"];

/// Blocks a window is split into for the holdout.
pub const BLOCKS: usize = 20;

/// The block of record `k` of `n`.
fn block_of(k: usize, n: usize) -> usize {
    k * BLOCKS / n.max(1)
}

/// Whether block `b` is held out: `fraction` of the blocks, evenly spread, the last
/// one included.
fn held_out(b: usize, fraction: f64) -> bool {
    ((b + 1) as f64 * fraction).floor() > (b as f64 * fraction).floor()
}

fn recall_text(r: Option<f64>) -> String {
    r.map_or("n/a".to_string(), |r| format!("{:.0}%", r * 100.0))
}

/// The share of training-like traffic the model in use is meant to flag: the budget
/// recorded with it in the history (a promoted candidate's threshold is an explicit
/// score, calibrated on its holdout), or what its own threshold rule amounts to.
fn budget(ctx: &WorkerContext, current: &Model) -> f64 {
    let id = ctx.lifecycle.active_model.load(Ordering::Relaxed);
    let recorded = ctx.store.model(id).ok().flatten().and_then(|m| m.metrics["budget"].as_f64());
    recorded
        .or_else(|| current.detector.calibration().contamination(current.detector.rule()).ok())
        .filter(|b| (0.0..1.0).contains(b))
        .unwrap_or(DEFAULT_CONTAMINATION)
}

/// Trains a candidate on the window and promotes it if it is not worse; `stamp` is the
/// model file as the thread last knew it.
pub(super) fn retrain(ctx: &WorkerContext, why: &str, stamp: Option<Stamp>) -> Result<Retrained> {
    let c = &ctx.lifecycle.retrain;
    let current = ctx.lifecycle.current().ok_or_else(|| anyhow!("no model is scoring yet"))?;
    // The model the candidate is measured against; promotion checks it is still active.
    let current_id = ctx.lifecycle.active_model.load(Ordering::Relaxed);
    let window = ctx.lifecycle.window_snapshot();
    let flagged = window.iter().filter(|l| l.flagged).count();
    log(
        ctx,
        "retrain",
        None,
        &format!(
            "retraining ({why}): {} records in the window, {flagged} of them flagged and left out",
            window.len()
        ),
    );
    if window.len() < c.min_records {
        ctx.lifecycle.skipped.fetch_add(1, Ordering::Relaxed);
        log(
            ctx,
            "retrain_skipped",
            None,
            &format!(
                "retraining skipped: too little data, {} records in the window and {} needed \
             ([retrain] min_records); retrying once the window holds enough",
                window.len(),
                c.min_records
            ),
        );
        return Ok(Retrained::Skipped { short: true });
    }
    let format = window_format(&ctx.format, &window)?;
    // Each record, whether it is learned from, its role, and whether it is a suspected
    // attack (flagged in a category named by attack tokens).
    let mut records: Vec<Record<'_>> = Vec::with_capacity(window.len());
    let mut left_out: Vec<bool> = Vec::with_capacity(window.len());
    let mut suspect: Vec<bool> = Vec::with_capacity(window.len());
    let mut relabeled = 0;
    for l in &window {
        if let Ok(r) = format.parse(&l.line) {
            // Flagged before the operator marked its kind a false positive: normal.
            let fp = l.flagged
                && l.category.is_some_and(|c| ctx.lifecycle.allowed(c, &request_text(&r)));
            relabeled += usize::from(fp);
            suspect.push(l.flagged && l.category.is_some_and(|c| ATTACK_CATEGORIES.contains(&c)));
            left_out.push(l.flagged && !fp);
            records.push(r);
        }
    }
    if relabeled > 0 {
        log(
            ctx,
            "retrain",
            None,
            &format!(
                "{relabeled} flagged records match false positives marked since: learned as normal"
            ),
        );
    }
    let fraction = c.holdout_fraction.clamp(0.05, 0.9);
    let held: Vec<bool> =
        (0..records.len()).map(|k| held_out(block_of(k, records.len()), fraction)).collect();
    let learn: Vec<bool> = held.iter().zip(&left_out).map(|(h, out)| !h && !out).collect();
    let train_records = learn.iter().filter(|l| **l).count();
    let holdout_records = held.iter().filter(|h| **h).count();
    let needed =
        ((c.min_records as f64) * (1.0 - c.holdout_fraction.clamp(0.05, 0.9)) / 2.0) as usize;
    if train_records < needed.max(1) || holdout_records == 0 {
        ctx.lifecycle.skipped.fetch_add(1, Ordering::Relaxed);
        log(
            ctx,
            "retrain_skipped",
            None,
            &format!(
                "retraining skipped: too little data, {train_records} normal records to train on \
             (at least {needed} needed) and {holdout_records} to evaluate on"
            ),
        );
        return Ok(Retrained::Skipped { short: false });
    }
    let budget = budget(ctx, current);
    let kind: DetectorKind = current.detector_name.parse().unwrap_or(DetectorKind::Ensemble);
    let options = TrainOptions {
        detector: kind.default_params(),
        threshold: anomalog_models::ThresholdRule::Contamination(budget),
        features: current.features.config().clone(),
        seed: c.seed,
    };
    let summary = TrainingSummary {
        formats: vec![format.name().to_string()],
        inputs: vec!["watch window".to_string()],
        ..TrainingSummary::default()
    };
    let started = Instant::now();
    // Every record of the window goes through the features' client and site windows,
    // as it does live; the flagged and held-out ones are not learned from.
    let mut candidate = Model::train_within(&records, Some(&learn), summary, &options)
        .context("training the candidate")?;
    if let Some(db) = &ctx.geoip
        && candidate.features.uses_geoip()
    {
        candidate.features.attach_geoip(db).context("GeoIP for the candidate")?;
    }
    let train_secs = started.elapsed().as_secs_f64();
    let h = Holdout { records: &records, held: &held, suspect: &suspect };
    let current_scores = evaluate::score_window(current, &h);
    let current_flags = evaluate::flags(current, &current_scores);
    let candidate_scores = evaluate::score_window(&candidate, &h);
    let trained_threshold = candidate.detector.threshold();
    let target = evaluate::calibration_target(budget, c);
    let threshold = evaluate::calibrated_threshold(
        trained_threshold,
        &candidate_scores,
        &current_flags,
        &h,
        target,
    );
    evaluate::apply_threshold(&mut candidate, threshold)?;
    let candidate_flags = evaluate::flags(&candidate, &candidate_scores);
    let confirmed = confirmed_examples(&ctx.store)?;
    let before = evaluate::evaluate(
        current,
        &current_scores,
        &current_flags,
        &current_flags,
        &h,
        &confirmed,
    );
    let after = evaluate::evaluate(
        &candidate,
        &candidate_scores,
        &candidate_flags,
        &current_flags,
        &h,
        &confirmed,
    );
    let (promote, verdict) = evaluate::decide(c, &before, &after);
    let calibration = if threshold > trained_threshold {
        format!(
            "threshold raised from score {:.4} to {:.4} so that it flags at most {:.2}% of the \
             held-out records the current model does not flag",
            candidate.detector.calibration().probability(trained_threshold),
            candidate.detector.calibration().probability(threshold),
            target * 100.0
        )
    } else {
        format!(
            "its training threshold (score {:.4}) flags at most {:.2}% of the held-out \
             records the current model does not flag",
            candidate.detector.calibration().probability(threshold),
            target * 100.0
        )
    };
    let metrics = serde_json::json!({
        "trigger": why,
        "train_records": train_records,
        "train_seconds": train_secs,
        "excluded_flagged": flagged,
        "current_model": current_id,
        "budget": budget,
        "threshold": {
            "trained_score": candidate.detector.calibration().probability(trained_threshold),
            "score": candidate.detector.calibration().probability(threshold),
            "quiet_target": target,
        },
        "current": before,
        "candidate": after,
        "verdict": verdict,
    });
    let rates = format!(
        "holdout alert rate {:.2}% -> {:.2}%, on the {} held-out records the current model does \
         not flag 0% -> {:.2}%, score PSI {:.2} -> {:.2}, recall on confirmed {} -> {}, on \
         suspected attacks {} -> {}; {calibration}",
        before.alert_rate * 100.0,
        after.alert_rate * 100.0,
        after.quiet_records,
        after.quiet_alert_rate * 100.0,
        before.score_psi,
        after.score_psi,
        recall_text(before.recall),
        recall_text(after.recall),
        recall_text(before.suspected_recall),
        recall_text(after.suspected_recall)
    );
    let verdict = Verdict { promote, verdict, rates, metrics, train_records, train_secs };
    promote::conclude(ctx, candidate, verdict, current_id, stamp)
}

/// The format to parse the window with: the configured one, or the one that parses
/// most of the window's first lines.
fn window_format(spec: &str, window: &[WindowLine]) -> Result<Box<dyn Format>> {
    if spec.trim() != "auto" {
        return Ok(formats::from_spec(spec, &FormatOptions::default())?);
    }
    let sample: Vec<&[u8]> = window.iter().take(50).map(|l| &*l.line).collect();
    formats::detect(&sample, &FormatOptions::default())
        .ok_or_else(|| anyhow!("cannot tell the format of the window's lines"))
}

/// The requests of the incidents the operator confirmed, as records (what the store
/// keeps of them: client, time, request line, status), one list per incident in time
/// order so that client windows see them together.
fn confirmed_examples(store: &Store) -> Result<Vec<Vec<Record<'static>>>> {
    let mut out = Vec::new();
    for id in store.incidents_with_feedback(Feedback::Confirmed, CONFIRMED_INCIDENTS)? {
        let records: Vec<Record<'static>> = store
            .incident_anomalies(&id, CONFIRMED_REQUESTS)?
            .into_iter()
            .map(|a| {
                let mut parts = a.request.splitn(3, ' ').map(|p| Cow::Owned(p.to_string()));
                Record {
                    ts: a.ts.as_deref().and_then(|t| Timestamp::parse_iso8601(t.as_bytes())),
                    client: a.client.map(Cow::Owned),
                    method: parts.next(),
                    target: parts.next(),
                    protocol: parts.next(),
                    status: a.status,
                    ..Record::default()
                }
            })
            .collect();
        if !records.is_empty() {
            out.push(records);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_blocks_are_spread_over_the_window() {
        let held: Vec<usize> = (0..BLOCKS).filter(|&b| held_out(b, 0.25)).collect();
        assert_eq!(held, vec![3, 7, 11, 15, 19]);
        assert_eq!((0..BLOCKS).filter(|&b| held_out(b, 0.5)).count(), 10);
        assert_eq!(block_of(0, 1000), 0);
        assert_eq!(block_of(999, 1000), BLOCKS - 1);
        assert_eq!(block_of(0, 0), 0);
    }
}
