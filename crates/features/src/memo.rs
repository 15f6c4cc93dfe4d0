//! Remembering what was computed from a request's content.
//!
//! The lexical and parameter columns, and the path facts the client family keeps, are
//! a pure function of the request target and body (and the fitted model). Access logs
//! repeat the same targets endlessly (assets, the home page, API polls), so the stream
//! gives each recently seen content a slot: the first record with that content is
//! decoded and the families store their results in the slot; the next records with the
//! same content reuse them, with no decoding and no scanning. The outputs are exactly
//! those of computing afresh.
//!
//! The slots are bounded ([`MEMO_SLOTS`], each key at most [`MAX_MEMO_KEY`] bytes).
//! When they are all taken, a new content takes the slot the clock algorithm picks: a
//! hand sweeps the slots, a slot used since the hand last passed gets a second chance,
//! the first one that was not is reused. Popular contents so stay while one-off ones
//! come and go (on the simulated day of 1M requests with 23k distinct targets, 6.6% of
//! records are decoded, against 21% when the full table was simply cleared). At most
//! about 8 MB per stream: keys 8192 x 256 bytes, lexical, parameter and path results
//! 8192 x 340 bytes, the same columns scaled ([`crate::preprocess::RowScaler`]) 8192 x
//! 312 bytes, and the index. Keys are
//! compared in full, never trusted by hash alone: a request crafted to collide with a
//! common one is decoded like any other.

use std::hash::Hasher;

use anomalog_ingest::Record;

use crate::hash::{FastHasher, PreHashedMap};
use crate::request::RequestView;

/// Contents remembered at once.
pub const MEMO_SLOTS: usize = 8192;
/// Longer target and body together are not remembered (they are rare, and each would
/// hold its bytes for as long as it stays).
pub const MAX_MEMO_KEY: usize = 256;

/// A request's content (target and body) as the families see it.
#[derive(Clone, Copy)]
pub enum Content<'r> {
    /// Decoded for this record. When `slot` is set, the families store what they
    /// compute from it there, for the next records with the same content.
    Decoded {
        /// The decoded request.
        view: &'r RequestView,
        /// Where to remember the results.
        slot: Option<usize>,
    },
    /// The same content as the record that last filled `slot`: the families reuse
    /// what they stored then.
    Remembered {
        /// Where the results are.
        slot: usize,
    },
}

/// Per-slot results of one family.
#[derive(Debug, Default)]
pub struct Slots<T> {
    values: Vec<T>,
}

impl<T: Clone + Default> Slots<T> {
    /// Stores the results for `slot`.
    #[inline]
    pub fn put(&mut self, slot: usize, value: T) {
        if slot >= self.values.len() {
            self.values.resize(slot + 1, T::default());
        }
        self.values[slot] = value;
    }

    /// The results stored for `slot`. Every family stores for every slot the stream
    /// hands it, so this is `None` only for a slot never handed out.
    #[inline]
    pub fn get(&self, slot: usize) -> Option<&T> {
        self.values.get(slot)
    }

    /// Asks the CPU to start loading the results of `slot`, which the family reads a
    /// little later in the same record (see [`prefetch`]).
    #[inline]
    pub fn prefetch(&self, slot: usize) {
        if let Some(value) = self.values.get(slot) {
            prefetch(std::slice::from_ref(value));
        }
    }
}

/// Starts loading the cache lines of `values` without waiting for them: a hint, with
/// no effect on any value. The slots of a content are spread over several tables of
/// a few megabytes, so a remembered content mostly misses the cache, and the tables
/// are read one after the other while the row is computed.
#[inline]
pub fn prefetch<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = values.as_ptr().cast::<i8>();
        let bytes = std::mem::size_of_val(values);
        let mut offset = 0;
        while offset < bytes {
            // SAFETY: SSE is part of the x86_64 baseline, and a prefetch reads nothing
            // that the program sees (it never faults); the address is inside `values`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(offset)) };
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

/// The stored key of one slot. Its bytes, the target's followed by the body's, are
/// `ContentMemo::bytes[slot * MAX_MEMO_KEY..]`: their address follows from the slot,
/// so reading them does not wait for this entry.
#[derive(Debug, Default)]
struct Key {
    /// The hash the index knows the slot by.
    hash: u64,
    /// Used since the clock hand last passed.
    referenced: bool,
    has_target: bool,
    has_body: bool,
    target_len: u16,
    body_len: u16,
}

impl Key {
    /// Whether the key is `target` and `body`, whose bytes are `stored` when it is.
    #[inline]
    fn matches(&self, stored: &[u8], target: Option<&str>, body: Option<&str>) -> bool {
        let (t, b) = (target.unwrap_or(""), body.unwrap_or(""));
        self.has_target == target.is_some()
            && self.has_body == body.is_some()
            && usize::from(self.target_len) == t.len()
            && usize::from(self.body_len) == b.len()
            && stored.get(..t.len()) == Some(t.as_bytes())
            && stored.get(t.len()..t.len() + b.len()) == Some(b.as_bytes())
    }

    /// Makes the key `target` and `body` (at most [`MAX_MEMO_KEY`] bytes together),
    /// copying their bytes to `stored`.
    fn set(&mut self, stored: &mut [u8], target: Option<&str>, body: Option<&str>) {
        let (t, b) = (target.unwrap_or(""), body.unwrap_or(""));
        self.has_target = target.is_some();
        self.has_body = body.is_some();
        // Both fit: the memo takes no key longer than MAX_MEMO_KEY.
        self.target_len = t.len() as u16;
        self.body_len = b.len() as u16;
        stored[..t.len()].copy_from_slice(t.as_bytes());
        stored[t.len()..t.len() + b.len()].copy_from_slice(b.as_bytes());
    }
}

/// What [`ContentMemo::lookup`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Seen recently: the results are in this slot.
    Hit(usize),
    /// Not remembered: decode, and store the results in the slot when there is one.
    Miss(Option<usize>),
}

/// The slots of a stream: which content each holds.
#[derive(Debug, Default)]
pub struct ContentMemo {
    index: PreHashedMap<u32>,
    keys: Vec<Key>,
    /// [`MAX_MEMO_KEY`] bytes per slot (see [`Key`]).
    bytes: Vec<u8>,
    hand: usize,
    /// Remember nothing (to test that remembering changes no value).
    #[cfg(test)]
    pub(crate) off: bool,
}

impl ContentMemo {
    /// Finds the slot of a record's content, or assigns it one.
    pub fn lookup(&mut self, record: &Record<'_>) -> Lookup {
        let (target, body) = (record.target.as_deref(), record.body.as_deref());
        let (t, b) = (target.unwrap_or(""), body.unwrap_or(""));
        #[cfg(test)]
        if self.off {
            return Lookup::Miss(None);
        }
        if t.len() + b.len() > MAX_MEMO_KEY {
            return Lookup::Miss(None);
        }
        let mut h = FastHasher::default();
        h.write_u8(u8::from(target.is_some()) | u8::from(body.is_some()) << 1);
        h.write(t.as_bytes());
        h.write(b.as_bytes());
        let hash = h.finish();
        if let Some(&slot) = self.index.get(&hash) {
            let slot = slot as usize;
            let stored = &mut self.bytes[slot * MAX_MEMO_KEY..(slot + 1) * MAX_MEMO_KEY];
            let key = &mut self.keys[slot];
            if key.matches(stored, target, body) {
                key.referenced = true;
                return Lookup::Hit(slot);
            }
            // Another content with the same hash: it takes the slot over.
            key.set(stored, target, body);
            key.referenced = false;
            return Lookup::Miss(Some(slot));
        }
        let slot = if self.keys.len() < MEMO_SLOTS {
            self.keys.push(Key::default());
            self.bytes.resize(self.keys.len() * MAX_MEMO_KEY, 0);
            self.keys.len() - 1
        } else {
            // Ends within one sweep: every slot passed loses its second chance.
            while self.keys[self.hand].referenced {
                self.keys[self.hand].referenced = false;
                self.hand = (self.hand + 1) % MEMO_SLOTS;
            }
            let slot = self.hand;
            self.hand = (self.hand + 1) % MEMO_SLOTS;
            self.index.remove(&self.keys[slot].hash);
            slot
        };
        let key = &mut self.keys[slot];
        key.set(&mut self.bytes[slot * MAX_MEMO_KEY..(slot + 1) * MAX_MEMO_KEY], target, body);
        key.hash = hash;
        key.referenced = false;
        // Slots are below MEMO_SLOTS, which fits a u32.
        self.index.insert(hash, slot as u32);
        Lookup::Miss(Some(slot))
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn rec(target: Option<&str>, body: Option<&str>) -> Record<'static> {
        Record {
            target: target.map(|t| Cow::Owned(t.to_owned())),
            body: body.map(|b| Cow::Owned(b.to_owned())),
            ..Record::default()
        }
    }

    #[test]
    fn same_content_hits_and_anything_else_misses() {
        let mut m = ContentMemo::default();
        let a = m.lookup(&rec(Some("/a"), None));
        assert_eq!(a, Lookup::Miss(Some(0)));
        assert_eq!(m.lookup(&rec(Some("/a"), None)), Lookup::Hit(0));
        // The split between target and body, and absence, are part of the key.
        assert_eq!(m.lookup(&rec(Some("/"), Some("a"))), Lookup::Miss(Some(1)));
        assert_eq!(m.lookup(&rec(Some("/a"), Some(""))), Lookup::Miss(Some(2)));
        assert_eq!(m.lookup(&rec(None, Some("/a"))), Lookup::Miss(Some(3)));
        assert_eq!(m.lookup(&rec(None, None)), Lookup::Miss(Some(4)));
        assert_eq!(m.lookup(&rec(None, None)), Lookup::Hit(4));
        let long = "/x".repeat(MAX_MEMO_KEY);
        assert_eq!(m.lookup(&rec(Some(&long), None)), Lookup::Miss(None));
        assert_eq!(m.lookup(&rec(Some(&long), None)), Lookup::Miss(None));
    }

    #[test]
    fn slots_are_bounded() {
        let mut m = ContentMemo::default();
        for i in 0..3 * MEMO_SLOTS {
            match m.lookup(&rec(Some(&format!("/p/{i}")), None)) {
                Lookup::Miss(Some(slot)) => assert!(slot < MEMO_SLOTS),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(m.keys.len(), MEMO_SLOTS);
        assert_eq!(m.bytes.len(), MEMO_SLOTS * MAX_MEMO_KEY);
        assert_eq!(m.index.len(), MEMO_SLOTS);
        let last = format!("/p/{}", 3 * MEMO_SLOTS - 1);
        assert!(matches!(m.lookup(&rec(Some(&last), None)), Lookup::Hit(_)));
    }

    #[test]
    fn popular_contents_survive_a_flood_of_new_ones() {
        let mut m = ContentMemo::default();
        let home = rec(Some("/"), None);
        m.lookup(&home);
        for i in 0..10 * MEMO_SLOTS {
            m.lookup(&rec(Some(&format!("/p/{i}")), None));
            if i % 100 == 0 {
                assert!(matches!(m.lookup(&home), Lookup::Hit(_)), "{i}");
            }
        }
    }
}
