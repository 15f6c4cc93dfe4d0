//! The durable store of source positions (and of the open incidents, so that both are
//! committed together).
//!
//! One JSON file, replaced atomically: the new content is written to a temporary file
//! beside it, fsynced, renamed over the old file, and the directory is fsynced, so
//! after a crash (even `kill -9` or a power cut) the file holds either the old or the
//! new state, never a mixture.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::WatchError;
use crate::source::Checkpoint;

const VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    sources: BTreeMap<String, Checkpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    incidents: Option<serde_json::Value>,
}

/// Positions of all sources by source id, loaded at start and saved after each batch.
#[derive(Debug)]
pub struct CheckpointStore {
    path: PathBuf,
    state: StoreFile,
    dirty: bool,
}

impl CheckpointStore {
    /// Opens the store at `path`, loading it if it exists. A file that exists but
    /// cannot be read is an error, not an empty store: starting over silently would
    /// score lines twice or skip them.
    pub fn open(path: impl Into<PathBuf>) -> Result<CheckpointStore, WatchError> {
        let path = path.into();
        let state = match fs::read(&path) {
            Ok(bytes) => {
                let state: StoreFile = serde_json::from_slice(&bytes).map_err(|e| {
                    WatchError::CorruptState { path: path.clone(), message: e.to_string() }
                })?;
                if state.version != VERSION {
                    return Err(WatchError::CorruptState {
                        path,
                        message: format!("version {} (expected {VERSION})", state.version),
                    });
                }
                state
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                StoreFile { version: VERSION, ..StoreFile::default() }
            }
            Err(e) => return Err(WatchError::io(path, e)),
        };
        Ok(CheckpointStore { path, state, dirty: false })
    }

    /// The file behind the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored position of source `id`.
    pub fn get(&self, id: &str) -> Option<&Checkpoint> {
        self.state.sources.get(id)
    }

    /// Records the position of source `id` (saved by the next [`CheckpointStore::save`]).
    pub fn set(&mut self, id: &str, checkpoint: Checkpoint) {
        if self.state.sources.get(id) != Some(&checkpoint) {
            self.state.sources.insert(id.to_string(), checkpoint);
            self.dirty = true;
        }
    }

    /// The stored incident tracker state.
    pub fn incidents(&self) -> Option<&serde_json::Value> {
        self.state.incidents.as_ref()
    }

    /// Records the incident tracker state (saved by the next save).
    pub fn set_incidents(&mut self, state: serde_json::Value) {
        if self.state.incidents.as_ref() != Some(&state) {
            self.state.incidents = Some(state);
            self.dirty = true;
        }
    }

    /// Writes the store durably if anything changed since the last save.
    pub fn save(&mut self) -> Result<(), WatchError> {
        if !self.dirty {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&self.state).map_err(|e| WatchError::CorruptState {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&self.path, &bytes)?;
        self.dirty = false;
        Ok(())
    }
}

/// Replaces `path` with `bytes` atomically and durably (temp file, fsync, rename,
/// fsync of the directory).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WatchError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(path)
    };
    write().map_err(|e| WatchError::io(path, e))
}

/// Fsyncs the directory holding `path`, making a rename or a creation in it durable.
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        let mut store = CheckpointStore::open(&path).unwrap();
        assert!(store.get("a").is_none());
        store.set("a", Checkpoint(serde_json::json!({"offset": 42})));
        store.set_incidents(serde_json::json!([1, 2]));
        store.save().unwrap();
        let store = CheckpointStore::open(&path).unwrap();
        assert_eq!(store.get("a"), Some(&Checkpoint(serde_json::json!({"offset": 42}))));
        assert_eq!(store.incidents(), Some(&serde_json::json!([1, 2])));
        assert!(!dir.path().join("cp.json.tmp").exists());
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        fs::write(&path, b"{not json").unwrap();
        assert!(matches!(CheckpointStore::open(&path), Err(WatchError::CorruptState { .. })));
    }
}
