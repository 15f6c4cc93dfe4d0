//! Causal sliding windows as exponentially decayed sums.
//!
//! A sum decayed with time constant `w` seconds weighs an event `dt` seconds old by
//! `exp(-dt / w)`: it behaves like a count over the last `w` seconds, needs one number
//! per window instead of a buffer of events, and only ever looks at the past and the
//! present record. This is the EWMA of the issue, in continuous time so that irregular
//! arrivals are handled exactly.

use std::sync::LazyLock;

/// Rates need some elapsed time before they mean anything: a first request is not
/// "infinitely fast".
pub const MIN_ELAPSED_SECS: f64 = 5.0;

/// The decay factor for `dt` seconds with time constant `window` seconds.
#[inline]
pub fn decay(dt: f64, window: f64) -> f64 {
    if dt <= 0.0 { 1.0 } else { (-dt / window).exp() }
}

/// The time span a decayed sum has covered after `elapsed` seconds of observation:
/// `window * (1 - exp(-elapsed / window))`. Dividing a decayed count by it gives a rate
/// that is right from the start, not only once a whole window has passed.
#[inline]
pub fn effective_span(window: f64, elapsed: f64) -> f64 {
    // Past 40 windows the correction is below 1e-17: skip the exponential.
    if elapsed > 40.0 * window {
        return window;
    }
    window * (1.0 - (-elapsed.max(MIN_ELAPSED_SECS) / window).exp())
}

/// Whole seconds below this have their decay factor in a [`WindowTable`].
const TABLE_DECAY_SECS: usize = 64;
/// Whole seconds below this have their effective span in a [`WindowTable`].
const TABLE_SPAN_SECS: usize = 1024;
/// 2^52: the smallest power of two whose doubles are all whole numbers.
const TWO_POW_52: f64 = 4_503_599_627_370_496.0;

/// `x` as an index when it is a whole number in `0..n` (`n` a power of two).
#[inline(always)]
fn whole_below(x: f64, n: usize) -> Option<usize> {
    if (0.0..n as f64).contains(&x) {
        // Adding 2^52 rounds a value below 2^52 to an integer: `x` is whole exactly
        // when the round trip gives it back, and the integer is the low bits.
        let y = x + TWO_POW_52;
        if y - TWO_POW_52 == x {
            return Some((y.to_bits() as usize) & (n - 1));
        }
    }
    None
}

/// [`decay`] and [`effective_span`] of one window, with the values for small whole
/// numbers of seconds computed once: log timestamps are whole seconds, so most gaps and
/// ages are small whole numbers, and each exponential costs more than the rest of a
/// window update. Gives exactly the values of the functions.
#[derive(Debug, Clone)]
pub struct WindowTable {
    window: f64,
    decay: Box<[f64; TABLE_DECAY_SECS]>,
    span: Box<[f64; TABLE_SPAN_SECS]>,
}

impl WindowTable {
    /// The table of a window of `window` seconds.
    pub fn new(window: f64) -> WindowTable {
        let mut decays = Box::new([0.0; TABLE_DECAY_SECS]);
        for (k, v) in decays.iter_mut().enumerate() {
            *v = decay(k as f64, window);
        }
        let mut span = Box::new([0.0; TABLE_SPAN_SECS]);
        for (k, v) in span.iter_mut().enumerate() {
            *v = effective_span(window, k as f64);
        }
        WindowTable { window, decay: decays, span }
    }

    /// The window length in seconds.
    #[inline]
    pub fn window(&self) -> f64 {
        self.window
    }

    /// [`decay`]`(dt, window)`.
    #[inline]
    pub fn decay(&self, dt: f64) -> f64 {
        match whole_below(dt, TABLE_DECAY_SECS) {
            Some(k) => self.decay[k],
            None => decay(dt, self.window),
        }
    }

    /// [`effective_span`]`(window, elapsed)`.
    #[inline]
    pub fn effective_span(&self, elapsed: f64) -> f64 {
        match whole_below(elapsed, TABLE_SPAN_SECS) {
            Some(k) => self.span[k],
            None => effective_span(self.window, elapsed),
        }
    }
}

/// `num / den`, NaN when the denominator is (nearly) empty: a ratio over no events is
/// missing, not zero.
#[inline]
pub fn ratio(num: f64, den: f64) -> f64 {
    if den > 1e-9 { num / den } else { f64::NAN }
}

/// The shared clock of a stream, in seconds since the epoch.
///
/// Out-of-order records never move it backwards: a record stamped earlier than the
/// latest one seen is treated as happening at the latest time (clamped), so window
/// state is never decayed by a negative interval. A record without a timestamp also
/// happens at the latest time. A stream that never saw a timestamp stays at 0.
#[derive(Debug, Default, Clone, Copy)]
pub struct Clock {
    now: f64,
    start: Option<f64>,
}

impl Clock {
    /// Advances to a record's time (if later) and returns the time the record is
    /// treated as happening at.
    pub fn observe(&mut self, ts: Option<f64>) -> f64 {
        if let Some(t) = ts.filter(|t| t.is_finite()) {
            if self.start.is_none() {
                self.start = Some(t);
                self.now = t;
            }
            if t > self.now {
                self.now = t;
            }
        }
        self.now
    }

    /// Seconds since the first timestamp of the stream.
    pub fn elapsed(&self) -> f64 {
        self.start.map_or(0.0, |s| self.now - s)
    }
}

/// Latency bins per decade.
const BINS_PER_DECADE: f64 = 10.0;
/// The first bin's lower edge: 100 microseconds.
const LOWEST_LOG10: f64 = -4.0;
/// 100 µs .. 1000 s.
const BINS: usize = 70;

/// A latency histogram on log-spaced bins with decayed weights.
///
/// Uses forward decay: a sample at time `t` is added with weight `exp((t - origin) /
/// window)`, which grows instead of every bin shrinking, so adding is O(1). Quantiles
/// only need relative weights; the weights are rebased before they overflow.
#[derive(Debug, Clone)]
pub struct DecayedHistogram {
    bins: [f64; BINS],
    total: f64,
    origin: f64,
    window: f64,
    /// The bits of the last exponent and its weight: records mostly share their
    /// second with the one before.
    last_exponent: u64,
    last_weight: f64,
}

impl DecayedHistogram {
    /// An empty histogram with time constant `window` seconds.
    pub fn new(window: f64) -> DecayedHistogram {
        DecayedHistogram {
            bins: [0.0; BINS],
            total: 0.0,
            origin: 0.0,
            window,
            // The bits of a NaN, which no exponent reaching the memo is.
            last_exponent: u64::MAX,
            last_weight: 0.0,
        }
    }

    /// The bin of a latency (seconds); `None` when it is not a latency.
    pub fn bin(seconds: f64) -> Option<usize> {
        // The number of bin edges at or below the latency: the bin `bin_of` gives, by
        // comparisons instead of a logarithm.
        (seconds.is_finite() && seconds >= 0.0)
            .then(|| BIN_EDGES.partition_point(|&edge| edge <= seconds))
    }

    /// Adds a latency (seconds) observed at time `now` (never decreasing).
    pub fn add(&mut self, now: f64, seconds: f64) {
        if let Some(bin) = DecayedHistogram::bin(seconds) {
            self.add_to_bin(now, bin);
        }
    }

    /// Adds a latency of bin `bin` (see [`DecayedHistogram::bin`]) at time `now`.
    pub fn add_to_bin(&mut self, now: f64, bin: usize) {
        if self.total == 0.0 {
            self.origin = now;
        }
        let mut exponent = (now - self.origin) / self.window;
        if exponent > 50.0 {
            let shrink = (-exponent).exp();
            self.bins.iter_mut().for_each(|b| *b *= shrink);
            self.total *= shrink;
            self.origin = now;
            exponent = 0.0;
        }
        if exponent.to_bits() != self.last_exponent {
            self.last_exponent = exponent.to_bits();
            self.last_weight = exponent.exp();
        }
        let w = self.last_weight;
        if let Some(b) = self.bins.get_mut(bin) {
            *b += w;
        }
        self.total += w;
    }

    /// The decayed number of samples as of `now`.
    pub fn weight(&self, now: f64) -> f64 {
        self.total * (-(now - self.origin) / self.window).exp()
    }

    /// Several quantiles at once (each in `0..=1`, increasing), as `log10` of seconds
    /// (the bins are log-spaced, and comparisons of latency are done in log space);
    /// NaN when empty.
    pub fn log_quantiles<const N: usize>(&self, qs: [f64; N]) -> [f64; N] {
        let mut out = [f64::NAN; N];
        if self.total <= 0.0 {
            return out;
        }
        let mut cum = 0.0;
        let mut k = 0;
        for (i, &b) in self.bins.iter().enumerate() {
            if b == 0.0 {
                continue;
            }
            let before = cum;
            cum += b;
            while k < N && cum >= qs[k] * self.total {
                // Interpolate inside the bin in log space.
                let frac = ((qs[k] * self.total - before) / b).clamp(0.0, 1.0);
                out[k] = LOWEST_LOG10 + (i as f64 + frac) / BINS_PER_DECADE;
                k += 1;
            }
        }
        while k < N {
            out[k] = LOWEST_LOG10 + BINS as f64 / BINS_PER_DECADE;
            k += 1;
        }
        out
    }
}

/// The lowest latency of each bin after the first: [`bin_of`] is at least `k + 1`
/// exactly from `BIN_EDGES[k]` on. Found by bisection over the doubles themselves, so
/// they are the edges of [`bin_of`] as computed, to the last bit.
static BIN_EDGES: LazyLock<[f64; BINS - 1]> = LazyLock::new(|| {
    let mut edges = [0.0; BINS - 1];
    for (k, edge) in edges.iter_mut().enumerate() {
        // Bits of non-negative doubles order as the doubles do; bin_of(0) = 0 and
        // bin_of(f64::MAX) = BINS - 1.
        let (mut below, mut at) = (0u64, f64::MAX.to_bits());
        while at - below > 1 {
            let mid = below + (at - below) / 2;
            if bin_of(f64::from_bits(mid)) > k {
                at = mid;
            } else {
                below = mid;
            }
        }
        *edge = f64::from_bits(at);
    }
    edges
});

fn bin_of(seconds: f64) -> usize {
    let pos = (seconds.max(1e-12).log10() - LOWEST_LOG10) * BINS_PER_DECADE;
    pos.clamp(0.0, (BINS - 1) as f64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_never_goes_back() {
        let mut c = Clock::default();
        assert_eq!(c.observe(None), 0.0);
        assert_eq!(c.observe(Some(100.0)), 100.0);
        assert_eq!(c.observe(Some(90.0)), 100.0);
        assert_eq!(c.observe(None), 100.0);
        assert_eq!(c.observe(Some(f64::NAN)), 100.0);
        assert_eq!(c.observe(Some(110.0)), 110.0);
        assert_eq!(c.elapsed(), 10.0);
    }

    #[test]
    fn decayed_rate_matches_a_steady_rate() {
        // 2 requests per second for 30 s, window 10 s.
        let (w, mut sum, mut last) = (10.0, 0.0, 0.0);
        for i in 0..60 {
            let t = f64::from(i) * 0.5;
            sum = sum * decay(t - last, w) + 1.0;
            last = t;
        }
        let rate = sum / effective_span(w, last);
        assert!((rate - 2.0).abs() < 0.15, "{rate}");
        // Early, the span correction keeps the estimate sane.
        assert!((3.0 / effective_span(w, 1.0) - 0.6).abs() < 0.2);
    }

    #[test]
    fn window_tables_give_the_values_of_the_functions() {
        for w in [10.0, 60.0, 600.0, 3.5] {
            let t = WindowTable::new(w);
            let xs = [0.0, -0.0, 1.0, 2.0, 0.5, 63.0, 64.0, 100.0, 1023.0, 1024.0, 5e4, -3.0];
            for x in xs.into_iter().chain([f64::NAN, f64::INFINITY]) {
                assert_eq!(t.decay(x).to_bits(), decay(x, w).to_bits(), "{w} {x}");
                let (a, b) = (t.effective_span(x), effective_span(w, x));
                assert_eq!(a.to_bits(), b.to_bits(), "{w} {x}");
            }
        }
    }

    #[test]
    fn bin_edges_give_the_bins_of_the_logarithm() {
        let mut xs = vec![0.0, -0.0, 1e-300, 1e-12, 1e-4, 0.038, 1.0, 999.0, 1e3, 1e300, f64::MAX];
        for &edge in BIN_EDGES.iter() {
            for d in 0..2000u64 {
                xs.push(f64::from_bits(edge.to_bits() - 1000 + d));
            }
        }
        xs.extend((0..100_000).map(|i| f64::from(i) * 0.001));
        xs.extend((0..2000).map(|i| 10f64.powf(-5.0 + f64::from(i) * 0.005)));
        for x in xs {
            assert_eq!(DecayedHistogram::bin(x), Some(bin_of(x)), "{x:e}");
        }
        for x in [f64::NAN, f64::INFINITY, -1.0] {
            assert_eq!(DecayedHistogram::bin(x), None);
        }
    }

    #[test]
    fn histogram_quantiles_and_decay() {
        let mut h = DecayedHistogram::new(10.0);
        for i in 0..1000 {
            h.add(f64::from(i) * 0.01, 0.1);
        }
        let [p50, p95] = h.log_quantiles([0.5, 0.95]);
        assert!((p50 + 1.0).abs() < 0.1, "{p50}");
        assert!((p95 + 1.0).abs() < 0.1, "{p95}");
        // A long slow spell dominates once the old samples decayed.
        for i in 0..100_000 {
            h.add(10.0 + f64::from(i) * 0.01, 2.0);
        }
        let [p50] = h.log_quantiles([0.5]);
        assert!((p50 - 2f64.log10()).abs() < 0.1, "{p50}");
        assert!(h.weight(1010.0).is_finite());
        assert!(DecayedHistogram::new(1.0).log_quantiles([0.5])[0].is_nan());
    }
}
