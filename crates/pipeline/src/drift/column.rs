//! One monitored value: its training profile, its PSI bins and the counts of the
//! values observed since the last reset.

use anomalog_eval::report::BinShare;

use super::profile::ValueProfile;
use super::stats::{ks_p_value, ks_statistic, psi};

/// The training side of the Kolmogorov–Smirnov test counts at most this many records.
/// The profile is a sketch, not the sample: between two knots it only knows that about
/// 1/64 of the mass lies there. Beyond ~10 000 records the p-value would mostly
/// measure that approximation rather than the data.
pub const KS_TRAINING_CAP: f64 = 10_000.0;

/// What [`Column::drift`] measures for one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ColumnDrift {
    pub psi: f64,
    pub ks_d: f64,
    pub ks_p: f64,
}

/// The training distribution of one value, the PSI bins drawn from it, and the live
/// counts per cell: memory bounded by the number of knots, whatever the traffic.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    profile: ValueProfile,
    /// Training count of each cell.
    training: Vec<u64>,
    /// The PSI bin of each cell.
    bin_of_cell: Vec<usize>,
    bins: usize,
    /// Training records behind the profile (for the KS effective size).
    training_records: f64,
    /// Observed count of each cell.
    observed: Vec<u64>,
    /// Observed missing values.
    observed_missing: u64,
    /// The last value observed and its cell: most columns repeat their value from one
    /// record to the next (counts of zero, the same status class), and the lookup
    /// costs a binary search over the knots.
    last: (f64, usize),
}

impl Column {
    /// A column over `profile`, whose counts stand for `training_records` records,
    /// with about `target_bins` PSI bins of equal training mass.
    pub fn new(profile: ValueProfile, training_records: u64, target_bins: usize) -> Column {
        let training = profile.cell_counts();
        let (bin_of_cell, bins) = if profile.is_constant() {
            // Below, at and above the constant: any change of the value is a change.
            (vec![0, 1, 2], 3)
        } else {
            quantile_bins(&training, target_bins)
        };
        let observed = vec![0; training.len()];
        Column {
            profile,
            training,
            bin_of_cell,
            bins,
            training_records: training_records as f64,
            observed,
            observed_missing: 0,
            last: (f64::NAN, 0),
        }
    }

    /// Counts one observed value.
    #[inline]
    pub fn observe(&mut self, x: f64) {
        self.observe_all(std::iter::once(x));
    }

    /// Counts observed values in order. Equal values share a cell (NaN never equals
    /// the cached value, and 0.0 and -0.0 share theirs), so a run of them is counted in
    /// a register and added once.
    #[inline(always)]
    pub fn observe_all(&mut self, values: impl Iterator<Item = f64>) {
        let (mut last, mut cell) = self.last;
        // Values equal to `last` seen and not added to `observed[cell]` yet.
        let mut run = 0u64;
        for x in values {
            if x == last {
                run += 1;
                continue;
            }
            match self.profile.cell(x) {
                Some(c) => {
                    self.observed[cell] += run;
                    (last, cell, run) = (x, c, 1);
                }
                None => self.observed_missing += 1,
            }
        }
        if run > 0 {
            self.observed[cell] += run;
        }
        self.last = (last, cell);
    }

    /// Forgets the observed values.
    pub fn reset(&mut self) {
        self.observed.fill(0);
        self.observed_missing = 0;
    }

    /// PSI over the bins plus a bin of missing values; KS over the finite values.
    pub fn drift(&self) -> ColumnDrift {
        let mut expected = vec![0u64; self.bins + 1];
        let mut actual = vec![0u64; self.bins + 1];
        for ((&bin, &t), &o) in self.bin_of_cell.iter().zip(&self.training).zip(&self.observed) {
            expected[bin] += t;
            actual[bin] += o;
        }
        expected[self.bins] = self.profile.missing();
        actual[self.bins] = self.observed_missing;
        let ks_d = ks_statistic(&self.training, &self.observed);
        let finite = self.profile.finite();
        let training_n = if finite == 0 {
            0.0
        } else {
            let share = finite as f64 / (finite + self.profile.missing()) as f64;
            (self.training_records * share).min(KS_TRAINING_CAP)
        };
        let observed_n = self.observed.iter().sum::<u64>() as f64;
        ColumnDrift {
            psi: psi(&expected, &actual),
            ks_d,
            ks_p: ks_p_value(ks_d, training_n, observed_n),
        }
    }

    /// The PSI bins in order, each with the range of values it covers and its share of
    /// the training and of the observed values, then the bin of missing values: what
    /// [`Column::drift`] compares, for a chart.
    pub fn bin_shares(&self) -> Vec<BinShare> {
        let knots = self.profile.knots();
        // Cell 2i lies between knots i-1 and i (open at the ends), cell 2i+1 at knot i.
        let lower = |cell: usize| match cell {
            0 => f64::NEG_INFINITY,
            c => knots.get((c - 1) / 2).copied().unwrap_or(f64::INFINITY),
        };
        let upper = |cell: usize| knots.get(cell / 2).copied().unwrap_or(f64::INFINITY);
        let training_total = self.training.iter().sum::<u64>() + self.profile.missing();
        let observed_total = self.observed.iter().sum::<u64>() + self.observed_missing;
        let share = |n: u64, total: u64| if total == 0 { 0.0 } else { n as f64 / total as f64 };
        let mut bins: Vec<BinShare> = Vec::with_capacity(self.bins + 1);
        let mut counts = vec![(0u64, 0u64); self.bins];
        for (cell, &bin) in self.bin_of_cell.iter().enumerate() {
            counts[bin].0 += self.training[cell];
            counts[bin].1 += self.observed[cell];
            match bins.get_mut(bin) {
                Some(b) => b.hi = upper(cell),
                None => bins.push(BinShare {
                    lo: lower(cell),
                    hi: upper(cell),
                    training: 0.0,
                    observed: 0.0,
                    missing: false,
                }),
            }
        }
        for (b, (t, o)) in bins.iter_mut().zip(counts) {
            b.training = share(t, training_total);
            b.observed = share(o, observed_total);
        }
        bins.push(BinShare {
            lo: f64::NAN,
            hi: f64::NAN,
            training: share(self.profile.missing(), training_total),
            observed: share(self.observed_missing, observed_total),
            missing: true,
        });
        bins
    }

    /// The number of PSI bins of finite values (the missing bin not counted).
    #[cfg(test)]
    pub fn bins(&self) -> usize {
        self.bins
    }
}

/// Groups consecutive cells into about `target` bins of equal training mass: a bin
/// closes after the cell where the cumulative training share reaches the next multiple
/// of `1 / target`. A cell holding more than one bin's share (a frequent exact value)
/// makes one bin on its own, so bins never split a value. The empty outer cells join
/// the first and last bins (the bins are open-ended, as usual).
fn quantile_bins(training: &[u64], target: usize) -> (Vec<usize>, usize) {
    let total: u64 = training.iter().sum();
    let target = target.max(1) as u128;
    let mut bin_of_cell = Vec::with_capacity(training.len());
    let (mut bin, mut cum, mut made) = (0usize, 0u64, 0u128);
    for &t in training {
        bin_of_cell.push(bin);
        cum += t;
        if cum < total && u128::from(cum) * target >= (made + 1) * u128::from(total) {
            made = u128::from(cum) * target / u128::from(total);
            bin += 1;
        }
    }
    (bin_of_cell, bin + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deciles_of_a_continuous_value() {
        let mut v: Vec<f64> = (0..10_000).map(f64::from).collect();
        let mut c = Column::new(ValueProfile::from_values(&mut v), 10_000, 10);
        assert!((9..=11).contains(&c.bins()), "{}", c.bins());
        for x in 0..10_000 {
            c.observe(f64::from(x));
        }
        let same = c.drift();
        assert!(same.psi < 1e-3, "{same:?}");
        assert!(same.ks_d < 1e-3 && same.ks_p > 0.99, "{same:?}");
        c.reset();
        for x in 0..5_000 {
            c.observe(f64::from(x) + 5_000.0);
        }
        let shifted = c.drift();
        // With exact deciles: five empty bins at (0.1 - 1e-4) ln(0.1 / 1e-4) each and five
        // doubled ones at 0.1 ln 2, 3.80 in all; less here, as the knots put one bin
        // across the median.
        assert!((3.0..3.9).contains(&shifted.psi), "{shifted:?}");
        assert!((shifted.ks_d - 0.5).abs() < 0.02 && shifted.ks_p < 1e-10, "{shifted:?}");
    }

    #[test]
    fn repeated_values_count_in_their_own_cells() {
        let mut v: Vec<f64> = (0..200).map(|i| f64::from(i % 7) - 2.0).collect();
        let mut c = Column::new(ValueProfile::from_values(&mut v), 200, 4);
        let seen = [0.0, 0.0, -0.0, 1.0, 1.0, f64::NAN, f64::NAN, 1.0, 3.5, 3.5, -9.0, 0.0, 1e300];
        let mut naive = vec![0u64; c.observed.len()];
        let mut missing = 0;
        for &x in &seen {
            c.observe(x);
            match c.profile.cell(x) {
                Some(cell) => naive[cell] += 1,
                None => missing += 1,
            }
        }
        assert_eq!(c.observed, naive);
        assert_eq!(c.observed_missing, missing);

        // The same values in runs: counted alike, whatever the cached value was.
        let mut runs = Column::new(ValueProfile::from_values(&mut v), 200, 4);
        runs.observe_all(seen.iter().copied());
        assert_eq!((runs.observed.clone(), runs.observed_missing), (naive.clone(), missing));
        runs.observe_all([1e300, 1e300, f64::NAN, 1e300, 2.0].into_iter());
        runs.observe_all(std::iter::empty());
        for x in [1e300, 1e300, f64::NAN, 1e300, 2.0] {
            c.observe(x);
        }
        assert_eq!((runs.observed, runs.observed_missing), (c.observed, c.observed_missing));
    }

    #[test]
    fn bin_shares_cover_the_values_in_order() {
        let mut v: Vec<f64> = (0..1_000).map(f64::from).collect();
        v.extend([f64::NAN; 10]);
        let mut c = Column::new(ValueProfile::from_values(&mut v), 1_010, 10);
        for x in 0..500 {
            c.observe(f64::from(x));
        }
        c.observe(f64::NAN);
        let bins = c.bin_shares();
        assert_eq!(bins.len(), c.bins() + 1);
        let (missing, finite) = bins.split_last().expect("bins");
        assert!(missing.missing && (missing.training - 10.0 / 1_010.0).abs() < 1e-12);
        assert!((missing.observed - 1.0 / 501.0).abs() < 1e-12);
        assert_eq!(finite[0].lo, f64::NEG_INFINITY);
        assert_eq!(finite[finite.len() - 1].hi, f64::INFINITY);
        for w in finite.windows(2) {
            assert!(w[0].hi <= w[1].lo && w[0].lo < w[1].hi, "{w:?}");
        }
        let total: f64 = bins.iter().map(|b| b.training).sum();
        assert!((total - 1.0).abs() < 1e-9);
        // The lower half of the training range holds every observed value.
        let low: f64 = finite.iter().filter(|b| b.lo < 500.0).map(|b| b.observed).sum();
        assert!((low - 500.0 / 501.0).abs() < 1e-12, "{bins:?}");
        assert!(finite.iter().filter(|b| b.lo >= 500.0).all(|b| b.observed == 0.0));
    }

    #[test]
    fn constant_value_drifts_only_when_it_changes() {
        let mut c = Column::new(ValueProfile::from_values(&mut vec![1.0; 500]), 500, 10);
        for _ in 0..300 {
            c.observe(1.0);
        }
        assert_eq!(c.drift(), ColumnDrift { psi: 0.0, ks_d: 0.0, ks_p: 1.0 });
        c.observe(0.0);
        assert!(c.drift().psi > 0.0);
        c.reset();
        for _ in 0..300 {
            c.observe(2.0);
        }
        let d = c.drift();
        assert!(d.psi > 5.0 && d.ks_d == 1.0, "{d:?}");
    }

    #[test]
    fn missing_values_are_their_own_bin() {
        let mut v: Vec<f64> = (0..1000).map(|i| if i % 2 == 0 { f64::NAN } else { 1.0 }).collect();
        let mut c = Column::new(ValueProfile::from_values(&mut v), 1000, 10);
        for _ in 0..500 {
            c.observe(f64::NAN);
            c.observe(1.0);
        }
        assert_eq!(c.drift().psi, 0.0);
        for _ in 0..1000 {
            c.observe(f64::NAN);
        }
        // Shares 0.5/0.5 against 0.75/0.25 (missing first): the hand value of
        // `stats::psi` for 0.5/0.5 against 0.25/0.75.
        let d = c.drift();
        assert!((d.psi - 0.274_653).abs() < 1e-6, "{d:?}");
        assert_eq!(d.ks_d, 0.0);
    }

    #[test]
    fn a_frequent_value_is_one_bin() {
        // 70% zeros, the rest spread out: the zeros (and anything below) make one bin,
        // the other 30% three more.
        let (bins, n) = quantile_bins(&[0, 700, 100, 1, 100, 1, 98, 0], 10);
        assert_eq!(bins, vec![0, 0, 1, 2, 2, 3, 3, 3]);
        assert_eq!(n, 4);
    }
}
