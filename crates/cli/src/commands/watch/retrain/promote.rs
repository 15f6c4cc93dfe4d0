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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use anomalog_ingest::formats;
    use anomalog_pipeline::{TrainOptions, TrainingSummary};
    use anomalog_server::Store;

    use super::*;
    use crate::commands::watch::lifecycle::{
        AllowlistConfig, DriftAlertConfig, Lifecycle, RetrainConfig,
    };
    use crate::commands::watch::scorer::ModelSlot;

    fn model(seed: usize) -> Model {
        let format = formats::from_spec("combined", &Default::default()).expect("format");
        let lines: Vec<String> = (0..300)
            .map(|i| {
                format!(
                    "192.0.2.{} - - [02/Mar/2026:10:{:02}:{:02} +0000] \"GET /p/{} HTTP/1.1\" 200 {} \"-\" \"x\"",
                    i % 20,
                    i / 60,
                    i % 60,
                    (i * seed) % 37,
                    1000 + i % 17
                )
            })
            .collect();
        let records: Vec<_> =
            lines.iter().map(|l| format.parse(l.as_bytes()).expect("parse")).collect();
        Model::train(&records, TrainingSummary::default(), &TrainOptions::default()).expect("train")
    }

    fn context(dir: &Path) -> WorkerContext {
        let models_dir = dir.join("models");
        std::fs::create_dir_all(&models_dir).expect("models dir");
        WorkerContext {
            lifecycle: Arc::new(Lifecycle::new(
                RetrainConfig::default(),
                DriftAlertConfig::default(),
                AllowlistConfig::default(),
            )),
            store: Arc::new(Store::open(dir.join("x.db")).expect("store")),
            slot: Arc::new(ModelSlot::default()),
            model_path: dir.join("site.model"),
            geoip: None,
            models_dir,
            format: "combined".into(),
        }
    }

    fn verdict() -> Verdict {
        Verdict {
            promote: true,
            verdict: "not worse".into(),
            rates: "rates".into(),
            metrics: serde_json::json!({}),
            train_records: 300,
            train_secs: 0.1,
        }
    }

    /// Models 1 (active, in the file) and 2 (retired, kept): what a rollback goes to.
    fn history(ctx: &WorkerContext) -> std::path::PathBuf {
        let old = ctx.models_dir.join("old.model");
        model(3).save(&old).expect("save");
        model(5).save(&ctx.model_path).expect("save");
        let id = super::super::adopt(ctx, &old, "first").expect("adopt");
        assert_eq!(id, 1);
        let id = super::super::adopt(ctx, &ctx.model_path, "second").expect("adopt");
        assert_eq!(id, 2);
        ctx.lifecycle.active_model.store(2, Ordering::Relaxed);
        ctx.store.model(1).expect("model").map(|m| m.path.into()).expect("kept")
    }

    /// What `anomalog models rollback 1` does, under the lock.
    fn rollback(ctx: &WorkerContext, kept: &Path) {
        let lock = models::lock_model_file(&ctx.model_path).expect("lock");
        replace_atomically(kept, &ctx.model_path).expect("replace");
        assert!(ctx.store.activate_model(1, "rollback").expect("activate"));
        drop(lock);
    }

    fn active(ctx: &WorkerContext) -> (i64, String) {
        let m = ctx.store.active_model().expect("active").expect("one");
        (m.id, m.sha256)
    }

    #[test]
    fn a_promotion_waiting_for_a_rollback_is_not_made() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(dir.path());
        let kept = history(&ctx);
        let stamp = file_stamp(&ctx.model_path);
        // The rollback holds the lock when the promotion comes for it.
        let lock = models::lock_model_file(&ctx.model_path).expect("lock");
        let outcome = std::thread::scope(|s| {
            let promotion = s.spawn(|| conclude(&ctx, model(7), verdict(), 2, stamp));
            replace_atomically(&kept, &ctx.model_path).expect("replace");
            assert!(ctx.store.activate_model(1, "rollback").expect("activate"));
            drop(lock);
            promotion.join().expect("join").expect("conclude")
        });
        assert!(matches!(outcome, Retrained::Rejected));
        let (id, sha) = active(&ctx);
        assert_eq!(id, 1);
        assert_eq!(sha256_file(&ctx.model_path).expect("sha"), sha);
        let candidate = ctx.store.model(3).expect("model").expect("recorded");
        assert_eq!(candidate.status, ModelStatus::Rejected);
        assert!(candidate.reason.contains("model 1 was made active"), "{}", candidate.reason);
        assert_eq!(ctx.lifecycle.promoted.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_file_replaced_during_the_retraining_stops_the_promotion() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(dir.path());
        let kept = history(&ctx);
        let stamp = file_stamp(&ctx.model_path);
        // Deployed by hand: the database does not know yet, the thread will load it.
        std::fs::copy(&kept, dir.path().join("new.model")).expect("copy");
        std::fs::rename(dir.path().join("new.model"), &ctx.model_path).expect("rename");
        let outcome = conclude(&ctx, model(7), verdict(), 2, stamp).expect("conclude");
        assert!(matches!(outcome, Retrained::Rejected));
        assert_eq!(sha256_file(&ctx.model_path).unwrap(), sha256_file(&kept).unwrap());
    }

    #[test]
    fn a_rollback_after_a_promotion_is_seen_by_the_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(dir.path());
        let kept = history(&ctx);
        let stamp = file_stamp(&ctx.model_path);
        let Retrained::Promoted(after) = conclude(&ctx, model(7), verdict(), 2, stamp).unwrap()
        else {
            panic!("not promoted");
        };
        let (id, sha) = active(&ctx);
        assert_eq!(id, 3);
        assert_eq!(sha256_file(&ctx.model_path).unwrap(), sha);
        assert_eq!(after, file_stamp(&ctx.model_path));
        rollback(&ctx, &kept);
        // The thread compares the file with the stamp the promotion left: it changed, so
        // the rolled back file is loaded.
        assert_ne!(file_stamp(&ctx.model_path), after);
        let (id, sha) = active(&ctx);
        assert_eq!(id, 1);
        assert_eq!(sha256_file(&ctx.model_path).unwrap(), sha);
    }
}
