//! Lines from standard input (or any reader), read on a thread of their own.
//!
//! The reader thread blocks on a bounded queue when the daemon falls behind, so a
//! producer piping into anomalog is slowed down rather than lines being dropped. There
//! is no position to resume from; the source is finished at end of input.

use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, bounded};

use super::{Checkpoint, LineBatch, Source, SourceHealth};
use crate::error::WatchError;

/// Lines of a reader, typically stdin.
pub struct ReaderSource {
    id: String,
    origin: Arc<str>,
    rx: Receiver<Vec<u8>>,
    done: Arc<AtomicBool>,
    oversized: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    line_no: u64,
    _thread: JoinHandle<()>,
}

impl ReaderSource {
    /// Reads standard input.
    pub fn stdin(queue: usize, max_line: usize) -> ReaderSource {
        ReaderSource::new("stdin", std::io::stdin(), queue, max_line)
    }

    /// Reads `reader` line by line; at most `queue` lines wait for the daemon, and
    /// lines longer than `max_line` bytes are skipped and counted.
    pub fn new(
        id: &str,
        reader: impl Read + Send + 'static,
        queue: usize,
        max_line: usize,
    ) -> ReaderSource {
        let (tx, rx) = bounded::<Vec<u8>>(queue.max(1));
        let done = Arc::new(AtomicBool::new(false));
        let oversized = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let (d, o, e) = (Arc::clone(&done), Arc::clone(&oversized), Arc::clone(&errors));
        let thread = thread::spawn(move || {
            let mut reader = BufReader::with_capacity(64 * 1024, reader);
            let mut line = Vec::new();
            loop {
                line.clear();
                // Reads at most max_line + 1 bytes of a line, so memory stays bounded.
                let limit = (max_line as u64).saturating_add(1);
                match (&mut reader).take(limit).read_until(b'\n', &mut line) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(_) => {
                        e.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
                if line.last() != Some(&b'\n') && line.len() > max_line {
                    o.fetch_add(1, Ordering::Relaxed);
                    if skip_line(&mut reader).is_err() {
                        e.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    continue;
                }
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                if tx.send(line.clone()).is_err() {
                    break;
                }
            }
            d.store(true, Ordering::Release);
        });
        ReaderSource {
            id: id.to_string(),
            origin: Arc::from(id),
            rx,
            done,
            oversized,
            errors,
            line_no: 0,
            _thread: thread,
        }
    }
}

fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            reader.consume(i + 1);
            return Ok(());
        }
        let n = buf.len();
        reader.consume(n);
    }
}

impl Source for ReaderSource {
    fn id(&self) -> &str {
        &self.id
    }

    fn poll(&mut self, out: &mut LineBatch, max: usize) -> Result<(), WatchError> {
        for line in self.rx.try_iter().take(max) {
            self.line_no += 1;
            out.push(&self.origin, self.line_no, &line);
        }
        Ok(())
    }

    fn checkpoint(&self) -> Option<Checkpoint> {
        None
    }

    fn finished(&self) -> bool {
        self.done.load(Ordering::Acquire) && self.rx.is_empty()
    }

    fn health(&self) -> SourceHealth {
        SourceHealth {
            oversized: self.oversized.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            ..SourceHealth::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn reads_lines_until_finished() {
        let input = b"one\r\ntwo\nxxxxxxxxxxxxxxxxxxxx\nthree".to_vec();
        let mut src = ReaderSource::new("test", std::io::Cursor::new(input), 2, 10);
        let mut batch = LineBatch::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !src.finished() && Instant::now() < deadline {
            src.poll(&mut batch, 10).unwrap();
            thread::sleep(Duration::from_millis(1));
        }
        let lines: Vec<_> = batch.iter().map(|(o, l)| (o.line_no, l.to_vec())).collect();
        assert_eq!(lines, vec![(1, b"one".to_vec()), (2, b"two".to_vec()), (3, b"three".to_vec())]);
        assert_eq!(src.health().oversized, 1);
    }
}
