//! Timestamps with their zone offset, and the fast parsers for the forms logs use.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// An instant (microseconds since the Unix epoch, UTC) and the zone offset it was
/// logged in. Ordering and equality look at the instant only.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Timestamp {
    /// Microseconds since 1970-01-01T00:00:00Z.
    pub unix_micros: i64,
    /// Offset of the log's zone from UTC, in seconds (east positive).
    pub offset_secs: i32,
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.unix_micros == other.unix_micros
    }
}
impl Eq for Timestamp {}
impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.unix_micros.cmp(&other.unix_micros)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

const MICROS: i64 = 1_000_000;

impl Timestamp {
    /// A timestamp from seconds since the epoch (fractions kept to the microsecond), UTC.
    pub fn from_unix_secs_f64(secs: f64) -> Option<Timestamp> {
        if !secs.is_finite() || secs.abs() > 1e13 {
            return None;
        }
        Some(Timestamp { unix_micros: (secs * 1e6).round() as i64, offset_secs: 0 })
    }

    /// Seconds since the epoch, with fractions.
    pub fn unix_secs_f64(&self) -> f64 {
        self.unix_micros as f64 / 1e6
    }

    /// Whole seconds since the epoch.
    pub fn unix_secs(&self) -> i64 {
        self.unix_micros.div_euclid(MICROS)
    }

    /// Local civil time in the logged zone: (year, month 1-12, day 1-31, hour, minute,
    /// second, weekday 0=Monday).
    pub fn local_civil(&self) -> (i64, u32, u32, u32, u32, u32, u32) {
        let local = self.unix_secs() + i64::from(self.offset_secs);
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        let weekday = (days + 3).rem_euclid(7) as u32;
        (y, m, d, sod / 3600, sod / 60 % 60, sod % 60, weekday)
    }

    /// Parses the Common Log Format time, `10/Oct/2000:13:55:36 -0700` (the brackets
    /// already removed). Fractions of a second (`13:55:36.123`) are accepted.
    pub fn parse_clf(s: &[u8]) -> Option<Timestamp> {
        // Lines come in time order and many share their second with the line before:
        // the usual form, `dd/Mon/yyyy:HH:MM:SS +hhmm`, is remembered per thread.
        let Ok(key) = <[u8; CLF_LEN]>::try_from(s) else { return parse_clf_uncached(s) };
        let key = ClfKey::of(&key);
        if let Some((last, ts)) = LAST_CLF.get()
            && last == key
        {
            return Some(ts);
        }
        let ts = parse_clf_uncached(s)?;
        LAST_CLF.set(Some((key, ts)));
        Some(ts)
    }

    /// Parses RFC 3339 / ISO 8601 date-times: `2026-03-02T13:55:36Z`,
    /// `2026-03-02T13:55:36.123+01:00`, `2026-03-02 13:55:36` (no zone: UTC).
    pub fn parse_iso8601(s: &[u8]) -> Option<Timestamp> {
        if s.len() < 19 || s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b'T' | b't' | b' ') {
            return None;
        }
        let year = digits(&s[0..4])? as i64;
        let month = digits(&s[5..7])? as u32;
        let day = digits(&s[8..10])? as u32;
        let (hms, mut rest) = parse_hms(&s[11..])?;
        let mut micros = 0;
        if let Some((&(b'.' | b','), frac)) = rest.split_first() {
            let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
            micros = fraction_micros(&frac[..n])?;
            rest = &frac[n..];
        }
        let offset = match rest {
            [] | [b'Z'] | [b'z'] => 0,
            zone => parse_offset(zone)?,
        };
        build(year, month, day, hms, micros, offset)
    }

    /// Parses a Unix epoch time in seconds, with an optional fraction (`1700000000.123`).
    pub fn parse_epoch(s: &[u8]) -> Option<Timestamp> {
        let text = std::str::from_utf8(s).ok()?;
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        Timestamp::from_unix_secs_f64(text.parse().ok()?)
    }
}

/// The length of `dd/Mon/yyyy:HH:MM:SS +hhmm`.
const CLF_LEN: usize = 26;

/// A CLF time of [`CLF_LEN`] bytes as two overlapping words, compared in two steps.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ClfKey(u128, u128);

impl ClfKey {
    fn of(bytes: &[u8; CLF_LEN]) -> ClfKey {
        let mut head = [0u8; 16];
        let mut tail = [0u8; 16];
        head.copy_from_slice(&bytes[..16]);
        tail.copy_from_slice(&bytes[CLF_LEN - 16..]);
        ClfKey(u128::from_le_bytes(head), u128::from_le_bytes(tail))
    }
}

thread_local! {
    /// The last CLF time parsed on this thread, and its value.
    static LAST_CLF: std::cell::Cell<Option<(ClfKey, Timestamp)>> =
        const { std::cell::Cell::new(None) };
}

/// [`Timestamp::parse_clf`] without the memory of the last time.
fn parse_clf_uncached(s: &[u8]) -> Option<Timestamp> {
    // dd/Mon/yyyy:HH:MM:SS
    if s.len() < 20 || s[2] != b'/' || s[6] != b'/' || s[11] != b':' {
        return None;
    }
    let day = digits(&s[0..2])? as u32;
    let month = month_from_abbrev(&s[3..6])?;
    let year = digits(&s[7..11])? as i64;
    let (hms, mut rest) = parse_hms(&s[12..])?;
    let mut micros = 0;
    if let Some((&b'.', frac)) = rest.split_first() {
        let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        micros = fraction_micros(&frac[..n])?;
        rest = &frac[n..];
    }
    let offset = match rest {
        [] => 0,
        [b' ', zone @ ..] => parse_offset(zone)?,
        _ => return None,
    };
    build(year, month, day, hms, micros, offset)
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in the logged zone, with microseconds when they are not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s, _) = self.local_civil();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        let micros = self.unix_micros.rem_euclid(MICROS);
        if micros != 0 {
            let mut frac = format!("{micros:06}");
            while frac.ends_with('0') {
                frac.pop();
            }
            write!(f, ".{frac}")?;
        }
        if self.offset_secs == 0 {
            return f.write_str("Z");
        }
        let sign = if self.offset_secs < 0 { '-' } else { '+' };
        let off = self.offset_secs.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", off / 3600, off / 60 % 60)
    }
}

fn build(
    year: i64,
    month: u32,
    day: u32,
    (h, m, s): Hms,
    micros: i64,
    offset: i32,
) -> Option<Timestamp> {
    // Second 60 is a leap second; it is read as the last second of the minute.
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let local = days * 86_400 + i64::from(h * 3600 + m * 60 + s.min(59));
    let utc = local - i64::from(offset);
    Some(Timestamp { unix_micros: utc * MICROS + micros, offset_secs: offset })
}

/// Hours, minutes, seconds.
type Hms = (u32, u32, u32);

fn parse_hms(s: &[u8]) -> Option<(Hms, &[u8])> {
    if s.len() < 8 || s[2] != b':' || s[5] != b':' {
        return None;
    }
    let h = digits(&s[0..2])? as u32;
    let m = digits(&s[3..5])? as u32;
    let sec = digits(&s[6..8])? as u32;
    Some(((h, m, sec), &s[8..]))
}

/// `+hhmm`, `-hhmm`, `+hh:mm`, `+hh`.
fn parse_offset(s: &[u8]) -> Option<i32> {
    let (sign, rest) = match s.split_first()? {
        (b'+', r) => (1, r),
        (b'-', r) => (-1, r),
        _ => return None,
    };
    let (h, m) = match rest {
        [a, b] => (digits(&[*a, *b])?, 0),
        [a, b, c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
        [a, b, b':', c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h as i32 * 3600 + m as i32 * 60))
}

fn digits(s: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(b - b'0');
    }
    Some(v)
}

fn fraction_micros(frac: &[u8]) -> Option<i64> {
    if frac.is_empty() {
        return None;
    }
    let mut v = 0i64;
    for i in 0..6 {
        v = v * 10 + frac.get(i).map_or(0, |b| i64::from(b - b'0'));
    }
    Some(v)
}

fn month_from_abbrev(s: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let lower = [s[0].to_ascii_lowercase(), s[1].to_ascii_lowercase(), s[2].to_ascii_lowercase()];
    MONTHS.iter().position(|m| **m == lower).map(|i| i as u32 + 1)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn remembered_clf_times_are_parsed_times(
            times in proptest::collection::vec(
                ("[0-3][0-9]", "(Jan|Feb|Oct|Xyz)", "[0-9]{4}", "[0-2][0-9]", "[0-6][0-9]",
                    "[0-6][0-9]", "[+-][0-1][0-9][0-5][0-9]"),
                1..8,
            ),
            order in proptest::collection::vec(0usize..8, 1..20),
        ) {
            for i in order {
                let (d, mon, y, h, mi, sec, z) = &times[i % times.len()];
                let s = format!("{d}/{mon}/{y}:{h}:{mi}:{sec} {z}");
                let (got, want) = (Timestamp::parse_clf(s.as_bytes()), parse_clf_uncached(s.as_bytes()));
                prop_assert_eq!(got.map(|t| (t.unix_micros, t.offset_secs)), want.map(|t| (t.unix_micros, t.offset_secs)), "{}", s);
            }
        }
    }

    #[test]
    fn clf_with_zone() {
        let t = Timestamp::parse_clf(b"10/Oct/2000:13:55:36 -0700").unwrap();
        assert_eq!(t.unix_secs(), 971_211_336);
        assert_eq!(t.offset_secs, -7 * 3600);
        assert_eq!(t.to_string(), "2000-10-10T13:55:36-07:00");
        let t = Timestamp::parse_clf(b"17/May/2015:10:05:03 +0000").unwrap();
        assert_eq!(t.to_string(), "2015-05-17T10:05:03Z");
        let t = Timestamp::parse_clf(b"01/Jan/2026:00:00:00.250 +0530").unwrap();
        assert_eq!(t.to_string(), "2026-01-01T00:00:00.25+05:30");
    }

    #[test]
    fn clf_rejects_nonsense() {
        for bad in [
            &b""[..],
            b"10/Foo/2000:13:55:36 -0700",
            b"32/Oct/2000:13:55:36 -0700",
            b"29/Feb/2001:13:55:36 +0000",
            b"10/Oct/2000:25:55:36 -0700",
            b"10/Oct/2000:13:55:36 0700",
            b"10/Oct/2000:13:55:36 -0700 x",
        ] {
            assert_eq!(Timestamp::parse_clf(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert!(Timestamp::parse_clf(b"29/Feb/2000:00:00:00 +0000").is_some());
    }

    #[test]
    fn iso8601_forms() {
        let t = Timestamp::parse_iso8601(b"2026-03-02T13:55:36.123456+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-03-02T13:55:36.123456+01:00");
        let z = Timestamp::parse_iso8601(b"2026-03-02T12:55:36.123456Z").unwrap();
        assert_eq!(t, z);
        assert!(Timestamp::parse_iso8601(b"2026-03-02 12:55:36").is_some());
        assert!(Timestamp::parse_iso8601(b"2026-13-02T12:55:36Z").is_none());
        assert!(Timestamp::parse_iso8601(b"2026-03-02T12:55:36Q").is_none());
    }

    #[test]
    fn epoch_and_weekday() {
        let t = Timestamp::parse_epoch(b"1772455200.5").unwrap();
        assert_eq!(t.to_string(), "2026-03-02T12:40:00.5Z");
        // 2026-03-02 is a Monday.
        assert_eq!(t.local_civil().6, 0);
        assert!(Timestamp::parse_epoch(b"-5").is_none());
        assert!(Timestamp::parse_epoch(b"nan").is_none());
    }

    proptest! {
        #[test]
        fn display_round_trips(micros in -62_135_596_800_000_000i64..253_402_300_799_000_000, off in -50_400i32..50_400) {
            let off = off / 60 * 60;
            let t = Timestamp { unix_micros: micros, offset_secs: off };
            let back = Timestamp::parse_iso8601(t.to_string().as_bytes()).unwrap();
            prop_assert_eq!(back.unix_micros, t.unix_micros);
            prop_assert_eq!(back.offset_secs, t.offset_secs);
        }

        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Timestamp::parse_clf(&bytes);
            let _ = Timestamp::parse_iso8601(&bytes);
            let _ = Timestamp::parse_epoch(&bytes);
        }
    }
}
