//! The report's charts, each rendered to an inline `<svg>` string.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::data::{ReportData, ScoreHistogram, TimelineBin};
use super::html::{escape, pct};
use super::pages::BinShare;
use super::svg::{Chart, log_ticks, nice_ticks, tick_label};
use crate::civil::UtcDateTime;
use crate::metrics::CategoryRecall;

const W: f64 = 560.0;
const H: f64 = 380.0;

fn unit_ticks() -> Vec<(f64, String)> {
    (0..=5).map(|i| f64::from(i) / 5.0).map(|v| (v, tick_label(v))).collect()
}

fn with_labels(values: Vec<f64>) -> Vec<(f64, String)> {
    values.into_iter().map(|v| (v, tick_label(v))).collect()
}

/// ROC curve with the chance diagonal and the production operating point.
pub(crate) fn roc(data: &ReportData) -> Option<String> {
    let points: Vec<(f64, f64)> = data.curves.roc.iter().map(|p| (p.fpr, p.tpr)).collect();
    if points.is_empty() {
        return None;
    }
    let mut c = Chart::new("ROC curve", W, H, (0.0, 1.0, false), (0.0, 1.0, false));
    c.axes(&unit_ticks(), &unit_ticks(), "False positive rate", "True positive rate (recall)");
    c.line(&[(0.0, 0.0), (1.0, 1.0)], "diag");
    c.area(&points, 0.0, "roc-area");
    c.line(&points, "roc-line");
    if let Some(e) = &data.evaluation {
        let label =
            format!("threshold: TPR {} at FPR {}", pct(e.recall), pct(e.false_positive_rate));
        c.point(e.false_positive_rate, e.recall, &label);
    }
    Some(c.finish())
}

/// Precision-recall curve as steps (how average precision integrates it), the prevalence
/// baseline and the production operating point.
pub(crate) fn pr(data: &ReportData) -> Option<String> {
    let curve = &data.curves.pr;
    let first = curve.first()?;
    let mut steps = vec![(0.0, first.precision)];
    for p in curve {
        if let Some(&(_, last_precision)) = steps.last() {
            steps.push((p.recall, last_precision));
        }
        steps.push((p.recall, p.precision));
    }
    let mut c = Chart::new("Precision-recall curve", W, H, (0.0, 1.0, false), (0.0, 1.02, false));
    c.axes(&unit_ticks(), &unit_ticks(), "Recall", "Precision");
    if let Some(e) = &data.evaluation
        && e.records > 0
    {
        let prevalence = e.anomalies as f64 / e.records as f64;
        c.hline(prevalence, "diag", &format!("random: {}", pct(prevalence)));
    }
    c.area(&steps, 0.0, "pr-area");
    c.line(&steps, "pr-line");
    if let Some(e) = &data.evaluation {
        let label = format!("threshold: P {} R {}", pct(e.precision), pct(e.recall));
        c.point(e.recall, e.precision, &label);
    }
    Some(c.finish())
}

/// Overlaid score histograms of normal and anomalous records with the threshold line.
pub(crate) fn histogram(data: &ReportData) -> Option<String> {
    let h: &ScoreHistogram = &data.histogram;
    let bins = h.normal.len();
    if bins == 0 {
        return None;
    }
    let labeled = !h.anomalous.is_empty();
    let peak = h.normal.iter().chain(&h.anomalous).copied().max().unwrap_or(1).max(1) as f64;
    let log = data.histogram_log_y;
    let y = if log { (0.8, peak * 1.6, true) } else { (0.0, peak * 1.08, false) };
    let lo = h.min.min(data.threshold);
    let hi = h.max.max(data.threshold);
    let title = if log { "Records (log scale)" } else { "Records" };
    let mut c = Chart::new("Score distribution", W, H, (lo, hi, false), y);
    let y_ticks = if log {
        with_labels(log_ticks(1.0, peak * 1.6))
    } else {
        with_labels(nice_ticks(0.0, peak * 1.08, 5))
    };
    c.axes(&with_labels(nice_ticks(lo, hi, 6)), &y_ticks, "Anomaly score", title);
    let width = (h.max - h.min) / bins as f64;
    let base = if log { 0.8 } else { 0.0 };
    let series: [(&[u64], &str, &str); 2] = [
        (&h.normal, "bar-normal", if labeled { "normal" } else { "records" }),
        (&h.anomalous, "bar-anom", "anomalous"),
    ];
    for (counts, class, name) in series {
        for (i, &n) in counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let x0 = h.min + i as f64 * width;
            let tip = format!("{name}: {n} with score {:.3}–{:.3}", x0, x0 + width);
            c.rect(x0, x0 + width, base, n as f64, class, &tip);
        }
    }
    c.vline(data.threshold, "threshold", &format!("threshold {:.3}", data.threshold));
    let legend: Vec<(&str, &str)> = if labeled {
        vec![("bar-normal", "normal"), ("bar-anom", "anomalous")]
    } else {
        vec![("bar-normal", "all records")]
    };
    c.legend(&legend, true);
    Some(c.finish())
}

/// Horizontal recall bars per category, with counts.
pub(crate) fn categories(per_category: &BTreeMap<String, CategoryRecall>) -> Option<String> {
    if per_category.is_empty() {
        return None;
    }
    let mut rows: Vec<(&String, &CategoryRecall)> = per_category.iter().collect();
    rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let bars: Vec<Bar> = rows
        .iter()
        .map(|(name, c)| Bar {
            label: (*name).clone(),
            share: c.recall,
            class: if c.recall >= 0.8 {
                "rec-good"
            } else if c.recall >= 0.5 {
                "rec-mid"
            } else {
                "rec-bad"
            },
            value: pct(c.recall),
            aside: format!("({}/{})", c.detected, c.count),
            tip: format!("{name}: {} of {} detected", c.detected, c.count),
        })
        .collect();
    Some(hbars("Recall per category", &bars, None))
}

/// One bar of [`hbars`].
pub(crate) struct Bar {
    /// Text left of the bar.
    pub label: String,
    /// Length as a share of the track (clamped to 0..1).
    pub share: f64,
    /// CSS class of the bar (its color).
    pub class: &'static str,
    /// Value right of the bar, in bold.
    pub value: String,
    /// Muted text after the value.
    pub aside: String,
    /// Hover text.
    pub tip: String,
}

/// Horizontal bars on a 0..1 track with a percentage grid, labels left and values
/// right; `mark` draws a dashed line at a share with its label (a threshold).
pub(crate) fn hbars(title: &str, rows: &[Bar], mark: Option<(f64, String)>) -> String {
    let row_h = 30.0;
    let labels: Vec<String> = rows.iter().map(|r| shorten(&r.label, MAX_LABEL)).collect();
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    let label_w = (longest * 7.2 + 16.0).clamp(120.0, 420.0);
    let (bar_w, value_w) = (300.0, 140.0);
    let width = label_w + bar_w + value_w;
    let height = rows.len() as f64 * row_h + 34.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{0}"><title>{0}</title>"#,
        escape(title)
    );
    // Grid first, so the bars sit on top of it.
    let axis_y = 8.0 + rows.len() as f64 * row_h;
    if mark.is_none() {
        for i in 0..=4 {
            let x = label_w + bar_w * f64::from(i) / 4.0;
            let _ = write!(
                s,
                r#"<line class="grid" x1="{x:.1}" y1="4" x2="{x:.1}" y2="{axis_y:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}%</text>"#,
                axis_y + 14.0,
                i * 25
            );
        }
    }
    for (i, (r, label)) in rows.iter().zip(&labels).enumerate() {
        let y = 8.0 + i as f64 * row_h;
        let share = if r.share.is_finite() { r.share.clamp(0.0, 1.0) } else { 1.0 };
        let _ = write!(
            s,
            r#"<text class="cat-label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="track" x="{label_w}" y="{y:.1}" width="{bar_w:.1}" height="18" rx="3"/><rect class="{}" x="{label_w}" y="{y:.1}" width="{:.1}" height="18" rx="3"><title>{}</title></rect><text class="cat-value" x="{:.1}" y="{:.1}">{} <tspan class="muted">{}</tspan></text>"#,
            label_w - 10.0,
            y + 13.5,
            escape(label),
            r.class,
            bar_w * share,
            escape(&r.tip),
            label_w + bar_w + 8.0,
            y + 13.5,
            escape(&r.value),
            escape(&r.aside)
        );
    }
    if let Some((at, label)) = mark {
        let x = label_w + bar_w * at.clamp(0.0, 1.0);
        let _ = write!(
            s,
            r#"<line class="threshold" x1="{x:.1}" y1="4" x2="{x:.1}" y2="{axis_y:.1}"/><text class="marker-label" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            axis_y + 14.0,
            escape(&label)
        );
    }
    s.push_str("</svg>");
    s
}

/// Longest bar label in characters; the full text stays in the tooltip.
const MAX_LABEL: usize = 56;

/// `text` cut to `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// Side-by-side bars of the training and observed share of each bin of a
/// distribution, the bin of missing values last when it holds any.
pub(crate) fn bin_shares(title: &str, bins: &[BinShare]) -> Option<String> {
    let bins: Vec<&BinShare> =
        bins.iter().filter(|b| !b.missing || b.training > 0.0 || b.observed > 0.0).collect();
    if bins.is_empty() {
        return None;
    }
    let peak = bins.iter().map(|b| b.training.max(b.observed)).fold(0.0, f64::max).max(1e-9);
    let n = bins.len() as f64;
    let mut c = Chart::new(title, W, H, (0.0, n, false), (0.0, peak * 1.12, false));
    // A label under every bin when they fit, under every other one otherwise.
    let every = if bins.len() > 12 { 2 } else { 1 };
    let x_ticks: Vec<(f64, String)> = bins
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, b)| (i as f64 + 0.5, bin_label(b)))
        .collect();
    let y_ticks: Vec<(f64, String)> =
        nice_ticks(0.0, peak * 1.12, 5).into_iter().map(|v| (v, pct(v))).collect();
    c.axes(&x_ticks, &y_ticks, "Bin (training values it covers)", "Share of records");
    for (i, b) in bins.iter().enumerate() {
        let x = i as f64;
        let range = if b.missing { "missing".to_owned() } else { bin_range(b) };
        c.rect(
            x + 0.1,
            x + 0.5,
            0.0,
            b.training,
            "bar-normal",
            &format!("{range}: {} of training", pct(b.training)),
        );
        c.rect(
            x + 0.5,
            x + 0.9,
            0.0,
            b.observed,
            "bar-anom",
            &format!("{range}: {} observed", pct(b.observed)),
        );
    }
    c.legend(&[("bar-normal", "training"), ("bar-anom", "observed")], true);
    Some(c.finish())
}

/// A short tick label for a bin: its lower end (`≥ 12`), `min` for the open first bin.
fn bin_label(b: &BinShare) -> String {
    if b.missing {
        "NaN".to_owned()
    } else if b.lo.is_finite() {
        tick_label(b.lo)
    } else {
        "min".to_owned()
    }
}

fn bin_range(b: &BinShare) -> String {
    match (b.lo.is_finite(), b.hi.is_finite()) {
        (true, true) if b.lo == b.hi => format!("= {}", tick_label(b.lo)),
        (true, true) => format!("{} to {}", tick_label(b.lo), tick_label(b.hi)),
        (true, false) => format!("from {}", tick_label(b.lo)),
        (false, true) => format!("up to {}", tick_label(b.hi)),
        (false, false) => "all values".to_owned(),
    }
}

/// Points `(x, y, label)`; the first point (the winner) is drawn larger and labeled.
pub(crate) fn scatter(
    title: &str,
    points: &[(f64, f64, String)],
    (x_title, y_title): (&str, &str),
) -> Option<String> {
    let finite = |v: f64| v.is_finite();
    let points: Vec<&(f64, f64, String)> =
        points.iter().filter(|p| finite(p.0) && finite(p.1)).collect();
    let first = points.first()?;
    let x_hi = points.iter().map(|p| p.0).fold(0.0, f64::max).max(1e-3) * 1.08;
    let y_lo = points.iter().map(|p| p.1).fold(1.0, f64::min);
    let y_lo = (y_lo - 0.05).max(0.0);
    let y_hi = points.iter().map(|p| p.1).fold(y_lo, f64::max) + 0.03;
    let mut c = Chart::new(title, W, H, (0.0, x_hi, false), (y_lo, y_hi, false));
    c.axes(
        &with_labels(nice_ticks(0.0, x_hi, 6)),
        &with_labels(nice_ticks(y_lo, y_hi, 5)),
        x_title,
        y_title,
    );
    for p in &points[1..] {
        c.dot(p.0, p.1, "dot", &format!("{}: {:.3} at {:.2} s", p.2, p.1, p.0));
    }
    c.point(first.0, first.1, &format!("best: {:.3}", first.1));
    Some(c.finish())
}

/// Tick positions and labels for a time axis spanning [lo, hi] unix seconds.
fn time_ticks(lo: i64, hi: i64) -> Vec<(f64, String)> {
    const STEPS: &[i64] =
        &[60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800];
    let span = (hi - lo).max(1);
    let step = STEPS.iter().copied().find(|s| span / s <= 8).unwrap_or(span / 8 + 1);
    let multi_day = span > 86_400;
    let mut t = (lo + step - 1).div_euclid(step) * step;
    let mut out = Vec::new();
    while t <= hi {
        let d = UtcDateTime::from_unix(t);
        // Dates for day steps and for midnights of multi-day ranges, times otherwise.
        let label = if step >= 86_400 || (multi_day && d.hour == 0 && d.minute == 0) {
            format!("{:02}-{:02}", d.month, d.day)
        } else {
            format!("{:02}:{:02}", d.hour, d.minute)
        };
        out.push((t as f64, label));
        t += step;
    }
    out
}

/// Two stacked panels over time: traffic with flagged records, and scores with the
/// threshold.
pub(crate) fn timeline(bins: &[TimelineBin], threshold: f64) -> Option<(String, String)> {
    let first = bins.first()?;
    let last = bins.last()?;
    let lo = first.start;
    let hi = last.start + i64::from(last.seconds);
    let width = 1160.0;
    let mid = |b: &TimelineBin| b.start as f64 + f64::from(b.seconds) / 2.0;
    let ticks = time_ticks(lo, hi);
    let bin_label = match first.seconds {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    };

    let peak = bins.iter().map(|b| b.records).max().unwrap_or(1).max(1) as f64 * 1.1;
    let mut traffic = Chart::new(
        "Traffic over time",
        width,
        250.0,
        (lo as f64, hi as f64, false),
        (0.0, peak, false),
    );
    traffic.axes(
        &ticks,
        &with_labels(nice_ticks(0.0, peak, 4)),
        "Time (UTC)",
        &format!("Records per {bin_label}"),
    );
    // Steps, not a smooth line: each bin is a count over its whole width.
    let mut steps = Vec::with_capacity(bins.len() * 2);
    for b in bins {
        steps.push((b.start as f64, b.records as f64));
        steps.push(((b.start + i64::from(b.seconds)) as f64, b.records as f64));
    }
    traffic.area(&steps, 0.0, "vol-area");
    traffic.line(&steps, "vol-line");
    for b in bins.iter().filter(|b| b.flagged > 0) {
        let tip =
            format!("{}: {} flagged of {}", super::html::timestamp(b.start), b.flagged, b.records);
        traffic.rect(
            b.start as f64,
            (b.start + i64::from(b.seconds)) as f64,
            0.0,
            b.flagged as f64,
            "bar-flagged",
            &tip,
        );
    }
    let mut legend = vec![("vol-swatch", "records"), ("bar-flagged", "flagged")];
    if bins.iter().any(|b| b.labeled_anomalies.is_some()) {
        let labeled: Vec<(f64, f64)> =
            bins.iter().map(|b| (mid(b), b.labeled_anomalies.unwrap_or(0) as f64)).collect();
        traffic.line(&labeled, "anom-line");
        legend.push(("anom-swatch", "labeled anomalies"));
    }
    traffic.legend(&legend, true);

    let top = bins.iter().map(|b| b.max_score).fold(threshold, f64::max);
    let bottom = bins.iter().map(|b| b.mean_score).fold(threshold.min(0.0), f64::min);
    let pad = (top - bottom).abs().max(1e-9) * 0.08;
    let y = (bottom, top + pad, false);
    let mut scores =
        Chart::new("Anomaly score over time", width, 230.0, (lo as f64, hi as f64, false), y);
    scores.axes(&ticks, &with_labels(nice_ticks(y.0, y.1, 4)), "Time (UTC)", "Score");
    let max: Vec<(f64, f64)> =
        bins.iter().filter(|b| b.records > 0).map(|b| (mid(b), b.max_score)).collect();
    let mean: Vec<(f64, f64)> =
        bins.iter().filter(|b| b.records > 0).map(|b| (mid(b), b.mean_score)).collect();
    scores.line(&max, "max-line");
    scores.line(&mean, "mean-line");
    scores.hline(threshold, "threshold", &format!("threshold {threshold:.3}"));
    scores.legend(&[("max-swatch", "max score"), ("mean-swatch", "mean score")], false);
    Some((traffic.finish(), scores.finish()))
}
