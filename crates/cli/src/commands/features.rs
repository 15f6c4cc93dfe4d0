//! `anomalog features`: dump the feature matrix with named columns.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anomalog_eval::Labels;
use anomalog_features::{FeatureConfig, FeaturePipeline, FeatureStream};
use anomalog_ingest::scan::Item;
use anomalog_pipeline::Model;
use anyhow::{Context, Result, ensure};
use clap::{Args, ValueEnum};

use crate::input_args::{InputArgs, inputs};
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
///
/// With a model the rows depend only on the model and the records before them, so the
/// input is streamed: each record is featurized straight from the line buffer it was
/// parsed from, never copied. Without one the features are first fitted on the whole
/// input, which needs every record in memory (as do `--labels`, which are checked
/// against the line count first, and `--stats` on stdin, which cannot be read twice).
pub fn run(args: FeaturesArgs) -> Result<ExitCode> {
    let stdin = args.inputs.iter().any(|p| p == "-");
    match &args.model {
        Some(path) if args.labels.is_none() && !(args.stats && stdin) => {
            let model = Model::load(path)?;
            if args.stats {
                stream_stats(&args, &model.features)
            } else {
                stream_rows(&args, &model.features)
            }
        }
        _ => run_loaded(args),
    }
}

/// `--stats` over a stream: parse alone, then parse and features, in the same run.
fn stream_stats(args: &FeaturesArgs, pipeline: &FeaturePipeline) -> Result<ExitCode> {
    let paths = inputs(&args.inputs)?;
    let mut scanner = args.input.scanner()?;
    let started = Instant::now();
    let mut parsed = 0u64;
    for input in &paths {
        scanner.scan_input(input, &mut |_, item| {
            if let Item::Record(record) = item {
                parsed += 1;
                std::hint::black_box(&record);
            }
        })?;
    }
    let parse_seconds = started.elapsed().as_secs_f64();

    let mut stream = pipeline.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    let started = Instant::now();
    let mut records = 0u64;
    for input in &paths {
        scanner.scan_input(input, &mut |_, item| {
            if let Item::Record(record) = item {
                records += 1;
                stream.push(&record, &mut raw, &mut scaled);
            }
        })?;
    }
    let total_seconds = started.elapsed().as_secs_f64();
    ensure!(parsed == records, "the input changed while it was read twice");
    // The feature stage runs interleaved with parsing; its time is the difference.
    let feature_seconds = (total_seconds - parse_seconds).max(1e-9);
    print_stats(records, pipeline, &stream, parse_seconds, feature_seconds, total_seconds);
    Ok(ExitCode::SUCCESS)
}

/// The matrix over a stream.
fn stream_rows(args: &FeaturesArgs, pipeline: &FeaturePipeline) -> Result<ExitCode> {
    let mut scanner = args.input.scanner()?;
    let mut writer = RowWriter::new(args, pipeline.names(), false)?;
    let mut stream = pipeline.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    let mut failed: Option<io::Error> = None;
    for input in inputs(&args.inputs)? {
        scanner.scan_input(&input, &mut |loc, item| {
            let Item::Record(record) = item else { return };
            if failed.is_some() {
                return;
            }
            stream.push(&record, &mut raw, &mut scaled);
            if let Err(e) = writer.row(loc.line, &raw, &scaled, None) {
                failed = Some(e);
            }
        })?;
        if failed.is_some() {
            break;
        }
    }
    let result = match failed {
        Some(e) => Err(e),
        None => writer.finish(),
    };
    done(result)
}

fn run_loaded(args: FeaturesArgs) -> Result<ExitCode> {
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
    let mut stream = pipeline.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    if args.stats {
        let started = Instant::now();
        for record in &loaded.records {
            stream.push(record, &mut raw, &mut scaled);
        }
        let seconds = started.elapsed().as_secs_f64();
        let n = loaded.records.len() as u64;
        print_stats(n, pipeline, &stream, parse_seconds, seconds, parse_seconds + seconds);
        return Ok(ExitCode::SUCCESS);
    }
    let mut writer = RowWriter::new(&args, pipeline.names(), labels.is_some())?;
    let write = || -> io::Result<()> {
        for (i, record) in loaded.records.iter().enumerate() {
            stream.push(record, &mut raw, &mut scaled);
            let label = labels.as_ref().map(|l| {
                let unit = loaded.units[i] as usize;
                (l.is_anomalous(unit), l.category(unit).unwrap_or(""))
            });
            writer.row(loaded.lines[i], &raw, &scaled, label)?;
        }
        writer.finish()
    };
    done(write())
}

fn print_stats(
    records: u64,
    pipeline: &FeaturePipeline,
    stream: &FeatureStream<'_>,
    parse_seconds: f64,
    feature_seconds: f64,
    total_seconds: f64,
) {
    let n = records as f64;
    let rate = |seconds: f64| n / seconds.max(1e-9);
    println!("records         {records}");
    println!("features        {}", pipeline.names().len());
    println!("parse           {parse_seconds:.3} s  {:.0} records/s", rate(parse_seconds));
    println!("features        {feature_seconds:.3} s  {:.0} records/s", rate(feature_seconds));
    println!("parse+features  {total_seconds:.3} s  {:.0} records/s", rate(total_seconds));
    println!(
        "clients         {} tracked, ~{} bytes each",
        stream.tracked_clients(),
        stream.bytes_per_client()
    );
}

/// A closed pipe (`anomalog features big.log | head`) ends the output quietly.
fn done(result: io::Result<()>) -> Result<ExitCode> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        other => other.context("cannot write output").map(|()| ExitCode::SUCCESS),
    }
}

/// Writes matrix rows as CSV (with a header) or JSON lines.
struct RowWriter<'n> {
    names: &'n [String],
    scaled: bool,
    sink: Sink,
}

enum Sink {
    Csv(Box<csv::Writer<io::StdoutLock<'static>>>),
    Jsonl(BufWriter<io::StdoutLock<'static>>),
}

impl<'n> RowWriter<'n> {
    fn new(args: &FeaturesArgs, names: &'n [String], labeled: bool) -> Result<RowWriter<'n>> {
        let stdout = io::stdout().lock();
        let sink = match args.output {
            MatrixOutput::Csv => {
                let mut w = csv::Writer::from_writer(stdout);
                let mut header = vec!["line"];
                header.extend(names.iter().map(String::as_str));
                if labeled {
                    header.extend(["label", "category"]);
                }
                match w.write_record(&header) {
                    Err(e) if is_broken_pipe(&e) => {}
                    other => other.context("cannot write output")?,
                }
                Sink::Csv(Box::new(w))
            }
            MatrixOutput::Jsonl => Sink::Jsonl(BufWriter::new(stdout)),
        };
        Ok(RowWriter { names, scaled: args.scaled, sink })
    }

    fn row(
        &mut self,
        line: u64,
        raw: &[f64],
        scaled: &[f64],
        label: Option<(bool, &str)>,
    ) -> io::Result<()> {
        let row = if self.scaled { scaled } else { raw };
        match &mut self.sink {
            Sink::Csv(w) => {
                let mut fields = vec![line.to_string()];
                fields.extend(
                    row.iter().map(|v| if v.is_nan() { String::new() } else { v.to_string() }),
                );
                if let Some((anomalous, category)) = label {
                    fields.extend([u8::from(anomalous).to_string(), category.to_string()]);
                }
                w.write_record(&fields).map_err(io::Error::other)
            }
            Sink::Jsonl(out) => {
                let mut object = serde_json::Map::new();
                object.insert("line".into(), line.into());
                for (name, v) in self.names.iter().zip(row) {
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
                serde_json::to_writer(&mut *out, &object)
                    .map_err(io::Error::from)
                    .and_then(|()| out.write_all(b"\n"))
            }
        }
    }

    fn finish(self) -> io::Result<()> {
        match self.sink {
            Sink::Csv(mut w) => w.flush(),
            Sink::Jsonl(mut out) => out.flush(),
        }
    }
}

fn is_broken_pipe(e: &csv::Error) -> bool {
    matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::BrokenPipe)
}
