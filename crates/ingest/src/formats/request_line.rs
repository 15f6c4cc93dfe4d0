//! The logged request line (`"GET /a?b HTTP/1.1"`), split into method, target and
//! protocol.
//!
//! Garbage is kept, not rejected: servers log whatever a client sent, and a line whose
//! request is TLS bytes sent to a plain-HTTP port (nginx logs `"\x16\x03\x01..."` with
//! status 400) or a scanner's junk is exactly the traffic anomaly detection is for. Such
//! a request has no method and no protocol, and its target is the request text exactly
//! as logged (escapes not decoded, so control bytes stay visible).

use std::ops::Range;

use crate::record::Field;

use super::text::{Src, text, unescape};

/// The shape of a request line, as byte ranges into it.
pub(crate) enum Shape {
    /// `-` or empty: no request.
    Missing,
    /// Not `METHOD TARGET [PROTOCOL]`: kept whole as the target.
    Garbage,
    /// Method, target and protocol.
    Parts(Range<usize>, Range<usize>, Option<Range<usize>>),
}

/// Finds method, target and protocol in a logged request line.
pub(crate) fn shape(raw: &[u8]) -> Shape {
    if raw.is_empty() || raw == b"-" {
        return Shape::Missing;
    }
    let Some(sp) = raw.iter().position(|&b| b == b' ') else { return Shape::Garbage };
    if sp == 0 || !raw[..sp].iter().all(|&b| is_tchar(b)) {
        return Shape::Garbage;
    }
    let mut start = sp + 1;
    while start < raw.len() && raw[start] == b' ' {
        start += 1;
    }
    if start == raw.len() {
        return Shape::Garbage;
    }
    let (mut end, protocol) = match last_space(raw, start) {
        Some(last) if is_protocol(&raw[start + last + 1..]) => {
            (start + last, Some(start + last + 1..raw.len()))
        }
        _ => (raw.len(), None),
    };
    while end > start && raw[end - 1] == b' ' {
        end -= 1;
    }
    if end == start {
        return Shape::Garbage;
    }
    Shape::Parts(0..sp, start..end, protocol)
}

/// The last space of `raw[start..]`, relative to `start`. Nearly every request ends
/// with ` HTTP/1.1` or the like, which holds it: no search then.
#[inline]
fn last_space(raw: &[u8], start: usize) -> Option<usize> {
    let n = raw.len();
    match raw.get(n.wrapping_sub(9)..) {
        Some([b' ', protocol @ ..]) if n - 9 >= start && is_common_protocol(protocol) => {
            Some(n - 9 - start)
        }
        _ => memchr::memrchr(b' ', raw.get(start..)?),
    }
}

/// Method, target and protocol of a request line; all missing for `-` or an empty
/// request.
pub(crate) fn split(raw: &[u8]) -> (Field<'_>, Field<'_>, Field<'_>) {
    match shape(raw) {
        Shape::Missing => (None, None, None),
        Shape::Garbage => (None, Some(text(raw)), None),
        Shape::Parts(m, t, p) => {
            (Some(unescape(&raw[m])), Some(unescape(&raw[t])), p.map(|p| text(&raw[p])))
        }
    }
}

/// Like [`split`], for the request line at `start..end` of a prepared line.
pub(crate) fn split_in<'a>(
    src: &Src<'a>,
    start: usize,
    end: usize,
) -> (Field<'a>, Field<'a>, Field<'a>) {
    let raw = &src.bytes()[start..end];
    match shape(raw) {
        Shape::Missing => (None, None, None),
        Shape::Garbage => (None, Some(text(raw)), None),
        Shape::Parts(m, t, p) => (
            Some(src.text(start + m.start, start + m.end)),
            Some(src.text(start + t.start, start + t.end)),
            p.map(|p| src.text(start + p.start, start + p.end)),
        ),
    }
}

/// RFC 9110 token characters, which a method is made of.
fn is_tchar(b: u8) -> bool {
    const TCHAR: [bool; 256] = {
        let mut table = [false; 256];
        let mut i = 0;
        while i < 256 {
            let b = i as u8;
            table[i] = b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                );
            i += 1;
        }
        table
    };
    TCHAR[usize::from(b)]
}

/// The protocols nearly every request names.
#[inline]
fn is_common_protocol(s: &[u8]) -> bool {
    matches!(s, b"HTTP/1.1" | b"HTTP/1.0" | b"HTTP/2.0")
}

/// `HTTP/1.1`, `HTTP/2.0`, `HTTP/3`, and other `NAME/digits` protocols.
fn is_protocol(s: &[u8]) -> bool {
    if is_common_protocol(s) {
        return true;
    }
    let Some(slash) = memchr::memchr(b'/', s) else { return false };
    let (name, version) = (&s[..slash], &s[slash + 1..]);
    !name.is_empty()
        && name.iter().all(u8::is_ascii_uppercase)
        && !version.is_empty()
        && version[0].is_ascii_digit()
        && version.iter().all(|&b| b.is_ascii_digit() || b == b'.')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn the_last_space_is_found_as_by_memrchr(
            head in "[ a-zA-Z/.0-9]{0,12}", protocol in "(HTTP/1.1|HTTP/1.0|HTTP/2.0|HTTP/2|x)?",
            space in proptest::bool::ANY, start in 0usize..24,
        ) {
            let raw = format!("{head}{}{protocol}", if space { " " } else { "" });
            let raw = raw.as_bytes();
            let want = raw.get(start..).and_then(|rest| memchr::memrchr(b' ', rest));
            prop_assert_eq!(last_space(raw, start), want);
        }
    }

    fn parts(raw: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
        let (m, t, p) = split(raw);
        (m.map(Into::into), t.map(Into::into), p.map(Into::into))
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn ordinary_and_http2() {
        assert_eq!(parts(b"GET /a?b=1 HTTP/1.1"), (some("GET"), some("/a?b=1"), some("HTTP/1.1")));
        assert_eq!(parts(b"POST /x HTTP/2.0"), (some("POST"), some("/x"), some("HTTP/2.0")));
        assert_eq!(parts(b"PRI * HTTP/2.0"), (some("PRI"), some("*"), some("HTTP/2.0")));
    }

    #[test]
    fn spaces_in_target_and_no_protocol() {
        assert_eq!(
            parts(b"GET /a b/c d HTTP/1.0"),
            (some("GET"), some("/a b/c d"), some("HTTP/1.0"))
        );
        assert_eq!(parts(b"GET /index.html"), (some("GET"), some("/index.html"), None));
        assert_eq!(parts(b"GET /a HTTP/1.1 x"), (some("GET"), some("/a HTTP/1.1 x"), None));
    }

    #[test]
    fn missing_and_garbage() {
        assert_eq!(parts(b"-"), (None, None, None));
        assert_eq!(parts(b""), (None, None, None));
        assert_eq!(parts(br"\x16\x03\x01\x00\xA5"), (None, some(r"\x16\x03\x01\x00\xA5"), None));
        assert_eq!(parts(b"quit"), (None, some("quit"), None));
        assert_eq!(parts(b"GET "), (None, some("GET "), None));
    }

    #[test]
    fn escapes_in_target_are_decoded() {
        assert_eq!(
            parts(br#"GET /q?s=\"x\" HTTP/1.1"#),
            (some("GET"), some(r#"/q?s="x""#), some("HTTP/1.1"))
        );
    }
}
