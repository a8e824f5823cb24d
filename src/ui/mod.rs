//! The page (wasm32 only). Everything it shows is computed by the pure view layer
//! ([`crate::view`]); this module keeps the state, wires the DOM and paints.
//!
//! Runs go one after another ("Run all five" too): concurrent servers would compete
//! for the machine's cores and distort each other's timings.

mod paint;

use crate::model::fidelity::{fidelity, Fidelity};
use crate::model::{Report, Stats, Variant};
use crate::view::timeline::{self, Geometry, Layout, Picture};
use crate::view::{code, export, form, live::LiveRun};
use crate::web::{now_abs, page};
use paint::Painter;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    Document, Element, HtmlButtonElement, HtmlCanvasElement, HtmlElement, HtmlInputElement, HtmlSelectElement,
};

/// One variant's timeline on the page.
struct Section {
    variant: Variant,
    caption: Element,
    canvas: HtmlCanvasElement,
    painter: Painter,
    layout: RefCell<Layout>,
    predicted: RefCell<Report>,
    measured: RefCell<Option<Report>>,
}

struct Live {
    variant: Variant,
    run: Rc<RefCell<LiveRun>>,
}

struct App {
    doc: Document,
    glue: String,
    settings: RefCell<form::Settings>,
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
}

type Res<T = ()> = Result<T, JsValue>;

fn by_id<T: JsCast>(doc: &Document, id: &str) -> Res<T> {
    doc.get_element_by_id(id)
        .ok_or_else(|| JsValue::from_str(&format!("#{id} is missing from the page")))?
        .dyn_into::<T>()
        .map_err(|_| JsValue::from_str(&format!("#{id} is not the element expected")))
}

fn on<E: wasm_bindgen::convert::FromWasmAbi + 'static>(
    target: &web_sys::EventTarget,
    event: &str,
    f: impl FnMut(E) + 'static,
) -> Res {
    let closure = Closure::<dyn FnMut(E)>::new(f);
    target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())?;
    closure.forget(); // listeners live as long as the page
    Ok(())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn secs(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.0} ms")
    }
}

/// Starts the page: `start_ui(glue_url)` from www/main.js.
#[wasm_bindgen]
pub fn start_ui(glue_url: String) -> Res {
    let window = web_sys::window().ok_or("no window")?;
    let doc = window.document().ok_or("no document")?;
    let reduced_motion = window
        .match_media("(prefers-reduced-motion: reduce)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches());
    let (settings, preset, link_errors) = form::from_hash(&window.location().hash().unwrap_or_default());
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
    });
    app.code_variant.set(app.settings.borrow().config.variant);
    let watcher = app.clone();
    page::on_running_change(Rc::new(move |running| {
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
    if !link_errors.is_empty() {
        let list: Vec<String> = link_errors.iter().map(|e| e.message.clone()).collect();
        app.status(
            &format!(
                "The link had values loopscope cannot use, so defaults stand in: {}",
                list.join("; ")
            ),
            true,
        );
    }
    Ok(())
}

impl App {
    fn status(&self, text: &str, error: bool) {
        if let Some(el) = self.doc.get_element_by_id("status") {
            el.set_text_content(Some(text));
            let _ = el.class_list().toggle_with_force("error", error);
        }
    }

    fn build_controls(self: &Rc<Self>) -> Res {
        let presets: Element = by_id(&self.doc, "presets")?;
        for p in form::presets() {
            let b: HtmlButtonElement = self.doc.create_element("button")?.dyn_into()?;
            b.set_type("button");
            b.set_text_content(Some(p.title));
            b.set_attribute("data-preset", p.id)?;
            b.set_attribute("aria-pressed", "false")?;
            b.set_attribute("aria-describedby", "preset-explanation")?;
            let app = self.clone();
            let id = p.id;
            on(&b, "click", move |_: web_sys::Event| {
                if let Some(p) = form::preset(id) {
                    *app.settings.borrow_mut() = p.settings.clone();
                    *app.preset.borrow_mut() = Some(id.to_string());
                    app.fill_form();
                    app.show_preset();
                    let _ = app.settings_changed(true);
                }
            })?;
            presets.append_child(&b)?;
        }
        let buttons: Element = by_id(&self.doc, "run-buttons")?;
        for v in Variant::ALL {
            let b: HtmlButtonElement = self.doc.create_element("button")?.dyn_into()?;
            b.set_type("button");
            b.set_attribute("data-run", v.id())?;
            b.set_inner_html(&format!(
                "<b>{}</b><span>{} — {}</span>",
                escape(v.route()),
                v.id(),
                escape(v.summary())
            ));
            let app = self.clone();
            on(&b, "click", move |_: web_sys::Event| app.clone().start(vec![v]))?;
            buttons.append_child(&b)?;
        }
        let all: HtmlButtonElement = self.doc.create_element("button")?.dyn_into()?;
        all.set_type("button");
        all.set_attribute("data-run", "all")?;
        all.set_inner_html(
            "<b>Run all five</b><span>one after another on one time axis (at once, they would fight over the CPU cores)</span>",
        );
        let app = self.clone();
        on(&all, "click", move |_: web_sys::Event| {
            app.clone().start(Variant::ALL.to_vec())
        })?;
        buttons.append_child(&all)?;

        let settings: Element = by_id(&self.doc, "settings")?;
        let app = self.clone();
        on(&settings, "input", move |_: web_sys::Event| {
            *app.preset.borrow_mut() = None;
            let _ = app.read_form();
        })?;
        let app = self.clone();
        on(&settings, "submit", move |e: web_sys::Event| {
            e.prevent_default();
            if app.valid.get() {
                let v = app.settings.borrow().config.variant;
                app.clone().start(vec![v]);
            }
        })?;
        let window = web_sys::window().ok_or("no window")?;
        let app = self.clone();
        on(&window, "resize", move |_: web_sys::Event| app.paint_all())?;
        let app = self.clone();
        on(&window, "hashchange", move |_: web_sys::Event| {
            if app.live.borrow().is_some() {
                return;
            }
            let hash = web_sys::window()
                .and_then(|w| w.location().hash().ok())
                .unwrap_or_default();
            let (settings, preset, _) = form::from_hash(&hash);
            if settings != *app.settings.borrow() {
                *app.settings.borrow_mut() = settings;
                *app.preset.borrow_mut() = preset;
                app.fill_form();
                app.show_preset();
                let _ = app.settings_changed(false);
            }
        })?;
        for (id, f) in [
            ("export-json", App::export_json as fn(&App) -> Res),
            ("export-csv", App::export_csv),
            ("export-png", App::export_png),
        ] {
            let button: HtmlButtonElement = by_id(&self.doc, id)?;
            let app = self.clone();
            on(&button, "click", move |_: web_sys::Event| {
                if let Err(e) = f(&app) {
                    app.status(&format!("Export failed: {e:?}"), true);
                }
            })?;
        }
        Ok(())
    }

    fn input(&self, field: &str) -> Option<Element> {
        self.doc.get_element_by_id(&format!("f-{field}"))
    }

    fn fill_form(&self) {
        let s = self.settings.borrow();
        let c = &s.config;
        let work = match c.work {
            crate::model::Work::Sleep => "sleep",
            crate::model::Work::Compute => "compute",
        };
        let values = [
            ("requests", c.requests.to_string()),
            ("concurrency", c.concurrency.to_string()),
            ("io_ms", format!("{}", c.io_ms)),
            ("cpu_ms", format!("{}", c.cpu_ms)),
            ("bg_ms", format!("{}", c.bg_ms)),
            ("tokens", c.tokens.to_string()),
            ("work", work.to_string()),
            ("scale", format!("{}", s.scale)),
        ];
        for (field, value) in values {
            match self.input(field) {
                Some(el) if field == "work" => {
                    if let Ok(sel) = el.dyn_into::<HtmlSelectElement>() {
                        sel.set_value(&value);
                    }
                }
                Some(el) => {
                    if let Ok(inp) = el.dyn_into::<HtmlInputElement>() {
                        inp.set_value(&value);
                    }
                }
                None => {}
            }
        }
    }

    fn raw_form(&self) -> Vec<(&'static str, String)> {
        form::FIELDS
            .iter()
            .filter_map(|&f| {
                let el = self.input(f)?;
                let value = match el.dyn_ref::<HtmlSelectElement>() {
                    Some(sel) => sel.value(),
                    None => el.dyn_ref::<HtmlInputElement>()?.value(),
                };
                Some((f, value))
            })
            .collect()
    }

    /// Validates the form with the core's rules: every problem beside its field, the
    /// run buttons disabled until none is left. Never clamps.
    fn read_form(self: &Rc<Self>) -> Res {
        let raw = self.raw_form();
        let base = self.settings.borrow().clone();
        let result = form::parse(&base, &raw);
        let errors = result.as_ref().err().cloned().unwrap_or_default();
        for &field in form::FIELDS.iter() {
            let message = errors
                .iter()
                .find(|e| e.field == field)
                .map(|e| e.message.clone());
            if let Some(el) = self.doc.get_element_by_id(&format!("e-{field}")) {
                el.set_text_content(message.as_deref());
            }
            if let Some(input) = self.input(field) {
                let _ = input.set_attribute("aria-invalid", if message.is_some() { "true" } else { "false" });
            }
        }
        match result {
            Ok(settings) => {
                let variant = self.settings.borrow().config.variant;
                *self.settings.borrow_mut() = form::Settings {
                    config: settings.config.with_variant(variant),
                    ..settings
                };
                self.valid.set(true);
                self.show_preset();
                self.settings_changed(true)
            }
            Err(_) => {
                self.valid.set(false);
                self.set_buttons();
                self.status(
                    "Fix the highlighted field to run (each says what it needs).",
                    true,
                );
                Ok(())
            }
        }
    }

    fn show_preset(&self) {
        let preset = self.preset.borrow().clone().and_then(|id| form::preset(&id));
        if let Ok(list) = self.doc.query_selector_all("[data-preset]") {
            for i in 0..list.length() {
                if let Some(el) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    let active = preset
                        .as_ref()
                        .is_some_and(|p| el.get_attribute("data-preset").as_deref() == Some(p.id));
                    let _ = el.set_attribute("aria-pressed", if active { "true" } else { "false" });
                    let _ = el.class_list().toggle_with_force("active", active);
                }
            }
        }
        if let Some(el) = self.doc.get_element_by_id("preset-explanation") {
            el.set_text_content(preset.as_ref().map(|p| p.explanation));
        }
        for v in Variant::ALL {
            if let Ok(Some(b)) = self.doc.query_selector(&format!("[data-run=\"{}\"]", v.id())) {
                let suggested = preset.as_ref().is_some_and(|p| p.suggested.contains(&v));
                let _ = b.class_list().toggle_with_force("suggested", suggested);
            }
        }
    }

    fn set_buttons(&self) {
        // This page's own run, or one started from the console with loopscope.run.
        let running = self.live.borrow().is_some() || page::is_running();
        if let Ok(list) = self.doc.query_selector_all("[data-run], [data-preset]") {
            for i in 0..list.length() {
                if let Some(b) = list.item(i).and_then(|n| n.dyn_into::<HtmlButtonElement>().ok()) {
                    let is_run = b.has_attribute("data-run");
                    b.set_disabled(running || (is_run && !self.valid.get()));
                }
            }
        }
        if let Ok(list) = self.doc.query_selector_all("#settings input, #settings select") {
            for i in 0..list.length() {
                if let Some(node) = list.item(i) {
                    if let Some(inp) = node.dyn_ref::<HtmlInputElement>() {
                        inp.set_disabled(running);
                    } else if let Some(sel) = node.dyn_ref::<HtmlSelectElement>() {
                        sel.set_disabled(running);
                    }
                }
            }
        }
        let has_results = self
            .sections
            .borrow()
            .iter()
            .any(|s| s.measured.borrow().is_some());
        for id in ["export-json", "export-csv", "export-png"] {
            if let Ok(b) = by_id::<HtmlButtonElement>(&self.doc, id) {
                b.set_disabled(running || (id != "export-png" && !has_results));
            }
        }
        if let Some(body) = self.doc.body() {
            let _ = body.set_attribute("data-running", if running { "true" } else { "false" });
        }
    }

    /// New settings: new predictions, the link updated, old measurements dropped
    /// (they were for other settings).
    fn settings_changed(self: &Rc<Self>, update_link: bool) -> Res {
        let settings = self.settings.borrow().clone();
        let config = form::scaled(&settings);
        for s in self.sections.borrow().iter() {
            let predicted = crate::simulate(&config.with_variant(s.variant))
                .map_err(|e| JsValue::from_str(&e.message))?;
            *s.predicted.borrow_mut() = predicted;
            *s.measured.borrow_mut() = None;
            s.caption
                .set_inner_html(&caption(s.variant, &s.predicted.borrow(), None));
        }
        if update_link {
            let hash = form::to_hash(&settings, self.preset.borrow().as_deref());
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

    fn build_sections(self: &Rc<Self>) -> Res {
        let host: Element = by_id(&self.doc, "timelines")?;
        let config = form::scaled(&self.settings.borrow());
        let mut sections = Vec::new();
        for (i, v) in Variant::ALL.into_iter().enumerate() {
            let figure = self.doc.create_element("figure")?;
            figure.set_class_name("timeline");
            figure.set_attribute("data-variant", v.id())?;
            let caption = self.doc.create_element("figcaption")?;
            let canvas: HtmlCanvasElement = self.doc.create_element("canvas")?.dyn_into()?;
            canvas.set_tab_index(0);
            canvas.set_attribute("role", "img")?;
            canvas.set_attribute(
                "aria-label",
                &format!("Timeline of {}: request lanes, event-loop stalls and probe lag. Use the arrow keys to step through its phases.", v.id()),
            )?;
            figure.append_child(&caption)?;
            figure.append_child(&canvas)?;
            host.append_child(&figure)?;
            let predicted =
                crate::simulate(&config.with_variant(v)).map_err(|e| JsValue::from_str(&e.message))?;
            let section = Rc::new(Section {
                variant: v,
                caption,
                painter: Painter::new(&canvas)?,
                canvas: canvas.clone(),
                layout: RefCell::default(),
                predicted: RefCell::new(predicted),
                measured: RefCell::default(),
            });
            self.wire_canvas(i, &canvas)?;
            sections.push(section);
        }
        *self.sections.borrow_mut() = sections;
        Ok(())
    }

    fn wire_canvas(self: &Rc<Self>, index: usize, canvas: &HtmlCanvasElement) -> Res {
        let app = self.clone();
        on(canvas, "mousemove", move |e: web_sys::MouseEvent| {
            let text = app.sections.borrow().get(index).and_then(|s| {
                let layout = s.layout.borrow();
                timeline::hit_at(&layout, f64::from(e.offset_x()), f64::from(e.offset_y()))
                    .map(|i| layout.hits[i].text.clone())
            });
            app.tooltip(text.as_deref(), f64::from(e.client_x()), f64::from(e.client_y()));
        })?;
        let app = self.clone();
        on(canvas, "mouseleave", move |_: web_sys::Event| {
            app.tooltip(None, 0.0, 0.0)
        })?;
        let app = self.clone();
        on(canvas, "blur", move |_: web_sys::Event| {
            app.focus.set(None);
            app.tooltip(None, 0.0, 0.0);
            app.paint_all();
        })?;
        let app = self.clone();
        on(canvas, "keydown", move |e: web_sys::KeyboardEvent| {
            let count = app
                .sections
                .borrow()
                .get(index)
                .map_or(0, |s| s.layout.borrow().hits.len());
            if count == 0 {
                return;
            }
            let current = app.focus.get().filter(|(s, _)| *s == index).map(|(_, h)| h);
            let next = match e.key().as_str() {
                "ArrowRight" | "ArrowDown" => Some(current.map_or(0, |h| (h + 1) % count)),
                "ArrowLeft" | "ArrowUp" => Some(current.map_or(count - 1, |h| (h + count - 1) % count)),
                "Home" => Some(0),
                "End" => Some(count - 1),
                "Escape" => None,
                _ => return,
            };
            e.prevent_default();
            app.focus.set(next.map(|h| (index, h)));
            app.paint_all();
            app.show_focused();
        })?;
        Ok(())
    }

    fn show_focused(&self) {
        let Some((si, hi)) = self.focus.get() else {
            self.tooltip(None, 0.0, 0.0);
            return;
        };
        let sections = self.sections.borrow();
        let Some(s) = sections.get(si) else { return };
        let layout = s.layout.borrow();
        let Some(hit) = layout.hits.get(hi) else { return };
        let rect = s.canvas.get_bounding_client_rect();
        self.tooltip(Some(&hit.text), rect.left() + hit.x, rect.top() + hit.y + hit.h);
    }

    fn tooltip(&self, text: Option<&str>, x: f64, y: f64) {
        let Ok(tip) = by_id::<HtmlElement>(&self.doc, "tooltip") else {
            return;
        };
        match text {
            Some(t) => {
                tip.set_text_content(Some(t));
                tip.set_hidden(false);
                let width = web_sys::window()
                    .and_then(|w| w.inner_width().ok())
                    .and_then(|v| v.as_f64())
                    .unwrap_or(1280.0);
                let left = (x + 14.0).min(width - 300.0).max(4.0);
                let _ = tip.style().set_property("left", &format!("{left}px"));
                let _ = tip.style().set_property("top", &format!("{}px", y + 14.0));
            }
            None => tip.set_hidden(true),
        }
    }

    fn build_code_panel(self: &Rc<Self>) -> Res {
        let select: HtmlSelectElement = by_id(&self.doc, "code-variant")?;
        for v in Variant::ALL {
            let option = self.doc.create_element("option")?;
            option.set_attribute("value", v.id())?;
            option.set_text_content(Some(&format!("{} ({})", v.route(), v.id())));
            select.append_child(&option)?;
        }
        select.set_value(self.code_variant.get().id());
        let app = self.clone();
        let sel = select.clone();
        on(&select, "change", move |_: web_sys::Event| {
            if let Ok(v) = sel.value().parse() {
                app.code_variant.set(v);
                app.render_code();
                app.render_console(true);
            }
        })?;
        let toggle: HtmlButtonElement = by_id(&self.doc, "code-lang")?;
        let app = self.clone();
        let t = toggle.clone();
        on(&toggle, "click", move |_: web_sys::Event| {
            let rust = !app.rust_shown.get();
            app.rust_shown.set(rust);
            let _ = t.set_attribute("aria-pressed", if rust { "true" } else { "false" });
            t.set_text_content(Some(if rust {
                "Show the Python"
            } else {
                "Show the Rust it runs"
            }));
            app.render_code();
        })?;
        self.render_code();
        Ok(())
    }

    fn render_code(&self) {
        let Ok(list) = by_id::<Element>(&self.doc, "code-lines") else {
            return;
        };
        let v = self.code_variant.get();
        if let Ok(sel) = by_id::<HtmlSelectElement>(&self.doc, "code-variant") {
            sel.set_value(v.id());
        }
        let rust = self.rust_shown.get();
        list.set_class_name(if rust { "code rust" } else { "code" });
        let lines: Vec<&str> = if rust {
            code::rust(v).lines().collect()
        } else {
            code::python(v).to_vec()
        };
        let html: String = lines
            .iter()
            .map(|l| format!("<li><code>{}</code></li>", escape(l)))
            .collect();
        list.set_inner_html(&html);
        self.render_code_counts();
    }

    /// Lights each Python line that has requests in it now, with the count.
    fn render_code_counts(&self) {
        if self.rust_shown.get() {
            return;
        }
        let v = self.code_variant.get();
        let live = self.live.borrow();
        let positions = match live.as_ref() {
            Some(l) if l.variant == v => {
                let run = l.run.borrow();
                let now = run.t0_abs.map_or(0.0, |t0| now_abs() - t0);
                run.positions(now)
            }
            _ => Vec::new(),
        };
        let counts = code::counts(v, &positions);
        let Ok(items) = self.doc.query_selector_all("#code-lines li") else {
            return;
        };
        for i in 0..items.length() {
            let Some(li) = items.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
                continue;
            };
            let n = counts.get(i as usize).copied().unwrap_or(0);
            let _ = li.class_list().toggle_with_force("lit", n > 0);
            let badge = li.query_selector(".count").ok().flatten();
            match (n, badge) {
                (0, Some(b)) => b.remove(),
                (0, None) => {}
                (n, Some(b)) => b.set_text_content(Some(&format!("×{n}"))),
                (n, None) => {
                    if let Ok(b) = self.doc.create_element("span") {
                        b.set_class_name("count");
                        let _ = b.set_attribute("aria-label", &format!("{n} requests here"));
                        b.set_text_content(Some(&format!("×{n}")));
                        let _ = li.append_child(&b);
                    }
                }
            }
        }
    }

    /// The console of the code panel's variant: the live run's, else the measured
    /// one, else the prediction's.
    fn render_console(&self, reset: bool) {
        let Ok(list) = by_id::<Element>(&self.doc, "console-lines") else {
            return;
        };
        if reset {
            list.set_inner_html("");
            self.console_shown.set(0);
        }
        let v = self.code_variant.get();
        let line_html = |t: f64, r: u64, text: &str| {
            let bg = text.contains("Background Task") || text.starts_with("Logging");
            format!(
                "<li{}><span class=\"t\">{:.3} s</span><span class=\"r\">req {r}</span>{}</li>",
                if bg { " class=\"bg\"" } else { "" },
                t / 1000.0,
                escape(text)
            )
        };
        const MOST: usize = 2000;
        let live = self.live.borrow();
        let mut html = String::new();
        match live.as_ref() {
            Some(l) if l.variant == v => {
                let run = l.run.borrow();
                let lines = run.console();
                let from = self.console_shown.get();
                for c in lines.iter().skip(from).take(MOST.saturating_sub(from)) {
                    html.push_str(&line_html(c.t_ms, c.request, &c.line));
                }
                self.console_shown.set(lines.len().min(MOST));
            }
            _ if reset => {
                let sections = self.sections.borrow();
                if let Some(s) = sections.iter().find(|s| s.variant == v) {
                    let measured = s.measured.borrow();
                    let predicted = s.predicted.borrow();
                    let report = measured.as_ref().unwrap_or(&predicted);
                    for c in report.console.iter().take(MOST) {
                        html.push_str(&line_html(c.t_ms, c.request, &c.line));
                    }
                    self.console_shown.set(report.console.len().min(MOST));
                }
            }
            _ => {}
        }
        if !html.is_empty() {
            let _ = list.insert_adjacent_html("beforeend", &html);
            if let Some(el) = list.dyn_ref::<HtmlElement>() {
                el.set_scroll_top(el.scroll_height());
            }
        }
    }

    fn render_stats(&self) {
        let Ok(body) = by_id::<Element>(&self.doc, "stats-rows") else {
            return;
        };
        let html: String = self
            .sections
            .borrow()
            .iter()
            .map(|s| stats_row(s.variant, &s.predicted.borrow(), s.measured.borrow().as_ref()))
            .collect();
        body.set_inner_html(&html);
    }

    /// The span every timeline shares, so they line up.
    fn span_ms(&self, now: Option<f64>) -> f64 {
        let sections = self.sections.borrow();
        let mut span: f64 = 1.0;
        for s in sections.iter() {
            let p = s.predicted.borrow();
            span = span
                .max(p.stats.makespan_ms)
                .max(p.stats.background_done_ms.unwrap_or(0.0));
            if let Some(m) = s.measured.borrow().as_ref() {
                span = span.max(Picture::from_report(m).end_ms);
            }
        }
        if let Some(now) = now {
            span = span.max(now);
        }
        span * 1.03
    }

    fn paint_all(&self) {
        let live = self.live.borrow();
        let now = live
            .as_ref()
            .and_then(|l| l.run.borrow().t0_abs.map(|t0| now_abs() - t0));
        let span = self.span_ms(now);
        let sections = self.sections.borrow();
        let many = sections.len() > 1;
        for (i, s) in sections.iter().enumerate() {
            let width = s.canvas.client_width().max(300) as f64;
            let ghost = Picture::from_report(&s.predicted.borrow());
            let (real, cursor) = match live.as_ref() {
                Some(l) if l.variant == s.variant => {
                    let run = l.run.borrow();
                    (
                        Some(run.picture(now.unwrap_or(0.0))),
                        if run.finished.is_none() { now } else { None },
                    )
                }
                _ => (s.measured.borrow().as_ref().map(Picture::from_report), None),
            };
            let geo = Geometry {
                width,
                span_ms: span,
                lanes_px: if many { 96.0 } else { 220.0 },
            };
            let layout = timeline::layout(&ghost, real.as_ref(), geo, cursor);
            let focused = self
                .focus
                .get()
                .filter(|(si, _)| *si == i)
                .and_then(|(_, hi)| layout.hits.get(hi).cloned());
            s.painter.paint(&s.canvas, &layout, focused.as_ref());
            *s.layout.borrow_mut() = layout;
        }
        if !self.first_timeline.replace(true) {
            if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
                let _ = p.mark("loopscope-first-timeline");
            }
        }
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
                self.status(&format!("The run failed: {message}"), true);
            }
            *self.live.borrow_mut() = None;
            self.set_buttons();
            self.paint_all();
        });
    }

    async fn run(self: &Rc<Self>, variants: Vec<Variant>) -> Res {
        let _running = page::begin_run()?;
        let settings = self.settings.borrow().clone();
        let config = form::scaled(&settings);
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
            let predicted_ms = section.predicted.borrow().stats.makespan_ms;
            let run = Rc::new(RefCell::new(LiveRun::new(config.clone())));
            *self.live.borrow_mut() = Some(Live {
                variant: v,
                run: run.clone(),
            });
            self.code_variant.set(v);
            self.render_code();
            self.render_console(true);
            self.set_buttons();
            self.status(
                &format!(
                    "Running {} ({} of {total}): {} requests, {} at a time…",
                    v.route(),
                    i + 1,
                    config.requests,
                    config.concurrency
                ),
                false,
            );
            self.animate();
            let measured = page::measure(&config, &self.glue, predicted_ms, Some(run.clone())).await?;
            let check = fidelity(&section.predicted.borrow(), &measured);
            section.caption.set_inner_html(&caption(
                v,
                &section.predicted.borrow(),
                Some((&measured, &check)),
            ));
            run.borrow_mut().finished = Some(measured.clone());
            *section.measured.borrow_mut() = Some(measured);
            self.render_stats();
            self.render_console(false);
            self.render_code_counts();
            self.paint_all();
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

    fn results(&self) -> Vec<(Variant, Report, Report, Fidelity)> {
        self.sections
            .borrow()
            .iter()
            .filter_map(|s| {
                let m = s.measured.borrow().clone()?;
                let p = s.predicted.borrow().clone();
                let f = fidelity(&p, &m);
                Some((s.variant, p, m, f))
            })
            .collect()
    }

    fn export_json(&self) -> Res {
        let settings = self.settings.borrow();
        let runs: Vec<serde_json::Value> = self
            .results()
            .into_iter()
            .map(|(v, p, m, f)| serde_json::json!({ "variant": v, "predicted": p, "measured": m, "fidelity": f }))
            .collect();
        let doc = serde_json::json!({
            "generated_by": "loopscope",
            "link": form::to_hash(&settings, self.preset.borrow().as_deref()),
            "time_scale": settings.scale,
            "runs": runs,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| JsValue::from_str(&e.to_string()))?;
        download(&self.doc, "loopscope-report.json", "application/json", &text)
    }

    fn export_csv(&self) -> Res {
        let results = self.results();
        let reports: Vec<&Report> = results.iter().flat_map(|(_, p, m, _)| [p, m]).collect();
        download(
            &self.doc,
            "loopscope-requests.csv",
            "text/csv",
            &export::requests_csv(&reports),
        )
    }

    /// Every timeline stacked in one PNG, each under its endpoint's name.
    fn export_png(&self) -> Res {
        let sections = self.sections.borrow();
        let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0);
        let title_h = 22.0 * dpr;
        let width = sections.iter().map(|s| s.canvas.width()).max().unwrap_or(800) as f64;
        let height: f64 = sections.iter().map(|s| s.canvas.height() as f64 + title_h).sum();
        let out: HtmlCanvasElement = self.doc.create_element("canvas")?.dyn_into()?;
        out.set_width(width as u32);
        out.set_height(height as u32);
        let ctx: web_sys::CanvasRenderingContext2d =
            out.get_context("2d")?.ok_or("no 2d context")?.dyn_into()?;
        ctx.set_fill_style_str("#ffffff");
        ctx.fill_rect(0.0, 0.0, width, height);
        let mut y = 0.0;
        for s in sections.iter() {
            ctx.set_fill_style_str("#1b1b1b");
            ctx.set_font(&format!("bold {}px system-ui, sans-serif", 14.0 * dpr));
            let label = match s.measured.borrow().as_ref() {
                Some(m) => format!("{} — measured {}", s.variant.route(), secs(m.stats.makespan_ms)),
                None => format!(
                    "{} — predicted {}",
                    s.variant.route(),
                    secs(s.predicted.borrow().stats.makespan_ms)
                ),
            };
            ctx.fill_text(&label, 8.0 * dpr, y + 16.0 * dpr)?;
            y += title_h;
            ctx.draw_image_with_html_canvas_element(&s.canvas, 0.0, y)?;
            y += s.canvas.height() as f64;
        }
        let url = out.to_data_url_with_type("image/png")?;
        click_download(&self.doc, "loopscope-timelines.png", &url)
    }
}

fn click_download(doc: &Document, name: &str, href: &str) -> Res {
    let a: web_sys::HtmlAnchorElement = doc.create_element("a")?.dyn_into()?;
    a.set_href(href);
    a.set_download(name);
    a.click();
    Ok(())
}

fn download(doc: &Document, name: &str, mime: &str, text: &str) -> Res {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    click_download(doc, name, &url)?;
    web_sys::Url::revoke_object_url(&url)
}

/// The line over a timeline: endpoint, what it does, and the result in a few words.
fn caption(v: Variant, predicted: &Report, measured: Option<(&Report, &Fidelity)>) -> String {
    let p = &predicted.stats;
    let result = match measured {
        Some((m, f)) => {
            let warnings: String = m.measurement.as_ref().map_or(String::new(), |x| {
                x.warnings
                    .iter()
                    .map(|w| format!(" · <span class=\"warning\">⚠ {}</span>", escape(w)))
                    .collect()
            });
            format!(
                "measured <b>{}</b> (model {}){} · {} stalls, longest {}{warnings}",
                secs(m.stats.makespan_ms),
                secs(p.makespan_ms),
                if f.ok {
                    ""
                } else {
                    " — outside the model's tolerance"
                },
                m.loop_stalls.len(),
                secs(m.stats.loop_stall_max_ms)
            )
        }
        None if p.loop_stall_total_ms > 0.0 => format!(
            "model: last response at <b>{}</b>, loop blocked {}",
            secs(p.makespan_ms),
            secs(p.loop_stall_total_ms)
        ),
        None => format!(
            "model: last response at <b>{}</b>, loop never blocked",
            secs(p.makespan_ms)
        ),
    };
    format!(
        "<b>{}</b><span>{}</span><span class=\"verdict\">{}</span>",
        escape(v.route()),
        escape(v.summary()),
        result
    )
}

fn stats_row(v: Variant, predicted: &Report, measured: Option<&Report>) -> String {
    type Metric = (&'static str, fn(&Stats) -> Option<f64>, bool);
    let metrics: [Metric; 8] = [
        ("makespan_ms", |s| Some(s.makespan_ms), true),
        ("throughput_rps", |s| Some(s.throughput_rps), false),
        ("p50_ms", |s| Some(s.latency_ms.p50), true),
        ("p95_ms", |s| Some(s.latency_ms.p95), true),
        ("max_ms", |s| Some(s.latency_ms.max), true),
        ("loop_stall_total_ms", |s| Some(s.loop_stall_total_ms), true),
        ("loop_stall_max_ms", |s| Some(s.loop_stall_max_ms), true),
        ("probe_stall_total_ms", |s| s.probe_stall_total_ms, true),
    ];
    let check = measured.map(|m| fidelity(predicted, m));
    let fmt = |x: f64, ms: bool| if ms { secs(x) } else { format!("{x:.2}") };
    // `data-variant` marks a finished (measured) row, the tests' hook; a row with the
    // model's numbers alone says which variant it is in `data-model-only`.
    let hook = if measured.is_some() {
        "data-variant"
    } else {
        "data-model-only"
    };
    let mut html = format!(
        "<tr {hook}=\"{}\"><th scope=\"row\"><code>{}</code></th><td data-metric=\"requests\">{}</td>",
        v.id(),
        v.id(),
        predicted.requests.len()
    );
    for (key, get, ms) in metrics {
        let p = if key == "probe_stall_total_ms" {
            // The probe is compared with the measured ground truth.
            measured.map(|m| m.stats.loop_stall_total_ms)
        } else {
            get(&predicted.stats)
        };
        let m = measured.and_then(|m| get(&m.stats));
        let bad = check
            .as_ref()
            .and_then(|c| {
                c.checks.iter().find(|x| match key {
                    "makespan_ms" => x.name == "makespan_ms",
                    "loop_stall_total_ms" => x.name == "loop_stall_total_ms",
                    "probe_stall_total_ms" => x.name.starts_with("probe_stall_total_ms"),
                    _ => false,
                })
            })
            .is_some_and(|x| !x.ok);
        let attr = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x}"));
        let cell = match (m, p) {
            (Some(m), Some(p)) => {
                let diff = if p.abs() > 1e-9 {
                    format!("{:+.1}%", (m - p) / p * 100.0)
                } else if ms {
                    format!("{:+.0} ms", m - p)
                } else {
                    format!("{:+.2}", m - p)
                };
                let what = if key == "probe_stall_total_ms" {
                    "truth"
                } else {
                    "model"
                };
                format!(
                    "<span class=\"m\">{}</span><span class=\"p\">{what} {} <span class=\"d{}\">{diff}</span></span>",
                    fmt(m, ms),
                    fmt(p, ms),
                    if bad { " bad" } else { "" }
                )
            }
            (None, Some(p)) => format!(
                "<span class=\"m\">—</span><span class=\"p\">model {}</span>",
                fmt(p, ms)
            ),
            _ => "<span class=\"m\">—</span>".to_string(),
        };
        html.push_str(&format!(
            "<td data-metric=\"{key}\" data-measured=\"{}\" data-predicted=\"{}\">{cell}</td>",
            attr(m),
            attr(p)
        ));
    }
    html.push_str("</tr>");
    html
}
