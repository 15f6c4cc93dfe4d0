//! `anomalog train`: fit features and detector on (mostly normal) traffic, save a model.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anomalog_pipeline::{Model, TrainingSummary};
use anyhow::{Context, Result};
use clap::Args;

use crate::input_args::InputArgs;
use crate::model_args::ModelArgs;
use crate::progress::Progress;
use crate::records::load;

/// Learn what normal traffic looks like and save one model file.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  anomalog train /var/log/nginx/ -o site.model\n  \
    anomalog train --detector iforest --alerts-per-day 20 access.log.*.gz -o site.model")]
pub struct TrainArgs {
    /// Training logs: files, .gz/.zst, directories of rotated logs, or - for stdin.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,

    /// The model file to write.
    #[arg(short, long, value_name = "MODEL")]
    pub output: PathBuf,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub model: ModelArgs,
}

/// Runs `anomalog train`.
pub fn run(args: TrainArgs) -> Result<ExitCode> {
    let options = args.model.train_options()?;
    let loaded = load(&args.inputs, &args.input, "reading")?;
    let summary = TrainingSummary {
        rejected: loaded.stats.rejected(),
        formats: loaded.formats.clone(),
        inputs: loaded.inputs.clone(),
        ..TrainingSummary::default()
    };
    let progress = Progress::new("training on", "records");
    progress.inc(loaded.records.len() as u64);
    let started = Instant::now();
    let model = Model::train(&loaded.records, summary, &options).context("training failed")?;
    let seconds = started.elapsed().as_secs_f64();
    progress.finish();
    model.save(&args.output)?;
    let size = std::fs::metadata(&args.output).map(|m| m.len()).unwrap_or(0);
    let t = &model.training;
    println!(
        "trained {} on {} records in {seconds:.1} s ({} lines rejected)",
        model.detector_name, t.records, t.rejected
    );
    if let (Some(a), Some(b)) = (&t.first_ts, &t.last_ts) {
        println!("time range  {a} .. {b}");
    }
    println!("features    {}", model.features.names().len());
    println!(
        "threshold   {:.4} on the 0..1 score ({:?})",
        model.threshold(),
        model.detector.rule()
    );
    println!("model       {} ({:.1} MB)", args.output.display(), size as f64 / 1e6);
    Ok(ExitCode::SUCCESS)
}
