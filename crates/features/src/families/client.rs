//! Client behaviour over sliding windows: how fast a client sends, how often it fails
//! (4xx, 404, 401/403), how many different paths it touches, how regular its timing
//! is, whether it walks numbered pages in order (`client_sequential_ratio`) and how
//! long it has been busy without a pause (`client_streak_secs`). This is where
//! scanners, brute-forcers and scrapers show up.
//!
//! State is per client key (address, or address and user agent) in a table bounded in
//! both time and size: a client idle for `client_ttl_secs` is forgotten, and when
//! `max_clients` are tracked the least recently seen eighth is evicted. A returning
//! client is new again (`client_new` = 1), which is what an operator would expect after
//! a long silence.

use crate::config::{ClientKey, FeatureConfig};
use crate::families::basics::indicator;
use crate::families::{FeatureFamily, Input};
use crate::hash::{FastHasher, PreHashedMap, hash_bytes};
use crate::memo::{Content, Slots};
use crate::preprocess::{FeatureSpec, Transform};
use crate::request::RequestView;
use crate::window::{WindowTable, ratio};

/// Counters kept per window, in this order.
const N: usize = 0;
const STATUS_N: usize = 1;
const E4XX: usize = 2;
const E404: usize = 3;
const AUTH: usize = 4;
const POST: usize = 5;
const NEW_PATH: usize = 6;
const BYTES_N: usize = 7;
const BYTES_SUM: usize = 8;
const RT_N: usize = 9;
const RT_SUM: usize = 10;
const COUNTERS: usize = 11;

/// Bits of the per-client set of recently requested paths; it is cleared once a quarter
/// full, so that false "already seen" answers stay rare.
const PATH_BITS: u32 = 256;
const PATH_FILL_LIMIT: u16 = 64;

/// Weight of the newest gap in the inter-arrival averages.
const GAP_ALPHA: f32 = 0.1;

/// Weight of the newest request in the share of sequential requests.
const SEQUENCE_ALPHA: f32 = 0.1;
/// A step of the trailing number counts as sequential up to this size (a scraper
/// walking ids or pages may skip a few).
const MAX_SEQUENCE_STEP: u32 = 3;
/// A pause longer than this ends a client's streak of continuous activity. Log
/// timestamps are often whole seconds, so regularity below a second is invisible; a
/// long unbroken streak is not.
const STREAK_BREAK_SECS: f64 = 5.0;

/// The per-client scalars; window counters live in a parallel array.
#[derive(Debug, Clone, Copy)]
struct ClientState {
    key: u64,
    first_seen: f64,
    last_seen: f64,
    gap_mean: f32,
    gap_var: f32,
    requests: u32,
    paths_filled: u16,
    paths: [u64; 4],
    /// Hash of the previous request's path template (truncated; 0 before any).
    last_template: u32,
    /// The trailing number of the previous request's path (`/product/1711` -> 1711).
    last_number: Option<u32>,
    /// Decayed share of requests that continued a sequence (see [`is_sequential`]).
    sequential: f32,
    /// Start of the current streak without a pause, in seconds after `first_seen`.
    streak_start: f32,
}

/// The last run of digits in `path` (up to 9 of them), if the path ends with one
/// possibly followed by a non-digit suffix such as `.html` in the last segment.
fn trailing_number(path: &str) -> Option<u32> {
    let segment = path.rsplit('/').next().unwrap_or(path).as_bytes();
    let end = segment.iter().rposition(u8::is_ascii_digit)? + 1;
    let start = segment[..end].iter().rposition(|b| !b.is_ascii_digit()).map_or(0, |i| i + 1);
    let digits = &segment[start..end];
    if digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &d| Some(n * 10 + u32::from(d - b'0')))
}

/// Whether a request continues a walk through numbered objects: the same path template
/// as the client's previous request, with the trailing number a small step up.
fn is_sequential(prev: (u32, Option<u32>), template: u32, number: Option<u32>) -> bool {
    match (prev, number) {
        ((t, Some(a)), Some(b)) if t == template => b > a && b - a <= MAX_SEQUENCE_STEP,
        _ => false,
    }
}

/// What the family keeps of a request's path: a pure function of the content, so
/// remembered per content slot (see [`crate::memo`]).
#[derive(Debug, Clone, Copy)]
struct PathFacts {
    /// Hash of the path template (truncated).
    template: u32,
    /// The trailing number of the path.
    number: Option<u32>,
    /// The path's bit in the per-client set of recent paths.
    path_bit: usize,
}

impl PathFacts {
    fn of(view: &RequestView) -> PathFacts {
        PathFacts {
            template: hash_bytes(view.template.as_bytes()) as u32,
            number: trailing_number(&view.path),
            path_bit: (hash_bytes(view.path.as_bytes()) % u64::from(PATH_BITS)) as usize,
        }
    }
}

/// The table of tracked clients.
#[derive(Debug)]
pub struct ClientTable {
    index: PreHashedMap<u32>,
    states: Vec<ClientState>,
    /// `states.len() * windows.len() * COUNTERS` decayed counters.
    counters: Vec<f32>,
    windows: Vec<WindowTable>,
    max_clients: usize,
    ttl: f64,
    next_sweep: f64,
    victims: Vec<(f64, u64)>,
}

impl ClientTable {
    /// An empty table for the configured windows and bounds.
    pub fn new(config: &FeatureConfig) -> ClientTable {
        ClientTable {
            index: PreHashedMap::default(),
            states: Vec::new(),
            counters: Vec::new(),
            windows: config.windows_secs.iter().map(|&w| WindowTable::new(f64::from(w))).collect(),
            max_clients: config.max_clients,
            ttl: config.client_ttl_secs as f64,
            next_sweep: f64::NEG_INFINITY,
            victims: Vec::new(),
        }
    }

    /// Clients currently tracked.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether no client is tracked.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Approximate bytes of state per tracked client (scalars, counters, index entry).
    pub fn bytes_per_client(&self) -> usize {
        std::mem::size_of::<ClientState>()
            + self.windows.len() * COUNTERS * std::mem::size_of::<f32>()
            // Index entry: key, value and hashbrown's control byte at 7/8 load.
            + (std::mem::size_of::<(u64, u32)>() + 1) * 8 / 7
    }

    fn stride(&self) -> usize {
        self.windows.len() * COUNTERS
    }

    /// Finds or creates the client's slot; returns it and whether it is new.
    fn slot(&mut self, key: u64, now: f64) -> (usize, bool) {
        if let Some(&i) = self.index.get(&key) {
            return (i as usize, false);
        }
        if self.states.len() >= self.max_clients {
            self.sweep_expired(now);
        }
        if self.states.len() >= self.max_clients {
            self.evict_oldest();
        }
        let i = self.states.len();
        self.states.push(ClientState {
            key,
            first_seen: now,
            last_seen: now,
            gap_mean: 0.0,
            gap_var: 0.0,
            requests: 0,
            paths_filled: 0,
            paths: [0; 4],
            last_template: 0,
            last_number: None,
            sequential: 0.0,
            streak_start: 0.0,
        });
        let stride = self.stride();
        self.counters.resize(self.counters.len() + stride, 0.0);
        // The table never holds more than `max_clients` (a usize that fits here
        // because slots are u32; configurations past 4 billion clients are not sane).
        self.index.insert(key, i as u32);
        (i, true)
    }

    fn remove(&mut self, i: usize) {
        let stride = self.stride();
        let last = self.states.len() - 1;
        self.index.remove(&self.states[i].key);
        if i != last {
            self.states.swap(i, last);
            let (head, tail) = self.counters.split_at_mut(last * stride);
            head[i * stride..(i + 1) * stride].copy_from_slice(&tail[..stride]);
            self.index.insert(self.states[i].key, i as u32);
        }
        self.states.pop();
        self.counters.truncate(last * stride);
    }

    /// Forgets clients idle longer than the TTL.
    fn sweep_expired(&mut self, now: f64) {
        let cutoff = now - self.ttl;
        let mut i = 0;
        while i < self.states.len() {
            if self.states[i].last_seen < cutoff {
                self.remove(i);
            } else {
                i += 1;
            }
        }
        self.next_sweep = now + self.ttl / 4.0;
    }

    /// Evicts the least recently seen eighth of the table (at least one client), so
    /// that a flood of new clients costs amortized O(1) per client.
    fn evict_oldest(&mut self) {
        let k = (self.states.len() / 8).max(1);
        self.victims.clear();
        self.victims.extend(self.states.iter().map(|s| (s.last_seen, s.key)));
        // Ties broken by key so that eviction is deterministic.
        self.victims.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        self.victims.truncate(k);
        let victims = std::mem::take(&mut self.victims);
        for (_, key) in &victims {
            if let Some(&i) = self.index.get(key) {
                self.remove(i as usize);
            }
        }
        self.victims = victims;
    }
}

/// The client family.
pub struct Client {
    table: ClientTable,
    key_by: ClientKey,
    window_names: Vec<u32>,
    memo: Slots<Option<PathFacts>>,
}

impl Client {
    /// A family with empty state.
    pub fn new(config: &FeatureConfig) -> Client {
        Client {
            table: ClientTable::new(config),
            key_by: config.client_key,
            window_names: config.windows_secs.clone(),
            memo: Slots::default(),
        }
    }

    /// See [`Slots::prefetch`].
    pub fn prefetch(&self, slot: usize) {
        self.memo.prefetch(slot);
    }

    /// The client table (for inspection and tests).
    pub fn table(&self) -> &ClientTable {
        &self.table
    }
}

const PER_WINDOW: [(&str, Transform); 8] = [
    ("client_rate", Transform::Log1p),
    ("client_error_ratio", Transform::Identity),
    ("client_404_ratio", Transform::Identity),
    ("client_auth_fail_ratio", Transform::Identity),
    ("client_distinct_path_ratio", Transform::Identity),
    ("client_post_ratio", Transform::Identity),
    ("client_bytes_mean", Transform::Log1p),
    ("client_request_time_mean_ms", Transform::Log1p),
];
const OVERALL: [(&str, Transform); 6] = [
    ("client_new", Transform::Binary),
    ("client_age_secs", Transform::Log1p),
    ("client_interarrival_mean_secs", Transform::Log1p),
    ("client_interarrival_cv", Transform::Identity),
    ("client_sequential_ratio", Transform::Identity),
    ("client_streak_secs", Transform::Log1p),
];

impl FeatureFamily for Client {
    fn specs(&self, out: &mut Vec<FeatureSpec>) {
        for w in &self.window_names {
            for (name, t) in PER_WINDOW {
                out.push(FeatureSpec::new(format!("{name}_{w}s"), t));
            }
        }
        for (name, t) in OVERALL {
            out.push(FeatureSpec::new(name, t));
        }
    }

    fn push(&mut self, input: &Input<'_, '_>, out: &mut Vec<f64>) {
        let r = input.record;
        // Stored for every slot handed out, even for a record without a client, since
        // the next record with the same content may have one.
        let facts = match input.content {
            Content::Decoded { view, slot } => {
                let facts = view.has_target.then(|| PathFacts::of(view));
                if let Some(slot) = slot {
                    self.memo.put(slot, facts);
                }
                facts
            }
            Content::Remembered { slot } => self.memo.get(slot).copied().flatten(),
        };
        let Some(addr) = r.client.as_deref() else {
            out.extend(std::iter::repeat_n(
                f64::NAN,
                self.window_names.len() * PER_WINDOW.len() + OVERALL.len(),
            ));
            return;
        };
        let key = match self.key_by {
            ClientKey::Addr => hash_bytes(addr.as_bytes()),
            ClientKey::AddrUa => {
                use std::hash::Hasher;
                let mut h = FastHasher::default();
                h.write(addr.as_bytes());
                h.write(r.user_agent.as_deref().unwrap_or("").as_bytes());
                h.finish()
            }
        };
        let now = input.now;
        let t = &mut self.table;
        if now >= t.next_sweep {
            t.sweep_expired(now);
        }
        let (i, is_new) = t.slot(key, now);
        let stride = t.stride();
        let s = &mut t.states[i];

        // Inter-arrival statistics (time never goes back: the clock clamps).
        let gap = (now - s.last_seen).max(0.0);
        if s.requests >= 1 {
            let g = gap as f32;
            if s.requests == 1 {
                s.gap_mean = g;
            } else {
                let d = g - s.gap_mean;
                s.gap_mean += GAP_ALPHA * d;
                s.gap_var = (1.0 - GAP_ALPHA) * (s.gap_var + GAP_ALPHA * d * d);
            }
        }
        let dt = now - s.last_seen;
        if gap > STREAK_BREAK_SECS {
            s.streak_start = (now - s.first_seen) as f32;
        }
        s.last_seen = now;
        if let Some(f) = facts {
            let step = is_sequential((s.last_template, s.last_number), f.template, f.number);
            s.sequential += SEQUENCE_ALPHA * (f32::from(step) - s.sequential);
            (s.last_template, s.last_number) = (f.template, f.number);
        }
        s.requests = s.requests.saturating_add(1);

        let new_path = match facts {
            Some(f) => {
                let bit = f.path_bit;
                let (word, mask) = (bit / 64, 1u64 << (bit % 64));
                if s.paths[word] & mask == 0 {
                    if s.paths_filled >= PATH_FILL_LIMIT {
                        s.paths = [0; 4];
                        s.paths_filled = 0;
                    }
                    s.paths[word] |= mask;
                    s.paths_filled += 1;
                    1.0
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        let status = r.status;
        let mut add = [0.0f32; COUNTERS];
        add[N] = 1.0;
        if let Some(code) = status {
            add[STATUS_N] = 1.0;
            add[E4XX] = f32::from((400..500).contains(&code));
            add[E404] = f32::from(code == 404);
            add[AUTH] = f32::from(code == 401 || code == 403);
        }
        add[POST] = f32::from(r.method.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("POST")));
        add[NEW_PATH] = new_path;
        if let Some(b) = r.bytes {
            add[BYTES_N] = 1.0;
            add[BYTES_SUM] = b as f32;
        }
        if let Some(rt) = r.request_time.filter(|x| x.is_finite() && *x >= 0.0) {
            add[RT_N] = 1.0;
            add[RT_SUM] = (rt * 1000.0) as f32;
        }
        let age = now - s.first_seen;
        let (first_seen, requests, gap_mean, gap_var) =
            (s.first_seen, s.requests, s.gap_mean, s.gap_var);
        let (sequential, streak) = (s.sequential, age - f64::from(s.streak_start));
        let counters = &mut t.counters[i * stride..(i + 1) * stride];
        // Fixed-size arrays, so that the updates and divisions become vector
        // instructions.
        let (counters, _) = counters.as_chunks_mut::<COUNTERS>();
        for (w, c) in t.windows.iter().zip(counters) {
            let f = w.decay(dt) as f32;
            for k in 0..COUNTERS {
                c[k] = c[k] * f + add[k];
            }
            let g = |k: usize| f64::from(c[k]);
            // The span is never near 0, so the first column is a plain rate.
            let num =
                [g(N), g(E4XX), g(E404), g(AUTH), g(NEW_PATH), g(POST), g(BYTES_SUM), g(RT_SUM)];
            let den = [
                w.effective_span(age),
                g(STATUS_N),
                g(STATUS_N),
                g(STATUS_N),
                g(N),
                g(N),
                g(BYTES_N),
                g(RT_N),
            ];
            let mut row = [0.0; PER_WINDOW.len()];
            for ((y, n), d) in row.iter_mut().zip(num).zip(den) {
                *y = ratio(n, d);
            }
            out.extend_from_slice(&row);
        }
        out.extend_from_slice(&[
            indicator(is_new),
            now - first_seen,
            if requests >= 2 { f64::from(gap_mean) } else { f64::NAN },
            if requests >= 3 && gap_mean > 0.0 {
                f64::from(gap_var.max(0.0).sqrt() / gap_mean)
            } else {
                f64::NAN
            },
            f64::from(sequential),
            streak.max(0.0),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use anomalog_ingest::Record;

    use super::*;
    use crate::request::RequestView;

    fn rec(client: &str, path: &str, status: u16) -> Record<'static> {
        Record {
            client: Some(Cow::Owned(client.to_owned())),
            target: Some(Cow::Owned(path.to_owned())),
            method: Some(Cow::Borrowed("GET")),
            status: Some(status),
            ..Record::default()
        }
    }

    fn push(c: &mut Client, r: &Record<'_>, now: f64) -> Vec<f64> {
        let mut v = RequestView::default();
        v.load(r);
        let mut out = Vec::new();
        c.push(&Input::decoded(r, &v, now, now), &mut out);
        out
    }

    fn col(c: &Client, name: &str) -> usize {
        let mut specs = Vec::new();
        c.specs(&mut specs);
        specs.iter().position(|s| s.name == name).unwrap()
    }

    #[test]
    fn a_scanner_has_high_404_and_distinct_path_ratios() {
        let config = FeatureConfig::default();
        let mut c = Client::new(&config);
        let mut user = Vec::new();
        let mut scanner = Vec::new();
        for i in 0..300 {
            let t = f64::from(i);
            user = push(&mut c, &rec("10.0.0.1", ["/", "/shop", "/cart"][i as usize % 3], 200), t);
            scanner = push(&mut c, &rec("6.6.6.6", &format!("/probe{i}.php"), 404), t + 0.5);
        }
        for name in
            ["client_404_ratio_60s", "client_distinct_path_ratio_60s", "client_error_ratio_600s"]
        {
            let j = col(&c, name);
            assert!(scanner[j] > 0.8, "{name}: {}", scanner[j]);
            assert!(user[j] < 0.1, "{name}: {}", user[j]);
        }
        let rate = col(&c, "client_rate_10s");
        assert!((user[rate] - 1.0).abs() < 0.2, "{}", user[rate]);
        assert_eq!(user[col(&c, "client_new")], 0.0);
        // Perfectly regular timing: a coefficient of variation near zero.
        assert!(user[col(&c, "client_interarrival_cv")] < 0.05);
    }

    #[test]
    fn a_scraper_walks_ids_in_an_unbroken_streak() {
        let mut c = Client::new(&FeatureConfig::default());
        let (seq, streak) = (col(&c, "client_sequential_ratio"), col(&c, "client_streak_secs"));
        let mut scraper = Vec::new();
        let mut user = Vec::new();
        for i in 0..200u32 {
            // Whole-second timestamps, three requests a second.
            let t = f64::from(i / 3);
            scraper = push(&mut c, &rec("6.6.6.6", &format!("/product/{}", 1700 + i), 200), t);
            if i % 10 == 0 {
                // A shopper: a product, its image, a pause to read.
                let p = format!("/product/{}", i * 13 % 997);
                push(&mut c, &rec("10.0.0.2", &p, 200), t * 3.0);
                user = push(&mut c, &rec("10.0.0.2", &format!("/img/{}.jpg", i), 200), t * 3.0);
            }
        }
        assert!(scraper[seq] > 0.9, "{}", scraper[seq]);
        assert!(scraper[streak] > 60.0, "{}", scraper[streak]);
        assert!(user[seq] < 0.1, "{}", user[seq]);
        assert!(user[streak] < 1.0, "{}", user[streak]);
        assert_eq!(trailing_number("/product/1711"), Some(1711));
        assert_eq!(trailing_number("/page-12.html"), Some(12));
        assert_eq!(trailing_number("/a/b"), None);
        assert_eq!(trailing_number("/x/12345678901"), None);
    }

    #[test]
    fn brute_force_shows_auth_failures() {
        let mut c = Client::new(&FeatureConfig::default());
        let mut out = Vec::new();
        for i in 0..50 {
            out = push(&mut c, &rec("1.2.3.4", "/login", 401), f64::from(i) * 0.2);
        }
        assert!(out[col(&c, "client_auth_fail_ratio_10s")] > 0.99);
        assert!(out[col(&c, "client_rate_10s")] > 3.0);
    }

    #[test]
    fn missing_client_gives_missing_features() {
        let mut c = Client::new(&FeatureConfig::default());
        let out = push(&mut c, &Record::default(), 0.0);
        assert!(out.iter().all(|x| x.is_nan()));
        assert!(c.table().is_empty());
    }

    #[test]
    fn idle_clients_expire_and_return_new() {
        let config = FeatureConfig { client_ttl_secs: 100, ..Default::default() };
        let mut c = Client::new(&config);
        let new = col(&c, "client_new");
        assert_eq!(push(&mut c, &rec("a", "/", 200), 0.0)[new], 1.0);
        assert_eq!(push(&mut c, &rec("a", "/", 200), 50.0)[new], 0.0);
        for i in 0..10 {
            push(&mut c, &rec("b", "/", 200), 100.0 + f64::from(i) * 30.0);
        }
        assert_eq!(c.table().len(), 1, "a expired");
        assert_eq!(push(&mut c, &rec("a", "/", 200), 400.0)[new], 1.0);
    }

    #[test]
    fn a_million_distinct_clients_stay_within_capacity() {
        let config = FeatureConfig { max_clients: 10_000, ..Default::default() };
        let mut c = Client::new(&config);
        let mut r = rec("", "/", 200);
        let mut v = RequestView::default();
        v.load(&r);
        let mut out = Vec::new();
        let mut max_len = 0;
        for i in 0..1_000_000u32 {
            r.client = Some(Cow::Owned(format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)));
            out.clear();
            // All within one second: TTL expiry cannot help, only the capacity bound.
            c.push(&Input::decoded(&r, &v, f64::from(i) * 1e-6, 0.0), &mut out);
            max_len = max_len.max(c.table().len());
        }
        assert!(max_len <= 10_000, "{max_len}");
        assert!(c.table().len() > 8_000);
        assert_eq!(c.table().counters.len(), c.table().len() * c.table().stride());
        assert!(c.table().bytes_per_client() < 256, "{}", c.table().bytes_per_client());
        // The most recent client survived eviction.
        let last = hash_bytes(b"10.15.66.63");
        assert!(c.table().index.contains_key(&last));
    }
}
