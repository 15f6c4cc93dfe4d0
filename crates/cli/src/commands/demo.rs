//! `anomalog demo`: the one-command tour on simulated traffic.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anomalog_eval::SimConfig;
use anyhow::{Context, Result};
use clap::{Args, Parser};

use crate::commands::eval::{self, DataArgs, EvalArgs};
use crate::commands::simulate;
use crate::input_args::InputArgs;
use crate::model_args::ModelArgs;

/// Simulate a labeled day of web-shop traffic, train on the first half, detect and
/// evaluate on the second half, and write report.html.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  anomalog demo --dir /tmp/anomalog-demo")]
pub struct DemoArgs {
    /// Where the simulated log, labels, model and report go.
    #[arg(long, default_value = "anomalog-demo", value_name = "D")]
    pub dir: PathBuf,

    /// Lines of traffic to simulate.
    #[arg(long, default_value_t = 200_000)]
    pub lines: usize,

    /// Seed of the simulation and the model.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Detector to evaluate.
    #[arg(short, long, default_value = "ensemble", value_name = "D")]
    pub detector: String,
}

/// Runs `anomalog demo`.
pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let log = args.dir.join("shop.log");
    let labels = args.dir.join("shop.labels");
    let model = args.dir.join("shop.model");
    let report = args.dir.join("report.html");

    let config = SimConfig { lines: args.lines, seed: args.seed, ..SimConfig::default() };
    eprintln!("anomalog demo: simulating {} lines of web-shop traffic ...", args.lines);
    let sim = simulate::write(&config, &log, Some(&labels))?;
    eprintln!(
        "anomalog demo: {} normal and {} anomalous requests in {} categories; training on the \
         first half, testing on the second, alerting on the top {}% of training-like traffic \
         ...",
        sim.normal,
        sim.anomalous,
        sim.per_category.len(),
        config.attack_fraction * 100.0
    );

    // The demo is `eval --split 0.5` on the simulated log, with the same options parsing
    // so that defaults stay in one place.
    // The simulation knows its share of attacks; the demo tells the model, as an
    // operator who knows their traffic would with --contamination.
    let parsed = DemoEval::try_parse_from([
        "eval".to_string(),
        "--seed".to_string(),
        args.seed.to_string(),
        "--detector".to_string(),
        args.detector.clone(),
        "--contamination".to_string(),
        config.attack_fraction.to_string(),
    ])?;
    let eval_args = EvalArgs {
        data: DataArgs {
            inputs: vec![log.display().to_string()],
            labels: Some(labels.clone()),
            split: Some(0.5),
            train: Vec::new(),
            normal: Vec::new(),
            anomalous: Vec::new(),
        },
        json: false,
        report: Some(report.clone()),
        save_model: Some(model.clone()),
        input: InputArgs { format: "combined".into(), ..parsed.input },
        model: parsed.model,
    };
    eval::run(eval_args)?;
    println!("log         {}", log.display());
    println!("labels      {}", labels.display());
    println!("model       {}", model.display());
    println!("took        {:.1} s", started.elapsed().as_secs_f64());
    println!();
    println!("Open the report: {}", report.display());
    println!("Try next:   anomalog detect --model {} {}", model.display(), log.display());
    Ok(ExitCode::SUCCESS)
}

/// The model and input options with their defaults, parsed like `eval`'s.
#[derive(Parser)]
struct DemoEval {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    model: ModelArgs,
}
