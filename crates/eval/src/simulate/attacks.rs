//! Labeled attack campaigns. Each campaign is one attacker (or one botnet) doing one thing;
//! campaigns repeat until the category's share of lines is spent.

use std::net::IpAddr;

use rand::Rng;

use super::Category;
use super::browse::Shop;
use super::catalog::{BROWSER_UAS, CATEGORIES, PRODUCT_IDS, product_exists, stable_hash};
use super::dist::{SimRng, chance, exponential, lognormal, pick};
use super::event::{Event, ORIGIN, random_ip};
use super::payloads::{
    ATTACK_TOOL_UAS, CMDI, LOGIN_ATTACK_UAS, SCAN_PATHS, SCANNER_UAS, SCRAPER_UAS, SQLI, TRAVERSAL,
    XSS, is_time_based,
};
use super::sink::Sink;

/// One attacking client.
struct Attacker {
    ip: IpAddr,
    user_agent: &'static str,
    protocol: &'static str,
    category: Category,
}

impl Attacker {
    fn new(rng: &mut SimRng, category: Category, user_agent: &'static str) -> Self {
        let protocol = if user_agent.starts_with("Mozilla/5.0 (") && chance(rng, 0.5) {
            "HTTP/2.0"
        } else {
            "HTTP/1.1"
        };
        Attacker { ip: random_ip(rng, 0.1), user_agent, protocol, category }
    }

    #[allow(clippy::too_many_arguments)] // mirrors the fields of one log line
    fn event(
        &self,
        ts_ms: i64,
        method: &'static str,
        target: String,
        status: u16,
        bytes: u64,
        referer: &str,
        request_time: f64,
    ) -> Event {
        Event {
            ts_ms,
            ip: self.ip,
            method,
            target,
            protocol: self.protocol,
            status,
            bytes,
            referer: referer.to_owned(),
            user_agent: self.user_agent,
            request_time,
            label: Some(self.category),
        }
    }
}

/// Runs one campaign of `category` starting at `start_ms`.
pub(crate) fn campaign(
    rng: &mut SimRng,
    shop: &Shop,
    category: Category,
    start_ms: i64,
    sink: &mut Sink,
) {
    match category {
        Category::Sqli | Category::Xss | Category::Traversal | Category::Cmdi => {
            injection(rng, shop, category, start_ms, sink)
        }
        Category::Scan => scan(rng, start_ms, sink),
        Category::Bruteforce => bruteforce(rng, start_ms, sink),
        Category::Flood => flood(rng, shop, start_ms, sink),
        Category::CredentialStuffing => credential_stuffing(rng, start_ms, sink),
        Category::Scraping => scraping(rng, start_ms, sink),
        // Incidents are not requests of their own; they degrade normal traffic afterwards.
        Category::Incident => {}
    }
}

/// Sizes of the error pages the shop returns.
fn error_bytes(status: u16) -> u64 {
    match status {
        400 => 1_102,
        401 => 96,
        403 => 548,
        404 => 3_652,
        429 => 162,
        500 => 2_310,
        _ => 157,
    }
}

/// Where an injection payload goes for each category.
fn injection_target(rng: &mut SimRng, shop: &Shop, category: Category) -> (String, &'static str) {
    let id = shop.popular_product(rng);
    let c = pick(rng, CATEGORIES);
    match category {
        Category::Sqli => {
            let p = *pick(rng, SQLI);
            let t = match rng.random_range(0..5) {
                0 => format!("/search?q={p}"),
                1 => format!("/product/{id}?variant={p}"),
                2 => format!("/category/{c}?sort={p}"),
                3 => format!("/api/v1/products?id={p}"),
                _ => format!("/product/{id}{p}"),
            };
            (t, p)
        }
        Category::Xss => {
            let p = *pick(rng, XSS);
            let t = match rng.random_range(0..4) {
                0 | 1 => format!("/search?q={p}"),
                2 => format!("/login?next={p}"),
                _ => format!("/category/{c}?sort=popular&q={p}"),
            };
            (t, p)
        }
        Category::Traversal => {
            let p = *pick(rng, TRAVERSAL);
            (p.to_owned(), p)
        }
        _ => {
            let p = *pick(rng, CMDI);
            let t = match rng.random_range(0..4) {
                0 => format!("/api/v1/ping?host=8.8.8.8{p}"),
                1 => format!("/search?q=shoes{p}"),
                2 => format!("/download?file=invoice-{}.pdf{p}", 1000 + id),
                _ => format!("/cgi-bin/status.sh?cmd={p}"),
            };
            (t, p)
        }
    }
}

/// SQL injection, XSS, path traversal or command injection probing: a tool firing payloads
/// quickly, or a person in a normal browser trying a few by hand.
fn injection(rng: &mut SimRng, shop: &Shop, category: Category, start_ms: i64, sink: &mut Sink) {
    let tool = chance(rng, 0.45);
    let ua = if tool { *pick(rng, ATTACK_TOOL_UAS) } else { *pick(rng, BROWSER_UAS) };
    let attacker = Attacker::new(rng, category, ua);
    let count = if tool { rng.random_range(5..40) } else { rng.random_range(2..9) };
    let mut t = start_ms;
    for _ in 0..count {
        let (target, payload) = injection_target(rng, shop, category);
        let roll = rng.random_range(0..100);
        let status = match category {
            Category::Sqli => match roll {
                0..=59 => 200,
                60..=84 => 500,
                85..=94 => 403,
                _ => 400,
            },
            Category::Xss => match roll {
                0..=79 => 200,
                80..=89 => 400,
                _ => 403,
            },
            Category::Traversal => match roll {
                0..=49 => 404,
                50..=69 => 400,
                70..=89 => 403,
                _ => 200,
            },
            _ => match roll {
                0..=54 => 200,
                55..=74 => 400,
                75..=89 => 500,
                _ => 404,
            },
        };
        let bytes = match (category, status) {
            (Category::Traversal, 200) => 1_845 + rng.random_range(0..400),
            (_, 200) => 18_000 + rng.random_range(0..6_000),
            (_, s) => error_bytes(s),
        };
        let mut rt = lognormal(rng, if status == 500 { 0.2 } else { 0.08 }, 0.5);
        if is_time_based(payload) && status == 200 {
            rt += 5.0;
        }
        let referer = if tool { String::new() } else { format!("{ORIGIN}/") };
        if !sink.push(attacker.event(t, "GET", target, status, bytes, &referer, rt)) {
            return;
        }
        t += if tool {
            exponential(rng, 700.0) as i64 + 50
        } else {
            lognormal(rng, 8_000.0, 0.6) as i64
        };
    }
}

/// A vulnerability scanner walking a list of admin panels, config files and exploits: fast,
/// mostly 404 (403 for dotfiles, which nginx denies).
fn scan(rng: &mut SimRng, start_ms: i64, sink: &mut Sink) {
    let ua = *pick(rng, SCANNER_UAS);
    let attacker = Attacker::new(rng, Category::Scan, ua);
    let count = rng.random_range(30..250);
    let mean_gap = lognormal(rng, 150.0, 0.6);
    // Shuffle-free variety: start anywhere in the list and stride through it.
    let stride = *pick(rng, &[1usize, 3, 7, 11]);
    let offset = rng.random_range(0..SCAN_PATHS.len());
    let mut t = start_ms;
    for i in 0..count {
        let path = SCAN_PATHS[(offset + i * stride) % SCAN_PATHS.len()];
        let method = match rng.random_range(0..20) {
            0 => "HEAD",
            1 => "POST",
            _ => "GET",
        };
        let status = if path == "/robots.txt" || path == "/sitemap.xml" {
            200
        } else if path.starts_with("/.") && !path.starts_with("/.well-known") {
            403
        } else if path.starts_with("/%2e") {
            400
        } else {
            404
        };
        let bytes = match path {
            "/robots.txt" => 412,
            "/sitemap.xml" => 182_530,
            _ => error_bytes(status),
        };
        // Scanners append a cache-busting suffix on repeats of the list.
        let target = if i >= SCAN_PATHS.len() {
            format!("{path}?{}", stable_hash(i as u64) % 10_000)
        } else {
            path.to_owned()
        };
        let rt = lognormal(rng, 0.004, 0.7);
        if !sink.push(attacker.event(t, method, target, status, bytes, "", rt)) {
            return;
        }
        t += exponential(rng, mean_gap) as i64 + 5;
    }
}

/// One client guessing passwords for an account: many login POSTs, almost all 401, and rate
/// limiting (429) once it notices.
fn bruteforce(rng: &mut SimRng, start_ms: i64, sink: &mut Sink) {
    let ua = *pick(rng, LOGIN_ATTACK_UAS);
    let attacker = Attacker::new(rng, Category::Bruteforce, ua);
    let target = if chance(rng, 0.7) { "/login" } else { "/api/v1/auth/login" };
    let count = rng.random_range(40..400);
    let limit_after = rng.random_range(30..600);
    let gap = lognormal(rng, 1_200.0, 0.5);
    let success_at = if chance(rng, 0.1) { Some(count - 1) } else { None };
    let mut t = start_ms;
    for i in 0..count {
        let status = if Some(i) == success_at {
            302
        } else if i > limit_after && chance(rng, 0.6) {
            429
        } else {
            401
        };
        let bytes = if status == 302 { 0 } else { error_bytes(status) };
        let rt = if status == 429 { 0.0 } else { lognormal(rng, 0.14, 0.2) };
        let referer = if target == "/login" { format!("{ORIGIN}/login") } else { String::new() };
        if !sink.push(attacker.event(t, "POST", target.to_owned(), status, bytes, &referer, rt)) {
            return;
        }
        t += exponential(rng, gap) as i64 + 80;
    }
}

/// An HTTP flood: one client hammering a few URLs at tens to hundreds of requests per
/// second; the backend slows and the rate limiter answers more and more of them. The
/// line budget is fixed, so a flood is a short, dense burst rather than a long thin one:
/// what makes it a flood is the rate, not the duration.
fn flood(rng: &mut SimRng, shop: &Shop, start_ms: i64, sink: &mut Sink) {
    let ua = if chance(rng, 0.6) { *pick(rng, BROWSER_UAS) } else { "Go-http-client/1.1" };
    let attacker = Attacker::new(rng, Category::Flood, ua);
    let urls = [
        "/".to_owned(),
        format!("/search?q={}", shop.search_query(rng)),
        format!("/product/{}", shop.popular_product(rng)),
    ];
    let used = rng.random_range(1..=urls.len());
    let rate_per_s: f64 = rng.random_range(30.0..300.0);
    let max_duration_s: f64 = rng.random_range(20.0..180.0);
    let lines = sink.remaining().min((rate_per_s * max_duration_s) as usize).max(1);
    let mean_gap_ms = 1000.0 / rate_per_s;
    let mut t = start_ms as f64;
    for i in 0..lines {
        let target = urls[rng.random_range(0..used)].clone();
        // The limiter needs a moment to notice, then rejects a growing share.
        let limited = (i as f64 / (2.0 * rate_per_s)).min(0.6);
        let (status, bytes, rt) = if chance(rng, 0.05 + limited) {
            (429, error_bytes(429), 0.0)
        } else {
            (200, 21_000 + rng.random_range(0..15_000), lognormal(rng, 0.25, 0.6))
        };
        if !sink.push(attacker.event(t as i64, "GET", target, status, bytes, "", rt)) {
            return;
        }
        t += exponential(rng, mean_gap_ms);
    }
}

/// Credential stuffing: leaked username/password pairs tried from many addresses, each
/// address trying only a few, so no single client looks busy.
fn credential_stuffing(rng: &mut SimRng, start_ms: i64, sink: &mut Sink) {
    let attempts = sink.remaining().min(rng.random_range(60..400));
    let window_ms = rng.random_range(600_000..2_400_000) as f64;
    let mean_gap = window_ms / attempts.max(1) as f64;
    let mut t = start_ms as f64;
    let mut done = 0;
    while done < attempts {
        let ua =
            if chance(rng, 0.7) { *pick(rng, BROWSER_UAS) } else { *pick(rng, LOGIN_ATTACK_UAS) };
        let bot = Attacker::new(rng, Category::CredentialStuffing, ua);
        if chance(rng, 0.4) {
            // Fetching the form first for its CSRF token.
            let rt = lognormal(rng, 0.02, 0.4);
            if !sink.push(bot.event(t as i64, "GET", "/login".to_owned(), 200, 9_300, "", rt)) {
                return;
            }
            done += 1;
            t += rng.random_range(200.0..1_500.0);
        }
        for _ in 0..rng.random_range(1..=3) {
            let (status, bytes) = match rng.random_range(0..100) {
                0..=69 => (401, error_bytes(401)),
                70..=91 => (200, 9_600 + rng.random_range(0..200)),
                _ => (302, 0),
            };
            let rt = lognormal(rng, 0.14, 0.25);
            let referer = format!("{ORIGIN}/login");
            if !sink.push(bot.event(
                t as i64,
                "POST",
                "/login".to_owned(),
                status,
                bytes,
                &referer,
                rt,
            )) {
                return;
            }
            done += 1;
            t += exponential(rng, mean_gap);
        }
    }
}

/// A scraper copying the catalog: product ids in sequence at a fast, metronome-regular
/// pace (2 to 5 requests a second, jitter of a few milliseconds), no assets, no referer,
/// 404s where products were deleted.
fn scraping(rng: &mut SimRng, start_ms: i64, sink: &mut Sink) {
    let ua = *pick(rng, SCRAPER_UAS);
    let attacker = Attacker::new(rng, Category::Scraping, ua);
    let count = rng.random_range(150..800);
    let interval = 1000.0 / rng.random_range(2.0..5.0);
    let mut id = rng.random_range(1..PRODUCT_IDS);
    let mut t = start_ms as f64;
    for _ in 0..count {
        let (status, bytes) = if product_exists(id) {
            (200, 19_000 + stable_hash(u64::from(id)) % 9_000)
        } else {
            (404, error_bytes(404))
        };
        let rt = lognormal(rng, 0.055, 0.45);
        if !sink.push(attacker.event(
            t as i64,
            "GET",
            format!("/product/{id}"),
            status,
            bytes,
            "",
            rt,
        )) {
            return;
        }
        id = id % PRODUCT_IDS + 1;
        t += interval * (1.0 + 0.01 * (rng.random::<f64>() - 0.5));
    }
}
