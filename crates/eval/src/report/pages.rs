//! Report pages beside the evaluation report, in the same style and as self-contained:
//! the drift check (`anomalog drift --report`) and the hyperparameter search
//! (`anomalog tune --report`).

use std::fmt::Write;

use super::charts;
use super::html::{escape, int, num, pct};
use super::{STYLE, panel};
use crate::metrics::Evaluation;

/// One PSI bin of a distribution: its value range and the share of the training and
/// of the observed values in it.
#[derive(Debug, Clone, PartialEq)]
pub struct BinShare {
    /// Lowest training value in the bin (`-inf` for the open first bin).
    pub lo: f64,
    /// Highest training value in the bin (`inf` for the open last bin).
    pub hi: f64,
    /// Share of the training values.
    pub training: f64,
    /// Share of the observed values.
    pub observed: f64,
    /// The bin of missing values (its range means nothing).
    pub missing: bool,
}

/// Drift of one feature, as the drift check measured it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureShift {
    /// Feature name.
    pub name: String,
    /// Population stability index against training.
    pub psi: f64,
    /// Kolmogorov–Smirnov statistic.
    pub ks_d: f64,
    /// Its p-value.
    pub ks_p: f64,
}

/// What the drift page shows.
#[derive(Debug, Clone, Default)]
pub struct DriftPage {
    /// Page title.
    pub title: String,
    /// Line under the title (inputs, model).
    pub subtitle: String,
    /// The verdict in words.
    pub verdict: String,
    /// Whether the traffic has drifted.
    pub drifted: bool,
    /// Records compared.
    pub records: u64,
    /// Records the model was trained on.
    pub training_records: u64,
    /// PSI of the detector's score.
    pub score_psi: f64,
    /// KS statistic of the score.
    pub score_ks_d: f64,
    /// A distribution has drifted above this PSI.
    pub psi_threshold: f64,
    /// Every feature, most drifted first.
    pub features: Vec<FeatureShift>,
    /// The score's bins.
    pub score_bins: Vec<BinShare>,
    /// The bins of a few of the most drifted features.
    pub feature_bins: Vec<(String, Vec<BinShare>)>,
    /// Extra rows for the summary table.
    pub extra: Vec<(String, String)>,
}

/// One candidate of a hyperparameter search.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneTrial {
    /// Detector, parameters and windows, for people.
    pub label: String,
    /// Validation PR-AUC.
    pub pr_auc: Option<f64>,
    /// Validation ROC-AUC.
    pub roc_auc: Option<f64>,
    /// Validation F1 at the candidate's threshold.
    pub f1: Option<f64>,
    /// Fit time in seconds.
    pub fit_seconds: f64,
    /// Why the candidate failed, if it did.
    pub error: Option<String>,
}

/// What the search page shows.
#[derive(Debug, Clone, Default)]
pub struct TunePage {
    /// Page title.
    pub title: String,
    /// Line under the title.
    pub subtitle: String,
    /// The candidates, best first (failures last).
    pub trials: Vec<TuneTrial>,
    /// The winner's metrics on the held-out part.
    pub held_out: Option<Evaluation>,
    /// Rows of the summary table.
    pub summary: Vec<(String, String)>,
}

/// Most features listed in the drift page's bar chart.
const TOP_FEATURES: usize = 25;

/// Renders the drift page as a complete HTML document.
pub fn render_drift_report(p: &DriftPage) -> String {
    let mut out = open_page(&p.title, &p.subtitle);
    let drifted = p.features.iter().filter(|f| f.psi > p.psi_threshold).count();
    cards(
        &mut out,
        &[
            ("Verdict", if p.drifted { "drifted".to_owned() } else { "no drift".to_owned() }),
            ("Records", int(p.records)),
            ("Training records", int(p.training_records)),
            ("Score PSI", num(Some(p.score_psi))),
            ("Drifted features", format!("{drifted} of {}", p.features.len())),
        ],
    );
    let _ = write!(
        out,
        "<p class=\"verdict {}\">{}</p>",
        if p.drifted { "bad" } else { "good" },
        escape(&p.verdict)
    );
    let mut panels = Vec::new();
    let top: Vec<&FeatureShift> = p.features.iter().take(TOP_FEATURES).collect();
    if !top.is_empty() {
        let peak = top.iter().map(|f| f.psi).fold(p.psi_threshold * 1.5, f64::max);
        let rows: Vec<charts::Bar> = top
            .iter()
            .map(|f| charts::Bar {
                label: f.name.clone(),
                share: if f.psi.is_finite() { f.psi / peak } else { 1.0 },
                class: psi_class(f.psi, p.psi_threshold),
                value: num(Some(f.psi)),
                aside: format!("KS {:.2}", f.ks_d),
                tip: format!("{}: PSI {:.3}, KS D {:.3}, p {:.2e}", f.name, f.psi, f.ks_d, f.ks_p),
            })
            .collect();
        let mark = (p.psi_threshold / peak, format!("PSI {}", p.psi_threshold));
        let svg = charts::hbars("PSI per feature", &rows, Some(mark));
        panels.push(panel(
            &format!(
                "Most drifted features <span class=\"aside\">· top {} of {}</span>",
                top.len(),
                p.features.len()
            ),
            &svg,
            "Population stability index against the training data: below 0.1 stable, \
             0.1 to 0.25 a moderate shift, above 0.25 a significant one.",
        ));
    }
    if let Some(svg) = charts::bin_shares("Score distribution", &p.score_bins) {
        panels.push(panel(
            &format!(
                "Score distribution <span class=\"aside\">· PSI {} · KS D {}</span>",
                num(Some(p.score_psi)),
                num(Some(p.score_ks_d))
            ),
            &svg,
            "Share of records per bin of equal training mass: a model that still fits \
             the traffic gives bars of about equal height.",
        ));
    }
    for (name, bins) in &p.feature_bins {
        if let Some(svg) = charts::bin_shares(name, bins) {
            panels.push(panel(&format!("<code>{}</code>", escape(name)), &svg, ""));
        }
    }
    if !panels.is_empty() {
        let _ = write!(out, "<section class=\"row\">{}</section>", panels.concat());
    }
    let mut rows = vec![
        ("Records compared".to_owned(), int(p.records)),
        ("Training records".to_owned(), int(p.training_records)),
        ("PSI threshold".to_owned(), format!("{}", p.psi_threshold)),
        ("Score PSI".to_owned(), num(Some(p.score_psi))),
        ("Score KS D".to_owned(), num(Some(p.score_ks_d))),
    ];
    rows.extend(p.extra.iter().cloned());
    let mut table = String::from(
        "<div class=\"scroll\"><table><tr><th>Feature</th><th class=\"num\">PSI</th>\
         <th class=\"num\">KS D</th><th class=\"num\">KS p</th></tr>",
    );
    for f in &p.features {
        let _ = write!(
            table,
            "<tr><td><code>{}</code></td><td class=\"num {}\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{:.2e}</td></tr>",
            escape(&f.name),
            psi_class(f.psi, p.psi_threshold),
            num(Some(f.psi)),
            num(Some(f.ks_d)),
            f.ks_p
        );
    }
    table.push_str("</table></div>");
    let _ = write!(
        out,
        "<section class=\"row\">{}{}</section>",
        panel("Summary", &kv_table(&rows), ""),
        panel("Every feature", &table, "")
    );
    close_page(out)
}

fn psi_class(psi: f64, threshold: f64) -> &'static str {
    // NaN (an undefined PSI) reads as drifted.
    if psi > threshold || psi.is_nan() {
        "rec-bad"
    } else if psi > threshold / 2.0 {
        "rec-mid"
    } else {
        "rec-good"
    }
}

/// Renders the search page as a complete HTML document.
pub fn render_tune_report(p: &TunePage) -> String {
    let mut out = open_page(&p.title, &p.subtitle);
    let ok: Vec<&TuneTrial> = p.trials.iter().filter(|t| t.error.is_none()).collect();
    let mut items = vec![
        ("Candidates", int(p.trials.len() as u64)),
        ("Failed", int((p.trials.len() - ok.len()) as u64)),
    ];
    if let Some(e) = &p.held_out {
        items.extend([
            ("Held-out PR-AUC", num(e.pr_auc)),
            ("Held-out ROC-AUC", num(e.roc_auc)),
            ("Held-out F1", num(Some(e.f1))),
            ("Precision", pct(e.precision)),
            ("Recall", pct(e.recall)),
        ]);
    }
    cards(&mut out, &items);
    let mut panels = Vec::new();
    let shown: Vec<&TuneTrial> = ok.iter().copied().take(TOP_FEATURES).collect();
    if !shown.is_empty() {
        let rows: Vec<charts::Bar> = shown
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let pr = t.pr_auc.unwrap_or(0.0);
                charts::Bar {
                    label: format!("{}. {}", i + 1, t.label),
                    share: pr.clamp(0.0, 1.0),
                    class: if i == 0 { "rec-good" } else { "bar-rank" },
                    value: num(t.pr_auc),
                    aside: format!("ROC {}", num(t.roc_auc)),
                    tip: format!(
                        "{}: PR-AUC {}, ROC-AUC {}, F1 {}, fit {:.2} s",
                        t.label,
                        num(t.pr_auc),
                        num(t.roc_auc),
                        num(t.f1),
                        t.fit_seconds
                    ),
                }
            })
            .collect();
        panels.push(panel(
            &format!(
                "Validation PR-AUC <span class=\"aside\">· best {} of {}</span>",
                shown.len(),
                ok.len()
            ),
            &charts::hbars("Validation PR-AUC per candidate", &rows, None),
            "The search ranks by PR-AUC on the validation part, then ROC-AUC; the winner is \
             then measured once on the held-out part.",
        ));
        let points: Vec<(f64, f64, String)> =
            ok.iter().filter_map(|t| Some((t.fit_seconds, t.pr_auc?, t.label.clone()))).collect();
        if let Some(svg) = charts::scatter(
            "Fit time against validation PR-AUC",
            &points,
            ("Fit seconds", "Validation PR-AUC"),
        ) {
            panels.push(panel("Cost and quality", &svg, "The winner is the larger point."));
        }
    }
    if !panels.is_empty() {
        let _ = write!(out, "<section class=\"row\">{}</section>", panels.concat());
    }
    let mut table = String::from(
        "<div class=\"scroll\"><table><tr><th class=\"num\">#</th><th>Candidate</th>\
         <th class=\"num\">PR-AUC</th><th class=\"num\">ROC-AUC</th><th class=\"num\">F1</th>\
         <th class=\"num\">Fit s</th></tr>",
    );
    for (i, t) in p.trials.iter().enumerate() {
        match &t.error {
            None => {
                let _ = write!(
                    table,
                    "<tr><td class=\"num\">{}</td><td><code>{}</code></td><td class=\"num\">{}</td>\
                     <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}</td></tr>",
                    i + 1,
                    escape(&t.label),
                    num(t.pr_auc),
                    num(t.roc_auc),
                    num(t.f1),
                    t.fit_seconds
                );
            }
            Some(e) => {
                let _ = write!(
                    table,
                    "<tr><td class=\"num\">–</td><td><code>{}</code></td>\
                     <td colspan=\"4\">failed: {}</td></tr>",
                    escape(&t.label),
                    escape(e)
                );
            }
        }
    }
    table.push_str("</table></div>");
    let _ = write!(
        out,
        "<section class=\"row\">{}{}</section>",
        panel("Summary", &kv_table(&p.summary), ""),
        panel("Every candidate", &table, "")
    );
    close_page(out)
}

/// The document's head, the page title and the line under it.
pub(crate) fn open_page(title: &str, subtitle: &str) -> String {
    let mut out = String::with_capacity(128 * 1024);
    let title = if title.is_empty() { "anomalog report" } else { title };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{0}</title><style>{STYLE}</style></head><body><main><header><h1>{0}</h1>",
        escape(title)
    );
    if !subtitle.is_empty() {
        let _ = write!(out, "<p>{}</p>", escape(subtitle));
    }
    out.push_str("</header>");
    out
}

/// The footer and the end of the document.
pub(crate) fn close_page(mut out: String) -> String {
    out.push_str(
        "<footer>anomalog · self-contained report: no scripts, no network access</footer>\
         </main></body></html>\n",
    );
    out
}

/// A row of cards with a label and a large value each.
pub(crate) fn cards(out: &mut String, items: &[(&str, String)]) {
    out.push_str("<section class=\"cards\">");
    for (k, v) in items {
        let _ = write!(
            out,
            "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div></div>",
            escape(k),
            escape(v)
        );
    }
    out.push_str("</section>");
}

/// A two-column table of labels and values.
pub(crate) fn kv_table(rows: &[(String, String)]) -> String {
    let mut s = String::from("<table class=\"kv\">");
    for (k, v) in rows {
        let _ = write!(s, "<tr><td>{}</td><td>{}</td></tr>", escape(k), escape(v));
    }
    s.push_str("</table>");
    s
}
