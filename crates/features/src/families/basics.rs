//! The request and response as logged: missing-field indicators, method and status
//! class one-hot, response size and request time. Always on: the other families'
//! missing values are only interpretable next to these indicators.

use crate::families::{FeatureFamily, Input};
use crate::preprocess::{FeatureSpec, Transform};

/// Fields whose absence is recorded as a `*_missing` column, in column order.
const MISSING: [&str; 10] = [
    "ts",
    "client",
    "method",
    "target",
    "status",
    "bytes",
    "request_time",
    "user_agent",
    "referer",
    "body",
];

/// The basics family (stateless).
#[derive(Debug, Default)]
pub struct Basics;

impl FeatureFamily for Basics {
    fn specs(&self, out: &mut Vec<FeatureSpec>) {
        for field in MISSING {
            out.push(FeatureSpec::new(format!("{field}_missing"), Transform::Binary));
        }
        for name in [
            "method_get",
            "method_post",
            "method_head",
            "method_other",
            "status_2xx",
            "status_3xx",
            "status_4xx",
            "status_5xx",
            "status_other",
            "protocol_http10",
        ] {
            out.push(FeatureSpec::new(name, Transform::Binary));
        }
        out.push(FeatureSpec::new("response_bytes", Transform::Log1p));
        out.push(FeatureSpec::new("request_time_ms", Transform::Log1p));
    }

    fn push(&mut self, input: &Input<'_, '_>, out: &mut Vec<f64>) {
        let r = input.record;
        // The row is built in place and appended at once: one capacity check, not 22.
        let mut row = [0.0; WIDTH];
        let present = [
            r.ts.is_some(),
            r.client.is_some(),
            r.method.is_some(),
            r.target.is_some(),
            r.status.is_some(),
            r.bytes.is_some(),
            r.request_time.is_some(),
            r.user_agent.is_some(),
            r.referer.is_some(),
            r.body.is_some(),
        ];
        for (x, p) in row.iter_mut().zip(present) {
            *x = indicator(!p);
        }

        let method = r.method.as_deref().unwrap_or("").as_bytes();
        // Exact bytes first: methods are nearly always upper case.
        let is = |name: &[u8]| method == name || method.eq_ignore_ascii_case(name);
        let (get, post, head) = (is(b"GET"), is(b"POST"), is(b"HEAD"));
        row[10] = indicator(get);
        row[11] = indicator(post);
        row[12] = indicator(head);
        row[13] = indicator(!(method.is_empty() || get || post || head));

        // With the status missing every class is 0; `status_missing` says why.
        let class = r.status.map(|s| s / 100);
        for (c, x) in (2..=5).zip(&mut row[14..18]) {
            *x = indicator(class == Some(c));
        }
        row[18] = indicator(class.is_some_and(|c| !(2..=5).contains(&c)));

        row[19] = match r.protocol.as_deref() {
            // The common protocols first, by exact bytes.
            Some("HTTP/1.1" | "HTTP/2.0" | "HTTP/2" | "HTTP/3") => 0.0,
            Some(p) => {
                indicator(p.eq_ignore_ascii_case("HTTP/1.0") || p.eq_ignore_ascii_case("HTTP/0.9"))
            }
            None => f64::NAN,
        };
        row[20] = r.bytes.map_or(f64::NAN, |b| b as f64);
        row[21] =
            r.request_time.filter(|t| t.is_finite() && *t >= 0.0).map_or(f64::NAN, |t| t * 1000.0);
        out.extend_from_slice(&row);
    }
}

/// Columns of the family: the missing indicators, four method, five status and one
/// protocol indicator, bytes and request time.
const WIDTH: usize = MISSING.len() + 12;

/// 1.0 for true, 0.0 for false.
#[inline]
pub fn indicator(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}
