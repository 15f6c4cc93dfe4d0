//! Time of the request as cyclic encodings: hour of day and day of week in the zone
//! the log was written in, as points on a circle so that 23:59 is next to 00:00.
//!
//! A pipeline fitted on less than a period (a day for the hour, a week for the
//! weekday) scales that period's columns to a constant 0 (see [`judgeable`]): the
//! raw values stay visible in explanations but cannot raise an alert.
//!
//! The record's own timestamp is used (not the stream clock), since these features
//! describe when the request says it happened, not window state.
//!
//! Geography (country, ASN) is its own family, [`crate::families::geo`].

use std::f64::consts::TAU;

use crate::families::{FeatureFamily, Input};
use crate::preprocess::{FeatureSpec, Transform};

/// The time family. Its only state is the encoding of the last second seen, since
/// consecutive records mostly share their second and the trigonometry is the cost.
#[derive(Debug, Default)]
pub struct Time {
    last: Option<(i64, i32, [f64; 4])>,
}

const NAMES: [&str; 4] = ["hour_sin", "hour_cos", "weekday_sin", "weekday_cos"];

const DAY_SECS: f64 = 86_400.0;
const WEEK_SECS: f64 = 7.0 * DAY_SECS;

/// Whether a column can be judged after training on `span_secs` of traffic: an hour
/// column needs a day of training, a weekday column a week, or the hours (days) that
/// training never reached would all look anomalous. Columns of other families always
/// can.
pub fn judgeable(column: &str, span_secs: f64) -> bool {
    let period = match column {
        "hour_sin" | "hour_cos" => DAY_SECS,
        "weekday_sin" | "weekday_cos" => WEEK_SECS,
        _ => return true,
    };
    span_secs >= period
}

impl FeatureFamily for Time {
    fn specs(&self, out: &mut Vec<FeatureSpec>) {
        out.extend(NAMES.iter().map(|n| FeatureSpec::new(*n, Transform::Identity)));
    }

    fn push(&mut self, input: &Input<'_, '_>, out: &mut Vec<f64>) {
        let Some(ts) = input.record.ts else {
            out.extend([f64::NAN; 4]);
            return;
        };
        let (secs, offset) = (ts.unix_secs(), ts.offset_secs);
        if let Some((s, o, values)) = self.last
            && s == secs
            && o == offset
        {
            out.extend(values);
            return;
        }
        let (_, _, _, h, m, s, weekday) = ts.local_civil();
        let hour = f64::from(h) + f64::from(m) / 60.0 + f64::from(s) / 3600.0;
        let day = f64::from(weekday) + hour / 24.0;
        let (hs, hc) = (TAU * hour / 24.0).sin_cos();
        let (ds, dc) = (TAU * day / 7.0).sin_cos();
        let values = [hs, hc, ds, dc];
        self.last = Some((secs, offset, values));
        out.extend(values);
    }
}

#[cfg(test)]
mod tests {
    use anomalog_ingest::{Record, Timestamp};

    use super::*;
    use crate::request::RequestView;

    fn at(s: &str) -> Vec<f64> {
        let r = Record { ts: Timestamp::parse_iso8601(s.as_bytes()), ..Record::default() };
        let mut out = Vec::new();
        Time::default().push(&Input::decoded(&r, &RequestView::default(), 0.0, 0.0), &mut out);
        out
    }

    #[test]
    fn cyclic_hours() {
        let midnight = at("2026-03-02T00:00:00Z");
        assert!((midnight[0]).abs() < 1e-12 && (midnight[1] - 1.0).abs() < 1e-12);
        let six = at("2026-03-02T06:00:00Z");
        assert!((six[0] - 1.0).abs() < 1e-12);
        // 23:59 and 00:01 are neighbours.
        let (a, b) = (at("2026-03-02T23:59:00Z"), at("2026-03-03T00:01:00Z"));
        assert!((a[0] - b[0]).abs() < 0.01 && (a[1] - b[1]).abs() < 0.01);
        // The logged zone counts: 06:00+02:00 is six in the morning there.
        assert!((at("2026-03-02T06:00:00+02:00")[0] - 1.0).abs() < 1e-12);
        assert!(at("not a time").iter().all(|x| x.is_nan()));
    }
}
