//! SVG charts, rendered on the server as text (no script needed to see them, and they print).

use std::fmt::Write;

use super::html::esc;
use crate::i18n::Tr;

/// One bar: a label, a share in [0, 1] (none: no data), and the text shown after the bar.
pub struct Bar {
    /// The category.
    pub label: String,
    /// The share, or none.
    pub share: Option<f64>,
    /// Shown after the bar (e.g. `3 / 7`).
    pub caption: String,
}

/// A horizontal bar chart of shares, one bar per row, on a 0–100 % axis (ticks every 25 %). A
/// row without a share (0/0) shows the reader's "not available" word instead of a bar, so
/// that it does not read as 0 %.
pub fn bars(tr: &Tr, title: &str, rows: &[Bar]) -> String {
    let (left, width, row_h, top) = (150.0, 300.0, 22.0, 8.0);
    let axis_y = top + row_h * rows.len() as f64 + 2.0;
    let height = axis_y + 22.0;
    let mut s = String::new();
    let _ = write!(s, r#"<svg class="chart bars" role="img" aria-label="{}" viewBox="0 0 640 {height}" width="640" height="{height}" xmlns="http://www.w3.org/2000/svg">"#, esc(title));
    let _ = write!(s, r#"<title>{}</title>"#, esc(title));
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let x = left + width * t;
        let _ = write!(
            s,
            r#"<line class="grid" x1="{x:.1}" x2="{x:.1}" y1="{top}" y2="{axis_y:.1}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" class="label tick">{}</text>"#,
            axis_y + 14.0,
            esc(&tr.ta("percent", &[("value", tr.number(t * 100.0, 0).into())]))
        );
    }
    let _ = write!(s, r#"<line class="axis" x1="{left}" x2="{}" y1="{axis_y:.1}" y2="{axis_y:.1}"/>"#, left + width);
    for (i, r) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = write!(s, r#"<text x="{}" y="{}" text-anchor="end" class="label">{}</text>"#, left - 6.0, y + 14.0, esc(&r.label));
        match r.share {
            Some(v) => {
                let w = width * v.clamp(0.0, 1.0);
                let _ = write!(s, r#"<rect class="bar" x="{left}" y="{}" width="{w:.1}" height="16"><title>{}: {}</title></rect>"#, y + 2.0, esc(&r.label), esc(&r.caption));
            }
            None => {
                let _ = write!(s, r#"<text x="{}" y="{}" class="label na">{}</text>"#, left + 4.0, y + 14.0, esc(&tr.t("not-available")));
            }
        }
        let _ = write!(s, r#"<text x="{}" y="{}" class="value">{}</text>"#, left + width + 8.0, y + 14.0, esc(&r.caption));
    }
    s.push_str("</svg>");
    s
}

/// A line chart of shares over years.
pub fn trend(tr: &Tr, title: &str, points: &[(String, Option<f64>)]) -> String {
    let (w, h, left, top, bottom) = (620.0, 240.0, 50.0, 20.0, 40.0);
    let plot_w = w - left - 20.0;
    let plot_h = h - top - bottom;
    let n = points.len().max(1) as f64;
    let x = |i: usize| left + if n > 1.0 { plot_w * i as f64 / (n - 1.0) } else { plot_w / 2.0 };
    let y = |v: f64| top + plot_h * (1.0 - v.clamp(0.0, 1.0));
    let mut s = String::new();
    let _ = write!(s, r#"<svg class="chart trend" role="img" aria-label="{}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#, esc(title), esc(title));
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(s, r#"<line class="grid" x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}"/><text x="{}" y="{:.1}" text-anchor="end" class="label">{}</text>"#,
            left + plot_w, y(t), y(t), left - 6.0, y(t) + 4.0, esc(&tr.ta("percent", &[("value", tr.number(t * 100.0, 0).into())])));
    }
    let line: Vec<String> = points.iter().enumerate().filter_map(|(i, (_, v))| v.map(|v| format!("{:.1},{:.1}", x(i), y(v)))).collect();
    if line.len() > 1 {
        let _ = write!(s, r#"<polyline class="line" points="{}"/>"#, line.join(" "));
    }
    for (i, (label, v)) in points.iter().enumerate() {
        let _ = write!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle" class="label">{}</text>"#, x(i), h - bottom + 18.0, esc(label));
        if let Some(v) = v {
            let _ = write!(s, r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="4"><title>{}: {}</title></circle>"#, x(i), y(*v), esc(label), tr.percent(Some(*v)));
        }
    }
    s.push_str("</svg>");
    s
}

/// The chart styles (shared by the report and the dashboard).
pub const STYLE: &str = ".chart .label{font:11px sans-serif;fill:#333}.chart .value{font:11px sans-serif;fill:#333}\
.chart .axis{stroke:#888}.chart .na{fill:#555;font-style:italic}.chart .bar{fill:#1f6fb2}.chart .grid{stroke:#dde3ea}.chart .line{fill:none;stroke:#1f6fb2;stroke-width:2}\
.chart .point{fill:#1f6fb2}";
