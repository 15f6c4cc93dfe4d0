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
