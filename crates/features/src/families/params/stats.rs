//! The little statistics the parameter profiles need.

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error
/// below 1.2e-7), enough for p-values reported in decades.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The survival function of the chi-square distribution with 5 degrees of freedom:
/// the probability of a statistic at least `x` (closed form for odd degrees).
pub fn chi2_sf_5(x: f64) -> f64 {
    if x.is_nan() {
        return 1.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let tail = (2.0 * x / std::f64::consts::PI).sqrt() * (-x / 2.0).exp() * (1.0 + x / 3.0);
    (erfc((x / 2.0).sqrt()) + tail).clamp(0.0, 1.0)
}

/// The most surprise any single test reports, in decades (a one-in-a-million event):
/// beyond it, numbers are no longer meaningful, and capping keeps sums interpretable.
pub const MAX_SURPRISE: f64 = 6.0;

/// `-log10(p)`, between 0 and [`MAX_SURPRISE`].
#[inline]
pub fn surprise(p: f64) -> f64 {
    if p.is_nan() {
        return 0.0;
    }
    (-p.max(1e-300).log10()).clamp(0.0, MAX_SURPRISE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_values() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-6);
        assert!((erfc(1.0) - 0.157_299_2).abs() < 1e-6);
        assert!((erfc(-1.0) - 1.842_700_8).abs() < 1e-6);
        assert!(erfc(10.0) < 1e-40);
    }

    #[test]
    fn chi2_tail() {
        // Reference values of the chi-square(5) survival function.
        assert!((chi2_sf_5(11.0705) - 0.05).abs() < 1e-4);
        assert!((chi2_sf_5(1.6103) - 0.90).abs() < 1e-4);
        assert!((chi2_sf_5(20.515) - 0.001).abs() < 1e-5);
        assert_eq!(chi2_sf_5(0.0), 1.0);
        assert!(chi2_sf_5(1e6) < 1e-100);
    }

    #[test]
    fn surprise_is_bounded() {
        assert_eq!(surprise(1.0), 0.0);
        assert!((surprise(0.001) - 3.0).abs() < 1e-12);
        assert_eq!(surprise(0.0), MAX_SURPRISE);
        assert_eq!(surprise(f64::NAN), 0.0);
        assert_eq!(surprise(2.0), 0.0);
    }
}
