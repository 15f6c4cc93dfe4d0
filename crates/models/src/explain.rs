//! Turning per-feature contributions into readable explanations.

use serde::{Deserialize, Serialize};

/// Why a row scored high, for one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Feature name.
    pub feature: String,
    /// The row's value.
    pub value: f64,
    /// The feature's typical (training median) value.
    pub typical: f64,
    /// Share of the row's total contribution, in 0..=1.
    pub contribution: f64,
}

/// The `k` features contributing most to a row's score, largest first.
///
/// `contributions` is a detector's [`crate::Detector::explain`] output; negative and
/// non-finite contributions count as 0 and repeated indices are summed. Contributions are
/// normalized to sum to 1 over all features before the top `k` are taken, so each
/// `contribution` is the feature's share of the whole explanation (the returned shares sum
/// to 1 only when `k` covers every contributing feature). Features with zero share and
/// indices outside `names`/`row`/`typical` are left out; an all-zero explanation gives an
/// empty list. Ties keep feature order.
pub fn top_features<S: AsRef<str>>(
    contributions: &[(usize, f64)],
    row: &[f64],
    names: &[S],
    typical: &[f64],
    k: usize,
) -> Vec<Explanation> {
    let n = names.len().min(row.len()).min(typical.len());
    let mut merged = vec![0.0; n];
    for &(i, c) in contributions {
        if i < n && c.is_finite() && c > 0.0 {
            merged[i] += c;
        }
    }
    let total: f64 = merged.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..n).filter(|&i| merged[i] > 0.0).collect();
    order.sort_by(|&a, &b| merged[b].total_cmp(&merged[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|i| Explanation {
            feature: names[i].as_ref().to_owned(),
            value: row[i],
            typical: typical[i],
            contribution: merged[i] / total,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_normalized_top_k() {
        let names = ["a", "b", "c", "d"];
        let row = [1.0, 2.0, 3.0, 4.0];
        let typ = [0.0; 4];
        let c = [(0, 1.0), (1, 3.0), (2, -5.0), (3, f64::NAN), (1, 1.0), (9, 100.0)];
        let e = top_features(&c, &row, &names, &typ, 5);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].feature, "b");
        assert_eq!(e[0].value, 2.0);
        assert!((e[0].contribution - 0.8).abs() < 1e-12);
        assert!((e.iter().map(|x| x.contribution).sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(top_features(&c, &row, &names, &typ, 1).len(), 1);
        assert!(top_features(&[(0, 0.0)], &row, &names, &typ, 3).is_empty());
    }
}
