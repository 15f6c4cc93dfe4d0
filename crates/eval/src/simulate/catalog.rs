//! What the simulated web shop serves and who visits it: pages, assets, search words and
//! user agents.

/// Highest product id in the catalog.
pub(crate) const PRODUCT_IDS: u32 = 2400;

/// Products were deleted over time, so some ids in the range are gone (404): scrapers
/// walking ids sequentially and stale links hit them.
pub(crate) fn product_exists(id: u32) -> bool {
    (1..=PRODUCT_IDS).contains(&id) && id % 37 != 11
}

/// The product at popularity rank `rank` (0 = most popular); a fixed permutation so that
/// popular products are spread over the id range.
pub(crate) fn product_by_rank(rank: usize) -> u32 {
    let n = u64::from(PRODUCT_IDS);
    // 1543 is prime and coprime to 2400, so this is a bijection on 0..2400.
    let mut id = ((rank as u64 * 1543) % n + 1) as u32;
    while !product_exists(id) {
        id = id % PRODUCT_IDS + 1;
    }
    id
}

/// A stable pseudo-random number for an id, so a resource has the same size every time.
pub(crate) fn stable_hash(id: u64) -> u64 {
    let mut x = id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub(crate) const CATEGORIES: &[&str] = &[
    "shoes",
    "sneakers",
    "jackets",
    "t-shirts",
    "jeans",
    "dresses",
    "accessories",
    "bags",
    "watches",
    "sportswear",
    "kids",
    "sale",
    "new-arrivals",
    "outdoor",
];

pub(crate) const SORTS: &[&str] = &["price_asc", "price_desc", "newest", "popular", "rating"];

/// Words shoppers type into search, alone or combined.
pub(crate) const SEARCH_TERMS: &[&str] = &[
    "running shoes",
    "leather jacket",
    "red dress",
    "wool socks",
    "sneakers",
    "rain coat",
    "backpack",
    "summer hat",
    "linen shirt",
    "hiking boots",
    "black jeans",
    "slim fit",
    "yoga pants",
    "winter coat",
    "sunglasses",
    "gift card",
    "watch",
    "trail runner",
    "denim jacket",
    "tote bag",
    "swimsuit",
    "sandals",
    "hoodie",
    "cashmere sweater",
    "kids shoes",
    "belt",
    "wallet",
    "scarf",
    "beanie",
    "chelsea boots",
    "puffer jacket",
    "polo",
    "shorts",
    "maxi dress",
    "loafers",
    "nike air",
    "adidas",
    "waterproof",
    "organic cotton",
    "size 42",
];

/// Static assets every page references, with fixed sizes in bytes.
pub(crate) const CORE_ASSETS: &[(&str, u64)] = &[
    ("/static/css/main.3f9a1c.css", 48_213),
    ("/static/css/vendor.8b21e0.css", 22_907),
    ("/static/js/app.5d7e21.js", 182_344),
    ("/static/js/vendor.a1b2c3.js", 311_873),
    ("/static/js/analytics.js", 9_412),
    ("/static/fonts/inter-var.woff2", 98_260),
    ("/static/img/logo.svg", 3_184),
    ("/favicon.ico", 15_086),
];

/// Desktop and mobile browsers, in rough market-share order.
pub(crate) const BROWSER_UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:135.0) Gecko/20100101 Firefox/135.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36 Edg/133.0.0.0",
    "Mozilla/5.0 (iPad; CPU OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:135.0) Gecko/20100101 Firefox/135.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/133.0.6943.84 Mobile/15E148 Safari/604.1",
];

/// Relative shares of [`BROWSER_UAS`].
pub(crate) const BROWSER_WEIGHTS: &[f64] =
    &[22.0, 8.0, 10.0, 18.0, 14.0, 6.0, 4.0, 5.0, 3.0, 4.0, 2.0, 1.0, 1.5, 1.5];

/// Whether a browser user agent is a phone or tablet (smaller pages, fewer assets cached).
pub(crate) fn is_mobile(user_agent: &str) -> bool {
    user_agent.contains("Mobile") || user_agent.contains("iPad")
}

pub(crate) const GOOGLEBOT: &str =
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
pub(crate) const BINGBOT: &str =
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)";
pub(crate) const APPLEBOT: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)";
pub(crate) const UPTIME_MONITOR: &str =
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)";
pub(crate) const CURL: &str = "curl/8.5.0";
pub(crate) const PYTHON_REQUESTS: &str = "python-requests/2.31.0";
pub(crate) const GO_HTTP: &str = "Go-http-client/1.1";

/// Where visitors arrive from when they do not type the address.
pub(crate) const EXTERNAL_REFERERS: &[&str] = &[
    "https://www.google.com/",
    "https://www.google.com/",
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://duckduckgo.com/",
    "https://www.instagram.com/",
    "https://l.facebook.com/",
    "https://t.co/",
    "android-app://com.google.android.gm/",
];
