//! Compiles an Apache `LogFormat` string (`%h %l %u %t \"%r\" %>s %b`) into a
//! [`Custom`] parser.
//!
//! Directives fill record fields; headers, cookies, environment
//! variables and the other known directives without a record field are kept in
//! `extra` under the directive as written (`%{X-Forwarded-For}i`, `%p`). Status
//! conditions (`%400,501{User-agent}i`, `%!200u`) and the `<`/`>` modifiers are
//! accepted and ignored. An unknown directive, or a `%{...}t` time format other than
//! the CLF and ISO 8601 layouts and `sec`/`msec`/`usec`, is a format error.

use crate::error::IngestError;

use super::custom::{Custom, Kind, Op};

/// Compiles `format` (already unquoted); `spec` is what the user wrote, for messages.
pub(crate) fn compile(format: &str, spec: &str) -> Result<Custom, IngestError> {
    let bad = |message: String| IngestError::BadFormatSpec { spec: spec.to_string(), message };
    let bytes = format.as_bytes();
    let mut ops = Vec::new();
    let mut literal = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {}
            b'\\' if i + 1 < bytes.len() => {
                literal.push(match bytes[i + 1] {
                    b'n' => b'\n',
                    b't' => b'\t',
                    other => other,
                });
                i += 2;
                continue;
            }
            b => {
                literal.push(b);
                i += 1;
                continue;
            }
        }
        let start = i;
        i += 1;
        // Modifiers: status conditions and `<` / `>`.
        while i < bytes.len() && matches!(bytes[i], b'!' | b',' | b'<' | b'>' | b'0'..=b'9') {
            i += 1;
        }
        if bytes.get(i) == Some(&b'%') {
            literal.push(b'%');
            i += 1;
            continue;
        }
        let mut arg = None;
        if bytes.get(i) == Some(&b'{') {
            let close = memchr::memchr(b'}', &bytes[i + 1..])
                .ok_or_else(|| bad(format!("unclosed `%{{` at byte {}", i + 1)))?;
            arg = Some(&format[i + 1..i + 1 + close]);
            i += close + 2;
        }
        let Some(&letter) = bytes.get(i) else {
            return Err(bad(format!("`%` at byte {} ends the format", start + 1)));
        };
        i += 1;
        let written = match arg {
            Some(a) => format!("%{{{a}}}{}", char::from(letter)),
            None => format!("%{}", char::from(letter)),
        };
        let kind = kind_of(letter, arg)
            .ok_or_else(|| bad(format!("unknown or unsupported directive `{written}`")))?;
        if !literal.is_empty() {
            ops.push(Op::Literal(std::mem::take(&mut literal)));
        }
        let name = super::intern(&written);
        if letter == b't' && arg.is_none() {
            // `%t` writes its own brackets.
            ops.push(Op::Literal(b"[".to_vec()));
            ops.push(Op::Field(kind, name));
            literal.push(b']');
        } else {
            ops.push(Op::Field(kind, name));
        }
    }
    if !literal.is_empty() {
        ops.push(Op::Literal(literal));
    }
    Custom::compile(format!("apache:'{format}'"), spec, ops)
}

/// The record field a directive fills; `None` for an unknown directive.
fn kind_of(letter: u8, arg: Option<&str>) -> Option<Kind> {
    Some(match (letter, arg) {
        (b'h', _) => Kind::Client,
        (b'a', None) => Kind::ClientIp,
        (b'l', _) => Kind::Ident,
        (b'u', _) => Kind::User,
        (b't', None) => Kind::TimeClf,
        (b't', Some(fmt)) => time_kind(fmt)?,
        (b'r', _) => Kind::Request,
        (b's', _) => Kind::Status,
        (b'b' | b'B', _) => Kind::Bytes,
        (b'O', _) => Kind::TotalBytes,
        (b'i', Some(h)) if h.eq_ignore_ascii_case("referer") => Kind::Referer,
        (b'i', Some(h)) if h.eq_ignore_ascii_case("user-agent") => Kind::UserAgent,
        (b'i', Some(h)) if h.eq_ignore_ascii_case("host") => Kind::Host,
        (b'D', _) => Kind::Seconds(1e-6),
        (b'T', None | Some("s")) => Kind::Seconds(1.0),
        (b'T', Some("ms")) => Kind::Seconds(1e-3),
        (b'T', Some("us")) => Kind::Seconds(1e-6),
        (b'v' | b'V', _) => Kind::Host,
        (b'U', _) => Kind::Path,
        (b'q', _) => Kind::Query,
        (b'm', _) => Kind::Method,
        (b'H', _) => Kind::Protocol,
        (b'i' | b'o' | b'e' | b'n' | b'C' | b'a' | b'p' | b'P' | b'x' | b'c', Some(_)) => {
            Kind::Extra
        }
        (b'^', Some(_)) => Kind::Extra,
        (b'A' | b'f' | b'I' | b'k' | b'L' | b'p' | b'P' | b'R' | b'S' | b'X', None) => Kind::Extra,
        _ => return None,
    })
}

/// `%{format}t`: epoch forms and the strftime layouts timestamps can be read back from.
fn time_kind(fmt: &str) -> Option<Kind> {
    let fmt = fmt.strip_prefix("begin:").or_else(|| fmt.strip_prefix("end:")).unwrap_or(fmt);
    Some(match fmt {
        "sec" => Kind::TimeEpoch(1.0),
        "msec" => Kind::TimeEpoch(1e3),
        "usec" => Kind::TimeEpoch(1e6),
        "%d/%b/%Y:%H:%M:%S %z" => Kind::TimeClf,
        "%Y-%m-%dT%H:%M:%S%z"
        | "%Y-%m-%dT%H:%M:%SZ"
        | "%Y-%m-%d %H:%M:%S"
        | "%Y-%m-%d %H:%M:%S%z"
        | "%Y-%m-%dT%H:%M:%S"
        | "%FT%T%z"
        | "%F %T" => Kind::TimeIso,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Format;

    #[test]
    fn combined_as_logformat() {
        let fmt = r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i""#;
        let f = compile(fmt, fmt).unwrap();
        let line = br#"192.0.2.9 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 - "http://r/" "UA \"q\"""#;
        let r = f.parse(line).unwrap();
        assert_eq!(r.ts.unwrap().to_string(), "2000-10-10T13:55:36-07:00");
        assert_eq!((r.status, r.bytes), (Some(200), None));
        assert_eq!(r.referer.as_deref(), Some("http://r/"));
        assert_eq!(r.user_agent.as_deref(), Some(r#"UA "q""#));
    }

    #[test]
    fn vhost_combined_and_timing() {
        let fmt = r#"%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i" %D %{X-Forwarded-For}i"#;
        let f = compile(fmt, fmt).unwrap();
        let line = br#"www.example.com:443 198.51.100.4 - - [02/Mar/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5120 "-" "Mozilla/5.0" 2500 203.0.113.1"#;
        let r = f.parse(line).unwrap();
        assert_eq!(r.host.as_deref(), Some("www.example.com"));
        assert_eq!(r.extra("%p"), Some("443"));
        assert_eq!(r.bytes, Some(5120));
        assert_eq!(r.request_time, Some(0.0025));
        assert_eq!(r.extra("%{X-Forwarded-For}i"), Some("203.0.113.1"));
    }

    #[test]
    fn path_and_query_pieces() {
        let fmt = "%a %{%Y-%m-%dT%H:%M:%S%z}t %m %U%q %H %s %B %T";
        let f = compile(fmt, fmt).unwrap();
        let r = f.parse(b"10.0.0.1 2026-03-02T10:00:00+0100 GET /a?x=1 HTTP/1.1 200 0 3").unwrap();
        assert_eq!(r.client.as_deref(), Some("10.0.0.1"));
        assert_eq!(r.ts.unwrap().to_string(), "2026-03-02T10:00:00+01:00");
        assert_eq!(r.target.as_deref(), Some("/a?x=1"));
        assert_eq!((r.bytes, r.request_time), (Some(0), Some(3.0)));
        let fmt = "%h %U %q";
        let r = compile(fmt, fmt).unwrap().parse(b"h /p ?a=b").unwrap();
        assert_eq!(r.target.as_deref(), Some("/p?a=b"));
    }

    #[test]
    fn format_errors() {
        for bad in ["%h %Z", "%h %{foo}t", "%h %{Referer", "%h %"] {
            let err = compile(bad, bad).unwrap_err();
            assert!(matches!(err, IngestError::BadFormatSpec { .. }), "{bad}");
        }
        assert!(compile("%h 100%% %s", "").is_ok());
    }
}
