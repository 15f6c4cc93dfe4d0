//! The end of a retraining: the candidate recorded as rejected, or promoted.
//!
//! A promotion and `anomalog models rollback` both replace the model file and change
//! the active model of the database. Each does both while holding the lock of the model
//! file ([`models::lock_model_file`]), and so does the thread when it loads a file
//! replaced on disk, so the file, the database and the model the scorer takes change
//! together. A promotion also checks, under the lock, that what it was measured against
//! is still in place: the active model of the database is the one it was compared with,
//! and the file is the one the thread last loaded. Otherwise the operator (or a
//! deployment) replaced the model while the candidate trained, and that choice stands:
//! the candidate is recorded as rejected, and the thread loads the new file next.

use std::sync::atomic::Ordering;

use anomalog_pipeline::Model;
use anomalog_server::{ModelStatus, NewModel};
use anyhow::{Context, Result};

use super::{Retrained, Stamp, WorkerContext, absolute, file_stamp, log, training_json};
use crate::commands::models::{self, replace_atomically, sha256_file};

/// What the evaluation concluded.
pub struct Verdict {
    /// Whether the candidate is not worse.
    pub promote: bool,
    /// Why, in a sentence.
    pub verdict: String,
    /// The rates of both models, for the log.
    pub rates: String,
    /// What the history keeps of the evaluation.
    pub metrics: serde_json::Value,
    /// Records the candidate learned from.
    pub train_records: usize,
    /// Seconds its training took.
    pub train_secs: f64,
}

/// Records a rejected candidate (its file is not kept).
fn reject(ctx: &WorkerContext, candidate: &Model, v: &Verdict, reason: &str) -> Result<i64> {
    let id = ctx.store.insert_model(&NewModel {
        path: String::new(),
        sha256: String::new(),
        detector: candidate.detector_name.clone(),
        training: training_json(&candidate.training),
        metrics: v.metrics.clone(),
        status: ModelStatus::Rejected,
        reason: reason.to_string(),
    })?;
    ctx.lifecycle.rejected.fetch_add(1, Ordering::Relaxed);
    Ok(id)
}

/// Rejects or promotes the candidate, measured against model `current_id` with the
/// model file at `stamp`.
pub(super) fn conclude(
    ctx: &WorkerContext,
    candidate: Model,
    v: Verdict,
    current_id: i64,
    stamp: Option<Stamp>,
) -> Result<Retrained> {
    if !v.promote {
        let id = reject(ctx, &candidate, &v, &v.verdict)?;
        log(
            ctx,
            "rejected",
            Some(id),
            &format!(
                "candidate {id} rejected ({}): {}; the current model keeps running",
                v.verdict, v.rates
            ),
        );
        return Ok(Retrained::Rejected);
    }
    let tmp = ctx.models_dir.join(format!(".candidate-{}.model", std::process::id()));
    candidate.save(&tmp)?;
    let sha = sha256_file(&tmp)?;
    let lock = models::lock_model_file(&ctx.model_path)?;
    let active = ctx.store.active_model()?.map(|m| m.id);
    let on_disk = file_stamp(&ctx.model_path);
    if active != Some(current_id) || on_disk != stamp {
        drop(lock);
        let _ = std::fs::remove_file(&tmp);
        let what = match active {
            Some(a) if a != current_id => format!(
                "model {a} was made active (a rollback) while it was trained against model \
                 {current_id}"
            ),
            _ => format!("{} was replaced while it was trained", ctx.model_path.display()),
        };
        let reason = format!("not promoted: {what}; that choice stands");
        let id = reject(ctx, &candidate, &v, &reason)?;
        log(ctx, "superseded", Some(id), &format!("candidate {id} {reason} ({})", v.rates));
        return Ok(Retrained::Rejected);
    }
    let id = ctx.store.insert_model(&NewModel {
        path: String::new(),
        sha256: sha,
        detector: candidate.detector_name.clone(),
        training: training_json(&candidate.training),
        metrics: v.metrics.clone(),
        status: ModelStatus::Active,
        reason: v.verdict.clone(),
    })?;
    let kept = ctx.models_dir.join(format!("{id}.model"));
    let placed = (|| -> Result<()> {
        std::fs::rename(&tmp, &kept).with_context(|| format!("cannot keep {}", kept.display()))?;
        ctx.store.set_model_path(id, &absolute(&kept))?;
        replace_atomically(&kept, &ctx.model_path)
    })();
    if let Err(e) = placed {
        // The file did not change: neither does the active model.
        let _ = std::fs::remove_file(&tmp);
        let _ = ctx.store.activate_model(current_id, &format!("promotion of {id} failed"));
        return Err(e);
    }
    // Taken under the lock: a rollback after this changes it, and is loaded.
    let stamp = file_stamp(&ctx.model_path);
    ctx.lifecycle.active_model.store(id, Ordering::Relaxed);
    ctx.lifecycle.promoted.fetch_add(1, Ordering::Relaxed);
    ctx.slot.offer(candidate);
    drop(lock);
    log(
        ctx,
        "promoted",
        Some(id),
        &format!(
            "candidate {id} promoted ({}): {}; trained on {} records in {:.1} s, {} replaced",
            v.verdict,
            v.rates,
            v.train_records,
            v.train_secs,
            ctx.model_path.display()
        ),
    );
    Ok(Retrained::Promoted(stamp))
}
