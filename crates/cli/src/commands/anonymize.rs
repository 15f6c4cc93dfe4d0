//! `anomalog anonymize`: shareable logs in the same format, with client addresses
//! pseudonymized and secrets redacted.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anomalog_ingest::formats::{self, FormatOptions};
use anomalog_ingest::lines::{LineReader, Unit};
use anomalog_ingest::{Format, Framing, IngestError};
use anomalog_privacy::{ClientMode, Key, Privacy, RedactionRules};
use anyhow::{Context, Result};
use clap::Args;

use crate::input_args::{InputArgs, inputs};
use crate::progress::Progress;

/// Write logs in the same format with client addresses replaced by keyed pseudonyms
/// (stable for a key) and secrets redacted: passwords, tokens, session ids, e-mail
/// addresses, JWTs, card numbers.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ANOMALOG_KEY=... anomalog anonymize access.log.gz -o shared.log\n  \
    anomalog anonymize --truncate /var/log/nginx/ -o - | gzip > shared.log.gz"
)]
pub struct AnonymizeArgs {
    /// Logs: files, .gz/.zst, directories of rotated logs, or - for stdin.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,

    /// Where to write (- for stdout).
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: String,

    /// Secret key of the pseudonyms (at least 16 bytes); defaults to $ANOMALOG_KEY. The
    /// same key gives the same pseudonyms, so logs anonymized on different days still
    /// line up.
    #[arg(long, value_name = "KEY", env = "ANOMALOG_KEY", hide_env_values = true)]
    pub key: Option<String>,

    /// Truncate addresses to their network (/24 for IPv4, /48 for IPv6) instead of
    /// pseudonymizing them; no key needed.
    #[arg(long)]
    pub truncate: bool,

    /// Prefix length kept of IPv4 addresses with --truncate.
    #[arg(long, default_value_t = 24, requires = "truncate")]
    pub ipv4_prefix: u8,

    /// Prefix length kept of IPv6 addresses with --truncate.
    #[arg(long, default_value_t = 48, requires = "truncate")]
    pub ipv6_prefix: u8,

    /// More parameter or header names whose values are secrets (comma separated).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub secret_names: Vec<String>,

    #[command(flatten)]
    pub input: InputArgs,
}

/// Runs `anomalog anonymize`.
pub fn run(args: AnonymizeArgs) -> Result<ExitCode> {
    let privacy = privacy(&args)?;
    let options = args.input.scanner_options()?;
    let mut out: Box<dyn Write> = if args.output == "-" {
        Box::new(BufWriter::new(io::stdout().lock()))
    } else {
        let path = PathBuf::from(&args.output);
        Box::new(BufWriter::new(
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?,
        ))
    };
    let progress = Progress::new("anonymizing", "lines");
    let mut buf = Vec::new();
    let mut lines = 0u64;
    for input in inputs(&args.inputs)? {
        let name = input.name();
        let mut reader = LineReader::with_max_line(input.open()?, args.input.max_line);
        let format = choose_format(&args.input.format, &options, &name, &mut reader)?;
        let Some(format) = format else { continue };
        let io_err = |source| IngestError::Io { path: name.clone().into(), source };
        loop {
            let unit = match format.framing() {
                Framing::Line => reader.next_line(),
                Framing::HttpRequest => reader.next_http_request(),
            };
            let Some((_, unit)) = unit.map_err(io_err)? else { break };
            buf.clear();
            match unit {
                Unit::Data(raw) => privacy.anonymize_line(format.as_ref(), raw, &mut buf),
                // Never pass through what could not be read whole: the line keeps its
                // place, its content is withheld.
                Unit::TooLong { len, .. } => {
                    buf.extend_from_slice(format!("[REDACTED: line of {len} bytes]").as_bytes())
                }
            }
            buf.push(b'\n');
            if format.framing() == Framing::HttpRequest {
                // Raw requests are separated by an empty line.
                buf.push(b'\n');
            }
            out.write_all(&buf).context("cannot write output")?;
            lines += 1;
            if lines.is_multiple_of(65_536) {
                progress.inc(65_536);
            }
        }
    }
    progress.finish();
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write output")?,
    }
    eprintln!("anomalog: anonymized {lines} lines into {}", args.output);
    Ok(ExitCode::SUCCESS)
}

fn privacy(args: &AnonymizeArgs) -> Result<Privacy> {
    let rules = RedactionRules { names: args.secret_names.clone(), ..RedactionRules::default() };
    let (mode, key) = if args.truncate {
        let mode = ClientMode::Truncate { v4_bits: args.ipv4_prefix, v6_bits: args.ipv6_prefix };
        (mode, args.key.as_deref().filter(|k| !k.is_empty()).map(Key::new).transpose()?)
    } else {
        let key = Key::from_arg_or_env(args.key.as_deref())
            .context("pseudonyms need a key: --key KEY or ANOMALOG_KEY (or use --truncate)")?;
        (ClientMode::Hmac, Some(key))
    };
    Ok(Privacy::new(mode, key, rules)?)
}

/// The format of one input: the one given, or sniffed from its first lines. `None` for
/// an empty input.
fn choose_format<R: io::Read>(
    spec: &str,
    options: &FormatOptions,
    name: &str,
    reader: &mut LineReader<R>,
) -> Result<Option<Box<dyn Format>>> {
    if spec != "auto" {
        return Ok(Some(formats::from_spec(spec, options)?));
    }
    let sample = reader.peek_lines(20).with_context(|| format!("cannot read {name}"))?;
    let sample: Vec<&[u8]> = sample.into_iter().filter(|l| !l.trim_ascii().is_empty()).collect();
    if sample.is_empty() {
        return Ok(None);
    }
    let format = formats::detect(&sample, options)
        .ok_or_else(|| IngestError::UnknownFormat { path: name.to_string() })?;
    eprintln!("anomalog: {name}: format {} (detected)", format.name());
    Ok(Some(format))
}
