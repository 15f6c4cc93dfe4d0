//! `anomalog parse`: print normalized records, or only the statistics of a parse.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use anomalog_ingest::Record;
use anomalog_ingest::scan::{Item, Location, ScanStats};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::input_args::{InputArgs, inputs};
use crate::progress::Progress;

/// Parse logs and print normalized records, or statistics with --stats.
///
/// Example: anomalog parse --stats /var/log/nginx/
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  anomalog parse --stats access.log.gz\n  \
    anomalog parse --format combined --output csv access.log > records.csv\n  \
    tail -n 100 access.log | anomalog parse -")]
pub struct ParseArgs {
    /// Log files, .gz/.zst files, directories of rotated logs, or - for stdin.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    #[command(flatten)]
    pub input: InputArgs,

    /// Output format of the records.
    #[arg(short, long, value_enum, default_value_t = Output::Jsonl)]
    pub output: Output,

    /// Print only a summary: records, rejects by reason (with the first ones located),
    /// throughput.
    #[arg(long)]
    pub stats: bool,

    /// Keep every rejected line in FILE (JSON lines: source, line, reason, field, column,
    /// and the raw line).
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<String>,
}

/// How records are printed.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header row.
    Csv,
}

/// Where records go.
enum Printer {
    Jsonl(BufWriter<io::Stdout>),
    Csv(Box<csv::Writer<io::Stdout>>),
    /// `--stats`: no records, only the summary at the end.
    None,
}

/// How many rejects are listed with their location in the `--stats` summary.
const LISTED_REJECTS: usize = 10;

/// A record with where it came from, as printed by `--output jsonl`.
#[derive(Serialize)]
struct Located<'r, 'a> {
    source: &'r str,
    line: u64,
    #[serde(flatten)]
    record: &'r Record<'a>,
    path: Option<&'r str>,
    query: Option<&'r str>,
}

/// A rejected unit, as kept by `--rejects`.
#[derive(Serialize)]
struct RejectOut<'r> {
    source: &'r str,
    line: u64,
    reason: &'static str,
    field: &'static str,
    column: usize,
    /// The raw line when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'r str>,
    /// The raw line in hex when it is not UTF-8 (lossless).
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_hex: Option<String>,
}

const CSV_HEADER: [&str; 17] = [
    "source",
    "line",
    "ts",
    "client",
    "user",
    "method",
    "target",
    "path",
    "query",
    "protocol",
    "status",
    "bytes",
    "referer",
    "user_agent",
    "request_time",
    "upstream_time",
    "host",
];

/// Runs `anomalog parse`.
pub fn run(args: ParseArgs) -> Result<ExitCode> {
    let inputs = inputs(&args.inputs)?;
    let mut scanner = args.input.scanner()?;
    let mut printer = match (args.stats, args.output) {
        (true, _) => Printer::None,
        (false, Output::Jsonl) => Printer::Jsonl(BufWriter::with_capacity(1 << 16, io::stdout())),
        (false, Output::Csv) => {
            let mut w = csv::Writer::from_writer(io::stdout());
            w.write_record(CSV_HEADER)?;
            Printer::Csv(Box::new(w))
        }
    };
    let mut rejects_file = match &args.rejects {
        Some(path) => Some(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {path}"))?,
        )),
        None => None,
    };
    let progress = Progress::new("parsing", "lines");
    let started = Instant::now();
    let mut total = ScanStats::default();
    let mut listed: Vec<String> = Vec::new();
    let mut write_error: Option<io::Error> = None;

    for input in &inputs {
        let mut since_tick = 0u64;
        let mut on_item = |loc: Location<'_>, item: Item<'_>| {
            since_tick += 1;
            if since_tick == 65_536 {
                progress.inc(since_tick);
                since_tick = 0;
            }
            if write_error.is_some() {
                return;
            }
            let result = match item {
                Item::Record(record) => match &mut printer {
                    Printer::Jsonl(out) => write_jsonl(out, &loc, &record),
                    Printer::Csv(w) => write_csv(w, &loc, &record),
                    Printer::None => Ok(()),
                },
                Item::Reject { raw, error } => {
                    if listed.len() < LISTED_REJECTS {
                        listed.push(format!("{}:{}: {error}", loc.source, loc.line));
                    }
                    match rejects_file.as_mut() {
                        Some(file) => write_reject(file, &loc, raw, &error),
                        None => Ok(()),
                    }
                }
            };
            if let Err(e) = result {
                write_error = Some(e);
            }
        };
        let stats = scanner.scan_input(input, &mut on_item)?;
        progress.inc(since_tick);
        if let Some(e) = write_error.take() {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(e).context("cannot write output");
        }
        if scanner.is_auto()
            && let Some(name) = scanner.format_name()
        {
            eprintln!("anomalog: {}: format {name} (detected)", input.name());
        }
        total.merge(&stats);
    }
    progress.finish();
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(file) = rejects_file.as_mut() {
        file.flush().context("cannot write rejects file")?;
    }
    let flushed = match &mut printer {
        Printer::Jsonl(out) => out.flush(),
        Printer::Csv(w) => w.flush(),
        Printer::None => {
            let mut out = io::stdout().lock();
            let listed = &listed;
            print_stats(&mut out, &total, inputs.len(), scanner.format_name(), elapsed, listed)
        }
    };
    match flushed {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write output")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn write_jsonl(out: &mut impl Write, loc: &Location<'_>, record: &Record<'_>) -> io::Result<()> {
    let located = Located {
        source: loc.source,
        line: loc.line,
        record,
        path: record.path(),
        query: record.query(),
    };
    serde_json::to_writer(&mut *out, &located)?;
    out.write_all(b"\n")
}

fn write_csv(
    w: &mut csv::Writer<io::Stdout>,
    loc: &Location<'_>,
    r: &Record<'_>,
) -> io::Result<()> {
    fn opt<T: ToString>(v: Option<T>) -> String {
        v.map(|v| v.to_string()).unwrap_or_default()
    }
    let fields = [
        loc.source.to_string(),
        loc.line.to_string(),
        opt(r.ts),
        opt(r.client.as_deref()),
        opt(r.user.as_deref()),
        opt(r.method.as_deref()),
        opt(r.target.as_deref()),
        opt(r.path()),
        opt(r.query()),
        opt(r.protocol.as_deref()),
        opt(r.status),
        opt(r.bytes),
        opt(r.referer.as_deref()),
        opt(r.user_agent.as_deref()),
        opt(r.request_time),
        opt(r.upstream_time),
        opt(r.host.as_deref()),
    ];
    w.write_record(&fields).map_err(io::Error::other)
}

fn write_reject(
    file: &mut impl Write,
    loc: &Location<'_>,
    raw: &[u8],
    error: &anomalog_ingest::ParseError,
) -> io::Result<()> {
    let text = std::str::from_utf8(raw).ok();
    let hex = text.is_none().then(|| raw.iter().map(|b| format!("{b:02x}")).collect());
    let reject = RejectOut {
        source: loc.source,
        line: loc.line,
        reason: error.reason.as_str(),
        field: error.field,
        column: error.column,
        raw: text,
        raw_hex: hex,
    };
    serde_json::to_writer(&mut *file, &reject)?;
    file.write_all(b"\n")
}

fn print_stats(
    out: &mut impl Write,
    stats: &ScanStats,
    inputs: usize,
    format: Option<&str>,
    seconds: f64,
    listed: &[String],
) -> io::Result<()> {
    let rate = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
    writeln!(out, "inputs      {inputs}")?;
    writeln!(out, "format      {}", format.unwrap_or("-"))?;
    writeln!(out, "lines       {}", stats.units)?;
    writeln!(out, "records     {}", stats.records)?;
    writeln!(out, "rejected    {}", stats.rejected())?;
    for (reason, n) in &stats.rejects {
        writeln!(out, "  {:<22}{n}", reason.as_str())?;
    }
    writeln!(out, "bytes       {}", stats.bytes)?;
    writeln!(out, "seconds     {seconds:.3}")?;
    writeln!(out, "lines/s     {:.0}", rate(stats.units as f64))?;
    writeln!(out, "MB/s        {:.1}", rate(stats.bytes as f64) / 1e6)?;
    if !listed.is_empty() {
        writeln!(out, "first rejects:")?;
        for l in listed {
            writeln!(out, "  {l}")?;
        }
        let more = stats.rejected().saturating_sub(listed.len() as u64);
        if more > 0 {
            writeln!(out, "  ... and {more} more (keep them all with --rejects FILE)")?;
        }
    }
    Ok(())
}
