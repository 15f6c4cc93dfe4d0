//! The search space: detectors, a small grid of each one's main parameters, and the
//! feature window settings; the full grid or a seeded random sample of it.

use anomalog_models::autoencoder::AutoencoderParams;
use anomalog_models::ensemble::{Combine, EnsembleParams};
use anomalog_models::hbos::HbosParams;
use anomalog_models::iforest::IsolationForestParams;
use anomalog_models::ocsvm::OneClassSvmParams;
use anomalog_models::zscore::{Aggregate, ZScoreParams};
use anomalog_models::{AnyParams, DetectorKind};

/// The detectors searched when `--detectors` is not given.
pub const DEFAULT_DETECTORS: [DetectorKind; 7] = [
    DetectorKind::Ensemble,
    DetectorKind::IsolationForest,
    DetectorKind::ExtendedIsolationForest,
    DetectorKind::Hbos,
    DetectorKind::ZScore,
    DetectorKind::OneClassSvm,
    DetectorKind::Autoencoder,
];

/// The feature window settings searched when `--windows` is not given (seconds).
pub const DEFAULT_WINDOWS: [&[u32]; 3] = [&[10, 60, 600], &[30, 300], &[60, 900]];

/// One point of the search space.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The detector.
    pub kind: DetectorKind,
    /// Its parameters.
    pub params: AnyParams,
    /// The parameters that differ across the grid, for people (`n_trees=200 subsample=256`).
    pub text: String,
    /// Index of the window setting.
    pub windows: usize,
}

/// The parameter grid of one detector: (description, parameters).
///
/// Small on purpose: the main knob or two of each detector, around its defaults, so the
/// full grid over three window settings fits in minutes on a day of traffic.
pub fn detector_grid(kind: DetectorKind) -> Vec<(String, AnyParams)> {
    let mut grid = Vec::new();
    match kind {
        DetectorKind::Ensemble => {
            for (name, combine) in [("mean", Combine::Mean), ("max", Combine::Max)] {
                let params = EnsembleParams::new().combine(combine);
                grid.push((format!("combine={name}"), AnyParams::Ensemble(params)));
            }
        }
        DetectorKind::IsolationForest | DetectorKind::ExtendedIsolationForest => {
            for n_trees in [100, 200] {
                for subsample in [256, 1024] {
                    let base = match kind {
                        DetectorKind::ExtendedIsolationForest => IsolationForestParams::extended(),
                        _ => IsolationForestParams::new(),
                    };
                    let params = base.n_trees(n_trees).subsample(subsample);
                    grid.push((
                        format!("n_trees={n_trees} subsample={subsample}"),
                        AnyParams::IsolationForest(params),
                    ));
                }
            }
        }
        DetectorKind::Hbos => {
            for bins in [10, 20, 50] {
                grid.push((format!("bins={bins}"), AnyParams::Hbos(HbosParams::new().bins(bins))));
            }
        }
        DetectorKind::ZScore => {
            for (name, aggregate) in [("max", Aggregate::Max), ("rms", Aggregate::Rms)] {
                let params = ZScoreParams::new().aggregate(aggregate);
                grid.push((format!("aggregate={name}"), AnyParams::ZScore(params)));
            }
        }
        DetectorKind::OneClassSvm => {
            for nu in [0.05, 0.1] {
                for landmarks in [64, 128] {
                    let params = OneClassSvmParams::new().nu(nu).n_landmarks(landmarks);
                    grid.push((
                        format!("nu={nu} landmarks={landmarks}"),
                        AnyParams::OneClassSvm(params),
                    ));
                }
            }
        }
        DetectorKind::Autoencoder => {
            // `None` is the default shape, relative to the number of features; the fixed
            // shape has a narrower bottleneck.
            for hidden in [None, Some(vec![32, 8, 32])] {
                for epochs in [20, 40] {
                    let mut params = AutoencoderParams::new().max_epochs(epochs);
                    let shape = match hidden.clone() {
                        Some(widths) => {
                            let shape =
                                widths.iter().map(usize::to_string).collect::<Vec<_>>().join("-");
                            params = params.hidden(widths);
                            shape
                        }
                        None => "auto".to_string(),
                    };
                    grid.push((
                        format!("hidden={shape} epochs={epochs}"),
                        AnyParams::Autoencoder(params),
                    ));
                }
            }
        }
        // Detectors without a grid of their own are tried with their defaults.
        other => grid.push(("defaults".to_string(), other.default_params())),
    }
    grid
}

/// Every candidate, window settings outermost (so candidates sharing features are
/// adjacent), or a seeded random sample of `budget` of them in the same order.
pub fn candidates(
    detectors: &[DetectorKind],
    window_settings: usize,
    budget: Option<usize>,
    seed: u64,
) -> Vec<Candidate> {
    let mut all = Vec::new();
    for windows in 0..window_settings {
        for &kind in detectors {
            for (text, params) in detector_grid(kind) {
                all.push(Candidate { kind, params, text, windows });
            }
        }
    }
    match budget {
        Some(n) if n < all.len() => {
            let mut picked = sample(all.len(), n, seed);
            picked.sort_unstable();
            picked.into_iter().map(|i| all[i].clone()).collect()
        }
        _ => all,
    }
}

/// `k` distinct indices below `n`, chosen uniformly with a seeded partial Fisher-Yates
/// shuffle.
fn sample(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut indices: Vec<usize> = (0..n).collect();
    for i in 0..k.min(n) {
        let j = i + (splitmix64(&mut state) % (n - i) as u64) as usize;
        indices.swap(i, j);
    }
    indices.truncate(k.min(n));
    indices
}

/// SplitMix64 (Steele et al. 2014): a tiny, well-mixed generator, enough to pick grid
/// points reproducibly.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grid_point_is_valid() {
        for kind in DetectorKind::ALL {
            let grid = detector_grid(kind);
            assert!(!grid.is_empty());
            for (text, params) in grid {
                assert!(params.validate().is_ok(), "{kind} {text}");
            }
        }
    }

    #[test]
    fn full_grid_covers_every_window_setting() {
        let all = candidates(&DEFAULT_DETECTORS, 3, None, 1);
        let per_setting: usize = DEFAULT_DETECTORS.iter().map(|&k| detector_grid(k).len()).sum();
        assert_eq!(all.len(), 3 * per_setting);
        assert!(all.windows(2).all(|w| w[0].windows <= w[1].windows));
    }

    #[test]
    fn budget_samples_distinct_candidates_reproducibly() {
        let a = candidates(&DEFAULT_DETECTORS, 3, Some(10), 7);
        let b = candidates(&DEFAULT_DETECTORS, 3, Some(10), 7);
        let c = candidates(&DEFAULT_DETECTORS, 3, Some(10), 8);
        let key = |v: &[Candidate]| {
            v.iter().map(|c| format!("{} {} {}", c.kind, c.text, c.windows)).collect::<Vec<_>>()
        };
        assert_eq!(a.len(), 10);
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
        let mut distinct = key(&a);
        distinct.dedup();
        assert_eq!(distinct.len(), 10);
        assert!(a.windows(2).all(|w| w[0].windows <= w[1].windows));
        assert_eq!(candidates(&[DetectorKind::Hbos], 1, Some(100), 7).len(), 3);
    }
}
