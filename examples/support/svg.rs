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

/// A scatter plot of labelled points, numbered on the plot and named in the legend.
pub fn scatter(title: &str, x_label: &str, y_label: &str, points: &[(String, f64, f64)]) -> String {
    let x_max = points.iter().map(|p| p.1).fold(1.0, f64::max) * 1.05;
    let y_max = points.iter().map(|p| p.2).fold(1.0, f64::max) * 1.1;
    let frame = Frame { x_max, y_max };
    let mut out = String::new();
    axes(&mut out, title, x_label, y_label, &frame);
    for (i, (name, x, y)) in points.iter().enumerate() {
        let colour = COLOURS[(i / 4) % COLOURS.len()];
        let _ = write!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="5" fill="{colour}" fill-opacity="0.8"/><text x="{:.1}" y="{:.1}" font-size="10">{}</text><text x="{}" y="{}" font-size="11" fill="{colour}">{}. {}</text>"#,
            frame.x(*x),
            frame.y(*y),
            frame.x(*x) + 7.0,
            frame.y(*y) + 4.0,
            i + 1,
            W - RIGHT + 15.0,
            TOP + 20.0 * i as f64,
            i + 1,
            escape(name)
        );
    }
    out.push_str("</svg>\n");
    out
}
