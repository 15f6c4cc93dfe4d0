//! Ensembles of detectors.
//!
//! Raw scores of different detectors live on incomparable scales (path lengths,
//! log-densities, z-values, reconstruction errors). Each member's score is therefore
//! mapped through the empirical CDF of its own training scores, stored as a
//! [`crate::QuantileSketch`], and the resulting 0..1 values are averaged (default) or
//! maxed. The default members are HBOS and per-feature tail probabilities
//! ([`crate::tail`]), the default detector of anomalog (see [`EnsembleParams::default`]
//! for why these two).

mod algorithm;
mod params;

pub use algorithm::{Ensemble, Explained, Member};
pub use params::{Combine, EnsembleParams, EnsembleValidParams};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FitError;
    use crate::matrix::Matrix;
    use crate::registry::{AnyDetector, AnyParams};
    use crate::testutil::{Plant, blob, head, roc_auc, top_feature};
    use crate::traits::{Detector, Fit, ParamGuard};

    #[test]
    fn default_ranks_and_explains() {
        for p in [EnsembleParams::new(), EnsembleParams::full().combine(Combine::Max)] {
            let (m, labels) = blob(1000, 20, 6, Plant::Everywhere, 1);
            let e = p.fit(head(&m, 1000).view(), 0).expect("fit");
            let s = e.score(m.view());
            assert!(roc_auc(&s, &labels) > 0.95);
            assert!(s.iter().all(|v| (0.0..=1.0).contains(v)));
            assert_eq!(s[7], e.score_row(m.view().row(7)));
            let (m, labels) = blob(1000, 10, 6, Plant::Column(3, 8.0), 2);
            let e = p.fit(head(&m, 1000).view(), 0).expect("fit");
            assert!(roc_auc(&e.score(m.view()), &labels) > 0.95);
            for r in 1000..1010 {
                let ex = e.explain(m.view().row(r));
                assert_eq!(top_feature(&ex), 3);
                let total: f64 = ex.iter().map(|c| c.1).sum();
                assert!(total > 0.0 && total <= e.members().len() as f64 + 1e-9);
            }
        }
    }

    #[test]
    fn default_members_and_determinism() {
        let members = EnsembleParams::new().members;
        assert!(matches!(members[..], [AnyParams::Hbos(_), AnyParams::Tail(_)]));
        let (m, _) = blob(500, 5, 4, Plant::Everywhere, 3);
        let a = EnsembleParams::new().fit(m.view(), 7).expect("fit");
        let b = EnsembleParams::new().fit(m.view(), 7).expect("fit");
        assert_eq!(a, b);
        assert_eq!(a.score(m.view()), b.score(m.view()));
        // Missing values are imputed once for all members, the same as in batch scoring.
        let mut row = m.view().row(3).to_vec();
        row[1] = f64::NAN;
        let mut filled = row.clone();
        filled[1] = a.medians()[1];
        assert_eq!(a.score_row(&row), a.score_row(&filled));
    }

    #[test]
    fn members_score_and_explain_in_one_pass_as_in_two() {
        for p in [EnsembleParams::new(), EnsembleParams::new().combine(Combine::Max)] {
            let (m, _) = blob(600, 30, 8, Plant::Everywhere, 5);
            let e = p.fit(head(&m, 600).view(), 0).expect("fit");
            for r in (0..630).step_by(7) {
                let mut row = m.view().row(r).to_vec();
                if r % 3 == 0 {
                    row[r % 8] = f64::NAN;
                }
                for member in e.members() {
                    let d = member.detector();
                    let (score, explanation) = match d {
                        AnyDetector::Hbos(h) => h.score_and_explain(&row),
                        AnyDetector::Tail(t) => t.score_and_explain(&row),
                        _ => continue,
                    };
                    assert_eq!(score.to_bits(), d.score_row(&row).to_bits(), "row {r}");
                    assert_eq!(explanation, d.explain(&row), "row {r}");
                }
            }
        }
    }

    #[test]
    fn the_default_pair_scores_in_one_pass_as_member_by_member() {
        for p in [EnsembleParams::new(), EnsembleParams::new().combine(Combine::Max)] {
            let (m, _) = blob(3000, 60, 12, Plant::Everywhere, 9);
            let e = p.fit(head(&m, 2000).view(), 0).expect("fit");
            // Repeated values (as in logs), missing ones, and zeros of both signs.
            let mut data = m.view().as_slice().to_vec();
            for (i, v) in data.iter_mut().enumerate() {
                match i % 13 {
                    0 | 5 => *v = (*v * 2.0).round() / 2.0,
                    3 => *v = 0.0,
                    7 => *v = -0.0,
                    11 if i % 3 == 0 => *v = f64::NAN,
                    _ => {}
                }
            }
            // Columns that repeat their value from row to row, so memos are hit.
            for (r, row) in data.chunks_exact_mut(12).enumerate() {
                row[0] = (r / 5) as f64;
                row[1] = if r % 2 == 0 { 0.0 } else { -0.0 };
                row[2] = if r % 4 < 2 { 1.5 } else { f64::NAN };
            }
            let x = Matrix::new(data, m.view().rows(), 12).expect("m");
            let fused = e.score(x.view());
            let apart = e.score_by_member(x.view());
            assert_eq!(fused.len(), apart.len());
            for (r, (a, b)) in fused.iter().zip(&apart).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "row {r}");
            }
        }
    }

    #[test]
    fn scoring_explains_the_selected_rows_as_explain_does() {
        let (m, _) = blob(2500, 60, 12, Plant::Everywhere, 4);
        // Values that repeat (as in logs), so memos are hit; the model is trained on
        // them, then some are made missing.
        let mut data = m.view().as_slice().to_vec();
        for (r, row) in data.chunks_exact_mut(12).enumerate() {
            row[0] = (row[0] * 2.0).round() / 2.0;
            row[1] = if r % 2 == 0 { 0.0 } else { -0.0 };
            row[2] = (r / 5 % 3) as f64;
        }
        let train = Matrix::new(data[..2000 * 12].to_vec(), 2000, 12).expect("m");
        for (i, v) in data.iter_mut().enumerate() {
            if i % 17 == 3 {
                *v = f64::NAN;
            }
        }
        let x = Matrix::new(data, m.view().rows(), 12).expect("m");
        let members = EnsembleParams::new().members;
        // The default pair (explained from the scoring memo) and a pair that is not
        // (explained row by row); both combination rules.
        for p in [
            EnsembleParams::new(),
            EnsembleParams::new().combine(Combine::Max),
            EnsembleParams::from_members(members.into_iter().rev().collect()),
        ] {
            let e = p.fit(train.view(), 0).expect("fit");
            let scores = e.score(x.view());
            let mut sorted = scores.clone();
            sorted.sort_by(f64::total_cmp);
            let cut = sorted[sorted.len() * 9 / 10];
            let (fused, explained) = e.score_explaining(x.view(), &|s| s > cut);
            assert_eq!(
                fused.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
                scores.iter().map(|s| s.to_bits()).collect::<Vec<_>>()
            );
            let want: Vec<usize> = (0..scores.len()).filter(|&r| scores[r] > cut).collect();
            assert!(want.len() > 100 && want.len() < scores.len(), "{} rows", want.len());
            assert_eq!(explained.iter().map(|(r, _)| *r).collect::<Vec<_>>(), want);
            for (r, contributions) in &explained {
                let bits = |c: &[(usize, f64)]| -> Vec<(usize, u64)> {
                    c.iter().map(|&(f, v)| (f, v.to_bits())).collect()
                };
                assert_eq!(bits(contributions), bits(&e.explain(x.view().row(*r))), "row {r}");
            }
            let (_, none) = e.score_explaining(x.view(), &|_| false);
            assert!(none.is_empty());
        }
    }

    #[test]
    fn validation_and_errors() {
        assert!(EnsembleParams::from_members(vec![]).check().is_err());
        let nested = EnsembleParams::from_members(vec![AnyParams::Ensemble(EnsembleParams::new())]);
        assert!(nested.check().is_err());
        let same = Matrix::new(vec![1.0; 6], 3, 2).expect("m");
        assert!(matches!(
            EnsembleParams::new().fit(same.view(), 0),
            Err(FitError::IdenticalRows { .. })
        ));
        let (m, _) = blob(200, 0, 3, Plant::Everywhere, 1);
        let e = AnyParams::Ensemble(EnsembleParams::new()).fit(m.view(), 0).expect("fit");
        assert!(matches!(e, AnyDetector::Ensemble(_)));
        assert!(e.score_row(&[0.0]).is_nan());
        assert!(e.explain(&[0.0]).is_empty());
    }
}
