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
    /// What a report shows besides its requests: the loops' stalls and GIL waits, the
    /// probe (no bars, no answers).
    pub fn from_report_without_requests(r: &Report) -> Picture {
        Picture {
            lanes: r.requests.len(),
            workers: r.config.workers as usize,
            gil_waits: r
                .loop_gil_waits
                .iter()
                .map(|g| (g.worker as usize, g.start_ms, g.end_ms))
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
            ..Picture::default()
        }
    }

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
        let responses = r
            .requests
            .iter()
            .enumerate()
            .map(|(lane, q)| Reply {
                lane,
                t_ms: q.responded_ms,
                error: !q.is_ok(),
            })
            .collect();
        Picture {
            bars,
            responses,
            end_ms,
            ..Picture::from_report_without_requests(r)
        }
    }
}

/// What a shape is; the painter picks colour and pattern from this alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Style {
    /// Waiting for the loop or a token: hollow.
    Queued,
    /// I/O: awaited (not blocking) or `time.sleep` (blocking) on a thread of the pool.
    Io {
        blocking: bool,
    },
    /// I/O with `time.sleep` on the event loop: the loop's vermilion, hatched as a fetch.
    IoOnLoop,
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
    /// A request lane's name ("req 12"): a little smaller than [`Style::Label`] where
    /// the type is large, so every lane of the Lesson keeps its own ([`lane_label_px`]).
    LaneLabel,
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
            (PhaseKind::Io, Place::Loop) if bar.blocking => Style::IoOnLoop,
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
    /// Many rects of one style at one opacity (merged lanes): the painter sets the fill
    /// once and draws them all. `rects` are `(x, y, w, h)`.
    Cells {
        style: Style,
        alpha: f64,
        rects: Vec<[f64; 4]>,
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
    /// The lanes, when there were more requests than rows to draw them in.
    pub merged: Option<Merged>,
    /// The window of the run's clock drawn, and where: `(from_ms, to_ms)`, the plot's
    /// left edge and width in px (for zooming about the pointer).
    pub window: (f64, f64),
    pub plot: (f64, f64),
}

/// How a timeline is drawn: its width, the window of the run's clock it shows (all of a
/// run from 0, shared by aligned timelines or the run's own when fitted, or a zoomed
/// part), and how the run's clock reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub width: f64,
    /// The window drawn, on the run's clock.
    pub from_ms: f64,
    pub to_ms: f64,
    /// Height the request lanes share.
    pub lanes_px: f64,
    /// The run's time scale: a run at 0.2× took 0.2 ms per tutorial ms, and is drawn
    /// and labelled in the tutorial's time.
    pub scale: f64,
    /// Label text size: 12 on a screen, 20 for a projector.
    pub text_px: f64,
    /// The largest probe lag (run ms) of the timelines lined up with this one, so their
    /// lag lanes share a scale as they share the time axis: a few ms of jitter beside a
    /// 1.5 s stall then looks as small as it is. 0 for a timeline fitted to its own run,
    /// whose lane is scaled to its own lag.
    pub shared_lag_ms: f64,
    /// Whether to draw the probe's lane (a lesson leaves it out: the loop's own lane
    /// says what the step shows).
    pub probe: bool,
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

    /// The tallest a lane gets: room for its label (a projector's timeline with ten
    /// requests fills its height with them).
    fn lane_max(&self) -> f64 {
        if self.text_px >= 20.0 {
            self.text_px * 2.6
        } else {
            (self.text_px * 1.5).max(18.0)
        }
    }

    /// The window `from_ms..to_ms` zoomed by `factor` (2: twice as close) about
    /// `at_ms`, kept within `0..=limit_ms`; no closer than 1 µs a pixel's worth.
    pub fn zoomed(from_ms: f64, to_ms: f64, factor: f64, at_ms: f64, limit_ms: f64) -> (f64, f64) {
        let span = ((to_ms - from_ms) / factor).clamp(0.05, limit_ms.max(0.05));
        let at = at_ms.clamp(from_ms, to_ms);
        let left = (at - from_ms) / (to_ms - from_ms).max(1e-9);
        let from = at - left * span;
        Self::panned(from, from + span, 0.0, limit_ms)
    }

    /// The window moved by `by_ms`, kept within `0..=limit_ms`.
    pub fn panned(from_ms: f64, to_ms: f64, by_ms: f64, limit_ms: f64) -> (f64, f64) {
        let span = (to_ms - from_ms).min(limit_ms.max(0.05));
        let from = (from_ms + by_ms).clamp(0.0, (limit_ms - span).max(0.0));
        (from, from + span)
    }
}

const RIGHT_PAD: f64 = 12.0;

/// The shortest a request lane gets before lanes are merged.
pub const MIN_LANE_PX: f64 = 3.0;

/// How the request lanes are drawn: a lane each, or merged rows of `per_row` requests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lanes {
    /// The first and last request drawn (those active in the window).
    pub first: usize,
    pub last: usize,
    /// Requests per row: 1 is a lane each.
    pub per_row: usize,
    pub rows: usize,
    pub row_h: f64,
}

impl Lanes {
    /// Lanes for requests `first..=last` in `lanes_px` (a lane may grow to `lane_max`):
    /// a lane each while each gets `MIN_LANE_PX`, the area allowed to grow to twice
    /// `lanes_px` for that (a scroll's worth); past that, rows of `MIN_LANE_PX` in
    /// `lanes_px`, each several requests merged.
    pub fn fit(first: usize, last: usize, lanes_px: f64, lane_max: f64) -> Lanes {
        let n = last + 1 - first;
        if n as f64 * MIN_LANE_PX <= lanes_px * 2.0 {
            return Lanes {
                first,
                last,
                per_row: 1,
                rows: n,
                row_h: (lanes_px / n as f64).clamp(MIN_LANE_PX, lane_max),
            };
        }
        let rows_max = ((lanes_px / MIN_LANE_PX).floor() as usize).max(1);
        let per_row = n.div_ceil(rows_max);
        Lanes {
            first,
            last,
            per_row,
            rows: n.div_ceil(per_row),
            row_h: MIN_LANE_PX,
        }
    }

    pub fn merged(&self) -> bool {
        self.per_row > 1
    }

    /// The row of request `lane`, if drawn.
    pub fn row_of(&self, lane: usize) -> Option<usize> {
        (self.first..=self.last)
            .contains(&lane)
            .then(|| (lane - self.first) / self.per_row)
    }

    /// The requests of row `row`.
    pub fn requests_of(&self, row: usize) -> (usize, usize) {
        let a = self.first + row * self.per_row;
        (a, (a + self.per_row - 1).min(self.last))
    }
}

/// Merged lanes' contents, for describing the cell under the pointer: per row, per
/// style, per pixel column, the share of the row's requests in that style there.
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    pub lanes: Lanes,
    /// Top of the first row.
    pub top: f64,
    /// Plot's left edge, columns, their width in px and in ms.
    pub left: f64,
    pub cols: usize,
    pub col_px: f64,
    pub from_ms: f64,
    pub col_ms: f64,
    pub scale: f64,
    pub measured: bool,
    /// `[row][style][col]`, flattened; styles as in [`CELL_STYLES`].
    pub share: Vec<f32>,
}

/// The styles a merged row can hold, in the order drawn (the most telling last: a cell
/// shows its commonest style).
pub const CELL_STYLES: [Style; 11] = [
    Style::Queued,
    Style::Io { blocking: false },
    Style::Io { blocking: true },
    Style::IoOnLoop,
    Style::GilWait,
    Style::CpuPool,
    Style::CpuProcess,
    Style::Background,
    Style::CpuLoop,
    Style::Response,
    Style::ErrorResponse,
];

fn cell_index(style: Style) -> usize {
    CELL_STYLES.iter().position(|&s| s == style).unwrap_or(0)
}

fn cell_words(style: Style) -> &'static str {
    match style {
        Style::Queued => "waiting (for the loop, a token, a process or a queue worker)",
        Style::Io { blocking: false } => "in awaited I/O",
        Style::Io { blocking: true } => "in I/O with time.sleep on a pool thread",
        Style::IoOnLoop => "in I/O with time.sleep on the event loop",
        Style::GilWait => "a thread ready to compute, waiting for the GIL",
        Style::CpuPool => "running the model's inference on a pool thread",
        Style::CpuProcess => "running the model's inference in another process",
        Style::Background => "running the background log",
        Style::CpuLoop => "running the model's inference on the event loop",
        _ => "answered",
    }
}

impl Merged {
    fn at(&self, row: usize, style: usize, col: usize) -> f32 {
        self.share[(row * CELL_STYLES.len() + style) * self.cols + col]
    }

    /// What the requests of the row under `(px, py)` were doing at that moment:
    /// `(text, t_ms)`.
    pub fn describe(&self, px: f64, py: f64) -> Option<(String, f64)> {
        let row = ((py - self.top) / self.lanes.row_h).floor();
        let col = ((px - self.left) / self.col_px).floor();
        if row < 0.0 || col < 0.0 || row as usize >= self.lanes.rows || col as usize >= self.cols {
            return None;
        }
        let (row, col) = (row as usize, col as usize);
        let (a, b) = self.lanes.requests_of(row);
        let n = (b + 1 - a) as f32;
        let t = self.from_ms + (col as f64 + 0.5) * self.col_ms;
        let mut parts: Vec<(f32, usize)> = (0..CELL_STYLES.len() - 2)
            .map(|s| (self.at(row, s, col) * self.lanes.per_row as f32, s))
            .filter(|(k, _)| *k >= 0.05)
            .collect();
        parts.sort_by(|x, y| y.0.total_cmp(&x.0));
        let doing = if parts.is_empty() {
            "none busy".to_string()
        } else {
            parts
                .iter()
                .map(|(k, s)| format!("{} {}", round_count(*k, n), cell_words(CELL_STYLES[*s])))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Some((
            format!(
                "requests {a}–{b} ({} merged in this row) at {:.1} ms: {doing} ({}); zoom in to see each",
                b + 1 - a,
                t / self.scale,
                if self.measured { "measured" } else { "predicted" }
            ),
            t,
        ))
    }
}

/// A count of requests read from shares: whole when near one, else "about".
fn round_count(k: f32, of: f32) -> String {
    let r = k.round();
    if (k - r).abs() < 0.05 {
        format!("{r:.0} of {of:.0}")
    } else {
        format!("about {k:.1} of {of:.0}")
    }
}

/// Who waits at `now`, in words, and the lane to say it on (the last of them): "req 40:
/// waiting for a threadpool token", or "6 requests waiting for the event loop" (the
/// place most of them wait for). `None` when nobody waits.
fn waiting_at(pictures: &[&Picture], now: f64) -> Option<(usize, String)> {
    let waiting: Vec<&Bar> = pictures
        .iter()
        .flat_map(|p| p.bars.iter())
        .filter(|b| b.kind == PhaseKind::Queued && b.start_ms <= now && now < b.end_ms)
        .collect();
    let places = [Place::Loop, Place::Pool, Place::Process, Place::Queue];
    let place = places
        .into_iter()
        .max_by_key(|&on| waiting.iter().filter(|b| b.on == on).count())?;
    let those: Vec<&&Bar> = waiting.iter().filter(|b| b.on == place).collect();
    let last = those.iter().map(|b| b.lane).max()?;
    let what = describe(PhaseKind::Queued, place, false);
    Some(if those.len() == 1 {
        (last, format!("req {last}: {what}"))
    } else {
        (last, format!("{} requests {what}", those.len()))
    })
}

/// The name of a row of requests `a..=b`, short enough for the gutter's `gutter` px
/// at `px` type: "req 12", "req 300–399", or past that the numbers alone
/// ("37000–37999"), never cut off at the left.
fn lane_name(a: usize, b: usize, px: f64, gutter: f64) -> String {
    let fits = |s: &str| s.chars().count() as f64 * px * APPROX_CHAR_EM <= gutter - 6.0;
    let long = if a == b {
        format!("req {a}")
    } else {
        format!("req {a}–{b}")
    };
    if fits(&long) || a == b {
        long
    } else {
        format!("{a}–{b}")
    }
}

/// The width of a label's character, in ems: a digit's in system-ui (the widest of "req", the digits and "–").
const APPROX_CHAR_EM: f64 = 0.55;

/// The type of a lane's name, for `text_px` type elsewhere: four fifths of it, never
/// under 12 px (the Lab's own size).
pub fn lane_label_px(text_px: f64) -> f64 {
    (text_px * 0.8).max(12.0).min(text_px)
}

/// Lane height for `n` requests in `lanes_px`: readable for a few, still fitting for
/// hundreds.
pub fn lane_height(n: usize, lanes_px: f64) -> f64 {
    (lanes_px / n.max(1) as f64).clamp(MIN_LANE_PX, 18.0)
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
        (PhaseKind::Cpu, Place::Loop, _) => "model inference on the event loop (blocks it)",
        (PhaseKind::Cpu, Place::Pool, _) => "model inference on a pool thread",
        (PhaseKind::Cpu, Place::Process | Place::Queue, _) => "model inference in a process of the pool",
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

/// One unit a whole axis: seconds once it reaches a second (`0 s, 0.5 s, 1.0 s`), not
/// `0 ms … 500 ms, 1.0 s`.
fn tick_label_on(t: f64, step: f64, axis_end: f64) -> String {
    if axis_end >= 1000.0 && step < 1000.0 {
        let places = if step >= 100.0 {
            1
        } else if step >= 10.0 {
            2
        } else {
            3
        };
        return format!("{:.*} s", places, t / 1000.0);
    }
    tick_label(t, step)
}

fn tick_label(t: f64, step: f64) -> String {
    if step >= 1000.0 {
        format!("{} s", t / 1000.0)
    } else if t >= 1000.0 {
        let places = if step >= 100.0 {
            1
        } else if step >= 10.0 {
            2
        } else {
            3
        };
        format!("{:.*} s", places, t / 1000.0)
    } else if step >= 1.0 {
        format!("{t:.0} ms")
    } else {
        format!("{t:.1} ms")
    }
}

/// Which lanes to label: all when each has room for a line of text, else every k-th
/// (k a 1-2-5 step) so labels stay a line apart, from the first: a steady step reads
/// as one (0, 2, 4, 6, 8), where an odd last one (… 6, 9) reads as a gap.
pub fn labelled_lanes(lanes: usize, lane_h: f64, text_px: f64) -> Vec<usize> {
    if lanes == 0 {
        return Vec::new();
    }
    // "req 12" needs less than the font's whole size: its tallest parts (the digits)
    // and its descender (the q) stand in different columns, so labels this close still
    // read, and a label on every lane is worth the squeeze.
    // Labels spread out (every k-th lane) keep a whole line each.
    let need = text_px + 1.0;
    let every = if lane_h >= text_px * 0.75 + 1.0 {
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
    (0..lanes).step_by(every).collect()
}

/// The requests with anything in `from..=to` across `pictures`: `(first, last)`. A
/// window holding every run whole is every lane, without a look.
fn active_lanes(pictures: &[&Picture], from: f64, to: f64) -> Option<(usize, usize)> {
    let lanes = pictures.iter().map(|p| p.lanes).max().unwrap_or(0);
    if lanes == 0 {
        return None;
    }
    if from <= 0.0 && pictures.iter().all(|p| p.end_ms <= to) {
        return Some((0, lanes - 1));
    }
    let mut range: Option<(usize, usize)> = None;
    let mut see = |lane: usize| {
        range = Some(range.map_or((lane, lane), |(a, b)| (a.min(lane), b.max(lane))));
    };
    for p in pictures {
        for b in p.bars.iter().filter(|b| b.start_ms <= to && b.end_ms >= from) {
            see(b.lane);
        }
        for r in p.responses.iter().filter(|r| r.t_ms >= from && r.t_ms <= to) {
            see(r.lane);
        }
    }
    range
}

/// Rects in a row of a lane (stalls, probe stalls, queue jobs), time-ordered: each its
/// own block while it is wide enough to be told apart; narrower ones that touch are
/// drawn as one. Returns groups `(first index, last index)` of `spans`.
fn pixel_groups(spans: &[(f64, f64)], x: impl Fn(f64) -> f64) -> Vec<(usize, usize)> {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let (mut gx0, mut gx1) = (0.0, f64::NEG_INFINITY);
    for (i, &(start, end)) in spans.iter().enumerate() {
        let (sx, ex) = (x(start), x(end));
        let narrow = ex - sx < 4.0 || gx1 - gx0 < 4.0;
        match groups.last_mut() {
            Some(g) if sx < gx1 + 2.0 && narrow => {
                g.1 = i;
                gx1 = gx1.max(ex);
            }
            _ => {
                groups.push((i, i));
                (gx0, gx1) = (sx, ex);
            }
        }
    }
    groups
}

/// Lays out one timeline: the prediction as a ghost, the measurement (if any) over it
/// (`real`: its parts, e.g. a live run's closed phases and its open ones); `cursor` is
/// now for a run going on, or a replay's moment (`veil`: grey out what comes after it).
pub fn layout(ghost: &Picture, real: &[&Picture], geo: Geometry, cursor: Option<f64>, veil: bool) -> Layout {
    layout_cached(ghost, real, geo, cursor, veil, &mut CellCache::default())
}

/// [`layout`], keeping merged lanes' cells in `cache` between calls. The first of
/// `real`'s parts may only grow between calls (a live run's closed phases); the
/// pictures must stay alive, unchanged otherwise, while the cache knows them.
pub fn layout_cached(
    ghost: &Picture,
    real: &[&Picture],
    geo: Geometry,
    cursor: Option<f64>,
    veil: bool,
    cache: &mut CellCache,
) -> Layout {
    let text = geo.text_px;
    let gutter = geo.gutter();
    let axis_h = text * 1.9;
    let loop_h = (text * 2.2).max(26.0);
    let lag_h = if geo.probe { (text * 2.0).max(24.0) } else { 0.0 };
    let gap = 6.0;
    let measured = !real.is_empty();
    let top: &[&Picture] = if measured {
        real
    } else {
        std::slice::from_ref(&ghost)
    };
    let (from, to) = (geo.from_ms, geo.to_ms.max(geo.from_ms + 1e-6));
    let plot_w = (geo.width - gutter - RIGHT_PAD).max(10.0);
    let span = to - from;
    let in_window = |a: f64, b: f64| b >= from && a <= to;
    let x = |t: f64| gutter + (t.clamp(from, to) - from) / span * plot_w;
    let w = |a: f64, b: f64| (x(b) - x(a)).max(1.0);
    let mut all: Vec<&Picture> = vec![ghost];
    all.extend_from_slice(real);
    let lanes = active_lanes(&all, from, to).map(|(a, b)| Lanes::fit(a, b, geo.lanes_px, geo.lane_max()));
    let lane_h = lanes.map_or(geo.lane_max(), |l| l.row_h);
    let workers = all.iter().map(|p| p.workers).max().unwrap_or(1).max(1);
    // Several loops: each lane a little lower, so the four of `--workers 4` fit.
    let loop_h = if workers > 1 {
        (text * 1.35).max(20.0) // a line of text each: the lanes under them need the room
    } else {
        loop_h
    };
    let loop_y = axis_h;
    let loop_top = |w: usize| loop_y + w as f64 * (loop_h + 2.0);
    let lag_y = loop_top(workers);
    // The task queue's workers, when the run has them: a row each.
    let queue_jobs = queue_rows(top);
    let queue_rows_n = queue_jobs.iter().map(|j| j.0 + 1).max().unwrap_or(0);
    let queue_row_h = (text * 1.1).max(10.0);
    let queue_y = lag_y + lag_h + 2.0;
    let queue_h = queue_rows_n as f64 * queue_row_h;
    let lanes_y = queue_y + queue_h + gap;
    let row_y = |row: usize| lanes_y + row as f64 * lane_h;
    let lane_y = |lane: usize| {
        let l = lanes.expect("a lane is drawn only when there are lanes");
        row_y(l.row_of(lane).unwrap_or(0))
    };
    // Room under the last lane for its label's descent.
    let height = lanes_y + lanes.map_or(0, |l| l.rows) as f64 * lane_h + 4.0 + text * 0.4;
    let label_y = |top: f64, h: f64| top + h / 2.0 + text * 0.35;
    let shown = |t: f64| geo.shown(t);
    let mut shapes = Vec::new();
    let mut hits = Vec::new();

    // Axis and grid, in the tutorial's time, on the window.
    let step = tick_step(shown(span));
    let mut t = (shown(from) / step).ceil() * step;
    while t <= shown(to) + 1e-9 {
        let run_t = t * geo.scale;
        shapes.push(Shape::Line {
            points: vec![(x(run_t), axis_h - 4.0), (x(run_t), height)],
            style: Style::Grid,
        });
        // The last label, near the right edge, ends at its tick rather than past it.
        let near_end = x(run_t) > geo.width - RIGHT_PAD - text * 3.0;
        shapes.push(Shape::Text {
            x: if near_end { x(run_t) - 2.0 } else { x(run_t) + 2.0 },
            y: text + 1.0,
            text: tick_label_on(t, step, shown(to)),
            style: Style::Axis,
            right: near_end,
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
    if geo.probe && measured {
        // The lane's name at its top, its scale under it (drawn with the lag).
        names.push((lag_y, text * 1.1, "probe lag".into()));
    } else if geo.probe {
        names.push((lag_y, lag_h, "probe lag".into()));
    }
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
    if let Some(l) = lanes {
        for row in labelled_lanes(l.rows, lane_h, lane_label_px(text)) {
            let (a, b) = l.requests_of(row);
            shapes.push(Shape::Text {
                x: gutter - 6.0,
                y: label_y(row_y(row), lane_h).min(height - 2.0),
                text: lane_name(a, b, lane_label_px(text), gutter),
                style: Style::LaneLabel,
                right: true,
            });
        }
    }

    // Each loop's stalls and waits for the GIL (the prediction's faint first), each
    // stall its own block, apart from a neighbour by a thin gap, its length on it where
    // there is room; stalls too narrow to tell apart drawn as one block that says how
    // many.
    let stall_inset = if measured { 4.0 } else { 0.0 };
    let source = if measured { "measured" } else { "predicted" };
    let loop_name = |worker: usize| {
        if workers > 1 {
            format!("worker {worker}'s event loop")
        } else {
            "event loop".into()
        }
    };
    let loop_lanes = |pics: &[&Picture], is_ghost: bool, shapes: &mut Vec<Shape>, hits: &mut Vec<Hit>| {
        for worker in 0..workers {
            let mut stalls: Vec<&StallBar> = pics
                .iter()
                .flat_map(|p| p.stalls.iter())
                .filter(|s| s.worker.min(workers - 1) == worker && in_window(s.start_ms, s.end_ms))
                .collect();
            stalls.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
            let spans: Vec<(f64, f64)> = stalls.iter().map(|s| (s.start_ms, s.end_ms)).collect();
            let y0 = loop_top(worker);
            for (i, j) in pixel_groups(&spans, x) {
                let (start, end) = (
                    spans[i].0,
                    spans[i..=j].iter().map(|s| s.1).fold(f64::MIN, f64::max),
                );
                let (sx, sw) = (x(start), w(start, end));
                if is_ghost {
                    shapes.push(Shape::Rect {
                        x: sx,
                        y: y0,
                        w: sw,
                        h: loop_h,
                        style: Style::Stall,
                        ghost: true,
                    });
                    continue;
                }
                let (bx, bw) = if sw > 4.0 && i == j {
                    (sx + 1.0, sw - 2.0)
                } else {
                    (sx, sw)
                };
                shapes.push(Shape::Rect {
                    x: bx,
                    y: y0 + stall_inset,
                    w: bw,
                    h: loop_h - 2.0 * stall_inset,
                    style: Style::Stall,
                    ghost: false,
                });
                let held: f64 = spans[i..=j].iter().map(|s| s.1 - s.0).sum();
                let label = if i == j {
                    format::duration(shown(end - start))
                } else {
                    format!("{} stalls", j + 1 - i)
                };
                if bw >= text * 0.66 * label.chars().count() as f64 + 6.0 {
                    shapes.push(Shape::Text {
                        x: bx + 3.0,
                        y: label_y(y0, loop_h),
                        text: label.clone(),
                        style: Style::LabelOnDark,
                        right: false,
                    });
                }
                let s = stalls[i];
                let text = if i == j {
                    format!(
                        "{} blocked{} by request {}: {:.1}–{:.1} ms ({}, {source})",
                        loop_name(worker),
                        if s.open { ", still" } else { "" },
                        s.request,
                        shown(start),
                        shown(end),
                        label
                    )
                } else {
                    format!(
                        "{} blocked {} times, by requests {}–{}: {:.1}–{:.1} ms, held {} in all ({source}); zoom in to see each",
                        loop_name(worker),
                        j + 1 - i,
                        stalls[i..=j].iter().map(|s| s.request).min().unwrap_or(0),
                        stalls[i..=j].iter().map(|s| s.request).max().unwrap_or(0),
                        shown(start),
                        shown(end),
                        format::duration(shown(held))
                    )
                };
                hits.push(Hit {
                    x: sx,
                    y: y0,
                    w: sw,
                    h: loop_h,
                    text,
                    t_ms: start,
                });
            }
            // The loop's waits for its GIL: lag with no blocking call.
            let mut waits: Vec<(f64, f64)> = pics
                .iter()
                .flat_map(|p| p.gil_waits.iter())
                .filter(|g| g.0.min(workers - 1) == worker && in_window(g.1, g.2))
                .map(|g| (g.1, g.2))
                .collect();
            waits.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (i, j) in pixel_groups(&waits, x) {
                let (start, end) = (
                    waits[i].0,
                    waits[i..=j].iter().map(|s| s.1).fold(f64::MIN, f64::max),
                );
                let (sx, sw) = (x(start), w(start, end));
                shapes.push(Shape::Rect {
                    x: sx,
                    y: y0 + if is_ghost { 0.0 } else { stall_inset },
                    w: sw,
                    h: loop_h - if is_ghost { 0.0 } else { 2.0 * stall_inset },
                    style: Style::LoopGilWait,
                    ghost: is_ghost,
                });
                if is_ghost {
                    continue;
                }
                let waited: f64 = waits[i..=j].iter().map(|s| s.1 - s.0).sum();
                hits.push(Hit {
                    x: sx,
                    y: y0,
                    w: sw,
                    h: loop_h,
                    text: format!(
                        "{} had work ready but waited for the GIL (held by a thread computing pure Python){}: {:.1}–{:.1} ms ({}, {source})",
                        if workers > 1 {
                            format!("worker {worker}'s event loop")
                        } else {
                            "the event loop".into()
                        },
                        if i == j { String::new() } else { format!(", {} times", j + 1 - i) },
                        shown(start),
                        shown(end),
                        format::duration(shown(waited))
                    ),
                    t_ms: start,
                });
            }
        }
    };
    if measured {
        loop_lanes(std::slice::from_ref(&ghost), true, &mut shapes, &mut hits);
    }
    // The prediction, faint, filling each lane and the loop lane.
    let inset = if measured && lane_h >= 6.0 {
        lane_h * 0.2
    } else {
        0.0
    };
    let mut merged = None;
    match lanes {
        Some(l) if l.merged() => {
            let grid = Grid::new(l, gutter, plot_w, from, span);
            if measured {
                let cells = grid.cells(&[ghost], cache);
                shapes.extend(grid.shapes(&cells, lanes_y, true));
            }
            let cells = grid.cells(top, cache);
            shapes.extend(grid.shapes(&cells, lanes_y, false));
            for (row, &counts) in cells.answered.iter().enumerate() {
                hits.push(Hit {
                    x: gutter,
                    y: row_y(row),
                    w: plot_w,
                    h: lane_h,
                    text: grid.row_summary(&cells, row, counts, shown, source),
                    t_ms: from,
                });
            }
            merged = Some(Merged {
                lanes: l,
                top: lanes_y,
                left: gutter,
                cols: grid.cols,
                col_px: grid.col_px,
                from_ms: from,
                col_ms: grid.col_ms,
                scale: geo.scale,
                measured,
                share: cells.into_owned().share,
            });
        }
        Some(l) => {
            let bar_h = |inset: f64| (lane_h - 2.0 * inset - if lane_h >= 8.0 { 1.0 } else { 0.0 }).max(1.0);
            let visible = |b: &&Bar| in_window(b.start_ms, b.end_ms) && l.row_of(b.lane).is_some();
            if measured {
                let mut ghosts: Vec<&Bar> = ghost.bars.iter().filter(visible).collect();
                ghosts.sort_by_key(|b| cell_index(Style::of(b)));
                for b in ghosts {
                    shapes.push(Shape::Rect {
                        x: x(b.start_ms),
                        y: lane_y(b.lane),
                        w: w(b.start_ms, b.end_ms),
                        h: bar_h(0.0),
                        style: Style::of(b),
                        ghost: true,
                    });
                }
            }
            let mut bars: Vec<&Bar> = top.iter().flat_map(|p| p.bars.iter()).filter(visible).collect();
            // Drawn a colour at a time; read (keyboard, screen reader) request by request.
            bars.sort_by_key(|b| cell_index(Style::of(b)));
            for b in &bars {
                shapes.push(Shape::Rect {
                    x: x(b.start_ms),
                    y: lane_y(b.lane) + inset,
                    w: w(b.start_ms, b.end_ms),
                    h: bar_h(inset),
                    style: Style::of(b),
                    ghost: false,
                });
            }
            bars.sort_by(|a, b| a.lane.cmp(&b.lane).then(a.start_ms.total_cmp(&b.start_ms)));
            for b in bars {
                let until = if b.open {
                    "so far".to_string()
                } else {
                    format!("{:.1}", shown(b.end_ms))
                };
                hits.push(Hit {
                    x: x(b.start_ms),
                    y: lane_y(b.lane),
                    w: w(b.start_ms, b.end_ms),
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
            for reply in top
                .iter()
                .flat_map(|p| p.responses.iter())
                .filter(|r| r.t_ms >= from && r.t_ms <= to && l.row_of(r.lane).is_some())
            {
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
        }
        None => {}
    }
    loop_lanes(top, false, &mut shapes, &mut hits);
    // A loop nothing held in the whole window says so: an empty lane reads as missing.
    for worker in 0..workers {
        let held = all.iter().any(|p| {
            p.stalls
                .iter()
                .any(|s| s.worker.min(workers - 1) == worker && in_window(s.start_ms, s.end_ms))
                || p.gil_waits
                    .iter()
                    .any(|&(w, a, b)| w.min(workers - 1) == worker && in_window(a, b))
        });
        if !held {
            shapes.push(Shape::Text {
                x: gutter + 6.0,
                y: label_y(loop_top(worker), loop_h),
                text: "free: nothing blocked it".into(),
                style: Style::Note,
                right: false,
            });
        }
    }
    // The task queue's workers, a row each: the log jobs they ran.
    for row in 0..queue_rows_n {
        let jobs: Vec<&(usize, usize, f64, f64)> = queue_jobs
            .iter()
            .filter(|j| j.0 == row && in_window(j.2, j.3))
            .collect();
        let spans: Vec<(f64, f64)> = jobs.iter().map(|j| (j.2, j.3)).collect();
        let y = queue_y + row as f64 * queue_row_h;
        for (i, k) in pixel_groups(&spans, x) {
            let (start, end) = (spans[i].0, spans[k].1.max(spans[i].1));
            shapes.push(Shape::Rect {
                x: x(start),
                y: y + 1.0,
                w: w(start, end),
                h: queue_row_h - 2.0,
                style: Style::Background,
                ghost: false,
            });
            let text = if i == k {
                format!(
                    "queue worker {row}: request {}'s log job, {:.1}–{:.1} ms ({}, {source})",
                    jobs[i].1,
                    shown(start),
                    shown(end),
                    format::duration(shown(end - start))
                )
            } else {
                format!(
                    "queue worker {row}: {} log jobs (requests {}–{}), {:.1}–{:.1} ms ({source}); zoom in to see each",
                    k + 1 - i,
                    jobs[i..=k].iter().map(|j| j.1).min().unwrap_or(0),
                    jobs[i..=k].iter().map(|j| j.1).max().unwrap_or(0),
                    shown(start),
                    shown(end)
                )
            };
            hits.push(Hit {
                x: x(start),
                y,
                w: w(start, end),
                h: queue_row_h,
                text,
                t_ms: start,
            });
        }
    }
    let mut lag_note = None;
    if measured && geo.probe {
        // What the probe saw, and its lag on a stated scale.
        let mut probe: Vec<(f64, f64)> = real
            .iter()
            .flat_map(|p| p.probe.iter().copied())
            .filter(|&(a, b)| in_window(a, b))
            .collect();
        probe.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (i, j) in pixel_groups(&probe, x) {
            let (start, end) = (
                probe[i].0,
                probe[i..=j].iter().map(|s| s.1).fold(f64::MIN, f64::max),
            );
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
                text: if i == j {
                    format!(
                        "the probe saw the loop held {:.1}–{:.1} ms ({}): its heartbeat could not run",
                        shown(start),
                        shown(end),
                        format::duration(shown(end - start))
                    )
                } else {
                    format!(
                        "the probe saw the loop held {} times, {:.1}–{:.1} ms: zoom in to see each",
                        j + 1 - i,
                        shown(start),
                        shown(end)
                    )
                },
                t_ms: start,
            });
        }
        // The lag on a round scale in the tutorial's time (a 15 s stall: "0–20 s").
        let lag: Vec<[f64; 2]> = real.iter().flat_map(|p| p.lag.iter().copied()).collect();
        let most = lag.iter().map(|s| s[1]).fold(geo.shared_lag_ms, f64::max);
        let top_lag = scale_top(shown(most)) * geo.scale;
        // A sawtooth: a tick late by L found the loop held for the L before it, so the
        // lag a heartbeat would have seen climbs from 0 to L over that span. A single
        // tick after one long stall still draws its ramp. Many ticks to a pixel: the
        // largest of each pixel's.
        let y_of = |lag: f64| lag_y + lag_h - 1.0 - lag.min(top_lag) / top_lag * (lag_h - 2.0);
        let mut points: Vec<(f64, f64)> = Vec::new();
        let mut last_px: Option<(i64, f64)> = None;
        for &[t, l] in lag
            .iter()
            .filter(|s| s[0] >= 0.0 && s[0] - s[1] <= to && s[0] >= from)
        {
            let px = x(t).floor() as i64;
            if let Some((p, most_here)) = last_px {
                if p == px && l <= most_here {
                    continue;
                }
            }
            if l > 0.0 {
                points.push((x((t - l).max(0.0)), y_of(0.0)));
            }
            points.push((x(t), y_of(l)));
            last_px = Some((px, l));
        }
        if points.len() > 1 {
            shapes.push(Shape::Line {
                points,
                style: Style::LagLine,
            });
        }
        // The lane's scale, at its top right: the lag that fills it (drawn last, above a
        // replay's grey).
        // Under the lane's name, in the gutter, off the band it scales.
        lag_note = Some(Shape::Text {
            x: gutter - 6.0,
            y: lag_y + lag_h - 2.0,
            text: format!("0–{}", format::round_duration(shown(top_lag))),
            style: Style::Note,
            right: true,
        });
    }
    if let Some(now) = cursor {
        if veil && now < to {
            shapes.push(Shape::Rect {
                x: x(now),
                y: axis_h - 4.0,
                w: (x(to) - x(now)).max(0.0),
                h: height - axis_h + 4.0,
                style: Style::Veil,
                ghost: false,
            });
        }
        shapes.extend(lag_note.take());
        if veil && now >= from && now < to {
            // A paused moment says on the chart who is waiting there, and for what: a
            // hairline lane among forty is easy to miss.
            if let (Some(l), Some((lane, words))) = (lanes, waiting_at(top, now)) {
                if l.row_of(lane).is_some() {
                    let wide = x(now) + 6.0 + words.len() as f64 * text * 0.55 > gutter + plot_w;
                    shapes.push(Shape::Text {
                        x: if wide { x(now) - 6.0 } else { x(now) + 6.0 },
                        y: label_y(lane_y(lane), lane_h).min(height - 2.0),
                        text: words,
                        style: Style::LabelOnDark,
                        right: wide,
                    });
                }
            }
        }
        if now >= from && now <= to {
            shapes.push(Shape::Line {
                points: vec![(x(now), axis_h - 4.0), (x(now), height)],
                style: Style::Now,
            });
        }
    }
    shapes.extend(lag_note);
    Layout {
        width: geo.width,
        height,
        shapes,
        hits,
        text_px: text,
        merged,
        window: (from, to),
        plot: (gutter, plot_w),
    }
}

/// Merged rows' contents: `[row][style][col]` shares, and each row's answers (ok,
/// failed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cells {
    share: Vec<f32>,
    answered: Vec<(u32, u32)>,
}

/// What identifies a grid: the rows, the columns and the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GridKey {
    lanes: (usize, usize, usize, usize),
    cols: usize,
    from: u64,
    col_ms: u64,
}

/// A picture's cells, as far as they were made.
#[derive(Clone, Debug, Default)]
struct Kept {
    /// The picture's address (the caller keeps it alive while it is drawn).
    picture: usize,
    bars: usize,
    responses: usize,
    cells: Cells,
}

/// A timeline's merged cells kept between frames ([`layout_cached`]): a frame costs
/// what changed, not the whole run.
#[derive(Clone, Debug, Default)]
pub struct CellCache {
    key: Option<GridKey>,
    kept: Vec<Kept>,
}

/// Merged rows on a pixel grid: each row's requests' time in each style, per column.
struct Grid {
    lanes: Lanes,
    left: f64,
    cols: usize,
    col_px: f64,
    from: f64,
    col_ms: f64,
}

impl Grid {
    fn new(lanes: Lanes, left: f64, plot_w: f64, from: f64, span: f64) -> Grid {
        let cols = plot_w.floor().max(1.0) as usize;
        Grid {
            lanes,
            left,
            cols,
            col_px: plot_w / cols as f64,
            from,
            col_ms: span / cols as f64,
        }
    }

    fn key(&self) -> GridKey {
        GridKey {
            lanes: (
                self.lanes.first,
                self.lanes.last,
                self.lanes.per_row,
                self.lanes.rows,
            ),
            cols: self.cols,
            from: self.from.to_bits(),
            col_ms: self.col_ms.to_bits(),
        }
    }

    fn empty(&self) -> Cells {
        Cells {
            share: vec![0f32; self.lanes.rows * CELL_STYLES.len() * self.cols],
            answered: vec![(0, 0); self.lanes.rows],
        }
    }

    /// Adds `bars` and `responses` to `cells`: each bar's share of its row, column by
    /// column it spans (0–1 of the row's requests, on average over the column).
    fn add<'a>(&self, cells: &mut Cells, bars: impl IntoIterator<Item = &'a Bar>, responses: &[Reply]) {
        let (styles, cols) = (CELL_STYLES.len(), self.cols);
        let per = self.lanes.per_row as f32;
        for b in bars {
            let Some(row) = self.lanes.row_of(b.lane) else {
                continue;
            };
            let c0 = (b.start_ms - self.from) / self.col_ms;
            let c1 = (b.end_ms - self.from) / self.col_ms;
            if c1 <= 0.0 || c0 >= cols as f64 || c1 <= c0 {
                continue;
            }
            let (c0, c1) = (c0.max(0.0), c1.min(cols as f64));
            let base = (row * styles + cell_index(Style::of(b))) * cols;
            let (i0, i1) = (c0.floor() as usize, (c1.ceil() as usize).min(cols));
            for c in i0..i1 {
                let covered = (c1.min((c + 1) as f64) - c0.max(c as f64)) as f32;
                cells.share[base + c] += covered / per;
            }
        }
        for r in responses {
            if let Some(row) = self.lanes.row_of(r.lane) {
                if r.error {
                    cells.answered[row].1 += 1;
                } else {
                    cells.answered[row].0 += 1;
                }
                let c = (r.t_ms - self.from) / self.col_ms;
                if r.error && c >= 0.0 && c < cols as f64 {
                    let base = (row * styles + cell_index(Style::ErrorResponse)) * cols;
                    cells.share[base + c as usize] = 1.0;
                }
            }
        }
    }

    /// The cells of `pictures`, made once and kept in `cache` while the grid is the
    /// same: a finished picture is looked up; a live one's closed part (which only
    /// grows) has only what is new added; its open part is added afresh each time.
    fn cells<'c>(&self, pictures: &[&Picture], cache: &'c mut CellCache) -> std::borrow::Cow<'c, Cells> {
        let key = self.key();
        if cache.key != Some(key) {
            *cache = CellCache {
                key: Some(key),
                ..CellCache::default()
            };
        }
        let Some((first, rest)) = pictures.split_first() else {
            return std::borrow::Cow::Owned(self.empty());
        };
        let id = *first as *const Picture as usize;
        let slot = match cache.kept.iter().position(|k| k.picture == id) {
            Some(i) => i,
            None => {
                // Two kept at most: a prediction and a measurement.
                if cache.kept.len() >= 2 {
                    cache.kept.remove(0);
                }
                cache.kept.push(Kept {
                    picture: id,
                    bars: 0,
                    responses: 0,
                    cells: self.empty(),
                });
                cache.kept.len() - 1
            }
        };
        let kept = &mut cache.kept[slot];
        if kept.bars > first.bars.len() || kept.responses > first.responses.len() {
            // Not the picture it was (freed, and another made at its address).
            kept.bars = 0;
            kept.responses = 0;
            kept.cells = self.empty();
        }
        let mut fresh = std::mem::take(&mut kept.cells);
        self.add(
            &mut fresh,
            &first.bars[kept.bars..],
            &first.responses[kept.responses..],
        );
        kept.bars = first.bars.len();
        kept.responses = first.responses.len();
        kept.cells = fresh;
        if rest.is_empty() {
            return std::borrow::Cow::Borrowed(&kept.cells);
        }
        let mut cells = kept.cells.clone();
        for p in rest {
            self.add(&mut cells, &p.bars, &p.responses);
        }
        std::borrow::Cow::Owned(cells)
    }

    /// The cells as shapes: each shows its commonest style, as opaque as its row is
    /// busy (four steps), runs of alike cells one rect, one batch per style and step.
    fn shapes(&self, cells: &Cells, top: f64, ghost: bool) -> Vec<Shape> {
        let cells = &cells.share[..];
        let styles = CELL_STYLES.len();
        const STEPS: [f64; 4] = [0.3, 0.5, 0.75, 1.0];
        let mut batches: Vec<Vec<[f64; 4]>> = vec![Vec::new(); styles * STEPS.len()];
        let h = self.lanes.row_h - if ghost { 0.0 } else { 0.5 };
        for row in 0..self.lanes.rows {
            let y = top + row as f64 * self.lanes.row_h;
            let mut run: Option<(usize, usize, usize)> = None; // (batch, from col, to col)
            let flush = |run: Option<(usize, usize, usize)>, batches: &mut Vec<Vec<[f64; 4]>>| {
                if let Some((b, c0, c1)) = run {
                    batches[b].push([
                        self.left + c0 as f64 * self.col_px,
                        y,
                        (c1 + 1 - c0) as f64 * self.col_px,
                        h,
                    ]);
                }
            };
            for c in 0..self.cols {
                let mut busy = 0f32;
                let mut best = (0f32, usize::MAX);
                for s in 0..styles {
                    let v = cells[(row * styles + s) * self.cols + c];
                    busy += v;
                    if v > 0.0 && v >= best.0 {
                        best = (v, s);
                    }
                }
                let batch = if best.1 == usize::MAX || busy < 0.02 {
                    None
                } else {
                    let step =
                        ((busy.min(1.0) * STEPS.len() as f32).ceil() as usize).clamp(1, STEPS.len()) - 1;
                    Some(best.1 * STEPS.len() + step)
                };
                match (run, batch) {
                    (Some((b, c0, _)), Some(nb)) if b == nb => run = Some((b, c0, c)),
                    (_, nb) => {
                        flush(run, &mut batches);
                        run = nb.map(|b| (b, c, c));
                    }
                }
            }
            flush(run, &mut batches);
        }
        batches
            .into_iter()
            .enumerate()
            .filter(|(_, rects)| !rects.is_empty())
            .map(|(i, rects)| {
                let alpha = STEPS[i % STEPS.len()];
                Shape::Cells {
                    style: CELL_STYLES[i / STEPS.len()],
                    alpha: if ghost { alpha * 0.22 } else { alpha },
                    rects,
                }
            })
            .collect()
    }

    /// What a row's requests did over the window, for the keyboard and a screen reader.
    fn row_summary(
        &self,
        cells: &Cells,
        row: usize,
        (ok, failed): (u32, u32),
        shown: impl Fn(f64) -> f64,
        source: &str,
    ) -> String {
        let styles = CELL_STYLES.len();
        let (a, b) = self.lanes.requests_of(row);
        let mut time: Vec<(f64, usize)> = (0..styles - 2)
            .map(|s| {
                let sum: f32 = cells.share
                    [(row * styles + s) * self.cols..(row * styles + s + 1) * self.cols]
                    .iter()
                    .sum();
                (sum as f64 * self.col_ms * self.lanes.per_row as f64, s)
            })
            .filter(|(t, _)| *t > 0.0)
            .collect();
        time.sort_by(|x, y| y.0.total_cmp(&x.0));
        let total: f64 = time.iter().map(|t| t.0).sum::<f64>().max(1e-9);
        let doing: Vec<String> = time
            .iter()
            .take(3)
            .map(|(t, s)| format!("{:.0} % {}", t / total * 100.0, cell_words(CELL_STYLES[*s])))
            .collect();
        format!(
            "requests {a}–{b} ({} merged in this row), {:.1}–{:.1} ms: {}; {ok} answered{} ({source}); zoom in to see each",
            b + 1 - a,
            shown(self.from),
            shown(self.from + self.col_ms * self.cols as f64),
            if doing.is_empty() { "idle".to_string() } else { doing.join(", ") },
            if failed > 0 { format!(", {failed} with an error") } else { String::new() }
        )
    }
}

/// The task queue's log jobs, each on a queue worker's row: `(row, request lane, start,
/// end)`. Jobs go to whichever worker is free (first come, first served), so assigning
/// them in start order to the first row free by then gives each worker its own jobs.
fn queue_rows(pictures: &[&Picture]) -> Vec<(usize, usize, f64, f64)> {
    let mut jobs: Vec<&Bar> = pictures
        .iter()
        .flat_map(|p| p.bars.iter())
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

/// What the pointer at `(px, py)` points at: `(text, t_ms)`: a merged row says what its
/// requests were doing at that moment, anything else its hit's text.
pub fn point_at(layout: &Layout, px: f64, py: f64) -> Option<(String, f64)> {
    if let Some(m) = &layout.merged {
        if let Some(found) = m.describe(px, py) {
            return Some(found);
        }
    }
    hit_at(layout, px, py).map(|i| (layout.hits[i].text.clone(), layout.hits[i].t_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Config, Variant};

    fn geo(span_ms: f64) -> Geometry {
        Geometry {
            width: 800.0,
            from_ms: 0.0,
            to_ms: span_ms,
            lanes_px: 220.0,
            scale: 1.0,
            text_px: 12.0,
            shared_lag_ms: 0.0,
            probe: true,
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

    /// The texts of a style, but the note that a loop was free.
    fn texts(l: &Layout, style: Style) -> Vec<&str> {
        l.shapes
            .iter()
            .filter_map(|s| match s {
                Shape::Text { text, style: st, .. } if *st == style && !text.starts_with("free:") => {
                    Some(text.as_str())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_paused_moment_names_who_waits_on_the_chart() {
        // 41 requests on 40 tokens (def endpoint): at 1 s the 41st is in line.
        let config = Config {
            requests: 41,
            concurrency: 41,
            ..Config::default().with_variant(Variant::SyncDef)
        };
        let r = crate::simulate(&config).unwrap();
        let p = Picture::from_report(&r);
        let said = |at: f64, veil: bool| {
            let l = layout(&p, &[&p], geo(r.stats.makespan_ms), Some(at), veil);
            texts(&l, Style::LabelOnDark)
                .into_iter()
                .filter(|t| t.contains("waiting"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(said(1_000.0, true), ["req 40: waiting for a threadpool token"]);
        // Once its token comes, nobody waits; a live run's cursor says nothing.
        assert!(said(r.stats.makespan_ms - 1.0, true).is_empty());
        assert!(said(1_000.0, false).is_empty());
        // On the blocking endpoint, nine wait for the loop while the first holds it.
        let b = report(Variant::Blocking);
        let pb = Picture::from_report(&b);
        let l = layout(&pb, &[&pb], geo(b.stats.makespan_ms), Some(500.0), true);
        assert!(
            texts(&l, Style::LabelOnDark).contains(&"9 requests waiting for the event loop"),
            "{:?}",
            texts(&l, Style::LabelOnDark)
        );
    }

    #[test]
    fn a_loop_nothing_held_says_so() {
        let free = |v| {
            let p = Picture::from_report(&report(v));
            layout(&p, &[], geo(15_000.0), None, false)
                .shapes
                .iter()
                .any(|s| matches!(s, Shape::Text { text, .. } if text == "free: nothing blocked it"))
        };
        assert!(free(Variant::FullAsync));
        assert!(!free(Variant::Blocking));
    }

    #[test]
    fn every_stall_is_its_own_labelled_block_apart_from_its_neighbours() {
        // async_io: ten 1 s stalls back to back.
        let r = report(Variant::AsyncIo);
        let p = Picture::from_report(&r);
        let g = Geometry {
            width: 1064.0,
            ..geo(10_500.0)
        };
        let l = layout(&p, &[&p], g, None, false);
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
        let l = layout(&p, &[], g, None, false);
        assert_eq!(texts(&l, Style::Axis).last(), Some(&"15 s"));
        assert!(texts(&l, Style::LabelOnDark).iter().all(|t| *t == "1.50 s"));
        assert!(l.hits.iter().any(|h| h
            .text
            .starts_with("request 1: I/O with time.sleep on the event loop (blocks it), 1500.0–2000.0 ms")));
    }

    #[test]
    fn full_async_has_no_stall_blocks_and_cpu_in_the_pool() {
        let p = Picture::from_report(&report(Variant::FullAsync));
        let l = layout(&p, &[], geo(1500.0), None, false);
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
            &[&Picture::from_report(&m)],
            geo(15_000.0),
            None,
            false,
        );
        assert_eq!(rects(&l, Style::ProbeStall, false).len(), 1);
        assert_eq!(texts(&l, Style::Note), ["0–2 s"]);
        assert!(l
            .hits
            .iter()
            .any(|h| h.text.starts_with("the probe saw the loop held 2.0–1504.0 ms")));
        assert_eq!(scale_top(0.4), 20.0);
        assert_eq!(scale_top(130.0), 200.0);
        // Lined up with a timeline that lagged 15 s, the lane shares its scale: the
        // endpoint that never blocks shows its few ms of jitter as the flat line it is.
        let calm = {
            let mut c = report(Variant::FullAsync);
            c.measurement = Some(crate::model::Measurement {
                probe_lag: vec![[4.0, 0.3], [300.0, 6.0], [304.0, 0.2]],
                ..Default::default()
            });
            c
        };
        let lined_up = |shared_lag_ms| {
            let l = layout(
                &Picture::from_report(&calm),
                &[&Picture::from_report(&calm)],
                Geometry {
                    shared_lag_ms,
                    ..geo(15_000.0)
                },
                None,
                false,
            );
            texts(&l, Style::Note)
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<String>>()
        };
        assert_eq!(lined_up(15_000.0), ["0–20 s"]);
        assert_eq!(lined_up(0.0), ["0–20 ms"]);

        // One tick, after one long stall (a blocking run): its ramp is drawn, from no lag
        // where the stall began to the whole lag where the tick came.
        m.measurement.as_mut().unwrap().probe_lag = vec![[1504.0, 1500.0]];
        let g = geo(15_000.0);
        let l = layout(
            &Picture::from_report(&r),
            &[&Picture::from_report(&m)],
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
            &[&Picture::from_report(&m)],
            g,
            None,
            false,
        );
        assert_eq!(texts(&l, Style::Note), ["0–20 s"]);
    }

    #[test]
    fn the_ghost_sits_behind_the_measurement_and_a_replay_greys_the_future() {
        let p = Picture::from_report(&report(Variant::Blocking));
        let l = layout(&p, &[&p], geo(15_000.0), Some(100.0), true);
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
        assert!(rects(&layout(&p, &[&p], g, Some(100.0), false), Style::Veil, false).is_empty());
    }

    #[test]
    fn hits_describe_phase_request_and_times() {
        let p = Picture::from_report(&report(Variant::FullAsync));
        let g = geo(1500.0);
        let l = layout(&p, &[], g, None, false);
        // The last lane's middle: above the room left for its label.
        let i = hit_at(
            &l,
            g.gutter() + 1000.0 / 1500.0 * (800.0 - g.gutter() - RIGHT_PAD),
            l.height - 6.0 - g.text_px * 0.4,
        )
        .unwrap();
        assert_eq!(
            l.hits[i].text,
            "request 9: model inference on a pool thread, 500.0–1500.0 ms (1.00 s, predicted)"
        );
        assert_eq!(l.hits[i].t_ms, 500.0);
        assert_eq!(hit_at(&l, 1.0, 1.0), None);
    }

    #[test]
    fn a_merged_rows_name_fits_its_gutter() {
        let g = geo(1000.0).gutter();
        assert_eq!(lane_name(7, 7, 12.0, g), "req 7");
        assert_eq!(lane_name(30, 39, 12.0, g), "req 30–39");
        assert_eq!(lane_name(3000, 3999, 12.0, g), "3000–3999");
        // 100 000 requests: the numbers alone, within the gutter.
        let name = lane_name(37_000, 99_999, 12.0, g);
        assert_eq!(name, "37000–99999");
        assert!(name.chars().count() as f64 * 12.0 * APPROX_CHAR_EM <= g - 6.0);
    }

    #[test]
    fn every_lane_is_labelled_when_tall_enough_else_every_kth() {
        assert_eq!(labelled_lanes(10, 18.0, 12.0), (0..10).collect::<Vec<_>>());
        // A lane each down to three quarters of a line ("req 12" is shorter than that).
        assert_eq!(labelled_lanes(10, 10.0, 12.0), (0..10).collect::<Vec<_>>());
        // Every other lane, at a steady step.
        assert_eq!(labelled_lanes(10, 9.6, 12.0), [0, 2, 4, 6, 8]);
        assert_eq!(labelled_lanes(41, 5.0, 12.0), [0, 5, 10, 15, 20, 25, 30, 35, 40]);
        assert!(labelled_lanes(0, 10.0, 12.0).is_empty());
        // Labels never closer than a line of text.
        for (n, h) in [(10, 9.6), (41, 5.0), (7, 4.0), (120, 3.0)] {
            let l = labelled_lanes(n, h, 12.0);
            assert!(
                l.windows(2).all(|w| (w[1] - w[0]) as f64 * h >= 13.0 - 1e-9),
                "{n} {h}: {l:?}"
            );
            assert_eq!(l.first(), Some(&0));
            let step = l.get(1).map_or(1, |s| s - l[0]);
            assert!(l.windows(2).all(|w| w[1] - w[0] == step), "{n} {h}: {l:?}");
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
            &[],
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
            &[],
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
        let l = layout(&Picture::from_report(&tq), &[], geo(3000.0), None, false);
        assert!(texts_of(&l).contains(&"task queue".to_string()));
        let rows = queue_rows(&[&Picture::from_report(&tq)]);
        assert_eq!(rows.len(), 10);
        assert_eq!(rows.iter().map(|r| r.0).max(), Some(1));
        // One worker, no queue: as before.
        let plain = layout(
            &Picture::from_report(&report(Variant::AsyncIo)),
            &[],
            geo(11_000.0),
            None,
            false,
        );
        assert!(texts_of(&plain).contains(&"event loop".to_string()));
        assert!(!texts_of(&plain).contains(&"task queue".to_string()));
    }

    fn burst(requests: u64) -> Report {
        crate::simulate(&Config {
            requests,
            concurrency: requests,
            tokens: 40,
            io_ms: 50.0,
            cpu_ms: 100.0,
            ..Config::default().with_variant(Variant::FullAsync)
        })
        .unwrap()
    }

    #[test]
    fn lanes_past_the_rows_are_merged_and_say_what_their_requests_do() {
        // 400 at once in 220 px: rows of 3 px, each six requests.
        let r = burst(400);
        let p = Picture::from_report(&r);
        let g = geo(r.stats.makespan_ms);
        let l = layout(&p, &[], g, None, false);
        let m = l.merged.as_ref().expect("merged");
        assert_eq!((m.lanes.per_row, m.lanes.rows, m.lanes.row_h), (6, 67, 3.0));
        assert!(rects(&l, Style::CpuPool, false).is_empty(), "no lane of its own");
        let cells: usize = l
            .shapes
            .iter()
            .map(|s| match s {
                Shape::Cells { rects, .. } => rects.len(),
                _ => 0,
            })
            .sum();
        assert!(
            cells > 0 && cells < 67 * 40,
            "{cells} rects, runs of alike cells merged"
        );
        // A label every few rows, naming the requests in each.
        assert!(texts(&l, Style::LaneLabel).contains(&"req 0–5"));
        // At 75 ms the first 40 predict on the pool; the rest wait for a token.
        let col_x = |t: f64| m.left + t / m.col_ms * m.col_px + 0.5 * m.col_px;
        let (first, t) = point_at(&l, col_x(75.0), m.top + 1.0).unwrap();
        assert!(
            first.starts_with("requests 0–5 (6 merged in this row) at "),
            "{first}"
        );
        assert!(
            first.contains(": 6 of 6 running the model's inference on a pool thread (predicted)"),
            "{first}"
        );
        assert!((t - 75.0).abs() <= m.col_ms);
        let (later, _) = point_at(&l, col_x(75.0), m.top + 40.0 * 3.0 + 1.0).unwrap();
        assert!(later.contains("6 of 6 waiting"), "{later}");
        // The keyboard reads a row at a time: what it did over the window.
        assert!(l.hits.iter().any(
            |h| h.text.starts_with("requests 0–5 (6 merged in this row), 0.0–")
                && h.text
                    .contains("% running the model's inference on a pool thread")
        ));
    }

    #[test]
    fn merged_cells_keep_every_moment_of_every_request() {
        // The shares of a row's cells add up to its requests' time in each style.
        let r = burst(1000);
        let p = Picture::from_report(&r);
        let g = geo(r.stats.makespan_ms * 1.03);
        let l = layout(&p, &[], g, None, false);
        let m = l.merged.as_ref().unwrap();
        let styles = CELL_STYLES.len();
        for style in [Style::CpuPool, Style::Queued, Style::Io { blocking: false }] {
            let s = cell_index(style);
            let drawn: f64 = (0..m.lanes.rows)
                .map(|row| {
                    let from = (row * styles + s) * m.cols;
                    m.share[from..from + m.cols]
                        .iter()
                        .map(|&v| v as f64)
                        .sum::<f64>()
                        * m.col_ms
                        * m.lanes.per_row as f64
                })
                .sum();
            let spent: f64 = p
                .bars
                .iter()
                .filter(|b| Style::of(b) == style)
                .map(|b| b.end_ms - b.start_ms)
                .sum();
            assert!(
                (drawn - spent).abs() <= spent * 1e-4,
                "{style:?}: drawn {drawn}, spent {spent}"
            );
        }
    }

    #[test]
    fn zooming_in_shows_the_requests_of_the_window_each_in_its_lane() {
        // ab -n 400 -c 10: a stream; 300–400 ms holds a few requests only.
        let r = crate::simulate(&Config {
            requests: 400,
            concurrency: 10,
            io_ms: 50.0,
            cpu_ms: 100.0,
            ..Config::default().with_variant(Variant::FullAsync)
        })
        .unwrap();
        let p = Picture::from_report(&r);
        let whole = layout(&p, &[], geo(r.stats.makespan_ms), None, false);
        assert!(whole.merged.is_some());
        let g = Geometry {
            from_ms: 300.0,
            to_ms: 400.0,
            ..geo(r.stats.makespan_ms)
        };
        let l = layout(&p, &[], g, None, false);
        assert!(l.merged.is_none(), "few enough for a lane each");
        assert_eq!(l.window, (300.0, 400.0));
        let labels = texts(&l, Style::LaneLabel);
        assert!(labels.contains(&"req 20"), "{labels:?}");
        assert!(
            !labels.contains(&"req 0"),
            "request 0 was answered before the window"
        );
        // Nothing drawn outside the plot; the axis counts from the window's start.
        let (left, width) = l.plot;
        for (x, w) in rects(&l, Style::CpuPool, false) {
            assert!(x >= left - 1e-9 && x + w <= left + width + 1e-9);
        }
        assert_eq!(texts(&l, Style::Axis).first(), Some(&"300 ms"));
        assert!(l.hits.iter().all(|h| h.t_ms <= 400.0));
    }

    #[test]
    fn zoom_and_pan_keep_the_window_on_the_run() {
        // Twice as close about 750 ms: it stays where it was on the screen.
        let (a, b) = Geometry::zoomed(0.0, 1500.0, 2.0, 750.0, 1500.0);
        assert_eq!((a, b), (375.0, 1125.0));
        let (a, b) = Geometry::zoomed(0.0, 1500.0, 2.0, 300.0, 1500.0);
        assert!(((300.0 - a) / (b - a) - 0.2).abs() < 1e-9);
        // Out past the whole run: the whole run.
        assert_eq!(
            Geometry::zoomed(375.0, 1125.0, 0.25, 750.0, 1500.0),
            (0.0, 1500.0)
        );
        // Panned past an end: stopped at it, its width kept.
        assert_eq!(Geometry::panned(375.0, 1125.0, 1000.0, 1500.0), (750.0, 1500.0));
        assert_eq!(Geometry::panned(375.0, 1125.0, -1000.0, 1500.0), (0.0, 750.0));
    }

    #[test]
    fn stalls_too_narrow_to_tell_apart_are_one_block_that_says_how_many() {
        // 2000 blocking requests of 11 ms in 800 px: 30 ms a pixel.
        let r = crate::simulate(&Config {
            requests: 2000,
            concurrency: 2000,
            io_ms: 1.0,
            cpu_ms: 10.0,
            ..Config::default().with_variant(Variant::Blocking)
        })
        .unwrap();
        let p = Picture::from_report(&r);
        let l = layout(&p, &[], geo(r.stats.makespan_ms), None, false);
        let stalls = rects(&l, Style::Stall, false);
        assert!(stalls.len() < 10, "{} blocks", stalls.len());
        assert!(l.hits.iter().any(|h| h
            .text
            .starts_with("event loop blocked 2000 times, by requests 0–1999")));
    }

    #[test]
    fn kept_cells_grow_with_a_live_picture_and_match_a_fresh_layout() {
        let r = burst(1000);
        let whole = Picture::from_report(&r);
        let g = geo(r.stats.makespan_ms * 1.03);
        // A live run: the closed part grows between frames, the open part is new each.
        let mut closed = Picture {
            bars: Vec::new(),
            responses: Vec::new(),
            ..whole.clone()
        };
        let mut cache = CellCache::default();
        let (half, rest) = whole.bars.split_at(whole.bars.len() / 2);
        closed.bars.extend_from_slice(half);
        let open = Picture {
            bars: rest[..10].to_vec(),
            ..Picture::default()
        };
        let early = layout_cached(&whole, &[&closed, &open], g, None, false, &mut cache);
        let fresh = layout(&whole, &[&closed, &open], g, None, false);
        assert_eq!(early.shapes, fresh.shapes);
        closed.bars.extend_from_slice(rest);
        closed.responses = whole.responses.clone();
        let later = layout_cached(&whole, &[&closed], g, None, false, &mut cache);
        assert_eq!(later.shapes, layout(&whole, &[&closed], g, None, false).shapes);
        assert_eq!(later.merged, layout(&whole, &[&whole], g, None, false).merged);
        // Another window: made afresh.
        let zoomed = Geometry {
            from_ms: 100.0,
            to_ms: 900.0,
            ..g
        };
        let z = layout_cached(&whole, &[&closed], zoomed, None, false, &mut cache);
        assert_eq!(z.shapes, layout(&whole, &[&closed], zoomed, None, false).shapes);
    }
}
