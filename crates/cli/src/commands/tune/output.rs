//! The ranking for people (a table) and for programs (one JSON object).

use std::path::Path;

use anomalog_eval::Evaluation;
use anomalog_eval::report::{TunePage, TuneTrial, render_tune_report};
use serde_json::{Value, json};

use super::grid::Candidate;
use super::search::{Outcome, Split, Trial, join};

/// What the report needs besides the outcome.
pub struct Context<'a> {
    /// The candidates the trials refer to.
    pub candidates: &'a [Candidate],
    /// Window settings, by index.
    pub windows: &'a [Vec<u32>],
    /// The validation/held-out split.
    pub split: &'a Split,
    /// Share of the test part used for validation.
    pub share: f64,
    /// Whether the split was per class rather than in time order.
    pub by_class: bool,
    /// Training records.
    pub train_records: usize,
    /// Whether the candidates are a random sample of the grid.
    pub sampled: bool,
    /// Seed of the fits and of the sample.
    pub seed: u64,
    /// Where the best model was written.
    pub model_path: Option<&'a Path>,
}

/// Trials ranked: PR-AUC, then ROC-AUC, higher first; failures last; ties keep grid order.
pub fn ranked(outcome: &Outcome) -> Vec<&Trial> {
    let mut trials: Vec<&Trial> = outcome.trials.iter().collect();
    trials.sort_by(|a, b| {
        let (ka, kb) = (a.key(), b.key());
        kb.0.total_cmp(&ka.0).then(kb.1.total_cmp(&ka.1)).then(a.candidate.cmp(&b.candidate))
    });
    trials
}

/// What was searched, for people.
fn searched(cx: &Context<'_>) -> &'static str {
    if cx.sampled { "random sample of the grid" } else { "full grid" }
}

/// A candidate for people: `hbos bins=20, windows 10,60,600`.
fn describe(cx: &Context<'_>, candidate: usize) -> String {
    let c = &cx.candidates[candidate];
    format!("{} {}, windows {}", c.kind.name(), c.text, join(&cx.windows[c.windows]))
}

fn metric(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), |v| format!("{v:.4}"))
}

/// Prints the ranked table and the winner's held-out metrics.
pub fn print_table(outcome: &Outcome, cx: &Context<'_>) {
    println!(
        "{:>4}  {:<11}  {:<26}  {:<11}  {:>7}  {:>7}  {:>6}  {:>6}",
        "rank", "detector", "params", "windows", "PR-AUC", "ROC-AUC", "F1", "fit s"
    );
    for (rank, trial) in ranked(outcome).into_iter().enumerate() {
        let c = &cx.candidates[trial.candidate];
        let windows = join(&cx.windows[c.windows]);
        let head = format!("{:<11}  {:<26}  {:<11}", c.kind.name(), c.text, windows);
        match &trial.result {
            Ok(e) => println!(
                "{:>4}  {head}  {:>7}  {:>7}  {:>6.4}  {:>6.1}",
                rank + 1,
                metric(e.pr_auc),
                metric(e.roc_auc),
                e.f1,
                trial.fit_seconds
            ),
            Err(err) => println!("{:>4}  {head}  failed: {err}", "-"),
        }
    }
    println!();
    let v = &cx.split.validation_labels;
    let h = &cx.split.held_out_labels;
    let how = match cx.by_class {
        true => "of each class",
        false => "in time order",
    };
    println!(
        "searched    {} candidates ({}) in {:.1} s, seed {}",
        outcome.trials.len(),
        searched(cx),
        outcome.seconds,
        cx.seed
    );
    println!("train       {} records", cx.train_records);
    println!(
        "validation  {} records ({} anomalous): first {:.0}% of the test part {how}",
        v.len(),
        v.anomalies(),
        cx.share * 100.0
    );
    println!("held-out    {} records ({} anomalous)", h.len(), h.anomalies());
    for f in &outcome.features {
        println!(
            "features    windows {}: {} columns in {:.1} s (shared by every detector)",
            join(&f.windows),
            f.columns,
            f.seconds
        );
    }
    let Some(best) = &outcome.best else {
        println!("best        none: every candidate failed");
        return;
    };
    println!("best        {}", describe(cx, best.candidate));
    match &best.held_out {
        Some(e) => println!(
            "held-out    pr_auc {}  roc_auc {}  precision {:.4}  recall {:.4}  f1 {:.4}  fpr {:.4} \
             (threshold {:.4})",
            metric(e.pr_auc),
            metric(e.roc_auc),
            e.precision,
            e.recall,
            e.f1,
            e.false_positive_rate,
            best.model.threshold()
        ),
        None => println!("held-out    empty: no metrics"),
    }
    if let Some(path) = cx.model_path {
        println!("model       {}", path.display());
    }
}

/// The ranking as a self-contained HTML page with charts.
pub fn report(outcome: &Outcome, cx: &Context<'_>) -> String {
    let trials = ranked(outcome)
        .into_iter()
        .map(|t| {
            let label = describe(cx, t.candidate);
            let ok = t.result.as_ref().ok();
            TuneTrial {
                label,
                pr_auc: ok.and_then(|e| e.pr_auc),
                roc_auc: ok.and_then(|e| e.roc_auc),
                f1: ok.map(|e| e.f1),
                fit_seconds: t.fit_seconds,
                error: t.result.as_ref().err().cloned(),
            }
        })
        .collect();
    let v = &cx.split.validation_labels;
    let h = &cx.split.held_out_labels;
    let mut summary = vec![
        (
            "Search".to_owned(),
            format!(
                "{} candidates ({}), seed {}, {:.1} s",
                outcome.trials.len(),
                searched(cx),
                cx.seed,
                outcome.seconds
            ),
        ),
        ("Training records".to_owned(), cx.train_records.to_string()),
        ("Validation".to_owned(), format!("{} records ({} anomalous)", v.len(), v.anomalies())),
        ("Held out".to_owned(), format!("{} records ({} anomalous)", h.len(), h.anomalies())),
    ];
    if let Some(best) = &outcome.best {
        summary.push(("Best".to_owned(), describe(cx, best.candidate)));
        summary.push(("Threshold".to_owned(), format!("{:.4}", best.model.threshold())));
    }
    if let Some(path) = cx.model_path {
        summary.push(("Model".to_owned(), path.display().to_string()));
    }
    render_tune_report(&TunePage {
        title: "anomalog tune".to_owned(),
        subtitle: format!("{} candidates ranked by validation PR-AUC", outcome.trials.len()),
        trials,
        held_out: outcome.best.as_ref().and_then(|b| b.held_out.clone()),
        summary,
    })
}

/// Validation metrics of one trial as JSON.
fn trial_json(rank: Option<usize>, trial: &Trial, cx: &Context<'_>) -> Value {
    let c = &cx.candidates[trial.candidate];
    let mut v = json!({
        "rank": rank,
        "detector": c.kind.name(),
        "params": c.text,
        "detector_params": serde_json::to_value(&c.params).unwrap_or(Value::Null),
        "windows": cx.windows[c.windows],
        "fit_seconds": trial.fit_seconds,
        "threshold": trial.threshold,
    });
    if let Some(map) = v.as_object_mut() {
        match &trial.result {
            Ok(e) => {
                map.insert("pr_auc".into(), e.pr_auc.into());
                map.insert("roc_auc".into(), e.roc_auc.into());
                map.insert("f1".into(), e.f1.into());
                map.insert("precision".into(), e.precision.into());
                map.insert("recall".into(), e.recall.into());
                map.insert("false_positive_rate".into(), e.false_positive_rate.into());
                map.insert("error".into(), Value::Null);
            }
            Err(err) => {
                map.insert("error".into(), err.clone().into());
            }
        }
    }
    v
}

fn evaluation_json(e: &Evaluation) -> Value {
    serde_json::to_value(e).unwrap_or(Value::Null)
}

/// The whole outcome as one JSON object (see the command's help for the keys).
pub fn json(outcome: &Outcome, cx: &Context<'_>) -> Value {
    let candidates: Vec<Value> = ranked(outcome)
        .into_iter()
        .enumerate()
        .map(|(rank, t)| trial_json(t.result.is_ok().then_some(rank + 1), t, cx))
        .collect();
    let best = outcome.best.as_ref().map(|best| {
        let c = &cx.candidates[best.candidate];
        let validation = outcome
            .trials
            .iter()
            .find(|t| t.candidate == best.candidate)
            .and_then(|t| t.result.as_ref().ok())
            .map_or(Value::Null, evaluation_json);
        let mut held_out = best.held_out.as_ref().map_or(Value::Null, evaluation_json);
        if let Some(map) = held_out.as_object_mut() {
            // The 0..1 threshold, as in `eval --json`; the raw one stays as `raw_threshold`.
            map.insert("threshold".into(), best.model.threshold().into());
            map.insert("raw_threshold".into(), best.model.detector.threshold().into());
        }
        json!({
            "detector": c.kind.name(),
            "params": c.text,
            "detector_params": serde_json::to_value(&c.params).unwrap_or(Value::Null),
            "windows": cx.windows[c.windows],
            "validation": validation,
            "held_out": held_out,
        })
    });
    let features: Vec<Value> = outcome
        .features
        .iter()
        .map(|f| json!({"windows": f.windows, "columns": f.columns, "seconds": f.seconds}))
        .collect();
    let v = &cx.split.validation_labels;
    let h = &cx.split.held_out_labels;
    json!({
        "search": if cx.sampled { "random" } else { "grid" },
        "seed": cx.seed,
        "seconds": outcome.seconds,
        "train_records": cx.train_records,
        "validation": {
            "records": v.len(),
            "anomalies": v.anomalies(),
            "share": cx.share,
            "split": if cx.by_class { "per_class" } else { "time" },
        },
        "held_out": {"records": h.len(), "anomalies": h.anomalies()},
        "features": features,
        "candidates": candidates,
        "best": best,
        "model": cx.model_path.map(|p| p.display().to_string()),
    })
}
