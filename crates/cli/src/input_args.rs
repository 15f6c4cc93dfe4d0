//! The input options every command that reads logs shares.

use anomalog_ingest::formats::FormatOptions;
use anomalog_ingest::input::{Input, expand_inputs};
use anomalog_ingest::scan::Scanner;
use anyhow::{Context, Result, bail};
use clap::Args;

/// Where records come from and how to read them.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Log format: auto, combined, common, json, csic2010, uri, nginx:'<log_format>' or
    /// apache:'<LogFormat>'.
    #[arg(short, long, default_value = "auto", value_name = "F")]
    pub format: String,

    /// For --format json: where a field is found, as NAME=dotted.path (repeatable),
    /// e.g. --field client=request.remote_ip.
    #[arg(long = "field", value_name = "NAME=PATH")]
    pub fields: Vec<String>,

    /// Lines longer than this many bytes are rejected as too_long.
    #[arg(long, default_value_t = anomalog_ingest::lines::DEFAULT_MAX_LINE, value_name = "BYTES")]
    pub max_line: usize,
}

impl InputArgs {
    /// The format options (`--field` overrides) of these options.
    pub fn scanner_options(&self) -> Result<FormatOptions> {
        let mut options = FormatOptions::default();
        for field in &self.fields {
            let Some((name, path)) = field.split_once('=') else {
                bail!("--field {field}: expected NAME=PATH");
            };
            options.json_fields.push((name.trim().to_string(), path.trim().to_string()));
        }
        Ok(options)
    }

    /// The scanner for these options.
    pub fn scanner(&self) -> Result<Scanner> {
        Ok(Scanner::new(&self.format, self.scanner_options()?)?.max_line(self.max_line))
    }
}

/// Expands paths, directories and `-` into inputs.
pub fn inputs(paths: &[String]) -> Result<Vec<Input>> {
    expand_inputs(paths).context("cannot open input")
}
