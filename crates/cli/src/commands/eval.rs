//! `anomalog eval`: train/test evaluation against labels, as JSON, a table and a report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anomalog_eval::report::{ReportInputs, RunSummary, TopAnomaly};
use anomalog_eval::{Evaluation, Labels, ReportData, render_report};
use anomalog_ingest::Record;
use anomalog_models::explain::Explanation;
use anomalog_pipeline::{Model, TrainingSummary};
use anyhow::{Context, Result, bail, ensure};
use clap::Args;

use crate::commands::detect::{number, request_text};
use crate::input_args::InputArgs;
use crate::model_args::ModelArgs;
use crate::progress::Progress;
use crate::records::{Loaded, load, load_into};

/// How many of the highest-scoring test records the report lists with explanations.
const TOP_ANOMALIES: usize = 25;

/// Evaluate a detector against labels: precision, recall, F1, FPR at the production
/// threshold, ROC-AUC, PR-AUC, per-category recall.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    anomalog eval shop.log --labels shop.labels --split 0.5 --report report.html\n  \
    anomalog eval --format csic2010 --train normalTrafficTraining.txt \\\n    \
    --normal normalTrafficTest.txt --anomalous anomalousTrafficTest.txt --json")]
pub struct EvalArgs {
    #[command(flatten)]
    pub data: DataArgs,

    /// Print one JSON object with the metrics on stdout instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Write a self-contained HTML report with charts.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Also save the trained model.
    #[arg(long, value_name = "MODEL")]
    pub save_model: Option<PathBuf>,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub model: ModelArgs,
}

/// Where the training and the labeled test records come from (shared by `eval` and
/// `tune`).
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Labeled test logs (with --labels), or with --split the whole log to cut in two.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// Labels of INPUT: one line per input line, `0` or `1 [category]`.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,

    /// Train on the first SHARE of INPUT's records and test on the rest.
    #[arg(long, value_name = "SHARE", conflicts_with = "train")]
    pub split: Option<f64>,

    /// Training logs (mostly normal traffic).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub train: Vec<String>,

    /// Test logs whose records are all normal.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub normal: Vec<String>,

    /// Test logs whose records are all anomalous.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub anomalous: Vec<String>,
}

/// Labeled records split into a training and a test part.
pub struct Dataset {
    /// Training records.
    pub train: Vec<Record<'static>>,
    /// What the training inputs were.
    pub train_summary: TrainingSummary,
    /// Test records, in time order.
    pub test: Vec<Record<'static>>,
    /// 1-based input line of each test record.
    pub test_lines: Vec<u64>,
    /// One label per test record.
    pub labels: Labels,
}

/// What an evaluation produced.
pub struct Outcome {
    /// The trained model.
    pub model: Model,
    /// The metrics at the model's threshold.
    pub evaluation: Evaluation,
    /// Seconds to train.
    pub train_seconds: f64,
    /// Seconds to score the test records.
    pub score_seconds: f64,
    /// Raw score of every test record.
    pub scores: Vec<f64>,
    /// The highest-scoring test records with explanations: (index, 0..1 score, category,
    /// explanation).
    pub top: Vec<(usize, f64, &'static str, Vec<Explanation>)>,
}

/// Runs `anomalog eval`.
pub fn run(args: EvalArgs) -> Result<ExitCode> {
    let data = dataset(&args.data, &args.input)?;
    let outcome = evaluate(data.train_summary.clone(), &data, &args.model)?;
    if let Some(path) = &args.save_model {
        outcome.model.save(path)?;
    }
    if let Some(path) = &args.report {
        write_report(path, "anomalog evaluation", &data, &outcome)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json(&outcome, data.train.len()))?);
    } else {
        print_table(&outcome, data.train.len());
        if let Some(path) = &args.report {
            println!("report      {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the training records and the labeled test records the options describe.
pub fn dataset(args: &DataArgs, input: &InputArgs) -> Result<Dataset> {
    if let Some(share) = args.split {
        ensure!(share > 0.0 && share < 1.0, "--split {share}: expected a share between 0 and 1");
        ensure!(!args.inputs.is_empty(), "--split needs INPUT");
        ensure!(
            args.normal.is_empty() && args.anomalous.is_empty(),
            "--split takes its test records from INPUT; drop --normal/--anomalous"
        );
        let loaded = load(&args.inputs, input, "reading")?;
        let labels = aligned_labels(args.labels.as_deref(), &loaded)?
            .context("--split needs --labels for INPUT")?;
        let cut = ((loaded.records.len() as f64) * share).round() as usize;
        ensure!(cut > 0 && cut < loaded.records.len(), "--split {share} leaves an empty part");
        let summary = summary(&loaded);
        let mut records = loaded.records;
        let test = records.split_off(cut);
        return Ok(Dataset {
            train: records,
            train_summary: summary,
            test,
            test_lines: loaded.lines[cut..].to_vec(),
            labels: labels.slice(cut..labels.len()),
        });
    }
    if args.train.is_empty() {
        bail!("give training data with --train FILE..., or --split SHARE with INPUT and --labels");
    }
    let train = load(&args.train, input, "reading training data")?;
    let mut test = Loaded::default();
    let mut labels = Labels::new();
    if !args.inputs.is_empty() {
        let loaded = load(&args.inputs, input, "reading test data")?;
        let l = aligned_labels(args.labels.as_deref(), &loaded)?
            .context("INPUT needs --labels (or label whole files with --normal/--anomalous)")?;
        for i in 0..l.len() {
            labels.push(l.is_anomalous(i), l.category(i));
        }
        test = loaded;
    }
    let before = test.records.len();
    load_into(&mut test, &args.normal, input, "reading normal test data")?;
    labels.push_repeated(test.records.len() - before, false, None);
    let before = test.records.len();
    load_into(&mut test, &args.anomalous, input, "reading anomalous test data")?;
    labels.push_repeated(test.records.len() - before, true, Some("anomalous"));
    ensure!(
        !test.records.is_empty(),
        "no test records: give INPUT with --labels, or --normal/--anomalous"
    );
    Ok(Dataset {
        train_summary: summary(&train),
        train: train.records,
        test: test.records,
        test_lines: test.lines,
        labels,
    })
}

fn summary(loaded: &Loaded) -> TrainingSummary {
    TrainingSummary {
        rejected: loaded.stats.rejected(),
        formats: loaded.formats.clone(),
        inputs: loaded.inputs.clone(),
        ..TrainingSummary::default()
    }
}

/// Labels of the records of `loaded`, read from a labels file with one line per input
/// unit (rejected lines' labels are skipped).
fn aligned_labels(path: Option<&Path>, loaded: &Loaded) -> Result<Option<Labels>> {
    let Some(path) = path else { return Ok(None) };
    let all = Labels::from_path(path)?;
    ensure!(
        all.len() as u64 == loaded.stats.units,
        "{}: {} labels, but the input has {} lines; a labels file has one line per input line",
        path.display(),
        all.len(),
        loaded.stats.units
    );
    let mut labels = Labels::new();
    for &unit in &loaded.units {
        let i = unit as usize;
        labels.push(all.is_anomalous(i), all.category(i));
    }
    Ok(Some(labels))
}

/// Trains on the training part and scores the test part.
pub fn evaluate(summary: TrainingSummary, data: &Dataset, args: &ModelArgs) -> Result<Outcome> {
    let options = args.train_options()?;
    let progress = Progress::new("training on", "records");
    progress.inc(data.train.len() as u64);
    let started = Instant::now();
    let model = Model::train(&data.train, summary, &options).context("training failed")?;
    let train_seconds = started.elapsed().as_secs_f64();
    progress.finish();

    let progress = Progress::new("scoring", "records");
    let started = Instant::now();
    let mut scorer = model.scorer();
    let mut scores = Vec::with_capacity(data.test.len());
    let mut top: Vec<(usize, f64, &'static str, Vec<Explanation>)> = Vec::new();
    let mut top_raw: Vec<f64> = Vec::new();
    for (i, record) in data.test.iter().enumerate() {
        let verdict = scorer.score(record);
        scores.push(verdict.raw);
        if i % 65_536 == 65_535 {
            progress.inc(65_536);
        }
        // Explanations only for the running top few: explaining every record costs more
        // than scoring it.
        let floor = if top_raw.len() < TOP_ANOMALIES {
            f64::NEG_INFINITY
        } else {
            top_raw.iter().copied().fold(f64::INFINITY, f64::min)
        };
        if verdict.raw > floor {
            let explanation = scorer.explain();
            let category = scorer.category(&explanation);
            if top_raw.len() == TOP_ANOMALIES
                && let Some(min) =
                    (0..top_raw.len()).min_by(|&a, &b| top_raw[a].total_cmp(&top_raw[b]))
            {
                top_raw.swap_remove(min);
                top.swap_remove(min);
            }
            top_raw.push(verdict.raw);
            top.push((i, verdict.score, category, explanation));
        }
    }
    let score_seconds = started.elapsed().as_secs_f64();
    progress.finish();
    top.sort_by(|a, b| scores[b.0].total_cmp(&scores[a.0]).then(a.0.cmp(&b.0)));
    // `evaluate` flags `score >= threshold`; the model flags `score > threshold`.
    let threshold = model.detector.threshold().next_up();
    let evaluation = anomalog_eval::metrics::evaluate(&scores, &data.labels, threshold)?;
    Ok(Outcome { model, evaluation, train_seconds, score_seconds, scores, top })
}

/// The `eval --json` object (SPEC keys, plus `best_f1`, `raw_threshold`, `confusion`).
pub fn json(outcome: &Outcome, train_records: usize) -> serde_json::Value {
    let mut v = serde_json::to_value(&outcome.evaluation).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.insert("threshold".into(), outcome.model.threshold().into());
        map.insert("raw_threshold".into(), outcome.model.detector.threshold().into());
        map.insert("detector".into(), outcome.model.detector_name.clone().into());
        map.insert("train_records".into(), train_records.into());
        map.insert("train_seconds".into(), outcome.train_seconds.into());
        let rate = outcome.scores.len() as f64 / outcome.score_seconds.max(1e-9);
        map.insert("score_records_per_second".into(), rate.into());
    }
    v
}

/// A summary table for people.
pub fn print_table(outcome: &Outcome, train_records: usize) {
    let e = &outcome.evaluation;
    let opt = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.4}"));
    println!("detector    {}", outcome.model.detector_name);
    println!("train       {train_records} records in {:.1} s", outcome.train_seconds);
    println!(
        "test        {} records ({} anomalous), scored at {:.0} records/s",
        e.records,
        e.anomalies,
        e.records as f64 / outcome.score_seconds.max(1e-9)
    );
    println!("threshold   {:.4} (0..1 score)", outcome.model.threshold());
    println!("precision   {:.4}", e.precision);
    println!("recall      {:.4}", e.recall);
    println!("f1          {:.4}", e.f1);
    println!("fpr         {:.4}", e.false_positive_rate);
    println!("roc_auc     {}", opt(e.roc_auc));
    println!("pr_auc      {}", opt(e.pr_auc));
    if let Some(b) = &e.best_f1 {
        println!("best_f1     {:.4} (at another threshold: an upper bound, not what alerts)", b.f1);
    }
    if !e.per_category.is_empty() {
        println!("recall by category:");
        for (name, c) in &e.per_category {
            println!("  {name:<22}{:>6} records  recall {:.3}", c.count, c.recall);
        }
    }
}

/// Writes the HTML report of an evaluation.
pub fn write_report(path: &Path, title: &str, data: &Dataset, outcome: &Outcome) -> Result<()> {
    let timestamps: Vec<Option<i64>> =
        data.test.iter().map(|r| r.ts.map(|t| t.unix_secs())).collect();
    let top = outcome
        .top
        .iter()
        .map(|(i, score, category, explanation)| {
            let r = &data.test[*i];
            TopAnomaly {
                line: data.test_lines[*i],
                ts: r.ts.map(|t| t.unix_secs()),
                client: r.client.as_deref().unwrap_or("-").to_string(),
                request: request_text(r),
                status: r.status,
                score: *score,
                label: Some(match data.labels.is_anomalous(*i) {
                    true => data.labels.category(*i).unwrap_or("anomalous").to_string(),
                    false => format!("normal (flagged as {category})"),
                }),
                explanation: explanation
                    .iter()
                    .map(|e| anomalog_eval::report::Contribution {
                        feature: e.feature.clone(),
                        value: number(e.value),
                        typical: number(e.typical),
                        contribution: e.contribution,
                    })
                    .collect(),
            }
        })
        .collect();
    let run = RunSummary {
        detector: outcome.model.detector_name.clone(),
        train_records: Some(data.train.len() as u64),
        train_seconds: Some(outcome.train_seconds),
        score_seconds: Some(outcome.score_seconds),
        extra: vec![
            ("features".into(), outcome.model.features.names().len().to_string()),
            ("threshold (0..1)".into(), format!("{:.4}", outcome.model.threshold())),
        ],
        ..RunSummary::default()
    };
    let inputs = ReportInputs {
        scores: &outcome.scores,
        labels: Some(&data.labels),
        timestamps: &timestamps,
        threshold: outcome.model.detector.threshold().next_up(),
    };
    let subtitle =
        format!("{} training records, {} test records", data.train.len(), data.test.len());
    let report = ReportData::from_inputs(title, &subtitle, inputs, run, top)?;
    std::fs::write(path, render_report(&report))
        .with_context(|| format!("cannot write {}", path.display()))
}
