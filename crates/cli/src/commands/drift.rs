//! `anomalog drift`: compare logs with the training data of a model.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anomalog_eval::report::{DriftPage, FeatureShift, render_drift_report};
use anomalog_ingest::scan::Item;
use anomalog_pipeline::Model;
use anomalog_pipeline::drift::{
    DEFAULT_BINS, DEFAULT_FEATURE_SHARE, DEFAULT_MIN_RECORDS, DEFAULT_PSI_THRESHOLD, DriftMonitor,
    DriftOptions, DriftReport,
};
use anyhow::{Context, Result};
use clap::Args;

use crate::input_args::{InputArgs, inputs};
use crate::progress::Progress;

/// Check whether logs still look like the training data of a model: population
/// stability index (PSI) and Kolmogorov–Smirnov test per feature and for the score.
///
/// PSI compares shares over 10 bins of equal training mass (plus one of missing values);
/// below 0.1 is stable, 0.1 to 0.25 a moderate shift, above 0.25 a significant one. The
/// traffic has drifted when the score's PSI is above the threshold, or when more than
/// --feature-share of the features' PSIs are. A drifted model should be retrained on
/// recent traffic. Hour-of-day columns are not compared for a model trained on less than
/// a day, nor weekday columns on less than a week (the detectors ignore them as well).
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  anomalog drift --model site.model /var/log/nginx/access.log\n  \
    anomalog drift --model site.model --json access.log.1.gz | jq '.drifted, .score_psi'\n  \
    anomalog drift --model site.model --report drift.html access.log\n\n\
    JSON keys: drifted, score_psi, score_ks_d, score_ks_p, records, training_records,\n\
    enough_records, drifted_features, drifted_share, psi_threshold, feature_share,\n\
    features: {NAME: {psi, ks_d, ks_p}}"
)]
pub struct DriftArgs {
    /// The model file written by `anomalog train`.
    #[arg(short, long, value_name = "MODEL")]
    pub model: PathBuf,

    /// Logs to compare: files, .gz/.zst, directories of rotated logs, or - for stdin.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,

    #[command(flatten)]
    pub input: InputArgs,

    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Also write a self-contained HTML report with charts: PSI per feature, and the
    /// training and observed distributions of the score and the most drifted features.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// A distribution has drifted above this PSI.
    #[arg(long, default_value_t = DEFAULT_PSI_THRESHOLD, value_name = "PSI")]
    pub psi_threshold: f64,

    /// The traffic has drifted when more than this share of the features has (0: any).
    #[arg(long, default_value_t = DEFAULT_FEATURE_SHARE, value_name = "SHARE")]
    pub feature_share: f64,

    /// PSI bins per distribution (2 to 32).
    #[arg(long, default_value_t = DEFAULT_BINS, value_name = "N")]
    pub bins: usize,

    /// Give no verdict (not drifted) on fewer records than this.
    #[arg(long, default_value_t = DEFAULT_MIN_RECORDS, value_name = "N")]
    pub min_records: u64,

    /// Features listed in the table (the most drifted first).
    #[arg(long, default_value_t = 15, value_name = "N")]
    pub top: usize,

    /// MaxMind .mmdb database, for a model trained with --geoip.
    #[arg(long, value_name = "FILE")]
    pub geoip: Option<PathBuf>,
}

/// Runs `anomalog drift`.
pub fn run(args: DriftArgs) -> Result<ExitCode> {
    let model = Model::load_with_geoip(&args.model, args.geoip.as_deref())?;
    let options = DriftOptions {
        psi_threshold: args.psi_threshold,
        feature_share: args.feature_share,
        bins: args.bins,
        min_records: args.min_records,
    };
    let mut monitor = DriftMonitor::new(&model, options)?;
    let inputs = inputs(&args.inputs)?;
    let mut scanner = args.input.scanner()?;
    let mut scorer = model.scorer();
    let progress = Progress::new("comparing", "records");
    let started = Instant::now();
    let mut rejected = 0u64;
    for input in &inputs {
        scanner.scan_input(input, &mut |_, item| {
            let record = match item {
                Item::Record(r) => r,
                Item::Reject { .. } => {
                    rejected += 1;
                    return;
                }
            };
            let scored = scorer.score(&record);
            monitor.observe_scored(&scorer, &scored);
            if monitor.records().is_multiple_of(65_536) {
                progress.inc(65_536);
            }
        })?;
    }
    progress.finish();
    let report = monitor.report();
    if let Some(path) = &args.report {
        let page = page(&monitor, &report, &args);
        std::fs::write(path, render_drift_report(&page))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = BufWriter::new(io::stdout().lock());
    let written = if args.json {
        serde_json::to_writer(&mut out, &report)
            .map_err(io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
    } else {
        write_table(&mut out, &report, &args, &model)
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        other => other.context("cannot write output")?,
    }
    eprintln!(
        "anomalog: compared {} records in {:.1} s, {rejected} lines rejected",
        report.records,
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.report {
        eprintln!("anomalog: report {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// How many of the most drifted features get a chart of their distribution.
const CHARTED_FEATURES: usize = 4;

/// What the HTML report shows.
fn page(monitor: &DriftMonitor, r: &DriftReport, args: &DriftArgs) -> DriftPage {
    let order = r.most_drifted();
    let features = order
        .iter()
        .map(|f| FeatureShift { name: f.name.clone(), psi: f.psi, ks_d: f.ks_d, ks_p: f.ks_p })
        .collect();
    let feature_bins = order
        .iter()
        .take(CHARTED_FEATURES)
        .filter_map(|f| Some((f.name.clone(), monitor.feature_bins(f.column)?)))
        .collect();
    DriftPage {
        title: "anomalog drift".into(),
        subtitle: format!("{} against {}", args.inputs.join(", "), args.model.display()),
        verdict: verdict(r, args),
        drifted: r.drifted,
        records: r.records,
        training_records: r.training_records,
        score_psi: r.score_psi,
        score_ks_d: r.score_ks_d,
        psi_threshold: r.psi_threshold,
        features,
        score_bins: monitor.score_bins(),
        feature_bins,
        extra: vec![
            ("Drift above feature share".into(), format!("{:.0}%", 100.0 * r.feature_share)),
            ("Minimum records for a verdict".into(), args.min_records.to_string()),
        ],
    }
}

/// The verdict in words, as the table and the report say it.
fn verdict(r: &DriftReport, args: &DriftArgs) -> String {
    if !r.enough_records {
        format!("no verdict: fewer than {} records", args.min_records)
    } else if r.drifted {
        "DRIFTED: the traffic differs from the training data; consider retraining".to_string()
    } else {
        "no drift".to_string()
    }
}

fn write_table(
    out: &mut impl Write,
    r: &DriftReport,
    args: &DriftArgs,
    model: &Model,
) -> io::Result<()> {
    let training = match (&model.training.first_ts, &model.training.last_ts) {
        (Some(a), Some(b)) => format!(", {a} .. {b}"),
        _ => String::new(),
    };
    writeln!(
        out,
        "records     {} (training: {} records{training})",
        r.records, r.training_records
    )?;
    writeln!(
        out,
        "score       PSI {:.3}{}, KS D {:.3} (p {})",
        r.score_psi,
        if r.score_drifted() { " drifted" } else { "" },
        r.score_ks_d,
        p_value(r.score_ks_p)
    )?;
    writeln!(
        out,
        "features    {} of {} with PSI above {} ({:.0}%; drift above {:.0}%)",
        r.drifted_features,
        r.features.len(),
        r.psi_threshold,
        100.0 * r.drifted_share,
        100.0 * r.feature_share
    )?;
    writeln!(out, "verdict     {}", verdict(r, args))?;
    let top: Vec<_> = r.most_drifted().into_iter().take(args.top).collect();
    if top.is_empty() {
        return Ok(());
    }
    let width = top.iter().map(|f| f.name.len()).max().unwrap_or(0).max("feature".len());
    writeln!(out)?;
    writeln!(out, "{:<width$}  {:>8}  {:>6}  {:>8}", "feature", "psi", "ks_d", "ks_p")?;
    for f in top {
        let mark = if f.psi > r.psi_threshold { "  *" } else { "" };
        writeln!(
            out,
            "{:<width$}  {:>8.3}  {:>6.3}  {:>8}{mark}",
            f.name,
            f.psi,
            f.ks_d,
            p_value(f.ks_p)
        )?;
    }
    Ok(())
}

/// A p-value for people: `<1e-6` rather than a long string of zeros.
fn p_value(p: f64) -> String {
    if p < 1e-6 { "<1e-6".to_string() } else { format!("{p:.4}") }
}
