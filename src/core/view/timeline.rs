//! The timeline of one run, as geometry: what to draw where, and what each piece means
//! (for hover and keyboard focus). The painter (`src/ui`, wasm32) only maps [`Style`]s
//! to colours and patterns and draws the shapes in order.
//!
//! Top to bottom: a time axis; the event-loop lane, where every stall is a block with
//! its length; the probe's lag sparkline; one lane per request. The prediction is drawn
//! first as a faint ghost filling each lane; the measurement over it, inset.

use crate::format;
use crate::model::{Phase, PhaseKind, Place, Report};

/// One phase of one request, possibly still going (`open`).
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub lane: usize,
    pub kind: PhaseKind,
    pub on: Place,
    pub blocking: bool,
    pub start_ms: f64,
    pub end_ms: f64,
    pub open: bool,
}

impl Bar {
    pub fn from_phase(lane: usize, p: &Phase) -> Bar {
        Bar {
            lane,
            kind: p.kind,
            on: p.on,
            blocking: p.blocking,
            start_ms: p.start_ms,
            end_ms: p.end_ms,
            open: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct StallBar {
    pub start_ms: f64,
    pub end_ms: f64,
    pub request: u64,
    pub open: bool,
}

/// An answer leaving: its lane, when, and whether it was an error (a 500).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reply {
    pub lane: usize,
    pub t_ms: f64,
    pub error: bool,
}

/// Everything a timeline shows of one run (a prediction, a measurement, or a run going on).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Picture {
    pub lanes: usize,
    pub bars: Vec<Bar>,
    /// Each answer as it left.
    pub responses: Vec<Reply>,
    pub stalls: Vec<StallBar>,
    /// The probe's `[t_ms, lag_ms]` samples (measurements only).
    pub lag: Vec<[f64; 2]>,
    /// Where the picture ends: the run's end, or "now" for a run going on.
    pub end_ms: f64,
}

impl Picture {
    pub fn from_report(r: &Report) -> Picture {
        let bars = r
            .requests
            .iter()
            .enumerate()
            .flat_map(|(lane, q)| q.phases.iter().map(move |p| Bar::from_phase(lane, p)))
            .collect();
        let end_ms = r
            .requests
            .iter()
            .flat_map(|q| q.phases.iter().map(|p| p.end_ms).chain([q.responded_ms]))
            .fold(0.0, f64::max);
        Picture {
            lanes: r.requests.len(),
            bars,
            responses: r
                .requests
                .iter()
                .enumerate()
                .map(|(lane, q)| Reply {
                    lane,
                    t_ms: q.responded_ms,
                    error: !q.answer.is_ok(),
                })
                .collect(),
            stalls: r
                .loop_stalls
                .iter()
                .map(|s| StallBar {
                    start_ms: s.start_ms,
                    end_ms: s.end_ms,
                    request: s.request,
                    open: false,
                })
                .collect(),
            lag: r
                .measurement
                .as_ref()
                .map(|m| m.probe_lag.clone())
                .unwrap_or_default(),
            end_ms,
        }
    }
}

/// What a shape is; the painter picks colour and pattern from this alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Style {
    /// Waiting for the loop or a token: hollow.
    Queued,
    /// I/O: awaited (not blocking) or `time.sleep` (blocking).
    Io {
        blocking: bool,
    },
    /// The prediction on the event loop: it blocks the loop.
    CpuLoop,
    /// The prediction on a pool thread.
    CpuPool,
    Background,
    /// A loop stall block.
    Stall,
    /// The response leaving.
    Response,
    /// An error leaving (HTTP 500).
    ErrorResponse,
    LagLine,
    Axis,
    Grid,
    Label,
    /// Label drawn on a dark block.
    LabelOnDark,
    Now,
}

impl Style {
    fn of(bar: &Bar) -> Style {
        match (bar.kind, bar.on) {
            (PhaseKind::Queued, _) => Style::Queued,
            (PhaseKind::Io, _) => Style::Io {
                blocking: bar.blocking,
            },
            (PhaseKind::Cpu, Place::Loop) => Style::CpuLoop,
            (PhaseKind::Cpu, Place::Pool) => Style::CpuPool,
            (PhaseKind::Background, _) => Style::Background,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        style: Style,
        /// Drawn faint: the prediction behind the measurement.
        ghost: bool,
    },
    Text {
        x: f64,
        y: f64,
        text: String,
        style: Style,
        /// Right-aligned at x when true.
        right: bool,
    },
    Line {
        points: Vec<(f64, f64)>,
        style: Style,
    },
}

/// A place the pointer or keyboard can point at, and what it says.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    pub shapes: Vec<Shape>,
    pub hits: Vec<Hit>,
}

/// Canvas width and the time span it shows (shared by aligned timelines).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub width: f64,
    pub span_ms: f64,
    /// Height the request lanes share (each lane 3–18 px within it).
    pub lanes_px: f64,
}

pub const GUTTER: f64 = 82.0;
const RIGHT_PAD: f64 = 12.0;
const AXIS_H: f64 = 22.0;
const LOOP_H: f64 = 26.0;
const LAG_H: f64 = 22.0;
const GAP: f64 = 6.0;

/// Lane height for `n` requests in `lanes_px`: readable for a few, still fitting for
/// hundreds.
pub fn lane_height(n: usize, lanes_px: f64) -> f64 {
    (lanes_px / n.max(1) as f64).clamp(3.0, 18.0)
}

fn describe(kind: PhaseKind, on: Place, blocking: bool) -> &'static str {
    match (kind, on, blocking) {
        (PhaseKind::Queued, Place::Loop, _) => "waiting for the event loop",
        (PhaseKind::Queued, Place::Pool, _) => "waiting for a threadpool token",
        (PhaseKind::Io, Place::Loop, false) => "I/O, awaited (the loop is free)",
        (PhaseKind::Io, Place::Loop, true) => "I/O with time.sleep on the event loop (blocks it)",
        (PhaseKind::Io, Place::Pool, _) => "I/O on a pool thread",
        (PhaseKind::Cpu, Place::Loop, _) => "prediction on the event loop (blocks it)",
        (PhaseKind::Cpu, Place::Pool, _) => "prediction on a pool thread",
        (PhaseKind::Background, _, _) => "background log task on a pool thread",
    }
}

fn tick_step(span_ms: f64) -> f64 {
    // About six labelled ticks, on 1-2-5 steps.
    let raw = span_ms / 6.0;
    let mag = 10f64.powf(raw.max(1e-9).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn tick_label(t: f64, step: f64) -> String {
    if step >= 1000.0 {
        format!("{} s", t / 1000.0)
    } else if t >= 1000.0 {
        format!("{:.1} s", t / 1000.0)
    } else {
        format!("{t:.0} ms")
    }
}

/// Lays out one timeline: the prediction as a ghost, the measurement (if any) over it,
/// `now_ms` as a cursor while a run is going.
pub fn layout(ghost: &Picture, real: Option<&Picture>, geo: Geometry, now_ms: Option<f64>) -> Layout {
    let lanes = ghost.lanes.max(real.map_or(0, |r| r.lanes));
    let lane_h = lane_height(lanes, geo.lanes_px);
    let plot_w = (geo.width - GUTTER - RIGHT_PAD).max(10.0);
    let span = geo.span_ms.max(1.0);
    let x = |t: f64| GUTTER + t.clamp(0.0, span) / span * plot_w;
    let w = |a: f64, b: f64| (x(b) - x(a)).max(1.0);
    let loop_y = AXIS_H;
    let lag_y = loop_y + LOOP_H + 2.0;
    let lanes_y = lag_y + LAG_H + GAP;
    let lane_y = |lane: usize| lanes_y + lane as f64 * lane_h;
    let height = lanes_y + lanes as f64 * lane_h + 4.0;
    let mut shapes = Vec::new();
    let mut hits = Vec::new();

    // Axis and grid.
    let step = tick_step(span);
    let mut t = 0.0;
    while t <= span + 1e-9 {
        shapes.push(Shape::Line {
            points: vec![(x(t), AXIS_H - 4.0), (x(t), height)],
            style: Style::Grid,
        });
        shapes.push(Shape::Text {
            x: x(t) + 2.0,
            y: 13.0,
            text: tick_label(t, step),
            style: Style::Axis,
            right: false,
        });
        t += step;
    }
    shapes.push(Shape::Text {
        x: GUTTER - 6.0,
        y: loop_y + LOOP_H / 2.0 + 4.0,
        text: "event loop".into(),
        style: Style::Label,
        right: true,
    });
    shapes.push(Shape::Text {
        x: GUTTER - 6.0,
        y: lag_y + LAG_H / 2.0 + 4.0,
        text: "probe lag".into(),
        style: Style::Label,
        right: true,
    });
    // Every lane labelled when they are tall enough to read; else the first and last.
    let labelled: Vec<usize> = if lane_h >= 13.0 {
        (0..lanes).collect()
    } else if lanes > 1 {
        vec![0, lanes - 1]
    } else {
        (0..lanes).collect()
    };
    for lane in labelled {
        shapes.push(Shape::Text {
            x: GUTTER - 6.0,
            y: (lane_y(lane) + lane_h * 0.5 + 4.0).min(height - 2.0),
            text: format!("req {lane}"),
            style: Style::Label,
            right: true,
        });
    }

    // The prediction, faint, filling each lane and the loop lane.
    for b in &ghost.bars {
        shapes.push(Shape::Rect {
            x: x(b.start_ms),
            y: lane_y(b.lane),
            w: w(b.start_ms, b.end_ms),
            h: lane_h - if lane_h >= 8.0 { 1.0 } else { 0.0 },
            style: Style::of(b),
            ghost: true,
        });
    }
    for s in &ghost.stalls {
        shapes.push(Shape::Rect {
            x: x(s.start_ms),
            y: loop_y,
            w: w(s.start_ms, s.end_ms),
            h: LOOP_H,
            style: Style::Stall,
            ghost: true,
        });
    }

    // The measurement over it (or the prediction itself, solid, when nothing is measured).
    let (shown, measured) = match real {
        Some(r) => (r, true),
        None => (ghost, false),
    };
    let inset = if measured && lane_h >= 6.0 {
        lane_h * 0.2
    } else {
        0.0
    };
    let source = if measured { "measured" } else { "predicted" };
    for b in &shown.bars {
        let (bx, by, bw, bh) = (
            x(b.start_ms),
            lane_y(b.lane) + inset,
            w(b.start_ms, b.end_ms),
            (lane_h - 2.0 * inset - if lane_h >= 8.0 { 1.0 } else { 0.0 }).max(1.0),
        );
        shapes.push(Shape::Rect {
            x: bx,
            y: by,
            w: bw,
            h: bh,
            style: Style::of(b),
            ghost: false,
        });
        let until = if b.open {
            "so far".to_string()
        } else {
            format!("{:.1}", b.end_ms)
        };
        hits.push(Hit {
            x: bx,
            y: lane_y(b.lane),
            w: bw,
            h: lane_h,
            text: format!(
                "request {}: {}, {:.1}–{} ms ({}, {source})",
                b.lane,
                describe(b.kind, b.on, b.blocking),
                b.start_ms,
                until,
                format::duration(b.end_ms - b.start_ms)
            ),
        });
    }
    for reply in &shown.responses {
        let (rx, ry) = (x(reply.t_ms), lane_y(reply.lane));
        if reply.error {
            // An error stands out: a wider block, in its own colour, labelled where room allows.
            shapes.push(Shape::Rect {
                x: rx - 2.0,
                y: ry,
                w: 5.0,
                h: lane_h,
                style: Style::ErrorResponse,
                ghost: false,
            });
            hits.push(Hit {
                x: rx - 3.0,
                y: ry,
                w: 7.0,
                h: lane_h,
                text: format!(
                    "request {}: answered 500 Internal Server Error at {:.1} ms ({source})",
                    reply.lane, reply.t_ms
                ),
            });
        } else {
            shapes.push(Shape::Rect {
                x: rx - 1.0,
                y: ry,
                w: 3.0,
                h: lane_h,
                style: Style::Response,
                ghost: false,
            });
        }
    }
    for s in &shown.stalls {
        let (sx, sw) = (x(s.start_ms), w(s.start_ms, s.end_ms));
        let inset = if measured { 4.0 } else { 0.0 };
        shapes.push(Shape::Rect {
            x: sx,
            y: loop_y + inset,
            w: sw,
            h: LOOP_H - 2.0 * inset,
            style: Style::Stall,
            ghost: false,
        });
        let label = format::duration(s.end_ms - s.start_ms);
        if sw >= 7.0 * label.len() as f64 + 8.0 {
            shapes.push(Shape::Text {
                x: sx + 3.0,
                y: loop_y + LOOP_H / 2.0 + 4.0,
                text: label.clone(),
                style: Style::LabelOnDark,
                right: false,
            });
        }
        hits.push(Hit {
            x: sx,
            y: loop_y,
            w: sw,
            h: LOOP_H,
            text: format!(
                "event loop blocked{} by request {}: {:.1}–{:.1} ms ({}, {source})",
                if s.open { ", still" } else { "" },
                s.request,
                s.start_ms,
                s.end_ms,
                label
            ),
        });
    }
    if let Some(r) = real {
        let most = r.lag.iter().map(|s| s[1]).fold(20.0, f64::max);
        let points: Vec<(f64, f64)> = r
            .lag
            .iter()
            .filter(|s| s[0] >= 0.0)
            .map(|s| (x(s[0]), lag_y + LAG_H - 1.0 - s[1] / most * (LAG_H - 2.0)))
            .collect();
        if points.len() > 1 {
            shapes.push(Shape::Line {
                points,
                style: Style::LagLine,
            });
        }
    }
    if let Some(now) = now_ms {
        shapes.push(Shape::Line {
            points: vec![(x(now), AXIS_H - 4.0), (x(now), height)],
            style: Style::Now,
        });
    }
    Layout {
        width: geo.width,
        height,
        shapes,
        hits,
    }
}

/// The hit under a point, if any (the last drawn wins).
pub fn hit_at(layout: &Layout, px: f64, py: f64) -> Option<usize> {
    layout
        .hits
        .iter()
        .rposition(|h| px >= h.x && px <= h.x + h.w && py >= h.y && py <= h.y + h.h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Config, Variant};

    fn geo(span_ms: f64) -> Geometry {
        Geometry {
            width: 800.0,
            span_ms,
            lanes_px: 220.0,
        }
    }

    fn report(variant: Variant) -> Report {
        crate::simulate(&Config::default().with_variant(variant)).unwrap()
    }

    fn rects(l: &Layout, style: Style, ghost: bool) -> Vec<(f64, f64)> {
        l.shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Rect {
                    x,
                    w,
                    style: st,
                    ghost: g,
                    ..
                } if *st == style && *g == ghost => Some((*x, *w)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_stall_block_per_stall_with_its_length() {
        let r = report(Variant::AsyncIo);
        let p = Picture::from_report(&r);
        let geo = Geometry {
            width: 1064.0,
            span_ms: 10_500.0,
            lanes_px: 220.0,
        };
        let l = layout(&p, Some(&p), geo, None);
        let stalls = rects(&l, Style::Stall, false);
        assert_eq!(stalls.len(), 10);
        // 1000 ms of 10 500 on the plot's width.
        assert!((stalls[0].1 - 1000.0 / 10_500.0 * (1064.0 - GUTTER - 12.0)).abs() < 1e-9);
        assert!((stalls[0].0 - (GUTTER + 500.0 / 10_500.0 * (1064.0 - GUTTER - 12.0))).abs() < 1e-9);
        let labels: Vec<&str> = l
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Text {
                    text,
                    style: Style::LabelOnDark,
                    ..
                } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(labels, ["1.00 s"; 10]);
        assert!(l.hits.iter().any(|h| h
            .text
            .starts_with("event loop blocked by request 0: 500.0–1500.0 ms")));
    }

    #[test]
    fn full_async_has_no_stall_blocks_and_cpu_in_the_pool() {
        let p = Picture::from_report(&report(Variant::FullAsync));
        let l = layout(&p, None, geo(1500.0), None);
        assert!(rects(&l, Style::Stall, false).is_empty());
        assert_eq!(rects(&l, Style::CpuPool, false).len(), 10);
        assert!(rects(&l, Style::CpuLoop, false).is_empty());
    }

    #[test]
    fn the_ghost_sits_behind_the_measurement() {
        let p = Picture::from_report(&report(Variant::Blocking));
        let l = layout(&p, Some(&p), geo(15_000.0), Some(100.0));
        let first_real = l
            .shapes
            .iter()
            .position(|s| matches!(s, Shape::Rect { ghost: false, .. }))
            .unwrap();
        let last_ghost = l
            .shapes
            .iter()
            .rposition(|s| matches!(s, Shape::Rect { ghost: true, .. }))
            .unwrap();
        assert!(last_ghost < first_real);
        assert!(matches!(
            l.shapes.last(),
            Some(Shape::Line {
                style: Style::Now,
                ..
            })
        ));
    }

    #[test]
    fn hits_describe_phase_request_and_times() {
        let p = Picture::from_report(&report(Variant::FullAsync));
        let l = layout(&p, None, geo(1500.0), None);
        let i = hit_at(
            &l,
            GUTTER + 1000.0 / 1500.0 * (800.0 - GUTTER - 12.0),
            l.height - 6.0,
        )
        .unwrap();
        assert_eq!(
            l.hits[i].text,
            "request 9: prediction on a pool thread, 500.0–1500.0 ms (1.00 s, predicted)"
        );
        assert_eq!(hit_at(&l, 1.0, 1.0), None);
    }

    #[test]
    fn labels_and_ticks_read_well() {
        assert_eq!(tick_step(15_000.0), 5000.0);
        assert_eq!(tick_step(150.0), 50.0);
        assert_eq!(lane_height(10, 220.0), 18.0);
        assert_eq!(lane_height(10, 96.0), 9.6);
        assert_eq!(lane_height(400, 220.0), 3.0);
    }
}
