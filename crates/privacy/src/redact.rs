//! Redaction of request targets, referers, bodies, headers and free text.

use std::borrow::Cow;
use std::ops::Range;

use anomalog_ingest::{form_decode, percent_decode};

use crate::addr;
use crate::detect;
use crate::edit::{Edits, Repl};
use crate::privacy::Privacy;

/// What replaces a secret inside a URL, a form body or a raw line: a plain word, so a
/// URL stays valid and a log field stays one token. Parameter names are kept
/// (`password=REDACTED`).
pub const URL_MARKER: &str = "REDACTED";

/// What replaces a secret in free text such as a user agent or a header value.
pub const TEXT_MARKER: &str = "[REDACTED]";

impl Privacy {
    /// Free text (a user agent, a header value) with every secret replaced by
    /// [`TEXT_MARKER`]: values of secret-named `name=value`/`name: value`/JSON pairs,
    /// e-mail addresses, JWTs, card numbers, bearer credentials and configured
    /// literals and token prefixes.
    ///
    /// ```
    /// # let p = anomalog_privacy::Privacy::truncating();
    /// assert_eq!(p.redact_text("bot (admin@example.com)"), "bot ([REDACTED])");
    /// ```
    pub fn redact_text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut edits = Edits::default();
        self.text_edits(text, 0, TEXT_MARKER, &mut edits);
        edits.apply_str(text)
    }

    /// A request target or URL (a referer) with secrets replaced by [`URL_MARKER`]:
    /// the value of every query or fragment parameter with a secret name (the name is
    /// kept), any parameter value or path segment that holds a secret (also when
    /// percent-encoded), and user information before `@` in the authority.
    ///
    /// ```
    /// # let p = anomalog_privacy::Privacy::truncating();
    /// assert_eq!(
    ///     p.redact_target("/login?user=bob&password=hunter2&to=a%40b.example"),
    ///     "/login?user=bob&password=REDACTED&to=REDACTED"
    /// );
    /// assert_eq!(p.redact_target("/index.html?page=2"), "/index.html?page=2");
    /// ```
    pub fn redact_target<'t>(&self, target: &'t str) -> Cow<'t, str> {
        let mut edits = Edits::default();
        self.url_edits(target, &mut edits);
        edits.apply_str(target)
    }

    /// A request body: form-encoded bodies (`a=1&b=2`) are redacted parameter by
    /// parameter like a query string, anything else like free text, both with
    /// [`URL_MARKER`].
    pub fn redact_body<'t>(&self, body: &'t str) -> Cow<'t, str> {
        let mut edits = Edits::default();
        let form = body.contains('=') && !body.trim_end().bytes().any(|b| b.is_ascii_whitespace());
        if form {
            self.params_edits(body, 0, &mut edits);
        } else {
            self.text_edits(body, 0, URL_MARKER, &mut edits);
        }
        edits.apply_str(body)
    }

    /// Any other field, by its name in the format (`$http_x_forwarded_for`, a header
    /// name, a JSON key): a secret name redacts the whole value; otherwise every IP
    /// address in it is pseudonymized (`X-Forwarded-For` lists, `Forwarded: for=`) and
    /// secrets in it are redacted, as in a URL when it looks like one.
    pub fn redact_extra<'v>(&self, name: &str, value: &'v str) -> Cow<'v, str> {
        if value.is_empty() || value == "-" || value == TEXT_MARKER {
            return Cow::Borrowed(value);
        }
        if self.rules.is_secret_name(name) {
            return Cow::Owned(TEXT_MARKER.to_string());
        }
        let mut edits = Edits::default();
        self.address_edits(value, &mut edits);
        if value.starts_with('/') || value.contains("://") {
            self.url_edits(value, &mut edits);
        } else {
            self.text_edits(value, 0, TEXT_MARKER, &mut edits);
        }
        edits.apply_str(value)
    }

    /// Pseudonyms for every IP address in `text`.
    pub(crate) fn address_edits(&self, text: &str, edits: &mut Edits) {
        let mut found = Vec::new();
        addr::find_addresses(text, &mut found);
        for (range, ip) in found {
            edits.push(range, Repl::Text(self.address(ip)));
        }
    }

    /// Markers over the secrets of `text`, which sits at `offset` in the edited text.
    pub(crate) fn text_edits(
        &self,
        text: &str,
        offset: usize,
        marker: &'static str,
        edits: &mut Edits,
    ) {
        let mut ranges = Vec::new();
        detect::secrets(&self.rules, text, &mut ranges);
        edits.markers(&ranges, offset, marker);
    }

    fn url_edits(&self, url: &str, edits: &mut Edits) {
        let bytes = url.as_bytes();
        let mut path_start = 0;
        if let Some(sep) = url.find("://")
            && sep > 0
            && url[..sep]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            let authority = sep + 3;
            let end = url[authority..].find(['/', '?', '#']).map_or(url.len(), |i| authority + i);
            if let Some(at) = url[authority..end].rfind('@') {
                edits.push(authority..authority + at, Repl::Marker(URL_MARKER));
            }
            path_start = end;
        }
        let params = url[path_start..].find(['?', '#']).map_or(url.len(), |i| path_start + i);
        let path = &url[path_start..params];
        self.text_edits(path, path_start, URL_MARKER, edits);
        let mut seg_start = path_start;
        for segment in path.split('/') {
            if segment.contains('%') && self.decoded_has_secret(&percent_decode(segment)) {
                edits.push(seg_start..seg_start + segment.len(), Repl::Marker(URL_MARKER));
            }
            seg_start += segment.len() + 1;
        }
        if params < bytes.len() {
            self.params_edits(&url[params + 1..], params + 1, edits);
        }
    }

    /// Query-string style parameters (`a=1&b=2;c=3#d=4`) at `offset`.
    fn params_edits(&self, params: &str, offset: usize, edits: &mut Edits) {
        let mut start = 0;
        for pair in params.split(['&', ';', '#', '?']) {
            let pair_range = offset + start..offset + start + pair.len();
            start += pair.len() + 1;
            let (name, value, value_range) = match pair.split_once('=') {
                Some((name, value)) => {
                    (name, value, pair_range.start + name.len() + 1..pair_range.end)
                }
                None => ("", pair, pair_range),
            };
            if value.is_empty() || value == URL_MARKER {
                continue;
            }
            if !name.is_empty() && self.rules.is_secret_name(&form_decode(name)) {
                edits.push(value_range, Repl::Marker(URL_MARKER));
                continue;
            }
            self.text_edits(value, value_range.start, URL_MARKER, edits);
            if value.contains(['%', '+']) && self.decoded_has_secret(&form_decode(value)) {
                edits.push(value_range, Repl::Marker(URL_MARKER));
            }
        }
    }

    /// Whether decoded text holds a secret; decoding may also reveal a nested query
    /// string (`next=%2Fa%3Ftoken%3Dx`).
    fn decoded_has_secret(&self, decoded: &str) -> bool {
        if detect::has_secret(&self.rules, decoded) {
            return true;
        }
        let mut nested = Edits::default();
        if let Some(q) = decoded.find(['?', '#']) {
            self.params_edits(&decoded[q + 1..], 0, &mut nested);
        }
        !nested.is_empty()
    }

    /// A raw line (or a part of one) with every secret replaced by [`URL_MARKER`],
    /// every bounded occurrence of each `(identifier, pseudonym)` replaced, and, when
    /// `scan_addresses`, every IP address pseudonymized. With `secrets` off only the
    /// identifiers and addresses are replaced. Bytes that are not UTF-8 are kept.
    pub(crate) fn scrub(
        &self,
        line: &[u8],
        identifiers: &[(String, String)],
        scan_addresses: bool,
        secrets: bool,
        out: &mut Vec<u8>,
    ) {
        let text = lossless_text(line);
        let mut edits = Edits::default();
        for (raw, pseudonym) in identifiers {
            for range in bounded_occurrences(&text, raw) {
                edits.push(range, Repl::Text(pseudonym.clone()));
            }
        }
        if scan_addresses {
            self.address_edits(&text, &mut edits);
        }
        if secrets {
            self.text_edits(&text, 0, URL_MARKER, &mut edits);
        }
        edits.apply_bytes(line, out);
    }
}

/// `line` as text of the same byte length: bytes that are not UTF-8 stand in as a
/// control character each, so that ranges found in the text are ranges of the line,
/// and a secret value that runs through an invalid byte is redacted whole.
pub(crate) fn lossless_text(line: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(line) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => {
            let mut text = String::with_capacity(line.len());
            for chunk in line.utf8_chunks() {
                text.push_str(chunk.valid());
                text.extend(std::iter::repeat_n('\u{1a}', chunk.invalid().len()));
            }
            Cow::Owned(text)
        }
    }
}

/// The occurrences of `needle` in `text` not glued to a letter or digit (nor, for an
/// IPv6 address, to a colon).
fn bounded_occurrences<'a>(
    text: &'a str,
    needle: &'a str,
) -> impl Iterator<Item = Range<usize>> + 'a {
    let bytes = text.as_bytes();
    let colon_bound = needle.contains(':');
    let glued = move |b: u8| b.is_ascii_alphanumeric() || (colon_bound && b == b':');
    let finder = (!needle.is_empty()).then(|| memchr::memmem::find_iter(bytes, needle.as_bytes()));
    finder.into_iter().flatten().filter_map(move |i| {
        let end = i + needle.len();
        let before_ok = i == 0 || !glued(bytes[i - 1]);
        let after_ok = bytes.get(end).is_none_or(|&b| !glued(b));
        (before_ok && after_ok).then_some(i..end)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;

    fn p() -> Privacy {
        Privacy::keyed(Key::new("a test key of enough length").unwrap())
    }

    #[test]
    fn targets() {
        let p = p();
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sflKxwRJSMeKKF2QT4fwpM";
        for (target, expected) in [
            ("/a?token=abc&x=1", "/a?token=REDACTED&x=1"),
            ("/a?API_KEY=abc;sid=9", "/a?API_KEY=REDACTED;sid=REDACTED"),
            ("/a?e-mail=&x=1", "/a?e-mail=&x=1"),
            ("/cb#access_token=abc&state=1", "/cb#access_token=REDACTED&state=1"),
            ("/u/bob@example.com/edit", "/u/REDACTED/edit"),
            ("/u/bob%40example.com/edit", "/u/REDACTED/edit"),
            (&format!("/api?t={jwt}"), "/api?t=REDACTED"),
            ("/pay?n=4111+1111+1111+1111", "/pay?n=REDACTED"),
            ("/r?next=%2Fa%3Fpassword%3Dx", "/r?next=REDACTED"),
            ("/shop;jsessionid=1A2B?x=1", "/shop;jsessionid=REDACTED?x=1"),
            ("http://bob:pw@example.com/x?q=1", "http://REDACTED@example.com/x?q=1"),
            ("/search?q=cheap+flights&page=2", "/search?q=cheap+flights&page=2"),
            ("/a?password=REDACTED", "/a?password=REDACTED"),
        ] {
            assert_eq!(p.redact_target(target), expected, "{target}");
        }
        assert!(matches!(p.redact_target("/plain?x=1"), Cow::Borrowed(_)));
    }

    #[test]
    fn bodies_and_text() {
        let p = p();
        assert_eq!(
            p.redact_body("login=bob&password=quiaNOCi1&email=b%40x.es&n=1"),
            "login=bob&password=REDACTED&email=REDACTED&n=1"
        );
        assert_eq!(p.redact_body(r#"{"password": "x y"}"#), r#"{"password": "REDACTED"}"#);
        assert_eq!(
            p.redact_text("Mozilla/5.0 Bearer abcdefgh12345 x"),
            "Mozilla/5.0 Bearer [REDACTED] x"
        );
        assert_eq!(p.redact_text("Mozilla/5.0 (X11)"), "Mozilla/5.0 (X11)");
    }

    #[test]
    fn extras() {
        let p = p();
        let a = p.address("192.0.2.1".parse().unwrap());
        let b = p.address("2001:db8::7".parse().unwrap());
        assert_eq!(
            p.redact_extra("$http_x_forwarded_for", "192.0.2.1, 2001:db8::7"),
            format!("{a}, {b}")
        );
        assert_eq!(
            p.redact_extra("cookie", "JSESSIONID=abc; lang=es"),
            "JSESSIONID=[REDACTED]; lang=es"
        );
        assert_eq!(p.redact_extra("authorization", "Basic dXNlcjpwYXNz"), TEXT_MARKER);
        assert_eq!(p.redact_extra("$http_referer2", "/a?token=1"), "/a?token=REDACTED");
        assert_eq!(p.redact_extra("$ssl_protocol", "TLSv1.3"), "TLSv1.3");
    }

    #[test]
    fn scrub_lines() {
        let p = p();
        let mut out = Vec::new();
        let pseudonym = p.address("198.51.100.4".parse().unwrap());
        p.scrub(b"x 198.51.100.4 password=a\xffb y", &[], true, true, &mut out);
        assert_eq!(out, format!("x {pseudonym} password=REDACTED y").as_bytes());
        out.clear();
        let ids = [("10.1.1.1".to_string(), "P".to_string())];
        p.scrub(b"10.1.1.1 110.1.1.1 10.1.1.1:80", &ids, false, false, &mut out);
        assert_eq!(out, b"P 110.1.1.1 P:80");
    }
}
