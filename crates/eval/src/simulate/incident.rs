//! A site-wide incident: for several minutes the backend fails, so part of all traffic gets
//! 502/503/504 and much of the rest is slow. Affected requests are relabeled `incident`.

use rand::Rng;

use super::Category;
use super::dist::{SimRng, chance, lognormal};
use super::event::Event;

/// The longest an incident lasts, however few lines that affects.
const MAX_WINDOW_MS: i64 = 45 * 60_000;
/// The window the affected share is sized for.
const TARGET_WINDOW_MS: i64 = 5 * 60_000;

/// Degrades up to `budget` normal requests of time-sorted `events` in one window that
/// starts in the busy part of the simulated range. Returns how many were affected.
pub(crate) fn apply(
    rng: &mut SimRng,
    events: &mut [Event],
    budget: usize,
    start_ms: i64,
    end_ms: i64,
) -> usize {
    if budget == 0 || events.is_empty() {
        return 0;
    }
    let span = (end_ms - start_ms) as f64;
    let t0 = start_ms + (span * rng.random_range(0.1..0.6)) as i64;
    let first = events.partition_point(|e| e.ts_ms < t0);
    let nearby = events[first..]
        .iter()
        .take_while(|e| e.ts_ms < t0 + TARGET_WINDOW_MS)
        .filter(|e| e.label.is_none())
        .count();
    // Affect enough of the traffic to spend the budget in about five minutes, within
    // bounds that keep it an incident rather than an outage or noise.
    let share = if nearby == 0 { 0.8 } else { (budget as f64 / nearby as f64).clamp(0.15, 0.8) };
    let mut affected = 0;
    for event in &mut events[first..] {
        if affected >= budget || event.ts_ms >= t0 + MAX_WINDOW_MS {
            break;
        }
        if event.label.is_some() || !chance(rng, share) {
            continue;
        }
        degrade(rng, event);
        affected += 1;
    }
    affected
}

fn degrade(rng: &mut SimRng, event: &mut Event) {
    event.label = Some(Category::Incident);
    if chance(rng, 0.5) {
        let (status, bytes, rt) = match rng.random_range(0..10) {
            0..=3 => (502, 157, lognormal(rng, 0.6, 1.0)),
            4..=6 => (503, 197, lognormal(rng, 0.002, 0.5)),
            // The upstream timeout.
            _ => (504, 167, 60.0 + rng.random_range(0.0..0.02)),
        };
        event.status = status;
        event.bytes = bytes;
        event.request_time = rt;
    } else {
        let slow = event.request_time * lognormal(rng, 20.0, 0.5) + lognormal(rng, 1.5, 0.5);
        // At least half a second: a surge an operator would call one.
        event.request_time = slow.clamp(0.5, 59.9);
    }
}
