//! Syslog listeners (UDP and TCP) whose messages carry access log lines, as nginx sends
//! them with `access_log syslog:server=127.0.0.1:5514`.
//!
//! [`parse`] takes one RFC 3164 or RFC 5424 message apart and returns its MSG part,
//! the access log line; it accepts any bytes without panicking, and a message without
//! a recognizable header is taken whole. Over TCP, frames are either octet-counted
//! (`LEN SP MSG`, RFC 6587) or end with LF, decided frame by frame.
//!
//! Listener threads hand messages to [`SyslogSource::poll`] through a bounded queue.
//! A full queue blocks TCP readers, which pushes back on senders through TCP flow
//! control; UDP has no way to push back, so a datagram arriving at a full queue is
//! dropped and counted. Syslog has no position to resume from: a restart loses what
//! was in flight, as with any syslog receiver.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use super::{Checkpoint, LineBatch, Source, SourceHealth};
use crate::error::WatchError;

/// One syslog message taken apart. Fields are `None` when the header lacks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    /// Facility * 8 + severity, from `<PRI>`.
    pub priority: Option<u8>,
    /// Sending host.
    pub hostname: Option<&'a [u8]>,
    /// Program name (the RFC 3164 tag or the RFC 5424 APP-NAME).
    pub app: Option<&'a [u8]>,
    /// The message itself: the access log line.
    pub msg: &'a [u8],
}

const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Takes one syslog message (RFC 5424, RFC 3164, or no header at all) apart.
pub fn parse(frame: &[u8]) -> SyslogMessage<'_> {
    let mut end = frame.len();
    while end > 0 && matches!(frame[end - 1], b'\n' | b'\r' | 0) {
        end -= 1;
    }
    let frame = &frame[..end];
    let whole = SyslogMessage { priority: None, hostname: None, app: None, msg: frame };
    let Some((priority, rest)) = parse_pri(frame) else { return whole };
    if let Some(m) = parse_5424(rest) {
        return SyslogMessage { priority: Some(priority), ..m };
    }
    SyslogMessage { priority: Some(priority), ..parse_3164(rest) }
}

fn parse_pri(s: &[u8]) -> Option<(u8, &[u8])> {
    let rest = s.strip_prefix(b"<")?;
    let close = rest.iter().take(4).position(|&b| b == b'>')?;
    let digits = &rest[..close];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let pri: u16 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    if pri > 191 {
        return None;
    }
    Some((pri as u8, &rest[close + 1..]))
}

/// Splits off one space-terminated token.
fn token(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = s.iter().position(|&b| b == b' ')?;
    Some((&s[..sp], &s[sp + 1..]))
}

fn nil(field: &[u8]) -> Option<&[u8]> {
    (field != b"-").then_some(field)
}

/// `VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]`
fn parse_5424(s: &[u8]) -> Option<SyslogMessage<'_>> {
    let (version, rest) = token(s)?;
    if version.is_empty() || version.len() > 2 || !version.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let (_ts, rest) = token(rest)?;
    let (host, rest) = token(rest)?;
    let (app, rest) = token(rest)?;
    let (_procid, rest) = token(rest)?;
    let (_msgid, rest) = token(rest)?;
    let rest = skip_structured_data(rest)?;
    let msg = match rest {
        [] => rest,
        [b' ', msg @ ..] => msg,
        _ => return None,
    };
    let msg = msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg);
    Some(SyslogMessage { priority: None, hostname: nil(host), app: nil(app), msg })
}

/// Skips `-` or one or more `[id param="value" ...]` elements; values may hold escaped
/// `"`, `]` and `\`.
fn skip_structured_data(s: &[u8]) -> Option<&[u8]> {
    if let Some(rest) = s.strip_prefix(b"-") {
        return Some(rest);
    }
    let mut i = 0;
    if s.first() != Some(&b'[') {
        return None;
    }
    while s.get(i) == Some(&b'[') {
        let mut quoted = false;
        i += 1;
        loop {
            match *s.get(i)? {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    Some(&s[i..])
}

/// `TIMESTAMP SP HOSTNAME SP TAG[PID]: MSG`, each part optional in practice.
fn parse_3164(s: &[u8]) -> SyslogMessage<'_> {
    let mut rest = s;
    let mut hostname = None;
    let stamped = if rest.len() >= 16
        && MONTHS.contains(&&rest[..3])
        && rest[3] == b' '
        && rest[15] == b' '
        && rest[9] == b':'
    {
        rest = &rest[16..];
        true
    } else if rest.len() > 10 && rest[..4].iter().all(u8::is_ascii_digit) && rest[4] == b'-' {
        // Senders that put an ISO 8601 timestamp in the old format.
        match token(rest) {
            Some((_, r)) => {
                rest = r;
                true
            }
            None => false,
        }
    } else {
        false
    };
    if let Some((app, msg)) = parse_tag(rest) {
        return SyslogMessage { priority: None, hostname, app: Some(app), msg };
    }
    if stamped && let Some((host, after)) = token(rest) {
        hostname = Some(host);
        rest = after;
        if let Some((app, msg)) = parse_tag(rest) {
            return SyslogMessage { priority: None, hostname, app: Some(app), msg };
        }
    }
    SyslogMessage { priority: None, hostname, app: None, msg: rest }
}

/// `TAG: ` or `TAG[PID]: `, TAG being up to 48 program-name characters.
fn parse_tag(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = s
        .iter()
        .take(49)
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/')))?;
    if len == 0 || len > 48 {
        return None;
    }
    let (tag, mut rest) = s.split_at(len);
    if rest.first() == Some(&b'[') {
        let close = rest.iter().take(24).position(|&b| b == b']')?;
        rest = &rest[close + 1..];
    }
    let msg = rest.strip_prefix(b": ")?;
    Some((tag, msg))
}

/// Transport of a syslog listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// One message per datagram.
    Udp,
    /// A stream of octet-counted or LF-terminated frames.
    Tcp,
}

/// Settings of a syslog listener.
#[derive(Debug, Clone, PartialEq)]
pub struct SyslogConfig {
    /// Messages held between the listener and the daemon.
    pub queue: usize,
    /// Longer messages are dropped and counted as oversized.
    pub max_message: usize,
    /// At most this many TCP connections at once; more are refused.
    pub max_connections: usize,
}

impl Default for SyslogConfig {
    fn default() -> Self {
        SyslogConfig { queue: 10_000, max_message: 64 * 1024, max_connections: 64 }
    }
}

#[derive(Default)]
struct Counters {
    dropped: AtomicU64,
    oversized: AtomicU64,
    errors: AtomicU64,
}

/// A UDP or TCP syslog listener; see the module documentation.
pub struct SyslogSource {
    id: String,
    origin: Arc<str>,
    local_addr: SocketAddr,
    rx: Receiver<Vec<u8>>,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
    seq: u64,
}

const WAKE: Duration = Duration::from_millis(100);

impl SyslogSource {
    /// Binds `addr` (port 0 picks a free port) and starts listening.
    pub fn bind(
        protocol: Protocol,
        addr: &str,
        config: SyslogConfig,
    ) -> Result<SyslogSource, WatchError> {
        let net = |e| WatchError::Net { addr: addr.to_string(), source: e };
        let (tx, rx) = bounded(config.queue.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let (id, local_addr, thread) = match protocol {
            Protocol::Udp => {
                let socket = UdpSocket::bind(addr).map_err(net)?;
                socket.set_read_timeout(Some(WAKE)).map_err(net)?;
                let local = socket.local_addr().map_err(net)?;
                let (stop, counters) = (Arc::clone(&stop), Arc::clone(&counters));
                let t = thread::spawn(move || udp_loop(&socket, &tx, &stop, &counters, config));
                (format!("syslog:udp://{addr}"), local, t)
            }
            Protocol::Tcp => {
                let listener = TcpListener::bind(addr).map_err(net)?;
                listener.set_nonblocking(true).map_err(net)?;
                let local = listener.local_addr().map_err(net)?;
                let (stop, counters) = (Arc::clone(&stop), Arc::clone(&counters));
                let t =
                    thread::spawn(move || accept_loop(&listener, &tx, &stop, &counters, config));
                (format!("syslog:tcp://{addr}"), local, t)
            }
        };
        Ok(SyslogSource {
            origin: Arc::from(id.as_str()),
            id,
            local_addr,
            rx,
            stop,
            counters,
            thread: Some(thread),
            seq: 0,
        })
    }

    /// The address actually bound (with the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

fn udp_loop(
    socket: &UdpSocket,
    tx: &Sender<Vec<u8>>,
    stop: &AtomicBool,
    counters: &Counters,
    config: SyslogConfig,
) {
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => {
                if n > config.max_message {
                    counters.oversized.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let msg = parse(&buf[..n]).msg.to_vec();
                if let Err(TrySendError::Full(_)) = tx.try_send(msg) {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                thread::sleep(WAKE);
            }
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    tx: &Sender<Vec<u8>>,
    stop: &Arc<AtomicBool>,
    counters: &Arc<Counters>,
    config: SyslogConfig,
) {
    let active = Arc::new(AtomicUsize::new(0));
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                workers.retain(|w| !w.is_finished());
                if active.load(Ordering::Relaxed) >= config.max_connections {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                active.fetch_add(1, Ordering::Relaxed);
                let (tx, stop, counters, active) =
                    (tx.clone(), Arc::clone(stop), Arc::clone(counters), Arc::clone(&active));
                let max = config.max_message;
                workers.push(thread::spawn(move || {
                    tcp_connection(stream, &tx, &stop, &counters, max);
                    active.fetch_sub(1, Ordering::Relaxed);
                }));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(20)),
            Err(_) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                thread::sleep(WAKE);
            }
        }
    }
    for w in workers {
        let _ = w.join();
    }
}

/// Splits a TCP stream into frames and queues their messages, blocking while the queue
/// is full.
fn tcp_connection(
    mut stream: TcpStream,
    tx: &Sender<Vec<u8>>,
    stop: &AtomicBool,
    counters: &Counters,
    max: usize,
) {
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(WAKE)).is_err() {
        counters.errors.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut framer = Framer::new(max);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut frames = Vec::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let n = match stream.read(&mut chunk) {
            Ok(0) => {
                framer.finish(&mut frames);
                0
            }
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                framer.finish(&mut frames);
                0
            }
        };
        framer.push(&chunk[..n], &mut frames);
        counters.oversized.fetch_add(std::mem::take(&mut framer.oversized), Ordering::Relaxed);
        for frame in frames.drain(..) {
            let mut msg = parse(&frame).msg.to_vec();
            // Block while the queue is full (backpressure), waking to notice shutdown.
            loop {
                match tx.send_timeout(msg, WAKE) {
                    Ok(()) => break,
                    Err(crossbeam_channel::SendTimeoutError::Timeout(m)) => {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        msg = m;
                    }
                    Err(crossbeam_channel::SendTimeoutError::Disconnected(_)) => return,
                }
            }
        }
        if n == 0 {
            return;
        }
    }
}

/// RFC 6587 framing: a frame starting with `DIGITS SP` is octet-counted, any other
/// ends at LF.
pub struct Framer {
    buf: Vec<u8>,
    max: usize,
    /// Bytes of an oversized frame still to discard (octet-counted).
    skip: usize,
    /// Discarding an oversized LF-terminated frame up to its LF.
    skip_to_lf: bool,
    /// Oversized frames seen since last taken.
    pub oversized: u64,
}

impl Framer {
    /// A framer dropping frames longer than `max` bytes.
    pub fn new(max: usize) -> Framer {
        Framer { buf: Vec::new(), max: max.max(1), skip: 0, skip_to_lf: false, oversized: 0 }
    }

    /// Adds received bytes; complete frames are appended to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<Vec<u8>>) {
        if self.skip > 0 {
            let n = self.skip.min(data.len());
            self.skip -= n;
            data = &data[n..];
        }
        if self.skip_to_lf {
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.skip_to_lf = false;
                    data = &data[i + 1..];
                }
                None => return,
            }
        }
        self.buf.extend_from_slice(data);
        let mut start = 0;
        loop {
            let rest = &self.buf[start..];
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 && digits < 10 && rest.get(digits) == Some(&b' ') {
                let len: usize = std::str::from_utf8(&rest[..digits])
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(usize::MAX);
                let body = digits + 1;
                if len > self.max {
                    self.oversized += 1;
                    let have = rest.len() - body;
                    if have >= len {
                        start += body + len;
                        continue;
                    }
                    self.skip = len - have;
                    start = self.buf.len();
                    break;
                }
                if rest.len() < body + len {
                    break;
                }
                out.push(rest[body..body + len].to_vec());
                start += body + len;
            } else if digits > 0 && digits == rest.len() {
                // Maybe the start of a length: wait for more.
                break;
            } else if let Some(i) = rest.iter().position(|&b| b == b'\n') {
                if i <= self.max {
                    out.push(rest[..i].to_vec());
                } else {
                    self.oversized += 1;
                }
                start += i + 1;
            } else {
                if rest.len() > self.max {
                    self.oversized += 1;
                    self.skip_to_lf = true;
                    start = self.buf.len();
                }
                break;
            }
        }
        self.buf.drain(..start);
    }

    /// At end of stream: a last frame without LF is complete.
    pub fn finish(&mut self, out: &mut Vec<Vec<u8>>) {
        if !self.buf.is_empty() && !self.skip_to_lf && self.skip == 0 {
            out.push(std::mem::take(&mut self.buf));
        }
        self.buf.clear();
    }
}

impl Source for SyslogSource {
    fn id(&self) -> &str {
        &self.id
    }

    fn poll(&mut self, out: &mut LineBatch, max: usize) -> Result<(), WatchError> {
        for msg in self.rx.try_iter().take(max) {
            self.seq += 1;
            out.push(&self.origin, self.seq, &msg);
        }
        Ok(())
    }

    fn checkpoint(&self) -> Option<Checkpoint> {
        None
    }

    fn health(&self) -> SourceHealth {
        SourceHealth {
            lag_bytes: 0,
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            oversized: self.counters.oversized.load(Ordering::Relaxed),
            errors: self.counters.errors.load(Ordering::Relaxed),
        }
    }
}

impl Drop for SyslogSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests;
