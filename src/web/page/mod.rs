//! The page: the DOM glue. Everything it shows is computed by the core's view model
//! (`loopscope::view`); this module keeps the page's state, wires its events and paints.
//!
//! - [`controls`]: presets, the form, the run buttons;
//! - [`timelines`]: one canvas per endpoint, hover and keyboard, painting ([`paint`]);
//! - [`panels`]: the code panel, the server console, the numbers;
//! - [`exports`]: the report as JSON, the requests as CSV, the timelines as PNG.
//!
//! Runs go one after another ("Run all five" too): concurrent servers would compete
//! for the machine's cores and distort each other's timings.

mod controls;
mod exports;
mod paint;
mod panels;
mod timelines;

use crate::runtime::loadgen::{self, Observer, Run, RunError};
use crate::runtime::now_abs;
use loopscope::fidelity::fidelity;
use loopscope::format;
use loopscope::model::Event;
use loopscope::model::{Faults, Variant};
use loopscope::view::link;
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
    fn lag(&self, samples: &[[f64; 2]]) {
        self.0.borrow_mut().lag(samples.iter().copied());
    }
}

struct App {
    doc: Document,
    glue: String,
    settings: RefCell<Settings>,
    valid: Cell<bool>,
    preset: RefCell<Option<String>>,
    sections: RefCell<Vec<Rc<Section>>>,
    live: RefCell<Option<Live>>,
    code_variant: Cell<Variant>,
    rust_shown: Cell<bool>,
    /// (section index, hit index) under keyboard focus.
    focus: Cell<Option<(usize, usize)>>,
    reduced_motion: bool,
    last_paint: Cell<f64>,
    console_shown: Cell<usize>,
    raf: RefCell<Option<Closure<dyn FnMut()>>>,
    first_timeline: Cell<bool>,
    /// A run started by this page's buttons is going (not one from the console).
    own_run: Cell<bool>,
    /// The last run was refused because the page was hidden.
    hidden_failure: Cell<bool>,
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

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Starts the page (`start_ui(glue_url)` from www/main.js).
pub fn start(glue_url: String) -> Res {
    console_error_panic_hook::set_once();
    let window = web_sys::window().ok_or("no window")?;
    let doc = window.document().ok_or("no document")?;
    let reduced_motion = window
        .match_media("(prefers-reduced-motion: reduce)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches());
    let link = link::from_hash(&window.location().hash().unwrap_or_default());
    let (settings, preset, link_errors) = (link.settings, link.preset, link.errors);
    let app = Rc::new(App {
        doc,
        glue: glue_url,
        settings: RefCell::new(settings),
        valid: Cell::new(true),
        preset: RefCell::new(preset),
        sections: RefCell::default(),
        live: RefCell::default(),
        code_variant: Cell::new(Variant::AsyncIo),
        rust_shown: Cell::new(false),
        focus: Cell::new(None),
        reduced_motion,
        last_paint: Cell::new(0.0),
        console_shown: Cell::new(0),
        raf: RefCell::default(),
        first_timeline: Cell::new(false),
        own_run: Cell::new(false),
        hidden_failure: Cell::new(false),
    });
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
    app.fill_form();
    app.show_preset();
    app.settings_changed(false)?;
    app.link_problems(&link_errors);
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
            *s.predicted.borrow_mut() = predicted;
            *s.measured.borrow_mut() = None;
            s.caption
                .set_inner_html(&caption(s.variant, &s.predicted.borrow(), None));
        }
        if update_link {
            let hash = link::to_hash(&settings, self.preset.borrow().as_deref());
            if let Some(w) = web_sys::window() {
                if let Ok(h) = w.history() {
                    let _ = h.replace_state_with_url(&JsValue::NULL, "", Some(&hash));
                }
            }
        }
        self.set_buttons();
        self.render_stats();
        self.render_console(true);
        self.render_code_counts();
        if self.valid.get() {
            let c = &config;
            self.status(
                &format!(
                    "Ready: {} requests, {} at a time; fetch {} ms, predict {} ms, log {} ms ({}× time); {} threadpool tokens.",
                    c.requests,
                    c.concurrency,
                    c.io_ms,
                    c.cpu_ms,
                    c.bg_ms,
                    settings.scale,
                    c.tokens
                ),
                false,
            );
        }
        self.paint_all();
        Ok(())
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
            self.render_console(true);
            self.set_buttons();
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
            let outcome = loadgen::measure(&Run {
                config: &config,
                faults: &Faults::default(),
                glue_url: &self.glue,
                predicted: &predicted,
                observer: &Tracing(trace.clone()),
            })
            .await;
            let (measured, cancelled) = match outcome {
                Ok(measured) => (measured, None),
                Err(RunError::Cancelled { at_ms }) => (trace.borrow().cut_short(at_ms), Some(at_ms)),
                Err(RunError::Failed(message)) => return Err(JsValue::from_str(&message)),
            };
            let check = fidelity(&predicted, &measured);
            section
                .caption
                .set_inner_html(&caption(v, &predicted, Some((&measured, &check))));
            trace.borrow_mut().finished = Some(measured.clone());
            *section.measured.borrow_mut() = Some(measured);
            self.render_stats();
            self.render_console(false);
            self.render_code_counts();
            self.paint_all();
            if let Some(at_ms) = cancelled {
                *self.live.borrow_mut() = None;
                self.status(
                    &format!(
                        "Cancelled {} {} in: what it measured so far is drawn, cut short. Run again when ready.",
                        v.route(),
                        format::duration(at_ms)
                    ),
                    false,
                );
                return Ok(());
            }
        }
        *self.live.borrow_mut() = None;
        self.render_code_counts();
        self.status(
            "Done. Hover a bar for details, or compare the numbers below: measured, then the model.",
            false,
        );
        Ok(())
    }

    /// Repaints at the display's frame rate while a run is going (four times a second
    /// when the reader prefers reduced motion).
    fn animate(self: &Rc<Self>) {
        if self.raf.borrow().is_some() {
            return;
        }
        let app = self.clone();
        let closure = Closure::<dyn FnMut()>::new(move || {
            let running = app.live.borrow().is_some();
            let now = now_abs();
            if !app.reduced_motion || now - app.last_paint.get() >= 250.0 {
                app.last_paint.set(now);
                app.paint_all();
                app.render_code_counts();
                app.render_console(false);
            }
            if running {
                if let (Some(w), Some(cb)) = (web_sys::window(), app.raf.borrow().as_ref()) {
                    let _ = w.request_animation_frame(cb.as_ref().unchecked_ref());
                }
            } else {
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
