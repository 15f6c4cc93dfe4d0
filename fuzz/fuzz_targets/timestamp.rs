//! The timestamp parsers (CLF, ISO 8601, Unix epoch) on arbitrary bytes, and the
//! conversions of anything they accept.
#![no_main]

use anomalog_ingest::Timestamp;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for parsed in [Timestamp::parse_clf(data), Timestamp::parse_iso8601(data), Timestamp::parse_epoch(data)]
        .into_iter()
        .flatten()
    {
        let _ = (parsed.unix_secs(), parsed.local_civil());
        let _ = Timestamp::from_unix_secs_f64(parsed.unix_secs_f64());
    }
});
