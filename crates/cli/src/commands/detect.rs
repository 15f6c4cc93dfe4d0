//! `anomalog detect`: score records with a trained model and print the anomalies.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anomalog_ingest::Record;
use anomalog_ingest::scan::Item;
use anomalog_models::ThresholdRule;
use anomalog_models::explain::Explanation;
use anomalog_pipeline::{Model, Scored};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::input_args::{InputArgs, inputs};
use crate::progress::Progress;

/// Score logs with a trained model and print the anomalous requests with explanations.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  anomalog detect --model site.model access.log\n  \
    anomalog detect --model site.model --output jsonl /var/log/nginx/ > anomalies.jsonl\n  \
    tail -F access.log | anomalog detect --model site.model -")]
pub struct DetectArgs {
    /// The model file written by `anomalog train`.
    #[arg(short, long, value_name = "MODEL")]
    pub model: PathBuf,

    /// Logs to score: files, .gz/.zst, directories of rotated logs, or - for stdin.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    #[command(flatten)]
    pub input: InputArgs,

    /// Output: a table (the default on a terminal), JSON lines (the default otherwise) or
    /// CSV.
    #[arg(short, long, value_enum)]
    pub output: Option<DetectOutput>,

    /// Print every record with its score, not only the flagged ones.
    #[arg(long)]
    pub all: bool,

    /// Flag above this score (0..1) instead of the model's threshold.
    #[arg(long, value_name = "SCORE")]
    pub threshold: Option<f64>,

    /// MaxMind .mmdb database, for a model trained with --geoip.
    #[arg(long, value_name = "FILE")]
    pub geoip: Option<PathBuf>,
}

/// Output formats of `detect`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetectOutput {
    /// Aligned columns for people.
    Table,
    /// One JSON object per record.
    Jsonl,
    /// CSV with a header row; the explanation is one column of `feature=value` pairs.
    Csv,
}

/// One scored record, as printed by `--output jsonl`.
#[derive(Serialize)]
pub struct Finding<'a> {
    /// 1-based line in its input.
    pub line: u64,
    /// The input.
    pub source: &'a str,
    /// Timestamp (RFC 3339).
    pub ts: Option<String>,
    /// Client address.
    pub client: Option<&'a str>,
    /// Request line: method, target, protocol.
    pub request: String,
    /// Response status.
    pub status: Option<u16>,
    /// 0..1, higher = more anomalous.
    pub score: f64,
    /// Whether the score is above the threshold.
    pub flagged: bool,
    /// What kind of anomaly (see the pipeline's categories).
    pub category: Option<&'static str>,
    /// The top features, with value, typical value and share.
    pub explanation: Vec<Explanation>,
    /// The detector of the model.
    pub detector: &'a str,
}

/// The request line of a record as logged (`GET /x HTTP/1.1`), `-` when missing.
pub fn request_text(r: &Record<'_>) -> String {
    let parts: Vec<&str> = [r.method.as_deref(), r.target.as_deref(), r.protocol.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() { "-".to_string() } else { parts.join(" ") }
}

/// Runs `anomalog detect`.
pub fn run(args: DetectArgs) -> Result<ExitCode> {
    let mut model = Model::load_with_geoip(&args.model, args.geoip.as_deref())?;
    if let Some(p) = args.threshold {
        anyhow::ensure!(
            (0.0..=1.0).contains(&p),
            "--threshold {p}: expected a score between 0 and 1"
        );
        model.detector.set_rule(ThresholdRule::Probability(p)).context("--threshold")?;
    }
    let inputs = inputs(&args.inputs)?;
    let output = args.output.unwrap_or(if io::stdout().is_terminal() {
        DetectOutput::Table
    } else {
        DetectOutput::Jsonl
    });
    let mut out = BufWriter::new(io::stdout().lock());
    let mut csv = (output == DetectOutput::Csv).then(|| csv::Writer::from_writer(io::stdout()));
    if let Some(w) = csv.as_mut() {
        w.write_record([
            "source",
            "line",
            "ts",
            "client",
            "request",
            "status",
            "score",
            "flagged",
            "category",
            "explanation",
            "detector",
        ])?;
    }
    if output == DetectOutput::Table {
        writeln!(
            out,
            "{:>7}  {:<20}  {:<15}  {:>3}  {:>5}  {:<16}  {:<44}  why",
            "line", "time", "client", "st", "score", "category", "request"
        )?;
    }

    let mut scanner = args.input.scanner()?;
    let mut scorer = model.scorer();
    let detector = model.detector_name.clone();
    let progress = Progress::new("scoring", "records");
    let started = Instant::now();
    let (mut scored, mut flagged, mut rejected) = (0u64, 0u64, 0u64);
    let mut write_error: Option<io::Error> = None;
    for input in &inputs {
        let name = input.name();
        scanner.scan_input(input, &mut |loc, item| {
            let record = match item {
                Item::Record(r) => r,
                Item::Reject { .. } => {
                    rejected += 1;
                    return;
                }
            };
            let verdict: Scored = scorer.score(&record);
            scored += 1;
            if scored % 65_536 == 0 {
                progress.inc(65_536);
            }
            flagged += u64::from(verdict.flagged);
            if !(verdict.flagged || args.all) || write_error.is_some() {
                return;
            }
            let explanation = scorer.explain();
            let category = verdict.flagged.then(|| scorer.category(&explanation));
            let finding = Finding {
                line: loc.line,
                source: &name,
                ts: record.ts.map(|t| t.to_string()),
                client: record.client.as_deref(),
                request: request_text(&record),
                status: record.status,
                score: verdict.score,
                flagged: verdict.flagged,
                category,
                explanation,
                detector: &detector,
            };
            let result = match (&mut csv, output) {
                (Some(w), _) => write_csv(w, &finding),
                (None, DetectOutput::Table) => write_table(&mut out, &finding),
                (None, _) => serde_json::to_writer(&mut out, &finding)
                    .map_err(io::Error::from)
                    .and_then(|()| out.write_all(b"\n")),
            };
            if let Err(e) = result {
                write_error = Some(e);
            }
        })?;
        if let Some(e) = write_error.take() {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(e).context("cannot write output");
        }
    }
    progress.finish();
    if let Some(w) = csv.as_mut() {
        w.flush().context("cannot write output")?;
    }
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        other => other.context("cannot write output")?,
    }
    let seconds = started.elapsed().as_secs_f64();
    let share = if scored > 0 { 100.0 * flagged as f64 / scored as f64 } else { 0.0 };
    eprintln!(
        "anomalog: scored {scored} records in {seconds:.1} s, flagged {flagged} ({share:.2}%), \
         {rejected} lines rejected; threshold {:.4}",
        model.threshold()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_table(out: &mut impl Write, f: &Finding<'_>) -> io::Result<()> {
    let why: Vec<String> = f
        .explanation
        .iter()
        .take(3)
        .map(|e| format!("{}={} (typ. {})", e.feature, number(e.value), number(e.typical)))
        .collect();
    writeln!(
        out,
        "{:>7}  {:<20}  {:<15}  {:>3}  {:>5.3}  {:<16}  {:<44}  {}",
        f.line,
        f.ts.as_deref().map(|t| &t[..t.len().min(20)]).unwrap_or("-"),
        clip(f.client.unwrap_or("-"), 15),
        f.status.map_or("-".to_string(), |s| s.to_string()),
        f.score,
        f.category.unwrap_or("-"),
        clip(&f.request, 44),
        why.join(", ")
    )
}

fn write_csv(w: &mut csv::Writer<io::Stdout>, f: &Finding<'_>) -> io::Result<()> {
    let why: Vec<String> =
        f.explanation.iter().map(|e| format!("{}={}", e.feature, number(e.value))).collect();
    w.write_record([
        f.source.to_string(),
        f.line.to_string(),
        f.ts.clone().unwrap_or_default(),
        f.client.unwrap_or_default().to_string(),
        f.request.clone(),
        f.status.map(|s| s.to_string()).unwrap_or_default(),
        format!("{:.6}", f.score),
        f.flagged.to_string(),
        f.category.unwrap_or_default().to_string(),
        why.join(";"),
        f.detector.to_string(),
    ])
    .map_err(io::Error::other)
}

/// A number for people: integers without decimals, others with up to 3.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "missing".to_string()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// At most `n` characters of `s`, with `…` when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
