//! The predefined `combined` and `common` formats of Apache and nginx:
//!
//! ```text
//! client ident user [time] "request" status bytes                          (common)
//! client ident user [time] "request" status bytes "referer" "user-agent"   (combined)
//! ```
//!
//! `combined` also accepts fields after the user agent: the first, when it is a number
//! or `-`, is the request time in seconds (nginx `$request_time`); the others (and a
//! first one that is not a number) are kept in `extra` as `field_N`, `N` being the
//! 1-based position of the field in the line (the user agent is field 9). They may be
//! quoted.
//!
//! A hand-written scanner: one pass over the bytes with `memchr`, no allocation unless a
//! field holds escapes or invalid UTF-8. Quoted fields end at the first unescaped `"`
//! followed by a space or the end of the line.
//!
//! A line cut short inside the referer or the user agent (a writer that truncates long
//! lines) is kept: the request fields before it are complete. The cut field holds what
//! was logged and `extra` gets `truncated` = the field's name. A line cut earlier is
//! rejected as `malformed`.

use std::borrow::Cow;

use crate::error::{ParseError, RejectReason};
use crate::format::Format;
use crate::record::{Field, Record};
use crate::timestamp::Timestamp;

use super::request_line;
use super::text::{self, ByteClasses, Src, check_binary, closing_quote, trim_end, word_end};

/// `combined` or `common` (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct Clf {
    combined: bool,
}

impl Clf {
    /// The `combined` format (with an optional trailing request time).
    pub fn combined() -> Clf {
        Clf { combined: true }
    }

    /// The `common` format.
    pub fn common() -> Clf {
        Clf { combined: false }
    }
}

impl Format for Clf {
    fn name(&self) -> &str {
        if self.combined { "combined" } else { "common" }
    }

    fn parse<'a>(&self, unit: &'a [u8]) -> Result<Record<'a>, ParseError> {
        // One pass finds NUL bytes, backslashes and non-ASCII bytes alike.
        let classes = ByteClasses::of(unit);
        if classes.nul {
            check_binary(unit)?;
        }
        let line = trim_end(unit);
        if line.is_empty() {
            return Err(ParseError::new(RejectReason::Empty, "line", 0));
        }
        let mut rec = Record::default();
        let mut scan = Scanner { line, src: Src::classified(line, classes), pos: 0 };
        let end = scan.word("client")?;
        rec.client = scan.src.field(0, end);
        scan.pos = end + 1;
        let end = scan.word("ident")?;
        rec.ident = scan.src.field(scan.pos, end);
        scan.pos = end + 1;

        // The user name may hold spaces; it ends at ` [`.
        let open = match memchr::memchr(b'[', &line[scan.pos..]) {
            Some(i) if i >= 2 && line[scan.pos + i - 1] == b' ' => scan.pos + i,
            _ => return Err(scan.malformed("user")),
        };
        rec.user = scan.src.field(scan.pos, open - 1);
        let ts_start = open + 1;
        let Some(close) = memchr::memchr(b']', &line[ts_start..]).map(|i| ts_start + i) else {
            return Err(ParseError::new(RejectReason::Malformed, "time", ts_start));
        };
        rec.ts = Some(Timestamp::parse_clf(&line[ts_start..close]).ok_or(ParseError::new(
            RejectReason::BadTimestamp,
            "time",
            ts_start,
        ))?);
        scan.pos = close + 1;

        scan.expect(b" \"", "request")?;
        let Some(q) = closing_quote(line, scan.pos) else { return Err(scan.malformed("request")) };
        (rec.method, rec.target, rec.protocol) = request_line::split_in(&scan.src, scan.pos, q);
        scan.pos = q + 1;

        scan.expect(b" ", "status")?;
        let end = scan.word_or_end();
        rec.status = text::status(&line[scan.pos..end], scan.pos)?;
        scan.pos = end;
        scan.expect(b" ", "bytes")?;
        let end = scan.word_or_end();
        rec.bytes = text::bytes(&line[scan.pos..end], "bytes", scan.pos)?;
        scan.pos = end;

        if !self.combined {
            if scan.pos < line.len() {
                return Err(scan.malformed("line"));
            }
            return Ok(rec);
        }
        scan.expect(b" \"", "referer")?;
        match scan.quoted() {
            Some(v) => rec.referer = v,
            None => {
                rec.referer = scan.src.field(scan.pos, line.len());
                rec.extra.push((Cow::Borrowed("truncated"), Cow::Borrowed("referer")));
                return Ok(rec);
            }
        }
        scan.expect(b" \"", "user_agent")?;
        match scan.quoted() {
            Some(v) => rec.user_agent = v,
            None => {
                rec.user_agent = scan.src.field(scan.pos, line.len());
                rec.extra.push((Cow::Borrowed("truncated"), Cow::Borrowed("user_agent")));
                return Ok(rec);
            }
        }
        trailing_fields(&mut scan, &mut rec);
        Ok(rec)
    }
}

/// Fields after the user agent (see the module doc).
fn trailing_fields<'a>(scan: &mut Scanner<'a>, rec: &mut Record<'a>) {
    let line = scan.line;
    let mut position = 9;
    while scan.pos < line.len() {
        while scan.pos < line.len() && line[scan.pos] == b' ' {
            scan.pos += 1;
        }
        if scan.pos == line.len() {
            break;
        }
        position += 1;
        let (start, end, quoted) = if line[scan.pos] == b'"' {
            let start = scan.pos + 1;
            let end = closing_quote(line, start).unwrap_or(line.len());
            scan.pos = (end + 1).min(line.len());
            (start, end, true)
        } else {
            let start = scan.pos;
            scan.pos = scan.word_or_end();
            (start, scan.pos, false)
        };
        let raw = &line[start..end];
        if raw == b"-" {
            continue;
        }
        let request_time = if position == 10 && !quoted { text::decimal(raw) } else { None };
        if request_time.is_some() {
            rec.request_time = request_time;
            continue;
        }
        rec.extra.push((Cow::Borrowed(positional_name(position)), scan.src.text(start, end)));
    }
}

/// `field_N` without allocating for the positions real logs use.
fn positional_name(position: usize) -> &'static str {
    const NAMES: [&str; 16] = [
        "field_10", "field_11", "field_12", "field_13", "field_14", "field_15", "field_16",
        "field_17", "field_18", "field_19", "field_20", "field_21", "field_22", "field_23",
        "field_24", "field_25",
    ];
    match position.checked_sub(10).and_then(|i| NAMES.get(i)) {
        Some(name) => name,
        None => super::intern(&format!("field_{position}")),
    }
}

/// A cursor over one line.
struct Scanner<'a> {
    line: &'a [u8],
    src: Src<'a>,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn malformed(&self, field: &'static str) -> ParseError {
        ParseError::new(RejectReason::Malformed, field, self.pos)
    }

    /// The end of a non-empty space-terminated word at `pos`.
    #[inline(always)]
    fn word(&self, field: &'static str) -> Result<usize, ParseError> {
        match word_end(self.line, self.pos) {
            end if end > self.pos && end < self.line.len() => Ok(end),
            _ => Err(self.malformed(field)),
        }
    }

    /// The end of the word at `pos`: the next space or the end of the line.
    #[inline(always)]
    fn word_or_end(&self) -> usize {
        word_end(self.line, self.pos)
    }

    /// Consumes `lit`, or fails naming the field that should follow it.
    #[inline(always)]
    fn expect(&mut self, lit: &[u8], field: &'static str) -> Result<(), ParseError> {
        if self.line[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(self.malformed(field))
        }
    }

    /// The quoted field whose text starts at `pos` (after the opening quote), moving
    /// past the closing quote; `None` when the line ends before the closing quote.
    #[inline(always)]
    fn quoted(&mut self) -> Option<Field<'a>> {
        let q = closing_quote(self.line, self.pos)?;
        let value = self.src.field(self.pos, q);
        self.pos = q + 1;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] = br#"203.0.113.7 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif?x=1 HTTP/1.0" 200 2326 "http://example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#;

    fn combined(line: &[u8]) -> Result<Record<'_>, ParseError> {
        Clf::combined().parse(line)
    }

    #[test]
    fn ordinary_line_borrows_everything() {
        let r = combined(LINE).unwrap();
        assert_eq!(r.client.as_deref(), Some("203.0.113.7"));
        assert_eq!(r.ident, None);
        assert_eq!(r.user.as_deref(), Some("frank"));
        assert_eq!(r.ts.unwrap().to_string(), "2000-10-10T13:55:36-07:00");
        assert_eq!(r.method.as_deref(), Some("GET"));
        assert_eq!(r.target.as_deref(), Some("/a.gif?x=1"));
        assert_eq!(r.protocol.as_deref(), Some("HTTP/1.0"));
        assert_eq!((r.status, r.bytes), (Some(200), Some(2326)));
        assert_eq!(r.referer.as_deref(), Some("http://example.com/start.html"));
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/4.08 [en] (Win98; I ;Nav)"));
        assert_eq!(r.request_time, None);
        for f in [&r.client, &r.user, &r.method, &r.target, &r.referer, &r.user_agent] {
            assert!(matches!(f, Some(Cow::Borrowed(_))));
        }
    }

    #[test]
    fn common_is_strict_about_trailing_data() {
        let line = br#"::1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 304 -"#;
        let r = Clf::common().parse(line).unwrap();
        assert_eq!((r.client.as_deref(), r.status, r.bytes), (Some("::1"), Some(304), None));
        let err = Clf::common().parse(LINE).unwrap_err();
        assert_eq!((err.reason, err.field), (RejectReason::Malformed, "line"));
        // And combined needs the referer and user agent.
        let err = combined(line).unwrap_err();
        assert_eq!((err.field, err.column), ("referer", line.len()));
    }

    #[test]
    fn request_time_and_extra_fields() {
        let mut line = LINE.to_vec();
        line.extend_from_slice(br#" 0.042 "10.0.0.1, 10.0.0.2" up-7   "#);
        let r = combined(&line).unwrap();
        assert_eq!(r.request_time, Some(0.042));
        assert_eq!(r.extra("field_11"), Some("10.0.0.1, 10.0.0.2"));
        assert_eq!(r.extra("field_12"), Some("up-7"));
        let mut line = LINE.to_vec();
        line.extend_from_slice(b" abc");
        let r = combined(&line).unwrap();
        assert_eq!((r.request_time, r.extra("field_10")), (None, Some("abc")));
    }

    #[test]
    fn escapes_and_invalid_utf8() {
        let line = b"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /\\x22a\\x5Cb HTTP/1.1\" 200 1 \"-\" \"say \\\"hi\\\" \\\\ \xff\"";
        let r = combined(line).unwrap();
        assert_eq!(r.target.as_deref(), Some(r#"/"a\b"#));
        assert_eq!(r.user_agent.as_deref(), Some(r#"say "hi" \ \xFF"#));
    }

    #[test]
    fn errors_name_field_and_column() {
        let cases: [(&[u8], RejectReason, &str, usize); 6] = [
            (b"", RejectReason::Empty, "line", 0),
            (
                b"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 2x0 5 \"-\" \"-\"",
                RejectReason::BadStatus,
                "status",
                58,
            ),
            (
                b"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200 5k \"-\" \"-\"",
                RejectReason::BadNumber,
                "bytes",
                62,
            ),
            (
                b"1.2.3.4 - - [10/Oct/2000:99:55:36 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\"",
                RejectReason::BadTimestamp,
                "time",
                13,
            ),
            (
                b"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HT",
                RejectReason::Malformed,
                "request",
                42,
            ),
            (b"1.2.3.4 - - [10/Oct\0", RejectReason::Binary, "line", 19),
        ];
        for (line, reason, field, column) in cases {
            let err = combined(line).unwrap_err();
            assert_eq!((err.reason, err.field, err.column), (reason, field, column), "{err}");
        }
    }

    #[test]
    fn truncated_user_agent_is_kept() {
        let line = br#"1.2.3.4 - - [20/May/2015:12:05:17 +0000] "GET /a HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html"#;
        let r = combined(line).unwrap();
        assert_eq!(r.status, Some(200));
        assert_eq!(r.extra("truncated"), Some("user_agent"));
        assert!(r.user_agent.as_deref().unwrap().ends_with("bot.html"));
    }
}
