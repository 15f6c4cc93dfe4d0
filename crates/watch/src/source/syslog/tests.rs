use std::io::Write;
use std::time::Instant;

use proptest::prelude::*;

use super::*;

const LINE: &str =
    r#"203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "-" "curl/8.0""#;

#[test]
fn rfc3164_from_nginx() {
    let frame = format!("<190>Oct 10 13:55:36 web1 nginx: {LINE}\n");
    let m = parse(frame.as_bytes());
    assert_eq!(m.priority, Some(190));
    assert_eq!(m.hostname, Some(&b"web1"[..]));
    assert_eq!(m.app, Some(&b"nginx"[..]));
    assert_eq!(m.msg, LINE.as_bytes());
    // Space-padded day, a PID, no hostname.
    let frame = format!("<13>Oct  1 03:04:05 nginx[123]: {LINE}");
    assert_eq!(parse(frame.as_bytes()).msg, LINE.as_bytes());
    // No tag: the message follows the hostname.
    let frame = format!("<13>Oct 11 22:14:15 host {LINE}");
    assert_eq!(parse(frame.as_bytes()).msg, LINE.as_bytes());
    // An IPv6 client is not mistaken for a tag.
    let v6 = "2001:db8::1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1";
    let frame = format!("<13>Oct 11 22:14:15 host {v6}");
    assert_eq!(parse(frame.as_bytes()).msg, v6.as_bytes());
}

#[test]
fn rfc5424() {
    let frame = format!("<165>1 2003-10-11T22:14:15.003Z web1 nginx 42 ID47 - {LINE}");
    let m = parse(frame.as_bytes());
    assert_eq!(m.priority, Some(165));
    assert_eq!(m.hostname, Some(&b"web1"[..]));
    assert_eq!(m.app, Some(&b"nginx"[..]));
    assert_eq!(m.msg, LINE.as_bytes());
    let frame = format!(
        "<165>1 2003-10-11T22:14:15.003Z web1 nginx - - [ex@32473 a=\"x\\]y\" b=\"2\"][z@1] \u{feff}{LINE}"
    );
    assert_eq!(parse(frame.as_bytes()).msg, LINE.as_bytes());
    let m = parse(b"<165>1 - - - - - -");
    assert_eq!(m.msg, b"");
    assert_eq!(m.hostname, None);
}

#[test]
fn no_header_is_taken_whole() {
    assert_eq!(parse(LINE.as_bytes()).msg, LINE.as_bytes());
    assert_eq!(parse(b"<999>x").msg, b"<999>x");
    assert_eq!(parse(b"").msg, b"");
}

#[test]
fn framer_octet_counted_and_lf() {
    let mut f = Framer::new(1000);
    let mut out = Vec::new();
    f.push(b"5 hello3 abcplain line\nsecond", &mut out);
    assert_eq!(out, vec![b"hello".to_vec(), b"abc".to_vec(), b"plain line".to_vec()]);
    out.clear();
    f.push(b" part\n1", &mut out);
    assert_eq!(out, vec![b"second part".to_vec()]);
    out.clear();
    f.push(b" x", &mut out);
    assert_eq!(out, vec![b"x".to_vec()]);
    // Oversized frames are dropped and counted, framing continues after them.
    let mut f = Framer::new(4);
    out.clear();
    f.push(b"6 abcdef2 ok", &mut out);
    f.push(b"toolong", &mut out);
    f.push(b"line\nfine\n", &mut out);
    assert_eq!(out, vec![b"ok".to_vec(), b"fine".to_vec()]);
    assert_eq!(f.oversized, 2);
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let m = parse(&bytes);
        prop_assert!(m.msg.len() <= bytes.len());
    }

    #[test]
    fn parse_never_panics_on_headerish(s in "<[0-9]{1,3}>(1 )?[ -~]{0,80}") {
        let _ = parse(s.as_bytes());
    }

    #[test]
    fn framer_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..10)) {
        let mut f = Framer::new(16);
        let mut out = Vec::new();
        for c in &chunks {
            f.push(c, &mut out);
        }
        f.finish(&mut out);
        prop_assert!(out.iter().all(|m| m.len() <= 16 || !m.contains(&b'\n')));
    }
}

fn collect(src: &mut SyslogSource, want: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut batch = LineBatch::new();
    while got.len() < want && Instant::now() < deadline {
        batch.clear();
        src.poll(&mut batch, 100).unwrap();
        got.extend(batch.iter().map(|(_, l)| l.to_vec()));
        if batch.is_empty() {
            thread::sleep(Duration::from_millis(10));
        }
    }
    got
}

#[test]
fn udp_3164_and_5424() {
    let mut src =
        SyslogSource::bind(Protocol::Udp, "127.0.0.1:0", SyslogConfig::default()).unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(format!("<190>Oct 10 13:55:36 web1 nginx: {LINE}").as_bytes(), src.local_addr())
        .unwrap();
    sock.send_to(
        format!("<165>1 2003-10-11T22:14:15Z web1 nginx - - - {LINE}").as_bytes(),
        src.local_addr(),
    )
    .unwrap();
    let got = collect(&mut src, 2);
    assert_eq!(got, vec![LINE.as_bytes().to_vec(); 2]);
    assert_eq!(src.checkpoint(), None);
}

#[test]
fn tcp_octet_counted_and_lf_framed() {
    let mut src =
        SyslogSource::bind(Protocol::Tcp, "127.0.0.1:0", SyslogConfig::default()).unwrap();
    let mut conn = TcpStream::connect(src.local_addr()).unwrap();
    let a = format!("<190>Oct 10 13:55:36 web1 nginx: {LINE}");
    let b = format!("<165>1 2003-10-11T22:14:15Z web1 nginx - - - {LINE}");
    write!(conn, "{} {a}{} {b}", a.len(), b.len()).unwrap();
    write!(conn, "{a}\n{b}\n").unwrap();
    conn.flush().unwrap();
    drop(conn);
    let got = collect(&mut src, 4);
    assert_eq!(got, vec![LINE.as_bytes().to_vec(); 4]);
}

#[test]
fn udp_flood_drops_are_counted_not_fatal() {
    let config = SyslogConfig { queue: 4, ..SyslogConfig::default() };
    let mut src = SyslogSource::bind(Protocol::Udp, "127.0.0.1:0", config).unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..200 {
        let _ = sock
            .send_to(format!("<13>Oct 10 13:55:36 h app: line {i}").as_bytes(), src.local_addr());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while src.health().dropped == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(src.health().dropped > 0);
    // The queue holds 4; datagrams still arriving while the test reads may add a few,
    // but every one of the 200 is either delivered or counted as dropped, never both.
    let got = collect(&mut src, 4);
    assert!(got.len() >= 4, "{}", got.len());
    assert!(got.len() as u64 + src.health().dropped <= 200);
}
