//! Drives a format over inputs: every unit becomes a record or a counted reject.

use std::collections::BTreeMap;
use std::io::Read;

use crate::error::{IngestError, ParseError, RejectReason};
use crate::format::{Format, Framing};
use crate::formats::{self, FormatOptions};
use crate::input::Input;
use crate::lines::{DEFAULT_MAX_LINE, LineReader, Unit};
use crate::record::Record;

/// How many leading lines of an input may all fail before the format is declared
/// wrong for it (one clear error instead of millions of rejects).
pub const MISMATCH_LINES: u64 = 50;

/// Where a record or reject came from.
#[derive(Debug, Clone, Copy)]
pub struct Location<'s> {
    /// The input's name (a path or `<stdin>`).
    pub source: &'s str,
    /// 1-based line number (of the first line, for multi-line units).
    pub line: u64,
}

/// What one unit of input turned into.
// Items are handed to a callback one at a time and never stored, so the size gap
// between a record and a reject costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Item<'a> {
    /// A parsed record.
    Record(Record<'a>),
    /// A unit that did not parse: its bytes (the first bytes only, for over-long
    /// lines) and why.
    Reject {
        /// The raw unit.
        raw: &'a [u8],
        /// Why it was rejected.
        error: ParseError,
    },
}

/// Counts of one scan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanStats {
    /// Units read (lines, or requests for raw HTTP input).
    pub units: u64,
    /// Records parsed.
    pub records: u64,
    /// Rejected units by reason.
    pub rejects: BTreeMap<RejectReason, u64>,
    /// Bytes read (after decompression).
    pub bytes: u64,
}

impl ScanStats {
    /// All rejects, whatever the reason.
    pub fn rejected(&self) -> u64 {
        self.rejects.values().sum()
    }

    /// Adds another scan's counts to these.
    pub fn merge(&mut self, other: &ScanStats) {
        self.units += other.units;
        self.records += other.records;
        self.bytes += other.bytes;
        for (reason, n) in &other.rejects {
            *self.rejects.entry(*reason).or_default() += n;
        }
    }
}

/// Reads inputs with one format (or sniffs one per input for `auto`) and hands every
/// record and reject to a callback, in input order.
pub struct Scanner {
    fixed: Option<Box<dyn Format>>,
    options: FormatOptions,
    max_line: usize,
    last_format: Option<String>,
}

impl Scanner {
    /// A scanner for a `--format` specification (`auto`, `combined`, `nginx:'...'`, ...).
    pub fn new(spec: &str, options: FormatOptions) -> Result<Scanner, IngestError> {
        let fixed = if spec == "auto" { None } else { Some(formats::from_spec(spec, &options)?) };
        Ok(Scanner { fixed, options, max_line: DEFAULT_MAX_LINE, last_format: None })
    }

    /// Sets the longest line accepted; longer ones are rejected as `too_long`.
    pub fn max_line(mut self, max_line: usize) -> Scanner {
        self.max_line = max_line;
        self
    }

    /// The name of the format used for the last input (`None` before any input).
    pub fn format_name(&self) -> Option<&str> {
        self.last_format.as_deref()
    }

    /// Whether the format is sniffed per input.
    pub fn is_auto(&self) -> bool {
        self.fixed.is_none()
    }

    /// Opens and scans one input.
    pub fn scan_input(
        &mut self,
        input: &Input,
        on_item: &mut dyn FnMut(Location<'_>, Item<'_>),
    ) -> Result<ScanStats, IngestError> {
        let reader = input.open()?;
        self.scan(&input.name(), reader, on_item)
    }

    /// Scans one stream named `name`.
    pub fn scan(
        &mut self,
        name: &str,
        reader: impl Read,
        on_item: &mut dyn FnMut(Location<'_>, Item<'_>),
    ) -> Result<ScanStats, IngestError> {
        let io_err = |source| IngestError::Io { path: name.into(), source };
        let mut lines = LineReader::with_max_line(reader, self.max_line);
        let detected;
        let format: &dyn Format = match &self.fixed {
            Some(f) => f.as_ref(),
            None => {
                let sample = lines.peek_lines(20).map_err(io_err)?;
                let sample: Vec<&[u8]> =
                    sample.into_iter().filter(|l| !l.trim_ascii().is_empty()).collect();
                if sample.is_empty() {
                    // Nothing to parse: no format to choose, nothing to report.
                    return Ok(ScanStats::default());
                }
                detected = formats::detect(&sample, &self.options)
                    .ok_or_else(|| IngestError::UnknownFormat { path: name.into() })?;
                detected.as_ref()
            }
        };
        self.last_format = Some(format.name().to_string());

        let mut stats = ScanStats::default();
        let mut first_failure: Option<(u64, ParseError)> = None;
        let mut tried: u64 = 0;
        loop {
            let next = match format.framing() {
                Framing::Line => lines.next_line(),
                Framing::HttpRequest => lines.next_http_request(),
            };
            let Some((line, unit)) = next.map_err(io_err)? else { break };
            stats.units += 1;
            let loc = Location { source: name, line };
            let (raw, result) = match unit {
                Unit::Data(raw) if raw.trim_ascii().is_empty() => {
                    (raw, Err(ParseError::new(RejectReason::Empty, "line", 0)))
                }
                Unit::Data(raw) => {
                    tried += 1;
                    (raw, format.parse(raw))
                }
                Unit::TooLong { prefix, .. } => {
                    (prefix, Err(ParseError::new(RejectReason::TooLong, "line", self.max_line)))
                }
            };
            match result {
                Ok(record) => {
                    stats.records += 1;
                    on_item(loc, Item::Record(record));
                }
                Err(error) => {
                    if stats.records == 0 && first_failure.is_none() && tried > 0 {
                        first_failure = Some((line, error.clone()));
                    }
                    *stats.rejects.entry(error.reason).or_default() += 1;
                    on_item(loc, Item::Reject { raw, error });
                    if stats.records == 0 && tried >= MISMATCH_LINES {
                        return Err(mismatch(name, format, tried, first_failure));
                    }
                }
            }
        }
        stats.bytes = lines.bytes_read();
        if stats.records == 0 && tried > 0 {
            return Err(mismatch(name, format, tried, first_failure));
        }
        Ok(stats)
    }
}

fn mismatch(
    name: &str,
    format: &dyn Format,
    checked: u64,
    first: Option<(u64, ParseError)>,
) -> IngestError {
    let (line, error) = first.unwrap_or((1, ParseError::new(RejectReason::Malformed, "line", 0)));
    IngestError::FormatMismatch {
        path: name.to_string(),
        format: format.name().to_string(),
        checked,
        line,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        r#"192.0.2.1 - - [02/Mar/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8.0""#;

    fn run(spec: &str, input: &str) -> Result<(ScanStats, Vec<(u64, bool)>), IngestError> {
        let mut scanner = Scanner::new(spec, FormatOptions::default())?;
        let mut seen = Vec::new();
        let stats = scanner.scan("t.log", input.as_bytes(), &mut |loc, item| {
            seen.push((loc.line, matches!(item, Item::Record(_))));
        })?;
        Ok((stats, seen))
    }

    #[test]
    fn bad_lines_are_counted_and_good_lines_around_them_parse() {
        let input = format!("{GOOD}\ngarbage\n\n{GOOD}\n");
        let (stats, seen) = run("combined", &input).unwrap();
        assert_eq!(stats.records, 2);
        assert_eq!(stats.units, 4);
        assert_eq!(stats.rejected(), 2);
        assert_eq!(stats.rejects.get(&RejectReason::Empty), Some(&1));
        assert_eq!(seen, vec![(1, true), (2, false), (3, false), (4, true)]);
    }

    #[test]
    fn a_wrong_format_is_one_error() {
        let input = "{\"a\": 1}\n".repeat(1000);
        let err = run("combined", &input).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("t.log") && msg.contains("combined") && msg.contains("line 1"),
            "{msg}"
        );
    }

    #[test]
    fn auto_detects_combined() {
        let mut scanner = Scanner::new("auto", FormatOptions::default()).unwrap();
        let input = format!("{GOOD}\n{GOOD}\n");
        let stats = scanner.scan("t.log", input.as_bytes(), &mut |_, _| {}).unwrap();
        assert_eq!(stats.records, 2);
        assert!(scanner.format_name().unwrap().starts_with("combined"));
    }

    #[test]
    fn empty_input_is_not_an_error() {
        let (stats, _) = run("auto", "").unwrap();
        assert_eq!(stats, ScanStats::default());
    }
}
