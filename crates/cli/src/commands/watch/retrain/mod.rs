//! The lifecycle thread of `watch`: keeps drift points, reloads the allow-list, notices
//! a model file replaced on disk (`anomalog models rollback`), and retrains.
//!
//! A retraining ([`candidate`]) takes the window of recent traffic
//! ([`super::lifecycle`]), splits it by time into [`candidate::BLOCKS`] consecutive
//! blocks and holds out `holdout_fraction` of them, evenly spread (with 0.25, every
//! fourth block). It trains a candidate on the other blocks without the records the
//! current model flagged (those flagged in the kind of a false positive the operator
//! marked since are learned); every record of the window still goes through the
//! features' client and site windows, as it does live. Both models then score the
//! window, and are compared on the holdout ([`evaluate`]): the share flagged, the share
//! of the records the current model does not flag that the candidate flags (new alerts
//! on traffic that looked normal), the mean score, how far the holdout's scores are from
//! each model's own training scores (PSI), the share of the suspected attacks (holdout
//! records flagged live with attack tokens: SQL, script, traversal, shell, scanner) each
//! flags, and the share of the requests of incidents the operator confirmed. The
//! candidate's threshold is first raised to flag little of what the current model does
//! not flag. It is promoted ([`promote`]) only if it flags no more of the holdout than
//! the current model (within `max_alert_rate_increase`), at most `max_new_alert_rate` of
//! what the current model judges normal, detects as much of the confirmed and of the
//! suspected attacks (within `max_recall_drop`), and fits the holdout no worse. Without the attack checks,
//! a candidate that flags nothing would pass: fewer alerts is not better when they were
//! attacks. Without the check on normal-looking traffic, a candidate that stops the
//! false alarms on traffic that changed would pass while raising them on the rest.
//! Every step is logged on stderr and in the database's lifecycle log; all of it runs
//! here, while the scorer goes on with the current model.
//!
//! Why blocks and not the latest part of the window: a window is often a day or less,
//! and the models know the hour of the day. Held out at the end, the holdout falls at
//! hours the training part never saw, and every candidate looks worse for that alone.
//! Blocks keep what matters of a split by time (whole stretches of traffic, so a
//! client's requests are not shared between the two sides, except at block borders)
//! while both sides cover the same hours.

mod candidate;
mod evaluate;
mod promote;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anomalog_pipeline::{Model, TrainingSummary};
use anomalog_server::{ModelStatus, NewModel, Store};
use anyhow::{Context, Result};

use super::lifecycle::{Lifecycle, Signal};
use super::scorer::ModelSlot;
use crate::commands::models::{self, MODEL_PATH_SETTING, replace_atomically, sha256_file};

/// How often the thread wakes up without a signal.
const TICK: Duration = Duration::from_millis(250);
/// How often the model file is checked for a replacement.
const FILE_CHECK: Duration = Duration::from_secs(1);
/// Signals the scorer may queue.
const QUEUE: usize = 64;

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
        let lock = models::lock_model_file(&ctx.model_path)?;
        let id = adopt(&ctx, &ctx.model_path, "in use when watch started")?;
        drop(lock);
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
            let outcome = candidate::retrain(&ctx, why, stamp);
            ctx.lifecycle.running.store(false, Ordering::Relaxed);
            // Skipped with enough records in the window: the data is unusable, not
            // short; waiting would retry on every tick. Too few: a drift retraining waits
            // for the window to fill.
            if !matches!(outcome, Ok(Retrained::Skipped { short: true })) {
                last_retrain = Some(Instant::now());
                drift_pending = false;
            }
            if matches!(outcome, Ok(Retrained::Rejected | Retrained::Promoted(_))) {
                trained_at = Some(ctx.lifecycle.appended());
            }
            // A promotion replaced the file itself, and said how it left it. Read here
            // instead, the stamp would hide a rollback made during the retraining.
            if let Ok(Retrained::Promoted(s)) = &outcome {
                stamp = *s;
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
        }
        if last_allow.elapsed() >= Duration::from_secs(ctx.lifecycle.allowlist.reload_secs.max(1)) {
            reload_allowlist(&ctx);
            last_allow = Instant::now();
        }
        if last_file_check.elapsed() >= FILE_CHECK {
            last_file_check = Instant::now();
            let now = file_stamp(&ctx.model_path);
            if now.is_some() && now != stamp {
                stamp = model_file_changed(&ctx).or(now);
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
/// scorer; a file that does not load leaves the running model in place. Done under the
/// lock of the model file, so that a rollback is not half seen; returns the file's stamp
/// as loaded.
fn model_file_changed(ctx: &WorkerContext) -> Option<Stamp> {
    let path = &ctx.model_path;
    let _lock = match models::lock_model_file(path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("anomalog: {e:#}; the current model keeps running");
            return None;
        }
    };
    let stamp = file_stamp(path);
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
    stamp
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

/// What a retraining did.
pub(super) enum Retrained {
    /// Too little data: nothing trained. `short`: the window held fewer records than
    /// `min_records` (rather than too few usable ones).
    Skipped { short: bool },
    /// A candidate was trained and rejected (or superseded).
    Rejected,
    /// A candidate was promoted; the model file as it replaced it.
    Promoted(Option<Stamp>),
}

/// The directory of kept models under the state directory.
pub fn models_dir(state_dir: &Path) -> Result<PathBuf> {
    models::models_dir(state_dir)
}
