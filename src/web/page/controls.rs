//! The controls: presets, the form, the run buttons. What was typed is read by the
//! core's rules (`loopscope::view::settings::read`): each problem beside its field.

use super::{by_id, escape, on, App, Res};
use crate::runtime::loadgen;
use loopscope::model::input::Raw;
use loopscope::model::{Variant, Work};
use loopscope::view::calibration;
use loopscope::view::link::{self, View};
use loopscope::view::presets;
use loopscope::view::settings::{self, FORM_FIELDS};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlButtonElement, HtmlInputElement, HtmlSelectElement};

impl App {
    pub(super) fn build_controls(self: &Rc<Self>) -> Res {
        let presets: Element = by_id(&self.doc, "presets")?;
        for p in presets::presets() {
            let b: HtmlButtonElement = self.doc.create_element("button")?.dyn_into()?;
            b.set_type("button");
            b.set_text_content(Some(p.title));
            b.set_attribute("data-preset", p.id)?;
            b.set_attribute("aria-pressed", "false")?;
            b.set_attribute("aria-describedby", "preset-explanation")?;
            let app = self.clone();
            let id = p.id;
            on(&b, "click", move |_: web_sys::Event| {
                if let Some(p) = presets::preset(id) {
                    *app.settings.borrow_mut() = p.settings_here(crate::runtime::hardware_concurrency());
                    {
                        let mut view = app.view.borrow_mut();
                        view.preset = Some(id.to_string());
                        view.show = View::show_of(p.shown);
                    }
                    app.apply_shown();
                    app.fill_form();
                    // Read back what the form now holds: old errors go with old values.
                    let _ = app.read_form();
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
                "<b>{}</b><span>{}</span>",
                escape(v.route()),
                escape(v.summary())
            ));
            let app = self.clone();
            on(&b, "click", move |_: web_sys::Event| app.clone().start(vec![v]))?;
            buttons.append_child(&b)?;
        }
        let all: HtmlButtonElement = self.doc.create_element("button")?.dyn_into()?;
        all.set_type("button");
        all.set_attribute("data-run", "all")?;
        let app = self.clone();
        on(&all, "click", move |_: web_sys::Event| {
            let shown = app.view.borrow().shown();
            app.clone().start(shown)
        })?;
        buttons.append_child(&all)?;
        // Which endpoints the page shows: a preset's, or the reader's choice.
        let shown: Element = by_id(&self.doc, "shown")?;
        for v in Variant::ALL {
            let label = self.doc.create_element("label")?;
            let check: HtmlInputElement = self.doc.create_element("input")?.dyn_into()?;
            check.set_type("checkbox");
            check.set_attribute("data-show", v.id())?;
            label.append_child(&check)?;
            label.insert_adjacent_text(
                "beforeend",
                &format!(" {}", v.route().trim_start_matches("POST ")),
            )?;
            let app = self.clone();
            on(&check, "change", move |_: web_sys::Event| app.toggle_shown(v))?;
            shown.append_child(&label)?;
        }

        let cancel: HtmlButtonElement = by_id(&self.doc, "cancel")?;
        on(&cancel, "click", move |_: web_sys::Event| {
            loadgen::cancel();
        })?;
        // Escape stops a run, wherever the focus is.
        on(&self.doc, "keydown", move |e: web_sys::KeyboardEvent| {
            if e.key() == "Escape" && loadgen::is_running() && loadgen::cancel() {
                e.prevent_default();
            }
        })?;
        let settings: Element = by_id(&self.doc, "settings")?;
        let app = self.clone();
        on(&settings, "input", move |_: web_sys::Event| {
            app.view.borrow_mut().preset = None;
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
            let read = link::from_hash(&hash);
            let problems = read.beyond_the_form();
            *app.settings.borrow_mut() = read.settings;
            *app.view.borrow_mut() = read.view;
            app.apply_shown();
            app.fill_form();
            app.type_into_form(&read.typed);
            let _ = app.read_form();
            app.link_problems(&problems);
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

    pub(super) fn input(&self, field: &str) -> Option<Element> {
        self.doc.get_element_by_id(&format!("f-{field}"))
    }

    pub(super) fn fill_form(&self) {
        let s = self.settings.borrow();
        let c = &s.config;
        let work = c.work.id();
        let values = [
            ("requests", c.requests.to_string()),
            ("concurrency", c.concurrency.to_string()),
            ("io_ms", format!("{}", c.io_ms)),
            ("cpu_ms", format!("{}", c.cpu_ms)),
            ("bg_ms", format!("{}", c.bg_ms)),
            ("tokens", c.tokens.to_string()),
            ("work", work.to_string()),
            ("processes", c.processes.to_string()),
            ("queue_workers", c.queue_workers.to_string()),
            ("workers", c.workers.to_string()),
            ("overhead_ms", format!("{}", c.overhead_ms)),
            ("scale", format!("{}", s.scale)),
        ];
        self.model_options(c.overhead_ms);
        for (field, value) in values {
            match self.input(field) {
                Some(el) if field == "work" || field == "overhead_ms" => {
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

    /// Puts `typed` (field, text) in the form as if typed: a select shows a value it
    /// does not offer as an option of its own, so the form's rule quotes it.
    pub(super) fn type_into_form(&self, typed: &[(String, String)]) {
        for (field, value) in typed {
            let Some(el) = self.input(field) else { continue };
            if let Some(sel) = el.dyn_ref::<HtmlSelectElement>() {
                sel.set_value(value);
                if sel.value() != *value {
                    if let Ok(option) = web_sys::HtmlOptionElement::new_with_text_and_value(value, value) {
                        let _ = sel.add_with_html_option_element(&option);
                        sel.set_value(value);
                    }
                }
            } else if let Some(inp) = el.dyn_ref::<HtmlInputElement>() {
                inp.set_value(value);
            }
        }
    }

    /// Each field of the form as typed.
    pub(super) fn raw_form(&self) -> Vec<(String, Raw)> {
        FORM_FIELDS
            .iter()
            .filter_map(|&f| {
                let el = self.input(f)?;
                let value = match el.dyn_ref::<HtmlSelectElement>() {
                    Some(sel) => sel.value(),
                    None => el.dyn_ref::<HtmlInputElement>()?.value(),
                };
                Some((f.to_string(), Raw::Typed(value)))
            })
            .collect()
    }

    /// Validates the form with the core's rules: every problem beside its field, the
    /// run buttons disabled until none is left. Never clamps.
    pub(super) fn read_form(self: &Rc<Self>) -> Res {
        let raw = self.raw_form();
        let base = self.settings.borrow().clone();
        let result = settings::read(&base, &raw).ok();
        let errors = result.as_ref().err().cloned().unwrap_or_default();
        // A bad value past the tutorial's fields opens their part of the form: it is
        // flagged where it can be seen.
        if errors
            .iter()
            .any(|e| settings::EXTRA_FORM_FIELDS.contains(&e.field))
        {
            if let Ok(beyond) = by_id::<web_sys::HtmlDetailsElement>(&self.doc, "beyond") {
                beyond.set_open(true);
            }
        }
        for &field in FORM_FIELDS.iter() {
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
                *self.settings.borrow_mut() = settings::Settings {
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

    pub(super) fn show_preset(&self) {
        let preset = self
            .view
            .borrow()
            .preset
            .clone()
            .and_then(|id| presets::preset(&id));
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
        // Present mode names the scenario on screen (the presets are hidden there).
        if let Some(el) = self.doc.get_element_by_id("present-title") {
            let c = &self.settings.borrow().config;
            let sent = if c.concurrency >= c.requests {
                "all at once".to_string()
            } else {
                format!("{} at a time", c.concurrency)
            };
            let title = match &preset {
                // A title that counts the requests already is not said twice.
                Some(p) if p.title.contains(" requests") => format!("{}, sent {sent}", p.title),
                Some(p) => format!("{}: {} requests, sent {sent}", p.title, c.requests),
                None => format!("Your settings: {} requests, sent {sent}", c.requests),
            };
            el.set_text_content(Some(&title));
            let _ = el.toggle_attribute_with_force("hidden", !self.present.get());
        }
        if let Some(el) = self.doc.get_element_by_id("preset-explanation") {
            let cores = crate::runtime::hardware_concurrency();
            el.set_text_content(preset.as_ref().map(|p| p.explanation_here(cores)).as_deref());
        }
        // A preset about a setting past the tutorial's opens the form's part for it.
        if preset.as_ref().is_some_and(|p| p.beyond) {
            if let Ok(beyond) = by_id::<web_sys::HtmlDetailsElement>(&self.doc, "beyond") {
                beyond.set_open(true);
            }
        }
        for v in Variant::ALL {
            if let Ok(Some(b)) = self.doc.query_selector(&format!("[data-run=\"{}\"]", v.id())) {
                let suggested = preset.as_ref().is_some_and(|p| p.suggested.contains(&v));
                let _ = b.class_list().toggle_with_force("suggested", suggested);
            }
        }
    }

    pub(super) fn set_buttons(&self) {
        // This page's own run, or one started from the console with loopscope.run.
        let running = self.live.borrow().is_some() || loadgen::is_running();
        if let Ok(cancel) = by_id::<HtmlButtonElement>(&self.doc, "cancel") {
            // Keyboard focus on a button about to be disabled moves to Cancel.
            let focused_goes = running
                && self
                    .doc
                    .active_element()
                    .is_some_and(|el| el.has_attribute("data-run") || el.has_attribute("data-preset"));
            cancel.set_hidden(!running);
            cancel.set_disabled(!running);
            if focused_goes {
                let _ = cancel.focus();
            }
        }
        let model_only = self.model_only();
        if let Ok(list) = self.doc.query_selector_all("[data-run], [data-preset]") {
            for i in 0..list.length() {
                if let Some(b) = list.item(i).and_then(|n| n.dyn_into::<HtmlButtonElement>().ok()) {
                    let is_run = b.has_attribute("data-run");
                    b.set_disabled(running || (is_run && (!self.valid.get() || model_only.is_some())));
                }
            }
        }
        self.isolation_note(model_only);
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
}

impl App {
    /// Why this page can only show the model for the settings in use (they need a
    /// `SharedArrayBuffer`, which a page not cross-origin isolated has not), if so.
    pub(super) fn model_only(&self) -> Option<&'static str> {
        if crate::runtime::cross_origin_isolated() {
            return None;
        }
        let c = &self.settings.borrow().config;
        if c.work == Work::PythonCpu {
            Some(loadgen::PYTHON_CPU_NEEDS_ISOLATION)
        } else if c.workers > 1 {
            Some(loadgen::WORKERS_NEED_ISOLATION)
        } else {
            None
        }
    }

    /// The one line saying how a page not cross-origin isolated runs (or cannot run).
    fn isolation_note(&self, model_only: Option<&str>) {
        let Ok(note) = by_id::<web_sys::HtmlElement>(&self.doc, "isolation") else {
            return;
        };
        if crate::runtime::cross_origin_isolated() {
            note.set_hidden(true);
            return;
        }
        let text = match model_only {
            Some(why) => format!("Runs are off for these settings: {why}."),
            None => "This page is not cross-origin isolated (opened from a file?), so a time.sleep on the event loop spins a CPU core instead of sleeping (pool threads wait on timers); `make run` serves it isolated.".to_string(),
        };
        note.set_text_content(Some(&text));
        note.set_hidden(false);
    }

    /// The model choice: ideal, or as measured on real FastAPI; another value (from a
    /// link or the console) is shown as it is.
    fn model_options(&self, overhead_ms: f64) {
        let Some(select) = self
            .input("overhead_ms")
            .and_then(|e| e.dyn_into::<HtmlSelectElement>().ok())
        else {
            return;
        };
        let fitted = calibration::FASTAPI;
        let mut html = format!(
            "<option value=\"0\">ideal: no per-request cost</option><option value=\"{}\">as measured on {}: {} ms per request</option>",
            fitted.overhead_ms,
            escape(fitted.measured_on),
            fitted.overhead_ms
        );
        if overhead_ms != 0.0 && overhead_ms != fitted.overhead_ms {
            html.push_str(&format!(
                "<option value=\"{overhead_ms}\">{overhead_ms} ms per request (from the link)</option>"
            ));
        }
        select.set_inner_html(&html);
    }

    /// Shows the timelines, run buttons and numbers of the endpoints in the view, and
    /// names them on the "Run all" button.
    pub(super) fn apply_shown(&self) {
        let shown = self.view.borrow().shown();
        let focus = self.present_focus();
        for s in self.sections.borrow().iter() {
            s.figure.set_hidden(!shown.contains(&s.variant));
            let _ = s
                .figure
                .class_list()
                .toggle_with_force("focus", Some(s.variant) == focus);
        }
        // The legend names what the timelines shown can show.
        self.render_legend();
        for v in Variant::ALL {
            let on = shown.contains(&v);
            if let Ok(Some(b)) = self.doc.query_selector(&format!("[data-run=\"{}\"]", v.id())) {
                if let Some(b) = b.dyn_ref::<web_sys::HtmlElement>() {
                    b.set_hidden(!on);
                }
            }
            if let Ok(Some(c)) = self.doc.query_selector(&format!("[data-show=\"{}\"]", v.id())) {
                if let Some(c) = c.dyn_ref::<HtmlInputElement>() {
                    c.set_checked(on);
                    // The last one shown stays: a page with no timeline says nothing.
                    c.set_disabled(on && shown.len() == 1);
                }
            }
        }
        let words = ["", "one", "two", "three", "four", "five", "six", "seven"];
        if let Ok(Some(all)) = self.doc.query_selector("[data-run=\"all\"]") {
            let which = match shown.len() {
                2 => "Run both".to_string(),
                n => format!("Run all {}", words.get(n).copied().unwrap_or("shown")),
            };
            all.set_inner_html(&format!(
                "<b>{which}</b><span>one after another, drawn to one time scale (at once, they would fight over the CPU cores)</span>"
            ));
        }
    }

    /// The reader shows or hides endpoint `v`.
    fn toggle_shown(self: &Rc<Self>, v: Variant) {
        if self.live.borrow().is_some() {
            return;
        }
        {
            let mut view = self.view.borrow_mut();
            let mut shown = view.shown();
            match shown.iter().position(|&s| s == v) {
                Some(i) if shown.len() > 1 => {
                    shown.remove(i);
                }
                Some(_) => {}
                None => shown.push(v),
            }
            view.show = View::show_of(&shown);
        }
        self.apply_shown();
        self.update_link();
        self.reset_clock();
        self.render_moment(true);
    }

    /// Says what a link got wrong, every value by name, and puts the settings in use
    /// back in the address bar, so the link matches the page again.
    pub(super) fn link_problems(&self, errors: &[loopscope::model::ConfigError]) {
        if errors.is_empty() {
            return;
        }
        let list: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        self.status(&format!("The link: {}", list.join("; ")), true);
        if self.valid.get() {
            self.update_link();
        }
    }
}

/// Where the page remembers that the reader closed "What am I looking at?".
const EXPLAINER_CLOSED: &str = "loopscope.explainer-closed";

impl App {
    /// "What am I looking at?" is open on a first visit, and stays closed once the
    /// reader has closed it (kept in localStorage, where the browser allows it).
    pub(super) fn build_explainer(self: &Rc<Self>) -> Res {
        let details: web_sys::HtmlDetailsElement = by_id(&self.doc, "explainer")?;
        let storage = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
        let closed = storage
            .as_ref()
            .and_then(|s| s.get_item(EXPLAINER_CLOSED).ok().flatten())
            .is_some();
        details.set_open(!closed);
        let d = details.clone();
        on(&details, "toggle", move |_: web_sys::Event| {
            if let Some(s) = &storage {
                let _ = if d.open() {
                    s.remove_item(EXPLAINER_CLOSED)
                } else {
                    s.set_item(EXPLAINER_CLOSED, "1")
                };
            }
        })?;
        let present: HtmlButtonElement = by_id(&self.doc, "present")?;
        let app = self.clone();
        on(&present, "click", move |_: web_sys::Event| {
            app.set_present(!app.present.get());
        })?;
        Ok(())
    }

    /// Projector mode: the form hidden, text at least 20 px, lanes tall enough to read
    /// from the back of a room; `?present=1` in the address opens the page this way.
    /// The one timeline Present mode shows large: the endpoint whose code is shown
    /// (the overview's rows choose it), or the first one shown.
    pub(super) fn present_focus(&self) -> Option<Variant> {
        if !self.present.get() || self.lesson_at.get().is_some() {
            return None;
        }
        let shown = self.view.borrow().shown();
        let v = self.code_variant.get();
        Some(if shown.contains(&v) { v } else { *shown.first()? })
    }

    pub(super) fn set_present(&self, on: bool) {
        self.present.set(on);
        if let Some(body) = self.doc.body() {
            let _ = body.class_list().toggle_with_force("present", on);
        }
        self.apply_shown();
        self.show_preset();
        if let Ok(b) = by_id::<HtmlButtonElement>(&self.doc, "present") {
            let _ = b.set_attribute("aria-pressed", if on { "true" } else { "false" });
            b.set_text_content(Some(if on { "Leave Present mode" } else { "Present" }));
        }
        if let Some(w) = web_sys::window() {
            let url = w.location().href().ok().and_then(|h| web_sys::Url::new(&h).ok());
            if let (Some(url), Ok(h)) = (url, w.history()) {
                if on {
                    url.search_params().set("present", "1");
                } else {
                    url.search_params().delete("present");
                }
                let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url.href()));
            }
        }
        self.paint_all();
    }
}
