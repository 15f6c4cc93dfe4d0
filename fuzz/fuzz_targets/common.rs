//! Shared by the format targets: the custom format strings fuzzed, and the parse
//! check every format target runs.

// Each target includes this file and uses only part of it.
#![allow(dead_code)]

use anomalog_ingest::formats::{FormatOptions, from_spec};

/// An nginx `log_format` with every kind of field, extras included.
pub const NGINX: &str = r#"nginx:'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for" $request_time $upstream_response_time $host'"#;

/// An Apache `LogFormat` with every kind of field, extras included.
pub const APACHE: &str = r#"apache:'%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" "%{X-Forwarded-For}i" %D %v'"#;

/// Parses `data` with the format `spec` names; any result is fine, a panic is a bug.
/// A parsed record is also detached from the input and its derived views computed.
pub fn parse(spec: &str, data: &[u8]) {
    let Ok(format) = from_spec(spec, &FormatOptions::default()) else {
        panic!("the fuzzed format spec {spec} does not compile");
    };
    if let Ok(record) = format.parse(data) {
        let _ = (record.path(), record.query(), record.decoded_path(), record.decoded_query());
        let _ = record.into_owned();
    }
}
