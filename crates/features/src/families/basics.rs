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
        out.extend(present.iter().map(|&p| indicator(!p)));

        let method = r.method.as_deref().unwrap_or("");
        let known = ["GET", "POST", "HEAD"];
        for m in known {
            out.push(indicator(method.eq_ignore_ascii_case(m)));
        }
        out.push(indicator(
            !method.is_empty() && !known.iter().any(|m| method.eq_ignore_ascii_case(m)),
        ));

        // With the status missing every class is 0; `status_missing` says why.
        let class = r.status.map(|s| s / 100);
        for c in 2..=5 {
            out.push(indicator(class == Some(c)));
        }
        out.push(indicator(class.is_some_and(|c| !(2..=5).contains(&c))));

        out.push(match r.protocol.as_deref() {
            Some(p) => {
                indicator(p.eq_ignore_ascii_case("HTTP/1.0") || p.eq_ignore_ascii_case("HTTP/0.9"))
            }
            None => f64::NAN,
        });
        out.push(r.bytes.map_or(f64::NAN, |b| b as f64));
        out.push(
            r.request_time.filter(|t| t.is_finite() && *t >= 0.0).map_or(f64::NAN, |t| t * 1000.0),
        );
    }
}

/// 1.0 for true, 0.0 for false.
#[inline]
pub fn indicator(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}
