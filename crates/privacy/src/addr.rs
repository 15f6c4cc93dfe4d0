//! Finding IP addresses in free text and in client fields.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;

/// What a client field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Client<'a> {
    /// An IP address, with the port when one was logged with it.
    Ip(IpAddr, Option<u16>),
    /// Anything else: a host name, `unknown`, a Unix socket path.
    Name(&'a str),
}

/// Reads a client field: `192.0.2.1`, `2001:db8::1`, `192.0.2.1:5678`,
/// `[2001:db8::1]:443`, `[2001:db8::1]`, `fe80::1%eth0`; other text is a name.
pub(crate) fn client(text: &str) -> Client<'_> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Client::Ip(canonical(ip), None);
    }
    if let Ok(sock) = text.parse::<SocketAddr>() {
        return Client::Ip(canonical(sock.ip()), Some(sock.port()));
    }
    let unbracketed = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    let unzoned = unbracketed.split_once('%').map_or(unbracketed, |(addr, _)| addr);
    if let Ok(ip) = unzoned.parse::<Ipv6Addr>() {
        return Client::Ip(canonical(IpAddr::V6(ip)), None);
    }
    Client::Name(text)
}

/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) as the IPv4 address it maps, so a
/// client gets one pseudonym whichever way the server logged it.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn is_candidate(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// Every IPv4 and IPv6 address in `text`, with its byte range, in order.
///
/// Deliberately eager, because a missed address is a leak: every dotted quad of
/// numbers up to 255 between non-digits counts (so `Chrome/120.0.0.0` does too), and
/// every run of hex digits and colons, between characters that are not letters or
/// digits, that parses as an IPv6 address.
pub(crate) fn find_addresses(text: &str, out: &mut Vec<(Range<usize>, IpAddr)>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !is_candidate(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_candidate(bytes[i]) {
            i += 1;
        }
        run(bytes, start, i, out);
    }
}

/// The addresses in the candidate run `bytes[start..end]`.
fn run(bytes: &[u8], start: usize, end: usize, out: &mut Vec<(Range<usize>, IpAddr)>) {
    let run = &bytes[start..end];
    if run.contains(&b':') {
        let word_before = start > 0 && bytes[start - 1].is_ascii_alphanumeric();
        let word_after = bytes.get(end).is_some_and(u8::is_ascii_alphanumeric);
        if !word_before && !word_after {
            // A sentence may end right after an address, and a port may follow one.
            let mut trimmed = run;
            while let [rest @ .., b'.'] = trimmed {
                trimmed = rest;
            }
            for candidate in [trimmed, trimmed.strip_suffix(b":").unwrap_or(trimmed)] {
                if let Some(ip) = parse_v6(candidate) {
                    out.push((start..start + candidate.len(), canonical(IpAddr::V6(ip))));
                    return;
                }
            }
        }
    }
    let mut i = 0;
    while i < run.len() {
        let at_boundary = i == 0 || !run[i - 1].is_ascii_digit();
        if at_boundary
            && run[i].is_ascii_digit()
            && let Some((len, ip)) = dotted_quad(&run[i..])
        {
            let before_ok = start + i == 0 || !bytes[start + i - 1].is_ascii_digit();
            if before_ok {
                out.push((start + i..start + i + len, IpAddr::V4(ip)));
                i += len;
                continue;
            }
        }
        i += 1;
    }
}

fn parse_v6(candidate: &[u8]) -> Option<Ipv6Addr> {
    if candidate.iter().filter(|&&b| b == b':').count() < 2
        || !candidate.iter().any(u8::is_ascii_hexdigit)
    {
        return None;
    }
    std::str::from_utf8(candidate).ok()?.parse().ok()
}

/// A dotted quad at the start of `s` (leading zeros allowed) not followed by a digit:
/// its length and address.
fn dotted_quad(s: &[u8]) -> Option<(usize, Ipv4Addr)> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let digits = s[i.min(s.len())..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 3 {
            return None;
        }
        let value = s[i..i + digits].iter().fold(0u16, |v, &d| v * 10 + u16::from(d - b'0'));
        *octet = u8::try_from(value).ok()?;
        i += digits;
    }
    if s.get(i).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((i, Ipv4Addr::from(octets)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find_addresses(text, &mut out);
        out.into_iter().map(|(r, _)| &text[r]).collect()
    }

    #[test]
    fn finds_addresses_in_text() {
        assert_eq!(found("from 192.0.2.1 to 10.0.0.255."), ["192.0.2.1", "10.0.0.255"]);
        assert_eq!(found("for=192.0.2.60:4711;proto=http"), ["192.0.2.60"]);
        assert_eq!(found(r#"for="[2001:db8:cafe::17]:4711""#), ["2001:db8:cafe::17"]);
        assert_eq!(
            found("2001:db8::1, ::ffff:198.51.100.7"),
            ["2001:db8::1", "::ffff:198.51.100.7"]
        );
        assert_eq!(found("Chrome/120.0.0.0"), ["120.0.0.0"]);
        assert_eq!(found("::1"), ["::1"]);
        assert_eq!(found("x 2001:db8::."), ["2001:db8::"]);
    }

    #[test]
    fn leaves_other_things_alone() {
        let text = "13:55:36 999.1.1 1.2.3 256.1.1.1 std::vector 00:1a:2b:3c:4d:5e cafe 1.2.3.4567";
        assert_eq!(found(text), Vec::<&str>::new());
    }

    #[test]
    fn clients() {
        let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(client("192.0.2.1"), Client::Ip(v4, None));
        assert_eq!(client("::ffff:192.0.2.1"), Client::Ip(v4, None));
        assert_eq!(client("192.0.2.1:80"), Client::Ip(v4, Some(80)));
        let v6: IpAddr = "fe80::1".parse().unwrap();
        assert_eq!(client("[fe80::1]:443"), Client::Ip(v6, Some(443)));
        assert_eq!(client("fe80::1%eth0"), Client::Ip(v6, None));
        assert_eq!(client("[fe80::1]"), Client::Ip(v6, None));
        assert_eq!(client("proxy.example.com"), Client::Name("proxy.example.com"));
    }
}
