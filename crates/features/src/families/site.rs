//! Site-wide time series: request volume, 5xx ratio and latency of the whole site,
//! each compared with its own recent baseline. This is how an incident shows up: every
//! request during an outage carries "the site is throwing 5xx at ten times its usual
//! rate" or "latency is four spreads above normal".
//!
//! The short window is the shortest configured window, the baseline the longest (or
//! sixty short windows when only one is configured). Both are decayed sums and
//! decayed latency histograms, so the series needs no per-second buckets.

use crate::config::FeatureConfig;
use crate::families::{FeatureFamily, Input};
use crate::preprocess::{FeatureSpec, Transform};
use crate::window::{DecayedHistogram, WindowTable, ratio};

/// Latency statistics are recomputed at most this often (stream seconds) or every
/// [`REFRESH_RECORDS`] records: they move slowly, and quantiles cost a scan of the
/// histograms.
const REFRESH_SECS: f64 = 0.25;
const REFRESH_RECORDS: u32 = 32;
/// The smallest robust spread of log10 latency used in the z-score (about 12%), so a
/// site with perfectly uniform latency does not call a 1 ms change an incident.
const MIN_LOG_SPREAD: f64 = 0.05;

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    n: f64,
    status_n: f64,
    e5xx: f64,
}

#[derive(Debug, Clone, Copy)]
struct Latency {
    p50_ms: f64,
    p95_ms: f64,
    z: f64,
    p95_ratio: f64,
}

/// The site family.
pub struct Site {
    short_name: u32,
    last: Option<f64>,
    counts: [Counts; 2],
    /// The short and baseline windows.
    tables: [WindowTable; 2],
    /// The decay factors of the short and baseline windows for `last_dt`.
    factors: [f64; 2],
    last_dt: f64,
    /// Their effective spans for `last_elapsed`.
    spans: [f64; 2],
    last_elapsed: u64,
    hist: [DecayedHistogram; 2],
    cached: Latency,
    cached_at: f64,
    since_refresh: u32,
    dirty: bool,
}

impl Site {
    /// A family with empty state.
    pub fn new(config: &FeatureConfig) -> Site {
        let short_name = config.windows_secs.first().copied().unwrap_or(10);
        let short = f64::from(short_name);
        let longest = config.windows_secs.last().map_or(short, |&w| f64::from(w));
        let baseline = if longest > short { longest } else { short * 60.0 };
        Site {
            short_name,
            last: None,
            counts: [Counts::default(); 2],
            tables: [WindowTable::new(short), WindowTable::new(baseline)],
            factors: [1.0; 2],
            last_dt: 0.0,
            spans: [f64::NAN; 2],
            // The bits of a NaN, which no elapsed time is.
            last_elapsed: u64::MAX,
            hist: [DecayedHistogram::new(short), DecayedHistogram::new(baseline)],
            cached: Latency {
                p50_ms: f64::NAN,
                p95_ms: f64::NAN,
                z: f64::NAN,
                p95_ratio: f64::NAN,
            },
            cached_at: f64::NEG_INFINITY,
            since_refresh: 0,
            dirty: false,
        }
    }

    fn latency(&mut self, now: f64) -> Latency {
        let due = now - self.cached_at >= REFRESH_SECS || self.since_refresh >= REFRESH_RECORDS;
        if self.dirty && due {
            let [s50, s95] = self.hist[0].log_quantiles([0.5, 0.95]);
            let [b25, b50, b75, b95] = self.hist[1].log_quantiles([0.25, 0.5, 0.75, 0.95]);
            let spread = ((b75 - b25) / 1.349).max(MIN_LOG_SPREAD);
            self.cached = Latency {
                p50_ms: 10f64.powf(s50) * 1000.0,
                p95_ms: 10f64.powf(s95) * 1000.0,
                z: (s50 - b50) / spread,
                p95_ratio: 10f64.powf(s95 - b95),
            };
            self.cached_at = now;
            self.since_refresh = 0;
            self.dirty = false;
        }
        self.since_refresh += 1;
        self.cached
    }
}

impl FeatureFamily for Site {
    fn specs(&self, out: &mut Vec<FeatureSpec>) {
        let w = self.short_name;
        out.push(FeatureSpec::new(format!("site_rate_{w}s"), Transform::Log1p));
        out.push(FeatureSpec::new("site_rate_ratio", Transform::Log1p));
        out.push(FeatureSpec::new(format!("site_5xx_ratio_{w}s"), Transform::Identity));
        out.push(FeatureSpec::new("site_5xx_excess", Transform::Identity));
        out.push(FeatureSpec::new(format!("site_latency_p50_ms_{w}s"), Transform::Log1p));
        out.push(FeatureSpec::new(format!("site_latency_p95_ms_{w}s"), Transform::Log1p));
        out.push(FeatureSpec::new("site_latency_z", Transform::Identity));
        out.push(FeatureSpec::new("site_latency_p95_ratio", Transform::Log1p));
    }

    fn push(&mut self, input: &Input<'_, '_>, out: &mut Vec<f64>) {
        let (r, now) = (input.record, input.now);
        let dt = self.last.map_or(0.0, |l| now - l);
        self.last = Some(now);
        let is5xx = r.status.map(|s| (500..600).contains(&s));
        // Arrivals are often evenly spaced (or share a timestamp): the factors of the
        // last interval are reused when it repeats.
        if dt.to_bits() != self.last_dt.to_bits() {
            self.last_dt = dt;
            self.factors = self.tables.each_ref().map(|t| t.decay(dt));
        }
        for (c, f) in self.counts.iter_mut().zip(self.factors) {
            c.n = c.n * f + 1.0;
            c.status_n = c.status_n * f + f64::from(u8::from(is5xx.is_some()));
            c.e5xx = c.e5xx * f + f64::from(u8::from(is5xx == Some(true)));
        }
        if let Some(bin) = r.request_time.and_then(DecayedHistogram::bin) {
            self.hist[0].add_to_bin(now, bin);
            self.hist[1].add_to_bin(now, bin);
            self.dirty = true;
        }
        if input.elapsed.to_bits() != self.last_elapsed {
            self.last_elapsed = input.elapsed.to_bits();
            self.spans = self.tables.each_ref().map(|t| t.effective_span(input.elapsed));
        }
        let [s, b] = self.counts;
        let rate_short = s.n / self.spans[0];
        let rate_base = b.n / self.spans[1];
        let ratio_short = ratio(s.e5xx, s.status_n);
        let lat = self.latency(now);
        out.push(rate_short);
        out.push(ratio(rate_short, rate_base));
        out.push(ratio_short);
        out.push(ratio_short - ratio(b.e5xx, b.status_n));
        out.extend([lat.p50_ms, lat.p95_ms, lat.z, lat.p95_ratio]);
    }
}

#[cfg(test)]
mod tests {
    use anomalog_ingest::Record;

    use super::*;
    use crate::request::RequestView;

    fn rec(status: u16, rt: f64) -> Record<'static> {
        Record { status: Some(status), request_time: Some(rt), ..Record::default() }
    }

    fn run(site: &mut Site, r: &Record<'_>, now: f64) -> Vec<f64> {
        let v = RequestView::default();
        let mut out = Vec::new();
        site.push(&Input::decoded(r, &v, now, now), &mut out);
        out
    }

    #[test]
    fn a_latency_incident_raises_the_latency_z_score() {
        let mut site = Site::new(&FeatureConfig::default());
        let mut normal = Vec::new();
        // 20 minutes of normal traffic at 10 req/s, ~50 ms.
        for i in 0..12_000 {
            let rt = 0.04 + 0.02 * f64::from(i % 7) / 6.0;
            normal = run(&mut site, &rec(200, rt), f64::from(i) * 0.1);
        }
        assert!(normal[6].abs() < 1.0, "{normal:?}");
        // Then everything takes two seconds, and errors.
        let mut incident = Vec::new();
        for i in 0..150 {
            incident = run(&mut site, &rec(503, 2.0), 1200.0 + f64::from(i) * 0.1);
        }
        assert!(incident[6] > 10.0, "z {incident:?}");
        assert!(incident[7] > 10.0, "p95 ratio {incident:?}");
        assert!(incident[4] > 1000.0, "p50 ms {incident:?}");
        assert!(incident[2] > 0.7, "5xx ratio {incident:?}");
        assert!(incident[3] > 0.3, "5xx excess {incident:?}");
    }

    #[test]
    fn a_traffic_spike_raises_the_rate_ratio() {
        let mut site = Site::new(&FeatureConfig::default());
        let mut out = Vec::new();
        for i in 0..6000 {
            out = run(&mut site, &rec(200, 0.05), f64::from(i) * 0.2);
        }
        assert!((out[0] - 5.0).abs() < 0.5, "{out:?}");
        assert!((out[1] - 1.0).abs() < 0.1, "{out:?}");
        for i in 0..2000 {
            out = run(&mut site, &rec(200, 0.05), 1200.0 + f64::from(i) * 0.005);
        }
        assert!(out[1] > 5.0, "{out:?}");
    }

    #[test]
    fn without_latency_the_latency_features_are_missing() {
        let mut site = Site::new(&FeatureConfig::default());
        let out = run(&mut site, &Record::default(), 0.0);
        assert!(out[0].is_finite());
        assert!(out[2].is_nan() && out[4].is_nan() && out[6].is_nan());
    }
}
