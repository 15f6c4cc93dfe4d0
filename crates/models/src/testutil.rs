//! Seeded synthetic data and metrics shared by the detector tests.

use crate::matrix::Matrix;
use crate::stats::standard_normal;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Where planted outliers deviate.
#[derive(Clone, Copy)]
pub enum Plant {
    /// Far away in every coordinate.
    Everywhere,
    /// Typical except for one column, shifted by `shift` standard deviations.
    Column(usize, f64),
}

/// `n_in` standard-normal rows with one correlated pair of columns (0 and 1), followed
/// by `n_out` planted outliers; labels are true for outliers.
pub fn blob(n_in: usize, n_out: usize, d: usize, plant: Plant, seed: u64) -> (Matrix, Vec<bool>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut data = Vec::with_capacity((n_in + n_out) * d);
    let mut labels = Vec::with_capacity(n_in + n_out);
    for i in 0..n_in + n_out {
        let mut row: Vec<f64> = (0..d).map(|_| standard_normal(&mut rng)).collect();
        if d > 1 {
            row[1] = 0.8 * row[0] + 0.6 * row[1];
        }
        // Give columns different units, as real features have.
        for (j, v) in row.iter_mut().enumerate() {
            *v = *v * (1.0 + j as f64) + 10.0 * j as f64;
        }
        let outlier = i >= n_in;
        if outlier {
            match plant {
                Plant::Everywhere => {
                    for (j, v) in row.iter_mut().enumerate() {
                        let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
                        *v = 10.0 * j as f64 + sign * 6.0 * (1.0 + j as f64);
                    }
                }
                Plant::Column(c, shift) => row[c] += shift * (1.0 + c as f64),
            }
        }
        data.extend_from_slice(&row);
        labels.push(outlier);
    }
    (Matrix::new(data, n_in + n_out, d).expect("consistent shape"), labels)
}

/// Area under the ROC curve (probability a random positive outscores a random negative,
/// ties counting half).
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (s, l) in scores.iter().zip(labels) {
        if !l {
            continue;
        }
        for (t, m) in scores.iter().zip(labels) {
            if *m {
                continue;
            }
            pairs += 1.0;
            if s > t {
                wins += 1.0;
            } else if s == t {
                wins += 0.5;
            }
        }
    }
    wins / pairs
}

/// Feature with the largest contribution.
pub fn top_feature(contrib: &[(usize, f64)]) -> usize {
    contrib.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|c| c.0).expect("non-empty")
}

/// The first `n` rows of `m`: detectors that learn what normal is from the training
/// distribution are fitted on the normal rows only, as in production.
pub fn head(m: &Matrix, n: usize) -> Matrix {
    let d = m.view().cols();
    Matrix::new(m.view().as_slice()[..n * d].to_vec(), n, d).expect("rows of a valid matrix")
}

/// `n x d` rows shaped like access-log features: two dense columns, the others mostly at
/// their median (zero) with a few rare values; also returns a copy with some values
/// missing (NaN), for scoring.
pub fn sparse_rows(n: usize, d: usize) -> (Matrix, Matrix) {
    let mut data = Vec::with_capacity(n * d);
    for r in 0..n {
        for j in 0..d {
            data.push(match j {
                0 | 1 => ((r * (j + 3)) % 17) as f64 / 4.0,
                _ if (r * 31 + j * 7) % (5 + 3 * j) == 0 => (r % 5) as f64 + 1.0,
                _ => 0.0,
            });
        }
    }
    let clean = Matrix::new(data, n, d).expect("shape");
    let mut missing = clean.clone();
    for r in (0..n).step_by(97) {
        missing.as_mut_slice()[r * d + r % d] = f64::NAN;
    }
    (clean, missing)
}
