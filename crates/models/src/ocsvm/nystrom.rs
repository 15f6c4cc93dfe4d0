//! Nyström approximation of the RBF kernel.
//!
//! With landmarks `L` and `K = k(L, L) = C Cᵀ` (Cholesky), the map
//! `φ(x) = C⁻¹ k(L, x)` satisfies `φ(x)·φ(y) = k(x, L) K⁻¹ k(L, y)`, the Nyström estimate
//! of `k(x, y)`. Cholesky is used instead of an eigendecomposition because it is exact for
//! this purpose, simpler and cheaper; a small diagonal jitter keeps `K` positive definite
//! when landmarks nearly coincide.

/// Squared Euclidean distance.
pub fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// `exp(-gamma * |z - l|^2)` for every landmark row of `landmarks` (row-major, `d` wide).
pub fn kernel_row(landmarks: &[f64], d: usize, gamma: f64, z: &[f64], out: &mut [f64]) {
    for (o, l) in out.iter_mut().zip(landmarks.chunks_exact(d)) {
        *o = (-gamma * sq_dist(z, l)).exp();
    }
}

/// Lower-triangular Cholesky factor of the `m x m` kernel matrix of the landmarks, with
/// the smallest jitter (1e-10 up to 1e-1, times 10 each try) that makes it succeed.
pub fn landmark_cholesky(landmarks: &[f64], d: usize, gamma: f64) -> Option<Vec<f64>> {
    let m = landmarks.len() / d;
    let mut k = vec![0.0; m * m];
    for i in 0..m {
        kernel_row(landmarks, d, gamma, &landmarks[i * d..(i + 1) * d], &mut k[i * m..(i + 1) * m]);
    }
    let mut jitter = 1e-10;
    while jitter <= 0.1 {
        if let Some(c) = cholesky(&k, m, jitter) {
            return Some(c);
        }
        jitter *= 10.0;
    }
    None
}

fn cholesky(a: &[f64], m: usize, jitter: f64) -> Option<Vec<f64>> {
    let mut c = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| c[i * m + k] * c[j * m + k]).sum();
            if i == j {
                let v = a[i * m + i] + jitter - dot;
                if v.is_nan() || v <= 0.0 {
                    return None;
                }
                c[i * m + i] = v.sqrt();
            } else {
                c[i * m + j] = (a[i * m + j] - dot) / c[j * m + j];
            }
        }
    }
    Some(c)
}

/// The inverse of the lower-triangular `m x m` factor `C` (itself lower-triangular), so
/// that the feature map of many rows is one matrix product instead of a solve per row.
pub fn lower_inverse(c: &[f64], m: usize) -> Vec<f64> {
    let mut inv = vec![0.0; m * m];
    let mut col = vec![0.0; m];
    for j in 0..m {
        col.iter_mut().enumerate().for_each(|(i, v)| *v = if i == j { 1.0 } else { 0.0 });
        forward_solve(c, m, &mut col);
        for (i, v) in col.iter().enumerate() {
            inv[i * m + j] = *v;
        }
    }
    inv
}

/// Solves `C y = b` in place for lower-triangular `C`.
pub fn forward_solve(c: &[f64], m: usize, b: &mut [f64]) {
    for i in 0..m {
        let dot: f64 = (0..i).map(|k| c[i * m + k] * b[k]).sum();
        b[i] = (b[i] - dot) / c[i * m + i];
    }
}

/// Solves `Cᵀ y = b` in place for lower-triangular `C`.
pub fn backward_solve_transposed(c: &[f64], m: usize, b: &mut [f64]) {
    for i in (0..m).rev() {
        let dot: f64 = (i + 1..m).map(|k| c[k * m + i] * b[k]).sum();
        b[i] = (b[i] - dot) / c[i * m + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_map_reproduces_kernel() {
        let l = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let c = landmark_cholesky(&l, 2, 0.5).expect("pd");
        let phi = |z: &[f64]| {
            let mut k = vec![0.0; 4];
            kernel_row(&l, 2, 0.5, z, &mut k);
            forward_solve(&c, 4, &mut k);
            k
        };
        // At a landmark the approximation is exact.
        let (a, b) = (phi(&[0.0, 0.0]), phi(&[1.0, 1.0]));
        let dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot - (-0.5f64 * 2.0).exp()).abs() < 1e-6);
        let inv = lower_inverse(&c, 4);
        let mut k = vec![0.0; 4];
        kernel_row(&l, 2, 0.5, &[0.0, 0.0], &mut k);
        for (i, v) in a.iter().enumerate() {
            let row: f64 = (0..4).map(|j| inv[i * 4 + j] * k[j]).sum();
            assert!((row - v).abs() < 1e-9);
        }
        let mut y = a.clone();
        backward_solve_transposed(&c, 4, &mut y);
        assert!(y.iter().all(|v| v.is_finite()));
    }
}
