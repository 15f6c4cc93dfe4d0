use super::*;
use crate::curves::curves;
use crate::labels::Labels;
use crate::metrics::evaluate;

fn sample(labeled: bool) -> ReportData {
    let scores: Vec<f64> = (0..400)
        .map(|i| if i % 10 == 0 { 0.8 + (i % 7) as f64 / 50.0 } else { (i % 13) as f64 / 30.0 })
        .collect();
    let mut labels = Labels::new();
    for i in 0..400 {
        labels.push(i % 10 == 0, Some(if i % 20 == 0 { "sqli" } else { "scan" }));
    }
    let ts: Vec<Option<i64>> = (0..400).map(|i| Some(1_772_409_600 + i * 200)).collect();
    let truth = labeled.then(|| labels.anomalous());
    ReportData {
        title: "Evaluation <b>".into(),
        subtitle: "access.log & labels".into(),
        threshold: 0.7,
        run: RunSummary {
            detector: "iforest".into(),
            records: 400,
            flagged: 40,
            train_records: Some(1_000),
            train_seconds: Some(0.5),
            score_seconds: Some(0.01),
            extra: vec![("Seed".into(), "42".into())],
        },
        evaluation: labeled.then(|| evaluate(&scores, &labels, 0.7).expect("metrics")),
        curves: if labeled {
            curves(&scores, labels.anomalous(), 500).expect("curves")
        } else {
            Default::default()
        },
        histogram: ScoreHistogram::compute(&scores, truth, 40),
        histogram_log_y: true,
        timeline: timeline(&ts, &scores, 0.7, truth, 300),
        top_anomalies: vec![TopAnomaly {
            line: 7,
            ts: Some(1_772_409_600),
            client: "203.0.113.9".into(),
            request: "GET /search?q=<script>alert('x')</script> HTTP/1.1".into(),
            status: Some(200),
            score: 0.97,
            label: Some("xss".into()),
            explanation: vec![Contribution {
                feature: "query_special_char_ratio".into(),
                value: "0.41 <svg/onload=alert(1)>".into(),
                typical: "0.02".into(),
                contribution: 0.62,
            }],
        }],
    }
}

#[test]
fn user_text_is_escaped() {
    let html = render_report(&sample(true));
    assert!(!html.contains("<script"), "raw script tag in report");
    assert!(!html.contains("<svg/onload"));
    assert!(!html.contains("<b>"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("access.log &amp; labels"));
}

#[test]
fn report_is_self_contained() {
    let html = render_report(&sample(true));
    for needle in ["http://", "https://", "src=", "<link", "@import", "url("] {
        assert!(!html.contains(needle), "report references {needle}");
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
}

#[test]
fn labeled_report_has_every_section() {
    let html = render_report(&sample(true));
    for needle in [
        "ROC curve",
        "Precision–recall",
        "Score distribution",
        "Recall per category",
        "Timeline",
        "Confusion matrix",
        "Top anomalies",
        "query_special_char_ratio",
        "iforest",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
}

#[test]
fn unlabeled_report_skips_label_charts() {
    let html = render_report(&sample(false));
    assert!(!html.contains("ROC curve"));
    assert!(!html.contains("Confusion matrix"));
    assert!(html.contains("Score distribution"));
    assert!(html.contains("Timeline"));
}

#[test]
fn empty_report_renders() {
    let html = render_report(&ReportData::default());
    assert!(html.contains("anomalog report"));
}

fn drift_page() -> DriftPage {
    let bins = |shift: f64| -> Vec<BinShare> {
        let mut v: Vec<BinShare> = (0..10)
            .map(|i| BinShare {
                lo: if i == 0 { f64::NEG_INFINITY } else { f64::from(i) },
                hi: if i == 9 { f64::INFINITY } else { f64::from(i + 1) },
                training: 0.1,
                observed: if i < 5 { 0.1 - shift } else { 0.1 + shift },
                missing: false,
            })
            .collect();
        v.push(BinShare {
            lo: f64::NAN,
            hi: f64::NAN,
            training: 0.0,
            observed: 0.0,
            missing: true,
        });
        v
    };
    DriftPage {
        title: "drift <i>".into(),
        subtitle: "access.log".into(),
        verdict: "DRIFTED".into(),
        drifted: true,
        records: 5_000,
        training_records: 10_000,
        score_psi: 0.31,
        score_ks_d: 0.2,
        psi_threshold: 0.25,
        features: vec![
            FeatureShift { name: "path_<b>length".into(), psi: 1.2, ks_d: 0.5, ks_p: 1e-9 },
            FeatureShift { name: "undefined".into(), psi: f64::NAN, ks_d: 0.0, ks_p: 1.0 },
            FeatureShift { name: "hour_sin".into(), psi: 0.01, ks_d: 0.02, ks_p: 0.9 },
        ],
        score_bins: bins(0.05),
        feature_bins: vec![("path_<b>length".into(), bins(0.08))],
        extra: vec![],
    }
}

#[test]
fn drift_page_charts_psi_and_distributions() {
    let html = render_drift_report(&drift_page());
    for needle in [
        "Most drifted features",
        "PSI per feature",
        "Score distribution",
        "training",
        "observed",
        "Every feature",
        "DRIFTED",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    assert!(!html.contains("<b>") && !html.contains("<i>"), "unescaped user text");
    assert!(html.contains("path_&lt;b&gt;length"));
    // The NaN PSI is drawn as a full bar of the drifted color, not a broken number.
    assert!(!html.contains("width=\"NaN\""));
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
    assert_eq!(html.matches("<svg").count(), 3);
    let empty = render_drift_report(&DriftPage::default());
    assert!(empty.contains("no drift") && empty.trim_end().ends_with("</html>"));
}

#[test]
fn tune_page_ranks_candidates() {
    let trial = |label: &str, pr: f64, fit: f64| TuneTrial {
        label: label.into(),
        pr_auc: Some(pr),
        roc_auc: Some(0.99),
        f1: Some(0.7),
        fit_seconds: fit,
        error: None,
    };
    let page = TunePage {
        title: "tune".into(),
        subtitle: String::new(),
        trials: vec![
            trial("hbos bins=20 · windows 10,60,600", 0.89, 0.2),
            trial(&"x".repeat(200), 0.80, 1.5),
            TuneTrial { error: Some("fit <failed>".into()), ..trial("ocsvm", 0.0, 0.1) },
        ],
        held_out: None,
        summary: vec![("Seed".into(), "42".into())],
    };
    let html = render_tune_report(&page);
    for needle in ["Validation PR-AUC", "Cost and quality", "best: 0.890", "hbos bins=20", "…"] {
        assert!(html.contains(needle), "missing {needle}");
    }
    assert!(html.contains("failed: fit &lt;failed&gt;"));
    assert_eq!(html.matches("<svg").count(), 2);
    let empty = render_tune_report(&TunePage::default());
    assert!(!empty.contains("<svg") && empty.trim_end().ends_with("</html>"));
}
