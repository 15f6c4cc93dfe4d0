//! Fits every detector on one feature matrix and scores another, for `bench/compare_sklearn.sh`.
//!
//! ```text
//! cargo run --release -p anomalog-models --example matrix_bench -- \
//!     TRAIN.csv TEST.csv OUT_DIR [--detectors iforest,ocsvm,...] [--runs 5] [--seed 1]
//! ```
//!
//! Both CSV files are `anomalog features --scaled -o csv` output: a header row, then
//! `line, <feature columns...>[, label, category]`; only the feature columns are read (an
//! empty field is a missing value). Missing training values are replaced by the column's
//! training median, which is also what every detector does with missing values at scoring
//! time, so the comparison script can treat its own copy of the data the same way.
//!
//! For each detector: fit on TRAIN (timed once), score TEST once untimed (the scores are
//! written to `OUT_DIR/<detector>.scores`, one per line, in row order), then score TEST
//! `--runs` more times and report the median. One JSON object per detector on stdout:
//! `detector`, `train_rows`, `test_rows`, `cols`, `threads` (rayon pool size; set
//! `RAYON_NUM_THREADS` to change it), `fit_s`, `score_s` (median wall seconds),
//! `score_cpu_s` (median CPU seconds over all threads, Linux only, else `null`),
//! `score_rows_per_s` (rows / `score_s`), `score_s_min` and `score_cpu_s_min` (the fastest
//! run: on a machine shared with other work the minimum is the least disturbed run),
//! `scores` (the file path). Progress and errors go to stderr.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anomalog_models::{Detector, DetectorKind, Fit, Matrix, MatrixView};

type Error = Box<dyn std::error::Error>;

/// Command line of the example.
struct Args {
    train: PathBuf,
    test: PathBuf,
    out_dir: PathBuf,
    detectors: Vec<DetectorKind>,
    runs: usize,
    seed: u64,
}

fn parse_args() -> Result<Args, Error> {
    let mut positional = Vec::new();
    let mut detectors = vec![
        DetectorKind::IsolationForest,
        DetectorKind::OneClassSvm,
        DetectorKind::Autoencoder,
        DetectorKind::Hbos,
        DetectorKind::ZScore,
        DetectorKind::Ensemble,
    ];
    let mut runs = 5;
    let mut seed = 1;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--detectors" => {
                detectors =
                    value("--detectors")?.split(',').map(str::parse).collect::<Result<_, _>>()?;
            }
            "--runs" => runs = value("--runs")?.parse()?,
            "--seed" => seed = value("--seed")?.parse()?,
            "-h" | "--help" => {
                return Err("usage: matrix_bench TRAIN.csv TEST.csv OUT_DIR \
                            [--detectors a,b] [--runs N] [--seed S]"
                    .into());
            }
            _ => positional.push(PathBuf::from(arg)),
        }
    }
    let [train, test, out_dir] = <[PathBuf; 3]>::try_from(positional)
        .map_err(|_| "expected TRAIN.csv TEST.csv OUT_DIR (see --help)")?;
    if runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(Args { train, test, out_dir, detectors, runs, seed })
}

/// Reads the feature columns of an `anomalog features -o csv` file: every column between
/// `line` and `label` (or to the end when there is no `label` column). Feature values are
/// plain numbers, so splitting on commas is exact for them; the quoted `category` column
/// comes last and is never read.
fn read_features(path: &Path) -> Result<(Matrix, Vec<String>), Error> {
    let context = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut lines = BufReader::new(File::open(path).map_err(context)?).lines();
    let header = lines.next().ok_or_else(|| format!("{}: empty file", path.display()))?;
    let header: Vec<String> = header.map_err(context)?.split(',').map(str::to_owned).collect();
    if header.first().map(String::as_str) != Some("line") {
        return Err(format!("{}: first column is not `line`", path.display()).into());
    }
    let end = header.iter().position(|h| h == "label").unwrap_or(header.len());
    let names = header[1..end].to_vec();
    let cols = names.len();
    let mut data = Vec::new();
    let mut rows = 0;
    for (i, line) in lines.enumerate() {
        let line = line.map_err(context)?;
        let mut fields = line.split(',').skip(1);
        for name in &names {
            let field = fields
                .next()
                .ok_or_else(|| format!("{}:{}: missing column `{name}`", path.display(), i + 2))?;
            data.push(if field.is_empty() {
                f64::NAN
            } else {
                field
                    .parse()
                    .map_err(|e| format!("{}:{}: column `{name}`: {e}", path.display(), i + 2))?
            });
        }
        rows += 1;
    }
    Ok((Matrix::new(data, rows, cols)?, names))
}

/// Replaces non-finite values by the column's median over its finite values (0 when a
/// column has none).
fn impute_medians(x: &mut Matrix) {
    let cols = x.cols();
    if cols == 0 {
        return;
    }
    let data = x.as_mut_slice();
    for c in 0..cols {
        let mut finite: Vec<f64> =
            data.iter().skip(c).step_by(cols).copied().filter(|v| v.is_finite()).collect();
        if finite.len() * cols == data.len() {
            continue;
        }
        finite.sort_by(f64::total_cmp);
        let median = match finite.len() {
            0 => 0.0,
            n if n % 2 == 1 => finite[n / 2],
            n => (finite[n / 2 - 1] + finite[n / 2]) / 2.0,
        };
        for v in data.iter_mut().skip(c).step_by(cols) {
            if !v.is_finite() {
                *v = median;
            }
        }
    }
}

fn min(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 }
}

/// CPU time of every thread of this process so far, in seconds, from
/// `/proc/self/task/*/schedstat` (nanosecond resolution); `None` where that is unavailable.
/// Wall time on a shared machine also counts time spent waiting for a core; CPU time does
/// not, so the two together tell a slow detector from a busy machine.
fn process_cpu_s() -> Option<f64> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 / 1e9)
}

fn write_scores(path: &Path, scores: &[f64]) -> Result<(), Error> {
    let mut w = BufWriter::new(File::create(path)?);
    for s in scores {
        writeln!(w, "{s}")?;
    }
    w.flush()?;
    Ok(())
}

fn bench(
    kind: DetectorKind,
    train: MatrixView<'_>,
    test: MatrixView<'_>,
    args: &Args,
) -> Result<String, Error> {
    let params = kind.default_params();
    let started = Instant::now();
    let model = params.fit(train, args.seed)?;
    let fit_s = started.elapsed().as_secs_f64();
    let scores = model.try_score(test)?;
    let path = args.out_dir.join(format!("{}.scores", kind.name()));
    write_scores(&path, &scores)?;
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..args.runs {
        let cpu_before = process_cpu_s();
        let started = Instant::now();
        std::hint::black_box(model.score(test));
        wall.push(started.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu_before, process_cpu_s()) {
            cpu.push(b - a);
        }
    }
    let score_s_min = min(&wall);
    let score_s = median(wall);
    let (score_cpu_s, score_cpu_s_min) = if cpu.len() == args.runs {
        (format!("{:.6}", median(cpu.clone())), format!("{:.6}", min(&cpu)))
    } else {
        ("null".into(), "null".into())
    };
    Ok(format!(
        "{{\"detector\":\"{}\",\"train_rows\":{},\"test_rows\":{},\"cols\":{},\"threads\":{},\
         \"fit_s\":{fit_s:.6},\"score_s\":{score_s:.6},\"score_cpu_s\":{score_cpu_s},\
         \"score_rows_per_s\":{:.1},\"score_s_min\":{score_s_min:.6},\
         \"score_cpu_s_min\":{score_cpu_s_min},\"scores\":\"{}\"}}",
        kind.name(),
        train.rows(),
        test.rows(),
        train.cols(),
        rayon::current_num_threads(),
        test.rows() as f64 / score_s,
        path.display().to_string().replace('\\', "\\\\").replace('"', "\\\""),
    ))
}

fn run() -> Result<(), Error> {
    let args = parse_args()?;
    let (mut train, names) = read_features(&args.train)?;
    let (test, test_names) = read_features(&args.test)?;
    if names != test_names {
        return Err("TRAIN and TEST have different feature columns".into());
    }
    impute_medians(&mut train);
    std::fs::create_dir_all(&args.out_dir)?;
    eprintln!(
        "matrix_bench: train {} x {}, test {} x {}, {} threads",
        train.rows(),
        train.cols(),
        test.rows(),
        test.cols(),
        rayon::current_num_threads()
    );
    let stdout = std::io::stdout();
    for &kind in &args.detectors {
        eprintln!("matrix_bench: {kind}");
        let line =
            bench(kind, train.view(), test.view(), &args).map_err(|e| format!("{kind}: {e}"))?;
        let mut out = stdout.lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("matrix_bench: {e}");
            ExitCode::FAILURE
        }
    }
}
