use super::*;

fn run(config: &SimConfig) -> (String, String, SimSummary) {
    let (mut log, mut labels) = (Vec::new(), Vec::new());
    let summary = simulate(config, &mut log, &mut labels).expect("simulate");
    (String::from_utf8(log).expect("utf-8 log"), String::from_utf8(labels).expect("utf-8"), summary)
}

fn config(lines: usize, seed: u64) -> SimConfig {
    SimConfig { lines, seed, ..SimConfig::default() }
}

/// The fields of a combined log line with trailing request time, or why it is malformed.
struct Parsed<'a> {
    ip: &'a str,
    time: &'a str,
    request: &'a str,
    status: u16,
    request_time: f64,
}

fn parse_line(line: &str) -> Result<Parsed<'_>, String> {
    let (ip, rest) = line.split_once(" - - [").ok_or("no ident/user")?;
    ip.parse::<std::net::IpAddr>().map_err(|e| format!("ip {ip}: {e}"))?;
    let (time, rest) = rest.split_once("] \"").ok_or("no time")?;
    if time.len() != 26 || !time.ends_with(" +0000") {
        return Err(format!("time {time}"));
    }
    let (request, rest) = rest.split_once("\" ").ok_or("no request")?;
    let parts: Vec<&str> = request.split(' ').collect();
    if parts.len() != 3 || !parts[2].starts_with("HTTP/") || !parts[1].starts_with('/') {
        return Err(format!("request {request}"));
    }
    let (status, rest) = rest.split_once(' ').ok_or("no status")?;
    let status: u16 = status.parse().map_err(|_| "status")?;
    let (bytes, rest) = rest.split_once(' ').ok_or("no bytes")?;
    bytes.parse::<u64>().map_err(|_| "bytes")?;
    let rest = rest.strip_prefix('"').ok_or("no referer quote")?;
    let (_referer, rest) = rest.split_once("\" \"").ok_or("no referer")?;
    let (ua, rt) = rest.rsplit_once("\" ").ok_or("no user agent")?;
    if ua.is_empty() || ua.contains('"') {
        return Err(format!("user agent {ua}"));
    }
    let request_time: f64 = rt.parse().map_err(|_| format!("request time {rt}"))?;
    Ok(Parsed { ip, time, request, status, request_time })
}

fn clf_to_unix(time: &str) -> i64 {
    let months =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = months.iter().position(|m| *m == &time[3..6]).expect("month") as u32 + 1;
    crate::civil::UtcDateTime {
        year: time[7..11].parse().expect("year"),
        month,
        day: time[0..2].parse().expect("day"),
        hour: time[12..14].parse().expect("hour"),
        minute: time[15..17].parse().expect("minute"),
        second: time[18..20].parse().expect("second"),
    }
    .to_unix()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = run(&config(3_000, 9));
    let b = run(&config(3_000, 9));
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    let c = run(&config(3_000, 10));
    assert_ne!(a.0, c.0);
}

#[test]
fn exact_line_counts() {
    for lines in [0, 1, 7, 100, 1_234, 5_000] {
        let (log, labels, summary) = run(&config(lines, 3));
        assert_eq!(log.lines().count(), lines);
        assert_eq!(labels.lines().count(), lines);
        assert_eq!(summary.lines as usize, lines);
        assert_eq!((summary.normal + summary.anomalous) as usize, lines);
    }
}

#[test]
fn twenty_thousand_lines_have_every_category_and_valid_shape() {
    let (log, labels, summary) = run(&config(20_000, 42));
    for c in Category::ALL {
        let n = summary.per_category.get(&c).copied().unwrap_or(0);
        assert!(n >= 5, "{c}: {n} lines");
    }
    let fraction = summary.anomalous as f64 / summary.lines as f64;
    assert!((0.015..0.035).contains(&fraction), "{fraction}");

    let mut last = i64::MIN;
    let mut statuses = BTreeMap::new();
    let mut ips = std::collections::BTreeSet::new();
    for (i, (line, label)) in log.lines().zip(labels.lines()).enumerate() {
        let p = parse_line(line).unwrap_or_else(|e| panic!("line {}: {e}: {line}", i + 1));
        let ts = clf_to_unix(p.time);
        assert!(ts >= last, "line {} goes back in time", i + 1);
        assert!((DEFAULT_START..DEFAULT_START + 86_400).contains(&ts));
        last = ts;
        assert!(p.request_time >= 0.0 && p.request_time < 61.0);
        assert!(!p.request.is_empty());
        *statuses.entry(p.status).or_insert(0u32) += 1;
        ips.insert(p.ip);
        assert!(label == "0" || label.starts_with("1 "), "{label}");
        if label == "1 incident" {
            assert!(p.status >= 500 || p.request_time >= 0.5, "{line}");
        }
    }
    let ok = statuses.get(&200).copied().unwrap_or(0) as f64 / 20_000.0;
    assert!(ok > 0.6, "200 share {ok}");
    for s in [304, 301, 302, 404, 401, 502] {
        assert!(statuses.contains_key(&s), "no {s}");
    }
    assert!(ips.len() > 200, "{} clients", ips.len());
    assert!(ips.iter().any(|ip| ip.contains(':')), "no IPv6 client");
}

#[test]
fn evenings_are_busier_than_nights() {
    let (log, labels, _) = run(&config(20_000, 5));
    let mut per_hour = [0u32; 24];
    for (line, label) in log.lines().zip(labels.lines()) {
        if label == "0" {
            let p = parse_line(line).expect("valid line");
            per_hour[((clf_to_unix(p.time) - DEFAULT_START) / 3600) as usize] += 1;
        }
    }
    assert!(per_hour[20] > 3 * per_hour[4], "{per_hour:?}");
}

#[test]
fn only_enabled_categories() {
    let cfg = SimConfig {
        lines: 5_000,
        categories: vec![Category::Sqli, Category::Scan],
        attack_fraction: 0.05,
        ..SimConfig::default()
    };
    let (_, labels, summary) = run(&cfg);
    assert_eq!(summary.per_category.keys().copied().collect::<Vec<_>>(), cfg.categories);
    assert_eq!(summary.anomalous, 250);
    assert!(labels.lines().all(|l| l == "0" || l == "1 sqli" || l == "1 scan"));
}

#[test]
fn rejects_invalid_config() {
    let bad = SimConfig { attack_fraction: 1.5, ..config(10, 1) };
    let err = simulate(&bad, &mut Vec::new(), &mut Vec::new()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let bad = SimConfig { duration_secs: 0, ..config(10, 1) };
    assert!(simulate(&bad, &mut Vec::new(), &mut Vec::new()).is_err());
}

#[test]
fn category_names_round_trip() {
    for c in Category::ALL {
        assert_eq!(c.as_str().parse::<Category>(), Ok(c));
        assert_eq!(serde_json::to_string(&c).expect("json"), format!("\"{c}\""));
    }
    assert!("nope".parse::<Category>().is_err());
}

#[test]
fn a_shift_brings_a_new_section_after_its_start_only() {
    let plain = config(6_000, 5);
    let shifted =
        SimConfig { shift: Some(Shift { start_fraction: 0.5, share: 0.4 }), ..plain.clone() };
    let (before, _, _) = run(&plain);
    let (log, _, summary) = run(&shifted);
    assert!(!before.contains("/stories/"));
    let mid = DEFAULT_START + 43_200;
    let (mut early, mut late) = (0, 0);
    for line in log.lines().filter(|l| l.contains("/stories/")) {
        let t = clf_to_unix(parse_line(line).expect("valid line").time);
        if t < mid { early += 1 } else { late += 1 }
    }
    assert_eq!(early, 0);
    assert!(late > 300, "{late}");
    assert_eq!(summary.lines, 6_000);
    let bad = SimConfig { shift: Some(Shift { start_fraction: 1.5, share: 0.1 }), ..plain };
    assert!(simulate(&bad, &mut Vec::new(), &mut Vec::new()).is_err());
}
