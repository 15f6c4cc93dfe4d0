//! Reading whole inputs into owned records, for the commands that need them all
//! (training, evaluation).

use anomalog_ingest::Record;
use anomalog_ingest::scan::{Item, ScanStats};
use anyhow::Result;

use crate::input_args::{InputArgs, inputs};
use crate::progress::Progress;

/// Records of one or more inputs, with where each came from.
#[derive(Default)]
pub struct Loaded {
    /// The records, in input order.
    pub records: Vec<Record<'static>>,
    /// For each record, its unit index over all inputs (0-based: line number in the
    /// concatenated input for line formats), to align with a labels file.
    pub units: Vec<u64>,
    /// For each record, the 1-based line number within its input.
    pub lines: Vec<u64>,
    /// Counts of the whole read.
    pub stats: ScanStats,
    /// The formats used (one per distinct format).
    pub formats: Vec<String>,
    /// The inputs' names (file names without directories).
    pub inputs: Vec<String>,
}

/// Reads every record of `paths` (see `InputArgs`), showing progress on a terminal.
pub fn load(paths: &[String], args: &InputArgs, what: &str) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    load_into(&mut loaded, paths, args, what)?;
    Ok(loaded)
}

/// Like [`load`], appending to `loaded` (unit indices continue).
pub fn load_into(
    loaded: &mut Loaded,
    paths: &[String],
    args: &InputArgs,
    what: &str,
) -> Result<()> {
    let mut scanner = args.scanner()?;
    let progress = Progress::new(what, "lines");
    for input in inputs(paths)? {
        let mut unit = loaded.stats.units;
        let records = &mut loaded.records;
        let units = &mut loaded.units;
        let lines = &mut loaded.lines;
        let stats = scanner.scan_input(&input, &mut |loc, item| {
            if let Item::Record(record) = item {
                records.push(record.into_owned());
                units.push(unit);
                lines.push(loc.line);
            }
            unit += 1;
            if unit.is_multiple_of(65_536) {
                progress.inc(65_536);
            }
        })?;
        loaded.stats.merge(&stats);
        if let Some(name) = scanner.format_name()
            && !loaded.formats.iter().any(|f| f == name)
        {
            if scanner.is_auto() {
                eprintln!("anomalog: {}: format {name} (detected)", input.name());
            }
            loaded.formats.push(name.to_string());
        }
        let name = input.name();
        let short = name.rsplit('/').next().unwrap_or(&name).to_string();
        loaded.inputs.push(short);
    }
    Ok(())
}
