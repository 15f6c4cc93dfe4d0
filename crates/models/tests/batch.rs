//! Scoring a block of rows gives every row the score it gets alone, bit for bit, for
//! every detector: batch paths (vector kernels, GEMMs, memos of repeated values) are
//! speed, never a different answer.

use anomalog_models::{Detector, DetectorKind, Matrix};

/// Rows with repeated values, zeros of both signs and one far row, as feature rows of
/// real traffic have.
fn rows(rows: usize, cols: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = || {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut data = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            let v = match c % 4 {
                0 => (next() * 3.0).floor(),
                1 => {
                    if r % 3 == 0 {
                        -0.0
                    } else {
                        0.0
                    }
                }
                2 => next() * (1 + c) as f64,
                _ => (r / 7) as f64,
            };
            data.push(v);
        }
    }
    data[..cols].iter_mut().for_each(|v| *v += 50.0);
    data
}

#[test]
fn a_block_scores_as_its_rows_alone() {
    let cols = 8;
    let train = Matrix::new(rows(400, cols, 3), 400, cols).expect("shape");
    // Missing and infinite values too, which the detectors impute.
    let mut data = rows(2_500, cols, 4);
    data[5 * cols + 2] = f64::NAN;
    data[9 * cols] = f64::INFINITY;
    let test = Matrix::new(data, 2_500, cols).expect("shape");
    for kind in DetectorKind::ALL {
        let model = kind.fit(train.view(), 7).expect("fit");
        let batch = model.score(test.view());
        assert_eq!(batch.len(), 2_500, "{kind}");
        for (i, (b, row)) in batch.iter().zip(test.view().as_slice().chunks_exact(cols)).enumerate()
        {
            let alone = model.score_row(row);
            assert!(
                b.to_bits() == alone.to_bits(),
                "{kind}: row {i} scores {b} in a block and {alone} alone"
            );
        }
    }
}
