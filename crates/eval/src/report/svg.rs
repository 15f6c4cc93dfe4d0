//! Small SVG plotting primitives: scales, tick choice and a chart canvas with axes,
//! lines, areas, bars and markers. Styling lives in the page's CSS (classes below).

use std::fmt::Write;

use super::html::escape;

/// Maps a data interval onto a pixel interval, linearly or logarithmically.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    r0: f64,
    r1: f64,
}

impl Scale {
    pub(crate) fn map(&self, v: f64) -> f64 {
        let (lo, hi, v) = if self.log {
            (self.lo.log10(), self.hi.log10(), v.max(self.lo).log10())
        } else {
            (self.lo, self.hi, v)
        };
        let f = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
        self.r0 + f.clamp(-0.05, 1.05) * (self.r1 - self.r0)
    }
}

/// Evenly spaced "nice" values (1, 2, 2.5 or 5 times a power of ten) covering [lo, hi].
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).ceil() as i64;
    let end = (hi / step + 1e-9).floor() as i64;
    (start..=end).map(|k| k as f64 * step).collect()
}

/// Powers of ten within [lo, hi], for log axes.
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.max(1e-300).log10().ceil() as i32, hi.log10().floor() as i32);
    (a..=b).map(|e| 10f64.powi(e)).collect()
}

/// A compact tick label: `0.25`, `1.5k`, `2M`.
pub(crate) fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        trim(format!("{:.1}", v / 1e6)) + "M"
    } else if a >= 1e4 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 100.0 || a == 0.0 || (a - a.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(format!("{v:.2}"))
    } else {
        trim(format!("{v:.3}"))
    }
}

fn trim(s: String) -> String {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
}

/// One chart: a plotting area with margins for axes and a title.
pub(crate) struct Chart {
    width: f64,
    height: f64,
    pub x: Scale,
    pub y: Scale,
    label: String,
    body: String,
    overlay: String,
}

/// Space around the plotting area for tick labels and axis titles.
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 44.0;

/// An axis domain: `(lo, hi, logarithmic)`.
pub(crate) type Domain = (f64, f64, bool);

impl Chart {
    /// A `width` x `height` chart described by `label` for screen readers.
    pub(crate) fn new(label: &str, width: f64, height: f64, x: Domain, y: Domain) -> Self {
        Chart {
            width,
            height,
            x: Scale { lo: x.0, hi: x.1, log: x.2, r0: LEFT, r1: width - RIGHT },
            y: Scale { lo: y.0, hi: y.1, log: y.2, r0: height - BOTTOM, r1: TOP },
            label: label.to_owned(),
            body: String::new(),
            overlay: String::new(),
        }
    }

    /// Grid lines, tick labels and axis titles.
    pub(crate) fn axes(
        &mut self,
        x_ticks: &[(f64, String)],
        y_ticks: &[(f64, String)],
        x_title: &str,
        y_title: &str,
    ) {
        let (x0, x1) = (LEFT, self.width - RIGHT);
        let (y0, y1) = (self.height - BOTTOM, TOP);
        let mut s = String::new();
        for (v, text) in y_ticks {
            let y = self.y.map(*v);
            let _ = write!(
                s,
                r#"<line class="grid" x1="{x0:.1}" y1="{y:.1}" x2="{x1:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                x0 - 6.0,
                y + 3.5,
                escape(text)
            );
        }
        for (v, text) in x_ticks {
            let x = self.x.map(*v);
            let _ = write!(
                s,
                r#"<line class="grid" x1="{x:.1}" y1="{y0:.1}" x2="{x:.1}" y2="{y1:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                y0 + 16.0,
                escape(text)
            );
        }
        let _ = write!(
            s,
            r#"<line class="axis" x1="{x0:.1}" y1="{y0:.1}" x2="{x1:.1}" y2="{y0:.1}"/><line class="axis" x1="{x0:.1}" y1="{y0:.1}" x2="{x0:.1}" y2="{y1:.1}"/>"#
        );
        let _ = write!(
            s,
            r#"<text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            (x0 + x1) / 2.0,
            self.height - 6.0,
            escape(x_title)
        );
        let _ = write!(
            s,
            r#"<text class="axis-title" transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            (y0 + y1) / 2.0,
            escape(y_title)
        );
        self.body.insert_str(0, &s);
    }

    fn path(&self, points: &[(f64, f64)]) -> String {
        let mut d = String::with_capacity(points.len() * 14);
        for (i, (x, y)) in points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if i == 0 { 'M' } else { 'L' },
                self.x.map(*x),
                self.y.map(*y)
            );
        }
        d
    }

    /// A polyline through data points; `class` picks color and dash from the CSS.
    pub(crate) fn line(&mut self, points: &[(f64, f64)], class: &str) {
        if points.is_empty() {
            return;
        }
        let d = self.path(points);
        let _ = write!(self.body, r#"<path class="{class}" fill="none" d="{d}"/>"#);
    }

    /// A filled area between the points and `baseline`.
    pub(crate) fn area(&mut self, points: &[(f64, f64)], baseline: f64, class: &str) {
        let (Some(first), Some(last)) = (points.first(), points.last()) else { return };
        let mut d = self.path(points);
        let _ = write!(
            d,
            "L{:.1} {:.1}L{:.1} {:.1}Z",
            self.x.map(last.0),
            self.y.map(baseline),
            self.x.map(first.0),
            self.y.map(baseline)
        );
        let _ = write!(self.body, r#"<path class="{class}" d="{d}"/>"#);
    }

    /// A rectangle between data coordinates with a hover tooltip.
    pub(crate) fn rect(&mut self, x0: f64, x1: f64, y0: f64, y1: f64, class: &str, tip: &str) {
        let (px0, px1) = (self.x.map(x0), self.x.map(x1));
        let (py0, py1) = (self.y.map(y0), self.y.map(y1));
        let (left, top) = (px0.min(px1), py0.min(py1));
        let (w, h) = ((px1 - px0).abs(), (py1 - py0).abs());
        if h < 0.05 {
            return;
        }
        let _ = write!(
            self.body,
            r#"<rect class="{class}" x="{left:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}"><title>{}</title></rect>"#,
            escape(tip)
        );
    }

    /// A vertical marker line across the plot with a label at the top.
    pub(crate) fn vline(&mut self, x: f64, class: &str, label: &str) {
        let px = self.x.map(x);
        let _ = write!(
            self.overlay,
            r#"<line class="{class}" x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}"/><text class="marker-label" x="{:.1}" y="{:.1}">{}</text>"#,
            self.height - BOTTOM,
            TOP,
            px + 4.0,
            TOP + 10.0,
            escape(label)
        );
    }

    /// A horizontal marker line with a label at the right end.
    pub(crate) fn hline(&mut self, y: f64, class: &str, label: &str) {
        let py = self.y.map(y);
        let _ = write!(
            self.overlay,
            r#"<line class="{class}" x1="{LEFT:.1}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}"/><text class="marker-label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            self.width - RIGHT,
            self.width - RIGHT - 4.0,
            py - 4.0,
            escape(label)
        );
    }

    /// A highlighted point with a label beside it.
    pub(crate) fn point(&mut self, x: f64, y: f64, label: &str) {
        let (px, py) = (self.x.map(x), self.y.map(y));
        // Keep the label inside the plot: left of the point when it is near the right edge.
        let right_side = px < self.width - 170.0;
        let (lx, anchor) = if right_side { (px + 9.0, "start") } else { (px - 9.0, "end") };
        // Below the point in the upper half of the plot, where curves usually run along
        // the top edge; above it otherwise.
        let ly = if py < (TOP + self.height - BOTTOM) / 2.0 { py + 20.0 } else { py - 10.0 };
        let _ = write!(
            self.overlay,
            r#"<circle class="op" cx="{px:.1}" cy="{py:.1}" r="5.5"><title>{0}</title></circle><text class="op-label" x="{lx:.1}" y="{ly:.1}" text-anchor="{anchor}">{0}</text>"#,
            escape(label)
        );
    }

    /// A small data point with a hover tooltip.
    pub(crate) fn dot(&mut self, x: f64, y: f64, class: &str, tip: &str) {
        let _ = write!(
            self.body,
            r#"<circle class="{class}" cx="{:.1}" cy="{:.1}" r="3.5"><title>{}</title></circle>"#,
            self.x.map(x),
            self.y.map(y),
            escape(tip)
        );
    }

    /// A legend in the top-left or top-right corner: (CSS class of the swatch, text).
    pub(crate) fn legend(&mut self, items: &[(&str, &str)], right: bool) {
        let longest = items.iter().map(|(_, t)| t.len()).max().unwrap_or(0) as f64;
        let box_w = 28.0 + longest * 6.4;
        let x = if right { self.width - RIGHT - box_w - 6.0 } else { LEFT + 8.0 };
        let mut y = TOP + 8.0;
        let _ = write!(
            self.overlay,
            r#"<rect class="legend-bg" x="{:.1}" y="{:.1}" width="{box_w:.1}" height="{:.1}" rx="4"/>"#,
            x - 6.0,
            y - 4.0,
            items.len() as f64 * 17.0 + 6.0
        );
        for (class, text) in items {
            let _ = write!(
                self.overlay,
                r#"<rect class="{class}" x="{x:.1}" y="{:.1}" width="14" height="10"/><text class="legend" x="{:.1}" y="{:.1}">{}</text>"#,
                y + 1.5,
                x + 20.0,
                y + 10.5,
                escape(text)
            );
            y += 17.0;
        }
    }

    /// The finished `<svg>` element; it scales with its container.
    pub(crate) fn finish(self) -> String {
        format!(
            r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{label}"><title>{label}</title>{body}{overlay}</svg>"#,
            w = self.width,
            h = self.height,
            label = escape(&self.label),
            body = self.body,
            overlay = self.overlay
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice() {
        assert_eq!(nice_ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(nice_ticks(0.0, 950.0, 4), vec![0.0, 250.0, 500.0, 750.0]);
        assert_eq!(log_ticks(1.0, 5_000.0), vec![1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(tick_label(0.6000000000000001), "0.6");
        assert_eq!(tick_label(25_000.0), "25k");
        assert_eq!(tick_label(1_500_000.0), "1.5M");
        assert_eq!(tick_label(750.0), "750");
    }

    #[test]
    fn scale_maps_ends_and_clamps() {
        let s = Scale { lo: 0.0, hi: 10.0, log: false, r0: 100.0, r1: 200.0 };
        assert_eq!(s.map(0.0), 100.0);
        assert_eq!(s.map(10.0), 200.0);
        assert_eq!(s.map(1e9), 205.0);
        let l = Scale { lo: 1.0, hi: 100.0, log: true, r0: 0.0, r1: 100.0 };
        assert!((l.map(10.0) - 50.0).abs() < 1e-9);
    }
}
