//! The log formats, one file each, and how `--format` picks one.
//!
//! - [`combined`]: `combined` (with an optional trailing request time) and `common`,
//!   the hot path, a hand-written byte scanner.
//! - `nginx:'<log_format>'` and `apache:'<LogFormat>'`: [`custom`] formats compiled
//!   once from the server's format string.
//! - [`json`]: one JSON object per line (nginx `escape=json`, Caddy, Traefik).
//! - [`csic2010`]: raw HTTP requests, framed by [`Framing::HttpRequest`](crate::Framing).
//! - [`uri`]: one request target per line.
//!
//! [`from_spec`] builds a format from its `--format` text; [`detect`] picks one from
//! the first lines of an input for `--format auto`.
//!
//! Shared conventions: a NUL byte rejects the line as binary; trailing whitespace is
//! ignored; `-` is missing; log escapes (`\"`, `\\`, `\xHH`) are decoded; bytes that
//! are not UTF-8 are kept as the text `\xHH`, never replaced.

mod apache;
pub mod combined;
pub mod csic2010;
pub mod custom;
pub mod json;
mod json_fields;
mod json_walk;
mod nginx;
mod request_line;
mod text;
pub mod uri;

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use crate::error::IngestError;
use crate::format::Format;

/// Options that adjust a format.
#[derive(Debug, Clone, Default)]
pub struct FormatOptions {
    /// `--field name=path` overrides for `json`: a record field name (`client`, `ts`,
    /// `status`, `request_time_ms`, ...) and the dotted path of the JSON value that
    /// fills it (`("client", "request.remote_ip")`).
    pub json_fields: Vec<(String, String)>,
}

/// The `--format` values, for `--help`.
pub const FORMAT_NAMES: &[&str] = &[
    "auto",
    "combined",
    "common",
    "nginx:'<log_format>'",
    "apache:'<LogFormat>'",
    "json",
    "csic2010",
    "uri",
];

/// Builds the format a `--format` value names: `combined`, `common`,
/// `nginx:'<log_format string>'`, `apache:'<LogFormat string>'` (the quotes are
/// optional, and a string copied from a server configuration, with its quotes and
/// backslash escapes, is accepted), `json`, `csic2010` or `uri`. `auto` is not a format:
/// see [`detect`].
///
/// ```
/// use anomalog_ingest::formats::{from_spec, FormatOptions};
///
/// let f = from_spec(r#"nginx:'$remote_addr [$time_local] "$request" $status'"#, &FormatOptions::default()).unwrap();
/// let r = f.parse(br#"10.0.0.1 [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.1" 200"#).unwrap();
/// assert_eq!(r.status, Some(200));
/// ```
pub fn from_spec(spec: &str, opts: &FormatOptions) -> Result<Box<dyn Format>, IngestError> {
    let bad = |message: &str| IngestError::BadFormatSpec {
        spec: spec.to_string(),
        message: message.to_string(),
    };
    let trimmed = spec.trim();
    if let Some(body) = trimmed.strip_prefix("nginx:") {
        let format = unquote(body).map_err(|m| bad(&m))?;
        return Ok(Box::new(nginx::compile(&format, spec)?));
    }
    if let Some(body) = trimmed.strip_prefix("apache:") {
        let format = unquote(body).map_err(|m| bad(&m))?;
        return Ok(Box::new(apache::compile(&format, spec)?));
    }
    Ok(match trimmed {
        "combined" => Box::new(combined::Clf::combined()),
        "common" => Box::new(combined::Clf::common()),
        "json" => Box::new(json::Json::new(&opts.json_fields)?),
        "csic2010" => Box::new(csic2010::Csic2010),
        "uri" => Box::new(uri::Uri),
        "auto" => return Err(bad("`auto` picks a format per input; it is not one itself")),
        _ => {
            return Err(bad(
                "expected combined, common, nginx:'<log_format>', apache:'<LogFormat>', json, \
                 csic2010 or uri",
            ));
        }
    })
}

/// The format string of a custom spec: as is when unquoted; otherwise one or more
/// quoted strings as in a server configuration (`'...' '...'` are joined, `\"`, `\'`
/// and `\\` inside quotes stand for the character).
fn unquote(body: &str) -> Result<String, String> {
    let body = body.trim();
    if !body.starts_with(['\'', '"']) {
        if body.is_empty() {
            return Err("the format string is empty".into());
        }
        return Ok(body.to_string());
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(open) = chars.next() {
        if open.is_whitespace() {
            continue;
        }
        if open != '\'' && open != '"' {
            return Err(format!("unexpected `{open}` after a quoted format string"));
        }
        loop {
            match chars.next() {
                None => return Err(format!("unclosed {open} in the format string")),
                Some(c) if c == open => break,
                Some('\\') => match chars.next() {
                    Some(c @ ('"' | '\'' | '\\')) => out.push(c),
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => return Err(format!("unclosed {open} in the format string")),
                },
                Some(c) => out.push(c),
            }
        }
    }
    Ok(out)
}

/// Picks the format for `--format auto` from the first (up to about 20) non-empty
/// lines of an input: the one that parses the most of them, ties going to the first of
/// combined, common, json, csic2010, uri. `None` when none parses at least half.
/// Custom formats are never guessed.
pub fn detect(sample: &[&[u8]], opts: &FormatOptions) -> Option<Box<dyn Format>> {
    let sample: Vec<&[u8]> =
        sample.iter().copied().filter(|l| !l.trim_ascii().is_empty()).collect();
    if sample.is_empty() {
        return None;
    }
    let parses = |f: &dyn Format| sample.iter().filter(|l| f.parse(l).is_ok()).count();
    let json = json::Json::new(&opts.json_fields).unwrap_or_default();
    let candidates: [(Box<dyn Format>, usize); 5] = [
        (Box::new(combined::Clf::combined()), parses(&combined::Clf::combined())),
        (Box::new(combined::Clf::common()), parses(&combined::Clf::common())),
        (Box::new(json.clone()), parses(&json)),
        (Box::new(csic2010::Csic2010), csic2010::sample_score(&sample)),
        (Box::new(uri::Uri), parses(&uri::Uri)),
    ];
    let mut best: Option<(Box<dyn Format>, usize)> = None;
    for (format, score) in candidates {
        if best.as_ref().is_none_or(|(_, s)| score > *s) {
            best = Some((format, score));
        }
    }
    best.filter(|(_, score)| *score > 0 && score * 2 >= sample.len()).map(|(f, _)| f)
}

/// A `'static` copy of a field name made at format compile time, stored once per
/// distinct name for the life of the process, so records can name their extras
/// without allocating per line.
pub(crate) fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = names.get(name) {
        return found;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> FormatOptions {
        FormatOptions::default()
    }

    #[test]
    fn specs() {
        for (spec, name) in [
            ("combined", "combined"),
            ("common", "common"),
            ("json", "json"),
            ("csic2010", "csic2010"),
            ("uri", "uri"),
            ("nginx:$remote_addr $status", "nginx:'$remote_addr $status'"),
            ("nginx:'$remote_addr' '$status'", "nginx:'$remote_addr$status'"),
        ] {
            match from_spec(spec, &opts()) {
                Ok(f) => assert_eq!(f.name(), name),
                Err(e) if spec.contains("' '") => assert!(e.to_string().contains("follow")),
                Err(e) => panic!("{spec}: {e}"),
            }
        }
        for bad in ["auto", "clf", "nginx:", "nginx:'$x", "apache:'%Z'"] {
            assert!(from_spec(bad, &opts()).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_quoting() {
        assert_eq!(unquote(r#"'a "$x" ' '$y'"#).unwrap(), r#"a "$x" $y"#);
        assert_eq!(unquote(r#""%h \"%r\" %>s""#).unwrap(), r#"%h "%r" %>s"#);
        assert_eq!(unquote("%h %s").unwrap(), "%h %s");
        assert!(unquote("'open").is_err());
        assert!(unquote("'a' b").is_err());
    }

    #[test]
    fn detects_each_format() {
        let combined: &[u8] =
            br#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "x""#;
        let timed: &[u8] =
            br#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "x" 0.001"#;
        let common: &[u8] = br#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1"#;
        let json: &[u8] = br#"{"status":200,"uri":"/"}"#;
        let uri: &[u8] = b"/index.php?id=1";
        let name = |lines: &[&[u8]]| detect(lines, &opts()).map(|f| f.name().to_string());
        assert_eq!(name(&[combined, timed, b"junk"]).as_deref(), Some("combined"));
        assert_eq!(name(&[common, common, combined]).as_deref(), Some("common"));
        assert_eq!(name(&[json, json]).as_deref(), Some("json"));
        assert_eq!(name(&[uri, uri]).as_deref(), Some("uri"));
        let csic: [&[u8]; 4] = [
            b"GET http://localhost:8080/a HTTP/1.1",
            b"Host: localhost:8080",
            b"Accept: */*",
            b"id=1",
        ];
        assert_eq!(name(&csic).as_deref(), Some("csic2010"));
        assert_eq!(name(&[b"hello", b"world", uri]), None);
        assert_eq!(name(&[]), None);
    }

    #[test]
    fn interning_returns_one_copy() {
        let a = intern("$x_test");
        let b = intern(&String::from("$x_test"));
        assert!(std::ptr::eq(a, b));
    }
}
