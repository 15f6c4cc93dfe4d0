//! One simulated request and its rendering as a combined log line plus request time.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rand::Rng;

use super::Category;
use super::dist::{SimRng, chance, pick};
use crate::civil::UtcDateTime;

/// A request as the access log records it.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    /// Milliseconds since the unix epoch; the log shows whole seconds.
    pub ts_ms: i64,
    pub ip: IpAddr,
    pub method: &'static str,
    pub target: String,
    pub protocol: &'static str,
    pub status: u16,
    pub bytes: u64,
    /// Empty means no referer (`"-"`).
    pub referer: String,
    pub user_agent: &'static str,
    /// Seconds, as nginx `$request_time`.
    pub request_time: f64,
    pub label: Option<Category>,
}

/// The site's own origin, used in referers.
pub(crate) const ORIGIN: &str = "https://shop.example.com";

impl Event {
    /// Writes the log line (combined format + request time) and its label line.
    pub(crate) fn write(
        &self,
        time: &mut TimeCache,
        log: &mut impl Write,
        labels: &mut impl Write,
    ) -> io::Result<()> {
        let referer = if self.referer.is_empty() { "-" } else { self.referer.as_str() };
        writeln!(
            log,
            "{} - - [{}] \"{} {} {}\" {} {} \"{}\" \"{}\" {:.3}",
            self.ip,
            time.clf(self.ts_ms.div_euclid(1000)),
            self.method,
            escape_log(&self.target),
            self.protocol,
            self.status,
            self.bytes,
            escape_log(referer),
            self.user_agent,
            self.request_time
        )?;
        match self.label {
            None => labels.write_all(b"0\n"),
            Some(c) => writeln!(labels, "1 {}", c.as_str()),
        }
    }
}

/// Escapes like nginx does in access logs: `"`, `\` and non-printable bytes as `\xHH`.
fn escape_log(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out.into()
}

/// Formats consecutive equal seconds once; the log has many lines per second.
#[derive(Default)]
pub(crate) struct TimeCache {
    second: Option<i64>,
    text: String,
}

impl TimeCache {
    fn clf(&mut self, second: i64) -> &str {
        if self.second != Some(second) {
            self.second = Some(second);
            self.text = UtcDateTime::from_unix(second).clf();
        }
        &self.text
    }
}

/// First octets of public IPv4 space that residential and cloud clients come from.
const V4_FIRST_OCTETS: &[u8] = &[
    23, 24, 31, 37, 45, 46, 62, 66, 68, 71, 73, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88,
    89, 90, 91, 92, 93, 94, 95, 98, 99, 104, 107, 108, 109, 151, 173, 174, 176, 178, 185, 188, 190,
    193, 195, 201, 203, 212, 213, 217,
];

/// Prefixes of large ISP IPv6 allocations.
const V6_PREFIXES: &[[u16; 2]] = &[
    [0x2a02, 0x8108],
    [0x2a01, 0x0cb8],
    [0x2600, 0x1700],
    [0x2601, 0x0644],
    [0x2001, 0x0e68],
    [0x2a00, 0x23c7],
    [0x2003, 0x00e2],
];

/// A random public client address; `v6_share` of them IPv6.
pub(crate) fn random_ip(rng: &mut SimRng, v6_share: f64) -> IpAddr {
    if chance(rng, v6_share) {
        let p = pick(rng, V6_PREFIXES);
        let mut h = [0u16; 8];
        h[0] = p[0];
        h[1] = p[1];
        for x in h.iter_mut().skip(2) {
            *x = rng.random();
        }
        IpAddr::V6(Ipv6Addr::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]))
    } else {
        let a = *pick(rng, V4_FIRST_OCTETS);
        IpAddr::V4(Ipv4Addr::new(a, rng.random(), rng.random(), rng.random_range(1..=254)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_quotes_and_controls() {
        assert_eq!(escape_log("/a?q=\"x\"\n"), "/a?q=\\x22x\\x22\\x0A");
        assert_eq!(escape_log("/ok"), "/ok");
    }
}
