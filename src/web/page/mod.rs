//! The page: the DOM glue. Everything it shows is computed by the core's view model
//! (`loopscope::view`); this module keeps the page's state, wires its events and paints.
//!
//! - [`controls`]: presets, the form, the run buttons, Present;
//! - [`timelines`]: one canvas per endpoint, hover, keyboard and click, painting
//!   ([`paint`]);
//! - [`transport`]: the replay's clock: play, pause, speed, step, the scrubber;
//! - [`panels`]: the code panel, the server console, the numbers, at the moment shown;
//! - [`exports`]: the report as JSON, the requests as CSV, the timelines as PNG;
//! - [`prediction_log`]: what the background task wrote to IndexedDB.
//!
//! Runs go one after another ("Run all five" too): concurrent servers would compete
//! for the machine's cores and distort each other's timings.

mod controls;
mod exports;
mod inside;
mod lesson;
mod paint;
mod panels;
mod prediction_log;
mod timelines;
mod transport;

use crate::runtime::loadgen::{self, Observer, Run, RunError};
use crate::runtime::{log, now_abs};
use loopscope::format;
use loopscope::model::Event;
use loopscope::model::{Faults, Variant};
use loopscope::view::link::{self, View};
use loopscope::view::replay::Clock;
use loopscope::view::settings::{scaled, Settings};
use loopscope::view::trace::Trace;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use timelines::{caption, Section};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Document;

/// The run going on: its endpoint, and its trace so far (the load generator's
/// observer).
struct Live {
    variant: Variant,
    trace: Rc<RefCell<Trace>>,
}

/// Lets the browser run what is waiting (a frame, input) before going on.
async fn next_task() {
    gloo_timers::future::TimeoutFuture::new(0).await;
}

/// The load generator tells the live trace what happens.
struct Tracing(Rc<RefCell<Trace>>);

impl Observer for Tracing {
    fn started(&self, t0_abs: f64) {
        self.0.borrow_mut().t0_abs = Some(t0_abs);
    }
    fn event(&self, event: &Event) {
        // The server checks request ids before it reports them; an unknown one is dropped.
        let _ = self.0.borrow_mut().apply(event);
    }
    fn lag(&self, worker: u64, samples: &[[f64; 2]]) {
        self.0.borrow_mut().lag(worker, samples.iter().copied());
    }
}

/// What the page shows now: a run going on at its "now", a finished run at a replay's
/// moment, or everything.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Moment {
    /// A run of this endpoint is going; it is `now` ms into it.
    Live { variant: Variant, now: f64 },
    /// A replay at `t` on the runs' clock.
    At(f64),
    /// Everything, to the end.
    End,
}

struct App {
    doc: Document,
    glue: String,
    settings: RefCell<Settings>,
    valid: Cell<bool>,
    /// The preset chosen and the timelines fitted to their own run (in the link).
    view: RefCell<View>,
    sections: RefCell<Vec<Rc<Section>>>,
    live: RefCell<Option<Live>>,
    code_variant: Cell<Variant>,
    rust_shown: Cell<bool>,
    /// (section index, hit index) under keyboard focus.
    focus: Cell<Option<(usize, usize)>>,
    reduced_motion: bool,
    last_paint: Cell<f64>,
    console_shown: Cell<usize>,
    /// The console lines on the page: `(first, end)` of the report's.
    console_window: Cell<(usize, usize)>,
    /// The live console has new lines: scroll to them (before the next writes).
    console_to_end: Cell<bool>,
    raf: RefCell<Option<Closure<dyn FnMut()>>>,
    first_timeline: Cell<bool>,
    /// A run started by this page's buttons is going (not one from the console).
    own_run: Cell<bool>,
    /// The last run was refused because the page was hidden.
    hidden_failure: Cell<bool>,
    /// The replay's clock.
    clock: RefCell<Clock>,
    /// Replay the model's prediction instead of the measurement.
    replay_model: Cell<bool>,
    /// Projector mode: the form hidden, text and lanes large.
    present: Cell<bool>,
    /// The prediction log, as the table shows it.
    log: RefCell<prediction_log::LogView>,
    /// The page is being built: nothing is painted until it is (then once).
    starting: Cell<bool>,
    /// The next paint draws the first timeline shown only (the page's first paint).
    first_paint_only: Cell<bool>,
    /// The timelines are being painted whole for an image (no cursor, no veil).
    exporting: Cell<bool>,
    /// The Lesson's step shown; `None` in the Lab.
    lesson_at: Cell<Option<usize>>,
    /// The model's traces for the loop panel, per config (a few kept).
    inside_traces: RefCell<Vec<(loopscope::model::Config, Rc<loopscope::sim::trace::Trace>)>>,
    /// The iteration the loop panel stepped to, while the clock stays on it.
    inside_at: Cell<Option<usize>>,
    /// The px the Lesson's lanes grow (or shrink) by to fill the screen, as measured.
    lesson_fit: Cell<f64>,
    /// Fitting the Lesson to the screen (a paint inside a paint).
    fitting: Cell<bool>,
    /// The axis steps 1 to 5 share, for the config it was worked out for.
    lesson_axis: RefCell<Option<(loopscope::model::Config, f64)>>,
    /// The console shows what asyncio's debug mode would log.
    asyncio_debug: Cell<bool>,
    /// The Lab's timelines show the probe's lane, and its numbers their column.
    show_probe: Cell<bool>,
    /// Every run on one axis (the Lab's comparison, the Lesson's side by side).
    overview: RefCell<Option<(web_sys::HtmlCanvasElement, paint::Painter)>>,
    /// The overview's rows: their span of the canvas's height, and their endpoint.
    overview_rows: RefCell<Vec<((f64, f64), Variant)>>,
}

thread_local! {
    /// The page, for the exports that act on it (`loopscope.seek`).
    static PAGE: RefCell<Option<Rc<App>>> = const { RefCell::new(None) };
}

/// `loopscope.seek(t_ms)`: shows every timeline, the code and the console at `t_ms` on
/// the runs' clock, as the scrubber does. Refused while a run is going.
pub fn seek(t_ms: f64) -> Result<(), String> {
    let app = PAGE
        .with(|p| p.borrow().clone())
        .ok_or("the page has not started")?;
    if app.live.borrow().is_some() {
        return Err("a run is going: seek once it is over".into());
    }
    if !t_ms.is_finite() {
        return Err(format!(
            "seek takes a time in ms, got {}",
            loopscope::model::config::js_number(t_ms)
        ));
    }
    app.seek_to(t_ms);
    Ok(())
}

pub(super) type Res<T = ()> = Result<T, JsValue>;

pub(super) fn by_id<T: JsCast>(doc: &Document, id: &str) -> Res<T> {
    doc.get_element_by_id(id)
        .ok_or_else(|| JsValue::from_str(&format!("#{id} is missing from the page")))?
        .dyn_into::<T>()
        .map_err(|_| JsValue::from_str(&format!("#{id} is not the element expected")))
}

pub(super) fn on<E: wasm_bindgen::convert::FromWasmAbi + 'static>(
    target: &web_sys::EventTarget,
    event: &str,
    f: impl FnMut(E) + 'static,
) -> Res {
    let closure = Closure::<dyn FnMut(E)>::new(f);
    target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())?;
    closure.forget(); // listeners live as long as the page
    Ok(())
}

/// Writes `text` into `el` only when it differs: the panels are rendered ten times a
/// second during a replay, and rewriting an unchanged live region would have a screen
/// reader say it again (and the browser lay it out again).
pub(super) fn set_text(el: &web_sys::Element, text: &str) {
    if el.text_content().as_deref() != Some(text) {
        el.set_text_content(Some(text));
    }
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Starts the page (`start_ui(glue_source)` from www/main.js).
pub fn start(glue_source: String) -> Res {
    console_error_panic_hook::set_once();
    let window = web_sys::window().ok_or("no window")?;
    let doc = window.document().ok_or("no document")?;
    let reduced_motion = window
        .match_media("(prefers-reduced-motion: reduce)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches());
    let link = link::from_hash(&window.location().hash().unwrap_or_default());
    let link_problems = link.beyond_the_form();
    let mode = lesson::first_view(
        link.view.mode.as_ref(),
        !link.typed.is_empty() || link.view.preset.is_some(),
    );
    let (settings, view, typed) = (link.settings, link.view, link.typed);
    let present = window
        .location()
        .search()
        .unwrap_or_default()
        .trim_start_matches('?')
        .split('&')
        .any(|p| p == "present=1" || p == "present");
    let scale = settings.scale;
    let app = Rc::new(App {
        doc,
        glue: glue_source,
        settings: RefCell::new(settings),
        valid: Cell::new(true),
        view: RefCell::new(view),
        sections: RefCell::default(),
        live: RefCell::default(),
        code_variant: Cell::new(Variant::AsyncIo),
        rust_shown: Cell::new(false),
        focus: Cell::new(None),
        reduced_motion,
        last_paint: Cell::new(0.0),
        console_shown: Cell::new(0),
        console_window: Cell::new((0, 0)),
        console_to_end: Cell::new(false),
        raf: RefCell::default(),
        first_timeline: Cell::new(false),
        own_run: Cell::new(false),
        hidden_failure: Cell::new(false),
        clock: RefCell::new(Clock::at_end(0.0, scale)),
        replay_model: Cell::new(false),
        present: Cell::new(present),
        log: RefCell::default(),
        starting: Cell::new(true),
        first_paint_only: Cell::new(false),
        exporting: Cell::new(false),
        lesson_at: Cell::new(None),
        lesson_axis: RefCell::default(),
        lesson_fit: Cell::new(0.0),
        inside_traces: RefCell::default(),
        inside_at: Cell::new(None),
        fitting: Cell::new(false),
        asyncio_debug: Cell::new(false),
        show_probe: Cell::new(false),
        overview: RefCell::default(),
        overview_rows: RefCell::default(),
    });
    PAGE.with(|p| *p.borrow_mut() = Some(app.clone()));
    app.code_variant.set(app.settings.borrow().config.variant);
    let watcher = app.clone();
    loadgen::on_running_change(Rc::new(move |running| {
        // The page's own runs say what they do; a console run is said here.
        if !watcher.own_run.get() {
            watcher.status(
                if running {
                    "A run started from the console (loopscope.run) is going; the buttons wait for it."
                } else {
                    "The console's run is over: its result went to the console."
                },
                false,
            );
        }
        watcher.set_buttons();
    }));
    app.build_controls()?;
    app.build_sections()?;
    app.build_code_panel()?;
    app.build_transport()?;
    app.build_inside()?;
    app.build_explainer()?;
    app.build_prediction_log()?;
    app.build_lesson()?;

    app.build_overview()?;
    app.set_present(present);
    app.fill_form();
    app.apply_shown();
    app.show_preset();
    app.settings_changed(false)?;
    // A link's values land in the form as given, each judged as if typed.
    if !typed.is_empty() {
        app.type_into_form(&typed);
        app.read_form()?;
    }
    app.link_problems(&link_problems);
    match mode {
        link::Mode::Lesson(id) => {
            let at = loopscope::view::lesson::steps()
                .iter()
                .position(|s| s.id == id)
                .unwrap_or(0);
            app.go_to_step(at);
        }
        link::Mode::Lab => {
            app.view.borrow_mut().mode = Some(link::Mode::Lab);
            app.to_lab();
        }
    }
    // Opened from a file (or served without COOP/COEP), the page says what that means
    // for its runs (set_buttons keeps it up to date).
    app.set_buttons();
    // The first timeline now, the others a frame later: the page shows something as
    // soon as it can.
    app.starting.set(false);
    app.first_paint_only.set(true);
    app.paint_all();
    let later = app.clone();
    let rest = Closure::once_into_js(move || later.paint_all());
    let _ = window.request_animation_frame(rest.unchecked_ref());
    // A run refused because the page was hidden: once it is visible, say it can run.
    let watcher = app.clone();
    on(&app.doc, "visibilitychange", move |_: web_sys::Event| {
        let visible = watcher.doc.visibility_state() == web_sys::VisibilityState::Visible;
        if visible && watcher.hidden_failure.replace(false) {
            watcher.status("The page is visible again: choose a run to measure it.", false);
        }
    })?;
    Ok(())
}

impl App {
    fn status(&self, text: &str, error: bool) {
        if let Some(el) = self.doc.get_element_by_id("status") {
            el.set_text_content(Some(text));
            let _ = el.class_list().toggle_with_force("error", error);
        }
    }

    /// New settings: new predictions, the link updated, old measurements dropped
    /// (they were for other settings).
    fn settings_changed(self: &Rc<Self>, update_link: bool) -> Res {
        let settings = self.settings.borrow().clone();
        let config = scaled(&settings);
        for s in self.sections.borrow().iter() {
            let predicted = loopscope::simulate(&config.with_variant(s.variant))
                .map_err(|e| JsValue::from_str(&e.message))?;
            *s.predicted.borrow_mut() = Rc::new(predicted);
            *s.measured.borrow_mut() = None;
            s.window.set(None);
            s.caption
                .set_inner_html(&caption(s.variant, &s.predicted.borrow(), None, settings.scale));
        }
        if update_link {
            self.update_link();
        }
        self.apply_shown(); // the legend follows the work
        self.reset_clock();
        self.set_buttons();
        self.render_moment(true);
        if self.valid.get() {
            let c = &config;
            // A run asking for more answers a second than a browser keeps to: said now.
            let warning = self
                .shown_sections()
                .iter()
                .find_map(|s| loopscope::view::settings::throughput_warning(&s.predicted.borrow()))
                .map(|w| format!(" {w}"))
                .unwrap_or_default();
            self.status(
                &format!(
                    "Ready: {} requests, {} at a time; fetch {} ms, inference {} ms, log {} ms ({}× time); a threadpool of {} thread{}.{warning}",
                    c.requests,
                    c.concurrency,
                    c.io_ms,
                    c.cpu_ms,
                    c.bg_ms,
                    settings.scale,
                    c.tokens,
                    if c.tokens == 1 { "" } else { "s" }
                ),
                false,
            );
        }
        Ok(())
    }

    /// Puts the settings and the view in the address bar.
    fn update_link(&self) {
        let hash = link::to_hash(&self.settings.borrow(), &self.view.borrow());
        if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = h.replace_state_with_url(&JsValue::NULL, "", Some(&hash));
        }
    }

    /// What the page shows now.
    fn moment(&self) -> Moment {
        if let Some(l) = self.live.borrow().as_ref() {
            let now = l.trace.borrow().t0_abs.map_or(0.0, |t0| now_abs() - t0);
            return Moment::Live {
                variant: l.variant,
                now,
            };
        }
        let clock = self.clock.borrow();
        if self.exporting.get() {
            return Moment::End;
        }
        if clock.t_ms < clock.span_ms || clock.playing {
            Moment::At(clock.t_ms)
        } else {
            Moment::End
        }
    }

    /// Draws everything as it stands at the moment shown; `reset` redraws the console
    /// from scratch.
    fn render_moment(&self, reset: bool) {
        // Paused or playing mid-replay: Present mode keeps the runs' results for the end.
        let mid = matches!(self.moment(), Moment::At(t) if t < self.clock.borrow().span_ms);
        if let Some(body) = self.doc.body() {
            let _ = body.class_list().toggle_with_force("mid-replay", mid);
        }
        self.paint_all();
        self.render_panels(reset);
        // The step's words are known now: its lanes fitted to what is left of the screen.
        if self.lesson_at.get().is_some() && self.live.borrow().is_none() {
            self.fit_lesson_to_screen();
        }
    }

    /// The code panel, the console, the numbers, the transport and the log, at the
    /// moment shown.
    fn render_panels(&self, reset: bool) {
        self.render_legend();
        self.render_lesson();
        self.render_console(reset);
        self.render_code_counts();
        self.render_inside();
        self.render_stats();
        self.render_transport();
        self.render_prediction_log();
    }

    /// Runs `variants` one after another, if the form is valid and nothing is running.
    fn start(self: Rc<Self>, variants: Vec<Variant>) {
        if !self.valid.get() || self.live.borrow().is_some() {
            return;
        }
        wasm_bindgen_futures::spawn_local(async move {
            self.own_run.set(true);
            let result = self.run(variants).await;
            self.own_run.set(false);
            if let Err(e) = result {
                let message = e
                    .dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
                    .or_else(|| e.as_string())
                    .unwrap_or_else(|| format!("{e:?}"));
                self.hidden_failure
                    .set(loadgen::page_hidden() || message.contains("the page is hidden"));
                self.status(&format!("The run failed: {message}"), true);
            }
            *self.live.borrow_mut() = None;
            self.set_buttons();
            self.paint_all();
        });
    }

    async fn run(self: &Rc<Self>, variants: Vec<Variant>) -> Res {
        let _running = loadgen::begin_run().map_err(|e| JsValue::from_str(&e))?;
        let settings = self.settings.borrow().clone();
        let config = scaled(&settings);
        let total = variants.len();
        // Every endpoint of one click logs under one run name.
        let run_name = log::run_name(if total > 1 { "Run all five" } else { "page" });
        for (i, v) in variants.into_iter().enumerate() {
            let config = config.with_variant(v);
            let section = self
                .sections
                .borrow()
                .iter()
                .find(|s| s.variant == v)
                .cloned()
                .ok_or("no timeline for that variant")?;
            let predicted = section.predicted.borrow().clone();
            let trace = Rc::new(RefCell::new(Trace::new(config.clone())));
            *self.live.borrow_mut() = Some(Live {
                variant: v,
                trace: trace.clone(),
            });
            self.code_variant.set(v);
            self.render_code();
            self.scroll_code_to_endpoint();
            self.render_console(true);
            self.set_buttons();
            self.render_transport();
            self.status(
                &format!(
                    "Running {} ({} of {total}): {} requests, {} at a time… (Esc or Cancel stops it)",
                    v.route(),
                    i + 1,
                    config.requests,
                    config.concurrency
                ),
                false,
            );
            self.animate();
            let log_to = log::log_to(run_name.clone(), v).await;
            let outcome = loadgen::measure(&Run {
                config: &config,
                faults: &Faults::default(),
                glue_source: &self.glue,
                predicted: &predicted,
                log: &log_to,
                observer: &Tracing(trace.clone()),
            })
            .await;
            let (measured, cancelled) = match outcome {
                Ok(measured) => (measured, None),
                Err(RunError::Cancelled { at_ms }) => (trace.borrow().cut_short(at_ms), Some(at_ms)),
                Err(RunError::Failed(message)) => return Err(JsValue::from_str(&message)),
            };
            let measured = Rc::new(measured);
            *section.measured.borrow_mut() = Some(measured.clone());
            section.adopt_real(&measured, trace.borrow_mut().finished_picture(&measured));
            // A long run's end is several tasks, not one: the page keeps drawing between.
            next_task().await;
            let check = section.check().expect("just measured");
            section.caption.set_inner_html(&caption(
                v,
                &predicted,
                Some((&measured, &check)),
                settings.scale,
            ));
            trace.borrow_mut().finished = Some(measured.clone());
            next_task().await;
            if let Some(at_ms) = cancelled {
                *self.live.borrow_mut() = None;
                self.reset_clock();
                self.render_moment(true);
                self.status(
                    &format!(
                        "Cancelled {} {} in, in the tutorial's time ({} of the run as played): what it measured so far is drawn, cut short. Run again when ready.",
                        v.route(),
                        format::duration(at_ms / settings.scale),
                        format::duration(at_ms)
                    ),
                    false,
                );
                return Ok(());
            }
        }
        *self.live.borrow_mut() = None;
        // The Lesson's code stays on its step's first endpoint.
        if let Some(step) = self.current_step() {
            self.code_variant.set(step.variants[0]);
            self.render_code();
            self.scroll_code_to_endpoint();
        }
        self.reset_clock();
        self.render_moment(true);
        self.status(
            "Done. Replay it with ▶ Replay (or space), move event by event with the , and . keys, or drag the time; hover a bar for details.",
            false,
        );
        Ok(())
    }

    /// Repaints at the display's frame rate while a run is going or a replay plays
    /// (four times a second when the reader prefers reduced motion).
    fn animate(self: &Rc<Self>) {
        if self.raf.borrow().is_some() {
            return;
        }
        let app = self.clone();
        let mut last = now_abs();
        // Frames to let pass before the next timeline paint: a paint that took long (a
        // run of 100 000 requests merged into cells) is drawn every second or third frame,
        // so each frame's work stays short and the page keeps the display's rate.
        let mut skip = 0u32;
        let closure = Closure::<dyn FnMut()>::new(move || {
            let running = app.live.borrow().is_some() || app.clock.borrow().playing;
            let now = now_abs();
            app.clock.borrow_mut().tick(now - last);
            last = now;
            // The timelines every frame; the panels, whose text changes by the request
            // and costs more the more requests there are, ten times a second (four
            // when the reader prefers reduced motion, the timelines too).
            let panels_every = if app.reduced_motion { 250.0 } else { 100.0 };
            if skip > 0 {
                skip -= 1;
            } else if !app.reduced_motion || now - app.last_paint.get() >= 250.0 {
                app.paint_all();
                const BUDGET_MS: f64 = 8.0;
                skip = ((now_abs() - now) / BUDGET_MS).floor().min(3.0) as u32;
            }
            if now - app.last_paint.get() >= panels_every {
                app.last_paint.set(now);
                app.render_panels(false);
            }
            if running {
                if let (Some(w), Some(cb)) = (web_sys::window(), app.raf.borrow().as_ref()) {
                    let _ = w.request_animation_frame(cb.as_ref().unchecked_ref());
                }
            } else {
                app.render_moment(false); // the last frame, at the end
                let replayed = app
                    .doc
                    .get_element_by_id("status")
                    .and_then(|s| s.text_content())
                    .is_some_and(|t| t.starts_with("Replaying"));
                if replayed {
                    app.say_replay();
                }
                // Dropping the closure from inside itself is not allowed: defer it.
                let app = app.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    app.raf.borrow_mut().take();
                });
            }
        });
        if let Some(w) = web_sys::window() {
            let _ = w.request_animation_frame(closure.as_ref().unchecked_ref());
        }
        *self.raf.borrow_mut() = Some(closure);
    }
}

/// Said after a fidelity check's sentence, whose milliseconds are the run's (the bounds
/// are about what was measured), where the page shows the tutorial's time.
pub fn run_ms_note(scale: f64) -> String {
    if scale == 1.0 {
        String::new()
    } else {
        format!(
            " (ms of the run, played at time scale {scale}; the numbers beside are in the tutorial's time)"
        )
    }
}
