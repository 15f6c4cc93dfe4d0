//! Replacing byte ranges of a text: the edits every redaction produces, merged and
//! applied in one pass.

use std::borrow::Cow;
use std::ops::Range;

/// What replaces a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Repl {
    /// A redaction marker ([`URL_MARKER`](crate::URL_MARKER) or
    /// [`TEXT_MARKER`](crate::TEXT_MARKER)).
    Marker(&'static str),
    /// A pseudonym or other replacement text.
    Text(String),
}

/// A set of replacements over one text.
#[derive(Debug, Default)]
pub(crate) struct Edits {
    edits: Vec<(Range<usize>, Repl)>,
}

impl Edits {
    pub(crate) fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    pub(crate) fn push(&mut self, range: Range<usize>, repl: Repl) {
        if !range.is_empty() {
            self.edits.push((range, repl));
        }
    }

    /// Adds secret ranges found in a part of the text that starts at `offset`.
    pub(crate) fn markers(&mut self, ranges: &[Range<usize>], offset: usize, marker: &'static str) {
        for r in ranges {
            self.push(r.start + offset..r.end + offset, Repl::Marker(marker));
        }
    }

    /// The edits sorted, overlapping ones merged: a marker wins over a pseudonym (a
    /// secret that contains an address is still a secret), otherwise the earlier,
    /// longer edit wins.
    fn merged(mut self) -> Vec<(Range<usize>, Repl)> {
        self.edits.sort_by(|a, b| a.0.start.cmp(&b.0.start).then(b.0.end.cmp(&a.0.end)));
        let mut out: Vec<(Range<usize>, Repl)> = Vec::with_capacity(self.edits.len());
        for (range, repl) in self.edits {
            match out.last_mut() {
                Some((last, last_repl)) if range.start < last.end => {
                    last.end = last.end.max(range.end);
                    if matches!(repl, Repl::Marker(_)) {
                        *last_repl = repl;
                    }
                }
                _ => out.push((range, repl)),
            }
        }
        out
    }

    /// `text` with the edits applied; borrowed when there are none.
    pub(crate) fn apply_str(self, text: &str) -> Cow<'_, str> {
        if self.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = Vec::with_capacity(text.len() + 16);
        self.apply_bytes(text.as_bytes(), &mut out);
        // Edits start and end on character boundaries and insert UTF-8, so this is
        // lossless; the lossy conversion only keeps a mistake from becoming a panic.
        Cow::Owned(match String::from_utf8(out) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Appends `bytes` with the edits applied to `out`.
    pub(crate) fn apply_bytes(self, bytes: &[u8], out: &mut Vec<u8>) {
        let mut at = 0;
        for (range, repl) in self.merged() {
            let start = range.start.min(bytes.len());
            let end = range.end.min(bytes.len());
            if start < at {
                continue;
            }
            out.extend_from_slice(&bytes[at..start]);
            match repl {
                Repl::Text(text) => out.extend_from_slice(text.as_bytes()),
                Repl::Marker(marker) if bare_json_value(bytes, start) => {
                    // A JSON number or literal becomes a string, so the line stays JSON.
                    out.push(b'"');
                    out.extend_from_slice(marker.as_bytes());
                    out.push(b'"');
                }
                Repl::Marker(marker) => out.extend_from_slice(marker.as_bytes()),
            }
            at = end;
        }
        out.extend_from_slice(&bytes[at.min(bytes.len())..]);
    }
}

/// Whether the value at `start` is an unquoted JSON value: it follows `":` (spaces
/// allowed after the colon).
fn bare_json_value(bytes: &[u8], start: usize) -> bool {
    let before = &bytes[..start];
    let Some(colon) = before.iter().rposition(|&b| b != b' ') else { return false };
    // `\":` is an escaped quote: JSON inside another quoted field, where added quotes
    // would end that field.
    before[colon] == b':'
        && colon > 0
        && before[colon - 1] == b'"'
        && (colon < 2 || before[colon - 2] != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_applies() {
        let mut e = Edits::default();
        e.push(0..3, Repl::Text("X".into()));
        e.push(6..9, Repl::Text("Y".into()));
        e.push(7..12, Repl::Marker("M"));
        assert_eq!(e.apply_str("abcdefghijklm"), "XdefMm");
        assert_eq!(Edits::default().apply_str("same"), "same");
    }

    #[test]
    fn bare_json_values_are_quoted() {
        let text = r#"{"token":123,"k": 4,"s":"x"}"#;
        let mut e = Edits::default();
        e.push(9..12, Repl::Marker("R"));
        e.push(18..19, Repl::Marker("R"));
        e.push(25..26, Repl::Marker("R"));
        assert_eq!(e.apply_str(text), r#"{"token":"R","k": "R","s":"R"}"#);
    }
}
