//! One JSON object per line: nginx `escape=json` formats, Caddy and Traefik access logs.
//!
//! The object is walked once with a borrowing `serde` visitor: strings without escapes
//! are borrowed from the line. Fields are found by their common names (`remote_addr`,
//! `ClientHost`, `request.remote_ip`, `time`, `ts`, `status`, `DownstreamStatus`, ...);
//! `--field name=dotted.path` overrides win over them. Other top-level scalars go to `extra` under their key; nested objects are only
//! searched for known names under `request`/`req` and for overrides. Arrays give their
//! first element (Caddy logs headers as arrays).
//!
//! Values: `"-"`, `""` and `null` are missing. Numbers may be JSON numbers or strings
//! (`"status": "200"`). Numeric times are epoch seconds, or milli-, micro- or
//! nanoseconds when their size says so. A status of `0` (a request the server never
//! answered) is missing. nginx writes bytes above 0x7f unescaped, so a line that is not
//! UTF-8 is read with each invalid byte as the text `\xHH`.

use std::borrow::Cow;

use crate::error::{IngestError, ParseError, RejectReason};
use crate::format::Format;
use crate::record::Record;
use crate::timestamp::Timestamp;

use super::json_fields::{self, SLOTS, Slot};
use super::json_walk::{self, Leaves, Path, Scalar};
use super::request_line;
use super::text::{self, check_binary, trim_end};

/// The `json` format (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct Json {
    overrides: Vec<(Slot, Vec<String>)>,
}

impl Json {
    /// A parser with `--field name=path` overrides (`("client", "request.remote_ip")`).
    pub fn new(fields: &[(String, String)]) -> Result<Json, IngestError> {
        let overrides = fields
            .iter()
            .map(|(name, path)| {
                let slot = json_fields::override_slot(name)?;
                Ok((slot, path.split('.').map(str::to_string).collect()))
            })
            .collect::<Result<_, IngestError>>()?;
        Ok(Json { overrides })
    }
}

impl Format for Json {
    fn name(&self) -> &str {
        "json"
    }

    fn parse<'a>(&self, unit: &'a [u8]) -> Result<Record<'a>, ParseError> {
        check_binary(unit)?;
        let line = trim_end(unit);
        if line.is_empty() {
            return Err(ParseError::new(RejectReason::Empty, "line", 0));
        }
        if line.first() != Some(&b'{') {
            return Err(ParseError::new(RejectReason::BadJson, "line", 0));
        }
        match std::str::from_utf8(line) {
            Ok(s) => self.parse_str(s, line),
            Err(_) => {
                let repaired = json_lossless(line);
                self.parse_str(&repaired, line).map(Record::into_owned)
            }
        }
    }
}

impl Json {
    fn parse_str<'a>(&self, s: &'a str, original: &[u8]) -> Result<Record<'a>, ParseError> {
        let mut builder = Builder::new(self, s);
        let outcome = json_walk::walk(s, &mut builder);
        if let Some(err) = builder.error {
            return Err(err);
        }
        if let Err(e) = outcome {
            let column = e.column().saturating_sub(1).min(original.len());
            return Err(ParseError::new(RejectReason::BadJson, "line", column));
        }
        Ok(builder.finish())
    }
}

/// The line as valid UTF-8: each invalid byte becomes `\\xHH` (a JSON-escaped
/// backslash, so the decoded string reads `\xHH`).
fn json_lossless(line: &[u8]) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    for chunk in line.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\\\x{b:02X}"));
        }
    }
    out
}

/// The record being filled, with the rank that filled each slot.
struct Builder<'a, 'f> {
    fmt: &'f Json,
    line: &'a str,
    rec: Record<'a>,
    rank: [u8; SLOTS],
    path: Option<Cow<'a, str>>,
    query: Option<Cow<'a, str>>,
    error: Option<ParseError>,
}

impl<'a, 'f> Builder<'a, 'f> {
    fn new(fmt: &'f Json, line: &'a str) -> Builder<'a, 'f> {
        Builder {
            fmt,
            line,
            rec: Record::default(),
            rank: [u8::MAX; SLOTS],
            path: None,
            query: None,
            error: None,
        }
    }

    fn fill(&mut self, slot: Slot, value: Scalar<'a>) {
        let column = match &value {
            Scalar::Str(Cow::Borrowed(s)) => {
                (s.as_ptr() as usize).saturating_sub(self.line.as_ptr() as usize)
            }
            _ => 0,
        };
        let text_field = match slot {
            Slot::Client => Some(&mut self.rec.client),
            Slot::Ident => Some(&mut self.rec.ident),
            Slot::User => Some(&mut self.rec.user),
            Slot::Method => Some(&mut self.rec.method),
            Slot::Target => Some(&mut self.rec.target),
            Slot::Path => Some(&mut self.path),
            Slot::Query => Some(&mut self.query),
            Slot::Protocol => Some(&mut self.rec.protocol),
            Slot::Referer => Some(&mut self.rec.referer),
            Slot::UserAgent => Some(&mut self.rec.user_agent),
            Slot::Host => Some(&mut self.rec.host),
            Slot::Body => Some(&mut self.rec.body),
            _ => None,
        };
        if let Some(field) = text_field {
            *field = value.into_text();
            return;
        }
        let rec = &mut self.rec;
        let outcome = match slot {
            Slot::Request => {
                if let Some(line) = value.into_text() {
                    let (m, t, p) = match line {
                        Cow::Borrowed(s) => request_line::split(s.as_bytes()),
                        Cow::Owned(s) => {
                            let (m, t, p) = request_line::split(s.as_bytes());
                            (own(m), own(t), own(p))
                        }
                    };
                    rec.method = rec.method.take().or(m);
                    rec.target = rec.target.take().or(t);
                    rec.protocol = rec.protocol.take().or(p);
                }
                Ok(())
            }
            Slot::Time => time(value).map(|ts| rec.ts = ts).ok_or(RejectReason::BadTimestamp),
            Slot::Status => status(value).map(|v| rec.status = v).ok_or(RejectReason::BadStatus),
            Slot::Bytes => number(value)
                .and_then(|v| match v {
                    Some(v) if v.fract() != 0.0 || v > 1e19 => None,
                    v => Some(v.map(|v| v as u64)),
                })
                .map(|v| rec.bytes = v)
                .ok_or(RejectReason::BadNumber),
            Slot::RequestTime(scale) => number(value)
                .map(|v| rec.request_time = v.map(|v| v * scale))
                .ok_or(RejectReason::BadNumber),
            Slot::Upstream(scale) => upstream(value)
                .map(|v| rec.upstream_time = v.map(|v| v * scale))
                .ok_or(RejectReason::BadNumber),
            _ => Ok(()),
        };
        if let Err(reason) = outcome {
            self.error.get_or_insert(ParseError::new(reason, slot.name(), column));
        }
    }

    fn finish(mut self) -> Record<'a> {
        if self.rec.target.is_none()
            && let Some(path) = self.path
        {
            self.rec.target = Some(match self.query {
                Some(q) => Cow::Owned(format!("{path}?{}", q.strip_prefix('?').unwrap_or(&q))),
                None => path,
            });
        }
        self.rec
    }
}

impl<'a> Leaves<'a> for Builder<'a, '_> {
    fn leaf(&mut self, key: Cow<'a, str>, parent: Option<&Path<'_>>, value: Scalar<'a>) {
        let path = Path { key: &key, parent };
        let found = self
            .fmt
            .overrides
            .iter()
            .find(|(_, segments)| path.matches(segments))
            .map(|(slot, _)| (*slot, 0))
            .or_else(|| match parent {
                None => json_fields::top_level(&key),
                Some(p) if matches!(path.root(), "request" | "req") => {
                    json_fields::nested(&key, p.key == "headers" && path.depth() == 2)
                }
                Some(_) => None,
            });
        match found {
            Some((slot, rank)) if rank < self.rank[slot.index()] => {
                self.rank[slot.index()] = rank;
                self.fill(slot, value);
            }
            Some(_) => {}
            None if parent.is_none() => {
                if let Some(text) = value.into_text() {
                    self.rec.extra.push((key, text));
                }
            }
            None => {}
        }
    }
}

fn own(f: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    f.map(|c| Cow::Owned(c.into_owned()))
}

/// A status code from a number or a string; `Some(None)` when missing (including `0`),
/// `None` when not a status.
fn status(value: Scalar<'_>) -> Option<Option<u16>> {
    match value {
        Scalar::U64(0) | Scalar::Null => Some(None),
        Scalar::U64(v @ 100..=999) => Some(Some(v as u16)),
        Scalar::Str(s) if s.is_empty() || s == "0" => Some(None),
        Scalar::Str(s) => text::status(s.as_bytes(), 0).ok(),
        _ => None,
    }
}

/// A non-negative number from a JSON number or a numeric string; `Some(None)` when
/// missing, `None` when not a number.
fn number(value: Scalar<'_>) -> Option<Option<f64>> {
    match value {
        Scalar::U64(v) => Some(Some(v as f64)),
        Scalar::I64(v) if v >= 0 => Some(Some(v as f64)),
        Scalar::F64(v) if v >= 0.0 && v.is_finite() => Some(Some(v)),
        Scalar::Str(s) if s.is_empty() || s == "-" => Some(None),
        Scalar::Str(s) => text::decimal(s.as_bytes()).map(Some),
        Scalar::Null => Some(None),
        _ => None,
    }
}

/// `$upstream_response_time` as JSON: a number, or a string of several values.
fn upstream(value: Scalar<'_>) -> Option<Option<f64>> {
    match value {
        Scalar::Str(s) => {
            let first = text::first_upstream_value(s.as_bytes());
            if first.is_empty() || first == b"-" {
                return Some(None);
            }
            text::decimal(first).map(Some)
        }
        other => number(other),
    }
}

/// A time from an ISO 8601 or CLF string or an epoch number; `Some(None)` when
/// missing, `None` when not a time.
fn time(value: Scalar<'_>) -> Option<Option<Timestamp>> {
    let epoch = |v: f64| {
        let secs = if v > 1e17 {
            v / 1e9
        } else if v > 1e14 {
            v / 1e6
        } else if v > 1e11 {
            v / 1e3
        } else {
            v
        };
        Timestamp::from_unix_secs_f64(secs).map(Some)
    };
    match value {
        Scalar::Str(s) if s.is_empty() || s == "-" => Some(None),
        Scalar::Str(s) => {
            let b = s.as_bytes();
            let clf = b.strip_prefix(b"[").and_then(|b| b.strip_suffix(b"]")).unwrap_or(b);
            match Timestamp::parse_iso8601(b).or_else(|| Timestamp::parse_clf(clf)) {
                Some(ts) => Some(Some(ts)),
                None => text::decimal(b).and_then(epoch),
            }
        }
        Scalar::U64(v) => epoch(v as f64),
        Scalar::F64(v) if v >= 0.0 => epoch(v),
        Scalar::Null => Some(None),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Record<'_>, ParseError> {
        Json::default().parse(line.as_bytes())
    }

    #[test]
    fn nginx_escape_json() {
        let line = r#"{"time_local":"10/Oct/2000:13:55:36 -0700","remote_addr":"203.0.113.7","remote_user":"-","request":"GET /a?x=\"1\" HTTP/1.1","status":"200","body_bytes_sent":"512","request_time":"0.004","upstream_response_time":"0.003, 0.001","http_referer":"","http_user_agent":"curl/8.0","ssl_protocol":"TLSv1.3"}"#;
        let r = parse(line).unwrap();
        assert_eq!(r.ts.unwrap().to_string(), "2000-10-10T13:55:36-07:00");
        assert_eq!(r.client.as_deref(), Some("203.0.113.7"));
        assert!(matches!(r.client, Some(Cow::Borrowed(_))));
        assert_eq!(r.user, None);
        assert_eq!(r.target.as_deref(), Some(r#"/a?x="1""#));
        assert_eq!((r.status, r.bytes), (Some(200), Some(512)));
        assert_eq!((r.request_time, r.upstream_time), (Some(0.004), Some(0.003)));
        assert_eq!(r.referer, None);
        assert_eq!(r.extra("ssl_protocol"), Some("TLSv1.3"));
    }

    #[test]
    fn caddy() {
        let line = r#"{"level":"info","ts":1772455200.5,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"2001:db8::7","remote_port":"52114","client_ip":"2001:db8::7","proto":"HTTP/2.0","method":"GET","host":"example.com","uri":"/search?q=x","headers":{"User-Agent":["Mozilla/5.0"],"Accept":["*/*"]}},"bytes_read":0,"user_id":"","duration":0.0012,"size":4312,"status":200,"resp_headers":{"Server":["Caddy"]}}"#;
        let r = parse(line).unwrap();
        assert_eq!(r.ts.unwrap().to_string(), "2026-03-02T12:40:00.5Z");
        assert_eq!(r.client.as_deref(), Some("2001:db8::7"));
        assert_eq!(r.method.as_deref(), Some("GET"));
        assert_eq!(r.target.as_deref(), Some("/search?q=x"));
        assert_eq!(r.protocol.as_deref(), Some("HTTP/2.0"));
        assert_eq!(r.host.as_deref(), Some("example.com"));
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/5.0"));
        assert_eq!((r.status, r.bytes, r.request_time), (Some(200), Some(4312), Some(0.0012)));
        assert_eq!(r.extra("msg"), Some("handled request"));
        assert_eq!(r.extra("bytes_read"), Some("0"));
        assert_eq!(r.extra("Server"), None);
    }

    #[test]
    fn traefik() {
        let line = r#"{"ClientAddr":"192.0.2.1:54321","ClientHost":"192.0.2.1","ClientUsername":"-","DownstreamContentSize":19,"DownstreamStatus":404,"Duration":1234567,"OriginDuration":1000000,"RequestHost":"api.example","RequestMethod":"POST","RequestPath":"/v1/login?next=%2F","RequestProtocol":"HTTP/1.1","StartUTC":"2026-03-02T10:00:00.123456789Z","request_User-Agent":"python-requests/2.31","time":"2026-03-02T10:00:00Z"}"#;
        let r = parse(line).unwrap();
        assert_eq!(r.client.as_deref(), Some("192.0.2.1"));
        assert_eq!(r.user, None);
        assert_eq!(r.target.as_deref(), Some("/v1/login?next=%2F"));
        assert_eq!((r.status, r.bytes), (Some(404), Some(19)));
        assert!((r.request_time.unwrap() - 0.001234567).abs() < 1e-12);
        assert_eq!(r.upstream_time, Some(0.001));
        assert_eq!(r.ts.unwrap().to_string(), "2026-03-02T10:00:00.123456Z");
        assert_eq!(r.user_agent.as_deref(), Some("python-requests/2.31"));
    }

    #[test]
    fn overrides_win() {
        let fmt = Json::new(&[
            ("client".into(), "req.addr.ip".into()),
            ("request_time_ms".into(), "t".into()),
        ])
        .unwrap();
        let r = fmt.parse(br#"{"ip":"1.1.1.1","req":{"addr":{"ip":"2.2.2.2"}},"t":250}"#).unwrap();
        assert_eq!(r.client.as_deref(), Some("2.2.2.2"));
        assert_eq!(r.request_time, Some(0.25));
        assert!(Json::new(&[("nope".into(), "x".into())]).is_err());
    }

    #[test]
    fn rejects_and_repairs() {
        assert_eq!(parse("[1,2]").unwrap_err().reason, RejectReason::BadJson);
        assert_eq!(parse(r#"{"status":200"#).unwrap_err().reason, RejectReason::BadJson);
        assert_eq!(parse(r#"{"a":1} x"#).unwrap_err().reason, RejectReason::BadJson);
        let err = parse(r#"{"status":"2xx"}"#).unwrap_err();
        assert_eq!((err.reason, err.field, err.column), (RejectReason::BadStatus, "status", 11));
        let err = parse(r#"{"time":"yesterday"}"#).unwrap_err();
        assert_eq!(err.reason, RejectReason::BadTimestamp);
        let r = Json::default().parse(b"{\"uri\":\"/a\xff\",\"status\":0}").unwrap();
        assert_eq!(r.target.as_deref(), Some(r"/a\xFF"));
        assert_eq!(r.status, None);
    }

    #[test]
    fn path_and_query_join() {
        let r = parse(r#"{"path":"/p","query":"a=1"}"#).unwrap();
        assert_eq!(r.target.as_deref(), Some("/p?a=1"));
    }
}
