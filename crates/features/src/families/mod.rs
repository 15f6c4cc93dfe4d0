//! The feature families. Each is one module with a fixed list of named columns and
//! implements [`FeatureFamily`]; the pipeline runs the enabled ones in a fixed order.
//!
//! | module | columns | state |
//! | --- | --- | --- |
//! | [`basics`] | missing indicators, method and status one-hot, bytes, request time | none |
//! | [`lexical`] | lengths, character classes, entropy, attack tokens, rarity | learned vocabularies |
//! | [`client`] | per-client rates and ratios over sliding windows | per-client windows |
//! | [`site`] | site volume, 5xx ratio, latency against the baseline | site windows |
//! | [`time`] | hour of day, day of week | none |
//! | [`params`] | per-endpoint parameter profiles | learned profiles |
//! | [`geo`] | rarity of the client's country and ASN (only with a GeoIP database) | learned frequencies, lookup cache |

pub mod basics;
pub mod client;
pub mod geo;
pub mod lexical;
pub mod params;
pub mod site;
pub mod time;

use std::sync::LazyLock;

use anomalog_ingest::Record;

use crate::memo::Content;
use crate::preprocess::FeatureSpec;
use crate::request::RequestView;

/// What a family sees of one record.
pub struct Input<'r, 'a> {
    /// The record.
    pub record: &'r Record<'a>,
    /// Its decoded request parts, or where the results of the same content are
    /// remembered (see [`crate::memo`]).
    pub content: Content<'r>,
    /// The stream time the record happens at (seconds; see [`crate::window::Clock`]).
    pub now: f64,
    /// Seconds since the stream's first timestamp.
    pub elapsed: f64,
}

impl<'r, 'a> Input<'r, 'a> {
    /// A record decoded into `view`, with nothing remembered.
    pub fn decoded(
        record: &'r Record<'a>,
        view: &'r RequestView,
        now: f64,
        elapsed: f64,
    ) -> Input<'r, 'a> {
        Input { record, content: Content::Decoded { view, slot: None }, now, elapsed }
    }
}

/// One family of features.
pub trait FeatureFamily {
    /// Appends the family's column declarations, in the order `push` writes values.
    fn specs(&self, out: &mut Vec<FeatureSpec>);
    /// Updates the family's state with the record (if it has state) and appends its raw
    /// values: exactly as many as `specs` declares, NaN for missing.
    fn push(&mut self, input: &Input<'_, '_>, out: &mut Vec<f64>);
}

/// `c * log2(c)` for small counts, so entropy needs no logarithm per character.
static C_LOG2_C: LazyLock<[f64; 256]> = LazyLock::new(|| {
    let mut t = [0.0; 256];
    for (c, v) in t.iter_mut().enumerate().skip(1) {
        *v = c as f64 * (c as f64).log2();
    }
    t
});

/// Shannon entropy in bits per byte of `bytes` (0 when empty).
pub fn entropy(bytes: &[u8]) -> f64 {
    let mut counts = [0u16; 256];
    for &b in bytes {
        let c = &mut counts[usize::from(b)];
        *c = c.saturating_add(1);
    }
    entropy_of_counts(&counts, bytes.len())
}

/// [`entropy`] from the byte histogram of a text of `len` bytes.
pub fn entropy_of_counts(counts: &[u16; 256], len: usize) -> f64 {
    if len == 0 {
        return 0.0;
    }
    let table = &*C_LOG2_C;
    // H = log2(n) - (1/n) * sum(c * log2(c)).
    let sum: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            table.get(usize::from(c)).copied().unwrap_or_else(|| f64::from(c) * f64::from(c).log2())
        })
        .sum();
    let n = len as f64;
    (n.log2() - sum / n).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_bits() {
        assert_eq!(entropy(b""), 0.0);
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert!((entropy(b"abab") - 1.0).abs() < 1e-12);
        assert!((entropy(b"abcdefgh") - 3.0).abs() < 1e-12);
    }
}
