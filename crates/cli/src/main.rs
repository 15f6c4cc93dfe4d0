//! The `anomalog` command: argument parsing and wiring of the pipeline crates.

mod commands;
mod input_args;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Finds attacks and incidents in web server access logs with unsupervised machine
/// learning.
#[derive(Parser)]
#[command(name = "anomalog", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Parse(commands::parse::ParseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => commands::parse::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("anomalog: error: {err:#}");
            ExitCode::from(1)
        }
    }
}
