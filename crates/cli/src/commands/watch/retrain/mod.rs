//! The lifecycle thread of `watch`: keeps drift points, reloads the allow-list, notices
//! a model file replaced on disk (`anomalog models rollback`), and retrains.
//!
//! A retraining takes the window of recent traffic ([`super::lifecycle`]), splits it by
//! time into [`BLOCKS`] consecutive blocks and holds out `holdout_fraction` of them,
//! evenly spread (with 0.25, every fourth block), trains a candidate on the other blocks
//! without the records the current model flagged (those flagged in the kind of a false
//! positive the operator marked since are learned), and scores the holdout with both
//! models: the share flagged, the mean score, how far the holdout's scores are from each
//! model's own training scores (PSI), and the share of the suspected attacks (holdout
//! records flagged live with attack tokens: SQL, script, traversal, shell, scanner) each
//! flags. The requests of incidents the operator confirmed are scored too, and the
//! share each model flags is its recall on known attacks. The candidate is promoted only
//! if it flags no more of the holdout than the current model (within
//! `max_alert_rate_increase`), detects as much of the confirmed and of the suspected
//! attacks (within `max_recall_drop`), and fits the holdout no worse. Without the
//! attack checks, a candidate that flags nothing would pass: fewer alerts is not better
//! when they were attacks. Every step is logged on stderr and in the database's lifecycle log; all of
//! it runs here, while the scorer goes on with the current model.
//!
//! Why blocks and not the latest part of the window: a window is often a day or less,
//! and the models know the hour of the day. Held out at the end, the holdout falls at
//! hours the training part never saw, and every candidate looks worse for that alone.
//! Blocks keep what matters of a split by time (whole stretches of traffic, so a
//! client's requests are not shared between the two sides, except at block borders)
//! while both sides cover the same hours.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anomalog_ingest::formats::{self, FormatOptions};
use anomalog_ingest::{Format, Record, Timestamp};
use anomalog_models::DetectorKind;
use anomalog_pipeline::drift::{DEFAULT_PSI_THRESHOLD, DriftMonitor, DriftOptions};
use anomalog_pipeline::{Model, TrainOptions, TrainingSummary};
use anomalog_server::{Feedback, ModelStatus, NewModel, Store};
use anyhow::{Context, Result, anyhow};
use serde::Serialize;

use super::lifecycle::{Lifecycle, Signal, WindowLine};
use super::scorer::{ModelSlot, request_text};
use crate::commands::models::{self, MODEL_PATH_SETTING, replace_atomically, sha256_file};

/// How often the thread wakes up without a signal.
const TICK: Duration = Duration::from_millis(250);
/// How often the model file is checked for a replacement.
const FILE_CHECK: Duration = Duration::from_secs(1);
/// Signals the scorer may queue.
const QUEUE: usize = 64;
/// Confirmed incidents whose requests evaluate candidates, and requests of each.
const CONFIRMED_INCIDENTS: usize = 100;
const CONFIRMED_REQUESTS: usize = 50;

/// What the lifecycle thread works with.
pub struct WorkerContext {
    /// Shared with the scorer.
    pub lifecycle: Arc<Lifecycle>,
    /// The database (model history, lifecycle log, allow-list, drift points).
    pub store: Arc<Store>,
    /// Where promoted and reloaded models go to the scorer.
    pub slot: Arc<ModelSlot>,
    /// The model file `watch` scores with.
    pub model_path: PathBuf,
    /// GeoIP database for models that need one.
    pub geoip: Option<PathBuf>,
    /// Where model files are kept.
    pub models_dir: PathBuf,
    /// The `format` setting, to parse the window again.
    pub format: String,
}

/// The running lifecycle thread.
pub struct Worker {
    thread: JoinHandle<()>,
    lifecycle: Arc<Lifecycle>,
}

impl Worker {
    /// Records the model in use (adopting it into the history when it is new), loads
    /// the allow-list and starts the thread.
    pub fn start(ctx: WorkerContext) -> Result<Worker> {
        let id = adopt(&ctx, &ctx.model_path, "in use when watch started")?;
        ctx.lifecycle.active_model.store(id, Ordering::Relaxed);
        ctx.store.set_setting(MODEL_PATH_SETTING, &absolute(&ctx.model_path))?;
        reload_allowlist(&ctx);
        let (tx, rx): (SyncSender<Signal>, Receiver<Signal>) = sync_channel(QUEUE);
        ctx.lifecycle.connect(tx);
        let lifecycle = Arc::clone(&ctx.lifecycle);
        let thread = std::thread::Builder::new()
            .name("anomalog-lifecycle".into())
            .spawn(move || run(ctx, rx))
            .context("cannot start the lifecycle thread")?;
        Ok(Worker { thread, lifecycle })
    }

    /// Stops the thread (a retraining in progress finishes first).
    pub fn stop(self) {
        self.lifecycle.disconnect();
        if self.thread.join().is_err() {
            eprintln!("anomalog: the lifecycle thread stopped abnormally");
        }
    }
}

fn run(ctx: WorkerContext, rx: Receiver<Signal>) {
    let c = ctx.lifecycle.retrain.clone();
    let started = Instant::now();
    let mut last_retrain: Option<Instant> = None;
    let mut last_allow = Instant::now();
    let mut last_file_check = Instant::now();
    let mut stamp = file_stamp(&ctx.model_path);
    // A drift alert that found too little data in the window waits for enough.
    let mut drift_pending = false;
    // Records appended to the window when the last candidate was trained: the next one
    // waits for half the minimum in new traffic, not to learn the same data again.
    let mut trained_at: Option<u64> = None;
    let fresh_needed = (c.min_records as u64 / 2).max(1);
    loop {
        let mut trigger = None;
        match rx.recv_timeout(TICK) {
            Ok(Signal::Drift(point)) => {
                if let Err(e) = ctx.store.add_drift_point(&point) {
                    eprintln!("anomalog: cannot store the drift point: {e}");
                }
            }
            Ok(Signal::DriftAlert) if c.enabled && c.on_drift => {
                trigger = Some("drift");
                drift_pending = true;
            }
            Ok(Signal::DriftAlert) => {}
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let fresh = trained_at.map(|at| ctx.lifecycle.appended().saturating_sub(at));
        let stale = fresh.is_some_and(|f| f < fresh_needed);
        let cooling =
            last_retrain.is_some_and(|t| t.elapsed() < Duration::from_secs(c.cooldown_secs));
        // Said once, when the alert comes; the retraining then waits (pending).
        if trigger.is_some() && (stale || cooling) {
            trigger = None;
            ctx.lifecycle.skipped.fetch_add(1, Ordering::Relaxed);
            let why = if stale {
                format!(
                    "{} records since the last candidate, {fresh_needed} needed",
                    fresh.unwrap_or(0)
                )
            } else {
                format!(
                    "the last one was less than {} s ago ([retrain] cooldown_secs)",
                    c.cooldown_secs
                )
            };
            log(&ctx, "retrain_skipped", None, &format!("retraining (drift) waits: {why}"));
        }
        let ready = !stale && !cooling;
        if trigger.is_none()
            && ready
            && drift_pending
            && ctx.lifecycle.window_len() >= c.min_records
        {
            trigger = Some("drift");
        }
        let since = last_retrain.map_or(started.elapsed(), |t| t.elapsed());
        if trigger.is_none()
            && ready
            && c.enabled
            && c.interval_secs > 0
            && since >= Duration::from_secs(c.interval_secs)
        {
            trigger = Some("schedule");
        }
        if let Some(why) = trigger {
            ctx.lifecycle.running.store(true, Ordering::Relaxed);
            let outcome = retrain(&ctx, why);
            ctx.lifecycle.running.store(false, Ordering::Relaxed);
            // Skipped with a full enough window: the data is unusable, not short;
            // waiting would retry on every tick.
            let full = ctx.lifecycle.window_len() >= c.min_records;
            if full || !matches!(outcome, Ok(Retrained::Skipped)) {
                last_retrain = Some(Instant::now());
                drift_pending = false;
            }
            if matches!(outcome, Ok(Retrained::Evaluated)) {
                trained_at = Some(ctx.lifecycle.appended());
            }
            if let Err(e) = outcome {
                ctx.lifecycle.failed.fetch_add(1, Ordering::Relaxed);
                log(
                    &ctx,
                    "retrain_failed",
                    None,
                    &format!("retraining ({why}) failed: {e:#}; the current model keeps running"),
                );
            }
            // A promotion replaced the file itself.
            stamp = file_stamp(&ctx.model_path);
        }
        if last_allow.elapsed() >= Duration::from_secs(ctx.lifecycle.allowlist.reload_secs.max(1)) {
            reload_allowlist(&ctx);
            last_allow = Instant::now();
        }
        if last_file_check.elapsed() >= FILE_CHECK {
            last_file_check = Instant::now();
            let now = file_stamp(&ctx.model_path);
            if now.is_some() && now != stamp {
                stamp = now;
                model_file_changed(&ctx);
            }
        }
    }
}

/// Logs a lifecycle step on stderr and in the database.
fn log(ctx: &WorkerContext, kind: &str, model_id: Option<i64>, message: &str) {
    eprintln!("anomalog: {message}");
    if let Err(e) = ctx.store.log_event(kind, model_id, message) {
        eprintln!("anomalog: cannot log the lifecycle step: {e}");
    }
}

fn reload_allowlist(ctx: &WorkerContext) {
    match ctx.store.allow_patterns() {
        Ok(patterns) => {
            let before = ctx.lifecycle.allow_pattern_count();
            if patterns.len() != before {
                eprintln!(
                    "anomalog: allow-list: {} patterns from false positives marked by the operator",
                    patterns.len()
                );
            }
            ctx.lifecycle.set_allow_patterns(patterns);
        }
        Err(e) => eprintln!("anomalog: cannot load the allow-list: {e}"),
    }
}

/// Size, modification time and inode: what changes when a file is replaced.
type Stamp = (u64, Option<SystemTime>, u64);

fn file_stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let ino = 0;
    Some((meta.len(), meta.modified().ok(), ino))
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}

/// The model file was replaced (a rollback, or by hand): load it and hand it to the
/// scorer; a file that does not load leaves the running model in place.
fn model_file_changed(ctx: &WorkerContext) {
    let path = &ctx.model_path;
    match Model::load_with_geoip(path, ctx.geoip.as_deref()) {
        Ok(model) => match adopt(ctx, path, "replaced on disk") {
            Ok(id) => {
                ctx.lifecycle.active_model.store(id, Ordering::Relaxed);
                ctx.slot.offer(model);
                log(
                    ctx,
                    "reloaded",
                    Some(id),
                    &format!(
                        "{} changed on disk: model {id} scores from the next line",
                        path.display()
                    ),
                );
            }
            Err(e) => eprintln!("anomalog: cannot record the replaced model: {e:#}"),
        },
        Err(e) => {
            ctx.slot.reload_failures.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "anomalog: {} changed but does not load: {e}; the current model keeps running",
                path.display()
            );
        }
    }
}

/// The history id of the model in `path`: the recorded model with its SHA-256 (made
/// active), or a new active record with a kept copy.
fn adopt(ctx: &WorkerContext, path: &Path, reason: &str) -> Result<i64> {
    let sha = sha256_file(path)?;
    let known =
        ctx.store.models(10_000)?.into_iter().find(|m| m.sha256 == sha && !m.path.is_empty());
    if let Some(m) = known {
        if m.status != ModelStatus::Active {
            ctx.store.activate_model(m.id, reason)?;
        }
        return Ok(m.id);
    }
    let model = Model::load(path).with_context(|| format!("cannot load {}", path.display()))?;
    let id = ctx.store.insert_model(&NewModel {
        path: String::new(),
        sha256: sha,
        detector: model.detector_name.clone(),
        training: training_json(&model.training),
        metrics: serde_json::json!({}),
        status: ModelStatus::Active,
        reason: format!("{reason} ({})", path.display()),
    })?;
    let kept = ctx.models_dir.join(format!("{id}.model"));
    replace_atomically(path, &kept)?;
    ctx.store.set_model_path(id, &absolute(&kept))?;
    Ok(id)
}

fn training_json(t: &TrainingSummary) -> serde_json::Value {
    serde_json::json!({
        "records": t.records,
        "rejected": t.rejected,
        "first_ts": t.first_ts,
        "last_ts": t.last_ts,
        "span_seconds": t.span_seconds,
        "formats": t.formats,
        "inputs": t.inputs,
    })
}

/// How one model does on the holdout and on the confirmed attacks.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Holdout records scored.
    pub holdout_records: usize,
    /// Share of them flagged.
    pub alert_rate: f64,
    /// Their mean score (0..1).
    pub mean_score: f64,
    /// PSI of their scores against the model's own training scores.
    pub score_psi: f64,
    /// Requests of confirmed incidents scored.
    pub confirmed_requests: usize,
    /// Share of them flagged (`None` without confirmed incidents).
    pub recall: Option<f64>,
    /// Holdout records flagged live in a category named by attack tokens (SQL, script,
    /// traversal, shell, scanner): the attacks the model in use found.
    pub suspected_attacks: usize,
    /// Share of them flagged (`None` without any).
    pub suspected_recall: Option<f64>,
}

/// Categories named by attack tokens in the request rather than by unusual behaviour:
/// flagged in one of these, a record is most likely an attack.
const ATTACK_CATEGORIES: &[&str] = &["sqli", "xss", "traversal", "cmdi", "scanner"];

/// What a retraining did.
enum Retrained {
    /// Too little data: nothing trained.
    Skipped,
    /// A candidate was trained and evaluated.
    Evaluated,
}

fn retrain(ctx: &WorkerContext, why: &str) -> Result<Retrained> {
    let c = &ctx.lifecycle.retrain;
    let current = ctx.lifecycle.current().ok_or_else(|| anyhow!("no model is scoring yet"))?;
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
        return Ok(Retrained::Skipped);
    }
    let format = window_format(&ctx.format, &window)?;
    // Each record, whether it is left out of training, and whether it is a suspected
    // attack: flagged in a category named by attack tokens.
    let mut parsed: Vec<(Record<'_>, bool, bool)> = Vec::with_capacity(window.len());
    let mut relabeled = 0;
    for l in &window {
        if let Ok(r) = format.parse(&l.line) {
            // Flagged before the operator marked its kind a false positive: normal.
            let fp = l.flagged
                && l.category.is_some_and(|c| ctx.lifecycle.allowed(c, &request_text(&r)));
            relabeled += usize::from(fp);
            let suspect = l.flagged && l.category.is_some_and(|c| ATTACK_CATEGORIES.contains(&c));
            parsed.push((r, l.flagged && !fp, suspect));
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
    let holdout_fraction = c.holdout_fraction.clamp(0.05, 0.9);
    let (mut train, mut holdout) = (Vec::new(), Vec::new());
    let mut suspects = Vec::new();
    for (k, (record, flagged, suspect)) in parsed.iter().enumerate() {
        if held_out(block_of(k, parsed.len()), holdout_fraction) {
            holdout.push(record.clone());
            suspects.push(*suspect);
        } else if !flagged {
            train.push(record.clone());
        }
    }
    let needed = ((c.min_records as f64) * (1.0 - holdout_fraction) / 2.0) as usize;
    if train.len() < needed.max(1) || holdout.is_empty() {
        ctx.lifecycle.skipped.fetch_add(1, Ordering::Relaxed);
        log(
            ctx,
            "retrain_skipped",
            None,
            &format!(
                "retraining skipped: too little data, {} normal records to train on (at least \
             {needed} needed) and {} to evaluate on",
                train.len(),
                holdout.len()
            ),
        );
        return Ok(Retrained::Skipped);
    }
    let kind: DetectorKind = current.detector_name.parse().unwrap_or(DetectorKind::Ensemble);
    let options = TrainOptions {
        detector: kind.default_params(),
        threshold: current.detector.rule(),
        features: current.features.config().clone(),
        seed: c.seed,
    };
    let summary = TrainingSummary {
        formats: vec![format.name().to_string()],
        inputs: vec!["watch window".to_string()],
        ..TrainingSummary::default()
    };
    let started = Instant::now();
    let mut candidate =
        Model::train(&train, summary, &options).context("training the candidate")?;
    if let Some(db) = &ctx.geoip
        && candidate.features.uses_geoip()
    {
        candidate.features.attach_geoip(db).context("GeoIP for the candidate")?;
    }
    let train_secs = started.elapsed().as_secs_f64();
    let confirmed = confirmed_examples(&ctx.store)?;
    let before = evaluate(current, &holdout, &suspects, &confirmed);
    let after = evaluate(&candidate, &holdout, &suspects, &confirmed);
    let (promote, verdict) = decide(c, &before, &after);
    let metrics = serde_json::json!({
        "trigger": why,
        "train_records": train.len(),
        "train_seconds": train_secs,
        "excluded_flagged": flagged,
        "current_model": ctx.lifecycle.active_model.load(Ordering::Relaxed),
        "current": before,
        "candidate": after,
        "verdict": verdict,
    });
    let rates = format!(
        "holdout alert rate {:.2}% -> {:.2}%, score PSI {:.2} -> {:.2}, recall on confirmed {} -> {}, \
         on suspected attacks {} -> {}",
        before.alert_rate * 100.0,
        after.alert_rate * 100.0,
        before.score_psi,
        after.score_psi,
        recall_text(before.recall),
        recall_text(after.recall),
        recall_text(before.suspected_recall),
        recall_text(after.suspected_recall)
    );
    if !promote {
        let id = ctx.store.insert_model(&NewModel {
            path: String::new(),
            sha256: String::new(),
            detector: candidate.detector_name.clone(),
            training: training_json(&candidate.training),
            metrics,
            status: ModelStatus::Rejected,
            reason: verdict.clone(),
        })?;
        ctx.lifecycle.rejected.fetch_add(1, Ordering::Relaxed);
        log(
            ctx,
            "rejected",
            Some(id),
            &format!(
                "candidate {id} rejected ({verdict}): {rates}; the current model keeps running"
            ),
        );
        return Ok(Retrained::Evaluated);
    }
    let tmp = ctx.models_dir.join(format!(".candidate-{}.model", std::process::id()));
    candidate.save(&tmp)?;
    let sha = sha256_file(&tmp)?;
    let id = ctx.store.insert_model(&NewModel {
        path: String::new(),
        sha256: sha,
        detector: candidate.detector_name.clone(),
        training: training_json(&candidate.training),
        metrics,
        status: ModelStatus::Active,
        reason: verdict.clone(),
    })?;
    let kept = ctx.models_dir.join(format!("{id}.model"));
    std::fs::rename(&tmp, &kept).with_context(|| format!("cannot keep {}", kept.display()))?;
    ctx.store.set_model_path(id, &absolute(&kept))?;
    replace_atomically(&kept, &ctx.model_path)?;
    ctx.lifecycle.active_model.store(id, Ordering::Relaxed);
    ctx.lifecycle.promoted.fetch_add(1, Ordering::Relaxed);
    ctx.slot.offer(candidate);
    log(
        ctx,
        "promoted",
        Some(id),
        &format!(
            "candidate {id} promoted ({verdict}): {rates}; trained on {} records in {train_secs:.1} s, \
         {} replaced",
            train.len(),
            ctx.model_path.display()
        ),
    );
    Ok(Retrained::Evaluated)
}

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

/// Whether the candidate is not worse, and why.
fn decide(
    c: &super::lifecycle::RetrainConfig,
    cur: &Evaluation,
    cand: &Evaluation,
) -> (bool, String) {
    let mut problems = Vec::new();
    if cand.alert_rate > cur.alert_rate + c.max_alert_rate_increase {
        problems.push(format!(
            "it flags more of the holdout ({:.2}% against {:.2}%)",
            cand.alert_rate * 100.0,
            cur.alert_rate * 100.0
        ));
    }
    if let (Some(a), Some(b)) = (cand.recall, cur.recall)
        && a < b - c.max_recall_drop
    {
        problems.push(format!(
            "it detects less of the confirmed attacks ({:.0}% against {:.0}%)",
            a * 100.0,
            b * 100.0
        ));
    }
    if let (Some(a), Some(b)) = (cand.suspected_recall, cur.suspected_recall)
        && a < b - c.max_recall_drop
    {
        problems.push(format!(
            "it detects less of the attacks the current model found in the holdout ({:.0}% \
             against {:.0}%)",
            a * 100.0,
            b * 100.0
        ));
    }
    if cand.score_psi > cur.score_psi.max(DEFAULT_PSI_THRESHOLD) {
        problems.push(format!(
            "its scores on the holdout drift from its training scores (PSI {:.2})",
            cand.score_psi
        ));
    }
    if problems.is_empty() {
        (true, "not worse than the current model on the holdout and on known attacks".into())
    } else {
        (false, format!("worse than the current model: {}", problems.join("; ")))
    }
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

fn evaluate(
    model: &Model,
    holdout: &[Record<'_>],
    suspects: &[bool],
    confirmed: &[Vec<Record<'_>>],
) -> Evaluation {
    let options = DriftOptions { min_records: 1, ..DriftOptions::default() };
    let mut monitor = DriftMonitor::new(model, options).ok();
    let mut scorer = model.scorer();
    let (mut flagged, mut sum, mut suspects_flagged) = (0usize, 0.0, 0usize);
    for (r, suspect) in holdout.iter().zip(suspects.iter().chain(std::iter::repeat(&false))) {
        let s = scorer.score(r);
        flagged += usize::from(s.flagged);
        suspects_flagged += usize::from(s.flagged && *suspect);
        sum += s.score;
        if let Some(m) = monitor.as_mut() {
            m.observe_scored(&scorer, &s);
        }
    }
    let n = holdout.len().max(1) as f64;
    let n_suspects = suspects.iter().filter(|s| **s).count();
    let (mut hits, mut total) = (0usize, 0usize);
    for incident in confirmed {
        let mut scorer = model.scorer();
        for r in incident {
            hits += usize::from(scorer.score(r).flagged);
            total += 1;
        }
    }
    Evaluation {
        holdout_records: holdout.len(),
        alert_rate: flagged as f64 / n,
        mean_score: sum / n,
        score_psi: monitor.map_or(f64::NAN, |m| m.report().score_psi),
        confirmed_requests: total,
        recall: (total > 0).then(|| hits as f64 / total as f64),
        suspected_attacks: n_suspects,
        suspected_recall: (n_suspects > 0).then(|| suspects_flagged as f64 / n_suspects as f64),
    }
}

/// The directory of kept models under the state directory.
pub fn models_dir(state_dir: &Path) -> Result<PathBuf> {
    models::models_dir(state_dir)
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

    #[test]
    fn a_candidate_is_promoted_only_when_not_worse() {
        let c = super::super::lifecycle::RetrainConfig::default();
        let eval = |alert_rate, recall, score_psi| Evaluation {
            holdout_records: 1000,
            alert_rate,
            mean_score: 0.5,
            score_psi,
            confirmed_requests: 10,
            recall,
            suspected_attacks: 0,
            suspected_recall: None,
        };
        let current = eval(0.05, Some(0.9), 0.4);
        assert!(decide(&c, &current, &eval(0.01, Some(0.9), 0.02)).0);
        assert!(decide(&c, &current, &eval(0.01, None, 0.02)).0);
        let (ok, why) = decide(&c, &current, &eval(0.06, Some(0.9), 0.02));
        assert!(!ok && why.contains("flags more"), "{why}");
        let (ok, why) = decide(&c, &current, &eval(0.01, Some(0.5), 0.02));
        assert!(!ok && why.contains("confirmed attacks"), "{why}");
        let (ok, why) = decide(&c, &current, &eval(0.01, Some(0.9), 0.9));
        assert!(!ok && why.contains("drift"), "{why}");
        let found = Evaluation { suspected_attacks: 20, suspected_recall: Some(1.0), ..current };
        let silent = Evaluation {
            suspected_attacks: 20,
            suspected_recall: Some(0.0),
            ..eval(0.0, None, 0.02)
        };
        let (ok, why) = decide(&c, &found, &silent);
        assert!(!ok && why.contains("attacks the current model found"), "{why}");
    }
}
