//! Splitting a request target into its path and decoded query parameters.

/// Most query parameters a request may carry.
const MAX_PARAMS: usize = 32;

/// A request target split into its decoded path and query parameters.
#[derive(Debug, PartialEq)]
pub(crate) struct Target {
    /// The decoded path segments after the leading `/` (`["api", "incidents"]`).
    pub segments: Vec<String>,
    /// Decoded `key=value` pairs in order.
    pub params: Vec<(String, String)>,
}

impl Target {
    /// Parses `/path/seg?k=v&k2=v2`. Fails on bad percent escapes, invalid UTF-8 or
    /// too many parameters.
    pub fn parse(url: &str) -> Result<Target, String> {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let path = path.split_once('#').map_or(path, |(p, _)| p);
        let segments = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| decode(s, false))
            .collect::<Result<Vec<_>, _>>()?;
        let mut params = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            if params.len() == MAX_PARAMS {
                return Err(format!("too many query parameters (at most {MAX_PARAMS})"));
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((decode(k, true)?, decode(v, true)?));
        }
        Ok(Target { segments, params })
    }

    /// The first value of parameter `key`; an empty value counts as absent.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The path segments as `&str`s, for matching.
    pub fn path(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }
}

/// Percent-decodes `text`; in a query `+` is a space.
fn decode(text: &str, query: bool) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or("truncated percent escape")?;
                let hi = (hex[0] as char).to_digit(16);
                let lo = (hex[1] as char).to_digit(16);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => return Err("invalid percent escape".into()),
                }
                i += 3;
            }
            b'+' if query => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "the request target is not valid UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_decodes() {
        let t = Target::parse("/api/incidents/a%2Fb?client=10.0.0.1&category=sql+i&x=&limit=5")
            .unwrap();
        assert_eq!(t.path(), ["api", "incidents", "a/b"]);
        assert_eq!(t.param("category"), Some("sql i"));
        assert_eq!(t.param("client"), Some("10.0.0.1"));
        assert_eq!(t.param("x"), None);
        assert_eq!(t.param("limit"), Some("5"));
        assert!(Target::parse("/").unwrap().segments.is_empty());
    }

    #[test]
    fn refuses_bad_input() {
        assert!(Target::parse("/a?x=%zz").is_err());
        assert!(Target::parse("/a?x=%2").is_err());
        assert!(Target::parse("/a?x=%ff%fe").is_err());
        let many = (0..40).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join("&");
        assert!(Target::parse(&format!("/a?{many}")).is_err());
    }
}
