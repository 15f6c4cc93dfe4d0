use super::*;
use crate::error::FitError;
use crate::matrix::Matrix;
use crate::testutil::{Plant, blob, roc_auc, top_feature};
use crate::traits::{Detector, Fit};

fn both() -> [IsolationForestParams; 2] {
    [IsolationForestParams::new(), IsolationForestParams::extended()]
}

#[test]
fn ranks_planted_outliers_first() {
    let (m, labels) = blob(1000, 20, 6, Plant::Everywhere, 1);
    for p in both() {
        let f = p.fit(m.view(), 7).expect("fit");
        let auc = roc_auc(&f.score(m.view()), &labels);
        assert!(auc > 0.95, "{} auc {auc}", f.name());
    }
}

#[test]
fn explanation_names_shifted_column() {
    let (m, labels) = blob(1000, 10, 6, Plant::Column(3, 8.0), 2);
    for p in both() {
        let f = p.fit(m.view(), 3).expect("fit");
        let auc = roc_auc(&f.score(m.view()), &labels);
        assert!(auc > 0.95, "{} auc {auc}", f.name());
        for r in 1000..1010 {
            assert_eq!(top_feature(&f.explain(m.view().row(r))), 3, "{} row {r}", f.name());
        }
    }
}

#[test]
fn deterministic_and_seed_dependent() {
    let (m, _) = blob(500, 5, 4, Plant::Everywhere, 3);
    for p in both() {
        let a = p.fit(m.view(), 11).expect("fit").score(m.view());
        let b = p.fit(m.view(), 11).expect("fit").score(m.view());
        let c = p.fit(m.view(), 12).expect("fit").score(m.view());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}

#[test]
fn score_row_matches_batch_and_scores_in_range() {
    let (m, _) = blob(300, 5, 40, Plant::Everywhere, 4);
    for p in both() {
        let f = p.fit(m.view(), 1).expect("fit");
        let batch = f.score(m.view());
        for (i, s) in batch.iter().enumerate() {
            assert_eq!(*s, f.score_row(m.view().row(i)), "{} row {i}", f.name());
            assert!(*s > 0.0 && *s <= 1.0);
        }
    }
}

#[test]
fn errors_and_missing_values() {
    let p = IsolationForestParams::new();
    assert_eq!(p.fit(Matrix::new(vec![], 0, 2).expect("m").view(), 0).err(), Some(FitError::Empty));
    let one = Matrix::new(vec![1.0, 2.0], 1, 2).expect("m");
    assert!(matches!(p.fit(one.view(), 0), Err(FitError::TooFewRows { .. })));
    let same = Matrix::new(vec![1.0; 20], 10, 2).expect("m");
    assert!(matches!(p.fit(same.view(), 0), Err(FitError::IdenticalRows { .. })));
    let nan = Matrix::new(vec![1.0, 2.0, 3.0, f64::NAN], 2, 2).expect("m");
    assert!(matches!(p.fit(nan.view(), 0), Err(FitError::NonFinite { row: 1, col: 1, .. })));
    assert!(IsolationForestParams::new().n_trees(0).fit(nan.view(), 0).is_err());

    let (m, _) = blob(200, 0, 3, Plant::Everywhere, 5);
    let f = p.fit(m.view(), 0).expect("fit");
    let wrong = Matrix::new(vec![0.0; 8], 2, 4).expect("m");
    assert!(f.try_score(wrong.view()).is_err());
    assert!(f.score(wrong.view()).iter().all(|s| s.is_nan()));
    assert!(f.score_row(&[0.0]).is_nan());
    assert!(f.explain(&[0.0]).is_empty());
    // A missing value scores like the column's median.
    let med = f.medians().to_vec();
    let mut row = med.clone();
    row[1] = f64::NAN;
    assert_eq!(f.score_row(&row), f.score_row(&med));
    assert!(f.score_row(&[f64::INFINITY, f64::NAN, f64::NEG_INFINITY]).is_finite());
}

#[test]
fn tiny_training_set() {
    let m = Matrix::new(vec![0.0, 1.0, 1.0, 0.0], 2, 2).expect("m");
    let f = IsolationForestParams::new().fit(m.view(), 0).expect("fit");
    assert_eq!(f.depth(), 1);
    assert!(f.score_row(&[0.5, 0.5]).is_finite());
}

/// CPU seconds of every thread of this process so far (Linux), so timings on a machine
/// shared with other work can be told apart from waiting for a core.
fn cpu_seconds() -> Option<f64> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 / 1e9)
}

/// Runs `f`, returning its result, wall seconds and CPU seconds (NaN where unknown).
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (cpu, wall) = (cpu_seconds(), std::time::Instant::now());
    let out = f();
    let cpu = cpu.zip(cpu_seconds()).map_or(f64::NAN, |(a, b)| b - a);
    (out, wall.elapsed().as_secs_f64(), cpu)
}

/// Fit and scoring times on one million rows of 30 features:
/// `cargo test --release -p anomalog-models -- --ignored --nocapture perf_million_rows`.
/// Scoring reports the fastest of three runs, since a shared machine adds noise.
#[test]
#[ignore]
fn perf_million_rows() {
    use crate::registry::DetectorKind;
    let (m, _) = blob(1_000_000, 0, 30, Plant::Everywhere, 9);
    let threads = rayon::current_num_threads();
    for kind in [
        DetectorKind::IsolationForest,
        DetectorKind::Hbos,
        DetectorKind::ZScore,
        DetectorKind::Tail,
        DetectorKind::Ensemble,
    ] {
        let (model, fit_wall, fit_cpu) = timed(|| kind.fit(m.view(), 1).expect("fit"));
        let (wall, cpu) = (0..3)
            .map(|_| {
                let (s, wall, cpu) = timed(|| model.score(m.view()));
                assert_eq!(s.len(), 1_000_000);
                (wall, cpu)
            })
            .fold((f64::INFINITY, f64::INFINITY), |a, b| (a.0.min(b.0), a.1.min(b.1)));
        // One explanation per row, as for every flagged record of a live stream.
        let (_, explain_wall, _) =
            timed(|| (0..10_000).map(|r| model.explain(m.view().row(r)).len()).sum::<usize>());
        eprintln!(
            "{kind} 1M x 30 on {threads} threads: fit {fit_wall:.2} s ({fit_cpu:.2} CPU s), \
             score {wall:.3} s = {:.2} M rows/s ({:.2} M rows per CPU s), \
             explain {:.1} us per row",
            1.0 / wall,
            1.0 / cpu,
            explain_wall * 1e6 / 10_000.0
        );
    }
}

#[test]
fn vector_and_portable_kernels_agree_bit_for_bit() {
    let (m, _) = blob(3000, 37, 7, Plant::Everywhere, 6);
    // Depth 1 and 2 (no permuted levels), 8 (the default: permutes, then one gathered
    // level) and 12 (several gathered levels).
    for (subsample, depth) in [(2, None), (4, None), (256, None), (3000, Some(12))] {
        let mut p = IsolationForestParams::new().n_trees(20).subsample(subsample);
        if let Some(depth) = depth {
            p = p.max_depth(depth);
        }
        let f = p.fit(m.view(), 2).expect("fit");
        let (shape, nodes) = match &f.splits {
            algorithm::Splits::Axis(nodes) => (build::Shape::new(f.depth()), nodes),
            algorithm::Splits::Hyper { .. } => unreachable!("axis-parallel forest"),
        };
        assert!(f.validate().is_ok());
        let forest = f.axis(nodes, shape);
        // Missing, infinite and beyond-f32 values, which the kernels impute or saturate.
        let mut data = m.view().as_slice().to_vec();
        for (i, v) in
            [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, -1e300].into_iter().enumerate()
        {
            data[(3 * i + 1) * m.cols() + i] = v;
        }
        // 3037 rows: full groups and a short last one; then blocks too short for vectors.
        for rows in [m.rows(), 17, 5] {
            let x = &data[..rows * m.cols()];
            let mut fast = vec![0.0; rows];
            let mut portable = vec![0.0; rows];
            // SAFETY: the forest was just fitted, and checked.
            unsafe { forest.path_sums(x, &mut fast) };
            forest.path_sums_portable(x, &mut portable);
            assert!(
                fast.iter().zip(&portable).all(|(a, b)| a.to_bits() == b.to_bits()),
                "subsample {subsample}, depth {}, {rows} rows",
                f.depth()
            );
            #[cfg(target_arch = "x86_64")]
            if score::avx2::usable(m.cols()) {
                let mut avx2 = vec![0.0; rows];
                // SAFETY: the CPU has AVX2, and the forest is checked.
                unsafe { score::avx2::path_sums(&forest, x, &mut avx2) };
                assert!(
                    avx2.iter().zip(&portable).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "AVX2: subsample {subsample}, depth {}, {rows} rows",
                    f.depth()
                );
            }
        }
    }
}

#[test]
fn hyperplane_kernels_agree_bit_for_bit() {
    let (m, _) = blob(600, 37, 7, Plant::Everywhere, 8);
    // One term, a partial block of 8, whole blocks, and every feature.
    for level in [Some(0), Some(4), Some(15), None] {
        let p = IsolationForestParams::new()
            .n_trees(10)
            .split(SplitRule::Hyperplane { extension_level: level });
        let f = p.fit(m.view(), 4).expect("fit");
        assert!(f.validate().is_ok());
        let forest = f.hyper(build::Shape::new(f.depth())).expect("hyperplane forest");
        let mut fast = vec![0.0; m.rows()];
        let mut portable = vec![0.0; m.rows()];
        // SAFETY: the forest was just fitted, and checked.
        unsafe { forest.path_sums(m.view().as_slice(), &mut fast) };
        forest.path_sums_portable(m.view().as_slice(), &mut portable);
        assert!(
            fast.iter().zip(&portable).all(|(a, b)| a.to_bits() == b.to_bits()),
            "extension level {level:?}"
        );
    }
}

#[test]
fn inconsistent_state_scores_nan_and_fails_validation() {
    let (m, _) = blob(300, 5, 4, Plant::Everywhere, 4);
    for p in both() {
        let good = p.fit(m.view(), 1).expect("fit");
        assert_eq!(good.validate(), Ok(()));
        let mut bad = good.clone();
        match &mut bad.splits {
            algorithm::Splits::Axis(nodes) => nodes[3].feature = 4,
            algorithm::Splits::Hyper { features, .. } => features[3] = 4,
        }
        let e = bad.validate().expect_err("feature out of range");
        assert!(e.to_string().contains("feature 4 of 4"), "{e}");
        assert!(bad.score(m.view()).iter().all(|s| s.is_nan()));
        assert!(bad.explain(m.view().row(0)).is_empty());
        let mut short = good.clone();
        short.leaf_depths.pop();
        assert!(short.validate().is_err());
        let mut nan = good.clone();
        nan.c_norm = f64::NAN;
        assert!(nan.validate().is_err());
    }
}
