//! Field-level helpers shared by the line formats: log-escape decoding, lossless text,
//! quoted-field scanning and the numeric fields.
//!
//! Web servers escape what they log: Apache writes `\"`, `\\`, `\n`, `\t` and `\xHH`;
//! nginx writes `\xHH` for `"`, `\` and every byte outside printable ASCII. Decoding
//! turns those back into bytes. Text is kept lossless and visible: a byte that is not
//! part of valid UTF-8 (raw in the line, or produced by decoding) becomes the four
//! characters `\xHH`, never U+FFFD.

use std::borrow::Cow;

use crate::error::{ParseError, RejectReason};
use crate::record::Field;

/// Trailing bytes real logs leave after the last field.
pub(crate) fn trim_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
        end -= 1;
    }
    &line[..end]
}

/// Rejects units holding a NUL byte, which no text log format writes.
pub(crate) fn check_binary(unit: &[u8]) -> Result<(), ParseError> {
    match memchr::memchr(0, unit) {
        Some(col) => Err(ParseError::new(RejectReason::Binary, "line", col)),
        None => Ok(()),
    }
}

/// What one pass over a unit found: the bytes that send a line parser off its fast
/// path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteClasses {
    /// A NUL byte (see [`check_binary`]).
    pub(crate) nul: bool,
    /// A backslash: a log escape may need decoding.
    pub(crate) backslash: bool,
    /// A byte of 0x80 or more: the text needs UTF-8 validation.
    pub(crate) non_ascii: bool,
}

impl ByteClasses {
    /// Classifies `bytes` in one pass, instead of one search for NUL, one for
    /// backslashes and a UTF-8 validation.
    pub(crate) fn of(bytes: &[u8]) -> ByteClasses {
        #[cfg(target_arch = "x86_64")]
        if bytes.len() >= 32 {
            let (special, non_ascii) =
                if bytes.len() >= 64 && std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, checked just above.
                    unsafe { classify_avx2(bytes) }
                } else {
                    classify_sse2(bytes)
                };
            return ByteClasses {
                // Rare: tell NUL from backslash with a search each.
                nul: special && memchr::memchr(0, bytes).is_some(),
                backslash: special && memchr::memchr(b'\\', bytes).is_some(),
                non_ascii,
            };
        }
        classify_tail(bytes)
    }
}

/// Whether `bytes` (at least 32 of them) hold a NUL or a backslash, and whether any
/// byte is non-ASCII: 32 bytes per step, the last step overlapping the one before.
#[cfg(target_arch = "x86_64")]
fn classify_sse2(bytes: &[u8]) -> (bool, bool) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128,
    };
    debug_assert!(bytes.len() >= 32);
    let last = bytes.len().saturating_sub(32);
    // SAFETY: SSE2 is part of the x86_64 baseline. Every load reads 16 bytes at an
    // offset at most `bytes.len() - 16`, inside the slice; unaligned loads are allowed.
    unsafe {
        let zero = _mm_setzero_si128();
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let (mut special, mut high) = (zero, zero);
        let p = bytes.as_ptr();
        let mut step = |at: usize| {
            let a = _mm_loadu_si128(p.add(at).cast::<__m128i>());
            let b = _mm_loadu_si128(p.add(at + 16).cast::<__m128i>());
            let sa = _mm_or_si128(_mm_cmpeq_epi8(a, zero), _mm_cmpeq_epi8(a, backslash));
            let sb = _mm_or_si128(_mm_cmpeq_epi8(b, zero), _mm_cmpeq_epi8(b, backslash));
            special = _mm_or_si128(special, _mm_or_si128(sa, sb));
            high = _mm_or_si128(high, _mm_or_si128(a, b));
        };
        let mut at = 0;
        while at < last {
            step(at);
            at += 32;
        }
        step(last);
        (_mm_movemask_epi8(special) != 0, _mm_movemask_epi8(high) != 0)
    }
}

/// [`classify_sse2`] with 32-byte vectors, for `bytes` of at least 64: 64 bytes per
/// step, the last step overlapping the one before.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn classify_avx2(bytes: &[u8]) -> (bool, bool) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8, _mm256_setzero_si256,
    };
    debug_assert!(bytes.len() >= 64);
    let last = bytes.len().saturating_sub(64);
    // SAFETY: the caller checked AVX2. Every load reads 32 bytes at an offset at most
    // `bytes.len() - 32`, inside the slice; unaligned loads are allowed.
    unsafe {
        let zero = _mm256_setzero_si256();
        let backslash = _mm256_set1_epi8(b'\\' as i8);
        let (mut special, mut high) = (zero, zero);
        let p = bytes.as_ptr();
        let mut step = |at: usize| {
            let a = _mm256_loadu_si256(p.add(at).cast::<__m256i>());
            let b = _mm256_loadu_si256(p.add(at + 32).cast::<__m256i>());
            let sa = _mm256_or_si256(_mm256_cmpeq_epi8(a, zero), _mm256_cmpeq_epi8(a, backslash));
            let sb = _mm256_or_si256(_mm256_cmpeq_epi8(b, zero), _mm256_cmpeq_epi8(b, backslash));
            special = _mm256_or_si256(special, _mm256_or_si256(sa, sb));
            high = _mm256_or_si256(high, _mm256_or_si256(a, b));
        };
        let mut at = 0;
        while at < last {
            step(at);
            at += 64;
        }
        step(last);
        (_mm256_movemask_epi8(special) != 0, _mm256_movemask_epi8(high) != 0)
    }
}

/// [`ByteClasses::of`] byte by byte, for short remainders and to tell NUL from backslash.
fn classify_tail(bytes: &[u8]) -> ByteClasses {
    let mut c = ByteClasses { nul: false, backslash: false, non_ascii: false };
    for &b in bytes {
        c.nul |= b == 0;
        c.backslash |= b == b'\\';
        c.non_ascii |= b >= 0x80;
    }
    c
}

/// The bytes as text: borrowed when they are valid UTF-8, otherwise every invalid byte
/// is written as `\xHH`.
pub(crate) fn text(raw: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(lossless(raw)),
    }
}

/// Owned lossless text of arbitrary bytes (see the module doc).
pub(crate) fn lossless(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            push_hex_escape(&mut out, *b);
        }
    }
    out
}

fn push_hex_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('\\');
    out.push('x');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

/// Decodes the log escapes of a field (see the module doc) into lossless text;
/// borrowed when the field holds no backslash and is valid UTF-8.
///
/// An unknown escape (`\q`) and a trailing lone backslash are kept as written.
pub(crate) fn unescape(raw: &[u8]) -> Cow<'_, str> {
    if memchr::memchr(b'\\', raw).is_none() {
        return text(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' || i + 1 == raw.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let decoded = match raw[i + 1] {
            b'"' => Some((b'"', 2)),
            b'\\' => Some((b'\\', 2)),
            b'n' => Some((b'\n', 2)),
            b'r' => Some((b'\r', 2)),
            b't' => Some((b'\t', 2)),
            b'b' => Some((0x08, 2)),
            b'v' => Some((0x0b, 2)),
            b'x' | b'X' => {
                let high = raw.get(i + 2).and_then(|&h| hex_val(h));
                let low = raw.get(i + 3).and_then(|&l| hex_val(l));
                high.zip(low).map(|(h, l)| (h << 4 | l, 4))
            }
            _ => None,
        };
        match decoded {
            Some((byte, len)) => {
                out.push(byte);
                i += len;
            }
            None => {
                out.push(b'\\');
                i += 1;
            }
        }
    }
    Cow::Owned(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => lossless(e.as_bytes()),
    })
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A line prepared for slicing fields out of it: when the whole line is valid UTF-8
/// and holds no backslash (the common case), fields are borrowed `&str` slices with no
/// per-field validation or escape search.
pub(crate) struct Src<'a> {
    bytes: &'a [u8],
    plain: Option<&'a str>,
}

impl<'a> Src<'a> {
    /// Prepares `bytes` whose classes are known: those of `bytes` itself, or of a unit
    /// that `bytes` is a prefix of, trimmed of ASCII only.
    pub(crate) fn classified(bytes: &'a [u8], classes: ByteClasses) -> Src<'a> {
        let plain = if classes.backslash {
            None
        } else if classes.non_ascii {
            std::str::from_utf8(bytes).ok()
        } else {
            // Every byte is ASCII (the classes cover `bytes`), which is valid UTF-8.
            debug_assert!(bytes.is_ascii());
            // SAFETY: ASCII is valid UTF-8.
            Some(unsafe { std::str::from_utf8_unchecked(bytes) })
        };
        Src { bytes, plain }
    }

    /// The whole line.
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The text `start..end`, decoded (see [`unescape`]); `-` is kept as text.
    pub(crate) fn text(&self, start: usize, end: usize) -> Cow<'a, str> {
        match self.plain.and_then(|s| s.get(start..end)) {
            Some(s) => Cow::Borrowed(s),
            None => unescape(&self.bytes[start..end]),
        }
    }

    /// The field `start..end` (see [`field`]).
    pub(crate) fn field(&self, start: usize, end: usize) -> Field<'a> {
        match self.plain.and_then(|s| s.get(start..end)) {
            Some("-") => None,
            Some(s) => Some(Cow::Borrowed(s)),
            None => field(&self.bytes[start..end]),
        }
    }
}

/// A text field: `-` is missing, anything else is decoded (see [`unescape`]).
pub(crate) fn field(raw: &[u8]) -> Field<'_> {
    if raw == b"-" { None } else { Some(unescape(raw)) }
}

/// The end of the space-terminated word starting at `from` (the next space, or the end
/// of the line). A plain loop: fields scanned this way are a few bytes long, where a
/// vectorized search costs more than it saves.
pub(crate) fn word_end(line: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < line.len() && line[i] != b' ' {
        i += 1;
    }
    i
}

/// Finds the quote closing a quoted field whose text starts at `from`: the first
/// unescaped `"` followed by a space or the end of the line. A quote followed by
/// anything else is taken as part of the text, which keeps lines from servers that do
/// not escape quotes readable.
pub(crate) fn closing_quote(line: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < line.len() {
        let at = quote_or_backslash(line, i)?;
        if line[at] == b'\\' {
            i = at + 2;
            continue;
        }
        if at + 1 == line.len() || line[at + 1] == b' ' {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// The first `"` or `\\` at or after `from`. Quoted fields are short (a request line,
/// a referer, a user agent), where a plain 16-byte loop beats a general search's setup.
pub(crate) fn quote_or_backslash(line: &[u8], from: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        let n = line.len();
        if n >= 16 {
            // Bits of the quotes and backslashes among the 16 bytes at `at`.
            // SAFETY: SSE2 is part of the x86_64 baseline; callers pass `at <= n - 16`,
            // so the unaligned load stays inside the slice.
            let mask = |at: usize| unsafe {
                let v = _mm_loadu_si128(line.as_ptr().add(at).cast::<__m128i>());
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                _mm_movemask_epi8(_mm_or_si128(quote, backslash)) as u32
            };
            let mut i = from;
            while i + 16 <= n {
                let m = mask(i);
                if m != 0 {
                    return Some(i + m.trailing_zeros() as usize);
                }
                i += 16;
            }
            if i >= n {
                return None;
            }
            // The last 16 bytes, less those before `i`, already searched.
            let last = n - 16;
            let m = mask(last) >> (i - last);
            return (m != 0).then(|| i + m.trailing_zeros() as usize);
        }
    }
    line.get(from..)?.iter().position(|&b| b == b'"' || b == b'\\').map(|p| from + p)
}

/// A status code: `-` is missing, otherwise exactly three digits.
pub(crate) fn status(raw: &[u8], column: usize) -> Result<Option<u16>, ParseError> {
    match raw {
        b"-" => Ok(None),
        [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            Ok(Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')))
        }
        _ => Err(ParseError::new(RejectReason::BadStatus, "status", column)),
    }
}

/// An unsigned integer of up to 19 digits, or `None` when `raw` is anything else.
pub(crate) fn uint(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in raw {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(b - b'0');
    }
    Some(v)
}

/// A byte count: `-` is missing, otherwise digits (`BadNumber` naming `field`).
pub(crate) fn bytes(
    raw: &[u8],
    field: &'static str,
    column: usize,
) -> Result<Option<u64>, ParseError> {
    if raw == b"-" {
        return Ok(None);
    }
    uint(raw).map(Some).ok_or_else(|| ParseError::new(RejectReason::BadNumber, field, column))
}

/// A non-negative decimal number (`0.003`, `12`, `.5`) with no sign, exponent or
/// `inf`/`nan`; `None` for anything else.
pub(crate) fn decimal(raw: &[u8]) -> Option<f64> {
    if raw.is_empty() || raw.len() > 32 || raw == b"." {
        return None;
    }
    // One pass checks the text and gathers the digits for the fast path below.
    const POW10: [f64; 16] =
        [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let (mut mantissa, mut digits, mut dot) = (0u64, 0usize, None);
    for &b in raw {
        match b {
            b'0'..=b'9' => {
                // Past 15 digits the mantissa is not used (nor does it overflow).
                if digits < 15 {
                    mantissa = mantissa * 10 + u64::from(b - b'0');
                }
                digits += 1;
            }
            b'.' if dot.is_none() => dot = Some(digits),
            _ => return None,
        }
    }
    if digits <= 15 {
        // The digits as an integer below 2^53 and a power of ten up to 10^15 are both
        // exact doubles, so their quotient is one correctly rounded division: the
        // value the general parser gives (Clinger's fast path).
        return Some(mantissa as f64 / POW10[digits - dot.unwrap_or(digits)]);
    }
    // Validated above: ASCII digits and at most one dot always parse.
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// A duration: `-` is missing, otherwise a decimal number multiplied by `scale` to
/// get seconds (`BadNumber` naming `field`).
pub(crate) fn seconds(
    raw: &[u8],
    scale: f64,
    field: &'static str,
    column: usize,
) -> Result<Option<f64>, ParseError> {
    if raw == b"-" {
        return Ok(None);
    }
    decimal(raw)
        .map(|v| Some(v * scale))
        .ok_or_else(|| ParseError::new(RejectReason::BadNumber, field, column))
}

/// The first of the comma- or colon-separated values nginx writes for
/// `$upstream_*` variables when several upstreams were tried (`0.003, 0.002`,
/// `0.010 : 0.004`).
pub(crate) fn first_upstream_value(raw: &[u8]) -> &[u8] {
    let end = raw.iter().position(|&b| b == b',' || b == b' ').unwrap_or(raw.len());
    &raw[..end]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn short_decimals_parse_as_the_general_parser(
            int in "[0-9]{0,15}", frac in proptest::option::of("[0-9]{0,15}"),
        ) {
            let s = match &frac { Some(f) => format!("{int}.{f}"), None => int.clone() };
            let want = if s.is_empty() || s == "." { None } else { s.parse::<f64>().ok() };
            prop_assert_eq!(decimal(s.as_bytes()).map(f64::to_bits), want.map(f64::to_bits), "{}", s);
        }

        #[test]
        fn decimals_are_checked_as_before(s in "[0-9.e+a-]{0,34}") {
            let b = s.as_bytes();
            let valid = !b.is_empty()
                && b.len() <= 32
                && s != "."
                && b.iter().all(|c| c.is_ascii_digit() || *c == b'.')
                && b.iter().filter(|&&c| c == b'.').count() <= 1;
            let want = if valid { s.parse::<f64>().ok() } else { None };
            prop_assert_eq!(decimal(b).map(f64::to_bits), want.map(f64::to_bits), "{}", s);
        }

        #[test]
        fn quotes_and_backslashes_are_found_as_by_memchr(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'"'), Just(b'\\'), Just(0xff), 0x20u8..0x7f],
                0..70,
            ),
            from in 0usize..80,
        ) {
            let want = bytes
                .get(from..)
                .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                .map(|p| from + p);
            prop_assert_eq!(quote_or_backslash(&bytes, from), want);
        }

        #[test]
        fn byte_classes_match_byte_by_byte(
            bytes in proptest::collection::vec(
                prop_oneof![Just(0u8), Just(b'\\'), Just(0xc3), Just(0xa9), 0x20u8..0x7f],
                0..120,
            ),
        ) {
            let c = ByteClasses::of(&bytes);
            prop_assert_eq!(c.nul, bytes.contains(&0));
            prop_assert_eq!(c.backslash, bytes.contains(&b'\\'));
            prop_assert_eq!(c.non_ascii, !bytes.is_ascii());
            let src = Src::classified(&bytes, c);
            let expected = if c.backslash { None } else { std::str::from_utf8(&bytes).ok() };
            prop_assert_eq!(src.plain, expected);
        }
    }

    #[test]
    fn one_special_byte_is_found_wherever_it_is() {
        // Every length across the SSE2 and AVX2 paths and their overlapping last
        // steps, with one NUL, backslash or non-ASCII byte at each position.
        for len in 0..160 {
            let clean = vec![b'a'; len];
            assert_eq!(
                ByteClasses::of(&clean),
                ByteClasses { nul: false, backslash: false, non_ascii: false },
                "{len}"
            );
            for at in 0..len {
                for special in [0u8, b'\\', 0xc3] {
                    let mut bytes = clean.clone();
                    bytes[at] = special;
                    let want = ByteClasses {
                        nul: special == 0,
                        backslash: special == b'\\',
                        non_ascii: special >= 0x80,
                    };
                    assert_eq!(ByteClasses::of(&bytes), want, "{len} {at} {special}");
                }
            }
        }
    }

    #[test]
    fn unescape_apache_and_nginx() {
        assert_eq!(unescape(br#"say \"hi\""#), r#"say "hi""#);
        assert_eq!(unescape(br"a\\b"), r"a\b");
        assert_eq!(unescape(br"say \x22hi\x22 \x5C"), r#"say "hi" \"#);
        assert_eq!(unescape(br"caf\xC3\xA9"), "café");
        assert!(matches!(unescape(b"plain"), Cow::Borrowed("plain")));
        // Decoded bytes that are not UTF-8 stay visible as escapes.
        assert_eq!(unescape(br"\x16\x03\x01\xA5"), "\u{16}\u{3}\u{1}\\xA5");
        // Unknown and truncated escapes are kept.
        assert_eq!(unescape(br"\q \x4 \"), r"\q \x4 \");
        assert_eq!(unescape(br"\x4"), r"\x4");
    }

    #[test]
    fn invalid_utf8_is_lossless_and_visible() {
        assert_eq!(text(b"a\xffb\xc3"), r"a\xFFb\xC3");
        assert_eq!(text("é".as_bytes()), "é");
        assert_eq!(unescape(b"\xfe\\\""), "\\xFE\"");
    }

    #[test]
    fn quotes_close_before_space_or_end() {
        let line = br#""a \" b" "c"d" x"#;
        assert_eq!(closing_quote(line, 1), Some(7));
        assert_eq!(closing_quote(line, 10), Some(13));
        assert_eq!(closing_quote(br#""open"#, 1), None);
        assert_eq!(closing_quote(br#""ends\"#, 1), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(status(b"200", 0), Ok(Some(200)));
        assert_eq!(status(b"-", 0), Ok(None));
        assert_eq!(status(b"20x", 5).unwrap_err().column, 5);
        assert!(status(b"2000", 0).is_err());
        assert_eq!(uint(b"18446744073709551615"), None);
        assert_eq!(uint(b"1234"), Some(1234));
        assert_eq!(decimal(b"0.003"), Some(0.003));
        assert_eq!(decimal(b".5"), Some(0.5));
        for bad in [&b"inf"[..], b"1e3", b"-1", b"1.2.3", b".", b""] {
            assert_eq!(decimal(bad), None);
        }
        assert_eq!(first_upstream_value(b"0.003, 0.002"), b"0.003");
        assert_eq!(first_upstream_value(b"0.010 : 0.004"), b"0.010");
    }
}
