//! Raw HTTP requests, as in the HTTP DATASET CSIC 2010 files: a request line with an
//! absolute URL, header lines, an empty line, then for `POST` the form body.
//!
//! The unit ([`Framing::HttpRequest`]) is the request's lines joined by `\n`; a body
//! follows the empty line. [`split_requests`] frames a whole buffer that way. The
//! target is kept as sent (`http://localhost:8080/tienda1/index.jsp?id=2`);
//! [`Record::path`] strips scheme and authority. `User-Agent`, `Host` and `Referer`
//! fill their fields, every other header goes to `extra` under its lowercased name
//! (`cookie`, `content-type`, `content-length`).

use std::borrow::Cow;

use crate::error::{ParseError, RejectReason};
use crate::format::{Format, Framing};
use crate::record::Record;

use super::request_line;
use super::text::{check_binary, text, trim_end};

/// The `csic2010` format (see the module doc).
#[derive(Debug, Clone, Copy, Default)]
pub struct Csic2010;

impl Format for Csic2010 {
    fn name(&self) -> &str {
        "csic2010"
    }

    fn framing(&self) -> Framing {
        Framing::HttpRequest
    }

    fn parse<'a>(&self, unit: &'a [u8]) -> Result<Record<'a>, ParseError> {
        check_binary(unit)?;
        let mut rec = Record::default();
        let mut lines = Lines { unit, pos: 0 };
        let (start, request) = loop {
            match lines.next() {
                None => return Err(ParseError::new(RejectReason::Empty, "line", 0)),
                Some((_, l)) if l.trim_ascii().is_empty() => continue,
                Some(found) => break found,
            }
        };
        let request = trim_end(request);
        (rec.method, rec.target, rec.protocol) = request_line::split(request);
        if rec.method.is_none() {
            return Err(ParseError::new(RejectReason::BadRequestLine, "request", start));
        }
        while let Some((at, line)) = lines.next() {
            if line.is_empty() {
                break;
            }
            let Some(colon) = memchr::memchr(b':', line) else {
                return Err(ParseError::new(RejectReason::Malformed, "header", at));
            };
            let name = line[..colon].trim_ascii();
            let value = text(line[colon + 1..].trim_ascii());
            if name.eq_ignore_ascii_case(b"user-agent") {
                rec.user_agent = Some(value);
            } else if name.eq_ignore_ascii_case(b"host") {
                rec.host = Some(value);
            } else if name.eq_ignore_ascii_case(b"referer") {
                rec.referer = Some(value);
            } else {
                rec.extra.push((lowercase(name), value));
            }
        }
        let body = trim_end(&unit[lines.pos.min(unit.len())..]);
        if !body.is_empty() {
            rec.body = Some(text(body));
        }
        Ok(rec)
    }
}

/// A header name in lowercase, borrowed when it already is.
fn lowercase(name: &[u8]) -> Cow<'_, str> {
    if name.iter().any(u8::is_ascii_uppercase) {
        Cow::Owned(text(name).to_ascii_lowercase())
    } else {
        text(name)
    }
}

/// The lines of a unit with their byte offsets, without `\r`.
struct Lines<'a> {
    unit: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        if self.pos >= self.unit.len() {
            return None;
        }
        let start = self.pos;
        let end = memchr::memchr(b'\n', &self.unit[start..]).map_or(self.unit.len(), |i| start + i);
        self.pos = end + 1;
        let line = &self.unit[start..end];
        Some((start, line.strip_suffix(b"\r").unwrap_or(line)))
    }

    /// The lines with their 1-based numbers.
    fn numbered(self) -> impl Iterator<Item = (usize, &'a [u8])> {
        let mut lines = self;
        let mut n = 0;
        std::iter::from_fn(move || {
            let (_, line) = lines.next()?;
            n += 1;
            Some((n, line))
        })
    }
}

/// Frames a buffer of raw HTTP requests into units for [`Csic2010::parse`]: each is the
/// request line, the headers and (after an empty line) the body, joined by `\n`, with
/// the 1-based line number of its request line. Empty lines between requests are
/// skipped; the body is the lines after the headers until `Content-Length` bytes are
/// read or an empty line.
pub fn split_requests(input: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut lines = Lines { unit: input, pos: 0 }.numbered();
    let mut out = Vec::new();
    while let Some((line_no, first)) = lines.find(|(_, l)| !l.trim_ascii().is_empty()) {
        let mut unit = first.to_vec();
        let mut content_length = 0u64;
        for (_, line) in lines.by_ref() {
            if line.is_empty() {
                break;
            }
            if let Some(colon) = memchr::memchr(b':', line)
                && line[..colon].trim_ascii().eq_ignore_ascii_case(b"content-length")
            {
                content_length = std::str::from_utf8(&line[colon + 1..])
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
            }
            unit.push(b'\n');
            unit.extend_from_slice(line);
        }
        unit.push(b'\n');
        let mut body_read = 0u64;
        while body_read < content_length {
            match lines.next() {
                None => break,
                Some((_, [])) => break,
                Some((_, line)) => {
                    body_read += line.len() as u64 + 1;
                    unit.push(b'\n');
                    unit.extend_from_slice(line);
                }
            }
        }
        out.push((line_no, unit));
    }
    out
}

/// How many of `sample` (non-empty lines of an input) look like parts of raw HTTP
/// requests: request lines with an absolute or origin-form target and `Name: value`
/// header lines; zero unless at least one request line is present.
pub(crate) fn sample_score(sample: &[&[u8]]) -> usize {
    let mut requests = 0;
    let mut headers = 0;
    for line in sample {
        let line = trim_end(line);
        let (method, _, protocol) = request_line::split(line);
        if method.is_some() && protocol.is_some() {
            requests += 1;
        } else if is_header(line) {
            headers += 1;
        }
    }
    if requests == 0 { 0 } else { requests + headers }
}

fn is_header(line: &[u8]) -> bool {
    match memchr::memchr(b':', line) {
        Some(colon) if colon > 0 => {
            line[..colon].iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: &[u8] = b"GET http://localhost:8080/tienda1/index.jsp HTTP/1.1\r\n\
User-Agent: Mozilla/5.0 (compatible; Konqueror/3.5; Linux) KHTML/3.5.8 (like Gecko)\r\n\
Host: localhost:8080\r\n\
Cookie: JSESSIONID=1F767F17239C9B670A39E9B10C3825F4\r\n\
\r\n\
\r\n\
POST http://localhost:8080/tienda1/publico/anadir.jsp HTTP/1.1\r\n\
Host: localhost:8080\r\n\
Content-Type: application/x-www-form-urlencoded\r\n\
Content-Length: 17\r\n\
\r\n\
id=2&nombre=Jam%F3n\r\n\
\r\n";

    #[test]
    fn frames_and_parses_get_and_post() {
        let units = split_requests(INPUT);
        assert_eq!(units.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 7]);
        let get = Csic2010.parse(&units[0].1).unwrap();
        assert_eq!(get.method.as_deref(), Some("GET"));
        assert_eq!(get.path(), Some("/tienda1/index.jsp"));
        assert_eq!(get.host.as_deref(), Some("localhost:8080"));
        assert_eq!(get.extra("cookie"), Some("JSESSIONID=1F767F17239C9B670A39E9B10C3825F4"));
        assert_eq!(get.body, None);
        let post = Csic2010.parse(&units[1].1).unwrap();
        assert_eq!(post.method.as_deref(), Some("POST"));
        assert_eq!(post.body.as_deref(), Some("id=2&nombre=Jam%F3n"));
        assert_eq!(post.extra("content-type"), Some("application/x-www-form-urlencoded"));
        assert_eq!(post.user_agent, None);
    }

    #[test]
    fn rejects() {
        assert_eq!(Csic2010.parse(b"\n\n").unwrap_err().reason, RejectReason::Empty);
        assert_eq!(Csic2010.parse(b"junk").unwrap_err().reason, RejectReason::BadRequestLine);
        let err = Csic2010.parse(b"GET / HTTP/1.1\nno colon here").unwrap_err();
        assert_eq!((err.reason, err.field, err.column), (RejectReason::Malformed, "header", 15));
    }
}
