//! The model file loader on arbitrary bytes: a corrupt or hostile file must be an
//! error, never a panic or a huge allocation. The bytes are tried as a whole file, and
//! as the payload of a file with a valid header and checksum, so that the payload
//! decoder is reached too.
#![no_main]

use anomalog_models::file::{MAGIC, MODEL_FORMAT_VERSION, read_model_file};
use anomalog_pipeline::Model;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = read_model_file::<_, Model>(data);

    let version = b"0.1.0";
    let mut file = Vec::with_capacity(data.len() + 40);
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&MODEL_FORMAT_VERSION.to_le_bytes());
    file.extend_from_slice(&(version.len() as u32).to_le_bytes());
    file.extend_from_slice(version);
    file.extend_from_slice(&(data.len() as u64).to_le_bytes());
    file.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    file.extend_from_slice(data);
    let _ = read_model_file::<_, Model>(file.as_slice());
});
