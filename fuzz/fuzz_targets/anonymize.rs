//! The anonymizer on arbitrary lines of every format: it must not panic, must keep the
//! number of lines, and must never let the parsed client address through.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use anomalog_ingest::Format;
use anomalog_ingest::formats::{FormatOptions, from_spec};
use anomalog_privacy::{Key, Privacy};

struct Setup {
    formats: Vec<Box<dyn Format>>,
    keyed: Privacy,
    truncating: Privacy,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let specs = ["combined", "common", common::NGINX, common::APACHE, "json", "csic2010", "uri"];
        let formats = specs
            .iter()
            .filter_map(|spec| from_spec(spec, &FormatOptions::default()).ok())
            .collect();
        let Ok(key) = Key::new("fuzzing key, not a secret") else { panic!("key refused") };
        Setup { formats, keyed: Privacy::keyed(key), truncating: Privacy::truncating() }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, line)) = data.split_first() else { return };
    let setup = setup();
    let format = setup.formats[usize::from(selector) % setup.formats.len()].as_ref();
    let privacy = if selector & 0x80 == 0 { &setup.keyed } else { &setup.truncating };
    let mut out = Vec::new();
    privacy.anonymize_line(format, line, &mut out);
    let count = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count();
    assert_eq!(count(line), count(&out), "the number of lines changed");
    if selector & 0x80 == 0
        && let Ok(record) = format.parse(line)
        && let Some(client) = record.client.as_deref()
        && client.parse::<std::net::IpAddr>().is_ok()
    {
        let text = String::from_utf8_lossy(&out);
        if let Ok(again) = format.parse(&out) {
            assert_ne!(again.client.as_deref(), Some(client), "the client address came through");
        }
        assert!(!text.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':')).any(|w| w == client),
            "the client address {client} is still in {text}");
    }
});
