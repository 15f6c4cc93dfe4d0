//! The population of legitimate clients: many browsers with heavy-tailed activity, a few
//! search-engine crawlers, API integrations and ad-hoc scripts.

use std::net::{IpAddr, Ipv4Addr};

use rand::Rng;

use super::catalog::{
    APPLEBOT, BINGBOT, BROWSER_UAS, BROWSER_WEIGHTS, CURL, GO_HTTP, GOOGLEBOT, PYTHON_REQUESTS,
};
use super::dist::{SimRng, Weighted, chance, pareto};
use super::event::random_ip;

/// What kind of legitimate client this is, which decides how its sessions look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientKind {
    /// A person in a browser: pages, then their assets.
    Browser,
    /// A search-engine crawler: pages only, steady pace, any hour.
    Crawler,
    /// A partner integration paging through the product API.
    ApiClient,
    /// A developer or script fetching one URL with curl/requests.
    AdHoc,
}

#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub ip: IpAddr,
    pub user_agent: &'static str,
    pub kind: ClientKind,
    pub protocol: &'static str,
}

/// Legitimate clients and how often each starts a session.
pub(crate) struct Population {
    pub clients: Vec<Client>,
    chooser: Weighted,
}

impl Population {
    /// About one browser per 25 expected lines; Pareto weights give most of them a
    /// session or two and a tail of regulars many more.
    pub(crate) fn new(rng: &mut SimRng, expected_lines: usize) -> Self {
        let browsers = (expected_lines / 25).clamp(30, 200_000);
        let ua_chooser = Weighted::new(BROWSER_WEIGHTS);
        let mut clients = Vec::with_capacity(browsers + 16);
        let mut weights = Vec::with_capacity(browsers + 16);
        for _ in 0..browsers {
            let user_agent = BROWSER_UAS[ua_chooser.sample(rng)];
            let protocol = if chance(rng, 0.75) { "HTTP/2.0" } else { "HTTP/1.1" };
            clients.push(Client {
                ip: random_ip(rng, 0.12),
                user_agent,
                kind: ClientKind::Browser,
                protocol,
            });
            // Capped so that no single shopper dominates a small simulation.
            weights.push(pareto(rng, 1.0, 1.6).min(40.0));
        }
        let browser_total: f64 = weights.iter().sum();
        // Shares of sessions, relative to all browser sessions.
        let bots: [(IpAddr, &'static str, ClientKind, f64); 9] = [
            (v4(66, 249, 66, rng.random_range(1..=200)), GOOGLEBOT, ClientKind::Crawler, 0.012),
            (v4(66, 249, 68, rng.random_range(1..=200)), GOOGLEBOT, ClientKind::Crawler, 0.008),
            (v4(157, 55, 39, rng.random_range(1..=200)), BINGBOT, ClientKind::Crawler, 0.008),
            (v4(17, 241, 219, rng.random_range(1..=200)), APPLEBOT, ClientKind::Crawler, 0.003),
            (
                v4(52, 29, 188, rng.random_range(1..=200)),
                PYTHON_REQUESTS,
                ClientKind::ApiClient,
                0.006,
            ),
            (v4(34, 120, 64, rng.random_range(1..=200)), GO_HTTP, ClientKind::ApiClient, 0.003),
            (random_ip(rng, 0.0), CURL, ClientKind::AdHoc, 0.002),
            (random_ip(rng, 0.3), CURL, ClientKind::AdHoc, 0.001),
            (random_ip(rng, 0.0), PYTHON_REQUESTS, ClientKind::AdHoc, 0.001),
        ];
        for (ip, user_agent, kind, share) in bots {
            clients.push(Client { ip, user_agent, kind, protocol: "HTTP/1.1" });
            weights.push(share * browser_total);
        }
        Population { clients, chooser: Weighted::new(&weights) }
    }

    /// The client starting the next session.
    pub(crate) fn choose(&self, rng: &mut SimRng) -> &Client {
        &self.clients[self.chooser.sample(rng)]
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}
