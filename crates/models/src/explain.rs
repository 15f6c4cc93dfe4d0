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
    if k == 0 {
        return Vec::new();
    }
    // Largest first, ties in feature order. The shares are positive and finite (the
    // total is), so `>=` orders them as `f64::total_cmp` does; each feature goes in
    // behind those with an equal share, which come earlier in feature order. One pass
    // keeps the `k` best: `k` is small (a handful of features) beside the row.
    let mut order: Vec<usize> = Vec::with_capacity(k.min(n) + 1);
    for (i, &share) in merged.iter().enumerate() {
        if share > 0.0 && (order.len() < k || share > merged[order[order.len() - 1]]) {
            let at = order.partition_point(|&j| merged[j] >= share);
            order.insert(at, i);
            order.truncate(k);
        }
    }
    order
        .into_iter()
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
        assert!(top_features(&c, &row, &names, &typ, 0).is_empty());
    }

    #[test]
    fn selection_keeps_the_order_of_a_full_sort() {
        let names: Vec<String> = (0..60).map(|i| format!("f{i}")).collect();
        let row = vec![1.0; 60];
        let typ = vec![0.0; 60];
        // Coarse contributions, so that ties (kept in feature order) are common.
        let c: Vec<(usize, f64)> = (0..60).map(|i| (i, ((i * 37) % 11) as f64)).collect();
        let all = top_features(&c, &row, &names, &typ, 60);
        for k in [1, 2, 5, 10, 54, 59, 60, 80] {
            let top = top_features(&c, &row, &names, &typ, k);
            assert_eq!(top, all[..k.min(all.len())], "k {k}");
        }
        for w in all.windows(2) {
            let index = |e: &Explanation| e.feature[1..].parse::<usize>().unwrap();
            assert!(
                w[0].contribution > w[1].contribution
                    || (w[0].contribution == w[1].contribution && index(&w[0]) < index(&w[1]))
            );
        }
    }
}
