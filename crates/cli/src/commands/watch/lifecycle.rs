//! What keeps the detector right over time, on the scorer's side: the window of recent
//! traffic retraining learns from, the allow-list of marked false positives, the drift
//! alert, and the counters `/metrics` shows. The work itself (training, evaluation,
//! promotion, reloading the allow-list) runs on the thread of [`super::retrain`], so
//! scoring never waits for it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Mutex, RwLock};

use anomalog_pipeline::DriftReport;
use anomalog_pipeline::Model;
use anomalog_server::{AllowPattern, DriftPoint};
use anomalog_watch::incident::{Anomaly, ExplanationItem};
use serde::{Deserialize, Serialize};

/// `[retrain]`: training a candidate on recent traffic and promoting it when it is not
/// worse than the model in use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrainConfig {
    /// Turns retraining on (off by default: a model changes only when the operator
    /// says so).
    pub enabled: bool,
    /// Retrain every this many seconds; 0 retrains only when drift fires.
    pub interval_secs: u64,
    /// Retrain when a drift alert fires (see `[drift]`).
    pub on_drift: bool,
    /// Records kept in the window of recent traffic retraining learns from.
    pub window_records: usize,
    /// Records older than this many hours (by their timestamp) leave the window.
    pub window_hours: f64,
    /// Retraining with fewer records in the window is skipped (and said).
    pub min_records: usize,
    /// The share of the window held out to compare candidate and current model: that
    /// many of its blocks of consecutive records, spread over it.
    pub holdout_fraction: f64,
    /// The candidate may flag at most this much more of the holdout than the current
    /// model (absolute, 0.001 = 0.1 percentage point).
    pub max_alert_rate_increase: f64,
    /// The candidate may flag at most this share of the held-out records the current
    /// model does not flag (traffic it judges normal; on traffic that did not change,
    /// each is a new false alarm). Its threshold is calibrated to half of it.
    pub max_new_alert_rate: f64,
    /// The candidate may detect at most this much less of the confirmed incidents'
    /// requests than the current model (absolute share).
    pub max_recall_drop: f64,
    /// Least time between two retrainings, in seconds.
    pub cooldown_secs: u64,
    /// Seed of the candidate's training.
    pub seed: u64,
}

impl Default for RetrainConfig {
    fn default() -> Self {
        RetrainConfig {
            enabled: false,
            interval_secs: 0,
            on_drift: true,
            window_records: 50_000,
            window_hours: 24.0,
            min_records: 5_000,
            holdout_fraction: 0.25,
            max_alert_rate_increase: 0.001,
            max_new_alert_rate: 0.005,
            max_recall_drop: 0.0,
            cooldown_secs: 600,
            seed: 42,
        }
    }
}

/// `[drift]`: when drift of live traffic becomes an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftAlertConfig {
    /// A drifted window whose score PSI passes this sends one drift alert through the
    /// alert sinks (once per episode: again only after a window without drift).
    pub alert_psi: f64,
    /// ... or whose share of drifted features passes this.
    pub alert_feature_share: f64,
}

impl Default for DriftAlertConfig {
    fn default() -> Self {
        DriftAlertConfig { alert_psi: 0.25, alert_feature_share: 0.25 }
    }
}

/// `[allowlist]`: suppressing anomalies like the incidents marked as false positives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllowlistConfig {
    /// Suppress anomalies matching a marked false positive (same category, method and
    /// path template) before incident grouping.
    pub enabled: bool,
    /// Seconds between two reloads of the allow-list from the database.
    pub reload_secs: u64,
}

impl Default for AllowlistConfig {
    fn default() -> Self {
        AllowlistConfig { enabled: true, reload_secs: 10 }
    }
}

/// A recent line and whether retraining may learn from it.
#[derive(Debug, Clone)]
pub struct WindowLine {
    /// The record's time, unix seconds, when known.
    pub ts: Option<i64>,
    /// The line as read.
    pub line: Box<[u8]>,
    /// Flagged (and not allow-listed): not normal traffic to learn from, unless the
    /// operator marks it a false positive before the next retraining.
    pub flagged: bool,
    /// The category it was flagged in.
    pub category: Option<&'static str>,
}

/// What the scorer tells the lifecycle thread.
#[derive(Debug)]
pub enum Signal {
    /// A drift window closed; keep its point.
    Drift(DriftPoint),
    /// Drift passed the alert level: retrain if configured to.
    DriftAlert,
}

/// The state the scorer, the lifecycle thread and `/metrics` share.
pub struct Lifecycle {
    /// Retraining settings.
    pub retrain: RetrainConfig,
    /// Drift alert settings.
    pub drift: DriftAlertConfig,
    /// Allow-list settings.
    pub allowlist: AllowlistConfig,
    window: Mutex<VecDeque<WindowLine>>,
    appended: AtomicU64,
    allow: RwLock<Vec<AllowPattern>>,
    current: Mutex<Option<&'static Model>>,
    signals: Mutex<Option<SyncSender<Signal>>>,
    /// The id of the active model in the database (0 before it is known).
    pub active_model: AtomicI64,
    /// Anomalies suppressed by the allow-list.
    pub suppressed: AtomicU64,
    /// Drift alerts sent.
    pub drift_alerts: AtomicU64,
    /// Retrainings by outcome.
    pub promoted: AtomicU64,
    /// Candidates that failed evaluation.
    pub rejected: AtomicU64,
    /// Retrainings skipped (too little data, cooldown).
    pub skipped: AtomicU64,
    /// Retrainings that failed (training error, store or file error).
    pub failed: AtomicU64,
    /// Whether a retraining runs now.
    pub running: AtomicBool,
}

impl Lifecycle {
    /// The shared state for these settings, before any model is known.
    pub fn new(
        retrain: RetrainConfig,
        drift: DriftAlertConfig,
        allowlist: AllowlistConfig,
    ) -> Lifecycle {
        Lifecycle {
            retrain,
            drift,
            allowlist,
            window: Mutex::new(VecDeque::new()),
            appended: AtomicU64::new(0),
            allow: RwLock::new(Vec::new()),
            current: Mutex::new(None),
            signals: Mutex::new(None),
            active_model: AtomicI64::new(0),
            suppressed: AtomicU64::new(0),
            drift_alerts: AtomicU64::new(0),
            promoted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            running: AtomicBool::new(false),
        }
    }

    /// Where the scorer's signals go (the lifecycle thread's channel).
    pub fn connect(&self, sender: SyncSender<Signal>) {
        *self.signals.lock().unwrap_or_else(|p| p.into_inner()) = Some(sender);
    }

    /// Stops sending signals (the thread then ends).
    pub fn disconnect(&self) {
        self.signals.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn signal(&self, s: Signal) {
        if let Some(tx) = self.signals.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            // A full channel means the thread is busy training: a drift point or a
            // trigger dropped then changes nothing that matters.
            let _ = tx.try_send(s);
        }
    }

    /// The model scoring now.
    pub fn current(&self) -> Option<&'static Model> {
        *self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the model the scorer now uses.
    pub fn set_current(&self, model: &'static Model) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(model);
    }

    /// Appends the lines of a scored batch to the window, dropping the oldest beyond
    /// its size.
    pub fn extend_window(&self, lines: impl IntoIterator<Item = WindowLine>) {
        if !self.retrain.enabled {
            return;
        }
        let cap = self.retrain.window_records.max(1);
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for line in lines {
            if w.len() >= cap {
                w.pop_front();
            }
            w.push_back(line);
            n += 1;
        }
        self.appended.fetch_add(n, Ordering::Relaxed);
    }

    /// Records appended to the window since the start.
    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::Relaxed)
    }

    /// Records in the window a retraining would take: those within `window_hours` of
    /// the latest (what [`Lifecycle::window_snapshot`] copies).
    pub fn window_len(&self) -> usize {
        let w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let (latest, horizon) = Self::horizon(&w, self.retrain.window_hours);
        w.iter().filter(|l| Self::recent(l, latest, horizon)).count()
    }

    /// A copy of the window, without the lines older than `window_hours` before the
    /// latest one.
    pub fn window_snapshot(&self) -> Vec<WindowLine> {
        let w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let (latest, horizon) = Self::horizon(&w, self.retrain.window_hours);
        w.iter().filter(|l| Self::recent(l, latest, horizon)).cloned().collect()
    }

    fn horizon(w: &VecDeque<WindowLine>, hours: f64) -> (Option<i64>, i64) {
        (w.iter().rev().find_map(|l| l.ts), (hours * 3600.0) as i64)
    }

    fn recent(l: &WindowLine, latest: Option<i64>, horizon: i64) -> bool {
        match (l.ts, latest) {
            (Some(t), Some(last)) => last - t <= horizon,
            _ => true,
        }
    }

    /// Replaces the allow-list.
    pub fn set_allow_patterns(&self, patterns: Vec<AllowPattern>) {
        *self.allow.write().unwrap_or_else(|p| p.into_inner()) = patterns;
    }

    /// Allow patterns loaded.
    pub fn allow_pattern_count(&self) -> usize {
        self.allow.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether an anomaly of `category` on `request` matches a marked false positive.
    pub fn allowed(&self, category: &str, request: &str) -> bool {
        let allow = self.allow.read().unwrap_or_else(|p| p.into_inner());
        allow.iter().any(|p| p.matches(category, request))
    }

    /// Whether an anomaly of `category` on `request` is a marked false positive; counts
    /// it when so.
    pub fn suppresses(&self, category: &str, request: &str) -> bool {
        if !self.allowlist.enabled {
            return false;
        }
        let allow = self.allow.read().unwrap_or_else(|p| p.into_inner());
        let hit = allow.iter().any(|p| p.matches(category, request));
        if hit {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// The lifecycle counters in the Prometheus text format.
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP anomalog_retrain_total Retrainings by outcome.\n\
             # TYPE anomalog_retrain_total counter\n",
        );
        for (outcome, c) in [
            ("promoted", &self.promoted),
            ("rejected", &self.rejected),
            ("skipped", &self.skipped),
            ("failed", &self.failed),
        ] {
            out.push_str(&format!(
                "anomalog_retrain_total{{outcome=\"{outcome}\"}} {}\n",
                c.load(Ordering::Relaxed)
            ));
        }
        let gauges = [
            (
                "active_model_id",
                "gauge",
                "Id of the active model in the database (models list).",
                self.active_model.load(Ordering::Relaxed) as f64,
            ),
            (
                "retrain_running",
                "gauge",
                "Whether a retraining runs now (0/1).",
                f64::from(u8::from(self.running.load(Ordering::Relaxed))),
            ),
            (
                "retrain_window_records",
                "gauge",
                "Records in the window retraining learns from.",
                self.window.lock().unwrap_or_else(|p| p.into_inner()).len() as f64,
            ),
            (
                "allowlist_patterns",
                "gauge",
                "Allow patterns from false positives marked by the operator.",
                self.allow_pattern_count() as f64,
            ),
            (
                "allowlist_suppressed_total",
                "counter",
                "Anomalies suppressed because they match a marked false positive.",
                self.suppressed.load(Ordering::Relaxed) as f64,
            ),
            (
                "drift_alerts_total",
                "counter",
                "Drift alerts sent.",
                self.drift_alerts.load(Ordering::Relaxed) as f64,
            ),
        ];
        for (name, kind, help, v) in gauges {
            out.push_str(&format!(
                "# HELP anomalog_{name} {help}\n# TYPE anomalog_{name} {kind}\nanomalog_{name} {v}\n"
            ));
        }
        out
    }
}

/// The scorer's side of drift alerts: one alert per episode of drift.
#[derive(Debug, Default)]
pub struct DriftAlarm {
    alerting: bool,
}

impl DriftAlarm {
    /// Handles a closed drift window: keeps its point, and returns the alert to send
    /// when drift passes the alert level for the first time in an episode.
    pub fn window_closed(
        &mut self,
        lifecycle: &Lifecycle,
        report: &DriftReport,
        now_secs: i64,
    ) -> Option<Anomaly> {
        let top: Vec<(String, f64)> =
            report.most_drifted().into_iter().take(5).map(|f| (f.name.clone(), f.psi)).collect();
        let model_id = lifecycle.active_model.load(Ordering::Relaxed);
        lifecycle.signal(Signal::Drift(DriftPoint {
            at: now_secs,
            model_id: (model_id > 0).then_some(model_id),
            records: report.records,
            drifted: report.drifted,
            score_psi: report.score_psi,
            drifted_features: report.drifted_features as u64,
            top: top.clone(),
        }));
        let c = &lifecycle.drift;
        let over = report.drifted
            && (report.score_psi > c.alert_psi || report.drifted_share > c.alert_feature_share);
        if !report.drifted {
            self.alerting = false;
        }
        if !over || self.alerting {
            return None;
        }
        self.alerting = true;
        lifecycle.drift_alerts.fetch_add(1, Ordering::Relaxed);
        let names: Vec<String> =
            top.iter().take(3).map(|(n, p)| format!("{n} (PSI {p:.2})")).collect();
        eprintln!(
            "anomalog: drift alert: score PSI {:.2}, {} of {} features drifted ({}); {}",
            report.score_psi,
            report.drifted_features,
            report.features.len(),
            names.join(", "),
            if lifecycle.retrain.enabled && lifecycle.retrain.on_drift {
                "retraining a candidate"
            } else {
                "consider retraining"
            }
        );
        lifecycle.signal(Signal::DriftAlert);
        Some(Anomaly {
            ts: None,
            source: String::new(),
            line: 0,
            client: None,
            category: "drift".to_string(),
            request: format!(
                "traffic drifted from the training data: score PSI {:.2}, {} features drifted: {}",
                report.score_psi,
                report.drifted_features,
                names.join(", ")
            ),
            status: None,
            score: report.score_psi.clamp(0.0, 1.0),
            explanation: top
                .into_iter()
                .map(|(feature, psi)| ExplanationItem {
                    feature,
                    value: Some(psi),
                    typical: Some(0.0),
                    contribution: psi,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(drifted: bool, score_psi: f64, drifted_share: f64) -> DriftReport {
        DriftReport {
            drifted,
            score_psi,
            score_ks_d: 0.0,
            score_ks_p: 1.0,
            records: 1000,
            training_records: 5000,
            enough_records: true,
            drifted_features: (drifted_share * 10.0) as usize,
            drifted_share,
            psi_threshold: 0.25,
            feature_share: 0.1,
            features: Vec::new(),
        }
    }

    fn lifecycle(retrain: RetrainConfig) -> Lifecycle {
        Lifecycle::new(retrain, DriftAlertConfig::default(), AllowlistConfig::default())
    }

    #[test]
    fn one_drift_alert_per_episode() {
        let lc = lifecycle(RetrainConfig::default());
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        lc.connect(tx);
        let mut alarm = DriftAlarm::default();
        assert!(alarm.window_closed(&lc, &report(false, 0.01, 0.0), 1).is_none());
        // Drifted, but below both alert levels.
        assert!(alarm.window_closed(&lc, &report(true, 0.1, 0.2), 2).is_none());
        let alert = alarm.window_closed(&lc, &report(true, 0.6, 0.2), 3).unwrap();
        assert_eq!(alert.category, "drift");
        assert!(alert.request.contains("score PSI 0.60"), "{}", alert.request);
        assert!(alarm.window_closed(&lc, &report(true, 0.9, 0.5), 4).is_none());
        assert!(alarm.window_closed(&lc, &report(false, 0.01, 0.0), 5).is_none());
        assert!(alarm.window_closed(&lc, &report(true, 0.1, 0.4), 6).is_some());
        assert_eq!(lc.drift_alerts.load(Ordering::Relaxed), 2);
        let signals: Vec<Signal> = rx.try_iter().collect();
        assert_eq!(signals.iter().filter(|s| matches!(s, Signal::Drift(_))).count(), 6);
        assert_eq!(signals.iter().filter(|s| matches!(s, Signal::DriftAlert)).count(), 2);
    }

    #[test]
    fn the_window_keeps_the_latest_records_within_its_hours() {
        let retrain = RetrainConfig {
            enabled: true,
            window_records: 3,
            window_hours: 1.0,
            ..RetrainConfig::default()
        };
        let lc = lifecycle(retrain);
        let line = |ts: i64| WindowLine {
            ts: Some(ts),
            line: Box::from(&b"x"[..]),
            flagged: false,
            category: None,
        };
        lc.extend_window([line(0), line(10), line(5000), line(7200)]);
        // Three kept, of which two within the hour: what a retraining counts.
        assert_eq!(lc.window_len(), 2);
        assert_eq!(lc.appended(), 4);
        let kept: Vec<i64> = lc.window_snapshot().iter().filter_map(|l| l.ts).collect();
        assert_eq!(kept, vec![5000, 7200]);
        let off = lifecycle(RetrainConfig::default());
        off.extend_window([line(0)]);
        assert_eq!(off.window_len(), 0);
    }

    #[test]
    fn marked_false_positives_are_suppressed_and_counted() {
        let lc = lifecycle(RetrainConfig::default());
        lc.set_allow_patterns(vec![AllowPattern::from_request(
            "inc-1",
            "unusual_request",
            "GET /stories/spring-looks/12 HTTP/1.1",
        )]);
        assert!(lc.suppresses("unusual_request", "GET /stories/spring-looks/40?x=1 HTTP/2.0"));
        assert!(!lc.suppresses("sqli", "GET /stories/spring-looks/40?id=1' HTTP/2.0"));
        assert_eq!(lc.suppressed.load(Ordering::Relaxed), 1);
        assert!(lc.render_prometheus().contains("anomalog_allowlist_suppressed_total 1\n"));
    }
}
