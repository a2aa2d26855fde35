//! SVG charts, rendered on the server as text (no script needed to see them, and they print).

use std::fmt::Write;

use super::html::esc;

/// One bar: a label, a share in [0, 1] (none: no data), and the text shown after the bar.
pub struct Bar {
    /// The category.
    pub label: String,
    /// The share, or none.
    pub share: Option<f64>,
    /// Shown after the bar (e.g. `3 / 7`).
    pub caption: String,
}

/// A horizontal bar chart of shares, one bar per row.
pub fn bars(title: &str, rows: &[Bar]) -> String {
    let (left, width, row_h) = (120.0, 360.0, 22.0);
    let height = 30.0 + row_h * rows.len() as f64;
    let mut s = String::new();
    let _ = write!(s, r#"<svg class="chart bars" role="img" aria-label="{}" viewBox="0 0 620 {height}" width="620" height="{height}" xmlns="http://www.w3.org/2000/svg">"#, esc(title));
    let _ = write!(s, r#"<title>{}</title>"#, esc(title));
    for (i, r) in rows.iter().enumerate() {
        let y = 20.0 + row_h * i as f64;
        let _ = write!(s, r#"<text x="{}" y="{}" text-anchor="end" class="label">{}</text>"#, left - 6.0, y + 14.0, esc(&r.label));
        let _ = write!(s, r#"<rect class="track" x="{left}" y="{}" width="{width}" height="16"/>"#, y + 2.0);
        let w = r.share.map_or(0.0, |v| width * v.clamp(0.0, 1.0));
        let _ = write!(s, r#"<rect class="bar" x="{left}" y="{}" width="{w:.1}" height="16"><title>{}: {}</title></rect>"#, y + 2.0, esc(&r.label), esc(&r.caption));
        let _ = write!(s, r#"<text x="{}" y="{}" class="value">{}</text>"#, left + width + 8.0, y + 14.0, esc(&r.caption));
    }
    s.push_str("</svg>");
    s
}

/// A line chart of shares over years.
pub fn trend(title: &str, points: &[(String, Option<f64>)]) -> String {
    let (w, h, left, top, bottom) = (620.0, 240.0, 50.0, 20.0, 40.0);
    let plot_w = w - left - 20.0;
    let plot_h = h - top - bottom;
    let n = points.len().max(1) as f64;
    let x = |i: usize| left + if n > 1.0 { plot_w * i as f64 / (n - 1.0) } else { plot_w / 2.0 };
    let y = |v: f64| top + plot_h * (1.0 - v.clamp(0.0, 1.0));
    let mut s = String::new();
    let _ = write!(s, r#"<svg class="chart trend" role="img" aria-label="{}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#, esc(title), esc(title));
    for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(s, r#"<line class="grid" x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}"/><text x="{}" y="{:.1}" text-anchor="end" class="label">{:.0}%</text>"#,
            left + plot_w, y(t), y(t), left - 6.0, y(t) + 4.0, t * 100.0);
    }
    let line: Vec<String> = points.iter().enumerate().filter_map(|(i, (_, v))| v.map(|v| format!("{:.1},{:.1}", x(i), y(v)))).collect();
    if line.len() > 1 {
        let _ = write!(s, r#"<polyline class="line" points="{}"/>"#, line.join(" "));
    }
    for (i, (label, v)) in points.iter().enumerate() {
        let _ = write!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle" class="label">{}</text>"#, x(i), h - bottom + 18.0, esc(label));
        if let Some(v) = v {
            let _ = write!(s, r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="4"><title>{}: {:.1}%</title></circle>"#, x(i), y(*v), esc(label), v * 100.0);
        }
    }
    s.push_str("</svg>");
    s
}

/// A heatmap: rows × columns of covered (true) or not.
pub fn heatmap(title: &str, columns: &[String], rows: &[(String, Vec<bool>)]) -> String {
    let (left, top, cell) = (90.0, 110.0, 18.0);
    // Room on the right for the last rotated column labels.
    let w = left + cell * columns.len() as f64 + 110.0;
    let h = top + cell * rows.len() as f64 + 10.0;
    let mut s = String::new();
    let _ = write!(s, r#"<svg class="chart heatmap" role="img" aria-label="{}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#, esc(title), esc(title));
    for (j, c) in columns.iter().enumerate() {
        let cx = left + cell * j as f64 + cell / 2.0;
        let _ = write!(s, r#"<text transform="translate({cx:.1},{}) rotate(-60)" class="label">{}</text>"#, top - 6.0, esc(c));
    }
    for (i, (label, cells)) in rows.iter().enumerate() {
        let ry = top + cell * i as f64;
        let _ = write!(s, r#"<text x="{}" y="{:.1}" text-anchor="end" class="label">{}</text>"#, left - 6.0, ry + 13.0, esc(label));
        for (j, covered) in cells.iter().enumerate() {
            let class = if *covered { "cell on" } else { "cell off" };
            let _ = write!(s, r#"<rect class="{class}" x="{:.1}" y="{ry:.1}" width="{}" height="{}"><title>{} × {}: {}</title></rect>"#,
                left + cell * j as f64, cell - 2.0, cell - 2.0, esc(label), esc(&columns[j]), if *covered { "covered" } else { "not covered" });
        }
    }
    s.push_str("</svg>");
    s
}

/// The chart styles (shared by the report and the dashboard).
pub const STYLE: &str = ".chart .label{font:11px sans-serif;fill:#333}.chart .value{font:11px sans-serif;fill:#333}\
.chart .track{fill:#eef1f5}.chart .bar{fill:#1f6fb2}.chart .grid{stroke:#dde3ea}.chart .line{fill:none;stroke:#1f6fb2;stroke-width:2}\
.chart .point{fill:#1f6fb2}.chart .cell.on{fill:#2e8540}.chart .cell.off{fill:#e4e7eb}";
