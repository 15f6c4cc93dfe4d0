//! The profile of one parameter's values, after Kruegel & Vigna, "Anomaly Detection of
//! Web-based Attacks" (CCS 2003): value length, idealized character distribution,
//! structural type (enumeration, number), and the characters ever seen.
//!
//! Each test reports a surprise in decades (`-log10` of the probability of a value at
//! least that unusual), so they add up and read the same way.

use serde::{Deserialize, Serialize};

use super::stats::{MAX_SURPRISE, chi2_sf_5, surprise};
use crate::hash::FastMap;

/// Distinct values tracked while learning whether a parameter is an enumeration.
const MAX_TRACKED_VALUES: usize = 64;
/// An enumeration has at most this many distinct values...
const MAX_ENUM_VALUES: usize = 32;
/// ...and at least this many observations per distinct value on average.
const MIN_ENUM_SUPPORT: u64 = 4;
/// Enumeration values longer than this are not stored (nor is the parameter then an
/// enumeration): long values are free text or identifiers.
const MAX_ENUM_VALUE_LEN: usize = 64;

/// Rank bins of the idealized character distribution: the most frequent character,
/// the 2nd-4th, 5th-7th, 8th-12th, 13th-16th, and the rest (Kruegel & Vigna).
const ICD_BINS: [usize; 6] = [1, 4, 7, 12, 16, 256];

/// A byte set as four 64-bit words.
type ByteSet = [u64; 4];

#[inline]
fn has(set: &ByteSet, b: u8) -> bool {
    set[usize::from(b >> 6)] >> (b & 63) & 1 == 1
}

#[inline]
fn insert(set: &mut ByteSet, b: u8) {
    set[usize::from(b >> 6)] |= 1 << (b & 63);
}

/// Whether a value reads as a (signed, decimal) number.
pub fn is_numeric(v: &str) -> bool {
    let s = v.strip_prefix(['-', '+']).unwrap_or(v);
    let mut dot = false;
    !s.is_empty()
        && s.len() <= 32
        && s.bytes().all(|b| {
            if b == b'.' && !dot {
                dot = true;
                true
            } else {
                b.is_ascii_digit()
            }
        })
        && s != "."
}

/// Reusable buffers for character statistics of one value.
#[derive(Default)]
pub struct CharScratch {
    counts: Vec<u32>,
    touched: Vec<u8>,
    sorted: Vec<u32>,
}

impl CharScratch {
    /// Fills `bins` with the value's character counts sorted by frequency, summed
    /// into the ICD rank bins. Returns the distinct bytes seen.
    fn rank_bins(&mut self, value: &[u8], bins: &mut [f64; 6]) -> &[u8] {
        if self.counts.len() != 256 {
            self.counts = vec![0; 256];
        }
        self.touched.clear();
        for &b in value {
            let c = &mut self.counts[usize::from(b)];
            if *c == 0 {
                self.touched.push(b);
            }
            *c += 1;
        }
        self.sorted.clear();
        self.sorted.extend(self.touched.iter().map(|&b| self.counts[usize::from(b)]));
        self.sorted.sort_unstable_by(|a, b| b.cmp(a));
        *bins = [0.0; 6];
        let mut bin = 0;
        for (rank, &c) in self.sorted.iter().enumerate() {
            while rank >= ICD_BINS[bin] {
                bin += 1;
            }
            bins[bin] += f64::from(c);
        }
        for &b in &self.touched {
            self.counts[usize::from(b)] = 0;
        }
        &self.touched
    }
}

/// Learns a [`ParamProfile`].
#[derive(Debug, Default)]
pub struct ProfileBuilder {
    n: u64,
    len_mean: f64,
    len_m2: f64,
    icd_sum: [f64; 6],
    icd_n: u64,
    chars: ByteSet,
    values: FastMap<String, u64>,
    too_many_values: bool,
    all_numeric: bool,
    non_empty: u64,
}

impl ProfileBuilder {
    /// Learns from one value.
    pub fn add(&mut self, value: &str, scratch: &mut CharScratch) {
        if self.n == 0 {
            self.all_numeric = true;
        }
        self.n += 1;
        let len = value.len() as f64;
        let delta = len - self.len_mean;
        self.len_mean += delta / self.n as f64;
        self.len_m2 += delta * (len - self.len_mean);
        if !value.is_empty() {
            self.non_empty += 1;
            let mut bins = [0.0; 6];
            for &b in scratch.rank_bins(value.as_bytes(), &mut bins) {
                insert(&mut self.chars, b);
            }
            for (sum, b) in self.icd_sum.iter_mut().zip(bins) {
                *sum += b / len;
            }
            self.icd_n += 1;
            self.all_numeric &= is_numeric(value);
        }
        if !self.too_many_values {
            if let Some(c) = self.values.get_mut(value) {
                *c += 1;
            } else if self.values.len() < MAX_TRACKED_VALUES && value.len() <= MAX_ENUM_VALUE_LEN {
                self.values.insert(value.to_owned(), 1);
            } else {
                self.too_many_values = true;
                self.values = FastMap::default();
            }
        }
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The fitted profile.
    pub fn finish(self) -> ParamProfile {
        let n = self.n.max(1);
        let icd =
            if self.icd_n == 0 { [0.0; 6] } else { self.icd_sum.map(|s| s / self.icd_n as f64) };
        let distinct = self.values.len();
        let enumeration = (!self.too_many_values
            && distinct > 0
            && distinct <= MAX_ENUM_VALUES
            && self.n >= MIN_ENUM_SUPPORT * distinct as u64)
            .then(|| {
                let singletons = self.values.values().filter(|&&c| c == 1).count();
                // Good-Turing: the chance that the next value is new is about the
                // share of values seen exactly once.
                let novel = (singletons as f64).max(0.5) / (n as f64 + 1.0);
                let mut values: Vec<String> = self.values.into_keys().collect();
                values.sort_unstable();
                Enumeration { values, novel_surprise: surprise(novel) }
            });
        ParamProfile {
            n: self.n,
            len_mean: self.len_mean,
            len_var: if self.n > 1 { self.len_m2 / (self.n - 1) as f64 } else { 0.0 },
            icd,
            chars: self.chars,
            enumeration,
            numeric: self.all_numeric && self.non_empty > 0,
        }
    }
}

/// A small closed set of values.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Enumeration {
    /// The values, sorted.
    values: Vec<String>,
    /// Surprise of a value outside the set.
    novel_surprise: f64,
}

/// What training traffic taught about one parameter's values.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ParamProfile {
    n: u64,
    len_mean: f64,
    len_var: f64,
    icd: [f64; 6],
    chars: ByteSet,
    enumeration: Option<Enumeration>,
    numeric: bool,
}

/// How one value fares under its profile.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ValueScore {
    /// Chebyshev bound on a length this far from the mean (decades).
    pub length: f64,
    /// Chi-square test of the character distribution against the idealized one.
    pub char_dist: f64,
    /// Distinct bytes never seen in this parameter's training values.
    pub novel_chars: u32,
    /// Surprise of those novel bytes.
    pub novel_chars_surprise: f64,
    /// Whether the value is outside a learned enumeration.
    pub enum_violation: bool,
    /// Whether a parameter that was always numeric has a non-numeric value.
    pub numeric_violation: bool,
    /// The sum of all surprises: the value's anomaly in decades.
    pub total: f64,
}

impl ParamProfile {
    /// Values seen in training.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Scores one value.
    pub fn score(&self, value: &str, scratch: &mut CharScratch) -> ValueScore {
        let bytes = value.as_bytes();
        let len = bytes.len() as f64;
        // A variance floor of one character keeps constant-length parameters from
        // calling every other length impossible.
        let dev = (len - self.len_mean).abs();
        let p_len = if dev < 1.0 { 1.0 } else { ((self.len_var + 1.0) / (dev * dev)).min(1.0) };
        let length = surprise(p_len);

        let mut bins = [0.0; 6];
        let mut novel = 0u32;
        for &b in scratch.rank_bins(bytes, &mut bins) {
            novel += u32::from(!has(&self.chars, b));
        }
        let char_dist = if bytes.is_empty() || self.icd.iter().all(|&x| x == 0.0) {
            0.0
        } else {
            let chi2: f64 = bins
                .iter()
                .zip(self.icd)
                .map(|(&o, e)| {
                    // A bin training never filled still gets a sliver of expectation,
                    // so that filling it is very surprising but finite.
                    let e = (e * len).max(0.01);
                    (o - e) * (o - e) / e
                })
                .sum();
            surprise(chi2_sf_5(chi2))
        };
        let succession = ((self.n as f64) + 2.0).log10();
        let novel_chars_surprise = if novel == 0 {
            0.0
        } else {
            (succession + f64::from(novel).log10()).min(MAX_SURPRISE)
        };
        let enum_violation = self
            .enumeration
            .as_ref()
            .is_some_and(|e| e.values.binary_search_by(|v| v.as_str().cmp(value)).is_err());
        let enum_surprise = match (&self.enumeration, enum_violation) {
            (Some(e), true) => e.novel_surprise,
            _ => 0.0,
        };
        let numeric_violation = self.numeric && !value.is_empty() && !is_numeric(value);
        let numeric_surprise = if numeric_violation { succession.min(MAX_SURPRISE) } else { 0.0 };
        ValueScore {
            length,
            char_dist,
            novel_chars: novel,
            novel_chars_surprise,
            enum_violation,
            numeric_violation,
            total: length + char_dist + novel_chars_surprise + enum_surprise + numeric_surprise,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learn(values: impl IntoIterator<Item = String>) -> ParamProfile {
        let mut scratch = CharScratch::default();
        let mut b = ProfileBuilder::default();
        for v in values {
            b.add(&v, &mut scratch);
        }
        b.finish()
    }

    #[test]
    fn sql_injection_in_a_numeric_id_scores_high() {
        let p = learn((0..500).map(|i| (i * 37 % 9000 + 1).to_string()));
        let mut s = CharScratch::default();
        let normal = p.score("4711", &mut s);
        assert!(normal.total < 0.5, "{normal:?}");
        let attack = p.score("1' OR 1=1--", &mut s);
        assert!(attack.numeric_violation);
        assert!(attack.novel_chars >= 5, "{attack:?}");
        assert!(attack.total > 5.0, "{attack:?}");
    }

    #[test]
    fn enumerations_are_learned() {
        let p = learn((0..300).map(|i| ["red", "green", "blue"][i % 3].to_string()));
        let mut s = CharScratch::default();
        assert!(!p.score("green", &mut s).enum_violation);
        let v = p.score("purple", &mut s);
        assert!(v.enum_violation);
        assert!(v.total >= 2.0, "{v:?}");
        // Free text is not an enumeration.
        let free = learn((0..300).map(|i| format!("comment number {i}")));
        assert!(!free.score("something else", &mut s).enum_violation);
    }

    #[test]
    fn long_values_break_the_length_bound() {
        let p = learn((0..300).map(|i| format!("user{}", i % 50)));
        let mut s = CharScratch::default();
        let v = p.score(&"A".repeat(500), &mut s);
        assert!(v.length >= 4.0, "{v:?}");
        assert_eq!(p.score("user7", &mut s).length, 0.0);
    }

    #[test]
    fn character_distribution_of_random_text_stands_out() {
        // Words with a skewed character distribution...
        let p = learn((0..300).map(|i| ["aaab", "bbba", "aaaab", "abbbb"][i % 4].to_string()));
        let mut s = CharScratch::default();
        // ...against a value with all distinct characters.
        let v = p.score("x9!kQz#2pL", &mut s);
        assert!(v.char_dist > 2.0, "{v:?}");
        assert!(p.score("aaabb", &mut s).char_dist < 1.0);
    }

    #[test]
    fn numbers() {
        for n in ["1", "-2", "3.5", "+10"] {
            assert!(is_numeric(n), "{n}");
        }
        for n in ["", ".", "1.2.3", "1e5", "0x10", "1 "] {
            assert!(!is_numeric(n), "{n}");
        }
    }
}
