//! The evaluation report: one self-contained HTML file (inline CSS and SVG, no scripts, no
//! network) with ROC and PR curves, score histograms, recall per category, a timeline,
//! summary and confusion tables and the top anomalies with their explanations.
//!
//! Build a [`ReportData`] with [`ReportData::from_inputs`] (or fill it field by field; the
//! helpers [`crate::curves::curves`], [`ScoreHistogram::compute`] and [`timeline`]
//! aggregate per-record values) and call [`render_report`].

mod build;
mod charts;
mod data;
mod html;
mod pages;
mod svg;

use std::fmt::Write;

pub use build::{ReportInputs, top_indices};
pub use data::{
    Contribution, ReportData, RunSummary, ScoreHistogram, TimelineBin, TopAnomaly, timeline,
};
pub use pages::{
    BinShare, DriftPage, FeatureShift, TunePage, TuneTrial, render_drift_report, render_tune_report,
};

use html::{escape, int, num, pct, rate, secs, timestamp};

const STYLE: &str = include_str!("style.css");

/// Renders the report as a complete HTML document.
pub fn render_report(data: &ReportData) -> String {
    let mut out = pages::open_page(&data.title, &data.subtitle);
    cards(&mut out, data);

    let e = data.evaluation.as_ref();
    let mut panels: Vec<String> = Vec::new();
    if let Some(svg) = charts::roc(data) {
        let auc = num(e.and_then(|e| e.roc_auc));
        panels.push(panel(
            &format!("ROC curve <span class=\"aside\">· AUC {auc}</span>"),
            &svg,
            "",
        ));
    }
    if let Some(svg) = charts::pr(data) {
        let ap = num(e.and_then(|e| e.pr_auc));
        panels.push(panel(
            &format!("Precision–recall <span class=\"aside\">· average precision {ap}</span>"),
            &svg,
            "",
        ));
    }
    if let Some(svg) = charts::histogram(data) {
        let note = if data.histogram_log_y { "Counts on a logarithmic scale." } else { "" };
        panels.push(panel("Score distribution", &svg, note));
    }
    if let Some(svg) = e.and_then(|e| charts::categories(&e.per_category)) {
        panels.push(panel(
            "Recall per category",
            &svg,
            &format!("At the production threshold {}.", num(Some(data.threshold))),
        ));
    }
    if !panels.is_empty() {
        let _ = write!(out, "<section class=\"row\">{}</section>", panels.concat());
    }

    if let Some((traffic, scores)) = charts::timeline(&data.timeline, data.threshold) {
        let _ = write!(
            out,
            "<section class=\"panel wide\"><h2>Timeline</h2>{traffic}{scores}</section>"
        );
    }

    let mut tables = vec![panel("Summary", &summary_table(data), "")];
    if let Some(e) = e {
        tables.push(panel("Confusion matrix", &confusion(e), ""));
    }
    let _ = write!(out, "<section class=\"row\">{}</section>", tables.concat());

    top_anomalies(&mut out, data);
    pages::close_page(out)
}

fn panel(title: &str, body: &str, note: &str) -> String {
    let note = if note.is_empty() {
        String::new()
    } else {
        format!("<p class=\"note\">{}</p>", escape(note))
    };
    format!("<div class=\"panel\"><h2>{title}</h2>{body}{note}</div>")
}

fn cards(out: &mut String, data: &ReportData) {
    let mut items: Vec<(&str, String)> = vec![("Records", int(data.run.records))];
    match &data.evaluation {
        Some(e) => items.extend([
            ("Anomalies", int(e.anomalies)),
            ("Flagged", int(e.confusion.true_positives + e.confusion.false_positives)),
            ("Precision", pct(e.precision)),
            ("Recall", pct(e.recall)),
            ("F1", num(Some(e.f1))),
            ("ROC-AUC", num(e.roc_auc)),
            ("PR-AUC", num(e.pr_auc)),
        ]),
        None => items.push(("Flagged", int(data.run.flagged))),
    }
    pages::cards(out, &items);
}

fn summary_table(data: &ReportData) -> String {
    let run = &data.run;
    let mut rows: Vec<(String, String)> = vec![
        (
            "Detector".into(),
            if run.detector.is_empty() { "n/a".into() } else { run.detector.clone() },
        ),
        ("Records scored".into(), int(run.records)),
        ("Threshold".into(), num(Some(data.threshold))),
    ];
    if let Some(e) = &data.evaluation {
        rows.extend([
            (
                "Labeled anomalies".into(),
                format!("{} ({})", int(e.anomalies), pct(ratio(e.anomalies, e.records))),
            ),
            ("Precision".into(), pct(e.precision)),
            ("Recall".into(), pct(e.recall)),
            ("F1".into(), num(Some(e.f1))),
            ("False positive rate".into(), pct(e.false_positive_rate)),
            ("ROC-AUC".into(), num(e.roc_auc)),
            ("PR-AUC (average precision)".into(), num(e.pr_auc)),
        ]);
        if let Some(b) = e.best_f1 {
            rows.push((
                "Best F1 (oracle threshold)".into(),
                format!(
                    "{} at {} (P {}, R {})",
                    num(Some(b.f1)),
                    num(Some(b.threshold)),
                    pct(b.precision),
                    pct(b.recall)
                ),
            ));
        }
    } else {
        rows.push(("Flagged".into(), int(run.flagged)));
    }
    if let Some(n) = run.train_records {
        rows.push(("Training records".into(), int(n)));
    }
    if let Some(s) = run.train_seconds {
        rows.push(("Training time".into(), secs(s)));
    }
    if let Some(s) = run.score_seconds {
        rows.push(("Scoring time".into(), secs(s)));
        if s > 0.0 {
            rows.push(("Scoring throughput".into(), rate(run.records as f64 / s)));
        }
    }
    rows.extend(run.extra.iter().cloned());
    pages::kv_table(&rows)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn confusion(e: &crate::metrics::Evaluation) -> String {
    let m = &e.confusion;
    let cell = |class: &str, n: u64, name: &str| {
        format!("<td class=\"cell {class}\">{}<small>{name}</small></td>", int(n))
    };
    format!(
        "<table class=\"confusion\"><tr><th></th><th>flagged</th><th>not flagged</th></tr>\
         <tr><th>anomalous</th>{}{}</tr><tr><th>normal</th>{}{}</tr></table>\
         <table class=\"kv\"><tr><td>Of flagged records, anomalous (precision)</td><td>{}</td></tr>\
         <tr><td>Of anomalies, flagged (recall)</td><td>{}</td></tr>\
         <tr><td>Of normal records, flagged (FPR)</td><td>{}</td></tr></table>",
        cell("tp", m.true_positives, "true positives"),
        cell("fn", m.false_negatives, "missed"),
        cell("fp", m.false_positives, "false alarms"),
        cell("tn", m.true_negatives, "true negatives"),
        pct(e.precision),
        pct(e.recall),
        pct(e.false_positive_rate),
    )
}

fn top_anomalies(out: &mut String, data: &ReportData) {
    if data.top_anomalies.is_empty() {
        return;
    }
    let labeled = data.evaluation.is_some();
    let _ = write!(
        out,
        "<section class=\"panel wide\"><h2>Top anomalies <span class=\"aside\">· {} highest scores</span></h2>\
         <div class=\"scroll\"><table class=\"top\"><tr><th class=\"num\">#</th><th class=\"num\">Score</th><th>Line · time</th>\
         <th>Client</th><th>Status</th>{}<th>Request</th><th>Why</th></tr>",
        data.top_anomalies.len(),
        if labeled { "<th>Label</th>" } else { "" }
    );
    for (i, a) in data.top_anomalies.iter().enumerate() {
        let time = a.ts.map(timestamp).unwrap_or_default();
        let status = match a.status {
            Some(s) => format!("<span class=\"badge s{}\">{s}</span>", s / 100),
            None => "–".to_owned(),
        };
        let label = if labeled {
            match &a.label {
                Some(l) => format!("<td><span class=\"badge anom\">{}</span></td>", escape(l)),
                None => "<td><span class=\"badge\">normal</span></td>".to_owned(),
            }
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<tr><td class=\"num\">{}</td><td class=\"num score\">{}</td><td class=\"when\">{}<br><small>{}</small></td>\
             <td><code>{}</code></td><td>{status}</td>{label}<td class=\"req\">{}</td><td class=\"why\">{}</td></tr>",
            i + 1,
            num(Some(a.score)),
            int(a.line),
            escape(&time),
            escape(&a.client),
            escape(&a.request),
            explanation(&a.explanation)
        );
    }
    out.push_str("</table></div></section>");
}

fn explanation(parts: &[Contribution]) -> String {
    if parts.is_empty() {
        return String::new();
    }
    let top = parts.iter().map(|c| c.contribution.abs()).fold(0.0, f64::max).max(1e-12);
    let mut s = String::from(
        "<table class=\"expl\"><tr><th>feature</th><th>value</th><th>typical</th><th>contribution</th></tr>",
    );
    for c in parts {
        let w = (c.contribution.abs() / top * 60.0).clamp(1.0, 60.0);
        let _ = write!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td><span class=\"contrib\" style=\"width:{w:.0}px\"></span>{:.2}</td></tr>",
            escape(&c.feature),
            escape(&c.value),
            escape(&c.typical),
            c.contribution
        );
    }
    s.push_str("</table>");
    s
}

#[cfg(test)]
mod tests;
