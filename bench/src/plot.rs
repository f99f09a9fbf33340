//! Hand-written SVG plots on log-log axes: delivery latency against publish rate (one line per
//! server and percentile), and the room-size sweep. Written by hand to keep the harness free of a plotting stack.

use std::fmt::Write;

use crate::driver::Target;
use crate::loadgen::StepReport;

/// One line on the plot.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub dashed: bool,
    /// (offered deliveries/s, latency µs)
    pub points: Vec<(f64, f64)>,
}

/// For each target, the p50 and p99 curves of its median run by saturation throughput.
pub fn median_run_series(
    curves: &[(Target, usize, Vec<StepReport>)],
    saturation: &impl SaturationByRun,
) -> Vec<Series> {
    let mut out = Vec::new();
    for (target, color) in [
        (Target::Roomcast, "#d62728"),
        (Target::Baseline, "#1f77b4"),
        (Target::Rawcast, "#2ca02c"),
    ] {
        let Some(run) = saturation.median_run(target) else {
            continue;
        };
        let Some((_, _, steps)) = curves.iter().find(|(t, r, _)| *t == target && *r == run) else {
            continue;
        };
        let steps: Vec<&StepReport> = steps.iter().filter(|s| s.phase == "step").collect();
        let name = match target {
            Target::Roomcast => "roomcast",
            Target::Baseline => "baseline",
            Target::Rawcast => "rawcast",
        };
        for (pct, dashed) in [("p50", true), ("p99", false)] {
            out.push(Series {
                name: format!("{name} {pct}"),
                color,
                dashed,
                points: steps
                    .iter()
                    .map(|s| {
                        let v = if dashed { s.p50_us } else { s.p99_us };
                        (s.offered_dps, v as f64)
                    })
                    .collect(),
            });
        }
    }
    out
}

/// Which run of a target had the median figure.
pub trait SaturationByRun {
    fn median_run(&self, target: Target) -> Option<usize>;
}

fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut p = 10f64.powf(lo.log10().floor());
    while p <= hi * 1.0001 {
        for m in [1.0, 2.0, 5.0] {
            let t = p * m;
            if t >= lo * 0.9999 && t <= hi * 1.0001 {
                ticks.push(t);
            }
        }
        p *= 10.0;
    }
    ticks
}

fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{}k", v / 1e3)
    } else if v >= 1.0 {
        format!("{v}")
    } else {
        format!("{v:.2}")
    }
}

/// Renders the series as an SVG document (x: offered deliveries/s, y: latency in ms).
pub fn latency_svg(title: &str, series: &[Series]) -> String {
    log_log_svg(
        title,
        "offered deliveries per second (publish rate × subscribers per room)",
        "delivery latency (ms, from intended send time)",
        1000.0,
        series,
    )
}

/// Lines on log-log axes; each point's y is divided by `y_unit` before it is drawn.
pub fn log_log_svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    y_unit: f64,
    series: &[Series],
) -> String {
    let (w, h) = (760.0, 460.0);
    let (left, right, top, bottom) = (70.0, 170.0, 40.0, 50.0);
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        let y = y / y_unit;
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (1.0, 10.0, 0.1, 1.0);
    }
    let x0 = 10f64.powf(x0.max(1e-3).log10().floor());
    let x1 = 10f64.powf(x1.max(x0 * 10.0).log10().ceil());
    let y0 = 10f64.powf(y0.max(1e-3).log10().floor());
    let y1 = 10f64.powf(y1.max(y0 * 10.0).log10().ceil());
    let pw = w - left - right;
    let ph = h - top - bottom;
    let sx = |x: f64| left + (x.log10() - x0.log10()) / (x1.log10() - x0.log10()) * pw;
    let sy = |y: f64| top + ph - (y.log10() - y0.log10()) / (y1.log10() - y0.log10()) * ph;
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        left + pw / 2.0,
        escape(title)
    );
    for t in log_ticks(x0, x1) {
        let x = sx(t);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            top + ph,
            top + ph + 16.0,
            short(t)
        );
    }
    for t in log_ticks(y0, y1) {
        let y = sy(t);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + pw,
            left - 6.0,
            y + 4.0,
            short(t)
        );
    }
    let _ = writeln!(
        s,
        r#"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + pw / 2.0,
        h - 12.0,
        escape(x_label)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        top + ph / 2.0,
        escape(y_label)
    );
    for (i, ser) in series.iter().enumerate() {
        let dash = if ser.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let path: Vec<String> = ser
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy((y / y_unit).max(y0))))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
            path.join(" "),
            ser.color
        );
        for &(x, y) in &ser.points {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                sx(x),
                sy((y / y_unit).max(y0)),
                ser.color
            );
        }
        let ly = top + 10.0 + i as f64 * 20.0;
        let lx = left + pw + 12.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
            lx + 30.0,
            ser.color,
            lx + 36.0,
            ly + 4.0,
            escape(&ser.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
