//! Deterministic synthetic traffic for a small web shop, with labeled attacks and an
//! incident, written in the combined log format plus a trailing request time (nginx
//! `$request_time`) and a labels file with one line per log line.
//!
//! Normal traffic comes from a population of browsers with heavy-tailed (Pareto) activity,
//! following a diurnal rhythm, plus search-engine crawlers, API integrations, scripts and
//! an uptime monitor. Attacks are campaigns of the categories in [`Category`]. Everything
//! random draws from one ChaCha8 generator seeded with [`SimConfig::seed`], so the same
//! configuration produces byte-identical output.

mod attacks;
mod bots;
mod browse;
mod catalog;
mod clients;
mod dist;
mod event;
mod incident;
mod payloads;
mod shift;
mod sink;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufWriter, Write};
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use browse::Shop;
use clients::{ClientKind, Population};
use dist::{SimRng, diurnal_rate};
use event::{Event, TimeCache};
use sink::Sink;

pub use shift::Shift;

/// A kind of labeled anomaly; its name is what the labels file says after `1 `.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// SQL injection payloads in query strings and paths.
    Sqli,
    /// Cross-site scripting payloads, encoded and raw.
    Xss,
    /// Path traversal towards system files.
    Traversal,
    /// Shell command injection.
    Cmdi,
    /// A vulnerability scanner probing admin and config paths.
    Scan,
    /// Password guessing: many login POSTs from one client.
    Bruteforce,
    /// One client at a very high request rate for a few minutes.
    Flood,
    /// Few login attempts each from many clients.
    CredentialStuffing,
    /// Sequential, regular crawling of product pages.
    Scraping,
    /// A site-wide window of 5xx errors and slow responses.
    Incident,
}

impl Category {
    /// Every category, in the order of the labels documentation.
    pub const ALL: [Category; 10] = [
        Category::Sqli,
        Category::Xss,
        Category::Traversal,
        Category::Cmdi,
        Category::Scan,
        Category::Bruteforce,
        Category::Flood,
        Category::CredentialStuffing,
        Category::Scraping,
        Category::Incident,
    ];

    /// The name used in labels files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Sqli => "sqli",
            Category::Xss => "xss",
            Category::Traversal => "traversal",
            Category::Cmdi => "cmdi",
            Category::Scan => "scan",
            Category::Bruteforce => "bruteforce",
            Category::Flood => "flood",
            Category::CredentialStuffing => "credential_stuffing",
            Category::Scraping => "scraping",
            Category::Incident => "incident",
        }
    }

    /// Relative share of the anomalous lines; chosen so that every category appears even
    /// in a 20,000-line simulation at the default attack fraction.
    fn weight(self) -> f64 {
        match self {
            Category::Sqli => 10.0,
            Category::Xss => 8.0,
            Category::Traversal => 7.0,
            Category::Cmdi => 5.0,
            Category::Scan => 15.0,
            Category::Bruteforce => 12.0,
            Category::Flood => 13.0,
            Category::CredentialStuffing => 8.0,
            Category::Scraping => 10.0,
            Category::Incident => 12.0,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A category name that is not one of [`Category::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown category {0:?}; expected one of sqli, xss, traversal, cmdi, scan, bruteforce, flood, credential_stuffing, scraping, incident"
)]
pub struct UnknownCategory(pub String);

impl FromStr for Category {
    type Err = UnknownCategory;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCategory(s.to_owned()))
    }
}

/// 2026-03-02T00:00:00Z, a Monday.
pub const DEFAULT_START: i64 = 1_772_409_600;

/// What to simulate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// Exact number of log lines to write.
    pub lines: usize,
    /// Seed of the random generator; same seed and settings, same bytes.
    pub seed: u64,
    /// Start of the simulated range, unix seconds (UTC; lines use the `+0000` zone).
    pub start: i64,
    /// Length of the simulated range in seconds.
    pub duration_secs: u64,
    /// Share of lines that are labeled anomalous, in [0, 1].
    pub attack_fraction: f64,
    /// Categories to generate; the anomalous share is split among these.
    pub categories: Vec<Category>,
    /// A shift of normal behavior (a new section of the site becoming popular) from
    /// some point on; none by default.
    pub shift: Option<Shift>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            lines: 100_000,
            seed: 42,
            start: DEFAULT_START,
            duration_secs: 86_400,
            attack_fraction: 0.025,
            categories: Category::ALL.to_vec(),
            shift: None,
        }
    }
}

/// A [`SimConfig`] that cannot be simulated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimConfigError {
    /// `attack_fraction` outside [0, 1] or not a number.
    #[error("attack fraction must be between 0 and 1, got {0}")]
    AttackFraction(f64),
    /// `duration_secs` is zero or too large for millisecond timestamps.
    #[error("duration must be between 1 second and 100 years, got {0} s")]
    Duration(u64),
    /// A shift starting outside the range or with a share outside [0, 1].
    #[error("shift start and share must be between 0 and 1, got {start_fraction} and {share}")]
    Shift {
        /// The start given.
        start_fraction: f64,
        /// The share given.
        share: f64,
    },
}

impl SimConfig {
    /// Checks the settings; [`simulate`] calls it first.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if !(0.0..=1.0).contains(&self.attack_fraction) {
            return Err(SimConfigError::AttackFraction(self.attack_fraction));
        }
        if self.duration_secs == 0 || self.duration_secs > 100 * 366 * 86_400 {
            return Err(SimConfigError::Duration(self.duration_secs));
        }
        if let Some(shift) = self.shift.filter(|s| !s.valid()) {
            return Err(SimConfigError::Shift {
                start_fraction: shift.start_fraction,
                share: shift.share,
            });
        }
        Ok(())
    }

    /// Lines per category: the anomalous total split by weight with largest remainders,
    /// giving every enabled category at least one line when the total allows it.
    fn budgets(&self) -> Vec<(Category, usize)> {
        let mut enabled: Vec<Category> =
            Category::ALL.into_iter().filter(|c| self.categories.contains(c)).collect();
        enabled.dedup();
        let total = (self.lines as f64 * self.attack_fraction).round() as usize;
        if enabled.is_empty() || total == 0 {
            return Vec::new();
        }
        let weight_sum: f64 = enabled.iter().map(|c| c.weight()).sum();
        let exact: Vec<f64> =
            enabled.iter().map(|c| total as f64 * c.weight() / weight_sum).collect();
        let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
        let mut order: Vec<usize> = (0..enabled.len()).collect();
        order.sort_by(|&a, &b| {
            (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor()))
        });
        let mut left = total - counts.iter().sum::<usize>();
        for &i in order.iter().cycle() {
            if left == 0 {
                break;
            }
            counts[i] += 1;
            left -= 1;
        }
        if total >= enabled.len() {
            while let Some(zero) = counts.iter().position(|&c| c == 0) {
                let (largest, _) =
                    counts.iter().enumerate().max_by_key(|(_, c)| **c).unwrap_or((0, &0));
                counts[largest] -= 1;
                counts[zero] += 1;
            }
        }
        enabled.into_iter().zip(counts).collect()
    }
}

/// What a simulation wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimSummary {
    /// Lines written (always `SimConfig::lines`).
    pub lines: u64,
    /// Lines labeled `0`.
    pub normal: u64,
    /// Lines labeled `1`.
    pub anomalous: u64,
    /// Anomalous lines per category; every enabled category is present, possibly with 0.
    pub per_category: BTreeMap<Category, u64>,
    /// Timestamp of the first line, unix seconds.
    pub first_ts: Option<i64>,
    /// Timestamp of the last line, unix seconds.
    pub last_ts: Option<i64>,
}

/// Writes `config.lines` log lines to `log` and as many label lines to `labels`, in
/// timestamp order. Fails with `InvalidInput` for an invalid configuration, and with the
/// writers' errors.
pub fn simulate(
    config: &SimConfig,
    log: &mut impl Write,
    labels: &mut impl Write,
) -> io::Result<SimSummary> {
    config.validate().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut rng = SimRng::seed_from_u64(config.seed);
    let start_ms = config.start.saturating_mul(1000);
    let end_ms = start_ms.saturating_add(config.duration_secs as i64 * 1000);
    let budgets = config.budgets();
    let incident_budget =
        budgets.iter().find(|(c, _)| *c == Category::Incident).map_or(0, |(_, n)| *n);
    let attack_lines: usize = budgets.iter().map(|(_, n)| n).sum::<usize>() - incident_budget;

    let shop = Shop::new();
    let mut normal = Sink::new(config.lines - attack_lines, end_ms);
    normal_traffic(&mut rng, &shop, config, start_ms, end_ms, &mut normal);
    let mut events = normal.events;

    // The time by which half of the traffic has been seen. Every category gets campaigns
    // on both sides of it, so that a log cut in two by record count (train on the first
    // half, test on the second) has every kind of attack in each part.
    let mid_ms = median_ts(&events).unwrap_or((start_ms + end_ms) / 2).clamp(start_ms, end_ms - 1);
    for &(category, budget) in budgets.iter().filter(|(c, _)| *c != Category::Incident) {
        let first_half = budget / 2;
        for (from, to, share) in
            [(start_ms, mid_ms, first_half), (mid_ms, end_ms, budget - first_half)]
        {
            let mut sink = Sink::new(share, end_ms);
            let mut idle_rounds = 0;
            while sink.remaining() > 0 && idle_rounds < 1_000 {
                let before = sink.remaining();
                let at = rng.random_range(from..to.max(from + 1));
                attacks::campaign(&mut rng, &shop, category, at, &mut sink);
                idle_rounds = if sink.remaining() == before { idle_rounds + 1 } else { 0 };
            }
            events.extend(sink.events);
        }
    }
    // Stable, so each client's requests within one millisecond keep their order.
    events.sort_by_key(|e| e.ts_ms);
    // The site incident falls in the second half: training data should be mostly normal,
    // and an outage is rare enough that a day has at most one.
    incident::apply(&mut rng, &mut events, incident_budget, mid_ms, end_ms);

    let mut summary = SimSummary {
        per_category: budgets.iter().map(|(c, _)| (*c, 0)).collect(),
        first_ts: events.first().map(|e| e.ts_ms.div_euclid(1000)),
        last_ts: events.last().map(|e| e.ts_ms.div_euclid(1000)),
        ..SimSummary::default()
    };
    let mut log = BufWriter::new(log);
    let mut labels = BufWriter::new(labels);
    let mut time = TimeCache::default();
    for event in &events {
        event.write(&mut time, &mut log, &mut labels)?;
        summary.lines += 1;
        match event.label {
            None => summary.normal += 1,
            Some(c) => {
                summary.anomalous += 1;
                *summary.per_category.entry(c).or_insert(0) += 1;
            }
        }
    }
    log.flush()?;
    labels.flush()?;
    Ok(summary)
}

/// The median timestamp of `events` (in any order).
fn median_ts(events: &[Event]) -> Option<i64> {
    let mut ts: Vec<i64> = events.iter().map(|e| e.ts_ms).collect();
    if ts.is_empty() {
        return None;
    }
    let mid = ts.len() / 2;
    Some(*ts.select_nth_unstable(mid).1)
}

/// Fills `sink` with legitimate sessions: the uptime monitor first (1% of lines), then
/// sessions of randomly chosen clients until the budget is spent; with a shift, part of
/// the browsing after its start visits the new section.
fn normal_traffic(
    rng: &mut SimRng,
    shop: &Shop,
    config: &SimConfig,
    start_ms: i64,
    end_ms: i64,
    sink: &mut Sink,
) {
    bots::monitor(rng, sink.remaining() / 100, start_ms, end_ms, sink);
    let population = Population::new(rng, config.lines);
    let shift = config.shift.map(|s| (s.start_ms(start_ms, end_ms), s.share));
    let peak = (0..240).map(|i| diurnal_rate(f64::from(i) / 10.0)).fold(0.0, f64::max);
    while sink.remaining() > 0 {
        let client = population.choose(rng);
        let at = match client.kind {
            ClientKind::Browser => diurnal_time(rng, start_ms, end_ms, peak),
            _ => rng.random_range(start_ms..end_ms),
        };
        match client.kind {
            // The draw only happens with a shift, so traffic without one is unchanged.
            ClientKind::Browser
                if shift.is_some_and(|(from, share)| at >= from && dist::chance(rng, share)) =>
            {
                shift::section_session(rng, client, at, sink)
            }
            ClientKind::Browser => browse::browser_session(rng, shop, client, at, sink),
            ClientKind::Crawler => bots::crawler_session(rng, client, at, sink),
            ClientKind::ApiClient => bots::api_session(rng, client, at, sink),
            ClientKind::AdHoc => bots::adhoc_request(rng, client, at, sink),
        }
    }
}

/// A session start following the diurnal rhythm (rejection sampling against the peak).
fn diurnal_time(rng: &mut SimRng, start_ms: i64, end_ms: i64, peak: f64) -> i64 {
    let mut at = start_ms;
    for _ in 0..1_000 {
        at = rng.random_range(start_ms..end_ms);
        let hour = at.div_euclid(1000).rem_euclid(86_400) as f64 / 3600.0;
        if rng.random::<f64>() * peak <= diurnal_rate(hour) {
            break;
        }
    }
    at
}

#[cfg(test)]
mod tests;
