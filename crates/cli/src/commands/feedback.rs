//! `anomalog feedback`: an operator's verdict on an incident, kept in the store.

use std::path::PathBuf;
use std::process::ExitCode;

use anomalog_server::{Feedback, FeedbackOutcome, Store};
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

/// Mark an incident as a false positive or as confirmed. The dashboard's buttons do the
/// same; `watch` reads the verdicts from the same database. A false positive adds the
/// category and path templates of its requests to the allow-list (`watch` stops
/// alerting on them) and its records join the next retraining; confirmed incidents are
/// the labeled attacks retraining checks candidates against.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  anomalog feedback --db anomalog.db 9f2c41d07a1b3e55 fp")]
pub struct FeedbackArgs {
    /// The incident id (as in alerts, /api/incidents and the dashboard).
    #[arg(value_name = "INCIDENT_ID")]
    pub incident: String,

    /// The verdict.
    #[arg(value_enum, value_name = "VERDICT")]
    pub verdict: Verdict,

    /// The database of `anomalog watch`.
    #[arg(long, default_value = "anomalog.db", value_name = "FILE")]
    pub db: PathBuf,
}

/// Verdicts.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not an attack or fault.
    Fp,
    /// A real attack or fault.
    Confirmed,
}

/// Runs `anomalog feedback`.
pub fn run(args: FeedbackArgs) -> Result<ExitCode> {
    if !args.db.exists() {
        bail!(
            "{}: no such database (give the one `anomalog watch --db` writes)",
            args.db.display()
        );
    }
    let store = Store::open(&args.db)?;
    let feedback = match args.verdict {
        Verdict::Fp => Feedback::FalsePositive,
        Verdict::Confirmed => Feedback::Confirmed,
    };
    let FeedbackOutcome::Recorded { patterns } = store.record_feedback(&args.incident, feedback)?
    else {
        bail!("{}: no incident {}", args.db.display(), args.incident);
    };
    println!("incident {} marked {}", args.incident, feedback.as_str());
    for p in patterns {
        println!("allow-listed: {} {} {}", p.category, p.method, p.path);
    }
    Ok(ExitCode::SUCCESS)
}
