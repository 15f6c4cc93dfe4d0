//! Anonymizing raw log lines in place: the fields a format finds are rewritten where
//! they sit in the line, so everything else, quoting and field order included, stays
//! byte for byte as it was.

use std::borrow::Cow;
use std::ops::Range;

use anomalog_ingest::{Format, Framing, Record};

use crate::addr::{self, Client};
use crate::edit::{Edits, Repl};
use crate::privacy::Privacy;
use crate::redact::lossless_text;

impl Privacy {
    /// Appends to `out` the anonymized form of one unit of input (a line without its
    /// terminator, or a framed HTTP request for [`Framing::HttpRequest`] formats),
    /// without a terminator: as many lines as went in.
    ///
    /// When `format` parses the line, the client field is replaced by its pseudonym,
    /// user names by theirs, and secrets in the target, referer, user agent, body and
    /// extra fields are redacted, each where it sits in the line. A field the parser had
    /// to unescape cannot be located that way; the whole line is then redacted with the
    /// pattern rules and every occurrence of the identifiers replaced. A line that does
    /// not parse is redacted with the pattern rules and every IP address in it is
    /// pseudonymized. In every case, every IP address outside the request line, referer
    /// and user agent is pseudonymized (addresses in fields the format does not keep,
    /// such as nested JSON headers), and remaining occurrences of the client address
    /// anywhere in the line (a query parameter, a log message) are replaced too.
    ///
    /// ```
    /// use anomalog_ingest::formats;
    /// use anomalog_privacy::{Key, Privacy};
    ///
    /// let format = formats::from_spec("combined", &Default::default()).unwrap();
    /// let p = Privacy::keyed(Key::new("an example key, 32 bytes long..").unwrap());
    /// let line = br#"203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /login?user=bob&password=hunter2 HTTP/1.1" 200 2326 "-" "curl/8.0""#;
    /// let mut out = Vec::new();
    /// p.anonymize_line(format.as_ref(), line, &mut out);
    /// let out = String::from_utf8(out).unwrap();
    /// assert!(out.starts_with("ip4-"));
    /// assert!(out.contains("/login?user=bob&password=REDACTED HTTP/1.1"));
    /// assert!(!out.contains("203.0.113.7") && !out.contains("hunter2"));
    /// ```
    pub fn anonymize_line(&self, format: &dyn Format, line: &[u8], out: &mut Vec<u8>) {
        match format.parse(line) {
            Ok(record) => self.rewrite(format, line, &record, out),
            Err(_) => self.scrub(line, &[], true, true, out),
        }
    }

    fn rewrite(&self, format: &dyn Format, line: &[u8], rec: &Record<'_>, out: &mut Vec<u8>) {
        let mut plan = Plan { line, edits: Edits::default(), fallback: false, ids: Vec::new() };
        if let Some(client) = &rec.client {
            let pseudonym = self.pseudonymize_client(client);
            let is_address = matches!(addr::client(client), Client::Ip(..));
            if !plan.replace(client, pseudonym.clone()) || is_address {
                // Also the safety net for the address elsewhere in the line.
                plan.ids.push((client.to_string(), pseudonym.into_owned()));
            }
        }
        for user in [&rec.ident, &rec.user].into_iter().flatten() {
            let pseudonym = self.pseudonymize_user(user);
            if !plan.replace(user, pseudonym.clone()) {
                plan.ids.push((user.to_string(), pseudonym.into_owned()));
            }
        }
        for url in [&rec.target, &rec.referer].into_iter().flatten() {
            plan.replace(url, self.redact_target(url));
        }
        if let Some(agent) = &rec.user_agent {
            plan.replace(agent, self.redact_text(agent));
        }
        if let Some(body) = &rec.body {
            let redacted = self.redact_body(body);
            let delta = redacted.len() as i64 - body.len() as i64;
            if plan.replace(body, redacted)
                && delta != 0
                && format.framing() == Framing::HttpRequest
            {
                content_length(&mut plan, rec, delta);
            }
        }
        for (name, value) in &rec.extra {
            if !plan.replace(value, self.redact_extra(name, value)) {
                let mut found = Vec::new();
                addr::find_addresses(value, &mut found);
                for (range, ip) in found {
                    plan.ids.push((value[range].to_string(), self.address(ip)));
                }
            }
        }
        // Addresses the format keeps nowhere (a JSON key it does not map, a nested
        // header, a duplicate field) are still in the line: every address outside the
        // request line fields, user agent and referer is pseudonymized. Those fields
        // are left to their own rules, where a version like `Chrome/120.0.0.0` is not
        // an address.
        let own_rules: Vec<Range<usize>> =
            [&rec.method, &rec.target, &rec.protocol, &rec.referer, &rec.user_agent]
                .into_iter()
                .flatten()
                .filter_map(|f| match f {
                    Cow::Borrowed(text) => span(line, text),
                    Cow::Owned(_) => None,
                })
                .collect();
        let mut found = Vec::new();
        addr::find_addresses(&lossless_text(line), &mut found);
        for (range, ip) in found {
            if !own_rules.iter().any(|r| r.start < range.end && range.start < r.end) {
                plan.edits.push(range, Repl::Text(self.address(ip)));
            }
        }
        let Plan { edits, fallback, ids, .. } = plan;
        let mut rewritten = Vec::with_capacity(line.len() + 32);
        edits.apply_bytes(line, &mut rewritten);
        self.scrub(&rewritten, &ids, false, fallback, out);
    }
}

/// The edits of one parsed line.
struct Plan<'l> {
    line: &'l [u8],
    edits: Edits,
    /// A changed field could not be located in the line.
    fallback: bool,
    /// `(raw, replacement)` identifiers to replace wherever they still occur.
    ids: Vec<(String, String)>,
}

impl Plan<'_> {
    /// Puts `replacement` where `field` sits in the line. `true` when done (or nothing
    /// changed); `false` when the field is not a slice of the line, which turns on the
    /// whole-line fallback.
    // The field is taken as a `Cow` on purpose: whether it is borrowed is the question.
    #[allow(clippy::ptr_arg)]
    fn replace(&mut self, field: &Cow<'_, str>, replacement: Cow<'_, str>) -> bool {
        if replacement.as_ref() == field.as_ref() {
            return true;
        }
        if let Cow::Borrowed(text) = field
            && let Some(span) = span(self.line, text)
        {
            self.edits.push(span, Repl::Text(replacement.into_owned()));
            return true;
        }
        self.fallback = true;
        false
    }
}

/// Where `field` sits in `line`, when it is a slice of it.
fn span(line: &[u8], field: &str) -> Option<Range<usize>> {
    let start = (field.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
    let end = start.checked_add(field.len())?;
    (end <= line.len()).then_some(start..end)
}

/// Keeps `Content-Length` true to a body whose length changed by `delta`, so the
/// request still frames the same way.
fn content_length(plan: &mut Plan<'_>, rec: &Record<'_>, delta: i64) {
    let Some((_, value)) = rec.extra.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    else {
        return;
    };
    let Ok(old) = value.trim().parse::<i64>() else { return };
    if let Cow::Borrowed(text) = value
        && let Some(span) = span(plan.line, text)
    {
        plan.edits.push(span, Repl::Text(old.saturating_add(delta).max(0).to_string()));
    }
}
