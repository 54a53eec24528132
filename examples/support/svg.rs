//! A small SVG writer for the fleet simulator's plots: line charts and labelled scatter plots,
//! with axes, ticks and a legend. Dev-side only.
#![allow(dead_code)]

use std::fmt::Write;

const W: f64 = 900.0;
const H: f64 = 520.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 260.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const COLOURS: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf",
];

/// A "nice" step for about five ticks over `0..=max`.
fn step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1e-9);
    let magnitude = 10f64.powf(raw.log10().floor());
    let unit = raw / magnitude;
    let nice = if unit <= 1.0 {
        1.0
    } else if unit <= 2.0 {
        2.0
    } else if unit <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

struct Frame {
    x_max: f64,
    y_max: f64,
}

impl Frame {
    fn x(&self, v: f64) -> f64 {
        LEFT + v / self.x_max * (W - LEFT - RIGHT)
    }
    fn y(&self, v: f64) -> f64 {
        H - BOTTOM - v / self.y_max * (H - TOP - BOTTOM)
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn axes(out: &mut String, title: &str, x_label: &str, y_label: &str, frame: &Frame) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="25" font-size="15" text-anchor="middle">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    let (xs, ys) = (step(frame.x_max), step(frame.y_max));
    let mut v = 0.0;
    while v <= frame.x_max + 1e-9 {
        let x = frame.x(v);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
            TOP,
            H - BOTTOM,
            H - BOTTOM + 16.0,
            v
        );
        v += xs;
    }
    let mut v = 0.0;
    while v <= frame.y_max + 1e-9 {
        let y = frame.y(v);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            v
        );
        v += ys;
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="#333"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}" stroke="#333"/><text x="{}" y="{}" text-anchor="middle">{}</text><text transform="translate(20,{}) rotate(-90)" text-anchor="middle">{}</text>"##,
        (LEFT + W - RIGHT) / 2.0,
        H - 18.0,
        escape(x_label),
        (TOP + H - BOTTOM) / 2.0,
        escape(y_label),
        b = H - BOTTOM,
        r = W - RIGHT,
    );
}

/// A line chart of named series of (x, y) points.
pub fn lines(title: &str, x_label: &str, y_label: &str, series: &[(String, Vec<(f64, f64)>)]) -> String {
    let x_max = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.0)).fold(1.0, f64::max);
    let y_max = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.1)).fold(1.0, f64::max) * 1.05;
    let frame = Frame { x_max, y_max };
    let mut out = String::new();
    axes(&mut out, title, x_label, y_label, &frame);
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> =
            points.iter().map(|&(x, y)| format!("{:.1},{:.1}", frame.x(x), frame.y(y))).collect();
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/><rect x="{}" y="{}" width="12" height="12" fill="{colour}"/><text x="{}" y="{}">{}</text>"#,
            path.join(" "),
            W - RIGHT + 15.0,
            TOP + 20.0 * i as f64,
            W - RIGHT + 32.0,
            TOP + 20.0 * i as f64 + 10.0,
            escape(name)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// A cell of a [`matrix`]: its colour, and up to two short lines of text inside it.
#[derive(Clone)]
pub struct Square {
    pub fill: &'static str,
    pub lines: [String; 2],
    /// Shown on hover.
    pub title: String,
    /// Drawn with a dark border (the tuning cells).
    pub outlined: bool,
}

/// Panels of coloured squares, one panel per policy: `rows` down, `columns` across (with a
/// label above each group of columns), and a legend of `(colour, meaning)` below. Every label
/// has its own row or column: none can overlap another.
pub fn matrix(
    title: &str,
    panels: &[(String, Vec<Vec<Option<Square>>>)],
    rows: &[String],
    columns: &[String],
    groups: &[(String, usize)],
    legend: &[(&str, &str)],
) -> String {
    let (cell_w, cell_h, label_w, panel_gap) = (44.0, 30.0, 170.0, 40.0);
    let head = 64.0;
    let panel_h = head + cell_h * rows.len() as f64 + panel_gap;
    let width = label_w + cell_w * columns.len() as f64 + 20.0;
    let height = 50.0 + panel_h * panels.len() as f64 + 24.0 * legend.len() as f64 + 10.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="25" font-size="15" text-anchor="middle">{}</text>"#,
        width / 2.0,
        escape(title)
    );
    for (p, (name, squares)) in panels.iter().enumerate() {
        let top = 50.0 + panel_h * p as f64;
        let _ = write!(
            out,
            r#"<text x="10" y="{}" font-size="14" font-weight="bold">{}</text>"#,
            top + 14.0,
            escape(name)
        );
        let mut x = label_w;
        for (label, span) in groups {
            let w = cell_w * *span as f64;
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{}" text-anchor="middle">{}</text><line x1="{:.1}" y1="{}" x2="{:.1}" y2="{}" stroke="#999"/>"##,
                x + w / 2.0,
                top + 34.0,
                escape(label),
                x + 2.0,
                top + 39.0,
                x + w - 2.0,
                top + 39.0
            );
            x += w;
        }
        for (c, label) in columns.iter().enumerate() {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{}" text-anchor="middle" font-size="10">{}</text>"#,
                label_w + cell_w * (c as f64 + 0.5),
                top + 54.0,
                escape(label)
            );
        }
        for (r, label) in rows.iter().enumerate() {
            let y = top + head + cell_h * r as f64;
            let _ = write!(
                out,
                r#"<text x="{}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"#,
                label_w - 8.0,
                y + cell_h / 2.0 + 4.0,
                escape(label)
            );
            for c in 0..columns.len() {
                let x = label_w + cell_w * c as f64;
                match squares.get(r).and_then(|row| row.get(c)).and_then(Option::as_ref) {
                    Some(sq) => {
                        let (stroke, width) = if sq.outlined { ("#222", 2) } else { ("white", 1) };
                        let _ = write!(
                            out,
                            r#"<g><title>{}</title><rect x="{x:.1}" y="{y:.1}" width="{cell_w}" height="{cell_h}" fill="{}" stroke="{stroke}" stroke-width="{width}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{}</text></g>"#,
                            escape(&sq.title),
                            sq.fill,
                            x + cell_w / 2.0,
                            y + 12.0,
                            escape(&sq.lines[0]),
                            x + cell_w / 2.0,
                            y + 24.0,
                            escape(&sq.lines[1])
                        );
                    }
                    None => {
                        let _ = write!(
                            out,
                            r##"<rect x="{x:.1}" y="{y:.1}" width="{cell_w}" height="{cell_h}" fill="#f4f4f4" stroke="white"/>"##
                        );
                    }
                }
            }
        }
    }
    let legend_top = 50.0 + panel_h * panels.len() as f64;
    for (i, (colour, meaning)) in legend.iter().enumerate() {
        let y = legend_top + 24.0 * i as f64;
        let _ = write!(
            out,
            r##"<rect x="10" y="{y:.1}" width="14" height="14" fill="{colour}" stroke="#999"/><text x="32" y="{:.1}">{}</text>"##,
            y + 11.0,
            escape(meaning)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Horizontal bars in side-by-side panels, one row per name: each panel is one measure
/// (`(heading, colour, values)`), so what a policy saved and what it failed sit on the same line.
pub fn bars(title: &str, names: &[String], panels: &[(String, &str, Vec<f64>)]) -> String {
    let (label_w, panel_w, gap, row_h, top) = (250.0, 280.0, 30.0, 26.0, 70.0);
    let width = label_w + (panel_w + gap) * panels.len() as f64;
    let height = top + row_h * names.len() as f64 + 20.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="25" font-size="15" text-anchor="middle">{}</text>"#,
        width / 2.0,
        escape(title)
    );
    for (r, name) in names.iter().enumerate() {
        let _ = write!(
            out,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 8.0,
            top + row_h * r as f64 + row_h / 2.0 + 4.0,
            escape(name)
        );
    }
    for (p, (heading, colour, values)) in panels.iter().enumerate() {
        let left = label_w + (panel_w + gap) * p as f64;
        let max = values.iter().copied().fold(1e-9, f64::max);
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            left + panel_w / 2.0,
            top - 14.0,
            escape(heading)
        );
        let _ = write!(
            out,
            r##"<line x1="{left}" y1="{}" x2="{left}" y2="{}" stroke="#333"/>"##,
            top - 4.0,
            top + row_h * names.len() as f64
        );
        for (r, &v) in values.iter().enumerate() {
            let y = top + row_h * r as f64 + 4.0;
            // Room kept at the right for the figure after the longest bar.
            let w = v / max * (panel_w - 70.0);
            let figure = if v >= 100.0 || v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") };
            let _ = write!(
                out,
                r#"<rect x="{left}" y="{y:.1}" width="{w:.1}" height="{}" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
                row_h - 8.0,
                left + w + 4.0,
                y + row_h / 2.0,
                figure
            );
        }
    }
    out.push_str("</svg>\n");
    out
}
