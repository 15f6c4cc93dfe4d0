//! The normalized record every format parses into.

use std::borrow::Cow;

use serde::Serialize;

use crate::timestamp::Timestamp;

/// A text field as found in the log: borrowed from the input line when it needed no
/// unescaping, owned otherwise. `None` is *missing* (a `-` in the log, or a field the
/// format does not carry); it is never replaced by a guess.
pub type Field<'a> = Option<Cow<'a, str>>;

/// One request as a web server logged it, in a form every later stage understands.
///
/// A record borrows from the line it was parsed from, so parsing allocates nothing for
/// ordinary lines; [`Record::into_owned`] detaches it from the input buffer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Record<'a> {
    /// When the request was logged, with the zone offset of the log.
    pub ts: Option<Timestamp>,
    /// Client address (`$remote_addr`, `%h`), as logged: an IP address or a host name.
    pub client: Field<'a>,
    /// RFC 1413 identity (`%l`), almost always missing.
    pub ident: Field<'a>,
    /// Authenticated user (`$remote_user`, `%u`).
    pub user: Field<'a>,
    /// Request method (`GET`, `POST`, ...).
    pub method: Field<'a>,
    /// The request target exactly as logged (`/path?query`, or an absolute URL),
    /// not percent-decoded.
    pub target: Field<'a>,
    /// Protocol of the request line (`HTTP/1.1`, `HTTP/2.0`).
    pub protocol: Field<'a>,
    /// Response status code.
    pub status: Option<u16>,
    /// Response body size in bytes (`$body_bytes_sent`, `%b`); `-` (zero in Apache's
    /// `%b`) is missing.
    pub bytes: Option<u64>,
    /// `Referer` request header.
    pub referer: Field<'a>,
    /// `User-Agent` request header.
    pub user_agent: Field<'a>,
    /// Time to serve the request, in seconds (`$request_time`, `%D`, `%T`).
    pub request_time: Option<f64>,
    /// Time the upstream took, in seconds (`$upstream_response_time`; the first value
    /// when several upstreams were tried).
    pub upstream_time: Option<f64>,
    /// Virtual host (`$host`, `%v`, the `Host` header).
    pub host: Field<'a>,
    /// Request body, for formats that carry it (raw HTTP requests).
    pub body: Field<'a>,
    /// Every other field the format defines, by its name in the format
    /// (`$ssl_protocol`, `%{X-Forwarded-For}i`, a JSON key).
    pub extra: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Record<'a> {
    /// The path part of the target: the absolute-form scheme and authority removed, the
    /// query removed. Not percent-decoded.
    pub fn path(&self) -> Option<&str> {
        let target = strip_authority(self.target.as_deref()?);
        Some(match memchr::memchr(b'?', target.as_bytes()) {
            Some(q) => &target[..q],
            None => target,
        })
    }

    /// The query string after `?`, without the `?`; `None` when the target has none.
    pub fn query(&self) -> Option<&str> {
        let target = self.target.as_deref()?;
        memchr::memchr(b'?', target.as_bytes()).map(|q| &target[q + 1..])
    }

    /// The path, percent-decoded (see [`percent_decode`]).
    pub fn decoded_path(&self) -> Option<Cow<'_, str>> {
        self.path().map(percent_decode)
    }

    /// The query string, decoded as `application/x-www-form-urlencoded` (`+` is a space).
    pub fn decoded_query(&self) -> Option<Cow<'_, str>> {
        self.query().map(form_decode)
    }

    /// The value of an extra field by name.
    pub fn extra(&self, name: &str) -> Option<&str> {
        self.extra.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_ref())
    }

    /// A copy that owns all its text, independent of the input buffer.
    pub fn into_owned(self) -> Record<'static> {
        fn own(f: Field<'_>) -> Field<'static> {
            f.map(|c| Cow::Owned(c.into_owned()))
        }
        Record {
            ts: self.ts,
            client: own(self.client),
            ident: own(self.ident),
            user: own(self.user),
            method: own(self.method),
            target: own(self.target),
            protocol: own(self.protocol),
            status: self.status,
            bytes: self.bytes,
            referer: own(self.referer),
            user_agent: own(self.user_agent),
            request_time: self.request_time,
            upstream_time: self.upstream_time,
            host: own(self.host),
            body: own(self.body),
            extra: self
                .extra
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        }
    }
}

/// Removes `scheme://authority` from an absolute-form target (`http://host:8080/a?b` ->
/// `/a?b`); other targets are returned as they are.
fn strip_authority(target: &str) -> &str {
    let Some(sep) = target.find("://") else { return target };
    // A scheme is letters, digits, `+`, `-`, `.`; anything else means `://` sits inside
    // the path or the query and the target is not absolute-form.
    let scheme = &target[..sep];
    if scheme.is_empty()
        || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return target;
    }
    let rest = &target[sep + 3..];
    match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
        Some(i) => &rest[i..],
        None => "/",
    }
}

/// Percent-decodes `s`. Decoded bytes that are not valid UTF-8 are read as Latin-1
/// (as old servers and the CSIC 2010 data set encode them), so decoding never fails
/// and never drops a byte. Malformed escapes (`%zz`, a trailing `%`) are kept as text.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    decode(s, false)
}

/// Like [`percent_decode`], but `+` is a space, as in form-encoded query strings and
/// bodies.
pub fn form_decode(s: &str) -> Cow<'_, str> {
    decode(s, true)
}

fn decode(s: &str, plus_is_space: bool) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let needs = if plus_is_space {
        bytes.iter().any(|&b| b == b'%' || b == b'+')
    } else {
        memchr::memchr(b'%', bytes).is_some()
    };
    if !needs {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(bytes.len());
    percent_decode_bytes(s, plus_is_space, &mut out);
    Cow::Owned(match String::from_utf8(out) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    })
}

/// Appends the percent-decoded bytes of `s` to `out` (`+` as a space when
/// `plus_is_space`). Malformed escapes are kept as they are. For callers that decode
/// into a reused buffer; [`percent_decode`] and [`form_decode`] give text.
pub fn percent_decode_bytes(s: &str, plus_is_space: bool, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(if plus_is_space && b == b'+' { b' ' } else { b });
        i += 1;
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_target(t: &str) -> Record<'_> {
        Record { target: Some(Cow::Borrowed(t)), ..Record::default() }
    }

    #[test]
    fn path_and_query_split() {
        let r = with_target("/a/b?x=1&y=2");
        assert_eq!(r.path(), Some("/a/b"));
        assert_eq!(r.query(), Some("x=1&y=2"));
        let r = with_target("/plain");
        assert_eq!(r.path(), Some("/plain"));
        assert_eq!(r.query(), None);
        assert_eq!(Record::default().path(), None);
    }

    #[test]
    fn absolute_form_targets_lose_scheme_and_authority() {
        let r = with_target("http://localhost:8080/tienda1/index.jsp?id=2");
        assert_eq!(r.path(), Some("/tienda1/index.jsp"));
        assert_eq!(r.query(), Some("id=2"));
        assert_eq!(with_target("http://host").path(), Some("/"));
        // `://` inside a query does not make the target absolute-form.
        assert_eq!(with_target("/r?u=http://x/y").path(), Some("/r"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("/a%20b"), "/a b");
        assert_eq!(percent_decode("%27%20OR%201%3D1--"), "' OR 1=1--");
        assert_eq!(percent_decode("/no-escapes"), "/no-escapes");
        assert!(matches!(percent_decode("/no-escapes"), Cow::Borrowed(_)));
        // Malformed escapes stay as they were.
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        // UTF-8 when it is UTF-8, Latin-1 otherwise.
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        assert_eq!(percent_decode("informaci%F3n"), "información");
        assert_eq!(form_decode("a+b%2Bc"), "a b+c");
        assert_eq!(percent_decode("a+b"), "a+b");
    }

    #[test]
    fn into_owned_keeps_everything() {
        let line = String::from("/x?y");
        let mut r = with_target(&line);
        r.extra.push((Cow::Borrowed("k"), Cow::Borrowed("v")));
        let owned = r.clone().into_owned();
        drop(line);
        assert_eq!(owned.path(), Some("/x"));
        assert_eq!(owned.extra("k"), Some("v"));
    }
}
