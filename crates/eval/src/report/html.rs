//! HTML text helpers: escaping and number formatting for people.

use crate::civil::UtcDateTime;

/// Escapes text for HTML element content and attribute values (also valid in SVG).
/// Request lines and user agents in reports are attacker-controlled.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls would break the document (and XML parsers reading the SVG).
            c if c.is_control() && c != '\n' && c != '\t' => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// `1234567` as `1,234,567`.
pub(crate) fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate as a percentage with one decimal (two below 1%).
pub(crate) fn pct(x: f64) -> String {
    if !x.is_finite() {
        "n/a".to_owned()
    } else if x != 0.0 && x.abs() < 0.01 {
        format!("{:.2}%", x * 100.0)
    } else {
        format!("{:.1}%", x * 100.0)
    }
}

/// A score-like number with three decimals, or `n/a`.
pub(crate) fn num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.3}"),
        Some(v) if v.is_nan() => "NaN".to_owned(),
        Some(v) => format!("{v}"),
        None => "n/a".to_owned(),
    }
}

/// A duration in seconds, in the unit that reads best.
pub(crate) fn secs(x: f64) -> String {
    if x < 1.0 { format!("{:.0} ms", x * 1000.0) } else { format!("{x:.2} s") }
}

/// A throughput, e.g. `84.2k records/s`.
pub(crate) fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2}M records/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1}k records/s", per_second / 1e3)
    } else {
        format!("{per_second:.0} records/s")
    }
}

/// A timestamp as `2026-03-02 14:03:11` (UTC).
pub(crate) fn timestamp(ts: i64) -> String {
    UtcDateTime::from_unix(ts).rfc3339().replace('T', " ").trim_end_matches('Z').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("GET /?q=<script>alert('x')</script>&a=\"b\" HTTP/1.1"),
            "GET /?q=&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;a=&quot;b&quot; HTTP/1.1"
        );
        assert_eq!(escape("a\u{1b}b"), "a\\x1Bb");
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(int(0), "0");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(pct(0.9234), "92.3%");
        assert_eq!(pct(0.0012), "0.12%");
        assert_eq!(num(None), "n/a");
        assert_eq!(secs(0.25), "250 ms");
        assert_eq!(rate(84_200.0), "84.2k records/s");
        assert_eq!(timestamp(1_772_409_600), "2026-03-02 00:00:00");
    }
}
