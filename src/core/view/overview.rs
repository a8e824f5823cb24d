//! The overview: every run on one time axis, a row each, so five endpoints compare at a
//! glance while each one's own timeline is fitted to its run: when the last answer came,
//! the answers as ticks, and the event loop's blocked time hatched. Geometry only, in
//! the timeline's shapes, so the page paints it with the same painter.

use super::timeline::{Hit, Layout, Shape, Style};
use crate::format;
use crate::model::{Report, Variant};

/// One row: an endpoint's prediction, and its measurement if it ran.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    pub variant: Variant,
    pub predicted: &'a Report,
    pub measured: Option<&'a Report>,
}

/// Lays the rows out over `width` px, each `row_px` tall (0: two lines of text; never
/// under one and a half),
/// with text of `text_px`, the axis in the tutorial's time (`scale` is the runs' time
/// scale); `at`, a replay's moment on the runs' clock, shows each run as it stood then;
/// the axis spans at least `min_span_ms` (0: the rows' longest run).
pub fn overview(
    rows: &[Row],
    width: f64,
    text_px: f64,
    row_px: f64,
    scale: f64,
    at: Option<f64>,
    min_span_ms: f64,
) -> Layout {
    fn shown_report<'a>(r: &Row<'a>) -> &'a Report {
        r.measured.unwrap_or(r.predicted)
    }
    let text = text_px;
    let gutter = text * 14.5;
    let right = text * 5.0;
    let axis_h = text * 1.9;
    let row_h = if row_px > 0.0 { row_px } else { text * 2.2 }
        .max(text * 1.5)
        .max(24.0);
    let bar_h = row_h * 0.62;
    let plot_w = (width - gutter - right).max(10.0);
    let span = rows
        .iter()
        .map(|r| {
            r.predicted
                .stats
                .makespan_ms
                .max(shown_report(r).stats.makespan_ms)
        })
        .fold(min_span_ms.max(1.0), f64::max)
        * 1.02;
    let x = |t: f64| gutter + t.clamp(0.0, span) / span * plot_w;
    let height = axis_h + rows.len() as f64 * row_h + 4.0;
    let mut shapes = Vec::new();
    let mut hits = Vec::new();
    // The axis, in the tutorial's time.
    let step = nice_step(span / scale);
    let mut t = 0.0;
    while t <= span / scale + 1e-9 {
        let run_t = t * scale;
        shapes.push(Shape::Line {
            points: vec![(x(run_t), axis_h - 4.0), (x(run_t), height)],
            style: Style::Grid,
        });
        shapes.push(Shape::Text {
            x: x(run_t) + 2.0,
            y: text + 1.0,
            // One unit a whole axis: "0 s" beside "5 s", not "0 ms".
            text: if span / scale >= 1000.0 {
                format!("{} s", (t / 10.0).round() / 100.0)
            } else {
                format::round_duration(t)
            },
            style: Style::Axis,
            right: false,
        });
        t += step;
    }
    let until = at.unwrap_or(f64::INFINITY);
    for (i, row) in rows.iter().enumerate() {
        let top = axis_h + i as f64 * row_h;
        let mid = top + row_h / 2.0;
        let report = shown_report(row);
        let makespan = report.stats.makespan_ms;
        let done = makespan <= until;
        let drawn_to = makespan.min(until);
        shapes.push(Shape::Text {
            x: gutter - 8.0,
            y: mid + text * 0.35,
            text: row.variant.route().trim_start_matches("POST ").to_string(),
            style: Style::Label,
            right: true,
        });
        // The prediction's end, faint, under the run.
        shapes.push(Shape::Rect {
            x: x(0.0),
            y: mid - bar_h / 2.0,
            w: (x(row.predicted.stats.makespan_ms) - x(0.0)).max(1.0),
            h: bar_h,
            style: Style::Queued,
            ghost: true,
        });
        // The run: a bar to its last answer (so far), the loop's stalls hatched on it.
        shapes.push(Shape::Rect {
            x: x(0.0),
            y: mid - bar_h / 2.0,
            w: (x(drawn_to) - x(0.0)).max(1.0),
            h: bar_h,
            style: Style::Grid,
            ghost: row.measured.is_none(),
        });
        for s in report.loop_stalls.iter().filter(|s| s.start_ms < until) {
            let end = s.end_ms.min(until);
            shapes.push(Shape::Rect {
                x: x(s.start_ms),
                y: mid - bar_h / 2.0,
                w: (x(end) - x(s.start_ms)).max(1.0),
                h: bar_h,
                style: Style::Stall,
                ghost: row.measured.is_none(),
            });
        }
        for &t in report.requests.responded_column().iter().filter(|&&t| t <= until) {
            shapes.push(Shape::Rect {
                x: x(t) - 1.0,
                y: mid - bar_h / 2.0 - 2.0,
                w: 2.0,
                h: bar_h + 4.0,
                style: Style::Response,
                ghost: row.measured.is_none(),
            });
        }
        let blocked = report.stats.loop_stall_total_ms;
        let end = format::duration(makespan / scale);
        shapes.push(Shape::Text {
            x: x(drawn_to) + 6.0,
            y: mid + text * 0.35,
            text: if !done {
                "…".to_string()
            } else if blocked > 0.0 && x(makespan) + text * 14.0 < width {
                format!("{end} · loop blocked {}", format::duration(blocked / scale))
            } else {
                end.clone()
            },
            style: Style::Label,
            right: false,
        });
        // No room after a long run's end: its blocked time inside its bar.
        if done && blocked > 0.0 && x(makespan) + text * 14.0 >= width {
            shapes.push(Shape::Text {
                x: x(makespan) - 8.0,
                y: mid + text * 0.35,
                text: format!("loop blocked {}", format::duration(blocked / scale)),
                style: Style::LabelOnDark,
                right: true,
            });
        }
        hits.push(Hit {
            x: x(0.0),
            y: top,
            w: (x(makespan) - x(0.0)).max(4.0),
            h: row_h,
            text: format!(
                "{}: last answer at {} ({}), {}",
                row.variant.route(),
                end,
                match row.measured {
                    Some(_) => format!(
                        "predicted {}",
                        format::duration(row.predicted.stats.makespan_ms / scale)
                    ),
                    None => "predicted; not run yet".to_string(),
                },
                if blocked > 0.0 {
                    format!("the event loop blocked {}", format::duration(blocked / scale))
                } else {
                    "the event loop never blocked".to_string()
                }
            ),
            t_ms: makespan,
        });
    }
    if let Some(t) = at.filter(|&t| t < span) {
        shapes.push(Shape::Line {
            points: vec![(x(t), axis_h - 4.0), (x(t), height)],
            style: Style::Now,
        });
    }
    // Words over everything, the replay's cursor included.
    shapes.sort_by_key(|s| matches!(s, Shape::Text { .. }));
    Layout {
        width,
        height,
        shapes,
        hits,
        text_px,
        merged: None,
        window: (0.0, span),
        plot: (gutter, plot_w),
    }
}

/// About five labelled ticks, on 1-2-5 steps.
fn nice_step(span: f64) -> f64 {
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.max(1e-9).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;

    #[test]
    fn every_run_on_one_axis_its_stalls_hatched_its_end_said() {
        let reports: Vec<Report> = Variant::TUTORIAL
            .iter()
            .map(|&v| crate::simulate(&Config::default().with_variant(v)).unwrap())
            .collect();
        let rows: Vec<Row> = Variant::TUTORIAL
            .iter()
            .zip(&reports)
            .map(|(&variant, r)| Row {
                variant,
                predicted: r,
                measured: None,
            })
            .collect();
        let l = overview(&rows, 1200.0, 20.0, 0.0, 1.0, None, 0.0);
        assert_eq!(l.hits.len(), 5);
        assert!(l.hits[1].text.starts_with("POST /predict_blocking: last answer at 15.00 s (predicted; not run yet), the event loop blocked 15.00 s"));
        assert!(l.hits[0].text.ends_with("the event loop never blocked"));
        let stalls = l
            .shapes
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    Shape::Rect {
                        style: Style::Stall,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(stalls, 10 + 10, "blocking's ten and async_io's ten");
        // The longest run fills the plot; the shortest a tenth of it.
        let widest = |i: usize| l.hits[i].w;
        assert!(widest(1) > 9.0 * widest(0));
        let labels: Vec<&str> = l
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Text {
                    text,
                    style: Style::Label,
                    ..
                } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(
            labels.contains(&"/predict_sync") && labels.contains(&"1.50 s"),
            "{labels:?}"
        );
        // At a replay's moment, each run as it stood: 2 s in, blocking's is not done.
        let then = overview(&rows, 1200.0, 20.0, 0.0, 1.0, Some(2000.0), 0.0);
        let stalls_then = then
            .shapes
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    Shape::Rect {
                        style: Style::Stall,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(stalls_then, 2 + 2, "blocking's first two, async_io's first two");
        assert!(then
            .shapes
            .iter()
            .any(|s| matches!(s, Shape::Text { text, .. } if text == "…")));
    }
}
