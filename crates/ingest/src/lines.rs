//! Splitting a byte stream into lines (and HTTP requests) with bounded memory.

use std::io::{self, Read};

use memchr::memchr;

/// The longest line kept by default; longer lines are reported as too long and skipped
/// without being held in memory.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

const INITIAL_BUFFER: usize = 256 * 1024;
/// How much of an over-long line is kept to show in a reject report.
const LONG_PREFIX: usize = 256;

/// One unit read from the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Unit<'a> {
    /// A line (without `\n` or `\r\n`), or a framed HTTP request.
    Data(&'a [u8]),
    /// A line longer than the limit: its full length and its first bytes.
    TooLong {
        /// Length of the whole line in bytes.
        len: u64,
        /// The first bytes of the line.
        prefix: &'a [u8],
    },
}

/// Reads lines from a byte stream through one reusable buffer.
///
/// Memory is bounded by the maximum line length: a longer line is skipped as it streams
/// past and reported as [`Unit::TooLong`]. A final line without a newline is returned.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    max_line: usize,
    line_no: u64,
    bytes_read: u64,
    long_prefix: Vec<u8>,
    unit: Vec<u8>,
}

impl<R: Read> LineReader<R> {
    /// A reader with the default maximum line length.
    pub fn new(inner: R) -> Self {
        Self::with_max_line(inner, DEFAULT_MAX_LINE)
    }

    /// A reader that reports lines longer than `max_line` bytes as too long.
    pub fn with_max_line(inner: R, max_line: usize) -> Self {
        let max_line = max_line.max(1);
        LineReader {
            inner,
            buf: vec![0; INITIAL_BUFFER.min(max_line + 2).max(4096)],
            start: 0,
            end: 0,
            eof: false,
            max_line,
            line_no: 0,
            bytes_read: 0,
            long_prefix: Vec::new(),
            unit: Vec::new(),
        }
    }

    /// The 1-based number of the last line returned (0 before the first).
    pub fn line_number(&self) -> u64 {
        self.line_no
    }

    /// Bytes consumed from the underlying reader so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Up to `n` complete lines at the head of the input, without consuming them (for
    /// sniffing the format). Reads at most about 1 MiB ahead.
    pub fn peek_lines(&mut self, n: usize) -> io::Result<Vec<&[u8]>> {
        loop {
            let window = &self.buf[self.start..self.end];
            let newlines = memchr::memchr_iter(b'\n', window).take(n).count();
            if newlines >= n || self.eof || window.len() >= (1 << 20) {
                break;
            }
            if !self.fill()? {
                break;
            }
        }
        let window = &self.buf[self.start..self.end];
        let mut lines: Vec<&[u8]> = window.split(|&b| b == b'\n').map(trim_cr).collect();
        if !self.eof || window.ends_with(b"\n") {
            // The last piece is incomplete (or empty after a final newline).
            lines.pop();
        }
        lines.truncate(n);
        Ok(lines)
    }

    /// The next line, with its 1-based line number, or `None` at the end of input.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, Unit<'_>)>> {
        loop {
            if let Some(pos) = memchr(b'\n', &self.buf[self.start..self.end]) {
                let line_start = self.start;
                let line_end = line_start + pos;
                self.start = line_end + 1;
                self.line_no += 1;
                let line = trim_cr(&self.buf[line_start..line_end]);
                if line.len() > self.max_line {
                    // A long line that happened to fit in the buffer is still too long.
                    let len = keep_prefix(&mut self.long_prefix, line);
                    return Ok(Some((
                        self.line_no,
                        Unit::TooLong { len, prefix: &self.long_prefix },
                    )));
                }
                return Ok(Some((self.line_no, Unit::Data(line))));
            }
            // One byte of slack: a line of exactly `max_line` bytes may still be waiting
            // for the `\n` of its `\r\n`.
            if self.end - self.start > self.max_line + 1 {
                let len = self.skip_long_line()?;
                self.line_no += 1;
                return Ok(Some((self.line_no, Unit::TooLong { len, prefix: &self.long_prefix })));
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let line_start = self.start;
                self.start = self.end;
                self.line_no += 1;
                let line = trim_cr(&self.buf[line_start..self.end]);
                if line.len() > self.max_line {
                    let len = keep_prefix(&mut self.long_prefix, line);
                    return Ok(Some((
                        self.line_no,
                        Unit::TooLong { len, prefix: &self.long_prefix },
                    )));
                }
                return Ok(Some((self.line_no, Unit::Data(line))));
            }
            self.fill()?;
        }
    }

    /// The next raw HTTP request (request line, headers, empty line, then a body of
    /// `Content-Length` bytes), its lines joined by `\n`, with the line number of its
    /// request line. Empty lines between requests are skipped.
    pub fn next_http_request(&mut self) -> io::Result<Option<(u64, Unit<'_>)>> {
        // The unit is built in a buffer taken out of `self`, so that lines can be read
        // into it; it is put back before returning a view of it.
        let mut unit = std::mem::take(&mut self.unit);
        unit.clear();
        let max = self.max_line;
        let first_line;
        let mut too_long = false;
        // Request line: the first non-empty line.
        loop {
            match self.next_line()? {
                None => {
                    self.unit = unit;
                    return Ok(None);
                }
                Some((_, Unit::Data(l))) if l.iter().all(u8::is_ascii_whitespace) => continue,
                Some((n, Unit::Data(l))) => {
                    first_line = n;
                    unit.extend_from_slice(l);
                    break;
                }
                Some((n, Unit::TooLong { .. })) => {
                    first_line = n;
                    too_long = true;
                    break;
                }
            }
        }
        // Headers up to the empty line.
        let mut content_length: u64 = 0;
        loop {
            match self.next_line()? {
                None => break,
                Some((_, Unit::Data([]))) => break,
                Some((_, Unit::Data(l))) => {
                    if let Some(v) = header_value(l, b"content-length") {
                        content_length = std::str::from_utf8(v)
                            .ok()
                            .and_then(|s| s.trim().parse().ok())
                            .unwrap_or(0);
                    }
                    push_line(&mut unit, l, max, &mut too_long);
                }
                Some((_, Unit::TooLong { .. })) => too_long = true,
            }
        }
        unit.push(b'\n');
        // Body: the following lines until Content-Length bytes are read or an empty line.
        let mut body_read: u64 = 0;
        while body_read < content_length {
            match self.next_line()? {
                None | Some((_, Unit::Data([]))) => break,
                Some((_, Unit::Data(l))) => {
                    body_read += l.len() as u64 + 1;
                    push_line(&mut unit, l, max, &mut too_long);
                }
                Some((_, Unit::TooLong { len, .. })) => {
                    body_read += len + 1;
                    too_long = true;
                }
            }
        }
        let len = unit.len() as u64;
        self.unit = unit;
        if too_long {
            self.unit.truncate(LONG_PREFIX);
            return Ok(Some((first_line, Unit::TooLong { len, prefix: &self.unit })));
        }
        Ok(Some((first_line, Unit::Data(&self.unit))))
    }

    /// Reads more input into the buffer; `false` at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(self.max_line + 2).max(self.buf.len() + 1);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    self.bytes_read += n as u64;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Consumes the over-long line at the head of the buffer through its newline,
    /// keeping its first bytes, and returns its length.
    fn skip_long_line(&mut self) -> io::Result<u64> {
        self.long_prefix.clear();
        let head = &self.buf[self.start..self.end];
        self.long_prefix.extend_from_slice(&head[..head.len().min(LONG_PREFIX)]);
        let mut len = 0u64;
        // A `\r` that ended the previous chunk belongs to a CRLF when `\n` comes next.
        let mut pending_cr = false;
        loop {
            let window = &self.buf[self.start..self.end];
            if let Some(pos) = memchr(b'\n', window) {
                len += pos as u64;
                if pos > 0 && window[pos - 1] == b'\r' || pos == 0 && pending_cr {
                    len -= 1;
                }
                self.start += pos + 1;
                return Ok(len);
            }
            len += window.len() as u64;
            pending_cr = window.last() == Some(&b'\r') || (window.is_empty() && pending_cr);
            self.start = self.end;
            if self.eof || !self.fill()? {
                return Ok(len - u64::from(pending_cr));
            }
        }
    }
}

/// Keeps the first bytes of an over-long line in `prefix` and returns its length.
fn keep_prefix(prefix: &mut Vec<u8>, line: &[u8]) -> u64 {
    prefix.clear();
    prefix.extend_from_slice(&line[..LONG_PREFIX.min(line.len())]);
    line.len() as u64
}

fn push_line(unit: &mut Vec<u8>, line: &[u8], max: usize, too_long: &mut bool) {
    if unit.len() + line.len() + 1 > max {
        *too_long = true;
        return;
    }
    unit.push(b'\n');
    unit.extend_from_slice(line);
}

/// The value of a `Name: value` header line when the name matches (ASCII case-insensitive).
fn header_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let colon = memchr(b':', line)?;
    line[..colon].trim_ascii().eq_ignore_ascii_case(name).then(|| line[colon + 1..].trim_ascii())
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_lines(input: &[u8], max: usize) -> Vec<(u64, String)> {
        let mut r = LineReader::with_max_line(input, max);
        let mut out = Vec::new();
        while let Some((n, unit)) = r.next_line().unwrap() {
            out.push((
                n,
                match unit {
                    Unit::Data(l) => String::from_utf8_lossy(l).into_owned(),
                    Unit::TooLong { len, .. } => format!("<too long: {len}>"),
                },
            ));
        }
        out
    }

    #[test]
    fn lines_crlf_and_final_line_without_newline() {
        let got = all_lines(b"a\r\nb\n\nlast", 100);
        let want = vec![(1, "a"), (2, "b"), (3, ""), (4, "last")];
        assert_eq!(got, want.into_iter().map(|(n, s)| (n, s.to_string())).collect::<Vec<_>>());
        assert!(all_lines(b"", 100).is_empty());
        assert_eq!(all_lines(b"x\n", 100), vec![(1, "x".to_string())]);
    }

    #[test]
    fn long_lines_are_skipped_with_bounded_memory() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend_from_slice(b"\nafter\n");
        input.extend(std::iter::repeat_n(b'y', 5_000));
        let got = all_lines(&input, 1000);
        assert_eq!(got[0], (1, "short".to_string()));
        assert_eq!(got[1], (2, "<too long: 10000>".to_string()));
        assert_eq!(got[2], (3, "after".to_string()));
        assert_eq!(got[3], (4, "<too long: 5000>".to_string()));
        assert_eq!(got.len(), 4);
        let mut r = LineReader::with_max_line(&input[..], 1000);
        while r.next_line().unwrap().is_some() {}
        // The buffer never grows past the limit (plus CRLF), whatever the line length.
        assert!(r.buf.len() <= 4096, "{}", r.buf.len());
    }

    #[test]
    fn peek_does_not_consume() {
        let mut r = LineReader::new(&b"one\ntwo\r\nthree"[..]);
        assert_eq!(r.peek_lines(5).unwrap(), vec![&b"one"[..], b"two", b"three"]);
        assert_eq!(r.peek_lines(1).unwrap(), vec![&b"one"[..]]);
        let Some((1, Unit::Data(l))) = r.next_line().unwrap() else { panic!() };
        assert_eq!(l, b"one");
    }

    #[test]
    fn http_requests_are_framed() {
        let input = b"GET http://h/a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n\r\n\
POST http://h/b HTTP/1.1\r\nContent-Length: 7\r\n\r\nid=3&x=\r\n\r\n\
GET http://h/c HTTP/1.1\nHost: h\n\n";
        let mut r = LineReader::new(&input[..]);
        let mut got = Vec::new();
        while let Some((n, Unit::Data(u))) = r.next_http_request().unwrap() {
            got.push((n, String::from_utf8_lossy(u).into_owned()));
        }
        assert_eq!(
            got,
            vec![
                (1, "GET http://h/a?x=1 HTTP/1.1\nHost: h\n".to_string()),
                (5, "POST http://h/b HTTP/1.1\nContent-Length: 7\n\nid=3&x=".to_string()),
                (10, "GET http://h/c HTTP/1.1\nHost: h\n".to_string()),
            ]
        );
    }

    proptest! {
        #[test]
        fn lines_are_lossless(input in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()], 0..3000), max in 1usize..64) {
            // Joining the returned lines (long ones counted by length) gives back the input.
            let mut r = LineReader::with_max_line(&input[..], max);
            let mut total = 0u64;
            let mut count = 0u64;
            while let Some((n, unit)) = r.next_line().unwrap() {
                count += 1;
                prop_assert_eq!(n, count);
                total += match unit {
                    Unit::Data(l) => {
                        prop_assert!(l.len() <= max, "a {}-byte line passed a limit of {max}", l.len());
                        l.len() as u64
                    }
                    Unit::TooLong { len, .. } => {
                        prop_assert!(len as usize > max);
                        len
                    }
                };
            }
            let newlines = input.iter().filter(|&&b| b == b'\n').count() as u64;
            let crlf = input.windows(2).filter(|w| w == b"\r\n").count() as u64;
            let trailing_cr = u64::from(input.ends_with(b"\r"));
            prop_assert_eq!(total, input.len() as u64 - newlines - crlf - trailing_cr);
            let expected_lines = newlines + u64::from(!input.is_empty() && !input.ends_with(b"\n"));
            prop_assert_eq!(count, expected_lines);
        }
    }
}
