//! Compiles an nginx `log_format` string (`$remote_addr - $remote_user [$time_local]
//! "$request" ...`) into a [`Custom`] parser.
//!
//! Known variables fill record fields; any other `$name` (or
//! `${name}`) is kept in `extra` as `$name`. nginx writes `-` for an empty variable,
//! which is read as missing.

use crate::error::IngestError;

use super::custom::{Custom, Kind, Op};

/// Compiles `format` (already unquoted); `spec` is what the user wrote, for messages.
pub(crate) fn compile(format: &str, spec: &str) -> Result<Custom, IngestError> {
    let bytes = format.as_bytes();
    let mut ops = Vec::new();
    let mut literal = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            literal.push(bytes[i]);
            i += 1;
            continue;
        }
        let (name, next) = if bytes.get(i + 1) == Some(&b'{') {
            let Some(close) = memchr::memchr(b'}', &bytes[i + 2..]) else {
                return Err(IngestError::BadFormatSpec {
                    spec: spec.to_string(),
                    message: format!("unclosed `${{` at byte {}", i + 1),
                });
            };
            (&format[i + 2..i + 2 + close], i + 3 + close)
        } else {
            let len = bytes[i + 1..]
                .iter()
                .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_')
                .count();
            (&format[i + 1..i + 1 + len], i + 1 + len)
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(IngestError::BadFormatSpec {
                spec: spec.to_string(),
                message: format!("`$` at byte {} is not followed by a variable name", i + 1),
            });
        }
        if !literal.is_empty() {
            ops.push(Op::Literal(std::mem::take(&mut literal)));
        }
        ops.push(Op::Field(kind_of(name), super::intern(&format!("${name}"))));
        i = next;
    }
    if !literal.is_empty() {
        ops.push(Op::Literal(literal));
    }
    Custom::compile(format!("nginx:'{format}'"), spec, ops)
}

/// The record field an nginx variable fills.
fn kind_of(name: &str) -> Kind {
    match name {
        "remote_addr" => Kind::Client,
        "remote_user" => Kind::User,
        "time_local" => Kind::TimeClf,
        "time_iso8601" => Kind::TimeIso,
        "msec" => Kind::TimeEpoch(1.0),
        "request" => Kind::Request,
        "request_method" => Kind::Method,
        "request_uri" => Kind::Target,
        "uri" | "document_uri" => Kind::Path,
        "args" | "query_string" => Kind::Query,
        "is_args" => Kind::Skip,
        "server_protocol" => Kind::Protocol,
        "status" => Kind::Status,
        "body_bytes_sent" => Kind::Bytes,
        "bytes_sent" => Kind::TotalBytes,
        "http_referer" => Kind::Referer,
        "http_user_agent" => Kind::UserAgent,
        "request_time" => Kind::Seconds(1.0),
        "upstream_response_time" => Kind::Upstream,
        "host" | "http_host" | "server_name" => Kind::Host,
        _ => Kind::Extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Format;

    const MAIN: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#;

    #[test]
    fn main_format() {
        let f = compile(MAIN, MAIN).unwrap();
        let line = br#"2001:db8::1 - alice [10/Oct/2000:13:55:36 -0700] "GET /a?b=\x22c\x22 HTTP/2.0" 404 0 "-" "curl/8.0" "198.51.100.1, 10.0.0.1""#;
        let r = f.parse(line).unwrap();
        assert_eq!(r.client.as_deref(), Some("2001:db8::1"));
        assert_eq!(r.user.as_deref(), Some("alice"));
        assert_eq!(r.target.as_deref(), Some(r#"/a?b="c""#));
        assert_eq!(r.protocol.as_deref(), Some("HTTP/2.0"));
        assert_eq!((r.status, r.bytes), (Some(404), Some(0)));
        assert_eq!(r.referer, None);
        assert_eq!(r.extra("$http_x_forwarded_for"), Some("198.51.100.1, 10.0.0.1"));
    }

    #[test]
    fn timing_and_upstreams() {
        let fmt = r#"$remote_addr [$time_iso8601] $host "$request_method $uri$is_args$args $server_protocol" $status $bytes_sent $request_time $upstream_response_time $upstream_addr ${pipe}"#;
        let f = compile(fmt, fmt).unwrap();
        let line = br#"10.1.1.1 [2026-03-02T13:55:36+01:00] shop.example "POST /cart?id=2 HTTP/1.1" 502 157 1.005 0.503, 0.502 : 0.001 10.0.0.7:80, 10.0.0.8:80 p"#;
        let r = f.parse(line).unwrap();
        assert_eq!(r.host.as_deref(), Some("shop.example"));
        assert_eq!(r.method.as_deref(), Some("POST"));
        assert_eq!(r.target.as_deref(), Some("/cart?id=2"));
        assert_eq!(r.bytes, Some(157));
        assert_eq!((r.request_time, r.upstream_time), (Some(1.005), Some(0.503)));
        assert_eq!(r.extra("$upstream_addr"), Some("10.0.0.7:80, 10.0.0.8:80"));
        assert_eq!(r.extra("$pipe"), Some("p"));
        let line =
            br#"10.1.1.1 [2026-03-02T13:55:36+01:00] - "GET /x - HTTP/1.1" 200 1 0.000 - - ."#;
        let r = f.parse(line).unwrap();
        assert_eq!((r.target.as_deref(), r.upstream_time, r.host), (Some("/x"), None, None));
    }

    #[test]
    fn errors() {
        assert!(compile("$", "$").is_err());
        assert!(compile("${x", "${x").is_err());
        assert!(compile("$remote_addr$status", "").is_err());
        let f = compile(MAIN, MAIN).unwrap();
        let err = f
            .parse(
                br#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 2000 0 "-" "-" "-""#,
            )
            .unwrap_err();
        assert_eq!((err.field, err.column), ("$status", 58));
    }
}
