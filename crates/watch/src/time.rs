//! Wall-clock milliseconds and their RFC 3339 form, as incidents and alerts carry them.

use std::time::{SystemTime, UNIX_EPOCH};

use anomalog_ingest::Timestamp;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// RFC 3339 in UTC (`2024-05-01T12:00:00.5Z`).
pub fn rfc3339(ms: i64) -> String {
    Timestamp { unix_micros: ms.saturating_mul(1000), offset_secs: 0 }.to_string()
}

/// Milliseconds since the epoch from RFC 3339 text.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    Timestamp::parse_iso8601(text.as_bytes()).map(|t| t.unix_micros.div_euclid(1000))
}

/// Serde for milliseconds since the epoch as RFC 3339 text.
pub(crate) mod ms_rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_rfc3339(&text).ok_or_else(|| D::Error::custom("invalid RFC 3339 time"))
    }
}

/// Serde for an optional log timestamp as RFC 3339 text in its own zone.
pub(crate) mod opt_timestamp {
    use anomalog_ingest::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(t) => s.collect_str(t),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => Timestamp::parse_iso8601(text.as_bytes())
                .map(Some)
                .ok_or_else(|| D::Error::custom("invalid RFC 3339 time")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for ms in [0, 1_714_564_800_000, 1_714_564_800_500] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms), "{}", rfc3339(ms));
        }
        assert_eq!(rfc3339(1_714_564_800_000), "2024-05-01T12:00:00Z");
    }
}
