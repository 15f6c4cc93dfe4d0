//! `anomalog simulate`: deterministic labeled traffic of a small web shop.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anomalog_eval::simulate::Shift;
use anomalog_eval::{Category, SimConfig, SimSummary};
use anyhow::{Context, Result};
use clap::Args;

/// Simulate labeled web-shop traffic (combined format with request times).
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  anomalog simulate --lines 200000 --seed 1 --out shop.log --labels shop.labels"
)]
pub struct SimulateArgs {
    /// Number of log lines to write.
    #[arg(long, default_value_t = 100_000)]
    pub lines: usize,

    /// Seed: the same seed gives the same traffic, byte for byte.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// The log file to write.
    #[arg(long, value_name = "LOG")]
    pub out: PathBuf,

    /// Where to write the labels (one line per log line: `0`, or `1 CATEGORY`).
    #[arg(long, value_name = "LABELS")]
    pub labels: Option<PathBuf>,

    /// Length of the simulated period in hours.
    #[arg(long, default_value_t = 24.0)]
    pub hours: f64,

    /// Share of anomalous requests.
    #[arg(long, default_value_t = 0.025)]
    pub attack_fraction: f64,

    /// Only these attack categories (comma separated; default: all).
    #[arg(long, value_delimiter = ',')]
    pub categories: Vec<Category>,

    /// Shift normal behavior from this fraction of the period on (0.5 = halfway): a new
    /// section of the site (/stories/...) becomes popular, as after a campaign.
    #[arg(long, value_name = "FRACTION")]
    pub shift_at: Option<f64>,

    /// With --shift-at: share of the browsing sessions that visit the new section.
    #[arg(long, default_value_t = 0.3, value_name = "SHARE", requires = "shift_at")]
    pub shift_share: f64,
}

impl SimulateArgs {
    /// The simulation settings.
    pub fn config(&self) -> SimConfig {
        let mut config = SimConfig {
            lines: self.lines,
            seed: self.seed,
            duration_secs: (self.hours * 3600.0).round().max(1.0) as u64,
            attack_fraction: self.attack_fraction,
            ..SimConfig::default()
        };
        if !self.categories.is_empty() {
            config.categories = self.categories.clone();
        }
        config.shift =
            self.shift_at.map(|start_fraction| Shift { start_fraction, share: self.shift_share });
        config
    }
}

/// Runs `anomalog simulate`.
pub fn run(args: SimulateArgs) -> Result<ExitCode> {
    let summary = write(&args.config(), &args.out, args.labels.as_ref())?;
    print_summary(&summary, &args.out, args.labels.as_ref());
    Ok(ExitCode::SUCCESS)
}

/// Writes a simulation to `out` (and the labels, or a sink when not wanted).
pub fn write(config: &SimConfig, out: &Path, labels: Option<&PathBuf>) -> Result<SimSummary> {
    config.validate().context("invalid simulation settings")?;
    let create = |p: &Path| {
        File::create(p)
            .map(BufWriter::new)
            .with_context(|| format!("cannot create {}", p.display()))
    };
    let mut log = create(out)?;
    let summary = match labels {
        Some(path) => {
            let mut labels = create(path)?;
            let s = anomalog_eval::simulate::simulate(config, &mut log, &mut labels)?;
            labels.flush()?;
            s
        }
        None => anomalog_eval::simulate::simulate(config, &mut log, &mut std::io::sink())?,
    };
    log.flush().with_context(|| format!("cannot write {}", out.display()))?;
    Ok(summary)
}

fn print_summary(summary: &SimSummary, out: &Path, labels: Option<&PathBuf>) {
    println!("wrote {} lines to {}", summary.lines, out.display());
    if let Some(l) = labels {
        println!("wrote labels to {}", l.display());
    }
    println!("normal      {}", summary.normal);
    println!("anomalous   {}", summary.anomalous);
    for (category, n) in &summary.per_category {
        println!("  {:<20}{n}", category.as_str());
    }
}
