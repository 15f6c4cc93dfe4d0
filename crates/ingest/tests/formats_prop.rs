//! Property tests of the formats: no input makes a parser panic, and a record written
//! as a `combined` line (escaped as Apache escapes) parses back to the same fields.

use anomalog_ingest::formats::{self, FormatOptions, csic2010};
use anomalog_ingest::{Format, Timestamp};
use proptest::prelude::*;

const SPECS: &[&str] = &[
    "combined",
    "common",
    "json",
    "csic2010",
    "uri",
    r#"nginx:'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_response_time'"#,
    r#"apache:'%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i" %D'"#,
];

fn all_formats() -> Vec<Box<dyn Format>> {
    SPECS
        .iter()
        .map(|s| formats::from_spec(s, &FormatOptions::default()).expect("valid spec"))
        .collect()
}

/// Bytes biased towards the characters the parsers look for.
fn log_bytes() -> impl Strategy<Value = Vec<u8>> {
    let interesting = prop_oneof![
        Just(b'"'),
        Just(b'\\'),
        Just(b' '),
        Just(b'['),
        Just(b']'),
        Just(b'-'),
        Just(b'x'),
        Just(b'{'),
        Just(b'}'),
        Just(b':'),
        Just(b'\n'),
        any::<u8>(),
        (b'0'..=b'9'),
    ];
    proptest::collection::vec(interesting, 0..160)
}

/// A realistic combined line with some bytes replaced at random.
fn mutated_line() -> impl Strategy<Value = Vec<u8>> {
    let base = br#"2001:db8::1 - bob [10/Oct/2000:13:55:36 -0700] "GET /a?b=\"c\" HTTP/1.1" 200 2326 "http://r/\\x22" "Mozilla/5.0 \"x\"" 0.25 "f" g"#;
    proptest::collection::vec((0..base.len(), any::<u8>()), 0..4).prop_map(move |edits| {
        let mut line = base.to_vec();
        for (i, b) in edits {
            line[i] = b;
        }
        line
    })
}

/// Writes a text field as Apache does: `"` and `\` escaped with a backslash.
fn escape(s: &str) -> String {
    s.replace('\\', r"\\").replace('"', r#"\""#)
}

#[derive(Debug, Clone)]
struct Fields {
    client: String,
    user: Option<String>,
    ts: Timestamp,
    method: String,
    target: String,
    protocol: String,
    status: Option<u16>,
    bytes: Option<u64>,
    referer: Option<String>,
    user_agent: Option<String>,
    request_time_ms: Option<u32>,
}

fn text_field() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[ -~éü日本]{0,40}".prop_filter("`-` means missing", |s| s != "-"))
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        prop_oneof!["[0-9]{1,3}(\\.[0-9]{1,3}){3}", "[0-9a-f]{1,4}(:[0-9a-f]{0,4}){2,7}"],
        proptest::option::of("[a-z][a-z0-9._]{0,11}"),
        (0i64..4_000_000_000, -720i32..=840),
        prop_oneof![Just("GET"), Just("POST"), Just("HEAD"), Just("PROPFIND"), Just("M-SEARCH")],
        "/[!-~]{0,40}",
        prop_oneof![Just("HTTP/1.0"), Just("HTTP/1.1"), Just("HTTP/2.0")],
        proptest::option::of(100u16..1000),
        proptest::option::of(any::<u64>().prop_map(|v| v % 10_000_000_000_000_000_000)),
        text_field(),
        text_field(),
        proptest::option::of(0u32..100_000_000),
    )
        .prop_map(
            |(
                client,
                user,
                (secs, off_min),
                method,
                target,
                protocol,
                status,
                bytes,
                r,
                ua,
                rt,
            )| {
                Fields {
                    client,
                    user,
                    ts: Timestamp { unix_micros: secs * 1_000_000, offset_secs: off_min * 60 },
                    method: method.to_string(),
                    target,
                    protocol: protocol.to_string(),
                    status,
                    bytes,
                    referer: r,
                    user_agent: ua,
                    request_time_ms: rt,
                }
            },
        )
}

/// The CLF time of a timestamp, in its own zone.
fn clf_time(ts: &Timestamp) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, mo, d, h, mi, s, _) = ts.local_civil();
    let sign = if ts.offset_secs < 0 { '-' } else { '+' };
    let off = ts.offset_secs.unsigned_abs();
    format!(
        "{d:02}/{}/{y:04}:{h:02}:{mi:02}:{s:02} {sign}{:02}{:02}",
        MONTHS[mo as usize - 1],
        off / 3600,
        off / 60 % 60
    )
}

fn combined_line(f: &Fields) -> String {
    let opt = |v: &Option<String>| v.as_deref().map_or("-".to_string(), escape);
    let mut line = format!(
        "{} - {} [{}] \"{} {} {}\" {} {} \"{}\" \"{}\"",
        f.client,
        f.user.as_deref().unwrap_or("-"),
        clf_time(&f.ts),
        f.method,
        escape(&f.target),
        f.protocol,
        f.status.map_or("-".to_string(), |s| s.to_string()),
        f.bytes.map_or("-".to_string(), |b| b.to_string()),
        opt(&f.referer),
        opt(&f.user_agent),
    );
    if let Some(ms) = f.request_time_ms {
        line.push_str(&format!(" {}.{:03}", ms / 1000, ms % 1000));
    }
    line
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_input_panics(bytes in log_bytes()) {
        for format in all_formats() {
            let _ = format.parse(&bytes);
        }
        let _ = formats::detect(&[&bytes[..]], &FormatOptions::default());
        for (_, unit) in csic2010::split_requests(&bytes) {
            let _ = formats::from_spec("csic2010", &FormatOptions::default()).map(|f| f.parse(&unit).is_ok());
        }
    }

    #[test]
    fn near_valid_lines_do_not_panic(line in mutated_line()) {
        for format in all_formats() {
            let _ = format.parse(&line);
        }
    }

    #[test]
    fn combined_round_trip(f in fields()) {
        let line = combined_line(&f);
        let format = formats::from_spec("combined", &FormatOptions::default()).unwrap();
        let r = format.parse(line.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
        prop_assert_eq!(r.client.as_deref(), Some(f.client.as_str()));
        prop_assert_eq!(r.ident.as_deref(), None);
        prop_assert_eq!(r.user.as_deref(), f.user.as_deref());
        prop_assert_eq!(r.ts.map(|t| (t.unix_micros, t.offset_secs)), Some((f.ts.unix_micros, f.ts.offset_secs)));
        prop_assert_eq!(r.method.as_deref(), Some(f.method.as_str()));
        prop_assert_eq!(r.target.as_deref(), Some(f.target.as_str()));
        prop_assert_eq!(r.protocol.as_deref(), Some(f.protocol.as_str()));
        prop_assert_eq!(r.status, f.status);
        prop_assert_eq!(r.bytes, f.bytes);
        prop_assert_eq!(r.referer.as_deref(), f.referer.as_deref());
        prop_assert_eq!(r.user_agent.as_deref(), f.user_agent.as_deref());
        prop_assert_eq!(r.request_time, f.request_time_ms.map(|ms| f64::from(ms) / 1000.0));
        prop_assert!(r.extra.is_empty(), "{:?}", r.extra);
    }
}
