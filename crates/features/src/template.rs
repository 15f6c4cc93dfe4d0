//! Normalizations that turn high-cardinality request parts into small vocabularies:
//! path templates (`/products/123` -> `/products/{n}`), file extensions and user-agent
//! families.

/// Templates longer than this are cut: a path that long is unusual anyway, and the
/// vocabulary stays bounded.
pub const MAX_TEMPLATE_LEN: usize = 256;

/// Writes the template of a decoded path into `out` (cleared first).
///
/// Runs of digits become `{n}`, UUIDs `{uuid}`, long hexadecimal tokens `{hex}` and
/// long mixed tokens (session ids, hashes in other encodings) `{id}`, so that the
/// endpoints of a site form a small set however many objects it serves.
pub fn path_template(path: &str, out: &mut String) {
    out.clear();
    let mut first = true;
    for segment in path.split('/') {
        if !first {
            out.push('/');
        }
        first = false;
        push_segment(segment, out);
        if out.len() >= MAX_TEMPLATE_LEN {
            let mut cut = MAX_TEMPLATE_LEN;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            return;
        }
    }
}

fn push_segment(segment: &str, out: &mut String) {
    let bytes = segment.as_bytes();
    if is_uuid(bytes) {
        out.push_str("{uuid}");
        return;
    }
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    if bytes.len() >= 16 && digits > 0 && bytes.iter().all(u8::is_ascii_hexdigit) {
        out.push_str("{hex}");
        return;
    }
    if bytes.len() >= 24
        && digits > 0
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
    {
        out.push_str("{id}");
        return;
    }
    // Digits are ASCII, so every digit run starts and ends on a character boundary and
    // the text between runs is copied as whole slices.
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() {
            i += 1;
        }
        out.push_str(&segment[start..i]);
        if i < bytes.len() {
            out.push_str("{n}");
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| {
            if matches!(i, 8 | 13 | 18 | 23) { c == b'-' } else { c.is_ascii_hexdigit() }
        })
}

/// The file extension of a decoded path, lowercased, into `out` (cleared first); empty
/// when the last segment has none or it does not look like one.
pub fn extension(path: &str, out: &mut String) {
    out.clear();
    let last = match memchr::memrchr(b'/', path.as_bytes()) {
        Some(slash) => &path[slash + 1..],
        None => path,
    };
    if let Some(dot) = memchr::memrchr(b'.', last.as_bytes()) {
        let ext = &last[dot + 1..];
        if !ext.is_empty() && ext.len() <= 8 && ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
            out.extend(ext.chars().map(|c| c.to_ascii_lowercase()));
        }
    }
}

/// Attack tools and scanners that announce themselves in the user agent.
const SCANNERS: &[&str] = &[
    "sqlmap",
    "nikto",
    "nmap",
    "masscan",
    "zgrab",
    "dirbuster",
    "gobuster",
    "wfuzz",
    "nuclei",
    "acunetix",
    "w3af",
    "hydra",
    "havij",
    "fimap",
    "openvas",
    "nessus",
    "burp",
    "zmeu",
    "ffuf",
    "feroxbuster",
    "wpscan",
    "whatweb",
    "arachni",
    "netsparker",
    "jorgee",
];

/// Tool and crawler names worth telling apart from the generic `mozilla` family.
const KNOWN: &[&str] = &[
    "googlebot",
    "bingbot",
    "yandex",
    "baiduspider",
    "duckduckbot",
    "slurp",
    "ahrefsbot",
    "semrushbot",
    "applebot",
    "facebookexternalhit",
    "curl",
    "wget",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "java",
    "okhttp",
    "libwww-perl",
    "apache-httpclient",
    "postman",
    "httpie",
    "headlesschrome",
    "phantomjs",
    "bot",
    "crawler",
    "spider",
];

/// The family of a user agent into `out` (cleared first): a known tool or crawler name
/// when one appears in it, the lowercased first product token otherwise
/// (`Mozilla/5.0 (...)` -> `mozilla`). Returns whether it is a known scanner.
/// `lower` is a scratch buffer.
pub fn user_agent_family(ua: &str, lower: &mut Vec<u8>, out: &mut String) -> bool {
    out.clear();
    lower.clear();
    lower.extend(ua.bytes().map(|b| b.to_ascii_lowercase()));
    let found = |s: &&&str| memchr::memmem::find(lower, s.as_bytes()).is_some();
    if let Some(name) = SCANNERS.iter().find(found) {
        out.push_str(name);
        return true;
    }
    if let Some(name) = KNOWN.iter().find(found) {
        out.push_str(name);
        return false;
    }
    let bytes = ua.as_bytes();
    let end =
        bytes.iter().position(|&b| matches!(b, b'/' | b' ' | b';' | b'(')).unwrap_or(bytes.len());
    out.extend(ua[..end].chars().take(32).map(|c| c.to_ascii_lowercase()));
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(p: &str) -> String {
        let mut s = String::new();
        path_template(p, &mut s);
        s
    }

    #[test]
    fn ids_and_numbers_are_normalized() {
        assert_eq!(template("/products/123"), "/products/{n}");
        assert_eq!(template("/products/456"), "/products/{n}");
        assert_eq!(template("/img/page2.html"), "/img/page{n}.html");
        assert_eq!(template("/u/3f2504e0-4f89-11d3-9a0c-0305e82c3301/x"), "/u/{uuid}/x");
        assert_eq!(template("/blob/d41d8cd98f00b204e9800998ecf8427e"), "/blob/{hex}");
        assert_eq!(template("/s/aGVsbG8gd29ybGQgdGhpcyBpcyAx"), "/s/{id}");
        assert_eq!(template("/"), "/");
        assert_eq!(template(""), "");
        assert_eq!(template("/tienda1/publico/anadir.jsp"), "/tienda{n}/publico/anadir.jsp");
        assert!(template(&"/a".repeat(500)).len() <= MAX_TEMPLATE_LEN);
        assert!(template(&"/é".repeat(500)).len() <= MAX_TEMPLATE_LEN);
    }

    #[test]
    fn extensions() {
        let mut s = String::new();
        extension("/a/b.PHP", &mut s);
        assert_eq!(s, "php");
        extension("/a.b/c", &mut s);
        assert_eq!(s, "");
        extension("/a/b.jsp.BAK", &mut s);
        assert_eq!(s, "bak");
    }

    #[test]
    fn user_agents() {
        let (mut s, mut buf) = (String::new(), Vec::new());
        assert!(!user_agent_family(
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            &mut buf,
            &mut s
        ));
        assert_eq!(s, "mozilla");
        assert!(user_agent_family("sqlmap/1.7.2#stable (https://sqlmap.org)", &mut buf, &mut s));
        assert_eq!(s, "sqlmap");
        assert!(!user_agent_family("Mozilla/5.0 (compatible; Googlebot/2.1)", &mut buf, &mut s));
        assert_eq!(s, "googlebot");
        assert!(user_agent_family("Mozilla/5.00 (Nikto/2.1.6)", &mut buf, &mut s));
        assert!(!user_agent_family("curl/8.0", &mut buf, &mut s));
        assert_eq!(s, "curl");
    }
}
