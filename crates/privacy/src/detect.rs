//! Finding secrets in text: `name=value` pairs with a secret name, e-mail addresses,
//! JSON Web Tokens, payment card numbers, bearer credentials and configured literals
//! and token prefixes.
//!
//! Every detector works on ASCII bytes and reports byte ranges that start and end on
//! ASCII characters (or the ends of the text), so the ranges are always valid `str`
//! slice bounds.

use std::ops::Range;

use memchr::memmem;

use crate::rules::Rules;

/// Appends to `out` the byte ranges of every secret in `text`.
pub(crate) fn secrets(rules: &Rules, text: &str, out: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    name_values(rules, bytes, out);
    if rules.emails {
        emails(bytes, out);
    }
    if rules.jwts {
        jwts(bytes, out);
    }
    if rules.cards {
        cards(bytes, out);
    }
    if rules.bearer {
        credentials(bytes, out);
    }
    for literal in &rules.literals {
        out.extend(memmem::find_iter(bytes, literal.as_bytes()).map(|i| i..i + literal.len()));
    }
    for prefix in &rules.token_prefixes {
        for i in memmem::find_iter(bytes, prefix.as_bytes()) {
            if i > 0 && is_word(bytes[i - 1]) {
                continue;
            }
            let end = run_end(bytes, i + prefix.len(), is_word);
            out.push(i..end);
        }
    }
}

/// Whether `text` holds any secret.
pub(crate) fn has_secret(rules: &Rules, text: &str) -> bool {
    let mut found = Vec::new();
    secrets(rules, text, &mut found);
    !found.is_empty()
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The end of the run of bytes satisfying `pred` that starts at `from`.
fn run_end(bytes: &[u8], from: usize, pred: impl Fn(u8) -> bool) -> usize {
    let from = from.min(bytes.len());
    bytes[from..].iter().position(|&b| !pred(b)).map_or(bytes.len(), |n| from + n)
}

/// The start of the run of bytes satisfying `pred` that ends at `to`.
fn run_start(bytes: &[u8], to: usize, pred: impl Fn(u8) -> bool) -> usize {
    let to = to.min(bytes.len());
    bytes[..to].iter().rposition(|&b| !pred(b)).map_or(0, |n| n + 1)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']' | b'$')
}

/// Where an unquoted value ends: at a separator of query strings, cookies, log fields
/// or markup. A backslash escapes the next character, as in JSON and log escapes.
fn value_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'&' | b';' | b',' | b'"' | b'\'' | b'<' | b'>' | b'`' => break,
            b if b.is_ascii_whitespace() => break,
            b'\\' => i += escape_len(bytes, i),
            _ => i += 1,
        }
    }
    char_boundary(bytes, i)
}

/// The end of a double-quoted value whose opening quote is just before `from`.
fn quoted_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\n' | b'\r' => break,
            b'\\' => i += escape_len(bytes, i),
            _ => i += 1,
        }
    }
    char_boundary(bytes, i)
}

/// How many bytes the backslash at `i` and the character it escapes take; a value
/// never runs past the end of its line, escaped or not.
fn escape_len(bytes: &[u8], i: usize) -> usize {
    match bytes.get(i + 1) {
        Some(b'\n' | b'\r') | None => 1,
        Some(_) => 2,
    }
}

/// `i` moved forward to the next character boundary (or the end of the text).
fn char_boundary(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i] & 0xC0) == 0x80 {
        i += 1;
    }
    i.min(bytes.len())
}

/// Whether a value is a redaction marker already (so that redacting twice changes
/// nothing).
fn is_marker(value: &[u8]) -> bool {
    value == b"REDACTED" || value == b"[REDACTED]"
}

/// `name=value`, `"name": "value"` and `name: value` with a secret name.
fn name_values(rules: &Rules, bytes: &[u8], out: &mut Vec<Range<usize>>) {
    for (i, &sep) in bytes.iter().enumerate() {
        if sep != b'=' && sep != b':' {
            continue;
        }
        let value = if sep == b':' && i > 0 && bytes[i - 1] == b'"' {
            json_pair(rules, bytes, i)
        } else {
            plain_pair(rules, bytes, i)
        };
        if let Some(range) = value
            && !range.is_empty()
            && !is_marker(&bytes[range.clone()])
        {
            out.push(range);
        }
    }
}

/// The value of `"name": value` when the name is secret; `colon` is the index of `:`.
fn json_pair(rules: &Rules, bytes: &[u8], colon: usize) -> Option<Range<usize>> {
    let close = colon - 1;
    let open = bytes[..close].iter().rposition(|&b| b == b'"')?;
    let name = std::str::from_utf8(&bytes[open + 1..close]).ok()?;
    if !rules.is_secret_name(name) {
        return None;
    }
    let start = run_end(bytes, colon + 1, |b| b == b' ');
    match bytes.get(start) {
        Some(b'"') => Some(start + 1..quoted_end(bytes, start + 1)),
        // JSON escaped inside another quoted field (`\"key\":\"value\"`): the value
        // runs to the next escaped quote.
        Some(b'\\') if bytes.get(start + 1) == Some(&b'"') => {
            let from = start + 2;
            let end =
                memmem::find(&bytes[from..], b"\\\"").map_or(value_end(bytes, from), |n| from + n);
            Some(from..end.min(value_end(bytes, from)).max(from))
        }
        Some(_) => {
            let end = run_end(bytes, start, |b| {
                !matches!(b, b',' | b'}' | b']' | b'"' | b'\\') && b > b' '
            });
            Some(start..end)
        }
        None => None,
    }
}

/// The value of `name=value` or `name: value` when the name is secret; `sep` is the
/// index of `=` or `:`.
fn plain_pair(rules: &Rules, bytes: &[u8], sep: usize) -> Option<Range<usize>> {
    let name_start = run_start(bytes, sep, is_name_byte);
    if name_start == sep {
        return None;
    }
    let mut start = sep + 1;
    if bytes[sep] == b':' {
        // Header style only (`Name: value`): a colon without a space is a URL scheme,
        // a time or an IPv6 address.
        if bytes.get(start) != Some(&b' ') {
            return None;
        }
        start = run_end(bytes, start, |b| b == b' ');
    } else if bytes.get(start) == Some(&b'=') {
        return None;
    }
    let name = std::str::from_utf8(&bytes[name_start..sep]).ok()?;
    if !rules.is_secret_name(name) {
        return None;
    }
    Some(match bytes.get(start) {
        Some(b'"') => start + 1..quoted_end(bytes, start + 1),
        _ => start..value_end(bytes, start),
    })
}

/// `local@domain.tld`.
fn emails(bytes: &[u8], out: &mut Vec<Range<usize>>) {
    let local = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-');
    let domain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-');
    for at in memchr::memchr_iter(b'@', bytes) {
        let mut start = run_start(bytes, at, local);
        while start < at && bytes[start] == b'.' {
            start += 1;
        }
        let mut end = run_end(bytes, at + 1, domain);
        while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1;
        }
        if start == at || end <= at + 1 {
            continue;
        }
        let host = &bytes[at + 1..end];
        let mut labels = host.split(|&b| b == b'.');
        let tld = host.rsplit(|&b| b == b'.').next().unwrap_or_default();
        if host.contains(&b'.')
            && labels.all(|l| !l.is_empty())
            && tld.len() >= 2
            && tld.iter().all(u8::is_ascii_alphabetic)
        {
            out.push(start..end);
        }
    }
}

/// `eyJ<header>.<payload>.<signature>`, base64url segments (the signature may be empty,
/// as in unsigned tokens).
fn jwts(bytes: &[u8], out: &mut Vec<Range<usize>>) {
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let mut from = 0;
    while let Some(found) = memmem::find(&bytes[from..], b"eyJ") {
        let start = from + found;
        from = start + 3;
        if start > 0 && b64(bytes[start - 1]) {
            continue;
        }
        let header_end = run_end(bytes, start, b64);
        if header_end - start < 10 || bytes.get(header_end) != Some(&b'.') {
            continue;
        }
        let payload_end = run_end(bytes, header_end + 1, b64);
        if payload_end - header_end - 1 < 2 || bytes.get(payload_end) != Some(&b'.') {
            continue;
        }
        let end = run_end(bytes, payload_end + 1, b64);
        out.push(start..end);
        from = end;
    }
}

/// Payment card numbers (see [`RedactionRules::cards`](crate::RedactionRules::cards)).
fn cards(bytes: &[u8], out: &mut Vec<Range<usize>>) {
    let mut i = 0;
    let mut digits = Vec::with_capacity(19);
    while i < bytes.len() {
        let b = bytes[i];
        let boundary = i == 0 || !(is_word(bytes[i - 1]) || bytes[i - 1] == b'.');
        if !b.is_ascii_digit() || !boundary {
            i += 1;
            continue;
        }
        // Digits with single separators between them.
        digits.clear();
        let start = i;
        let mut end = i;
        let mut j = i;
        while j < bytes.len() {
            if bytes[j].is_ascii_digit() {
                digits.push(bytes[j]);
                j += 1;
                end = j;
            } else if matches!(bytes[j], b' ' | b'-')
                && bytes.get(j + 1).is_some_and(u8::is_ascii_digit)
                && digits.len() < 19
            {
                j += 1;
            } else {
                break;
            }
        }
        let after_ok = bytes.get(end).is_none_or(|&b| !b.is_ascii_alphanumeric());
        if (13..=19).contains(&digits.len())
            && after_ok
            && (b'2'..=b'6').contains(&digits[0])
            && luhn_valid(&digits)
        {
            out.push(start..end);
        }
        i = end.max(i + 1);
    }
}

/// The Luhn checksum of a string of ASCII digits: `true` when it is valid. Anything but
/// digits, or fewer than two digits, is not valid.
///
/// ```
/// use anomalog_privacy::luhn_valid;
///
/// assert!(luhn_valid(b"4111111111111111"));
/// assert!(!luhn_valid(b"4111111111111112"));
/// ```
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.len() < 2 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(n, &d)| {
            let d = u32::from(d - b'0');
            if n % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The credentials after `Bearer ` or `Basic ` (any case).
fn credentials(bytes: &[u8], out: &mut Vec<Range<usize>>) {
    let token =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
    for scheme in [&b"bearer"[..], b"basic"] {
        let mut i = 0;
        while i + scheme.len() < bytes.len() {
            let word_end = i + scheme.len();
            let hit = bytes[i..word_end].eq_ignore_ascii_case(scheme)
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
                && bytes[word_end] == b' ';
            if !hit {
                i += 1;
                continue;
            }
            let start = run_end(bytes, word_end, |b| b == b' ');
            let mut end = run_end(bytes, start, token);
            end = run_end(bytes, end, |b| b == b'=');
            if end - start >= 8 {
                out.push(start..end);
            }
            i = end.max(i + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RedactionRules;

    fn found(text: &str) -> Vec<&str> {
        found_with(&RedactionRules::default(), text)
    }

    fn found_with<'t>(config: &RedactionRules, text: &'t str) -> Vec<&'t str> {
        let rules = Rules::new(config).unwrap();
        let mut ranges = Vec::new();
        secrets(&rules, text, &mut ranges);
        ranges.sort_by_key(|r| r.start);
        ranges.into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn luhn() {
        for good in ["4111111111111111", "5555555555554444", "378282246310005", "79927398713"] {
            assert!(luhn_valid(good.as_bytes()), "{good}");
        }
        for bad in ["4111111111111112", "1234567812345678", "", "7", "41111a1111111111"] {
            assert!(!luhn_valid(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn card_numbers() {
        assert_eq!(found("cc 4111 1111 1111 1111 ok"), ["4111 1111 1111 1111"]);
        assert_eq!(found("n=4111-1111-1111-1111"), ["4111-1111-1111-1111"]);
        assert_eq!(found("amex 378282246310005."), ["378282246310005"]);
        // Wrong checksum, too short, a millisecond timestamp, part of a word.
        assert!(found("4111111111111112 411111111111 1700000000000 x4111111111111111").is_empty());
        // Twenty digits are not a card.
        assert!(found("41111111111111111111").is_empty());
    }

    #[test]
    fn emails_are_found() {
        assert_eq!(found("from john.doe+x@mail.example.com."), ["john.doe+x@mail.example.com"]);
        assert_eq!(found("/u/a_b@c.io/x"), ["a_b@c.io"]);
        assert!(found("user@localhost @handle a@b.c1 x@.com").is_empty());
    }

    #[test]
    fn jwts_are_found() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sflKxwRJSMeKKF2QT4fwpM";
        assert_eq!(found(&format!("/cb?x={jwt}&y=1")), [jwt]);
        let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.";
        assert_eq!(found(&format!("t {unsigned} ")), [unsigned]);
        assert!(found("eyJhbGciOiJIUzI1NiJ9 alone, xeyJhbGciOiJIUzI1NiJ9.eyJz.abc").is_empty());
    }

    #[test]
    fn bearer_and_basic_credentials() {
        assert_eq!(
            found("Authorization: Bearer abcdEFGH1234.x-y_z="),
            ["Bearer", "abcdEFGH1234.x-y_z="]
        );
        assert_eq!(found("basic dXNlcjpwYXNz"), ["dXNlcjpwYXNz"]);
        assert!(found("Basic realm").is_empty());
    }

    #[test]
    fn name_value_pairs() {
        assert_eq!(found("a=1&password=hunter2&b=2"), ["hunter2"]);
        assert_eq!(found("Cookie: JSESSIONID=ABC123; lang=en"), ["ABC123"]);
        assert_eq!(found(r#"{"user":"bob","api_key": "k-1\"2","n":1}"#), [r#"k-1\"2"#]);
        assert_eq!(found(r#"{"token":12345}"#), ["12345"]);
        assert_eq!(found(r#""ua \"password\":\"abc\"" 1"#), ["abc"]);
        assert_eq!(found("password: hunter2 rest"), ["hunter2"]);
        assert_eq!(found(r#"secret="two words""#), ["two words"]);
        // Already redacted, a base64 tail, a scheme, an empty value.
        assert!(found("password=REDACTED key==x http://h:80 token= a").is_empty());
    }

    #[test]
    fn literals_and_prefixes() {
        let config = RedactionRules {
            literals: vec!["ACME-42".into()],
            token_prefixes: vec!["sk_live_".into()],
            ..Default::default()
        };
        assert_eq!(
            found_with(&config, "c=ACME-42 k=sk_live_abc-9 xsk_live_no"),
            ["ACME-42", "sk_live_abc-9"]
        );
    }

    #[test]
    fn ranges_are_char_boundaries() {
        for text in ["password=é\\é", "token=\\", "a@é.com", "password=\"é\\"] {
            let rules = Rules::new(&RedactionRules::default()).unwrap();
            let mut ranges = Vec::new();
            secrets(&rules, text, &mut ranges);
            for r in ranges {
                assert!(text.get(r.clone()).is_some(), "{text:?} {r:?}");
            }
        }
    }
}
