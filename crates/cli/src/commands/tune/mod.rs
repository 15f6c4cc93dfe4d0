//! `anomalog tune`: grid or random search over detectors, their main parameters and the
//! feature windows, scored by PR-AUC on a validation split.
//!
//! The data is what `eval` reads (see [`crate::commands::eval::dataset`]); its labeled test
//! part is cut in two. Candidates are ranked on the validation part, and only the winner
//! is scored on the held-out rest, so the number reported for it is not the number it was
//! picked on. Features are fitted once per window setting and their matrices shared by
//! every detector; the winner is saved as the model `anomalog train` would make with its
//! parameters.

mod grid;
mod output;
mod search;

use std::path::PathBuf;
use std::process::ExitCode;

use anomalog_features::FeatureConfig;
use anomalog_models::DetectorKind;
use anyhow::{Context, Result, bail, ensure};
use clap::Args;

use crate::commands::eval::{DataArgs, dataset};
use crate::input_args::InputArgs;
use crate::model_args::{ClientKeyArg, ModelArgs};

/// Search detectors, their parameters and the feature windows for the best PR-AUC on a
/// validation split; print the ranking and save the best model.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    anomalog tune shop.log --labels shop.labels --split 0.5 -o best.model\n  \
    anomalog tune shop.log --labels shop.labels --split 0.5 --budget 12 --seed 7 --json\n  \
    anomalog tune shop.log --labels shop.labels --split 0.5 --report tune.html\n  \
    anomalog tune shop.log --labels shop.labels --split 0.5 --detectors iforest,hbos \\\n    \
    --windows 10,60,600 --windows 30,300\n\n\
    With --split S the first S of INPUT trains every candidate; the first --validation share \
    of the rest ranks them (PR-AUC, ties by ROC-AUC) and the remainder, held out, measures \
    the winner only. With --normal/--anomalous files, each class is cut at that share.\n\n\
    --json prints one object: search, seed, seconds, train_records, validation {records, \
    anomalies, share, split}, held_out {records, anomalies}, features [{windows, columns, \
    seconds}], candidates (ranked: rank, detector, params, detector_params, windows, pr_auc, \
    roc_auc, f1, precision, recall, false_positive_rate, threshold, fit_seconds, error), \
    best {detector, params, detector_params, windows, validation, held_out} and model.")]
pub struct TuneArgs {
    #[command(flatten)]
    pub data: DataArgs,

    /// Share of the test records that ranks the candidates; the rest is held out to
    /// measure the winner.
    #[arg(long, value_name = "SHARE", default_value_t = 0.5)]
    pub validation: f64,

    /// Detectors to search (comma separated; default: ensemble, iforest, eif, hbos,
    /// zscore, ocsvm, autoencoder).
    #[arg(long, value_delimiter = ',', value_name = "D,...")]
    pub detectors: Vec<DetectorKind>,

    /// One window setting of the per-client features, in seconds (comma separated);
    /// repeat for several (default: 10,60,600 and 30,300 and 60,900).
    #[arg(long = "windows", value_name = "SECS", value_parser = parse_windows)]
    pub windows: Vec<Windows>,

    /// Try this many candidates drawn at random (seeded) from the grid instead of all.
    #[arg(long, value_name = "N")]
    pub budget: Option<usize>,

    /// Print one JSON object with the ranking on stdout instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Write the best model, trained on the training part.
    #[arg(short, long, value_name = "MODEL")]
    pub output: Option<PathBuf>,

    /// Also write a self-contained HTML report with charts of the ranking.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Alert on this share of training-like traffic (default 0.01); sets the threshold
    /// of every candidate, hence its F1.
    #[arg(long, value_name = "SHARE", group = "threshold_rule")]
    pub contamination: Option<f64>,

    /// Alert on about this many records per day of training-like traffic.
    #[arg(long, value_name = "N", group = "threshold_rule")]
    pub alerts_per_day: Option<f64>,

    /// Alert above this score (0..1).
    #[arg(long, value_name = "SCORE", group = "threshold_rule")]
    pub threshold: Option<f64>,

    /// Seed of every fit and of the random sample: the same data and seed give the same
    /// ranking and model.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// What identifies a client for the per-client features.
    #[arg(long, value_enum, default_value_t = ClientKeyArg::Addr)]
    pub client_key: ClientKeyArg,

    /// MaxMind .mmdb file (GeoLite2 Country or ASN) for geography features.
    #[arg(long, value_name = "FILE")]
    pub geoip: Option<PathBuf>,

    #[command(flatten)]
    pub input: InputArgs,
}

/// One window setting of `--windows`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows(pub Vec<u32>);

fn parse_windows(s: &str) -> Result<Windows, String> {
    let windows = s
        .split(',')
        .map(|w| w.trim().parse::<u32>().map_err(|e| format!("`{w}`: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let config = FeatureConfig { windows_secs: windows, ..FeatureConfig::default() };
    let config = config.validated().map_err(|e| e.to_string())?;
    Ok(Windows(config.windows_secs))
}

impl TuneArgs {
    /// The model options shared by every candidate (detector and windows vary).
    fn model_args(&self) -> ModelArgs {
        ModelArgs {
            detector: DetectorKind::default(),
            contamination: self.contamination,
            alerts_per_day: self.alerts_per_day,
            threshold: self.threshold,
            seed: self.seed,
            windows: Vec::new(),
            client_key: self.client_key,
            geoip: self.geoip.clone(),
        }
    }
}

/// Runs `anomalog tune`.
pub fn run(args: TuneArgs) -> Result<ExitCode> {
    let share = args.validation;
    ensure!(share > 0.0 && share < 1.0, "--validation {share}: expected a share between 0 and 1");
    if args.budget == Some(0) {
        bail!("--budget 0: expected at least one candidate");
    }
    let options = args.model_args().train_options()?;
    let mut detectors: Vec<DetectorKind> = Vec::new();
    for &kind in
        if args.detectors.is_empty() { &grid::DEFAULT_DETECTORS[..] } else { &args.detectors }
    {
        if !detectors.contains(&kind) {
            detectors.push(kind);
        }
    }
    let mut windows: Vec<Vec<u32>> = Vec::new();
    let given: Vec<Vec<u32>> = match args.windows.is_empty() {
        true => grid::DEFAULT_WINDOWS.iter().map(|w| w.to_vec()).collect(),
        false => args.windows.iter().map(|w| w.0.clone()).collect(),
    };
    for w in given {
        if !windows.contains(&w) {
            windows.push(w);
        }
    }
    let candidates = grid::candidates(&detectors, windows.len(), args.budget, args.seed);

    let data = dataset(&args.data, &args.input)?;
    let by_class = !args.data.normal.is_empty() || !args.data.anomalous.is_empty();
    let split = search::Split::new(&data.labels, share, by_class);
    let (v, h) = (&split.validation_labels, &split.held_out_labels);
    ensure!(
        !v.is_empty() && !h.is_empty(),
        "--validation {share} leaves an empty validation or held-out part of {} test records",
        data.labels.len()
    );
    ensure!(
        v.anomalies() > 0 && v.anomalies() < v.len(),
        "the validation part ({} records, {} anomalous) needs normal and anomalous records \
         to rank candidates by PR-AUC; change --validation or --split",
        v.len(),
        v.anomalies()
    );
    if h.anomalies() == 0 {
        eprintln!("anomalog: warning: the held-out part has no anomalous records");
    }

    let settings = search::Settings {
        features: options.features,
        windows: windows.clone(),
        threshold: options.threshold,
        seed: args.seed,
    };
    let outcome = search::run(&data, &split, &candidates, &settings)?;
    if let (Some(path), Some(best)) = (&args.output, &outcome.best) {
        best.model.save(path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let cx = output::Context {
        candidates: &candidates,
        windows: &windows,
        split: &split,
        share,
        by_class,
        train_records: data.train.len(),
        sampled: candidates.len()
            < grid::candidates(&detectors, windows.len(), None, args.seed).len(),
        seed: args.seed,
        model_path: args.output.as_deref().filter(|_| outcome.best.is_some()),
    };
    if let Some(path) = &args.report {
        std::fs::write(path, output::report(&outcome, &cx))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&output::json(&outcome, &cx))?);
    } else {
        output::print_table(&outcome, &cx);
        if let Some(path) = &args.report {
            println!("report      {}", path.display());
        }
    }
    match outcome.best {
        Some(_) => Ok(ExitCode::SUCCESS),
        None => bail!("every candidate failed to fit; see the errors in the ranking"),
    }
}
