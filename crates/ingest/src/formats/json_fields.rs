//! Which JSON keys fill which record field: the common names of nginx `escape=json`
//! formats, Caddy and Traefik, and the `--field name=path` overrides.

use crate::error::IngestError;

/// A record field a JSON value can fill, with the unit of durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Slot {
    Client,
    Ident,
    User,
    Time,
    /// A whole request line (`GET /a HTTP/1.1`).
    Request,
    Method,
    Target,
    Path,
    Query,
    Protocol,
    Status,
    Bytes,
    Referer,
    UserAgent,
    Host,
    Body,
    /// Request time; the value times this is seconds.
    RequestTime(f64),
    /// Upstream time; the value times this is seconds.
    Upstream(f64),
}

/// How many slots there are (for per-slot arrays).
pub(crate) const SLOTS: usize = 18;

impl Slot {
    /// Index into per-slot arrays.
    pub(crate) fn index(self) -> usize {
        match self {
            Slot::Client => 0,
            Slot::Ident => 1,
            Slot::User => 2,
            Slot::Time => 3,
            Slot::Request => 4,
            Slot::Method => 5,
            Slot::Target => 6,
            Slot::Path => 7,
            Slot::Query => 8,
            Slot::Protocol => 9,
            Slot::Status => 10,
            Slot::Bytes => 11,
            Slot::Referer => 12,
            Slot::UserAgent => 13,
            Slot::Host => 14,
            Slot::Body => 15,
            Slot::RequestTime(_) => 16,
            Slot::Upstream(_) => 17,
        }
    }

    /// The field name used in errors.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Slot::Client => "client",
            Slot::Ident => "ident",
            Slot::User => "user",
            Slot::Time => "ts",
            Slot::Request => "request",
            Slot::Method => "method",
            Slot::Target => "target",
            Slot::Path => "path",
            Slot::Query => "query",
            Slot::Protocol => "protocol",
            Slot::Status => "status",
            Slot::Bytes => "bytes",
            Slot::Referer => "referer",
            Slot::UserAgent => "user_agent",
            Slot::Host => "host",
            Slot::Body => "body",
            Slot::RequestTime(_) => "request_time",
            Slot::Upstream(_) => "upstream_time",
        }
    }
}

/// The slot a `--field NAME=path` override names (durations may say their unit:
/// `request_time_ms`, `upstream_time_ns`; seconds otherwise).
pub(crate) fn override_slot(name: &str) -> Result<Slot, IngestError> {
    let duration = |base: &str| -> Option<f64> {
        match name.strip_prefix(base)? {
            "" | "_s" => Some(1.0),
            "_ms" => Some(1e-3),
            "_us" => Some(1e-6),
            "_ns" => Some(1e-9),
            _ => None,
        }
    };
    if let Some(scale) = duration("request_time") {
        return Ok(Slot::RequestTime(scale));
    }
    if let Some(scale) = duration("upstream_time") {
        return Ok(Slot::Upstream(scale));
    }
    Ok(match name {
        "client" => Slot::Client,
        "ident" => Slot::Ident,
        "user" => Slot::User,
        "ts" | "time" => Slot::Time,
        "request" => Slot::Request,
        "method" => Slot::Method,
        "target" => Slot::Target,
        "path" => Slot::Path,
        "query" => Slot::Query,
        "protocol" => Slot::Protocol,
        "status" => Slot::Status,
        "bytes" => Slot::Bytes,
        "referer" => Slot::Referer,
        "user_agent" => Slot::UserAgent,
        "host" => Slot::Host,
        "body" => Slot::Body,
        _ => {
            return Err(IngestError::BadFormatSpec {
                spec: format!("--field {name}=..."),
                message: format!(
                    "unknown field `{name}`; expected one of client, ident, user, ts, request, \
                     method, target, path, query, protocol, status, bytes, referer, user_agent, \
                     host, body, request_time[_ms|_us|_ns], upstream_time[_ms|_us|_ns]"
                ),
            });
        }
    })
}

/// The slot of a top-level key and its rank (lower wins when several keys fill one
/// slot).
pub(crate) fn top_level(key: &str) -> Option<(Slot, u8)> {
    Some(match key {
        "remote_addr" | "remote_ip" | "client_ip" | "clientip" | "client" | "ip" | "ClientHost"
        | "c-ip" => (Slot::Client, 1),
        "ClientAddr" | "client_addr" => (Slot::Client, 3),
        "remote_user" | "user" | "username" | "ClientUsername" | "user_id" => (Slot::User, 1),
        "ident" => (Slot::Ident, 1),
        "time" | "timestamp" | "ts" | "@timestamp" | "time_local" | "time_iso8601" | "StartUTC"
        | "StartLocal" | "msec" | "date" | "datetime" => (Slot::Time, 1),
        "request" | "request_line" => (Slot::Request, 1),
        "method" | "request_method" | "RequestMethod" | "verb" | "http_method" => (Slot::Method, 1),
        "request_uri" | "url" | "uri" | "RequestPath" | "target" => (Slot::Target, 1),
        "path" | "uri_path" => (Slot::Path, 1),
        "query" | "args" | "query_string" | "querystring" => (Slot::Query, 1),
        "protocol" | "server_protocol" | "proto" | "RequestProtocol" | "http_version" => {
            (Slot::Protocol, 1)
        }
        "status" | "status_code" | "statusCode" | "DownstreamStatus" | "response_status" => {
            (Slot::Status, 1)
        }
        "body_bytes_sent"
        | "bytes"
        | "size"
        | "DownstreamContentSize"
        | "response_size"
        | "bytes_out" => (Slot::Bytes, 1),
        "bytes_sent" => (Slot::Bytes, 2),
        "referer" | "referrer" | "http_referer" | "http_referrer" | "request_Referer" => {
            (Slot::Referer, 1)
        }
        "user_agent" | "http_user_agent" | "useragent" | "userAgent" | "agent"
        | "request_User-Agent" => (Slot::UserAgent, 1),
        "host" | "http_host" | "server_name" | "RequestHost" | "vhost" => (Slot::Host, 1),
        "request_time" | "duration" | "response_time" | "elapsed" => (Slot::RequestTime(1.0), 1),
        "request_time_ms" | "duration_ms" => (Slot::RequestTime(1e-3), 1),
        // Traefik logs durations in nanoseconds.
        "Duration" => (Slot::RequestTime(1e-9), 1),
        "upstream_response_time" | "upstream_time" => (Slot::Upstream(1.0), 1),
        "OriginDuration" => (Slot::Upstream(1e-9), 1),
        _ => return None,
    })
}

/// The slot of a key nested under a top-level `request` or `req` object (Caddy's
/// `request.remote_ip`, `request.headers.User-Agent`); `in_headers` when the key's
/// parent is `headers`.
pub(crate) fn nested(key: &str, in_headers: bool) -> Option<(Slot, u8)> {
    if in_headers {
        return Some(if key.eq_ignore_ascii_case("user-agent") {
            (Slot::UserAgent, 2)
        } else if key.eq_ignore_ascii_case("referer") {
            (Slot::Referer, 2)
        } else if key.eq_ignore_ascii_case("host") {
            (Slot::Host, 3)
        } else {
            return None;
        });
    }
    Some(match key {
        "client_ip" => (Slot::Client, 1),
        "remote_ip" => (Slot::Client, 2),
        "remote_addr" => (Slot::Client, 4),
        "method" => (Slot::Method, 2),
        "uri" | "url" => (Slot::Target, 2),
        "path" => (Slot::Path, 2),
        "query" => (Slot::Query, 2),
        "proto" | "protocol" => (Slot::Protocol, 2),
        "host" => (Slot::Host, 2),
        "body" => (Slot::Body, 2),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_units() {
        assert_eq!(override_slot("client").unwrap(), Slot::Client);
        assert_eq!(override_slot("request_time_ns").unwrap(), Slot::RequestTime(1e-9));
        assert_eq!(override_slot("upstream_time").unwrap(), Slot::Upstream(1.0));
        assert!(override_slot("request_time_h").is_err());
        assert!(override_slot("nope").is_err());
    }

    #[test]
    fn every_slot_has_its_own_index() {
        let slots = [
            Slot::Client,
            Slot::Ident,
            Slot::User,
            Slot::Time,
            Slot::Request,
            Slot::Method,
            Slot::Target,
            Slot::Path,
            Slot::Query,
            Slot::Protocol,
            Slot::Status,
            Slot::Bytes,
            Slot::Referer,
            Slot::UserAgent,
            Slot::Host,
            Slot::Body,
            Slot::RequestTime(1.0),
            Slot::Upstream(1.0),
        ];
        let mut seen = [false; SLOTS];
        for s in slots {
            assert!(!seen[s.index()]);
            seen[s.index()] = true;
        }
    }
}
