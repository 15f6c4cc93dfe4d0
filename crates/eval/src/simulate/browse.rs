//! Sessions of people shopping in a browser: a page, then its assets; browsing between
//! categories, products and search; sometimes a cart, a checkout or a login.

use rand::Rng;

use super::catalog::{
    CATEGORIES, CORE_ASSETS, EXTERNAL_REFERERS, PRODUCT_IDS, SEARCH_TERMS, SORTS, is_mobile,
    product_by_rank, product_exists, stable_hash,
};
use super::clients::Client;
use super::dist::{SimRng, Weighted, chance, geometric, lognormal, pick};
use super::event::{Event, ORIGIN};
use super::sink::Sink;

/// Popularity tables shared by all sessions.
pub(crate) struct Shop {
    products: Weighted,
    categories: Weighted,
    searches: Weighted,
}

impl Shop {
    pub(crate) fn new() -> Self {
        Shop {
            products: Weighted::zipf(PRODUCT_IDS as usize, 1.05),
            categories: Weighted::zipf(CATEGORIES.len(), 0.8),
            searches: Weighted::zipf(SEARCH_TERMS.len(), 0.9),
        }
    }

    pub(crate) fn popular_product(&self, rng: &mut SimRng) -> u32 {
        product_by_rank(self.products.sample(rng))
    }

    fn category(&self, rng: &mut SimRng) -> &'static str {
        CATEGORIES[self.categories.sample(rng)]
    }

    /// A search query string as a browser sends it (`+` for spaces).
    pub(crate) fn search_query(&self, rng: &mut SimRng) -> String {
        let mut q = SEARCH_TERMS[self.searches.sample(rng)].to_owned();
        if chance(rng, 0.15) {
            q.push(' ');
            q.push_str(SEARCH_TERMS[self.searches.sample(rng)]);
        }
        q.replace(' ', "+")
    }
}

/// A page a shopper can be on.
#[derive(Clone, Debug)]
enum Page {
    Home,
    Category { name: &'static str, page: u32, sort: Option<&'static str> },
    Product(u32),
    Search { query: String, page: u32 },
    Cart,
    Checkout,
    Login,
    Account,
    Info(&'static str),
}

const INFO_PAGES: &[&str] = &["/about", "/contact", "/help/shipping", "/help/returns", "/faq"];

impl Page {
    fn target(&self) -> String {
        match self {
            Page::Home => "/".to_owned(),
            Page::Category { name, page, sort } => {
                let mut t = format!("/category/{name}");
                let mut sep = '?';
                if let Some(s) = sort {
                    t.push_str(&format!("{sep}sort={s}"));
                    sep = '&';
                }
                if *page > 1 {
                    t.push_str(&format!("{sep}page={page}"));
                }
                t
            }
            Page::Product(id) => format!("/product/{id}"),
            Page::Search { query, page } if *page > 1 => format!("/search?q={query}&page={page}"),
            Page::Search { query, .. } => format!("/search?q={query}"),
            Page::Cart => "/cart".to_owned(),
            Page::Checkout => "/checkout".to_owned(),
            Page::Login => "/login".to_owned(),
            Page::Account => "/account".to_owned(),
            Page::Info(path) => (*path).to_owned(),
        }
    }

    /// (median seconds, log sigma, typical HTML bytes) for rendering this page.
    fn profile(&self) -> (f64, f64, u64) {
        match self {
            Page::Home => (0.045, 0.45, 36_500),
            Page::Category { .. } => (0.075, 0.5, 28_000),
            Page::Product(id) => (0.055, 0.45, 19_000 + stable_hash(u64::from(*id)) % 9_000),
            Page::Search { .. } => (0.13, 0.55, 24_000),
            Page::Cart => (0.05, 0.4, 14_200),
            Page::Checkout => (0.09, 0.4, 17_800),
            Page::Login => (0.02, 0.4, 9_300),
            Page::Account => (0.06, 0.4, 12_400),
            Page::Info(_) => (0.015, 0.4, 11_000),
        }
    }

    /// Product images shown on the page, as (product id, gallery position).
    fn images(&self, shop: &Shop, rng: &mut SimRng, mobile: bool) -> Vec<(u32, u32)> {
        let n: u32 = match self {
            Page::Home => 10,
            Page::Category { .. } | Page::Search { .. } => rng.random_range(8..=16),
            Page::Product(_) => rng.random_range(3..=5),
            Page::Cart => rng.random_range(1..=3),
            _ => 0,
        };
        let n = if mobile { n / 2 } else { n };
        match self {
            Page::Product(id) => (1..=n).map(|k| (*id, k)).collect(),
            _ => (0..n).map(|_| (shop.popular_product(rng), 1)).collect(),
        }
    }
}

/// Builds events for one client.
pub(crate) struct Requester<'a> {
    pub client: &'a Client,
}

impl Requester<'_> {
    #[allow(clippy::too_many_arguments)] // mirrors the fields of one log line
    pub(crate) fn event(
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
            ip: self.client.ip,
            method,
            target,
            protocol: self.client.protocol,
            status,
            bytes,
            referer: referer.to_owned(),
            user_agent: self.client.user_agent,
            request_time,
            label: None,
        }
    }
}

/// Small jitter on dynamic page sizes (user-specific fragments, CSRF tokens).
fn jitter(rng: &mut SimRng, bytes: u64) -> u64 {
    let spread = (bytes / 40).max(1);
    bytes - spread / 2 + rng.random_range(0..spread)
}

/// Emits one browsing session starting at `start_ms`.
pub(crate) fn browser_session(
    rng: &mut SimRng,
    shop: &Shop,
    client: &Client,
    start_ms: i64,
    sink: &mut Sink,
) {
    let req = Requester { client };
    let mobile = is_mobile(client.user_agent);
    let mut t = start_ms;
    let mut referer: String =
        if chance(rng, 0.55) { (*pick(rng, EXTERNAL_REFERERS)).to_owned() } else { String::new() };
    let mut page = match rng.random_range(0..100) {
        0..=49 => Page::Home,
        50..=79 => Page::Product(shop.popular_product(rng)),
        80..=91 => Page::Category { name: shop.category(rng), page: 1, sort: None },
        _ => Page::Search { query: shop.search_query(rng), page: 1 },
    };

    // Old bookmarks and links: redirects and the odd deleted product.
    if chance(rng, 0.02) {
        let old = if chance(rng, 0.5) { "/shop" } else { "/index.html" };
        if !sink.push(req.event(t, "GET", old.to_owned(), 301, 169, &referer, 0.0)) {
            return;
        }
        t += rng.random_range(30..200);
        page = Page::Home;
    } else if chance(rng, 0.008) {
        // Ids of deleted products are 11 modulo 37 (see `product_exists`).
        let gone = rng.random_range(0..PRODUCT_IDS / 37) * 37 + 11;
        let target = format!("/product/{gone}");
        let rt = lognormal(rng, 0.02, 0.4);
        let ok = sink.push(req.event(t, "GET", target, 404, 3_652, &referer, rt));
        if !ok || chance(rng, 0.5) {
            return;
        }
        t += lognormal(rng, 4_000.0, 0.6) as i64;
        page = Page::Home;
    }

    let pages = geometric(rng, 6.0).min(60);
    let mut first = true;
    for _ in 0..pages {
        let target = page.target();
        let (median, sigma, size) = page.profile();
        let size = if mobile { size * 4 / 5 } else { size };
        let rt = lognormal(rng, median, sigma);
        if !sink.push(req.event(t, "GET", target.clone(), 200, jitter(rng, size), &referer, rt)) {
            return;
        }
        let here = format!("{ORIGIN}{target}");
        if !assets(rng, shop, &req, &page, first, mobile, t + (rt * 1000.0) as i64, &here, sink) {
            return;
        }
        first = false;
        t += (lognormal(rng, 11_000.0, 1.0) as i64).clamp(800, 900_000);

        page = match page {
            Page::Product(_) if chance(rng, 0.12) => {
                match add_to_cart(rng, &req, &mut t, &here, sink) {
                    Some(next) => next,
                    None => return,
                }
            }
            Page::Checkout => {
                checkout(rng, &req, &mut t, &here, sink);
                return;
            }
            Page::Login => match login(rng, &req, &mut t, &here, sink) {
                Some(next) => next,
                None => return,
            },
            ref current => next_page(rng, shop, current),
        };
        referer = here;
    }
}

/// Assets of a page: everything on a first visit, mostly cache hits (not requested, or 304)
/// afterwards. False when the sink is full.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename these
fn assets(
    rng: &mut SimRng,
    shop: &Shop,
    req: &Requester<'_>,
    page: &Page,
    first: bool,
    mobile: bool,
    mut t: i64,
    page_url: &str,
    sink: &mut Sink,
) -> bool {
    let css_referer = format!("{ORIGIN}{}", CORE_ASSETS[0].0);
    for (path, size) in CORE_ASSETS {
        // Fonts are referenced from the stylesheet, everything else from the page.
        let referer = if path.ends_with(".woff2") { css_referer.as_str() } else { page_url };
        let (status, bytes) = if first {
            if chance(rng, 0.25) { (304, 0) } else { (200, *size) }
        } else if chance(rng, 0.04) {
            (304, 0)
        } else {
            continue;
        };
        t += rng.random_range(5..120);
        let rt = if status == 304 { 0.0 } else { lognormal(rng, 0.001, 0.8) };
        if !sink.push(req.event(t, "GET", (*path).to_owned(), status, bytes, referer, rt)) {
            return false;
        }
    }
    if first && mobile && req.client.user_agent.contains("iPhone") {
        for icon in ["/apple-touch-icon-precomposed.png", "/apple-touch-icon.png"] {
            t += rng.random_range(5..60);
            if !sink.push(req.event(t, "GET", icon.to_owned(), 404, 3_652, "", 0.0)) {
                return false;
            }
        }
    }
    for (id, position) in page.images(shop, rng, mobile) {
        let width = if mobile { 400 } else { 800 };
        let size = 18_000 + stable_hash(u64::from(id * 8 + position) * 7 + width) % 140_000;
        let size = if mobile { size / 3 } else { size };
        let (status, bytes) = if chance(rng, 0.15) { (304, 0) } else { (200, size) };
        t += rng.random_range(3..80);
        let rt = lognormal(rng, 0.002, 0.9);
        let target = format!("/images/products/{id}-{position}_{width}.jpg");
        if !sink.push(req.event(t, "GET", target, status, bytes, page_url, rt)) {
            return false;
        }
    }
    if chance(rng, 0.3) {
        t += rng.random_range(50..400);
        let rt = lognormal(rng, 0.018, 0.5);
        let bytes = rng.random_range(38..64);
        if !sink.push(req.event(t, "GET", "/api/cart/count".to_owned(), 200, bytes, page_url, rt)) {
            return false;
        }
    }
    true
}

fn next_page(rng: &mut SimRng, shop: &Shop, current: &Page) -> Page {
    let roll = rng.random_range(0..100);
    let category = |rng: &mut SimRng| Page::Category {
        name: shop.category(rng),
        page: 1,
        sort: if chance(rng, 0.25) { Some(*pick(rng, SORTS)) } else { None },
    };
    let search = |rng: &mut SimRng| Page::Search { query: shop.search_query(rng), page: 1 };
    match current {
        Page::Home => match roll {
            0..=44 => category(rng),
            45..=69 => search(rng),
            70..=89 => Page::Product(shop.popular_product(rng)),
            90..=94 => Page::Login,
            _ => Page::Info(INFO_PAGES[rng.random_range(0..INFO_PAGES.len())]),
        },
        Page::Category { name, page, sort } => match roll {
            0..=59 => Page::Product(shop.popular_product(rng)),
            60..=74 => Page::Category { name, page: page + 1, sort: *sort },
            75..=84 => category(rng),
            85..=94 => search(rng),
            _ => Page::Home,
        },
        Page::Product(id) => match roll {
            // "Related products" sit near the current one in the catalog.
            0..=34 => {
                let near = (*id as i64 + rng.random_range(-30..=30)).clamp(1, PRODUCT_IDS as i64);
                let near = near as u32;
                if product_exists(near) { Page::Product(near) } else { Page::Product(*id) }
            }
            35..=59 => category(rng),
            60..=79 => search(rng),
            80..=89 => Page::Cart,
            _ => Page::Home,
        },
        Page::Search { query, page } => match roll {
            0..=64 => Page::Product(shop.popular_product(rng)),
            65..=74 => Page::Search { query: query.clone(), page: page + 1 },
            75..=89 => search(rng),
            _ => category(rng),
        },
        Page::Cart => match roll {
            0..=39 => Page::Checkout,
            40..=64 => Page::Product(shop.popular_product(rng)),
            65..=84 => category(rng),
            _ => Page::Home,
        },
        Page::Checkout | Page::Login | Page::Account | Page::Info(_) => match roll {
            0..=49 => category(rng),
            50..=74 => Page::Home,
            _ => search(rng),
        },
    }
}

/// POST /cart/add then the cart page; returns the next page, `None` when the sink is full.
fn add_to_cart(
    rng: &mut SimRng,
    req: &Requester<'_>,
    t: &mut i64,
    here: &str,
    sink: &mut Sink,
) -> Option<Page> {
    let rt = lognormal(rng, 0.06, 0.4);
    sink.push(req.event(*t, "POST", "/cart/add".to_owned(), 302, 0, here, rt)).then_some(())?;
    *t += (rt * 1000.0) as i64 + rng.random_range(20..150);
    Some(Page::Cart)
}

/// The checkout form POST and the confirmation page, unless the buyer gives up; the
/// session ends either way.
fn checkout(rng: &mut SimRng, req: &Requester<'_>, t: &mut i64, here: &str, sink: &mut Sink) {
    if chance(rng, 0.4) {
        return;
    }
    let rt = lognormal(rng, 0.42, 0.35);
    if !sink.push(req.event(*t, "POST", "/checkout".to_owned(), 302, 0, here, rt)) {
        return;
    }
    *t += (rt * 1000.0) as i64 + rng.random_range(20..150);
    let order = 100_000 + (stable_hash(*t as u64) % 900_000);
    let rt = lognormal(rng, 0.05, 0.4);
    let target = format!("/order/confirmation/{order}");
    sink.push(req.event(*t, "GET", target, 200, jitter(rng, 12_800), here, rt));
}

/// Login form POST: usually a redirect to the account page, sometimes a mistyped password
/// (the form again, 200) and a second try.
fn login(
    rng: &mut SimRng,
    req: &Requester<'_>,
    t: &mut i64,
    here: &str,
    sink: &mut Sink,
) -> Option<Page> {
    let attempts = if chance(rng, 0.15) { 2 } else { 1 };
    for attempt in 0..attempts {
        let rt = lognormal(rng, 0.14, 0.25);
        let (status, bytes) =
            if attempt + 1 < attempts { (200, jitter(rng, 9_600)) } else { (302, 0) };
        sink.push(req.event(*t, "POST", "/login".to_owned(), status, bytes, here, rt))
            .then_some(())?;
        *t += (rt * 1000.0) as i64 + lognormal(rng, 6_000.0, 0.5) as i64;
    }
    Some(Page::Account)
}
