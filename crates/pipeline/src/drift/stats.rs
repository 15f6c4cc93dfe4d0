//! The drift statistics: population stability index over bins, the two-sample
//! Kolmogorov–Smirnov statistic over ordered cells, and its asymptotic p-value.

/// Share given to a bin that is empty on one side, so that the logarithm of the PSI
/// stays finite: a bin holding a share `s` on one side and nothing on the other adds
/// about `s * ln(s / 1e-4)` (0.69 for `s` = 0.1).
pub const PSI_EPSILON: f64 = 1e-4;

/// Population stability index of `actual` against `expected`, both counts over the
/// same bins: `sum((a - e) * ln(a / e))` over the bins' shares, a share below
/// [`PSI_EPSILON`] counting as [`PSI_EPSILON`]. 0 when either side is empty.
///
/// Usual reading: below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a
/// significant shift.
pub fn psi(expected: &[u64], actual: &[u64]) -> f64 {
    let te: u64 = expected.iter().sum();
    let ta: u64 = actual.iter().sum();
    if te == 0 || ta == 0 {
        return 0.0;
    }
    let (te, ta) = (te as f64, ta as f64);
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let e = (e as f64 / te).max(PSI_EPSILON);
            let a = (a as f64 / ta).max(PSI_EPSILON);
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// The largest gap between the cumulative shares of two distributions given as counts
/// over the same ordered cells: the two-sample Kolmogorov–Smirnov statistic `D` of
/// the binned data. Within a cell both distributions are taken as spread evenly, so
/// the gap is largest at a cell boundary. 0 when either side is empty.
pub fn ks_statistic(a: &[u64], b: &[u64]) -> f64 {
    let na: u64 = a.iter().sum();
    let nb: u64 = b.iter().sum();
    if na == 0 || nb == 0 {
        return 0.0;
    }
    let (mut ca, mut cb, mut d) = (0u64, 0u64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        ca += x;
        cb += y;
        d = d.max((ca as f64 / na as f64 - cb as f64 / nb as f64).abs());
    }
    d
}

/// `Q(λ) = P(K > λ)` for the Kolmogorov distribution `K`:
/// `2 Σ_{j≥1} (-1)^(j-1) exp(-2 j² λ²)`, evaluated through the equivalent
/// `1 - √(2π)/λ Σ_{j≥1} exp(-(2j-1)² π² / (8 λ²))` for small λ, where that series
/// converges faster.
pub fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 1.0;
    }
    let q = if lambda < 1.18 {
        let w = std::f64::consts::PI.powi(2) / (8.0 * lambda * lambda);
        let sum: f64 = (1..=8).map(|j: i32| (-f64::from((2 * j - 1).pow(2)) * w).exp()).sum();
        1.0 - (2.0 * std::f64::consts::PI).sqrt() / lambda * sum
    } else {
        let l2 = lambda * lambda;
        (1..=20)
            .map(|j: i32| {
                let term = 2.0 * (-2.0 * f64::from(j * j) * l2).exp();
                if j % 2 == 1 { term } else { -term }
            })
            .sum()
    };
    q.clamp(0.0, 1.0)
}

/// Asymptotic p-value of a two-sample Kolmogorov–Smirnov statistic `d` between
/// samples of sizes `n1` and `n2`: `Q((√n + 0.12 + 0.11/√n) d)` with the effective size
/// `n = n1 n2 / (n1 + n2)` (the small-sample correction of Stephens, 1970). Only
/// approximate for discrete data, where it overstates the p-value. 1 when either
/// sample is empty.
pub fn ks_p_value(d: f64, n1: f64, n2: f64) -> f64 {
    if !(n1 > 0.0 && n2 > 0.0) {
        return 1.0;
    }
    let n = (n1 * n2 / (n1 + n2)).sqrt();
    kolmogorov_q((n + 0.12 + 0.11 / n) * d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn psi_by_hand() {
        // Shares 0.5/0.5 against 0.25/0.75:
        // (0.25-0.5) ln(0.5) + (0.75-0.5) ln(1.5) = 0.173287 + 0.101366.
        assert!(close(psi(&[50, 50], &[25, 75]), 0.274653, 1e-6));
        // Deciles against a shift of one tenth of the mass from the first to the last.
        let e = [10u64; 10];
        let mut a = [10u64; 10];
        a[0] = 5;
        a[9] = 15;
        // (0.05-0.1) ln(0.5) + (0.15-0.1) ln(1.5) = 0.034657 + 0.020273.
        assert!(close(psi(&e, &a), 0.054931, 1e-6));
        assert_eq!(psi(&e, &e), 0.0);
        // An empty bin counts as 1e-4: (1e-4 - 0.5) ln(1e-4 / 0.5) + (1 - 0.5) ln(2).
        let empty = (1e-4 - 0.5) * (1e-4f64 / 0.5).ln() + 0.5 * 2f64.ln();
        assert!(close(psi(&[1, 1], &[0, 7]), empty, 1e-12));
        assert!(close(empty, 4.604318, 1e-6));
        assert_eq!(psi(&[0, 0], &[1, 1]), 0.0);
    }

    #[test]
    fn ks_statistic_by_hand() {
        // Cumulative shares 0.25, 0.5, 1 against 0.5, 0.75, 1: largest gap 0.25.
        assert!(close(ks_statistic(&[1, 1, 2], &[2, 1, 1]), 0.25, 1e-12));
        assert_eq!(ks_statistic(&[3, 0, 1], &[6, 0, 2]), 0.0);
        assert_eq!(ks_statistic(&[1, 0], &[0, 1]), 1.0);
        assert_eq!(ks_statistic(&[0, 0], &[0, 1]), 0.0);
    }

    #[test]
    fn kolmogorov_distribution_values() {
        // Q(λ) from the alternating series summed to convergence.
        for (lambda, q) in [
            (0.5, 0.963_945_243_664_875_1),
            (0.8, 0.544_142_411_574_198_1),
            (1.0, 0.269_999_671_677_354_56),
            (1.2, 0.112_249_666_670_724_96),
            (1.36, 0.049_485_876_755_377_876),
            (2.0, 0.000_670_925_255_779_695_3),
        ] {
            assert!(
                close(kolmogorov_q(lambda), q, 1e-12),
                "Q({lambda}) = {}",
                kolmogorov_q(lambda)
            );
        }
        assert_eq!(kolmogorov_q(0.0), 1.0);
        assert!(kolmogorov_q(0.05) > 0.999_999);
        assert!(kolmogorov_q(10.0) < 1e-80);
    }

    #[test]
    fn ks_p_value_by_hand() {
        // n1 = n2 = 200: n = 100, λ = (10 + 0.12 + 0.011) d; d = 0.134 gives λ ≈ 1.3576.
        let p = ks_p_value(0.134, 200.0, 200.0);
        assert!(close(p, kolmogorov_q(10.131 * 0.134), 1e-12));
        assert!((0.05..0.052).contains(&p), "{p}");
        assert_eq!(ks_p_value(0.0, 100.0, 100.0), 1.0);
        assert_eq!(ks_p_value(0.5, 0.0, 100.0), 1.0);
    }
}
