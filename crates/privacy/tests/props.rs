//! Properties of `anonymize_line` over generated input.

use anomalog_ingest::formats::{FormatOptions, from_spec};
use anomalog_privacy::{Key, Privacy};
use proptest::prelude::*;

fn privacy() -> Privacy {
    Privacy::keyed(Key::new("property test key 0123456789").unwrap())
}

const SPECS: &[&str] = &["combined", "common", "json", "csic2010", "uri"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Never panics and never changes the number of lines, whatever the bytes.
    #[test]
    fn any_bytes(line in proptest::collection::vec(any::<u8>(), 0..300), which in 0..SPECS.len()) {
        let f = from_spec(SPECS[which], &FormatOptions::default()).unwrap();
        let mut out = Vec::new();
        privacy().anonymize_line(f.as_ref(), &line, &mut out);
        let lines = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count();
        prop_assert_eq!(lines(&line), lines(&out));
    }

    /// Text made of log-ish pieces reaches the detectors more often than random bytes.
    #[test]
    fn log_like_text(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just("password="), Just("token: "), Just("\"key\":"), Just("@"), Just("."),
                Just("eyJhbGciOiJIUzI1NiJ9"), Just("4111 1111 1111 1111"), Just("Bearer "),
                Just(" 192.0.2.1 "), Just("::"), Just("2001:db8"), Just("\\"), Just("\""),
                Just("\n"), Just("%40"), Just("?"), Just("&"), Just("é"), Just(" "),
                "[a-z0-9]{1,6}".prop_map(|s| &*Box::leak(s.into_boxed_str())),
            ],
            0..40,
        ),
        which in 0..SPECS.len(),
    ) {
        let line = pieces.concat();
        let f = from_spec(SPECS[which], &FormatOptions::default()).unwrap();
        let mut out = Vec::new();
        privacy().anonymize_line(f.as_ref(), line.as_bytes(), &mut out);
        prop_assert_eq!(line.matches('\n').count(), out.iter().filter(|&&c| c == b'\n').count());
        let text = String::from_utf8(out).expect("valid UTF-8 in, valid UTF-8 out");
        // An unparseable line keeps no address; a parsed one may have one in its target
        // (the `uri` format's whole line), which is not a client address.
        if f.parse(line.as_bytes()).is_err() {
            prop_assert!(!text.contains(" 192.0.2.1 "), "{}", text);
        }
    }

    /// A valid combined line still parses as combined with the same method, path and
    /// status, and loses its client address and secret values.
    #[test]
    fn combined_round_trip(
        a in 1u8..=254, b in any::<u8>(), c in any::<u8>(), d in 1u8..=254,
        v6 in any::<bool>(),
        method in prop_oneof![Just("GET"), Just("POST"), Just("HEAD"), Just("PUT")],
        path in "(/[a-zA-Z0-9_.~-]{1,10}){1,4}",
        param in "[a-z]{1,8}",
        value in "[a-zA-Z0-9]{1,12}",
        secret in "[a-zA-Z0-9]{6,16}",
        status in 100u16..600,
        agent in "[a-zA-Z0-9/.;() ]{0,40}",
    ) {
        let client = if v6 {
            format!("2001:db8:{a:x}{b:02x}::{c:x}{d:02x}")
        } else {
            format!("{a}.{b}.{c}.{d}")
        };
        let line = format!(
            r#"{client} - - [02/Mar/2026:10:00:00 +0000] "{method} {path}?{param}={value}&password={secret} HTTP/1.1" {status} 42 "-" "{agent}""#
        );
        let f = from_spec("combined", &FormatOptions::default()).unwrap();
        let p = privacy();
        let mut out = Vec::new();
        p.anonymize_line(f.as_ref(), line.as_bytes(), &mut out);
        let before = f.parse(line.as_bytes()).unwrap();
        let after = f.parse(&out).unwrap();
        prop_assert_eq!(&before.method, &after.method);
        prop_assert_eq!(before.path(), after.path());
        prop_assert_eq!(before.status, after.status);
        prop_assert_eq!(before.bytes, after.bytes);
        let pseudonym = p.pseudonymize_client(&client);
        prop_assert_eq!(after.client.as_deref(), Some(pseudonym.as_ref()));
        let text = String::from_utf8_lossy(&out);
        prop_assert!(!text.contains(&format!("password={secret}")), "{}", text);
        prop_assert!(!text.contains(&format!("{client} ")), "{}", text);
    }
}
