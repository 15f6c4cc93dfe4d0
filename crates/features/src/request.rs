//! The decoded view of one request that the content families share: decoded path, path
//! template, parameters (query string and form body) and the decoded text they scan.
//!
//! A [`RequestView`] is reused from record to record, so its buffers are allocated once
//! per stream, not once per record.

use std::ops::Range;

use anomalog_ingest::Record;

use crate::template;

/// Requests with more parameters than this have the rest ignored (and counted), so a
/// hostile request cannot make the work per record unbounded.
pub const MAX_PARAMS: usize = 256;

/// Where a parameter came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamSource {
    /// The query string.
    Query,
    /// A form-encoded request body.
    Body,
}

/// One decoded `name=value` pair; the ranges index [`RequestView::text`].
#[derive(Debug, Clone)]
pub struct Param {
    /// The decoded name.
    pub name: Range<usize>,
    /// The decoded value (empty when the pair had no `=`).
    pub value: Range<usize>,
    /// Query string or body.
    pub source: ParamSource,
}

/// The decoded parts of a request.
#[derive(Debug, Default)]
pub struct RequestView {
    /// Whether the record had a request target at all.
    pub has_target: bool,
    /// The percent-decoded path.
    pub path: String,
    /// The path template (see [`template::path_template`]).
    pub template: String,
    /// The lowercased file extension, empty when none.
    pub extension: String,
    /// Decoded parameter names and values, indexed by [`Param`].
    pub text: String,
    /// The parameters in request order (query first, then body).
    pub params: Vec<Param>,
    /// Parameters beyond [`MAX_PARAMS`] that were not decoded.
    pub params_dropped: usize,
    /// Decoded path, query and body as one text, for the lexical scans. The path is
    /// `content[..payload_start]`; the query and body follow.
    pub content: Vec<u8>,
    /// Where the query and body start in `content`.
    pub payload_start: usize,
    /// Length of the raw (undecoded) path, query and body in bytes; `None` when absent.
    pub raw_path_len: Option<usize>,
    /// See `raw_path_len`.
    pub raw_query_len: Option<usize>,
    /// See `raw_path_len`.
    pub raw_body_len: Option<usize>,
    /// `%XX` escapes in the raw target and body.
    pub percent_escapes: usize,
    /// `%XX` escapes still present after one decoding (`%2527` -> `%27`): double
    /// encoding, a classic filter evasion.
    pub double_escapes: usize,
    scratch: Vec<u8>,
}

impl RequestView {
    /// Fills the view from a record, reusing the buffers.
    pub fn load(&mut self, record: &Record<'_>) {
        self.path.clear();
        self.template.clear();
        self.extension.clear();
        self.text.clear();
        self.params.clear();
        self.params_dropped = 0;
        self.content.clear();
        self.percent_escapes = 0;
        self.double_escapes = 0;
        self.has_target = record.target.is_some();
        let (path, query) = split_target(record);
        self.raw_path_len = path.map(str::len);
        self.raw_query_len = query.map(str::len);
        self.raw_body_len = record.body.as_deref().map(str::len);

        if let Some(path) = path {
            self.percent_escapes += count_escapes(path.as_bytes());
            decode_into(path, false, &mut self.scratch, &mut self.path);
            self.double_escapes += count_escapes(self.path.as_bytes());
            template::path_template(&self.path, &mut self.template);
            template::extension(&self.path, &mut self.extension);
            self.content.extend_from_slice(self.path.as_bytes());
        }
        self.payload_start = self.content.len();
        if let Some(query) = query {
            self.percent_escapes += count_escapes(query.as_bytes());
            self.content.push(b'?');
            self.parse_params(query, ParamSource::Query);
        }
        if let Some(body) = record.body.as_deref() {
            self.percent_escapes += count_escapes(body.as_bytes());
            self.content.push(b'\n');
            if looks_form_encoded(body) {
                self.parse_params(body, ParamSource::Body);
            } else {
                let start = self.text.len();
                decode_into(body, false, &mut self.scratch, &mut self.text);
                self.double_escapes += count_escapes(&self.text.as_bytes()[start..]);
                self.content.extend_from_slice(&self.text.as_bytes()[start..]);
                self.text.truncate(start);
            }
        }
    }

    fn parse_params(&mut self, encoded: &str, source: ParamSource) {
        for pair in encoded.split('&') {
            if pair.is_empty() {
                continue;
            }
            if self.params.len() >= MAX_PARAMS {
                self.params_dropped += 1;
                continue;
            }
            let (name, value) = match memchr::memchr(b'=', pair.as_bytes()) {
                Some(eq) => (&pair[..eq], Some(&pair[eq + 1..])),
                None => (pair, None),
            };
            let n0 = self.text.len();
            decode_into(name, true, &mut self.scratch, &mut self.text);
            let n1 = self.text.len();
            if let Some(value) = value {
                decode_into(value, true, &mut self.scratch, &mut self.text);
            }
            let v1 = self.text.len();
            let decoded = &self.text.as_bytes()[n0..v1];
            self.double_escapes += count_escapes(decoded);
            if self.content.last().is_some_and(|&b| b != b'?' && b != b'\n') {
                self.content.push(b'&');
            }
            self.content.extend_from_slice(&self.text.as_bytes()[n0..n1]);
            if value.is_some() {
                self.content.push(b'=');
                self.content.extend_from_slice(&self.text.as_bytes()[n1..v1]);
            }
            self.params.push(Param { name: n0..n1, value: n1..v1, source });
        }
    }

    /// The decoded name of a parameter.
    pub fn name(&self, p: &Param) -> &str {
        &self.text[p.name.clone()]
    }

    /// The decoded value of a parameter.
    pub fn value(&self, p: &Param) -> &str {
        &self.text[p.value.clone()]
    }

    /// The decoded query and body part of [`RequestView::content`].
    pub fn payload(&self) -> &[u8] {
        &self.content[self.payload_start..]
    }
}

/// [`Record::path`] and [`Record::query`] in one scan of the target. An origin-form
/// target (`/...`, nearly all of them) has no authority to strip, so only the others
/// take the general route.
fn split_target<'r>(record: &'r Record<'_>) -> (Option<&'r str>, Option<&'r str>) {
    match record.target.as_deref() {
        Some(target) if target.starts_with('/') => match memchr::memchr(b'?', target.as_bytes()) {
            Some(q) => (Some(&target[..q]), Some(&target[q + 1..])),
            None => (Some(target), None),
        },
        _ => (record.path(), record.query()),
    }
}

/// Bodies that start like JSON or XML are not form data; anything else is read as
/// `name=value&...` (a body with no `=` becomes one parameter name, which the profiles
/// then see as never-seen).
fn looks_form_encoded(body: &str) -> bool {
    !matches!(body.trim_start().as_bytes().first(), Some(b'{' | b'[' | b'<'))
}

/// Counts valid `%XX` escapes.
pub fn count_escapes(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'%', bytes)
        .filter(|&i| {
            i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit()
        })
        .count()
}

/// Appends the decoding of `s` to `out`, with the semantics of
/// [`anomalog_ingest::percent_decode`] / [`anomalog_ingest::form_decode`] (bytes that
/// are not UTF-8 are read as Latin-1; malformed escapes stay as text) but into a reused
/// buffer.
pub fn decode_into(s: &str, plus_is_space: bool, scratch: &mut Vec<u8>, out: &mut String) {
    let bytes = s.as_bytes();
    let needs = memchr::memchr(b'%', bytes).is_some()
        || (plus_is_space && memchr::memchr(b'+', bytes).is_some());
    if !needs {
        out.push_str(s);
        return;
    }
    scratch.clear();
    anomalog_ingest::percent_decode_bytes(s, plus_is_space, scratch);
    match std::str::from_utf8(scratch) {
        Ok(text) => out.push_str(text),
        Err(_) => out.extend(scratch.iter().map(|&b| b as char)),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use anomalog_ingest::{form_decode, percent_decode};
    use proptest::prelude::*;

    use super::*;

    fn view(target: &str, body: Option<&str>) -> RequestView {
        let r = Record {
            target: Some(Cow::Borrowed(target)),
            body: body.map(Cow::Borrowed),
            ..Record::default()
        };
        let mut v = RequestView::default();
        v.load(&r);
        v
    }

    #[test]
    fn params_from_query_and_body() {
        let v = view("/shop/item/42?id=7&q=a+b%27&flag", Some("user=bob&pw=x%3Dy"));
        assert_eq!(v.template, "/shop/item/{n}");
        let pairs: Vec<_> = v.params.iter().map(|p| (v.name(p), v.value(p), p.source)).collect();
        assert_eq!(
            pairs,
            vec![
                ("id", "7", ParamSource::Query),
                ("q", "a b'", ParamSource::Query),
                ("flag", "", ParamSource::Query),
                ("user", "bob", ParamSource::Body),
                ("pw", "x=y", ParamSource::Body),
            ]
        );
        assert_eq!(v.content, b"/shop/item/42?id=7&q=a b'&flag\nuser=bob&pw=x=y");
        assert_eq!(v.payload(), b"?id=7&q=a b'&flag\nuser=bob&pw=x=y");
        assert_eq!(v.percent_escapes, 2);
        assert_eq!(v.double_escapes, 0);
    }

    #[test]
    fn double_encoding_is_seen() {
        let v = view("/a?x=%252e%252e%252f", None);
        assert_eq!(v.percent_escapes, 3);
        assert_eq!(v.double_escapes, 3);
    }

    #[test]
    fn missing_target_is_empty() {
        let mut v = RequestView::default();
        v.load(&Record::default());
        assert!(!v.has_target);
        assert!(v.params.is_empty() && v.content.is_empty());
        assert_eq!(v.raw_path_len, None);
    }

    #[test]
    fn params_are_bounded() {
        let target = format!("/a?{}", "x=1&".repeat(1000));
        let v = view(&target, None);
        assert_eq!(v.params.len(), MAX_PARAMS);
        assert_eq!(v.params_dropped, 1000 - MAX_PARAMS);
    }

    proptest! {
        #[test]
        fn decoding_matches_ingest(s in "[a-z%0-9A-F+é]{0,20}") {
            let (mut scratch, mut out) = (Vec::new(), String::new());
            decode_into(&s, false, &mut scratch, &mut out);
            prop_assert_eq!(&out, &percent_decode(&s));
            out.clear();
            decode_into(&s, true, &mut scratch, &mut out);
            prop_assert_eq!(&out, &form_decode(&s));
        }

        #[test]
        fn load_never_panics(target in "\\PC{0,60}", body in proptest::option::of("\\PC{0,30}")) {
            let _ = view(&target, body.as_deref());
        }
    }
}
