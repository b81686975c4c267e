//! Charts drawn on the server as SVG: no JavaScript, printable, accessible (each has a title and
//! its numbers as text).

use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Vertical columns over time, one per labelled value; negative values hang below the baseline.
pub fn columns(title: &str, items: &[(String, f64)]) -> String {
    let (w, h, pad) = (640.0, 180.0, 18.0);
    let max = items.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let min = items.iter().map(|(_, v)| *v).fold(0.0_f64, f64::min);
    let span = (max - min).max(1.0);
    let base = pad + (max / span) * (h - 2.0 * pad);
    let step = w / items.len().max(1) as f64;
    let mut svg = format!(
        r#"<svg class="chart columns" role="img" viewBox="0 0 {w} {h}" width="100%" height="{h}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    for (i, (label, value)) in items.iter().enumerate() {
        let bar = value.abs() / span * (h - 2.0 * pad);
        let y = if *value >= 0.0 { base - bar } else { base };
        let class = if *value >= 0.0 { "bar" } else { "bar negative" };
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bar:.1}" class="{class}"><title>{l}: {v}</title></rect>"#,
            x = i as f64 * step + step * 0.15,
            bw = step * 0.7,
            l = esc(label),
            v = format_number(*value),
        );
    }
    let _ = write!(svg, r#"<line x1="0" x2="{w}" y1="{base:.1}" y2="{base:.1}" class="axis"/></svg>"#);
    svg
}

/// Horizontal bars, one per labelled value, with the value printed at the bar's end.
pub fn bars(title: &str, items: &[(String, f64)]) -> String {
    let row = 24.0;
    let label_w = 120.0;
    let bar_w = 260.0;
    let height = row * items.len().max(1) as f64 + 8.0;
    let max = items.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max).max(1.0);
    let mut svg = format!(
        r#"<svg class="chart" role="img" viewBox="0 0 {w} {height}" width="{w}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        w = label_w + bar_w + 60.0,
        t = esc(title)
    );
    for (i, (label, value)) in items.iter().enumerate() {
        let y = 4.0 + i as f64 * row;
        let w = (value / max * bar_w).max(if *value > 0.0 { 2.0 } else { 0.0 });
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" text-anchor="end" class="label">{l}</text><rect x="{bx}" y="{y}" width="{w:.1}" height="{h}" rx="3" class="bar"/><text x="{vx:.1}" y="{ty}" class="value">{v}</text>"#,
            lx = label_w - 8.0,
            ty = y + row * 0.62,
            l = esc(label),
            bx = label_w,
            h = row - 8.0,
            vx = label_w + w + 6.0,
            v = format_number(*value),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A small line of values, oldest first (for trends beside a number).
pub fn sparkline(title: &str, values: &[f64]) -> String {
    let (w, h) = (120.0, 28.0);
    let (min, max) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let span = if max > min { max - min } else { 1.0 };
    let step = if values.len() > 1 { w / (values.len() - 1) as f64 } else { 0.0 };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * step, h - 2.0 - (v - min) / span * (h - 4.0)))
        .collect();
    format!(
        r#"<svg class="spark" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{}</title><polyline fill="none" points="{}"/></svg>"#,
        esc(title),
        points.join(" ")
    )
}

/// A health score over time, 0–100, over the red / yellow / green bands (`yellow` and `green`
/// where they start); each point titled with its day and score.
pub fn health(title: &str, points: &[(String, f64)], yellow: f64, green: f64) -> String {
    let (w, h) = (640.0, 160.0);
    let y = |v: f64| h - v / 100.0 * h;
    let step = if points.len() > 1 { w / (points.len() - 1) as f64 } else { 0.0 };
    let mut svg = format!(
        r#"<svg class="chart health" role="img" viewBox="0 0 {w} {h}" width="100%" height="{h}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    for (class, from, to) in [("band-red", 0.0, yellow), ("band-yellow", yellow, green), ("band-green", green, 100.0)] {
        let _ = write!(
            svg,
            r#"<rect x="0" y="{:.1}" width="{w}" height="{:.1}" class="{class}"/>"#,
            y(to),
            y(from) - y(to)
        );
    }
    let line: Vec<String> =
        points.iter().enumerate().map(|(i, (_, v))| format!("{:.1},{:.1}", i as f64 * step, y(*v))).collect();
    let _ = write!(svg, r#"<polyline class="line" fill="none" points="{}"/>"#, line.join(" "));
    for (i, (label, v)) in points.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="2" class="dot"><title>{}: {}</title></circle>"#,
            i as f64 * step,
            y(*v),
            esc(label),
            format_number(*v)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A ROC curve: (false positive rate, true positive rate) points from (0,0) to (1,1), with the
/// diagonal of a score that tells nothing.
pub fn roc(title: &str, points: &[(f64, f64)]) -> String {
    let s = 240.0;
    let line: Vec<String> = points.iter().map(|(x, y)| format!("{:.1},{:.1}", x * s, s - y * s)).collect();
    format!(
        r#"<svg class="chart roc" role="img" viewBox="-4 -4 {v} {v}" width="{v}" height="{v}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title><rect x="0" y="0" width="{s}" height="{s}" class="frame"/><line x1="0" y1="{s}" x2="{s}" y2="0" class="chance"/><polyline class="line" fill="none" points="{p}"/></svg>"#,
        v = s + 8.0,
        t = esc(title),
        p = line.join(" ")
    )
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_escape_labels() {
        let svg = bars("By stage", &[("a<b".into(), 10.0), ("c".into(), 5.0)]);
        assert!(svg.contains(r#"width="260.0""#), "{svg}");
        assert!(svg.contains(r#"width="130.0""#), "{svg}");
        assert!(svg.contains("a&lt;b"));
        assert!(svg.contains("<title>By stage</title>"));
    }

    #[test]
    fn health_and_roc_draw_their_points() {
        let svg = health("Health", &[("2026-01-01".into(), 80.0), ("2026-01-02".into(), 20.0)], 40.0, 70.0);
        assert!(svg.contains(r#"points="0.0,32.0 640.0,128.0""#), "{svg}");
        assert!(svg.contains("<title>2026-01-02: 20</title>"));
        let svg = roc("ROC", &[(0.0, 0.0), (0.5, 1.0), (1.0, 1.0)]);
        assert!(svg.contains(r#"points="0.0,240.0 120.0,0.0 240.0,0.0""#), "{svg}");
    }

    #[test]
    fn sparkline_spans_its_box() {
        let svg = sparkline("MRR", &[1.0, 3.0, 2.0]);
        assert!(svg.contains(r#"points="0.0,26.0 60.0,2.0 120.0,14.0""#), "{svg}");
    }
}
