//! The `anomalog` command: argument parsing and wiring of the pipeline crates.

mod commands;
mod input_args;
mod model_args;
mod progress;
mod records;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The daemon allocates on several threads and frees on others (records, anomalies,
/// alert batches): mimalloc keeps that cheap and returns freed memory, where the
/// system allocator grows an arena per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Finds attacks and incidents in web server access logs with unsupervised machine
/// learning.
#[derive(Parser)]
#[command(name = "anomalog", version, about, propagate_version = true)]
#[command(after_help = "Start with: anomalog demo")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Demo(commands::demo::DemoArgs),
    Simulate(commands::simulate::SimulateArgs),
    Parse(commands::parse::ParseArgs),
    Features(commands::features::FeaturesArgs),
    Train(commands::train::TrainArgs),
    Detect(commands::detect::DetectArgs),
    Drift(commands::drift::DriftArgs),
    Eval(commands::eval::EvalArgs),
    Tune(commands::tune::TuneArgs),
    Watch(commands::watch::WatchArgs),
    Anonymize(commands::anonymize::AnonymizeArgs),
    Feedback(commands::feedback::FeedbackArgs),
    Models(commands::models::ModelsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => commands::demo::run(args),
        Command::Simulate(args) => commands::simulate::run(args),
        Command::Parse(args) => commands::parse::run(args),
        Command::Features(args) => commands::features::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Detect(args) => commands::detect::run(args),
        Command::Drift(args) => commands::drift::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Tune(args) => commands::tune::run(args),
        Command::Watch(args) => commands::watch::run(args),
        Command::Anonymize(args) => commands::anonymize::run(args),
        Command::Feedback(args) => commands::feedback::run(args),
        Command::Models(args) => commands::models::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("anomalog: error: {err:#}");
            ExitCode::from(1)
        }
    }
}
