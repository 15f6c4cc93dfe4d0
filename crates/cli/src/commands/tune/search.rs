//! Running the search: features fitted once per window setting and shared by every
//! detector, each candidate fitted on the training part and ranked on the validation part;
//! the winner alone is scored on the held-out part.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anomalog_eval::{Evaluation, Labels};
use anomalog_features::{FeatureConfig, FeaturePipeline};
use anomalog_ingest::Record;
use anomalog_models::{CalibratedDetector, Fit, MatrixView, ThresholdRule};
use anomalog_pipeline::Model;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::grid::Candidate;
use crate::commands::eval::Dataset;

/// What every candidate shares.
pub struct Settings {
    /// Feature settings except the windows (client key, GeoIP database).
    pub features: FeatureConfig,
    /// The window settings candidates refer to by index.
    pub windows: Vec<Vec<u32>>,
    /// How each candidate's alerting threshold is chosen.
    pub threshold: ThresholdRule,
    /// Seed of every fit.
    pub seed: u64,
}

/// Which test records rank candidates (validation) and which judge the winner (held-out).
pub struct Split {
    /// For each test record, whether it is in the validation part.
    pub validation: Vec<bool>,
    /// Labels of the validation records, in order.
    pub validation_labels: Labels,
    /// Labels of the held-out records, in order.
    pub held_out_labels: Labels,
}

impl Split {
    /// The first `share` of the test part is validation. With `by_class`, the first
    /// `share` of the normal records and the first `share` of the anomalous ones are, for
    /// a test part that is files of one class each rather than one time-ordered log.
    pub fn new(labels: &Labels, share: f64, by_class: bool) -> Split {
        let n = labels.len();
        let truth = labels.anomalous();
        let cut = |count: usize| ((count as f64) * share).round() as usize;
        let mut validation = vec![false; n];
        if by_class {
            let anomalies = labels.anomalies();
            let (cut_anomalous, cut_normal) = (cut(anomalies), cut(n - anomalies));
            let (mut seen_anomalous, mut seen_normal) = (0, 0);
            for (i, &anomalous) in truth.iter().enumerate() {
                let (seen, cut) = match anomalous {
                    true => (&mut seen_anomalous, cut_anomalous),
                    false => (&mut seen_normal, cut_normal),
                };
                validation[i] = *seen < cut;
                *seen += 1;
            }
        } else {
            validation[..cut(n).min(n)].fill(true);
        }
        let mut validation_labels = Labels::new();
        let mut held_out_labels = Labels::new();
        for (i, &v) in validation.iter().enumerate() {
            let part = if v { &mut validation_labels } else { &mut held_out_labels };
            part.push(labels.is_anomalous(i), labels.category(i));
        }
        Split { validation, validation_labels, held_out_labels }
    }
}

/// One candidate's result on the validation part.
pub struct Trial {
    /// Index into the candidates.
    pub candidate: usize,
    /// Metrics on the validation part, or why the candidate could not be fitted.
    pub result: Result<Evaluation, String>,
    /// The 0..1 alerting threshold of the fitted candidate.
    pub threshold: Option<f64>,
    /// Seconds to fit and calibrate the detector (features excluded: they are shared).
    pub fit_seconds: f64,
}

impl Trial {
    /// The ranking key: PR-AUC, then ROC-AUC, higher first; failed or undefined last.
    pub fn key(&self) -> (f64, f64) {
        match &self.result {
            Ok(e) => (
                e.pr_auc.filter(|v| !v.is_nan()).unwrap_or(f64::NEG_INFINITY),
                e.roc_auc.filter(|v| !v.is_nan()).unwrap_or(f64::NEG_INFINITY),
            ),
            Err(_) => (f64::NEG_INFINITY, f64::NEG_INFINITY),
        }
    }
}

/// The cost of the features of one window setting.
pub struct FeatureFit {
    /// The windows, in seconds.
    pub windows: Vec<u32>,
    /// Number of feature columns.
    pub columns: usize,
    /// Seconds to fit the features on the training part and compute them for the test
    /// part.
    pub seconds: f64,
}

/// The best candidate on validation, with its metrics on the held-out part.
pub struct Best {
    /// Index into the candidates.
    pub candidate: usize,
    /// The model, trained on the training part, as `anomalog train` would with these
    /// parameters.
    pub model: Model,
    /// Metrics on the held-out part at the model's threshold; `None` when it is empty.
    pub held_out: Option<Evaluation>,
}

/// Everything the search found.
pub struct Outcome {
    /// One trial per candidate, in candidate order.
    pub trials: Vec<Trial>,
    /// Feature fits, one per window setting used.
    pub features: Vec<FeatureFit>,
    /// The winner, unless every candidate failed.
    pub best: Option<Best>,
    /// Wall-clock seconds of the whole search.
    pub seconds: f64,
}

/// The running best while the search goes: the detector is kept, its features are those
/// of its window setting.
struct Leader {
    candidate: usize,
    key: (f64, f64),
    features: FeaturePipeline,
    detector: CalibratedDetector,
    held_out_scores: Vec<f64>,
}

/// Feature rows of the test part for one window setting, split as [`Split`] says.
struct TestRows {
    validation: Vec<f64>,
    held_out: Vec<f64>,
}

/// Runs every candidate and keeps the best.
pub fn run(
    data: &Dataset,
    split: &Split,
    candidates: &[Candidate],
    settings: &Settings,
) -> Result<Outcome> {
    let started = Instant::now();
    let summary = data.train_summary.clone().with_records(&data.train);

    let bar = progress_bar(candidates.len());
    let mut trials = Vec::with_capacity(candidates.len());
    let mut features = Vec::new();
    let mut leader: Option<Leader> = None;
    let mut start = 0;
    while start < candidates.len() {
        let setting = candidates[start].windows;
        let end = start + candidates[start..].iter().take_while(|c| c.windows == setting).count();
        let windows = &settings.windows[setting];
        if let Some(bar) = &bar {
            bar.set_message(format!("features for windows {}", join(windows)));
        }
        let fit_started = Instant::now();
        let config = FeatureConfig { windows_secs: windows.clone(), ..settings.features.clone() };
        let (pipeline, train_matrix) = FeaturePipeline::fit(config, &data.train)
            .with_context(|| format!("features with windows {}", join(windows)))?;
        let columns = pipeline.names().len();
        let rows = test_rows(&pipeline, &data.test, &split.validation);
        features.push(FeatureFit {
            windows: windows.clone(),
            columns,
            seconds: fit_started.elapsed().as_secs_f64(),
        });
        let train = MatrixView::new(&train_matrix, data.train.len(), columns)?;
        let validation =
            MatrixView::new(&rows.validation, rows.validation.len() / columns, columns)?;
        let held_out = MatrixView::new(&rows.held_out, rows.held_out.len() / columns, columns)?;

        for (index, candidate) in candidates.iter().enumerate().take(end).skip(start) {
            if let Some(bar) = &bar {
                bar.set_message(format!(
                    "{} {} windows {}",
                    candidate.kind,
                    candidate.text,
                    join(windows)
                ));
            }
            let fit_started = Instant::now();
            let fitted = candidate.params.fit(train, settings.seed).and_then(|d| {
                CalibratedDetector::calibrate(d, train, summary.span_seconds, settings.threshold)
            });
            let fit_seconds = fit_started.elapsed().as_secs_f64();
            let trial = match fitted {
                Ok(detector) => {
                    let scores = detector.score(validation);
                    // Metrics flag `score >= threshold`, the model `score > threshold`.
                    let threshold = detector.threshold().next_up();
                    let trial = Trial {
                        candidate: index,
                        result: anomalog_eval::metrics::evaluate(
                            &scores,
                            &split.validation_labels,
                            threshold,
                        )
                        .map_err(|e| e.to_string()),
                        threshold: Some(detector.probability_threshold()),
                        fit_seconds,
                    };
                    let key = trial.key();
                    let leads = trial.result.is_ok()
                        && leader.as_ref().is_none_or(|l| {
                            key.0 > l.key.0 || (key.0 == l.key.0 && key.1 > l.key.1)
                        });
                    if leads {
                        leader = Some(Leader {
                            candidate: index,
                            key,
                            features: pipeline.clone(),
                            held_out_scores: detector.score(held_out),
                            detector,
                        });
                    }
                    trial
                }
                Err(e) => Trial {
                    candidate: index,
                    result: Err(e.to_string()),
                    threshold: None,
                    fit_seconds,
                },
            };
            trials.push(trial);
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        }
        start = end;
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }

    let best = match leader {
        Some(l) => {
            let threshold = l.detector.threshold().next_up();
            let held_out = match split.held_out_labels.is_empty() {
                true => None,
                false => Some(anomalog_eval::metrics::evaluate(
                    &l.held_out_scores,
                    &split.held_out_labels,
                    threshold,
                )?),
            };
            let model =
                Model::assemble(l.features, l.detector, &data.train, summary, settings.seed);
            Some(Best { candidate: l.candidate, model, held_out })
        }
        None => None,
    };
    Ok(Outcome { trials, features, best, seconds: started.elapsed().as_secs_f64() })
}

/// Computes the feature rows of the test records in one pass, in input order (the client
/// and site windows run across the validation/held-out boundary as they would live), and
/// sorts them into the two parts.
fn test_rows(
    pipeline: &FeaturePipeline,
    test: &[Record<'static>],
    validation: &[bool],
) -> TestRows {
    let columns = pipeline.names().len();
    let in_validation = validation.iter().filter(|&&v| v).count();
    let mut rows = TestRows {
        validation: Vec::with_capacity(in_validation * columns),
        held_out: Vec::with_capacity((test.len() - in_validation) * columns),
    };
    let mut stream = pipeline.stream();
    let (mut raw, mut scaled) = (Vec::new(), Vec::new());
    for (record, &v) in test.iter().zip(validation) {
        stream.push(record, &mut raw, &mut scaled);
        let part = if v { &mut rows.validation } else { &mut rows.held_out };
        part.extend_from_slice(&scaled);
    }
    rows
}

/// A bar counting candidates on a terminal; `None` otherwise, so logs stay clean.
fn progress_bar(len: usize) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar =
        ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr_with_hz(8));
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} tuning [{bar:30}] {pos}/{len} candidates, {elapsed} (eta {eta}) {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(125));
    Some(bar)
}

/// `10,60,600`.
pub fn join(windows: &[u32]) -> String {
    windows.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(truth: &[bool]) -> Labels {
        let mut l = Labels::new();
        for &a in truth {
            l.push(a, a.then_some("sqli"));
        }
        l
    }

    #[test]
    fn time_split_takes_the_first_share() {
        let s = Split::new(&labels(&[false, true, false, false, true, false]), 0.5, false);
        assert_eq!(s.validation, [true, true, true, false, false, false]);
        assert_eq!(s.validation_labels.anomalous(), [false, true, false]);
        assert_eq!(s.held_out_labels.anomalous(), [false, true, false]);
        assert_eq!(s.held_out_labels.category(1), Some("sqli"));
    }

    #[test]
    fn class_split_takes_the_first_share_of_each_class() {
        let s = Split::new(&labels(&[false, false, false, false, true, true]), 0.5, true);
        assert_eq!(s.validation, [true, true, false, false, true, false]);
        assert_eq!(s.validation_labels.anomalies(), 1);
        assert_eq!(s.held_out_labels.anomalies(), 1);
    }
}
