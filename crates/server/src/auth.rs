//! Bearer-token checks: `Authorization: Bearer TOKEN`, or HTTP Basic with the token
//! as the password so that a browser can open the dashboard (it prompts once and then
//! sends the credentials with the page's own API requests).

/// Whether a token is usable in a header: non-empty visible ASCII without spaces.
pub(crate) fn valid_token(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())
}

/// Whether the `Authorization` header value carries `token`.
pub(crate) fn authorized(header: Option<&str>, token: &str) -> bool {
    let Some(value) = header else { return false };
    let value = value.trim();
    let Some((scheme, rest)) = value.split_once(' ') else { return false };
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        constant_time_eq(rest.as_bytes(), token.as_bytes())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let Some(decoded) = base64_decode(rest) else { return false };
        let password = match decoded.iter().position(|&b| b == b':') {
            Some(colon) => &decoded[colon + 1..],
            None => return false,
        };
        constant_time_eq(password, token.as_bytes())
    } else {
        false
    }
}

/// Compares without an early exit, so the time taken does not reveal how many leading
/// bytes matched (only the token's length, which is not secret enough to matter).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

/// Decodes standard base64 (with or without padding).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let text = text.trim_end_matches('=').as_bytes();
    if text.len() % 4 == 1 || text.len() > 4096 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic() {
        assert!(authorized(Some("Bearer s3cret"), "s3cret"));
        assert!(authorized(Some("bearer  s3cret "), "s3cret"));
        assert!(!authorized(Some("Bearer s3cre"), "s3cret"));
        assert!(!authorized(Some("Bearer s3crett"), "s3cret"));
        assert!(!authorized(Some("s3cret"), "s3cret"));
        assert!(!authorized(None, "s3cret"));
        // "admin:s3cret" and ":s3cret"
        assert!(authorized(Some("Basic YWRtaW46czNjcmV0"), "s3cret"));
        assert!(authorized(Some("Basic OnMzY3JldA=="), "s3cret"));
        assert!(!authorized(Some("Basic YWRtaW46d3Jvbmc="), "s3cret"));
        assert!(!authorized(Some("Basic !!!"), "s3cret"));
    }

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("a").is_none());
    }

    #[test]
    fn token_shape() {
        assert!(valid_token("abc-123_XYZ"));
        assert!(!valid_token(""));
        assert!(!valid_token("has space"));
        assert!(!valid_token("new\nline"));
    }
}
