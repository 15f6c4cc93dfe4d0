//! Row-major numeric matrices: the only input detectors see.

use crate::error::MatrixError;
use serde::{Deserialize, Serialize};

/// A borrowed, row-major `f64` matrix.
///
/// Values may be NaN or infinite (features can be missing upstream); detectors reject them at
/// fit time and treat them as missing at scoring time (see [`crate::Imputer`]).
#[derive(Debug, Clone, Copy)]
pub struct MatrixView<'a> {
    data: &'a [f64],
    rows: usize,
    cols: usize,
}

impl<'a> MatrixView<'a> {
    /// Wraps `data` as `rows` x `cols`; the length must be exactly `rows * cols`.
    pub fn new(data: &'a [f64], rows: usize, cols: usize) -> Result<Self, MatrixError> {
        match rows.checked_mul(cols) {
            Some(n) if n == data.len() => Ok(Self { data, rows, cols }),
            _ => Err(MatrixError::LengthMismatch { len: data.len(), rows, cols }),
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The underlying buffer.
    pub fn as_slice(&self) -> &'a [f64] {
        self.data
    }

    /// Row `i`; panics if `i >= rows` like slice indexing.
    pub fn row(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Iterates over the rows in order.
    pub fn iter_rows(&self) -> impl ExactSizeIterator<Item = &'a [f64]> + 'a {
        // A zero-column matrix still has `rows` (empty) rows.
        let cols = self.cols;
        let data = self.data;
        (0..self.rows).map(move |i| &data[i * cols..(i + 1) * cols])
    }

    /// Value at row `r`, column `c`.
    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }
}

/// An owned, row-major `f64` matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    data: Vec<f64>,
    rows: usize,
    cols: usize,
}

impl Matrix {
    /// Takes ownership of `data` as `rows` x `cols`.
    pub fn new(data: Vec<f64>, rows: usize, cols: usize) -> Result<Self, MatrixError> {
        MatrixView::new(&data, rows, cols)?;
        Ok(Self { data, rows, cols })
    }

    /// Builds a matrix from equally long rows.
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self, MatrixError> {
        let cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for r in rows {
            data.extend_from_slice(r.as_ref());
        }
        Self::new(data, rows.len(), cols)
    }

    /// Borrows the matrix.
    pub fn view(&self) -> MatrixView<'_> {
        MatrixView { data: &self.data, rows: self.rows, cols: self.cols }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Mutable access to the buffer (row-major).
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Gives the buffer back.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_checks_length() {
        let d = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let v = MatrixView::new(&d, 2, 3).expect("valid");
        assert_eq!(v.row(1), &[4.0, 5.0, 6.0]);
        assert_eq!(v.get(0, 2), 3.0);
        assert_eq!(v.iter_rows().count(), 2);
        assert!(MatrixView::new(&d, 4, 2).is_err());
        assert!(MatrixView::new(&d, usize::MAX, 2).is_err());
    }

    #[test]
    fn from_rows_rejects_ragged() {
        assert!(Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0]]).is_err());
        let m = Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0]]).expect("valid");
        assert_eq!(m.view().row(1), &[3.0, 4.0]);
    }
}
