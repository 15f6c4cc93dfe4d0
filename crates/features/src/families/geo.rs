//! Geography of the client: how rare its country and its autonomous system were in
//! training, from a MaxMind database ([`crate::geoip`]). A login from a country the
//! site never serves, or a burst from a hosting provider's network among residential
//! visitors, shows up here.
//!
//! The family exists in a pipeline exactly when it was fitted with a database
//! ([`crate::FeatureConfig::geoip`]), so the columns of a model never depend on the
//! machine that scores. Scoring without the database (or for a client that is not an
//! IP address) gives missing values: NaN raw rarities, imputed to the training median,
//! and `geo_missing` = 1. Missing is not an error, but a model fitted with geography
//! then sees `geo_missing` on every record, so scoring should attach the database
//! ([`crate::FeaturePipeline::attach_geoip`]) and can check with
//! [`crate::FeaturePipeline::uses_geoip`].
//!
//! An address the database does not cover counts as country `--` and ASN `0`, whose
//! rarity is learned like any other value's.

use serde::{Deserialize, Serialize};

use crate::families::basics::indicator;
use crate::families::{FeatureFamily, Input};
use crate::geoip::{GeoDb, GeoInfo};
use crate::hash::{PreHashedMap, hash_bytes};
use crate::preprocess::{FeatureSpec, Transform};
use crate::vocab::{Vocabulary, VocabularyBuilder};

/// Client addresses remembered with their lookup; the table is reset when full.
/// Clients repeat, and a lookup walks the database tree and decodes a map.
const CACHE_SIZE: usize = 65_536;

/// The country key of an address the database does not place in a country.
const UNKNOWN_COUNTRY: &str = "--";

/// The country and ASN frequencies learned from training clients.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct GeoModel {
    countries: Vocabulary,
    asns: Vocabulary,
}

/// Learns a [`GeoModel`].
#[derive(Default)]
pub struct GeoBuilder {
    countries: VocabularyBuilder,
    asns: VocabularyBuilder,
    cache: PreHashedMap<Option<GeoInfo>>,
    key: String,
}

fn country_key(info: &GeoInfo) -> &str {
    info.country.as_deref().unwrap_or(UNKNOWN_COUNTRY)
}

fn asn_key(info: &GeoInfo, key: &mut String) {
    use std::fmt::Write as _;
    key.clear();
    let _ = write!(key, "{}", info.asn.unwrap_or(0));
}

impl GeoBuilder {
    /// Learns from one training client address.
    pub fn add(&mut self, db: &GeoDb, addr: &str) {
        let h = hash_bytes(addr.as_bytes());
        if !self.cache.contains_key(&h) {
            if self.cache.len() >= CACHE_SIZE {
                self.cache.clear();
            }
            self.cache.insert(h, db.lookup(addr));
        }
        if let Some(Some(info)) = self.cache.get(&h) {
            self.countries.add(country_key(info));
            asn_key(info, &mut self.key);
            self.asns.add(&self.key);
        }
    }

    /// The fitted frequencies, each capped at `max_vocabulary` values.
    pub fn finish(self, max_vocabulary: usize) -> GeoModel {
        GeoModel {
            countries: self.countries.finish(max_vocabulary),
            asns: self.asns.finish(max_vocabulary),
        }
    }
}

/// The geography family over a fitted model and, when attached, the database.
pub struct Geo<'p> {
    model: &'p GeoModel,
    db: Option<&'p GeoDb>,
    /// Rarities of country and ASN per client address; `None` when the lookup failed.
    cache: PreHashedMap<Option<[f64; 2]>>,
    key: String,
}

impl<'p> Geo<'p> {
    /// The family scoring against `model`, with the database when there is one.
    pub fn new(model: &'p GeoModel, db: Option<&'p GeoDb>) -> Geo<'p> {
        Geo { model, db, cache: PreHashedMap::default(), key: String::new() }
    }

    fn rarities(&mut self, db: &GeoDb, addr: &str) -> Option<[f64; 2]> {
        let h = hash_bytes(addr.as_bytes());
        if let Some(&hit) = self.cache.get(&h) {
            return hit;
        }
        let value = db.lookup(addr).map(|info| {
            asn_key(&info, &mut self.key);
            [self.model.countries.rarity(country_key(&info)), self.model.asns.rarity(&self.key)]
        });
        if self.cache.len() >= CACHE_SIZE {
            self.cache.clear();
        }
        self.cache.insert(h, value);
        value
    }
}

const NAMES: [(&str, Transform); 3] = [
    ("geo_country_rarity", Transform::Identity),
    ("geo_asn_rarity", Transform::Identity),
    ("geo_missing", Transform::Binary),
];

impl FeatureFamily for Geo<'_> {
    fn specs(&self, out: &mut Vec<FeatureSpec>) {
        out.extend(NAMES.iter().map(|&(n, t)| FeatureSpec::new(n, t)));
    }

    fn push(&mut self, input: &Input<'_, '_>, out: &mut Vec<f64>) {
        let found = match (self.db, input.record.client.as_deref()) {
            (Some(db), Some(addr)) => self.rarities(db, addr),
            _ => None,
        };
        let [country, asn] = found.unwrap_or([f64::NAN; 2]);
        out.extend([country, asn, indicator(found.is_none())]);
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::net::Ipv4Addr;
    use std::path::PathBuf;

    use anomalog_ingest::{Record, Timestamp};

    use crate::mmdb_writer::{MmdbWriter, Value};
    use crate::{FeatureConfig, FeatureError, FeaturePipeline};

    fn network(country: &'static str, asn: u32) -> Value {
        Value::Map(vec![
            ("country", Value::Map(vec![("iso_code", Value::Str(country))])),
            ("autonomous_system_number", Value::U32(asn)),
        ])
    }

    fn database() -> Vec<u8> {
        let mut w = MmdbWriter::new();
        w.insert(Ipv4Addr::new(192, 0, 2, 0), 24, &network("FR", 64500));
        w.insert(Ipv4Addr::new(198, 51, 100, 0), 24, &network("DE", 64501));
        w.insert(Ipv4Addr::new(203, 0, 113, 0), 24, &network("KP", 64502));
        // An ASN-only entry, as in the GeoLite2 ASN database.
        w.insert(
            Ipv4Addr::new(100, 64, 0, 0),
            10,
            &Value::Map(vec![("autonomous_system_number", Value::U32(64999))]),
        );
        w.finish("GeoLite2-Country")
    }

    fn database_file(name: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("anomalog-{}-{name}.mmdb", std::process::id()));
        std::fs::write(&path, database()).unwrap();
        path
    }

    fn record(i: usize, client: &str) -> Record<'static> {
        Record {
            ts: Timestamp::from_unix_secs_f64(1_772_455_200.0 + i as f64),
            client: Some(Cow::Owned(client.to_owned())),
            method: Some(Cow::Borrowed("GET")),
            target: Some(Cow::Owned(format!("/products/{}", i % 50))),
            status: Some(200),
            ..Record::default()
        }
    }

    fn push(p: &FeaturePipeline, r: &Record<'_>) -> (Vec<f64>, Vec<f64>) {
        let (mut raw, mut scaled) = (Vec::new(), Vec::new());
        p.stream().push(r, &mut raw, &mut scaled);
        (raw, scaled)
    }

    fn col(p: &FeaturePipeline, name: &str) -> usize {
        p.names().iter().position(|n| n == name).unwrap()
    }

    #[test]
    fn lookups_read_country_and_asn() {
        let db = crate::geoip::GeoDb::from_bytes(database(), "test").unwrap();
        let fr = db.lookup("192.0.2.77").unwrap();
        assert_eq!(fr.country.as_deref(), Some("FR"));
        assert_eq!(fr.asn, Some(64500));
        let asn_only = db.lookup("100.100.1.1").unwrap();
        assert_eq!((asn_only.country, asn_only.asn), (None, Some(64999)));
        assert_eq!(db.lookup("8.8.8.8"), Some(Default::default()));
        assert_eq!(db.lookup("not an address"), None);
        // An IPv4 database cannot place an IPv6 address.
        assert_eq!(db.lookup("2001:db8::1"), None);
        assert!(crate::geoip::GeoDb::from_bytes(b"garbage".to_vec(), "bad").is_err());
    }

    #[test]
    fn a_country_never_seen_in_training_is_rare() {
        let path = database_file("rare");
        // Mostly French clients, some German.
        let training: Vec<Record> = (0..1000)
            .map(|i| {
                let client = if i % 10 == 0 {
                    format!("198.51.100.{}", i % 200)
                } else {
                    format!("192.0.2.{}", i % 250)
                };
                record(i, &client)
            })
            .collect();
        let config = FeatureConfig { geoip: Some(path.clone()), ..Default::default() };
        let (p, matrix) = FeaturePipeline::fit(config, &training).unwrap();
        assert!(p.uses_geoip() && p.has_geoip());
        assert!(matrix.iter().all(|x| x.is_finite()));
        let (country, asn, missing) =
            (col(&p, "geo_country_rarity"), col(&p, "geo_asn_rarity"), col(&p, "geo_missing"));

        let (fr, _) = push(&p, &record(2000, "192.0.2.9"));
        let (de, _) = push(&p, &record(2000, "198.51.100.9"));
        let (kp, kp_scaled) = push(&p, &record(2000, "203.0.113.9"));
        let (unknown, _) = push(&p, &record(2000, "8.8.8.8"));
        assert!(fr[country] < 0.1, "{}", fr[country]);
        assert!((de[country] - 1.0).abs() < 0.05, "{}", de[country]);
        assert!(kp[country] > 3.0 && kp[asn] > 3.0, "{} {}", kp[country], kp[asn]);
        assert!(kp_scaled[country] > 10.0, "{}", kp_scaled[country]);
        assert!(unknown[country] > 3.0);
        assert_eq!((fr[missing], kp[missing], unknown[missing]), (0.0, 0.0, 0.0));
        let (bad, _) = push(&p, &record(2000, "not-an-ip"));
        assert!(bad[country].is_nan() && bad[missing] == 1.0);

        // A model file carries the frequencies but not the database.
        let mut q: FeaturePipeline =
            serde_json::from_slice(&serde_json::to_vec(&p).unwrap()).unwrap();
        assert_eq!(q.names(), p.names());
        assert!(q.uses_geoip() && !q.has_geoip());
        let (raw, scaled) = push(&q, &record(2000, "203.0.113.9"));
        assert!(raw[country].is_nan() && raw[asn].is_nan() && raw[missing] == 1.0);
        assert_eq!(scaled[country], 0.0);
        q.attach_geoip(&path).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&push(&q, &record(2000, "203.0.113.9")).0), bits(&kp));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn without_a_database_there_are_no_geography_columns() {
        let training: Vec<Record> = (0..50).map(|i| record(i, "192.0.2.1")).collect();
        let (mut p, _) = FeaturePipeline::fit(FeatureConfig::default(), &training).unwrap();
        assert!(!p.uses_geoip());
        assert!(p.names().iter().all(|n| !n.starts_with("geo_")));
        let path = database_file("unused");
        p.attach_geoip(&path).unwrap();
        assert!(p.names().iter().all(|n| !n.starts_with("geo_")));
        std::fs::remove_file(&path).unwrap();

        let config = FeatureConfig {
            geoip: Some("/nonexistent/GeoLite2.mmdb".into()),
            ..Default::default()
        };
        let err = FeaturePipeline::fit(config, &training).unwrap_err();
        assert!(matches!(err, FeatureError::GeoIp { .. }), "{err}");
        assert!(err.to_string().contains("/nonexistent/GeoLite2.mmdb"));
    }
}
