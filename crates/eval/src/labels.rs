//! Labels files: one line per input record, `0` for normal or `1 [CATEGORY]` for anomalous.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Category given to an anomalous line that names none (a bare `1`).
pub const DEFAULT_CATEGORY: &str = "anomalous";

/// Why a labels file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The labels file.
        path: PathBuf,
        /// The underlying failure.
        source: io::Error,
    },
    /// A line is not `0`, `1` or `1 CATEGORY`.
    #[error(
        "{}:{line}: {reason} (found {found:?}); expected `0`, `1` or `1 CATEGORY`",
        path.display()
    )]
    Invalid {
        /// The labels file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The offending line, truncated to 80 characters.
        found: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Ground truth for a sequence of records: anomalous or not, and a category for anomalies.
///
/// Category names are interned because a labels file has one line per log line and only a
/// handful of distinct categories.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels {
    anomalous: Vec<bool>,
    category: Vec<u32>,
    names: Vec<String>,
}

/// Marks a normal record in `Labels::category`.
const NO_CATEGORY: u32 = u32::MAX;

impl Labels {
    /// An empty set of labels.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one record's label. A category given for a normal record is ignored; an
    /// anomalous record without a category gets [`DEFAULT_CATEGORY`].
    pub fn push(&mut self, anomalous: bool, category: Option<&str>) {
        self.anomalous.push(anomalous);
        let idx =
            if anomalous { self.intern(category.unwrap_or(DEFAULT_CATEGORY)) } else { NO_CATEGORY };
        self.category.push(idx);
    }

    /// Appends `count` identical labels (for `--normal FILE` / `--anomalous FILE`).
    pub fn push_repeated(&mut self, count: usize, anomalous: bool, category: Option<&str>) {
        for _ in 0..count {
            self.push(anomalous, category);
        }
    }

    fn intern(&mut self, name: &str) -> u32 {
        match self.names.iter().position(|n| n == name) {
            Some(i) => i as u32,
            None => {
                self.names.push(name.to_owned());
                (self.names.len() - 1) as u32
            }
        }
    }

    /// Number of labeled records.
    pub fn len(&self) -> usize {
        self.anomalous.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.anomalous.is_empty()
    }

    /// One flag per record, true for anomalous; the form the metrics functions take.
    pub fn anomalous(&self) -> &[bool] {
        &self.anomalous
    }

    /// Number of anomalous records.
    pub fn anomalies(&self) -> usize {
        self.anomalous.iter().filter(|&&a| a).count()
    }

    /// Whether record `i` is anomalous. Panics when `i` is out of range, like indexing.
    pub fn is_anomalous(&self, i: usize) -> bool {
        self.anomalous[i]
    }

    /// Category of record `i`, `None` for normal records.
    pub fn category(&self, i: usize) -> Option<&str> {
        match self.category.get(i) {
            Some(&NO_CATEGORY) | None => None,
            Some(&c) => self.names.get(c as usize).map(String::as_str),
        }
    }

    /// Distinct category names in order of first appearance.
    pub fn category_names(&self) -> &[String] {
        &self.names
    }

    /// The labels of records in `range` (for a train/test split). Panics when the range is
    /// out of bounds, like slicing.
    pub fn slice(&self, range: Range<usize>) -> Labels {
        let mut out = Labels::new();
        for i in range {
            out.push(self.anomalous[i], self.category(i));
        }
        out
    }

    /// Reads a labels file.
    pub fn from_path(path: &Path) -> Result<Labels, LabelsError> {
        let file =
            File::open(path).map_err(|source| LabelsError::Io { path: path.to_owned(), source })?;
        Self::from_reader(BufReader::new(file), path)
    }

    /// Reads labels from `reader`; `path` names the source in errors.
    pub fn from_reader(reader: impl BufRead, path: &Path) -> Result<Labels, LabelsError> {
        let mut labels = Labels::new();
        for (i, line) in reader.lines().enumerate() {
            let line = line.map_err(|source| LabelsError::Io { path: path.to_owned(), source })?;
            let (anomalous, category) =
                parse_line(&line).map_err(|reason| LabelsError::Invalid {
                    path: path.to_owned(),
                    line: i + 1,
                    found: line.chars().take(80).collect(),
                    reason,
                })?;
            labels.push(anomalous, category);
        }
        Ok(labels)
    }
}

/// Parses one line; the error is a reason for the message.
fn parse_line(line: &str) -> Result<(bool, Option<&str>), &'static str> {
    // Tolerate CRLF files and trailing blanks, nothing else.
    let line = line.trim_end();
    let mut parts = line.splitn(2, ' ');
    let flag = parts.next().unwrap_or("");
    let rest = parts.next();
    match (flag, rest) {
        ("", _) => Err("blank line"),
        ("0", None) => Ok((false, None)),
        ("0", Some(_)) => Err("a normal record takes no category"),
        ("1", None) => Ok((true, None)),
        ("1", Some(cat)) => {
            if cat.is_empty() || cat.chars().any(char::is_whitespace) {
                Err("the category must be one word after a single space")
            } else {
                Ok((true, Some(cat)))
            }
        }
        _ => Err("the label must be 0 or 1"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Labels, LabelsError> {
        Labels::from_reader(text.as_bytes(), Path::new("labels.txt"))
    }

    #[test]
    fn parses_all_forms() {
        let l = parse("0\n1\n1 sqli\r\n0\n1 scan\n1 sqli\n").unwrap();
        assert_eq!(l.len(), 6);
        assert_eq!(l.anomalies(), 4);
        assert_eq!(l.anomalous(), &[false, true, true, false, true, true]);
        assert_eq!(l.category(0), None);
        assert_eq!(l.category(1), Some(DEFAULT_CATEGORY));
        assert_eq!(l.category(2), Some("sqli"));
        assert_eq!(l.category(5), Some("sqli"));
        assert_eq!(l.category_names(), &["anomalous", "sqli", "scan"]);
        let s = l.slice(2..5);
        assert_eq!(s.anomalous(), &[true, false, true]);
        assert_eq!(s.category(2), Some("scan"));
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, line) in [("0\n\n1\n", 2), ("0\n1\nyes\n", 3), ("2\n", 1), ("1 a b\n", 1)] {
            let err = parse(text).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with(&format!("labels.txt:{line}: ")), "{msg}");
        }
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = Labels::from_path(Path::new("/nonexistent/labels")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/labels"));
    }

    #[test]
    fn empty_input_is_no_labels() {
        assert!(parse("").unwrap().is_empty());
    }
}
