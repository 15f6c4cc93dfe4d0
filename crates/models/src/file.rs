//! The model file container.
//!
//! Layout (integers little-endian):
//!
//! | bytes | content |
//! | --- | --- |
//! | 8 | magic `ANOMALOG` |
//! | 4 | format version (`u32`, [`MODEL_FORMAT_VERSION`]) |
//! | 4 + n | anomalog version that wrote the file (`u32` length + UTF-8) |
//! | 8 | payload length (`u64`) |
//! | 4 | CRC-32 of the payload (`u32`) |
//! | payload | the model, serialized with postcard |
//!
//! The checksum is verified before the payload is decoded, so a damaged file is reported
//! as such instead of decoding into a silently wrong model; the decoded model is then
//! checked for consistency ([`CheckedPayload`]), so a file whose payload decodes into an
//! impossible model (an index out of range, mismatched lengths, a NaN threshold) is an
//! error too, not a panic at scoring time.

use crate::calibrated::CalibratedDetector;
use crate::registry::AnyDetector;
use crate::traits::Detector;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{self, Read, Write};
use thiserror::Error;

/// First bytes of every model file.
pub const MAGIC: &[u8; 8] = b"ANOMALOG";
/// Version of the container and payload layout; bump on any incompatible change.
pub const MODEL_FORMAT_VERSION: u32 = 4;
/// Longest accepted writer version string, so a corrupt length cannot allocate much.
const MAX_VERSION_LEN: u32 = 256;

/// Reading or writing a model file failed.
#[derive(Debug, Error)]
pub enum ModelFileError {
    /// The underlying reader or writer failed.
    #[error("model file I/O: {0}")]
    Io(#[source] io::Error),
    /// The file ended before the header or payload was complete.
    #[error("model file is truncated ({0})")]
    Truncated(&'static str),
    /// The file does not start with `ANOMALOG`.
    #[error("not an anomalog model file (bad magic bytes)")]
    BadMagic,
    /// The file was written in another format version.
    #[error(
        "model file format version {found} (written by anomalog {writer}) is not supported; \
         this build reads version {expected}; retrain the model"
    )]
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        expected: u32,
        /// anomalog version that wrote the file, if readable.
        writer: String,
    },
    /// A header field is malformed.
    #[error("model file header is corrupt: {0}")]
    BadHeader(&'static str),
    /// The payload does not match its checksum.
    #[error("model file is corrupt (checksum {found:08x}, expected {expected:08x})")]
    Checksum {
        /// Checksum recorded in the header.
        expected: u32,
        /// Checksum of the payload read.
        found: u32,
    },
    /// The payload could not be encoded or decoded.
    #[error("model payload could not be (de)serialized: {0}")]
    Payload(#[source] postcard::Error),
    /// The payload decoded into a model that is not consistent.
    #[error("model file holds an inconsistent model ({0}); retrain the model")]
    Invalid(String),
}

/// A model that checks its own consistency once decoded from a file.
pub trait CheckedPayload {
    /// Errors with the first inconsistency found.
    fn check_payload(&self) -> Result<(), String>;
}

impl CheckedPayload for AnyDetector {
    fn check_payload(&self) -> Result<(), String> {
        self.validate().map_err(|e| e.to_string())
    }
}

impl CheckedPayload for CalibratedDetector {
    fn check_payload(&self) -> Result<(), String> {
        self.validate().map_err(|e| e.to_string())
    }
}

/// Header fields of a model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFileHeader {
    /// Format version.
    pub format_version: u32,
    /// anomalog version that wrote the file.
    pub writer_version: String,
    /// Payload bytes.
    pub payload_len: u64,
    /// CRC-32 of the payload.
    pub crc32: u32,
}

/// Writes `model` in the container format, recording `CARGO_PKG_VERSION` as the writer.
pub fn write_model_file<W: Write, T: Serialize>(mut w: W, model: &T) -> Result<(), ModelFileError> {
    let payload = postcard::to_stdvec(model).map_err(ModelFileError::Payload)?;
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let mut header = Vec::with_capacity(32 + version.len());
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&MODEL_FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&(version.len() as u32).to_le_bytes());
    header.extend_from_slice(version);
    header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    header.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    w.write_all(&header).map_err(ModelFileError::Io)?;
    w.write_all(&payload).map_err(ModelFileError::Io)?;
    w.flush().map_err(ModelFileError::Io)
}

fn read_exact<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    what: &'static str,
) -> Result<(), ModelFileError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => ModelFileError::Truncated(what),
        _ => ModelFileError::Io(e),
    })
}

fn read_u32<R: Read>(r: &mut R, what: &'static str) -> Result<u32, ModelFileError> {
    let mut b = [0u8; 4];
    read_exact(r, &mut b, what)?;
    Ok(u32::from_le_bytes(b))
}

/// Reads and checks the header, leaving `r` at the start of the payload.
pub fn read_model_header<R: Read>(r: &mut R) -> Result<ModelFileHeader, ModelFileError> {
    let mut magic = [0u8; 8];
    read_exact(r, &mut magic, "magic")?;
    if &magic != MAGIC {
        return Err(ModelFileError::BadMagic);
    }
    let format_version = read_u32(r, "format version")?;
    let len = read_u32(r, "writer version length")?;
    if len > MAX_VERSION_LEN {
        return Err(ModelFileError::BadHeader("writer version string too long"));
    }
    let mut v = vec![0u8; len as usize];
    read_exact(r, &mut v, "writer version")?;
    let writer_version = String::from_utf8_lossy(&v).into_owned();
    if format_version != MODEL_FORMAT_VERSION {
        return Err(ModelFileError::UnsupportedVersion {
            found: format_version,
            expected: MODEL_FORMAT_VERSION,
            writer: writer_version,
        });
    }
    let mut b = [0u8; 8];
    read_exact(r, &mut b, "payload length")?;
    let payload_len = u64::from_le_bytes(b);
    let crc32 = read_u32(r, "checksum")?;
    Ok(ModelFileHeader { format_version, writer_version, payload_len, crc32 })
}

/// Reads a model written by [`write_model_file`]. Truncation, bad magic, another format
/// version, checksum mismatch, undecodable payloads and inconsistent models are errors,
/// never panics.
pub fn read_model_file<R: Read, T: DeserializeOwned + CheckedPayload>(
    mut r: R,
) -> Result<T, ModelFileError> {
    let header = read_model_header(&mut r)?;
    // `take` + `read_to_end` grows the buffer with the data actually present, so a corrupt
    // length cannot trigger a huge allocation.
    let mut payload = Vec::new();
    r.by_ref().take(header.payload_len).read_to_end(&mut payload).map_err(ModelFileError::Io)?;
    if (payload.len() as u64) < header.payload_len {
        return Err(ModelFileError::Truncated("payload"));
    }
    let found = crc32fast::hash(&payload);
    if found != header.crc32 {
        return Err(ModelFileError::Checksum { expected: header.crc32, found });
    }
    let model: T = postcard::from_bytes(&payload).map_err(ModelFileError::Payload)?;
    model.check_payload().map_err(ModelFileError::Invalid)?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl CheckedPayload for (Vec<f64>, String) {
        fn check_payload(&self) -> Result<(), String> {
            if self.1.is_empty() { Err("empty name".into()) } else { Ok(()) }
        }
    }

    fn bytes<T: Serialize>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        write_model_file(&mut out, v).expect("write");
        out
    }

    #[test]
    fn round_trip_and_errors() {
        let v = (vec![1.5f64, f64::MIN_POSITIVE, -0.0], "x".to_owned());
        let b = bytes(&v);
        let back: (Vec<f64>, String) = read_model_file(&b[..]).expect("read");
        assert_eq!(bytes(&back), b);

        assert!(matches!(
            read_model_file::<_, (Vec<f64>, String)>(&b[..b.len() - 1]),
            Err(ModelFileError::Truncated("payload"))
        ));
        assert!(matches!(
            read_model_file::<_, (Vec<f64>, String)>(&b[..5]),
            Err(ModelFileError::Truncated("magic"))
        ));
        let mut bad = b.clone();
        bad[0] = b'X';
        assert!(matches!(
            read_model_file::<_, (Vec<f64>, String)>(&bad[..]),
            Err(ModelFileError::BadMagic)
        ));
        let mut other = b.clone();
        other[8] = 99;
        let e = read_model_file::<_, (Vec<f64>, String)>(&other[..]).expect_err("version");
        assert!(matches!(
            e,
            ModelFileError::UnsupportedVersion { found: 99, expected: MODEL_FORMAT_VERSION, .. }
        ));
        assert!(e.to_string().contains("retrain"));
        let empty = bytes(&(vec![1.0], String::new()));
        let e = read_model_file::<_, (Vec<f64>, String)>(&empty[..]).expect_err("inconsistent");
        assert!(matches!(e, ModelFileError::Invalid(ref r) if r == "empty name"), "{e}");
        let mut corrupt = b.clone();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0x55;
        assert!(matches!(
            read_model_file::<_, (Vec<f64>, String)>(&corrupt[..]),
            Err(ModelFileError::Checksum { .. })
        ));
    }
}
