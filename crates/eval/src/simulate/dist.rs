//! Random draws the simulation needs beyond uniform ones (log-normal latencies, Pareto
//! activity, Zipf popularity), written out to avoid a `rand_distr` dependency.

use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand_chacha::ChaCha8Rng;

/// The one generator every random choice of a simulation draws from, for determinism.
pub(crate) type SimRng = ChaCha8Rng;

/// Standard normal via Box-Muller.
pub(crate) fn normal(rng: &mut SimRng) -> f64 {
    // 1 - u keeps the logarithm's argument in (0, 1].
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal with the given median and log-space standard deviation.
pub(crate) fn lognormal(rng: &mut SimRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Pareto with scale `xm` and shape `alpha` (heavy-tailed for small `alpha`).
pub(crate) fn pareto(rng: &mut SimRng, xm: f64, alpha: f64) -> f64 {
    xm / (1.0 - rng.random::<f64>()).powf(1.0 / alpha)
}

/// Exponential with the given mean.
pub(crate) fn exponential(rng: &mut SimRng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

/// Geometric count >= 1 with the given mean.
pub(crate) fn geometric(rng: &mut SimRng, mean: f64) -> u32 {
    let p = 1.0 / mean.max(1.0);
    let mut n = 1;
    while n < 10_000 && !rng.random_bool(p) {
        n += 1;
    }
    n
}

/// True with probability `p` (clamped to [0, 1]).
pub(crate) fn chance(rng: &mut SimRng, p: f64) -> bool {
    rng.random_bool(p.clamp(0.0, 1.0))
}

/// A uniformly chosen element of a non-empty slice. The simulation only calls it on its
/// own constant tables, so an empty slice is a programming error.
pub(crate) fn pick<'a, T>(rng: &mut SimRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Draws indices with fixed weights, e.g. Zipf product popularity.
pub(crate) struct Weighted {
    index: WeightedIndex<f64>,
}

impl Weighted {
    /// Weights must be finite, non-negative and not all zero; callers pass constants or
    /// positive draws, and fall back to uniform weights otherwise.
    pub(crate) fn new(weights: &[f64]) -> Self {
        let index = WeightedIndex::new(weights.iter().copied())
            .or_else(|_| WeightedIndex::new(std::iter::repeat_n(1.0, weights.len().max(1))))
            .expect("uniform weights over a non-empty range are valid");
        Weighted { index }
    }

    /// Zipf weights `1 / rank^s` over `n` ranks.
    pub(crate) fn zipf(n: usize, s: f64) -> Self {
        let weights: Vec<f64> = (1..=n.max(1)).map(|k| 1.0 / (k as f64).powf(s)).collect();
        Self::new(&weights)
    }

    pub(crate) fn sample(&self, rng: &mut SimRng) -> usize {
        self.index.sample(rng)
    }
}

/// Relative traffic intensity at a time of day (hours, UTC): quiet nights, a lunchtime
/// bump and an evening peak, as a web shop sees.
pub(crate) fn diurnal_rate(hour: f64) -> f64 {
    let bump = |center: f64, width: f64| {
        let mut d = (hour - center).abs();
        d = d.min(24.0 - d);
        (-(d * d) / (2.0 * width * width)).exp()
    };
    0.12 + 0.55 * bump(13.0, 2.5) + 1.0 * bump(20.0, 2.8) + 0.25 * bump(9.5, 1.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn lognormal_median_is_close() {
        let mut rng = SimRng::seed_from_u64(1);
        let mut v: Vec<f64> = (0..20_001).map(|_| lognormal(&mut rng, 0.05, 0.7)).collect();
        v.sort_by(f64::total_cmp);
        assert!((v[10_000] / 0.05 - 1.0).abs() < 0.05, "{}", v[10_000]);
    }

    #[test]
    fn evenings_are_busier_than_nights() {
        assert!(diurnal_rate(20.0) > 4.0 * diurnal_rate(3.5));
        assert!(diurnal_rate(14.0) > diurnal_rate(7.0));
    }
}
