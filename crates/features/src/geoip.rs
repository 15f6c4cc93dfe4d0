//! Country and autonomous system of a client address, from a MaxMind DB (`.mmdb`) file.
//!
//! One file serves both: the country comes from `country.iso_code` (GeoIP2/GeoLite2
//! Country and City databases), the ASN from `autonomous_system_number` (the ASN
//! databases), and a database that has both gives both. Fields a database lacks are
//! simply absent.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::FeatureError;

/// An opened MaxMind database, read into memory once.
pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
    path: PathBuf,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb").field("path", &self.path).finish_non_exhaustive()
    }
}

/// What the database says about one address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2 country code (`FR`), when the database has one.
    pub country: Option<String>,
    /// Autonomous system number, when the database has one.
    pub asn: Option<u32>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    country: Option<Country<'a>>,
    autonomous_system_number: Option<u32>,
}

#[derive(Deserialize)]
struct Country<'a> {
    iso_code: Option<&'a str>,
}

impl GeoDb {
    /// Opens and checks a database file.
    pub fn open(path: &Path) -> Result<GeoDb, FeatureError> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|e| FeatureError::GeoIp { path: path.to_path_buf(), reason: e.to_string() })?;
        Ok(GeoDb { reader, path: path.to_path_buf() })
    }

    /// A database from its bytes (`label` names it in errors).
    pub fn from_bytes(bytes: Vec<u8>, label: &str) -> Result<GeoDb, FeatureError> {
        let path = PathBuf::from(label);
        let reader = maxminddb::Reader::from_source(bytes)
            .map_err(|e| FeatureError::GeoIp { path: path.clone(), reason: e.to_string() })?;
        Ok(GeoDb { reader, path })
    }

    /// The file the database was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Looks up a client address. `None` when the text is not an IP address, the
    /// database cannot hold it (an IPv6 address in an IPv4 database) or its entry
    /// cannot be decoded; an address the database does not cover gives an empty
    /// [`GeoInfo`].
    pub fn lookup(&self, addr: &str) -> Option<GeoInfo> {
        let ip: IpAddr = addr.trim().parse().ok()?;
        let result = self.reader.lookup(ip).ok()?;
        let entry = match result.decode::<Entry<'_>>() {
            Ok(Some(entry)) => entry,
            Ok(None) => return Some(GeoInfo::default()),
            Err(_) => return None,
        };
        Some(GeoInfo {
            country: entry.country.and_then(|c| c.iso_code).map(str::to_owned),
            asn: entry.autonomous_system_number,
        })
    }
}
