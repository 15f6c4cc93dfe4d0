//! Following files like `tail -F`: by path or glob, across rotation by rename,
//! copytruncate, late appearance and deletion, with a resumable position.
//!
//! Files are tracked by identity (device and inode), not by path. A scan (at most every
//! `rescan` interval) expands the pattern: a path whose identity is already followed
//! just updates that file's name; a new identity is a new file, read from its start.
//! A followed file no longer found at any matching path (renamed away or deleted) is
//! drained: it is read on until it has been quiet for `rotate_grace`, so lines a server
//! writes to its old descriptor just after rotation are not lost. A file whose size
//! drops below the read position was truncated in place (copytruncate) and is read
//! again from its start.
//!
//! The position of a file is the byte offset just after the last complete line handed
//! out, so a checkpoint never splits a line; a final line without a newline is handed
//! out only when its file is closed after draining.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Checkpoint, LineBatch, Source, SourceHealth};
use crate::error::WatchError;

/// Where to start in a file that exists when following begins without a checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// At its start: every line already in it is read.
    Beginning,
    /// At its end, as `tail -F` does: only lines written from now on are read.
    #[default]
    End,
}

/// How files are followed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileSourceConfig {
    /// Where to start in files that exist at the first start (no checkpoint). Files
    /// that appear later, and new files after a rotation, are always read from their
    /// start.
    pub start_at: StartAt,
    /// How long a rotated-away or deleted file is drained after its last new data,
    /// in milliseconds.
    pub rotate_grace_ms: u64,
    /// How often the path or glob is checked for new, rotated or deleted files, in
    /// milliseconds.
    pub rescan_ms: u64,
    /// Lines longer than this many bytes are skipped and counted.
    pub max_line: usize,
    /// At most this many files are followed at once; further matches are ignored.
    pub max_files: usize,
}

impl Default for FileSourceConfig {
    fn default() -> Self {
        FileSourceConfig {
            start_at: StartAt::End,
            rotate_grace_ms: 5_000,
            rescan_ms: 250,
            max_line: 1 << 20,
            max_files: 256,
        }
    }
}

/// The position in one followed file, as stored in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    /// The path the file had when last seen.
    pub path: PathBuf,
    /// Device number of the file.
    pub dev: u64,
    /// Inode number of the file.
    pub ino: u64,
    /// Byte offset just after the last complete line handed out.
    pub offset: u64,
    /// Number of lines handed out before `offset` since following began.
    pub line: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileState {
    files: Vec<FilePosition>,
}

const CHUNK: usize = 64 * 1024;
/// Compressed rotated files match globs like `access.log*` but are not text to follow.
const COMPRESSED: [&str; 5] = [".gz", ".zst", ".bz2", ".xz", ".lz4"];

struct Tail {
    path: PathBuf,
    origin: Arc<str>,
    file: File,
    identity: (u64, u64),
    /// Offset just after the last complete line handed out.
    offset: u64,
    /// Offset of the file descriptor.
    read_pos: u64,
    /// Size seen at the last read, for the lag.
    size: u64,
    line_no: u64,
    /// Bytes read but not handed out: complete lines not yet taken, then a partial one.
    pending: Vec<u8>,
    /// Inside a line longer than the limit, discarding until its newline.
    skipping: bool,
    /// Whether the file is at a path matching the pattern (not rotated away or deleted).
    live: bool,
    last_data: Instant,
}

impl Tail {
    fn open(path: &Path, file: File, identity: (u64, u64), offset: u64, line_no: u64) -> Tail {
        Tail {
            path: path.to_path_buf(),
            origin: Arc::from(path.to_string_lossy().as_ref()),
            file,
            identity,
            offset,
            read_pos: offset,
            size: offset,
            line_no,
            pending: Vec::new(),
            skipping: false,
            live: true,
            last_data: Instant::now(),
        }
    }

    fn rewind(&mut self) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        self.offset = 0;
        self.read_pos = 0;
        self.line_no = 0;
        self.pending.clear();
        self.skipping = false;
        Ok(())
    }

    /// Hands out complete lines from `pending`, at most `max`; returns how many.
    fn take_lines(&mut self, out: &mut LineBatch, max: usize) -> usize {
        let mut n = 0;
        let mut consumed = 0;
        while n < max {
            let Some(nl) = memchr(&self.pending[consumed..]) else { break };
            let mut line = &self.pending[consumed..consumed + nl];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            self.line_no += 1;
            out.push(&self.origin, self.line_no, line);
            consumed += nl + 1;
            n += 1;
        }
        if consumed > 0 {
            self.pending.drain(..consumed);
            self.offset += consumed as u64;
        }
        n
    }

    /// Reads up to `max` lines; returns how many were handed out.
    fn read_lines(
        &mut self,
        out: &mut LineBatch,
        max: usize,
        max_line: usize,
        health: &mut SourceHealth,
    ) -> std::io::Result<usize> {
        let mut n = self.take_lines(out, max);
        let mut chunk = [0u8; CHUNK];
        while n < max {
            let size = self.file.metadata()?.len();
            if size < self.read_pos {
                self.rewind()?;
            }
            self.size = size;
            if size == self.read_pos {
                break;
            }
            let got = self.file.read(&mut chunk)?;
            if got == 0 {
                break;
            }
            self.read_pos += got as u64;
            self.last_data = Instant::now();
            let mut data = &chunk[..got];
            if self.skipping {
                match memchr(data) {
                    Some(nl) => {
                        self.skipping = false;
                        self.offset = self.read_pos - (got - nl - 1) as u64;
                        data = &data[nl + 1..];
                    }
                    None => continue,
                }
            }
            self.pending.extend_from_slice(data);
            n += self.take_lines(out, max - n);
            if self.pending.len() > max_line && memchr(&self.pending).is_none() {
                // The line is over-long: drop what is held and skip to its newline. The
                // position stays at its start until the newline is found, so a restart
                // skips it again rather than reading its tail as a line.
                health.oversized += 1;
                self.pending.clear();
                self.skipping = true;
            }
        }
        Ok(n)
    }

    fn position(&self) -> FilePosition {
        FilePosition {
            path: self.path.clone(),
            dev: self.identity.0,
            ino: self.identity.1,
            offset: self.offset,
            line: self.line_no,
        }
    }
}

fn memchr(s: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', s)
}

fn identity(meta: &fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// Follows the files matching one path or glob. See the module documentation.
pub struct FileSource {
    id: String,
    pattern: String,
    is_glob: bool,
    config: FileSourceConfig,
    tails: Vec<Tail>,
    last_scan: Option<Instant>,
    /// Files found at the first scan start at `config.start_at`; with a checkpoint, or
    /// after the first scan, new files start at 0.
    first_scan_at_end: bool,
    health: SourceHealth,
}

impl FileSource {
    /// Follows `pattern` (a path, or a glob with `*`, `?` or `[`), resuming from
    /// `checkpoint` when given. Files do not need to exist yet.
    pub fn new(
        pattern: &str,
        config: FileSourceConfig,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<FileSource, WatchError> {
        let is_glob = pattern.contains(['*', '?', '[']);
        if is_glob {
            glob::Pattern::new(pattern)
                .map_err(|e| WatchError::Config(format!("file source `{pattern}`: {e}")))?;
        }
        let mut source = FileSource {
            id: format!("file:{pattern}"),
            pattern: pattern.to_string(),
            is_glob,
            first_scan_at_end: checkpoint.is_none() && config.start_at == StartAt::End,
            config,
            tails: Vec::new(),
            last_scan: None,
            health: SourceHealth::default(),
        };
        if let Some(cp) = checkpoint {
            let state: FileState = cp.to_state().ok_or_else(|| WatchError::CorruptState {
                path: PathBuf::from(&source.id),
                message: "checkpoint is not a file source position".into(),
            })?;
            for pos in state.files {
                source.restore(&pos);
            }
        }
        Ok(source)
    }

    /// Reopens the file of a stored position: at its path if the identity still
    /// matches, else among the pattern's matches and the path's rotated siblings
    /// (`access.log.1`, `access.log-20240101`). A file that cannot be found is gone,
    /// with whatever it held.
    fn restore(&mut self, pos: &FilePosition) {
        let want = (pos.dev, pos.ino);
        let mut candidates = vec![pos.path.clone()];
        candidates.extend(self.expand());
        if let (Some(dir), Some(name)) = (pos.path.parent(), pos.path.file_name()) {
            let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
            let name = name.to_string_lossy();
            if let Ok(entries) = fs::read_dir(dir) {
                for entry in entries.flatten() {
                    if entry.file_name().to_string_lossy().starts_with(name.as_ref()) {
                        candidates.push(entry.path());
                    }
                }
            }
        }
        for path in candidates {
            let Ok(meta) = fs::metadata(&path) else { continue };
            if identity(&meta) != want {
                continue;
            }
            let Ok(mut file) = File::open(&path) else { continue };
            let Ok(meta) = file.metadata() else { continue };
            if identity(&meta) != want || self.tails.iter().any(|t| t.identity == want) {
                continue;
            }
            // Same file, now shorter than the position: truncated in place while down.
            let (offset, line) =
                if meta.len() < pos.offset { (0, 0) } else { (pos.offset, pos.line) };
            if file.seek(SeekFrom::Start(offset)).is_err() {
                continue;
            }
            self.tails.push(Tail::open(&path, file, want, offset, line));
            return;
        }
    }

    fn expand(&self) -> Vec<PathBuf> {
        if !self.is_glob {
            return vec![PathBuf::from(&self.pattern)];
        }
        let Ok(paths) = glob::glob(&self.pattern) else { return Vec::new() };
        paths
            .flatten()
            .filter(|p| {
                let s = p.to_string_lossy();
                !COMPRESSED.iter().any(|ext| s.ends_with(ext))
            })
            .collect()
    }

    fn scan(&mut self) {
        let at_end = std::mem::replace(&mut self.first_scan_at_end, false);
        let mut seen = HashSet::new();
        for path in self.expand() {
            let Ok(meta) = fs::metadata(&path) else { continue };
            if !meta.is_file() {
                continue;
            }
            let id = identity(&meta);
            if let Some(t) = self.tails.iter_mut().find(|t| t.identity == id) {
                if t.path != path {
                    t.origin = Arc::from(path.to_string_lossy().as_ref());
                    t.path = path;
                }
                seen.insert(id);
                continue;
            }
            if self.tails.len() >= self.config.max_files {
                continue;
            }
            let Ok(mut file) = File::open(&path) else {
                self.health.errors += 1;
                continue;
            };
            // The path may have been rotated between the stat and the open: the
            // descriptor's identity is the one that counts.
            let Ok(meta) = file.metadata() else { continue };
            let id = identity(&meta);
            seen.insert(id);
            if self.tails.iter().any(|t| t.identity == id) {
                continue;
            }
            let offset = if at_end { meta.len() } else { 0 };
            if offset > 0 && file.seek(SeekFrom::Start(offset)).is_err() {
                continue;
            }
            self.tails.push(Tail::open(&path, file, id, offset, 0));
        }
        for t in &mut self.tails {
            t.live = seen.contains(&t.identity);
        }
    }

    /// The files followed now, with their positions.
    pub fn positions(&self) -> Vec<FilePosition> {
        self.tails.iter().map(Tail::position).collect()
    }
}

impl Source for FileSource {
    fn id(&self) -> &str {
        &self.id
    }

    fn poll(&mut self, out: &mut LineBatch, max: usize) -> Result<(), WatchError> {
        let rescan = Duration::from_millis(self.config.rescan_ms);
        if self.last_scan.is_none_or(|t| t.elapsed() >= rescan) {
            self.scan();
            self.last_scan = Some(Instant::now());
        }
        let mut n = 0;
        // Rotated-away files first: their lines were written before the new file's.
        for live in [false, true] {
            for t in self.tails.iter_mut().filter(|t| t.live == live) {
                if n >= max {
                    break;
                }
                match t.read_lines(out, max - n, self.config.max_line, &mut self.health) {
                    Ok(k) => n += k,
                    Err(_) => self.health.errors += 1,
                }
            }
        }
        let grace = Duration::from_millis(self.config.rotate_grace_ms);
        let mut i = 0;
        while i < self.tails.len() {
            let t = &mut self.tails[i];
            let drained = !t.live && t.read_pos >= t.size && t.last_data.elapsed() >= grace;
            if drained && n < max {
                if !t.skipping && !t.pending.is_empty() {
                    // The file is closed for good: its unterminated last line is complete.
                    t.pending.push(b'\n');
                    n += t.take_lines(out, 1);
                }
                self.tails.swap_remove(i);
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    fn checkpoint(&self) -> Option<Checkpoint> {
        Some(Checkpoint::from_state(&FileState { files: self.positions() }))
    }

    fn health(&self) -> SourceHealth {
        let lag = self.tails.iter().map(|t| t.size.saturating_sub(t.offset)).sum();
        SourceHealth { lag_bytes: lag, ..self.health }
    }
}
