//! The timeline of one run, as geometry: what to draw where, and what each piece means
//! (for hover, keyboard focus and click-to-seek). The painter (the web crate's page)
//! only maps [`Style`]s to colours and patterns and draws the shapes in order.
//!
//! Top to bottom: a time axis in the tutorial's time (a run played at 0.2× is drawn on
//! the tutorial's clock and says so); the event-loop lane (one per server worker), where
//! every stall is a hatched block with its length, apart from its neighbours, and every
//! wait for the GIL a block of its own; the probe lane, with the stalls the heartbeat
//! saw and its lag on a stated scale; the task queue's workers, when it has them; one
//! lane per request. The
//! prediction is drawn first as a faint ghost filling each lane; the measurement over
//! it, inset. At a replay's moment, a cursor, and what comes after it greyed out.

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
    /// The server worker whose loop it held.
    pub worker: usize,
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
    /// Server workers: a loop lane each (0 counts as 1).
    pub workers: usize,
    /// The loops' waits for their GIL: `(worker, start_ms, end_ms)`.
    pub gil_waits: Vec<(usize, f64, f64)>,
    pub bars: Vec<Bar>,
    /// Each answer as it left.
    pub responses: Vec<Reply>,
    pub stalls: Vec<StallBar>,
    /// The probe's `[t_ms, lag_ms]` samples (measurements only).
    pub lag: Vec<[f64; 2]>,
    /// The stalls the probe saw, `(start_ms, end_ms)` (measurements only).
    pub probe: Vec<(f64, f64)>,
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
            workers: r.config.workers as usize,
            gil_waits: r
                .loop_gil_waits
                .iter()
                .map(|g| (g.worker as usize, g.start_ms, g.end_ms))
                .collect(),
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
                    worker: s.worker as usize,
                    open: false,
                })
                .collect(),
            lag: r
                .measurement
                .as_ref()
                .map(|m| m.probe_lag.clone())
                .unwrap_or_default(),
            // The probe lane shows server worker 0's heartbeat.
            probe: r
                .probe_stalls
                .iter()
                .flatten()
                .filter(|s| s.worker == 0)
                .map(|s| (s.start_ms, s.end_ms))
                .collect(),
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
    /// The prediction on the event loop: the work that blocks it (solid vermilion).
    CpuLoop,
    /// The prediction on a pool thread.
    CpuPool,
    /// The prediction in a process of a process pool.
    CpuProcess,
    /// Ready to compute, waiting for the GIL another thread holds.
    GilWait,
    /// In a loop lane: the loop had work ready but waited for the GIL.
    LoopGilWait,
    Background,
    /// A loop stall block: the same vermilion as the work that causes it, hatched, so
    /// it reads as that work's effect on the loop, not as the work itself.
    Stall,
    /// A stall the probe saw.
    ProbeStall,
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
    /// A note in small type (the probe lane's scale, the time badge).
    Note,
    Now,
    /// What comes after a replay's moment: greyed out.
    Veil,
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
            (PhaseKind::Cpu, Place::Process | Place::Queue) => Style::CpuProcess,
            (PhaseKind::GilWait, _) => Style::GilWait,
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

/// A place the pointer or keyboard can point at, what it says, and the moment it
/// stands for (where a click moves a replay to).
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub text: String,
    /// On the run's clock.
    pub t_ms: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    pub shapes: Vec<Shape>,
    pub hits: Vec<Hit>,
    /// Text size the layout was made for (the painter uses the same).
    pub text_px: f64,
}

/// How a timeline is drawn: its width, the span of the run's clock it shows (shared by
/// aligned timelines, or the run's own when fitted), and how the run's clock reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub width: f64,
    pub span_ms: f64,
    /// Height the request lanes share.
    pub lanes_px: f64,
    /// The run's time scale: a run at 0.2× took 0.2 ms per tutorial ms, and is drawn
    /// and labelled in the tutorial's time.
    pub scale: f64,
    /// Label text size: 12 on a screen, 20 for a projector.
    pub text_px: f64,
}

impl Geometry {
    /// A run's clock as the tutorial's: `ms / scale`.
    pub fn shown(&self, run_ms: f64) -> f64 {
        run_ms / self.scale
    }

    /// Room on the left for the lanes' labels.
    pub fn gutter(&self) -> f64 {
        self.text_px * 6.8
    }

    fn lane_max(&self) -> f64 {
        (self.text_px * 1.5).max(18.0)
    }
}

const RIGHT_PAD: f64 = 12.0;

/// Lane height for `n` requests in `lanes_px`: readable for a few, still fitting for
/// hundreds.
pub fn lane_height(n: usize, lanes_px: f64) -> f64 {
    (lanes_px / n.max(1) as f64).clamp(3.0, 18.0)
}

fn describe(kind: PhaseKind, on: Place, blocking: bool) -> &'static str {
    match (kind, on, blocking) {
        (PhaseKind::Queued, Place::Loop, _) => "waiting for the event loop",
        (PhaseKind::Queued, Place::Pool, _) => "waiting for a threadpool token",
        (PhaseKind::Queued, Place::Process, _) => "waiting for a free process of the pool",
        (PhaseKind::Queued, Place::Queue, _) => "waiting in the task queue for a queue worker",
        (PhaseKind::Io, Place::Loop, false) => "I/O, awaited (the loop is free)",
        (PhaseKind::Io, Place::Loop, true) => "I/O with time.sleep on the event loop (blocks it)",
        (PhaseKind::Io, Place::Pool, _) => "I/O on a pool thread",
        (PhaseKind::Io, Place::Process | Place::Queue, _) => "I/O in another process",
        (PhaseKind::Cpu, Place::Loop, _) => "prediction on the event loop (blocks it)",
        (PhaseKind::Cpu, Place::Pool, _) => "prediction on a pool thread",
        (PhaseKind::Cpu, Place::Process | Place::Queue, _) => "prediction in a process of the pool",
        (PhaseKind::GilWait, _, _) => "ready to compute, waiting for the GIL",
        (PhaseKind::Background, Place::Queue, _) => "log job in a queue worker, outside the server",
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

/// Which lanes to label: all when each has room for a line of text, else every k-th
/// (k a 1-2-5 step) so labels stay a line apart, always with the first and the last.
pub fn labelled_lanes(lanes: usize, lane_h: f64, text_px: f64) -> Vec<usize> {
    if lanes == 0 {
        return Vec::new();
    }
    let need = text_px + 1.0;
    let every = if lane_h >= need {
        1
    } else {
        let k = (need / lane_h).ceil() as usize;
        [
            1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000,
        ]
        .into_iter()
        .find(|&s| s >= k)
        .unwrap_or(k)
    };
    let mut out: Vec<usize> = (0..lanes).step_by(every).collect();
    let last = lanes - 1;
    if out.last() != Some(&last) {
        // The last lane too, unless it would sit on its neighbour's label.
        if let Some(&prev) = out.last() {
            if (last - prev) as f64 * lane_h < need {
                out.pop();
            }
        }
        out.push(last);
    }
    out
}

/// Lays out one timeline: the prediction as a ghost, the measurement (if any) over it;
/// `cursor` is now for a run going on, or a replay's moment (`veil`: grey out what
/// comes after it).
pub fn layout(
    ghost: &Picture,
    real: Option<&Picture>,
    geo: Geometry,
    cursor: Option<f64>,
    veil: bool,
) -> Layout {
    let text = geo.text_px;
    let gutter = geo.gutter();
    let axis_h = text * 1.9;
    let loop_h = (text * 2.2).max(26.0);
    let lag_h = (text * 2.0).max(24.0);
    let gap = 6.0;
    let lanes = ghost.lanes.max(real.map_or(0, |r| r.lanes));
    let lane_h = lane_height(lanes, geo.lanes_px).min(geo.lane_max()).max(3.0);
    let plot_w = (geo.width - gutter - RIGHT_PAD).max(10.0);
    let span = geo.span_ms.max(1e-6);
    let x = |t: f64| gutter + t.clamp(0.0, span) / span * plot_w;
    let w = |a: f64, b: f64| (x(b) - x(a)).max(1.0);
    let workers = ghost.workers.max(real.map_or(0, |r| r.workers)).max(1);
    // Several loops: each lane a little lower, so the four of `--workers 4` fit.
    let loop_h = if workers > 1 {
        (loop_h * 0.75).max(20.0)
    } else {
        loop_h
    };
    let loop_y = axis_h;
    let loop_top = |w: usize| loop_y + w as f64 * (loop_h + 2.0);
    let lag_y = loop_top(workers);
    // The task queue's workers, when the run has them: a row each.
    let queue_jobs = queue_rows(real.unwrap_or(ghost));
    let queue_rows_n = queue_jobs.iter().map(|j| j.0 + 1).max().unwrap_or(0);
    let queue_row_h = (text * 1.1).max(10.0);
    let queue_y = lag_y + lag_h + 2.0;
    let queue_h = queue_rows_n as f64 * queue_row_h;
    let lanes_y = queue_y + queue_h + gap;
    let lane_y = |lane: usize| lanes_y + lane as f64 * lane_h;
    let height = lanes_y + lanes as f64 * lane_h + 4.0;
    let label_y = |top: f64, h: f64| top + h / 2.0 + text * 0.35;
    let shown = |t: f64| geo.shown(t);
    let mut shapes = Vec::new();
    let mut hits = Vec::new();

    // Axis and grid, in the tutorial's time.
    let step = tick_step(shown(span));
    let mut t = 0.0;
    while t <= shown(span) + 1e-9 {
        let run_t = t * geo.scale;
        shapes.push(Shape::Line {
            points: vec![(x(run_t), axis_h - 4.0), (x(run_t), height)],
            style: Style::Grid,
        });
        shapes.push(Shape::Text {
            x: x(run_t) + 2.0,
            y: text + 1.0,
            text: tick_label(t, step),
            style: Style::Axis,
            right: false,
        });
        t += step;
    }
    let mut names: Vec<(f64, f64, String)> = (0..workers)
        .map(|w| {
            let name = if workers == 1 {
                "event loop".to_string()
            } else {
                format!("loop {w}")
            };
            (loop_top(w), loop_h, name)
        })
        .collect();
    names.push((lag_y, lag_h, "probe lag".into()));
    if queue_rows_n > 0 {
        names.push((queue_y, queue_h, "task queue".into()));
    }
    for (top, h, name) in names {
        shapes.push(Shape::Text {
            x: gutter - 6.0,
            y: label_y(top, h),
            text: name,
            style: Style::Label,
            right: true,
        });
    }
    for lane in labelled_lanes(lanes, lane_h, text) {
        shapes.push(Shape::Text {
            x: gutter - 6.0,
            y: label_y(lane_y(lane), lane_h).min(height - 2.0),
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
            y: loop_top(s.worker.min(workers - 1)),
            w: w(s.start_ms, s.end_ms),
            h: loop_h,
            style: Style::Stall,
            ghost: true,
        });
    }
    for &(worker, start, end) in &ghost.gil_waits {
        shapes.push(Shape::Rect {
            x: x(start),
            y: loop_top(worker.min(workers - 1)),
            w: w(start, end),
            h: loop_h,
            style: Style::LoopGilWait,
            ghost: true,
        });
    }

    // The measurement over it (or the prediction itself, solid, when nothing is measured).
    let (pic, measured) = match real {
        Some(r) => (r, true),
        None => (ghost, false),
    };
    let inset = if measured && lane_h >= 6.0 {
        lane_h * 0.2
    } else {
        0.0
    };
    let source = if measured { "measured" } else { "predicted" };
    for b in &pic.bars {
        let (bx, bw) = (x(b.start_ms), w(b.start_ms, b.end_ms));
        shapes.push(Shape::Rect {
            x: bx,
            y: lane_y(b.lane) + inset,
            w: bw,
            h: (lane_h - 2.0 * inset - if lane_h >= 8.0 { 1.0 } else { 0.0 }).max(1.0),
            style: Style::of(b),
            ghost: false,
        });
        let until = if b.open {
            "so far".to_string()
        } else {
            format!("{:.1}", shown(b.end_ms))
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
                shown(b.start_ms),
                until,
                format::duration(shown(b.end_ms - b.start_ms))
            ),
            t_ms: b.start_ms,
        });
    }
    for reply in &pic.responses {
        let (rx, ry) = (x(reply.t_ms), lane_y(reply.lane));
        let (wide, style, what) = if reply.error {
            (5.0, Style::ErrorResponse, "answered 500 Internal Server Error")
        } else {
            (3.0, Style::Response, "answered 200")
        };
        shapes.push(Shape::Rect {
            x: rx - wide / 2.0,
            y: ry,
            w: wide,
            h: lane_h,
            style,
            ghost: false,
        });
        hits.push(Hit {
            x: rx - 3.0,
            y: ry,
            w: 6.0,
            h: lane_h,
            text: format!(
                "request {}: {what} at {:.1} ms ({source})",
                reply.lane,
                shown(reply.t_ms)
            ),
            t_ms: reply.t_ms,
        });
    }
    // Stalls: each its own block, apart from a neighbour by a thin gap, its length on
    // it where there is room.
    let mut stalls: Vec<&StallBar> = pic.stalls.iter().collect();
    stalls.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    let stall_inset = if measured { 4.0 } else { 0.0 };
    for s in stalls {
        let loop_y = loop_top(s.worker.min(workers - 1));
        let (sx, sw) = (x(s.start_ms), w(s.start_ms, s.end_ms));
        let (bx, bw) = if sw > 4.0 { (sx + 1.0, sw - 2.0) } else { (sx, sw) };
        shapes.push(Shape::Rect {
            x: bx,
            y: loop_y + stall_inset,
            w: bw,
            h: loop_h - 2.0 * stall_inset,
            style: Style::Stall,
            ghost: false,
        });
        let label = format::duration(shown(s.end_ms - s.start_ms));
        if bw >= text * 0.55 * label.chars().count() as f64 + 4.0 {
            shapes.push(Shape::Text {
                x: bx + 3.0,
                y: label_y(loop_y, loop_h),
                text: label.clone(),
                style: Style::LabelOnDark,
                right: false,
            });
        }
        hits.push(Hit {
            x: sx,
            y: loop_y,
            w: sw,
            h: loop_h,
            text: format!(
                "{} blocked{} by request {}: {:.1}–{:.1} ms ({}, {source})",
                if workers > 1 {
                    format!("worker {}'s event loop", s.worker)
                } else {
                    "event loop".into()
                },
                if s.open { ", still" } else { "" },
                s.request,
                shown(s.start_ms),
                shown(s.end_ms),
                label
            ),
            t_ms: s.start_ms,
        });
    }
    // The loops' waits for their GIL: lag with no blocking call.
    for &(worker, start, end) in &pic.gil_waits {
        let loop_y = loop_top(worker.min(workers - 1));
        let (sx, sw) = (x(start), w(start, end));
        shapes.push(Shape::Rect {
            x: sx,
            y: loop_y + stall_inset,
            w: sw,
            h: loop_h - 2.0 * stall_inset,
            style: Style::LoopGilWait,
            ghost: false,
        });
        hits.push(Hit {
            x: sx,
            y: loop_y,
            w: sw,
            h: loop_h,
            text: format!(
                "{} had work ready but waited for the GIL (held by a thread computing pure Python): {:.1}–{:.1} ms ({}, {source})",
                if workers > 1 {
                    format!("worker {worker}'s event loop")
                } else {
                    "the event loop".into()
                },
                shown(start),
                shown(end),
                format::duration(shown(end - start))
            ),
            t_ms: start,
        });
    }
    // The task queue's workers, a row each: the log jobs they ran.
    for &(row, lane, start, end) in &queue_jobs {
        let y = queue_y + row as f64 * queue_row_h;
        shapes.push(Shape::Rect {
            x: x(start),
            y: y + 1.0,
            w: w(start, end),
            h: queue_row_h - 2.0,
            style: Style::Background,
            ghost: false,
        });
        hits.push(Hit {
            x: x(start),
            y,
            w: w(start, end),
            h: queue_row_h,
            text: format!(
                "queue worker {row}: request {lane}'s log job, {:.1}–{:.1} ms ({}, {source})",
                shown(start),
                shown(end),
                format::duration(shown(end - start))
            ),
            t_ms: start,
        });
    }
    let mut lag_note = None;
    if let Some(r) = real {
        // What the probe saw, and its lag on a stated scale.
        for &(start, end) in &r.probe {
            shapes.push(Shape::Rect {
                x: x(start),
                y: lag_y + 2.0,
                w: w(start, end),
                h: lag_h - 4.0,
                style: Style::ProbeStall,
                ghost: false,
            });
            hits.push(Hit {
                x: x(start),
                y: lag_y,
                w: w(start, end),
                h: lag_h,
                text: format!(
                    "the probe saw the loop held {:.1}–{:.1} ms ({}): its heartbeat could not run",
                    shown(start),
                    shown(end),
                    format::duration(shown(end - start))
                ),
                t_ms: start,
            });
        }
        // The lag on a round scale in the tutorial's time (a 15 s stall: "0–20 s").
        let most = r.lag.iter().map(|s| s[1]).fold(0.0, f64::max);
        let top = scale_top(shown(most)) * geo.scale;
        // A sawtooth: a tick late by L found the loop held for the L before it, so the
        // lag a heartbeat would have seen climbs from 0 to L over that span. A single
        // tick after one long stall still draws its ramp.
        let y_of = |lag: f64| lag_y + lag_h - 1.0 - lag.min(top) / top * (lag_h - 2.0);
        let mut points: Vec<(f64, f64)> = Vec::new();
        for &[t, lag] in r.lag.iter().filter(|s| s[0] >= 0.0) {
            if lag > 0.0 {
                points.push((x((t - lag).max(0.0)), y_of(0.0)));
            }
            points.push((x(t), y_of(lag)));
        }
        if points.len() > 1 {
            shapes.push(Shape::Line {
                points,
                style: Style::LagLine,
            });
        }
        // The lane's scale, at its top right: the lag that fills it (drawn last, above a
        // replay's grey).
        lag_note = Some(Shape::Text {
            x: geo.width - RIGHT_PAD,
            y: lag_y + text * 0.85,
            text: format!("lag scale 0–{}", format::round_duration(shown(top))),
            style: Style::Note,
            right: true,
        });
    }
    if let Some(now) = cursor {
        if veil && now < span {
            shapes.push(Shape::Rect {
                x: x(now),
                y: axis_h - 4.0,
                w: (x(span) - x(now)).max(0.0),
                h: height - axis_h + 4.0,
                style: Style::Veil,
                ghost: false,
            });
        }
        shapes.extend(lag_note.take());
        shapes.push(Shape::Line {
            points: vec![(x(now), axis_h - 4.0), (x(now), height)],
            style: Style::Now,
        });
    }
    shapes.extend(lag_note);
    Layout {
        width: geo.width,
        height,
        shapes,
        hits,
        text_px: text,
    }
}

/// The task queue's log jobs, each on a queue worker's row: `(row, request lane, start,
/// end)`. Jobs go to whichever worker is free (first come, first served), so assigning
/// them in start order to the first row free by then gives each worker its own jobs.
fn queue_rows(pic: &Picture) -> Vec<(usize, usize, f64, f64)> {
    let mut jobs: Vec<&Bar> = pic
        .bars
        .iter()
        .filter(|b| b.on == Place::Queue && b.kind == PhaseKind::Background)
        .collect();
    jobs.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    let mut free_at: Vec<f64> = Vec::new();
    let mut out = Vec::new();
    for b in jobs {
        let row = match free_at.iter().position(|&t| t <= b.start_ms + 1e-6) {
            Some(r) => r,
            None => {
                free_at.push(0.0);
                free_at.len() - 1
            }
        };
        free_at[row] = b.end_ms;
        out.push((row, b.lane, b.start_ms, b.end_ms));
    }
    out
}

/// The top of the probe lane's scale: the most lag seen, rounded up to 1-2-5 (20 ms at
/// least, so a quiet run's jitter stays small).
fn scale_top(most: f64) -> f64 {
    let most = most.max(20.0);
    let mag = 10f64.powf(most.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= most)
        .unwrap_or(10.0 * mag)
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
            scale: 1.0,
            text_px: 12.0,
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

    fn texts(l: &Layout, style: Style) -> Vec<&str> {
        l.shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Text { text, style: st, .. } if *st == style => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_stall_is_its_own_labelled_block_apart_from_its_neighbours() {
        // async_io: ten 1 s stalls back to back.
        let r = report(Variant::AsyncIo);
        let p = Picture::from_report(&r);
        let g = Geometry {
            width: 1064.0,
            span_ms: 10_500.0,
            ..geo(10_500.0)
        };
        let l = layout(&p, Some(&p), g, None, false);
        let stalls = rects(&l, Style::Stall, false);
        assert_eq!(stalls.len(), 10);
        let plot = 1064.0 - g.gutter() - RIGHT_PAD;
        // 1000 ms of 10 500 on the plot's width, less a pixel each side.
        assert!((stalls[0].1 - (1000.0 / 10_500.0 * plot - 2.0)).abs() < 1e-9);
        assert!((stalls[0].0 - (g.gutter() + 500.0 / 10_500.0 * plot + 1.0)).abs() < 1e-9);
        // A gap between each and the next: one ends before the other starts.
        for pair in stalls.windows(2) {
            assert!(pair[0].0 + pair[0].1 < pair[1].0, "{pair:?}");
        }
        assert_eq!(texts(&l, Style::LabelOnDark), ["1.00 s"; 10]);
        assert!(l.hits.iter().any(|h| h
            .text
            .starts_with("event loop blocked by request 0: 500.0–1500.0 ms")
            && h.t_ms == 500.0));
    }

    #[test]
    fn a_run_played_faster_is_drawn_and_labelled_in_the_tutorials_time() {
        // The tutorial at 0.2×: a 3 s blocking run took 600 ms; its axis reads 0–3 s,
        // its stalls 1.50 s, as the code's time.sleep says.
        let config = Config {
            io_ms: 100.0,
            cpu_ms: 200.0,
            ..Config::default().with_variant(Variant::Blocking)
        };
        let p = Picture::from_report(&crate::simulate(&config).unwrap());
        let g = Geometry {
            scale: 0.2,
            ..geo(3000.0)
        };
        let l = layout(&p, None, g, None, false);
        assert_eq!(texts(&l, Style::Axis).last(), Some(&"15 s"));
        assert!(texts(&l, Style::LabelOnDark).iter().all(|t| *t == "1.50 s"));
        assert!(l.hits.iter().any(|h| h
            .text
            .starts_with("request 1: I/O with time.sleep on the event loop (blocks it), 1500.0–2000.0 ms")));
    }

    #[test]
    fn full_async_has_no_stall_blocks_and_cpu_in_the_pool() {
        let p = Picture::from_report(&report(Variant::FullAsync));
        let l = layout(&p, None, geo(1500.0), None, false);
        assert!(rects(&l, Style::Stall, false).is_empty());
        assert_eq!(rects(&l, Style::CpuPool, false).len(), 10);
        assert!(rects(&l, Style::CpuLoop, false).is_empty());
    }

    #[test]
    fn the_probe_lane_draws_what_the_probe_saw_on_a_stated_scale() {
        let r = report(Variant::Blocking);
        let mut m = r.clone();
        m.probe_stalls = Some(vec![crate::model::ProbeStall {
            start_ms: 2.0,
            end_ms: 1504.0,
            lag_ms: 1500.0,
            worker: 0,
        }]);
        m.measurement = Some(crate::model::Measurement {
            probe_lag: vec![[4.0, 0.3], [1504.0, 1500.0], [1508.0, 0.2]],
            ..Default::default()
        });
        let l = layout(
            &Picture::from_report(&r),
            Some(&Picture::from_report(&m)),
            geo(15_000.0),
            None,
            false,
        );
        assert_eq!(rects(&l, Style::ProbeStall, false).len(), 1);
        assert_eq!(texts(&l, Style::Note), ["lag scale 0–2 s"]);
        assert!(l
            .hits
            .iter()
            .any(|h| h.text.starts_with("the probe saw the loop held 2.0–1504.0 ms")));
        assert_eq!(scale_top(0.4), 20.0);
        assert_eq!(scale_top(130.0), 200.0);

        // One tick, after one long stall (a blocking run): its ramp is drawn, from no lag
        // where the stall began to the whole lag where the tick came.
        m.measurement.as_mut().unwrap().probe_lag = vec![[1504.0, 1500.0]];
        let g = geo(15_000.0);
        let l = layout(
            &Picture::from_report(&r),
            Some(&Picture::from_report(&m)),
            g,
            None,
            false,
        );
        let lines: Vec<&Vec<(f64, f64)>> = l
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Line {
                    points,
                    style: Style::LagLine,
                } => Some(points),
                _ => None,
            })
            .collect();
        assert_eq!(lines.len(), 1);
        let (start, end) = (lines[0][0], lines[0][1]);
        assert!(
            start.0 < end.0 && start.1 > end.1,
            "it climbs: {start:?} → {end:?}"
        );
        // Played at 0.2×, a 3 s lag is 15 s of the tutorial's: the scale is round there.
        m.measurement.as_mut().unwrap().probe_lag = vec![[3004.0, 3000.0]];
        let g = Geometry {
            scale: 0.2,
            ..geo(3_000.0)
        };
        let l = layout(
            &Picture::from_report(&r),
            Some(&Picture::from_report(&m)),
            g,
            None,
            false,
        );
        assert_eq!(texts(&l, Style::Note), ["lag scale 0–20 s"]);
    }

    #[test]
    fn the_ghost_sits_behind_the_measurement_and_a_replay_greys_the_future() {
        let p = Picture::from_report(&report(Variant::Blocking));
        let l = layout(&p, Some(&p), geo(15_000.0), Some(100.0), true);
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
        let veil = rects(&l, Style::Veil, false);
        assert_eq!(veil.len(), 1);
        let g = geo(15_000.0);
        assert!(
            (veil[0].0 - (g.gutter() + 100.0 / 15_000.0 * (800.0 - g.gutter() - RIGHT_PAD))).abs() < 1e-9
        );
        // A live run's cursor greys nothing: nothing has happened after it yet.
        assert!(rects(&layout(&p, Some(&p), g, Some(100.0), false), Style::Veil, false).is_empty());
    }

    #[test]
    fn hits_describe_phase_request_and_times() {
        let p = Picture::from_report(&report(Variant::FullAsync));
        let g = geo(1500.0);
        let l = layout(&p, None, g, None, false);
        let i = hit_at(
            &l,
            g.gutter() + 1000.0 / 1500.0 * (800.0 - g.gutter() - RIGHT_PAD),
            l.height - 6.0,
        )
        .unwrap();
        assert_eq!(
            l.hits[i].text,
            "request 9: prediction on a pool thread, 500.0–1500.0 ms (1.00 s, predicted)"
        );
        assert_eq!(l.hits[i].t_ms, 500.0);
        assert_eq!(hit_at(&l, 1.0, 1.0), None);
    }

    #[test]
    fn every_lane_is_labelled_when_tall_enough_else_every_kth() {
        assert_eq!(labelled_lanes(10, 18.0, 12.0), (0..10).collect::<Vec<_>>());
        // Every other lane; the last too, in place of its too-close neighbour.
        assert_eq!(labelled_lanes(10, 9.6, 12.0), [0, 2, 4, 6, 9]);
        assert_eq!(labelled_lanes(41, 5.0, 12.0), [0, 5, 10, 15, 20, 25, 30, 35, 40]);
        assert!(labelled_lanes(0, 10.0, 12.0).is_empty());
        // Labels never closer than a line of text.
        for (n, h) in [(10, 9.6), (41, 5.0), (7, 4.0), (120, 3.0)] {
            let l = labelled_lanes(n, h, 12.0);
            assert!(
                l.windows(2).all(|w| (w[1] - w[0]) as f64 * h >= 13.0 - 1e-9),
                "{n} {h}: {l:?}"
            );
            assert_eq!(l.last(), Some(&(n - 1)));
        }
    }

    #[test]
    fn labels_and_ticks_read_well() {
        assert_eq!(tick_step(15_000.0), 5000.0);
        assert_eq!(tick_step(150.0), 50.0);
        assert_eq!(lane_height(10, 220.0), 18.0);
        assert_eq!(lane_height(10, 96.0), 9.6);
        assert_eq!(lane_height(400, 220.0), 3.0);
    }

    #[test]
    fn a_loop_lane_per_worker_gil_waits_and_the_task_queue() {
        let texts_of =
            |l: &Layout| -> Vec<String> { texts(l, Style::Label).into_iter().map(String::from).collect() };
        // Four workers, a stream: a loop lane each, each stall in its worker's lane.
        let c = Config {
            workers: 4,
            requests: 16,
            concurrency: 8,
            ..Config::default().with_variant(Variant::Blocking)
        };
        let r = crate::simulate(&c).unwrap();
        let l = layout(
            &Picture::from_report(&r),
            None,
            geo(r.stats.makespan_ms),
            None,
            false,
        );
        let labels = texts_of(&l);
        for w in 0..4 {
            assert!(labels.contains(&format!("loop {w}")), "{labels:?}");
        }
        let tops: std::collections::BTreeSet<i64> = l
            .shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Rect {
                    y,
                    style: Style::Stall,
                    ghost: false,
                    ..
                } => Some(*y as i64),
                _ => None,
            })
            .collect();
        assert!(tops.len() >= 2, "stalls in more than one loop lane: {tops:?}");
        // Pure Python in the threadpool: the loop's wait for the GIL is drawn and says so.
        let gil = crate::simulate(&Config {
            work: crate::model::Work::PythonCpu,
            requests: 4,
            concurrency: 4,
            ..Config::default().with_variant(Variant::FullAsync)
        })
        .unwrap();
        let l = layout(
            &Picture::from_report(&gil),
            None,
            geo(gil.stats.makespan_ms),
            None,
            false,
        );
        assert_eq!(rects(&l, Style::LoopGilWait, false).len(), 1);
        // 200 slices of 5 ms each: thread 0 takes its first at once, the others wait first.
        assert_eq!(rects(&l, Style::GilWait, false).len(), 199 + 3 * 200);
        assert!(l.hits.iter().any(|h| h.text.contains("waited for the GIL")));
        // A task queue of two workers: two rows, the ten log jobs on them.
        let tq = crate::simulate(&Config::default().with_variant(Variant::TaskQueue)).unwrap();
        let l = layout(&Picture::from_report(&tq), None, geo(3000.0), None, false);
        assert!(texts_of(&l).contains(&"task queue".to_string()));
        let rows = queue_rows(&Picture::from_report(&tq));
        assert_eq!(rows.len(), 10);
        assert_eq!(rows.iter().map(|r| r.0).max(), Some(1));
        // One worker, no queue: as before.
        let plain = layout(
            &Picture::from_report(&report(Variant::AsyncIo)),
            None,
            geo(11_000.0),
            None,
            false,
        );
        assert!(texts_of(&plain).contains(&"event loop".to_string()));
        assert!(!texts_of(&plain).contains(&"task queue".to_string()));
    }
}
