//! Legitimate automated traffic: search-engine crawlers, API integrations, one-off scripts
//! and an uptime monitor. Detectors must not mistake these for attacks.

use std::net::{IpAddr, Ipv4Addr};

use rand::Rng;

use super::browse::Requester;
use super::catalog::{CATEGORIES, PRODUCT_IDS, UPTIME_MONITOR, product_exists, stable_hash};
use super::clients::{Client, ClientKind};
use super::dist::{SimRng, chance, exponential, lognormal, pick};
use super::event::Event;
use super::sink::Sink;

/// A crawler visit: maybe robots.txt and the sitemap, then pages at a steady pace.
pub(crate) fn crawler_session(rng: &mut SimRng, client: &Client, start_ms: i64, sink: &mut Sink) {
    let req = Requester { client };
    let mut t = start_ms;
    if chance(rng, 0.3) {
        for (path, bytes) in [("/robots.txt", 412), ("/sitemap.xml", 182_530)] {
            if !sink.push(req.event(t, "GET", path.to_owned(), 200, bytes, "", 0.002)) {
                return;
            }
            t += rng.random_range(800..4_000);
        }
    }
    for _ in 0..rng.random_range(5..40) {
        let (target, base) = if chance(rng, 0.8) {
            // Crawlers follow the sitemap, so they reach every product, popular or not.
            let id = rng.random_range(1..=PRODUCT_IDS);
            (
                format!("/product/{id}"),
                if product_exists(id) { 19_000 + stable_hash(u64::from(id)) % 9_000 } else { 0 },
            )
        } else {
            let c = pick(rng, CATEGORIES);
            (format!("/category/{c}?page={}", rng.random_range(1..12)), 28_000)
        };
        let (status, bytes, rt) = if base == 0 {
            (404, 3_652, lognormal(rng, 0.02, 0.4))
        } else if chance(rng, 0.1) {
            (304, 0, lognormal(rng, 0.03, 0.4))
        } else {
            (200, base, lognormal(rng, 0.06, 0.45))
        };
        if !sink.push(req.event(t, "GET", target, status, bytes, "", rt)) {
            return;
        }
        t += exponential(rng, 4_000.0) as i64 + 300;
    }
}

/// A partner integration syncing the catalog through the JSON API, page by page.
pub(crate) fn api_session(rng: &mut SimRng, client: &Client, start_ms: i64, sink: &mut Sink) {
    let req = Requester { client };
    let mut t = start_ms;
    let per_page = *pick(rng, &[50u32, 100]);
    for page in 1..=rng.random_range(2..10) {
        let target = format!("/api/v1/products?page={page}&per_page={per_page}");
        let rt = lognormal(rng, 0.09, 0.35);
        let bytes = u64::from(per_page) * 820 + rng.random_range(0..4_000);
        if !sink.push(req.event(t, "GET", target, 200, bytes, "", rt)) {
            return;
        }
        t += (rt * 1000.0) as i64 + lognormal(rng, 1_500.0, 0.5) as i64;
    }
}

/// A developer or a cron job fetching a single URL.
pub(crate) fn adhoc_request(rng: &mut SimRng, client: &Client, start_ms: i64, sink: &mut Sink) {
    let req = Requester { client };
    let (path, status, bytes) = *pick(
        rng,
        &[
            ("/", 200, 36_500),
            ("/api/v1/health", 200, 15),
            ("/robots.txt", 200, 412),
            ("/api/v1/products?page=1&per_page=20", 200, 16_800),
            ("/sitemap.xml", 200, 182_530),
        ],
    );
    let rt = lognormal(rng, 0.03, 0.5);
    sink.push(req.event(start_ms, "GET", path.to_owned(), status, bytes, "", rt));
}

/// An uptime monitor polling the home page at a fixed interval all day: perfectly regular
/// and legitimate, a useful negative for rate- and regularity-based features.
pub(crate) fn monitor(rng: &mut SimRng, lines: usize, start_ms: i64, end_ms: i64, sink: &mut Sink) {
    if lines == 0 {
        return;
    }
    let client = Client {
        ip: IpAddr::V4(Ipv4Addr::new(216, 144, 250, 150)),
        user_agent: UPTIME_MONITOR,
        kind: ClientKind::AdHoc,
        protocol: "HTTP/1.1",
    };
    let req = Requester { client: &client };
    let interval = ((end_ms - start_ms) / lines as i64).max(1_000);
    let mut t = start_ms + rng.random_range(0..interval);
    while t < end_ms {
        let rt = lognormal(rng, 0.04, 0.3);
        let event: Event = req.event(t, "HEAD", "/".to_owned(), 200, 0, "", rt);
        if !sink.push(event) {
            return;
        }
        t += interval + rng.random_range(-150..150);
    }
}
