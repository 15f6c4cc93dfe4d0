//! The file source on real files: appends, rotation by rename, copytruncate, late
//! appearance, globs, deletion, and restarts from checkpoints.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use anomalog_watch::source::file::{FileSource, FileSourceConfig, StartAt};
use anomalog_watch::source::{Checkpoint, LineBatch, Source};

fn config() -> FileSourceConfig {
    FileSourceConfig {
        start_at: StartAt::Beginning,
        rotate_grace_ms: 100,
        rescan_ms: 0,
        ..FileSourceConfig::default()
    }
}

fn append(path: &Path, lines: impl IntoIterator<Item = String>) {
    let mut f = OpenOptions::new().create(true).append(true).open(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn lines(prefix: &str, range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("{prefix} line {i}")).collect()
}

/// Polls until `want` lines arrived (or 10 s passed), then a little longer so that
/// duplicates would show.
fn read(src: &mut FileSource, want: usize, max: usize) -> Vec<String> {
    let mut got = Vec::new();
    let mut batch = LineBatch::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut settle = None;
    loop {
        batch.clear();
        src.poll(&mut batch, max).unwrap();
        got.extend(batch.iter().map(|(_, l)| String::from_utf8(l.to_vec()).unwrap()));
        if got.len() >= want && settle.is_none() {
            settle = Some(Instant::now() + Duration::from_millis(300));
        }
        if settle.is_some_and(|s| Instant::now() >= s) || Instant::now() >= deadline {
            return got;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn appended_lines_are_read_and_partial_lines_wait() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, lines("old", 0..3));
    let mut src = FileSource::new(path.to_str().unwrap(), config(), None).unwrap();
    assert_eq!(read(&mut src, 3, 100), lines("old", 0..3));
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"abc").unwrap();
    assert!(read(&mut src, 0, 100).is_empty());
    f.write_all(b"def\r\nnext\n").unwrap();
    assert_eq!(read(&mut src, 2, 100), vec!["abcdef".to_string(), "next".to_string()]);
}

#[test]
fn start_at_end_skips_existing_lines_only_at_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, lines("old", 0..3));
    let cfg = FileSourceConfig { start_at: StartAt::End, ..config() };
    let mut src = FileSource::new(path.to_str().unwrap(), cfg, None).unwrap();
    assert!(read(&mut src, 0, 100).is_empty());
    append(&path, lines("new", 0..2));
    assert_eq!(read(&mut src, 2, 100), lines("new", 0..2));
}

#[test]
fn rotation_by_rename_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, lines("a", 0..100));
    let mut src = FileSource::new(path.to_str().unwrap(), config(), None).unwrap();
    let mut batch = LineBatch::new();
    src.poll(&mut batch, 40).unwrap();
    let mut got: Vec<String> =
        batch.iter().map(|(_, l)| String::from_utf8(l.to_vec()).unwrap()).collect();
    assert_eq!(got.len(), 40);
    // The server writes more to its old descriptor, then logrotate renames and the
    // server reopens: a new file at the path.
    append(&path, lines("a", 100..150));
    fs::rename(&path, dir.path().join("access.log.1")).unwrap();
    append(&path, lines("b", 0..100));
    got.extend(read(&mut src, 210, 50));
    let mut want = lines("a", 0..150);
    want.extend(lines("b", 0..100));
    assert_eq!(sorted(got), sorted(want));
}

#[test]
fn copytruncate_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, lines("long first generation", 0..50));
    let mut src = FileSource::new(path.to_str().unwrap(), config(), None).unwrap();
    assert_eq!(read(&mut src, 50, 100).len(), 50);
    fs::copy(&path, dir.path().join("access.log.1")).unwrap();
    OpenOptions::new().write(true).open(&path).unwrap().set_len(0).unwrap();
    append(&path, lines("b", 0..5));
    assert_eq!(read(&mut src, 5, 100), lines("b", 0..5));
}

#[test]
fn file_appearing_later_and_deleted_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.log");
    let cfg = FileSourceConfig { start_at: StartAt::End, ..config() };
    let mut src = FileSource::new(path.to_str().unwrap(), cfg, None).unwrap();
    assert!(read(&mut src, 0, 100).is_empty());
    // A file appearing after the start is read from its beginning, even with End.
    append(&path, lines("a", 0..3));
    assert_eq!(read(&mut src, 3, 100), lines("a", 0..3));
    // Deleted with an unterminated last line: survived, and the line is kept.
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"last words").unwrap();
    drop(f);
    fs::remove_file(&path).unwrap();
    assert_eq!(read(&mut src, 1, 100), vec!["last words".to_string()]);
    assert!(src.positions().is_empty());
    append(&path, lines("c", 0..2));
    assert_eq!(read(&mut src, 2, 100), lines("c", 0..2));
}

#[test]
fn glob_follows_many_files() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.log", "b.log"] {
        append(&dir.path().join(name), lines(name, 0..10));
    }
    File::create(dir.path().join("old.log.gz")).unwrap().write_all(b"\x1f\x8b binary").unwrap();
    let pattern = format!("{}/*.log*", dir.path().display());
    let mut src = FileSource::new(&pattern, config(), None).unwrap();
    let mut got = read(&mut src, 20, 7);
    append(&dir.path().join("c.log"), lines("c.log", 0..10));
    // Renaming within the pattern keeps following the same file, no rereading.
    fs::rename(dir.path().join("a.log"), dir.path().join("a.log.1")).unwrap();
    append(&dir.path().join("a.log.1"), lines("a.log", 10..12));
    got.extend(read(&mut src, 12, 7));
    let mut want = lines("a.log", 0..12);
    want.extend(lines("b.log", 0..10));
    want.extend(lines("c.log", 0..10));
    assert_eq!(sorted(got), sorted(want));
}

fn restart(path: &Path, cp: &Checkpoint) -> FileSource {
    // The round trip through JSON is what the checkpoint store does.
    let cp: Checkpoint = serde_json::from_str(&serde_json::to_string(cp).unwrap()).unwrap();
    FileSource::new(path.to_str().unwrap(), config(), Some(&cp)).unwrap()
}

#[test]
fn restart_from_checkpoint_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, lines("a", 0..100));
    let mut src = FileSource::new(path.to_str().unwrap(), config(), None).unwrap();
    let mut got = Vec::new();
    let mut batch = LineBatch::new();
    src.poll(&mut batch, 37).unwrap();
    got.extend(batch.iter().map(|(_, l)| String::from_utf8(l.to_vec()).unwrap()));
    let cp = src.checkpoint().unwrap();
    drop(src);
    append(&path, lines("a", 100..120));
    let mut src = restart(&path, &cp);
    got.extend(read(&mut src, 83, 10));
    assert_eq!(got, lines("a", 0..120));
}

#[test]
fn restart_after_rotation_while_down_finishes_the_rotated_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, lines("a", 0..50));
    let mut src = FileSource::new(path.to_str().unwrap(), config(), None).unwrap();
    let mut got = read(&mut src, 50, 20);
    let cp = src.checkpoint().unwrap();
    drop(src);
    append(&path, lines("a", 50..60));
    fs::rename(&path, dir.path().join("access.log.1")).unwrap();
    append(&path, lines("b", 0..30));
    let mut src = restart(&path, &cp);
    got.extend(read(&mut src, 40, 20));
    let mut want = lines("a", 0..60);
    want.extend(lines("b", 0..30));
    assert_eq!(sorted(got), sorted(want));
}

#[test]
fn restart_after_copytruncate_while_down_starts_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, lines("a long line of the first generation", 0..50));
    let mut src = FileSource::new(path.to_str().unwrap(), config(), None).unwrap();
    assert_eq!(read(&mut src, 50, 100).len(), 50);
    let cp = src.checkpoint().unwrap();
    drop(src);
    OpenOptions::new().write(true).open(&path).unwrap().set_len(0).unwrap();
    append(&path, lines("b", 0..5));
    let mut src = restart(&path, &cp);
    assert_eq!(read(&mut src, 5, 100), lines("b", 0..5));
}

#[test]
fn lag_counts_unread_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    append(&path, lines("a", 0..10));
    let mut src = FileSource::new(path.to_str().unwrap(), config(), None).unwrap();
    let mut batch = LineBatch::new();
    src.poll(&mut batch, 4).unwrap();
    assert!(src.health().lag_bytes > 0);
    read(&mut src, 6, 100);
    assert_eq!(src.health().lag_bytes, 0);
}
