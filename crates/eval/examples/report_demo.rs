//! Simulates a day of traffic, invents plausible detector scores from the labels plus
//! noise, and renders the evaluation report.
//!
//! ```text
//! cargo run -p anomalog-eval --example report_demo -- [OUT_DIR]
//! ```
//!
//! Writes `access.log`, `labels.txt` and `report.html` to OUT_DIR (default: the current
//! directory).

use std::error::Error;
use std::fs;
use std::path::PathBuf;

use anomalog_eval::report::{Contribution, ReportInputs, RunSummary, TopAnomaly, top_indices};
use anomalog_eval::{Labels, ReportData, SimConfig, render_report, simulate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The fields of a combined log line the report shows.
struct LineFields {
    client: String,
    ts: Option<i64>,
    request: String,
    status: Option<u16>,
}

fn fields(line: &str, approx_ts: i64) -> LineFields {
    let client = line.split(' ').next().unwrap_or("").to_owned();
    let mut quoted = line.split('"');
    let request = quoted.nth(1).unwrap_or("").to_owned();
    let status =
        quoted.next().and_then(|rest| rest.split_whitespace().next()).and_then(|s| s.parse().ok());
    LineFields { client, ts: Some(approx_ts), request, status }
}

fn clf_seconds(line: &str) -> Option<i64> {
    // "[02/Mar/2026:14:03:11 +0000]": all simulated lines share the day, so seconds since
    // midnight plus the start is exact.
    let open = line.find('[')?;
    let t = line.get(open + 13..open + 21)?;
    let mut parts = t.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    Some(anomalog_eval::simulate::DEFAULT_START + h * 3600 + m * 60 + s)
}

/// A stand-in detector: labels decide the center, noise and a heavy tail of odd normal
/// traffic make the task imperfect in realistic ways.
fn fake_score(rng: &mut ChaCha8Rng, category: Option<&str>) -> f64 {
    let noise = |rng: &mut ChaCha8Rng, sd: f64| {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random();
        sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let (center, sd) = match category {
        None => {
            if rng.random_bool(0.01) {
                (0.52, 0.09)
            } else {
                (0.24, 0.07)
            }
        }
        Some("scan") => (0.82, 0.07),
        Some("sqli" | "cmdi") => (0.78, 0.09),
        Some("xss" | "traversal") => (0.72, 0.1),
        Some("bruteforce") => (0.7, 0.08),
        Some("flood") => (0.62, 0.1),
        Some("incident") => (0.64, 0.12),
        Some("scraping") => (0.56, 0.08),
        Some(_) => (0.5, 0.12),
    };
    (center + noise(rng, sd)).clamp(0.0, 1.0)
}

fn explanation_for(category: Option<&str>) -> Vec<Contribution> {
    let c = |feature: &str, value: &str, typical: &str, contribution: f64| Contribution {
        feature: feature.into(),
        value: value.into(),
        typical: typical.into(),
        contribution,
    };
    match category {
        Some("scan") => vec![
            c("client_error_ratio_60s", "0.94", "0.02", 0.41),
            c("path_seen_in_training", "no", "yes", 0.28),
            c("client_requests_60s", "212", "6", 0.17),
        ],
        Some("sqli" | "xss" | "cmdi" | "traversal") => vec![
            c("query_special_char_ratio", "0.31", "0.00", 0.46),
            c("query_length", "118", "14", 0.22),
            c("path_depth", "5", "2", 0.09),
        ],
        Some("bruteforce" | "credential_stuffing") => vec![
            c("status_401_ratio_60s", "0.97", "0.00", 0.52),
            c("method_post_ratio_60s", "1.00", "0.03", 0.19),
        ],
        Some("incident") => vec![
            c("request_time_s", "4.812", "0.004", 0.48),
            c("site_5xx_ratio_60s", "0.27", "0.00", 0.31),
        ],
        _ => vec![
            c("client_requests_60s", "96", "6", 0.38),
            c("interarrival_cv_60s", "0.03", "1.10", 0.21),
        ],
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    fs::create_dir_all(&dir)?;
    let config = SimConfig { lines: 20_000, seed: 42, ..SimConfig::default() };
    let (mut log, mut label_bytes) = (Vec::new(), Vec::new());
    let summary = simulate::simulate(&config, &mut log, &mut label_bytes)?;
    fs::write(dir.join("access.log"), &log)?;
    fs::write(dir.join("labels.txt"), &label_bytes)?;

    let labels = Labels::from_reader(&label_bytes[..], &dir.join("labels.txt"))?;
    let text = String::from_utf8(log)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let scores: Vec<f64> =
        (0..lines.len()).map(|i| fake_score(&mut rng, labels.category(i))).collect();
    let timestamps: Vec<Option<i64>> = lines.iter().map(|l| clf_seconds(l)).collect();
    let threshold = 0.55;

    let top_anomalies = top_indices(&scores, 25)
        .into_iter()
        .map(|i| {
            let f = fields(lines[i], timestamps[i].unwrap_or(0));
            TopAnomaly {
                line: i as u64 + 1,
                ts: f.ts,
                client: f.client,
                request: f.request,
                status: f.status,
                score: scores[i],
                label: labels.category(i).map(str::to_owned),
                explanation: explanation_for(labels.category(i)),
            }
        })
        .collect();

    let inputs =
        ReportInputs { scores: &scores, labels: Some(&labels), timestamps: &timestamps, threshold };
    let run = RunSummary {
        detector: "demo (labels + noise)".into(),
        train_records: Some(80_000),
        train_seconds: Some(3.42),
        score_seconds: Some(0.181),
        extra: vec![("Input".into(), "access.log (combined + request time)".into())],
        ..RunSummary::default()
    };
    let subtitle = format!(
        "Simulated web shop, {} lines (seed {}), {} labeled anomalies · demo scores",
        summary.lines, config.seed, summary.anomalous
    );
    let data =
        ReportData::from_inputs("anomalog evaluation", &subtitle, inputs, run, top_anomalies)?;
    let out = dir.join("report.html");
    fs::write(&out, render_report(&data))?;
    println!("{}", out.display());
    Ok(())
}
