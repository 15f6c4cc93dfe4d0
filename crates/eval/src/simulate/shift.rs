//! A shift of normal behavior: from some point of the simulated range on, a new section
//! of the site (a magazine of stories, promoted by a campaign) becomes popular. Its
//! pages and media are paths the shop never served before, heavier and slower than a
//! product page, reached from social networks with campaign parameters. Traffic like
//! this is legitimate, and a model trained before the shift has never seen it: the
//! case that drift monitoring and retraining exist for.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::browse::Requester;
use super::catalog::{CORE_ASSETS, is_mobile, stable_hash};
use super::clients::Client;
use super::dist::{SimRng, chance, geometric, lognormal, pick};
use super::event::ORIGIN;
use super::sink::Sink;

/// From `start_fraction` of the simulated range on, `share` of the browsing sessions
/// are visits to the new section.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shift {
    /// Where the shift starts, as a fraction of the simulated range (0 = from the
    /// start, 0.5 = halfway).
    pub start_fraction: f64,
    /// Share of the browsing sessions starting after that point that visit the new
    /// section, in [0, 1].
    pub share: f64,
}

impl Default for Shift {
    fn default() -> Self {
        Shift { start_fraction: 0.5, share: 0.3 }
    }
}

impl Shift {
    /// Whether the settings make sense.
    pub(crate) fn valid(&self) -> bool {
        (0.0..=1.0).contains(&self.start_fraction) && (0.0..=1.0).contains(&self.share)
    }

    /// The millisecond timestamp from which the shift applies.
    pub(crate) fn start_ms(&self, start_ms: i64, end_ms: i64) -> i64 {
        start_ms + ((end_ms - start_ms) as f64 * self.start_fraction) as i64
    }
}

/// Stories of the magazine; ids index into it.
const STORIES: u32 = 60;
const TOPICS: &[&str] = &["spring-looks", "behind-the-seams", "trail-diaries", "studio-visit"];
const CAMPAIGN_REFERERS: &[&str] =
    &["https://www.instagram.com/", "https://www.tiktok.com/", "https://www.pinterest.com/"];

/// One visit to the new section: a landing story (often with campaign parameters),
/// then a few more stories, each with its hero image and sometimes a video segment.
pub(crate) fn section_session(rng: &mut SimRng, client: &Client, start_ms: i64, sink: &mut Sink) {
    let req = Requester { client };
    let mobile = is_mobile(client.user_agent);
    let mut t = start_ms;
    let mut referer = (*pick(rng, CAMPAIGN_REFERERS)).to_owned();
    let stories = 1 + geometric(rng, 2.5).min(12);
    for k in 0..stories {
        let id = rng.random_range(1..=STORIES);
        let topic = TOPICS[(stable_hash(u64::from(id)) % TOPICS.len() as u64) as usize];
        let mut target = format!("/stories/{topic}/{id}");
        if k == 0 && chance(rng, 0.6) {
            let source = referer.trim_start_matches("https://www.").trim_end_matches(".com/");
            target.push_str(&format!("?utm_source={source}&utm_campaign=spring-2026"));
        }
        let size = 52_000 + stable_hash(u64::from(id) * 31) % 20_000;
        let rt = lognormal(rng, 0.16, 0.4);
        if !sink.push(req.event(t, "GET", target.clone(), 200, size, &referer, rt)) {
            return;
        }
        let here = format!("{ORIGIN}{}", target.split('?').next().unwrap_or(&target));
        let mut at = t + (rt * 1000.0) as i64;
        if k == 0 {
            for (path, size) in CORE_ASSETS {
                at += rng.random_range(5..120);
                let (status, bytes) = if chance(rng, 0.25) { (304, 0) } else { (200, *size) };
                let rt = if status == 304 { 0.0 } else { lognormal(rng, 0.001, 0.8) };
                if !sink.push(req.event(at, "GET", (*path).to_owned(), status, bytes, &here, rt)) {
                    return;
                }
            }
        }
        let width = if mobile { 720 } else { 1600 };
        at += rng.random_range(5..80);
        let hero = format!("/media/stories/{id}-hero_{width}.webp");
        let bytes = 90_000 + stable_hash(u64::from(id) * 7 + width) % 200_000;
        if !sink.push(req.event(at, "GET", hero, 200, bytes, &here, lognormal(rng, 0.004, 0.8))) {
            return;
        }
        if chance(rng, 0.35) {
            at += rng.random_range(200..2_000);
            let video = format!("/media/stories/{id}.mp4");
            let bytes = rng.random_range(400_000..2_000_000);
            let rt = lognormal(rng, 0.3, 0.6);
            if !sink.push(req.event(at, "GET", video, 206, bytes, &here, rt)) {
                return;
            }
        }
        t += (lognormal(rng, 40_000.0, 0.8) as i64).clamp(3_000, 900_000);
        referer = here;
    }
}
