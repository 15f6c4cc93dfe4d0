//! `anomalog features`: dump the feature matrix with named columns.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anomalog_eval::Labels;
use anomalog_features::{FeatureConfig, FeaturePipeline};
use anomalog_pipeline::Model;
use anyhow::{Context, Result, ensure};
use clap::{Args, ValueEnum};

use crate::input_args::InputArgs;
use crate::model_args::ModelArgs;
use crate::records::load;

/// Print the feature matrix of logs (one row per record, named columns), for inspection
/// and for your own models.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  anomalog features access.log > features.csv\n  \
    anomalog features --model site.model --scaled --output jsonl new.log")]
pub struct FeaturesArgs {
    /// Logs: files, .gz/.zst, directories of rotated logs, or - for stdin.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,

    /// Use the fitted features of this model (vocabularies, profiles, scaling); without
    /// it they are fitted on INPUT itself.
    #[arg(short, long, value_name = "MODEL")]
    pub model: Option<PathBuf>,

    /// Print the scaled values the detectors see instead of the raw values.
    #[arg(long)]
    pub scaled: bool,

    /// Add a `label` column from a labels file (one line per input line).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = MatrixOutput::Csv)]
    pub output: MatrixOutput,

    /// Print only timings: parse and feature records/s, and state per tracked client.
    #[arg(long)]
    pub stats: bool,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub model_args: ModelArgs,
}

/// Output formats of the matrix.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatrixOutput {
    /// CSV with a header row.
    Csv,
    /// One JSON object per record.
    Jsonl,
}

/// Runs `anomalog features`.
pub fn run(args: FeaturesArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let loaded = load(&args.inputs, &args.input, "reading")?;
    let parse_seconds = started.elapsed().as_secs_f64();
    let labels = match &args.labels {
        Some(path) => {
            let all = Labels::from_path(path)?;
            ensure!(
                all.len() as u64 == loaded.stats.units,
                "{}: {} labels, but the input has {} lines",
                path.display(),
                all.len(),
                loaded.stats.units
            );
            Some(all)
        }
        None => None,
    };
    let model;
    let fitted;
    let pipeline: &FeaturePipeline = match &args.model {
        Some(path) => {
            model = Model::load(path)?;
            &model.features
        }
        None => {
            let config: FeatureConfig = args.model_args.train_options()?.features;
            fitted = FeaturePipeline::fit(config, &loaded.records).context("fitting features")?.0;
            &fitted
        }
    };
    let names = pipeline.names();
    let mut stream = pipeline.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    if args.stats {
        let started = Instant::now();
        for record in &loaded.records {
            stream.push(record, &mut raw, &mut scaled);
        }
        let seconds = started.elapsed().as_secs_f64();
        let n = loaded.records.len() as f64;
        println!("records         {}", loaded.records.len());
        println!("features        {}", names.len());
        println!(
            "parse           {parse_seconds:.3} s  {:.0} records/s",
            n / parse_seconds.max(1e-9)
        );
        println!("features        {seconds:.3} s  {:.0} records/s", n / seconds.max(1e-9));
        println!(
            "parse+features  {:.3} s  {:.0} records/s",
            parse_seconds + seconds,
            n / (parse_seconds + seconds).max(1e-9)
        );
        println!(
            "clients         {} tracked, ~{} bytes each",
            stream.tracked_clients(),
            stream.bytes_per_client()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = BufWriter::new(io::stdout().lock());
    let mut csv =
        (args.output == MatrixOutput::Csv).then(|| csv::Writer::from_writer(io::stdout()));
    if let Some(w) = csv.as_mut() {
        let mut header = vec!["line".to_string()];
        header.extend(names.iter().cloned());
        if labels.is_some() {
            header.extend(["label".to_string(), "category".to_string()]);
        }
        w.write_record(&header)?;
    }
    for (i, record) in loaded.records.iter().enumerate() {
        stream.push(record, &mut raw, &mut scaled);
        let row = if args.scaled { &scaled } else { &raw };
        let label = labels.as_ref().map(|l| {
            let unit = loaded.units[i] as usize;
            (l.is_anomalous(unit), l.category(unit).unwrap_or("").to_string())
        });
        let written = match csv.as_mut() {
            Some(w) => {
                let mut fields = vec![loaded.lines[i].to_string()];
                fields.extend(
                    row.iter().map(|v| if v.is_nan() { String::new() } else { v.to_string() }),
                );
                if let Some((anomalous, category)) = label {
                    fields.extend([u8::from(anomalous).to_string(), category]);
                }
                w.write_record(&fields).map_err(io::Error::other)
            }
            None => {
                let mut object = serde_json::Map::new();
                object.insert("line".into(), loaded.lines[i].into());
                for (name, v) in names.iter().zip(row) {
                    object.insert(
                        name.clone(),
                        serde_json::Number::from_f64(*v)
                            .map_or(serde_json::Value::Null, Into::into),
                    );
                }
                if let Some((anomalous, category)) = label {
                    object.insert("label".into(), u8::from(anomalous).into());
                    object.insert("category".into(), category.into());
                }
                serde_json::to_writer(&mut out, &object)
                    .map_err(io::Error::from)
                    .and_then(|()| out.write_all(b"\n"))
            }
        };
        match written {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
            other => other.context("cannot write output")?,
        }
    }
    let flushed = match csv.as_mut() {
        Some(w) => w.flush(),
        None => out.flush(),
    };
    match flushed {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write output")?,
    }
    Ok(ExitCode::SUCCESS)
}
