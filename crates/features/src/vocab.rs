//! Frequency vocabularies learned from training traffic: how rare a path template, a
//! parameter name, an extension, a user-agent family or a character trigram is.
//!
//! Rarity is in decades: `-log10` of the training frequency, so 0 is "every request",
//! 3 is "one request in a thousand", and a value never seen in training scores as if
//! seen half a time (a little rarer than anything seen once).

use serde::{Deserialize, Serialize};

use crate::hash::{FastMap, mix64};

/// Counts of values while fitting.
#[derive(Debug, Default)]
pub struct VocabularyBuilder {
    counts: FastMap<String, u64>,
    total: u64,
}

impl VocabularyBuilder {
    /// Counts one occurrence.
    pub fn add(&mut self, key: &str) {
        self.total += 1;
        if let Some(n) = self.counts.get_mut(key) {
            *n += 1;
        } else {
            self.counts.insert(key.to_owned(), 1);
        }
    }

    /// Keeps the `max` most frequent values (ties broken by the value, so the result
    /// does not depend on map order).
    pub fn finish(self, max: usize) -> Vocabulary {
        let mut entries: Vec<(String, u64)> = self.counts.into_iter().collect();
        if entries.len() > max {
            entries.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            entries.truncate(max);
        }
        Vocabulary { counts: entries.into_iter().collect(), total: self.total }
    }
}

/// A fitted frequency vocabulary.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Vocabulary {
    counts: FastMap<String, u64>,
    total: u64,
}

impl Vocabulary {
    /// Training occurrences of `key` (0 when unseen or dropped).
    pub fn count(&self, key: &str) -> u64 {
        self.counts.get(key).copied().unwrap_or(0)
    }

    /// Whether `key` was seen in training (and kept).
    pub fn contains(&self, key: &str) -> bool {
        self.counts.contains_key(key)
    }

    /// Rarity of `key` in decades (see the module doc).
    pub fn rarity(&self, key: &str) -> f64 {
        rarity(self.count(key), self.total)
    }

    /// Distinct values kept.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// `-log10` of the frequency `count / total`; unseen counts as half.
///
/// Unsmoothed on purpose: a value that makes up the same share of two samples of
/// different sizes gets exactly the same rarity, so training rows judged against a
/// part of the training data ([`crate::crossfit`]) match fresh rows judged against
/// all of it (a value in every request is 0 either way, not 0 plus a size-dependent
/// sliver that a constant column would magnify).
pub fn rarity(count: u64, total: u64) -> f64 {
    let c = if count == 0 { 0.5 } else { count as f64 };
    ((total.max(1) as f64) / c).log10().max(0.0)
}

const SKETCH_BITS: u32 = 18;
const SKETCH_SIZE: usize = 1 << SKETCH_BITS;
/// Rarity codes are sixteenths of a decade.
const CODE_STEPS: f64 = 16.0;

/// Character trigram rarity over decoded request text, in a hashed table of
/// `SKETCH_SIZE` one-byte codes (256 KiB: small enough to stay in cache on the hot
/// path). Letters are lowercased and digits folded to `0` first, so numbers do not
/// look novel. Code 0 means never seen.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct NgramSketch {
    codes: Vec<u8>,
    /// Rarity given to an unseen trigram.
    unseen_rarity: f64,
}

/// Counts trigrams while fitting.
pub struct NgramSketchBuilder {
    counts: Vec<u32>,
    total: u64,
}

impl Default for NgramSketchBuilder {
    fn default() -> Self {
        NgramSketchBuilder { counts: vec![0; SKETCH_SIZE], total: 0 }
    }
}

#[inline]
fn fold(b: u8) -> u8 {
    if b.is_ascii_digit() { b'0' } else { b.to_ascii_lowercase() }
}

/// Calls `f` with the table slot of every trigram of `text`.
#[inline]
fn for_each_slot(text: &[u8], mut f: impl FnMut(usize)) {
    let mut key: u32 = 0;
    for (i, &b) in text.iter().enumerate() {
        key = (key << 8 | u32::from(fold(b))) & 0x00ff_ffff;
        if i >= 2 {
            f((mix64(u64::from(key)) >> (64 - SKETCH_BITS)) as usize);
        }
    }
}

impl NgramSketchBuilder {
    /// Counts the trigrams of one request text.
    pub fn add(&mut self, text: &[u8]) {
        let counts = &mut self.counts;
        let mut n = 0;
        for_each_slot(text, |slot| {
            counts[slot] = counts[slot].saturating_add(1);
            n += 1;
        });
        self.total += n;
    }

    /// Turns counts into rarity codes.
    pub fn finish(self) -> NgramSketch {
        let total = self.total;
        let codes = self
            .counts
            .iter()
            .map(|&c| {
                if c == 0 {
                    0
                } else {
                    (1.0 + rarity(u64::from(c), total) * CODE_STEPS).round().min(255.0) as u8
                }
            })
            .collect();
        NgramSketch { codes, unseen_rarity: rarity(0, total) }
    }
}

/// Trigram statistics of one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NgramScore {
    /// Mean rarity (decades) over the trigrams; unseen ones count as the unseen rarity.
    pub mean_rarity: f64,
    /// Share of trigrams never seen in training.
    pub unseen_ratio: f64,
}

impl NgramSketch {
    /// Scores a text; `None` when it has no trigram.
    pub fn score(&self, text: &[u8]) -> Option<NgramScore> {
        let (mut n, mut unseen, mut sum) = (0u32, 0u32, 0.0);
        for_each_slot(text, |slot| {
            n += 1;
            match self.codes.get(slot).copied().unwrap_or(0) {
                0 => unseen += 1,
                code => sum += f64::from(code - 1) / CODE_STEPS,
            }
        });
        (n > 0).then(|| NgramScore {
            mean_rarity: (sum + f64::from(unseen) * self.unseen_rarity) / f64::from(n),
            unseen_ratio: f64::from(unseen) / f64::from(n),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rarity_orders_by_frequency() {
        let mut b = VocabularyBuilder::default();
        for _ in 0..99 {
            b.add("/index");
        }
        b.add("/admin");
        let v = b.finish(10);
        assert!(v.rarity("/index") < 0.01);
        assert!((v.rarity("/admin") - 2.0).abs() < 0.01);
        assert!(v.rarity("/never") > v.rarity("/admin"));
    }

    #[test]
    fn vocabulary_is_capped_by_frequency() {
        let mut b = VocabularyBuilder::default();
        for (i, key) in ["a", "b", "c"].iter().enumerate() {
            for _ in 0..=i {
                b.add(key);
            }
        }
        let v = b.finish(2);
        assert_eq!(v.len(), 2);
        assert!(!v.contains("a") && v.contains("b") && v.contains("c"));
    }

    #[test]
    fn trigrams_of_attacks_are_unseen() {
        let mut b = NgramSketchBuilder::default();
        for i in 0..200 {
            b.add(format!("/shop/item?id={i}&color=red").as_bytes());
        }
        let s = b.finish();
        let normal = s.score(b"/shop/item?id=77&color=red").unwrap();
        assert_eq!(normal.unseen_ratio, 0.0);
        let attack = s.score(b"/shop/item?id=1' union select password from users--").unwrap();
        assert!(attack.unseen_ratio > 0.5, "{attack:?}");
        assert!(attack.mean_rarity > normal.mean_rarity + 1.0);
        assert_eq!(s.score(b"ab"), None);
    }
}
