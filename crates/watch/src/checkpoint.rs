//! The durable store of source positions (and of the open incidents, so that both are
//! committed together).
//!
//! One JSON file, replaced atomically: the new content is written to a temporary file
//! beside it, fsynced, renamed over the old file, and the directory is fsynced, so
//! after a crash (even `kill -9` or a power cut) the file holds either the old or the
//! new state, never a mixture.
//!
//! The incident state goes to a journal beside it (`FILE.incidents-G.jsonl`), to which
//! each save appends what changed (fsynced before the JSON file is replaced); the JSON
//! file records the journal's generation `G` and the length that belongs to it, so
//! bytes appended by a save that did not finish are ignored (and cut off) on restart.
//! Once the journal has grown well past the state it describes, a save starts the next
//! generation with the whole state, and the old file is removed after the JSON file
//! points at the new one.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::WatchError;
use crate::source::Checkpoint;

const VERSION: u32 = 1;

/// A journal starts afresh once it is this many times the size of the whole state
/// written at its start (and at least [`JOURNAL_MIN_BYTES`]).
const JOURNAL_GROWTH: u64 = 4;
const JOURNAL_MIN_BYTES: u64 = 4 << 20;

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    sources: BTreeMap<String, Checkpoint>,
    /// The incident state in one value (files written before the journal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    incidents: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    journal: Option<JournalRef>,
}

/// Which incident journal belongs to the checkpoint, and how much of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct JournalRef {
    generation: u64,
    len: u64,
}

/// The open journal file.
#[derive(Debug)]
struct Journal {
    generation: u64,
    file: File,
    /// Bytes written and synced (the length the next save records).
    len: u64,
    /// Size of the whole state it started with.
    base: u64,
}

/// Positions of all sources by source id, loaded at start and saved after each batch.
#[derive(Debug)]
pub struct CheckpointStore {
    path: PathBuf,
    state: StoreFile,
    dirty: bool,
    /// The incident journal as read at open, until taken.
    replay: Option<Vec<u8>>,
    journal: Option<Journal>,
    /// A journal generation to remove once the JSON file no longer points at it.
    retired: Option<u64>,
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
        let mut store = CheckpointStore {
            path,
            state,
            dirty: false,
            replay: None,
            journal: None,
            retired: None,
        };
        if let Some(jr) = store.state.journal {
            store.open_journal(jr)?;
        }
        Ok(store)
    }

    fn journal_path(&self, generation: u64) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".incidents-{generation}.jsonl"));
        PathBuf::from(name)
    }

    /// Opens the journal the file points at, reads the part that belongs to it and cuts
    /// off what a save that did not finish appended.
    fn open_journal(&mut self, jr: JournalRef) -> Result<(), WatchError> {
        let path = self.journal_path(jr.generation);
        let io = |e| WatchError::io(&path, e);
        let mut file = OpenOptions::new().read(true).append(true).open(&path).map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        if (bytes.len() as u64) < jr.len {
            return Err(WatchError::CorruptState {
                path,
                message: format!("{} bytes, the checkpoint expects {}", bytes.len(), jr.len),
            });
        }
        if bytes.len() as u64 > jr.len {
            bytes.truncate(jr.len as usize);
            file.set_len(jr.len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        self.replay = Some(bytes);
        self.journal = Some(Journal { generation: jr.generation, file, len: jr.len, base: 0 });
        // Left behind by a crash between a save and the removal.
        if let Some(previous) = jr.generation.checked_sub(1) {
            let _ = fs::remove_file(self.journal_path(previous));
        }
        Ok(())
    }

    /// The incident journal read at open (see
    /// [`crate::incident::IncidentTracker::replay_journal`]), once.
    pub fn take_incident_journal(&mut self) -> Option<Vec<u8>> {
        self.replay.take()
    }

    /// Whether the next incident save should be a whole state
    /// ([`CheckpointStore::restart_incidents`]) rather than changes: there is no journal
    /// yet, or it has grown well past the state it started with.
    pub fn incidents_need_restart(&self) -> bool {
        match &self.journal {
            None => true,
            Some(j) => j.len > JOURNAL_MIN_BYTES.max(JOURNAL_GROWTH.saturating_mul(j.base)),
        }
    }

    /// Appends journal lines of changed incidents, durably (the next
    /// [`CheckpointStore::save`] records them). Starts a journal if there is none.
    pub fn append_incidents(&mut self, lines: &[u8]) -> Result<(), WatchError> {
        if lines.is_empty() {
            return Ok(());
        }
        if self.journal.is_none() {
            return self.restart_incidents(lines);
        }
        let path = self.journal.as_ref().map(|j| self.journal_path(j.generation));
        let Some(j) = self.journal.as_mut() else { return Ok(()) };
        let written = j.file.write_all(lines).and_then(|()| j.file.sync_data());
        if let Err(e) = written {
            // Cut off a partial write so the journal stays whole lines.
            let _ = j.file.set_len(j.len);
            return Err(WatchError::io(path.unwrap_or_default(), e));
        }
        j.len += lines.len() as u64;
        self.state.journal = Some(JournalRef { generation: j.generation, len: j.len });
        self.dirty = true;
        Ok(())
    }

    /// Starts the next journal generation with `whole`, the whole incident state, durably;
    /// the old generation is removed after the next [`CheckpointStore::save`].
    pub fn restart_incidents(&mut self, whole: &[u8]) -> Result<(), WatchError> {
        let generation = self.journal.as_ref().map_or(0, |j| j.generation + 1);
        let path = self.journal_path(generation);
        let io = |e| WatchError::io(&path, e);
        let mut file =
            OpenOptions::new().create(true).write(true).truncate(true).open(&path).map_err(io)?;
        file.write_all(whole).and_then(|()| file.sync_all()).map_err(io)?;
        sync_dir(&path).map_err(io)?;
        // Appends go to the end from here on.
        let file = OpenOptions::new().append(true).open(&path).map_err(io)?;
        let len = whole.len() as u64;
        if let Some(old) = self.journal.replace(Journal { generation, file, len, base: len }) {
            if self.retired.is_none() {
                self.retired = Some(old.generation);
            } else {
                // Started since the last save: the JSON file never pointed at it.
                let _ = fs::remove_file(self.journal_path(old.generation));
            }
        }
        self.state.incidents = None;
        self.state.journal = Some(JournalRef { generation, len });
        self.dirty = true;
        Ok(())
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

    /// The incident tracker state of a file written before the journal.
    pub fn incidents(&self) -> Option<&serde_json::Value> {
        self.state.incidents.as_ref()
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
        if let Some(old) = self.retired.take() {
            let _ = fs::remove_file(self.journal_path(old));
        }
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
        store.save().unwrap();
        let store = CheckpointStore::open(&path).unwrap();
        assert_eq!(store.get("a"), Some(&Checkpoint(serde_json::json!({"offset": 42}))));
        assert_eq!(store.incidents(), None);
        assert!(!dir.path().join("cp.json.tmp").exists());
    }

    #[test]
    fn incident_journal_appends_restarts_and_ignores_unsaved_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        let mut store = CheckpointStore::open(&path).unwrap();
        assert!(store.incidents_need_restart());
        store.restart_incidents(b"a\n").unwrap();
        store.append_incidents(b"b\n").unwrap();
        store.save().unwrap();
        assert!(!store.incidents_need_restart());
        // Appended but not saved: a crash now leaves bytes the checkpoint does not cover.
        store.append_incidents(b"c\n").unwrap();
        drop(store);
        let mut store = CheckpointStore::open(&path).unwrap();
        assert_eq!(store.take_incident_journal().as_deref(), Some(&b"a\nb\n"[..]));
        store.append_incidents(b"d\n").unwrap();
        store.save().unwrap();
        let mut store = CheckpointStore::open(&path).unwrap();
        assert_eq!(store.take_incident_journal().as_deref(), Some(&b"a\nb\nd\n"[..]));
        // A new generation replaces the old one once saved.
        store.restart_incidents(b"e\n").unwrap();
        assert!(dir.path().join("cp.json.incidents-0.jsonl").exists());
        store.save().unwrap();
        assert!(!dir.path().join("cp.json.incidents-0.jsonl").exists());
        let mut store = CheckpointStore::open(&path).unwrap();
        assert_eq!(store.take_incident_journal().as_deref(), Some(&b"e\n"[..]));
        // A journal shorter than the checkpoint says is damage, not an empty state.
        fs::write(dir.path().join("cp.json.incidents-1.jsonl"), b"").unwrap();
        assert!(matches!(CheckpointStore::open(&path), Err(WatchError::CorruptState { .. })));
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        fs::write(&path, b"{not json").unwrap();
        assert!(matches!(CheckpointStore::open(&path), Err(WatchError::CorruptState { .. })));
    }
}
