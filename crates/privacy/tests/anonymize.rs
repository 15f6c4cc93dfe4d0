//! `anonymize_line` on typical lines of every format: no raw address or secret comes
//! out, and what comes out still parses as the same request.

use anomalog_ingest::formats::{FormatOptions, from_spec};
use anomalog_ingest::{Format, Record};
use anomalog_privacy::{ClientMode, Key, Privacy, RedactionRules};

const NGINX: &str = r#"nginx:'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"'"#;
const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N";

fn format(spec: &str) -> Box<dyn Format> {
    from_spec(spec, &FormatOptions::default()).unwrap()
}

fn keyed(secret: &str) -> Privacy {
    Privacy::keyed(Key::new(secret).unwrap())
}

fn anonymize(p: &Privacy, format: &dyn Format, line: &str) -> String {
    let mut out = Vec::new();
    p.anonymize_line(format, line.as_bytes(), &mut out);
    String::from_utf8(out).unwrap()
}

fn assert_absent(out: &str, raw: &[&str]) {
    for r in raw {
        assert!(!out.contains(r), "{r:?} leaked into {out}");
    }
}

/// The fields that must survive anonymization unchanged.
fn shape<'a>(r: &'a Record<'a>) -> (Option<&'a str>, Option<&'a str>, Option<u16>, Option<u64>) {
    (r.method.as_deref(), r.path(), r.status, r.bytes)
}

#[test]
fn combined() {
    let f = format("combined");
    let p = keyed("combined test key 0123456789");
    let line = format!(
        r#"203.0.113.77 - alice [02/Mar/2026:10:00:00 +0000] "GET /login?user=bob&password=hunter2&email=bob%40mail.example&t={JWT} HTTP/1.1" 302 0 "https://shop.example/cart?sessionid=S3SS10N&card=4111-1111-1111-1111" "Mozilla/5.0 (contact ops@corp.example) Chrome/120.0.0.0""#
    );
    let out = anonymize(&p, f.as_ref(), &line);
    assert_absent(
        &out,
        &["203.0.113.77", "alice", "hunter2", "bob%40", "eyJ", "S3SS10N", "4111", "ops@corp"],
    );
    let before = f.parse(line.as_bytes()).unwrap();
    let after = f.parse(out.as_bytes()).unwrap();
    assert_eq!(shape(&before), shape(&after));
    assert_eq!(after.client.as_deref(), Some(p.pseudonymize_client("203.0.113.77").as_ref()));
    assert_eq!(after.query(), Some("user=bob&password=REDACTED&email=REDACTED&t=REDACTED"));
    assert_eq!(
        after.user_agent.as_deref(),
        Some("Mozilla/5.0 (contact [REDACTED]) Chrome/120.0.0.0")
    );
    assert_eq!(after.ts, before.ts);
}

#[test]
fn combined_ipv6_and_client_echoed_in_the_query() {
    let f = format("combined");
    let p = keyed("combined test key 0123456789");
    let line = r#"2001:db8:85a3::8a2e:370:7334 - - [02/Mar/2026:10:00:01 +0000] "GET /geo?ip=2001:db8:85a3::8a2e:370:7334 HTTP/1.1" 200 12 "-" "curl/8.0""#;
    let out = anonymize(&p, f.as_ref(), line);
    assert_absent(&out, &["2001:db8:85a3::8a2e:370:7334"]);
    let after = f.parse(out.as_bytes()).unwrap();
    assert!(after.client.as_deref().unwrap().starts_with("ip6-"));
    assert_eq!(after.path(), Some("/geo"));
}

#[test]
fn json() {
    let f = format("json");
    let p = keyed("json test key 0123456789");
    let line = r#"{"time":"2026-03-02T10:00:00+00:00","remote_addr":"198.51.100.23","request":"POST /api/login?api_key=AK123456 HTTP/1.1","status":401,"bytes":17,"http_user_agent":"python-requests/2.31","http_x_forwarded_for":"192.0.2.9, 10.1.2.3","password":"pw-hunter2","email":"jane@example.org","cc":4111111111111111,"req":{"headers":{"X-Real-IP":["192.0.2.10"]}}}"#;
    let out = anonymize(&p, f.as_ref(), line);
    assert_absent(
        &out,
        &[
            "198.51.100.23",
            "AK123456",
            "192.0.2.9",
            "10.1.2.3",
            "pw-hunter2",
            "jane@",
            "4111",
            "192.0.2.10",
        ],
    );
    let after = f.parse(out.as_bytes()).expect("still JSON");
    let before = f.parse(line.as_bytes()).unwrap();
    assert_eq!(shape(&before), shape(&after));
    assert_eq!(after.extra("password"), Some("[REDACTED]"));
    // A JSON number cannot be located in the line; the whole-line pass redacts it.
    assert_eq!(after.extra("cc"), Some("REDACTED"));
}

#[test]
fn json_with_escaped_fields_falls_back_to_the_whole_line() {
    let f = format("json");
    let p = keyed("json test key 0123456789");
    let line = r#"{"remote_addr":"203.0.113.5","uri":"\/account?token=T0K3N&x=1","status":200,"user_agent":"a\"b ops@corp.example"}"#;
    let out = anonymize(&p, f.as_ref(), line);
    assert_absent(&out, &["203.0.113.5", "T0K3N", "ops@corp"]);
    let after = f.parse(out.as_bytes()).expect("still JSON");
    assert_eq!(after.path(), Some("/account"));
    assert_eq!(after.status, Some(200));
}

#[test]
fn csic2010_password_body_and_cookie() {
    let f = format("csic2010");
    let p = keyed("csic test key 0123456789");
    let body = "modo=registro&login=beaumont&password=quiaNOCi1&nombre=Imperio&email=beau%40mont.example&B1=Registrar";
    let unit = format!(
        "POST http://localhost:8080/tienda1/publico/registro.jsp HTTP/1.1\nUser-Agent: Mozilla/5.0 (compatible; Konqueror/3.5; Linux)\nHost: localhost:8080\nCookie: JSESSIONID=933185092E0B668B90676E0A2B0767AF\nContent-Type: application/x-www-form-urlencoded\nContent-Length: {}\n\n{body}",
        body.len()
    );
    let out = anonymize(&p, f.as_ref(), &unit);
    assert_absent(&out, &["quiaNOCi1", "beau%40mont", "933185092E0B668B90676E0A2B0767AF"]);
    assert_eq!(out.lines().count(), unit.lines().count());
    let before = f.parse(unit.as_bytes()).unwrap();
    let after = f.parse(out.as_bytes()).unwrap();
    assert_eq!(shape(&before), shape(&after));
    let new_body = after.body.as_deref().unwrap();
    assert_eq!(after.extra("content-length"), Some(new_body.len().to_string().as_str()));
    assert!(new_body.contains("login=beaumont&password=REDACTED"), "{new_body}");
    assert_eq!(after.extra("cookie"), Some("JSESSIONID=[REDACTED]"));
}

#[test]
fn custom_nginx_with_forwarded_for() {
    let f = format(NGINX);
    let p = keyed("nginx test key 0123456789");
    let line = r#"10.0.0.8 - - [02/Mar/2026:10:00:00 +0000] "GET /a?sid=XYZ123 HTTP/1.1" 200 5 "-" "curl/8.0" "203.0.113.50, 2001:db8::99""#;
    let out = anonymize(&p, f.as_ref(), line);
    assert_absent(&out, &["10.0.0.8", "XYZ123", "203.0.113.50", "2001:db8::99"]);
    let after = f.parse(out.as_bytes()).unwrap();
    let xff = after.extra("$http_x_forwarded_for").unwrap();
    assert_eq!(
        xff,
        format!(
            "{}, {}",
            p.pseudonymize_client("203.0.113.50"),
            p.pseudonymize_client("2001:db8::99")
        )
    );
}

#[test]
fn pseudonyms_are_stable_for_a_key_and_differ_across_keys() {
    let f = format("combined");
    let line = r#"192.0.2.200 - - [02/Mar/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x""#;
    let a = keyed("first key ................");
    let b = keyed("second key ...............");
    assert_eq!(anonymize(&a, f.as_ref(), line), anonymize(&a, f.as_ref(), line));
    assert_ne!(anonymize(&a, f.as_ref(), line), anonymize(&b, f.as_ref(), line));
}

#[test]
fn truncation_keeps_24_and_48_bits() {
    let f = format("combined");
    let p = Privacy::new(ClientMode::TRUNCATE_DEFAULT, None, RedactionRules::default()).unwrap();
    let v4 = r#"192.0.2.200 - - [02/Mar/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x""#;
    let v6 =
        r#"2001:db8:abcd:12::1 - - [02/Mar/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x""#;
    let out = anonymize(&p, f.as_ref(), v4);
    assert!(out.starts_with("192.0.2.0 - - ["), "{out}");
    let out = anonymize(&p, f.as_ref(), v6);
    assert!(out.starts_with("2001:db8:abcd:: - - ["), "{out}");
}

#[test]
fn unparseable_lines_keep_no_address() {
    let p = keyed("garbage test key 0123456789");
    for spec in ["combined", "common", "json", NGINX] {
        let f = format(spec);
        let line = "oops 192.0.2.33 [2001:db8::5]:443 password=p4ss x@y.example \u{ff} \x01";
        let out = anonymize(&p, f.as_ref(), line);
        assert!(f.parse(line.as_bytes()).is_err(), "{spec}");
        assert_absent(&out, &["192.0.2.33", "2001:db8::5", "p4ss", "x@y.example"]);
        assert!(out.contains(p.pseudonymize_client("192.0.2.33").as_ref()));
    }
    let mut out = Vec::new();
    p.anonymize_line(format("combined").as_ref(), b"\xff\xfe 203.0.113.1 token=\xffabc", &mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("203.0.113.1") && !text.contains("abc"), "{text}");
}

#[test]
fn configured_rules() {
    let rules = RedactionRules {
        names: vec!["ssn".into()],
        literals: vec!["Project-Zeus".into()],
        token_prefixes: vec!["sk_live_".into()],
        ..RedactionRules::default()
    };
    let key = Key::new("rules test key 0123456789").unwrap();
    let p = Privacy::new(ClientMode::Hmac, Some(key), rules).unwrap();
    let f = format("combined");
    let line = r#"192.0.2.1 - - [02/Mar/2026:10:00:00 +0000] "GET /x?ssn=123-45-6789&k=sk_live_abc123 HTTP/1.1" 200 1 "-" "Project-Zeus bot""#;
    let out = anonymize(&p, f.as_ref(), line);
    assert_absent(&out, &["123-45-6789", "sk_live_abc123", "Project-Zeus"]);
    let after = f.parse(out.as_bytes()).unwrap();
    assert_eq!(after.query(), Some("ssn=REDACTED&k=REDACTED"));
}
