//! The Lesson view: the tutorial as steps a teacher clicks through (buttons, ← →,
//! space), each one idea on one screen: its timeline fitted to its run, its code lit,
//! and one sentence written from what it measured (`loopscope::view::lesson`). The Lab
//! (every setting, every endpoint, the numbers) is one click away; a link says which.

use super::{by_id, on, App, Res};
use loopscope::model::Report;
use loopscope::view::legend;
use loopscope::view::lesson::{self, Run, Step};
use loopscope::view::link::Mode;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlButtonElement, HtmlElement};

/// Where the page remembers the view the reader last used.
const VIEW_KEY: &str = "loopscope.view";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// The view a page opens in: what its link says; else, for a link with settings, the
/// Lab; else the view last used; else (a first visit) the Lesson.
pub(super) fn first_view(link: Option<&Mode>, has_settings: bool) -> Mode {
    match link {
        Some(mode) => mode.clone(),
        None if has_settings => Mode::Lab,
        None => match storage()
            .and_then(|s| s.get_item(VIEW_KEY).ok().flatten())
            .as_deref()
        {
            Some("lab") => Mode::Lab,
            _ => Mode::Lesson(lesson::steps()[0].id.to_string()),
        },
    }
}

impl App {
    pub(super) fn build_lesson(self: &Rc<Self>) -> Res {
        let list: Element = by_id(&self.doc, "lesson-steps")?;
        for (i, step) in lesson::steps().into_iter().enumerate() {
            let li = self.doc.create_element("li")?;
            let b: HtmlButtonElement = self.doc.create_element("button")?.dyn_into()?;
            b.set_type("button");
            b.set_attribute("data-step", step.id)?;
            b.set_text_content(Some(&(i + 1).to_string()));
            b.set_title(&format!(
                "{}{}",
                step.title,
                if step.optional {
                    " (beyond the tutorial)"
                } else {
                    ""
                }
            ));
            b.set_attribute("aria-label", &format!("Step {}: {}", i + 1, step.title))?;
            if step.optional {
                li.set_class_name("optional");
                if i > 0 && !lesson::steps()[i - 1].optional {
                    let label = self.doc.create_element("li")?;
                    label.set_class_name("beyond-label");
                    label.set_text_content(Some("beyond the tutorial:"));
                    list.append_child(&label)?;
                }
            }
            let app = self.clone();
            on(&b, "click", move |_: web_sys::Event| app.go_to_step(i))?;
            li.append_child(&b)?;
            list.append_child(&li)?;
        }
        for (id, delta) in [("lesson-prev", -1i32), ("lesson-next", 1)] {
            let b: HtmlButtonElement = by_id(&self.doc, id)?;
            let app = self.clone();
            on(&b, "click", move |_: web_sys::Event| app.move_step(delta))?;
        }
        let run: HtmlButtonElement = by_id(&self.doc, "lesson-run")?;
        let app = self.clone();
        on(&run, "click", move |_: web_sys::Event| app.run_step())?;
        for (id, lesson) in [("view-lesson", true), ("view-lab", false)] {
            let b: HtmlButtonElement = by_id(&self.doc, id)?;
            let app = self.clone();
            on(&b, "click", move |_: web_sys::Event| {
                if lesson {
                    let at = app.lesson_at.get().unwrap_or(0);
                    app.go_to_step(at);
                } else {
                    app.to_lab();
                }
            })?;
        }
        // ← → move between steps, space runs the step (or plays its replay), wherever
        // the focus is but in a field, on a control, or on a timeline (whose arrows step
        // through its phases).
        let app = self.clone();
        on(&self.doc, "keydown", move |e: web_sys::KeyboardEvent| {
            if app.lesson_at.get().is_none() || e.ctrl_key() || e.meta_key() || e.alt_key() || e.shift_key() {
                return;
            }
            let target = e.target().and_then(|t| t.dyn_into::<Element>().ok());
            let busy = target.is_some_and(|el| {
                matches!(
                    el.tag_name().as_str(),
                    "INPUT" | "SELECT" | "TEXTAREA" | "BUTTON" | "SUMMARY" | "A" | "CANVAS"
                ) || el.has_attribute("contenteditable")
            });
            if busy {
                return;
            }
            match e.key().as_str() {
                "ArrowRight" | "PageDown" => {
                    e.prevent_default();
                    app.move_step(1);
                }
                "ArrowLeft" | "PageUp" => {
                    e.prevent_default();
                    app.move_step(-1);
                }
                " " if !app.step_measured() && app.live.borrow().is_none() => {
                    // The transport's own space plays a replay once the step has run.
                    e.prevent_default();
                    e.stop_immediate_propagation();
                    app.run_step();
                }
                _ => {}
            }
        })?;
        Ok(())
    }

    /// The step shown, in the Lesson.
    pub(super) fn current_step(&self) -> Option<Step> {
        self.lesson_at.get().and_then(|i| lesson::steps().get(i).cloned())
    }

    /// Whether every endpoint of the step shown has been measured.
    fn step_measured(&self) -> bool {
        self.current_step().is_some_and(|step| {
            step.variants.iter().all(|v| {
                self.sections
                    .borrow()
                    .iter()
                    .any(|s| s.variant == *v && s.measured.borrow().is_some())
            })
        })
    }

    fn move_step(self: &Rc<Self>, delta: i32) {
        let n = lesson::steps().len() as i32;
        let at = self.lesson_at.get().unwrap_or(0) as i32 + delta;
        if (0..n).contains(&at) && self.live.borrow().is_none() {
            self.go_to_step(at as usize);
        }
    }

    /// Shows step `i` of the Lesson: its settings (the measurements kept when they are
    /// the same), its endpoints, its code.
    pub(super) fn go_to_step(self: &Rc<Self>, i: usize) {
        if self.live.borrow().is_some() {
            return;
        }
        let Some(step) = lesson::steps().get(i).cloned() else {
            return;
        };
        self.lesson_at.set(Some(i));
        self.lesson_fit.set(0.0);
        self.show_view(true);
        let settings = step
            .preset()
            .settings_here(crate::runtime::hardware_concurrency());
        let changed = *self.settings.borrow() != settings;
        {
            let mut view = self.view.borrow_mut();
            view.mode = Some(Mode::Lesson(step.id.to_string()));
            view.preset = Some(step.preset.to_string());
            view.show = step.variants.to_vec();
        }
        if changed {
            *self.settings.borrow_mut() = settings;
            self.valid.set(true);
            self.fill_form();
        }
        self.apply_shown();
        self.code_variant.set(step.variants[0]);
        self.render_code();
        self.scroll_code_to_endpoint();
        if changed {
            let _ = self.settings_changed(false);
        } else {
            self.reset_clock();
            self.set_buttons();
            self.render_moment(true);
        }
        self.update_link();
        self.render_lesson();
        if let Some(s) = storage() {
            let _ = s.set_item(VIEW_KEY, "lesson");
        }
    }

    /// The Lab, with what the Lesson left in it.
    pub(super) fn to_lab(self: &Rc<Self>) {
        if self.live.borrow().is_some() {
            return;
        }
        self.lesson_at.set(None);
        self.view.borrow_mut().mode = Some(Mode::Lab);
        self.show_view(false);
        self.apply_shown();
        self.update_link();
        self.render_moment(true);
        if let Some(s) = storage() {
            let _ = s.set_item(VIEW_KEY, "lab");
        }
    }

    /// In a code panel too short for the whole module, the endpoint at its top: the
    /// helpers it calls are above it.
    pub(super) fn scroll_code_to_endpoint(&self) {
        let Ok(list) = by_id::<HtmlElement>(&self.doc, "code-lines") else {
            return;
        };
        if list.scroll_height() <= list.client_height() {
            return;
        }
        let Ok(items) = self.doc.query_selector_all("#code-lines li") else {
            return;
        };
        for i in 0..items.length() {
            let Some(li) = items.item(i).and_then(|n| n.dyn_into::<HtmlElement>().ok()) else {
                continue;
            };
            if li.text_content().is_some_and(|t| t.starts_with("@app.post(")) {
                list.set_scroll_top(li.offset_top() - list.offset_top());
                return;
            }
        }
    }

    /// The page's parts for one view or the other.
    fn show_view(&self, lesson: bool) {
        if let Some(body) = self.doc.body() {
            let _ = body.class_list().toggle_with_force("lesson", lesson);
            let _ = body.class_list().toggle_with_force("lab", !lesson);
            match self.current_step().filter(|_| lesson) {
                Some(step) => {
                    let _ = body.set_attribute("data-step", step.id);
                    let _ = body.set_attribute("data-shown", &step.variants.len().to_string());
                }
                None => {
                    let _ = body.remove_attribute("data-step");
                    let _ = body.remove_attribute("data-shown");
                }
            }
        }
        if let Ok(section) = by_id::<HtmlElement>(&self.doc, "lesson") {
            section.set_hidden(!lesson);
        }
        for (id, on) in [("view-lesson", lesson), ("view-lab", !lesson)] {
            if let Ok(b) = by_id::<HtmlButtonElement>(&self.doc, id) {
                let _ = b.set_attribute("aria-pressed", if on { "true" } else { "false" });
            }
        }
        if let Ok(t) = by_id::<HtmlElement>(&self.doc, "takeaway") {
            t.set_hidden(!lesson);
        }
        // Is this real FastAPI? What runs in the page, and how close the prediction came.
        if let Some(real) = self.doc.get_element_by_id("real") {
            let line = loopscope::view::calibration::real_fastapi_line();
            let question = "Is this real FastAPI?";
            let link = " (<a href=\"BENCHMARKS.md\">BENCHMARKS.md</a>).";
            // The Lesson keeps the answer one click away, so a step opens on its
            // picture; the Lab, a bench, shows it outright.
            real.set_inner_html(&if lesson {
                format!(
                    "<details><summary>{question} A stand-in: the endpoints ported line for line to Rust, run on a real event loop in this page; the faint predictions came within 3 % of real FastAPI. More…</summary>{}{link}</details>",
                    super::escape(line.trim_start_matches(question).trim_start())
                )
            } else {
                format!("{}{link}", super::escape(&line))
            });
        }
        if !lesson {
            if let Ok(p) = by_id::<HtmlElement>(&self.doc, "debug-line") {
                p.set_hidden(true);
            }
            // The Lesson's fit of the code to the screen is the Lesson's alone.
            if let Ok(lines) = by_id::<HtmlElement>(&self.doc, "code-lines") {
                let _ = lines.style().remove_property("max-height");
            }
        }
    }

    /// Runs the step's endpoints; while they run, stops them.
    fn run_step(self: &Rc<Self>) {
        if self.live.borrow().is_some() {
            crate::runtime::loadgen::cancel();
        } else if let Some(step) = self.current_step() {
            self.clone().start(step.variants.to_vec());
        }
    }

    /// The Lab's one sentence, once the tutorial's five have all run (and none runs):
    /// the Lesson's comparison, written from these runs.
    fn render_lab_takeaway(&self) {
        let Ok(t) = by_id::<HtmlElement>(&self.doc, "lab-takeaway") else {
            return;
        };
        let compare = lesson::step("compare");
        let text = compare.filter(|_| self.live.borrow().is_none()).and_then(|step| {
            let shown = self.view.borrow().shown();
            let reports = self.step_reports(&step);
            let all = reports.len() == step.variants.len()
                && reports.iter().all(|(_, measured)| *measured)
                && step.variants.iter().all(|v| shown.contains(v));
            all.then(|| {
                let runs = as_runs(&reports);
                // The Lab has no steps: it names the Lesson's.
                lesson::takeaway(&step, &runs, self.settings.borrow().scale)
                    .replace(": step 8)", ": the Lesson's step 8)")
            })
        });
        super::set_text(&t, text.as_deref().unwrap_or(""));
        t.set_hidden(text.is_none());
    }

    /// The reports of the step's endpoints: measured where they ran, else predicted.
    fn step_reports(&self, step: &Step) -> Vec<(Rc<Report>, bool)> {
        let sections = self.sections.borrow();
        step.variants
            .iter()
            .filter_map(|v| {
                let s = sections.iter().find(|s| s.variant == *v)?;
                let measured = s.measured.borrow().clone();
                Some(match measured {
                    Some(m) if m.cut_short.is_none() => (m, true),
                    _ => (s.predicted.borrow().clone(), false),
                })
            })
            .collect()
    }

    /// The Lesson's head and takeaway, for the step shown.
    pub(super) fn render_lesson(&self) {
        let Some(i) = self.lesson_at.get() else {
            self.render_lab_takeaway();
            return;
        };
        let Some(step) = self.current_step() else { return };
        let n = lesson::steps().len();
        if let Ok(title) = by_id::<Element>(&self.doc, "lesson-title") {
            title.set_text_content(Some(&format!(
                "{} · {}{}",
                i + 1,
                step.title,
                if step.optional {
                    " (beyond the tutorial)"
                } else {
                    ""
                }
            )));
        }
        if let Ok(watch) = by_id::<Element>(&self.doc, "lesson-watch") {
            watch.set_text_content(Some(step.watch));
        }
        if let Ok(code) = by_id::<HtmlElement>(&self.doc, "lesson-code") {
            code.set_text_content(Some(&step.key_code.join("\n")));
            code.set_hidden(step.key_code.is_empty());
        }
        if let Ok(items) = self.doc.query_selector_all("#lesson-steps [data-step]") {
            for k in 0..items.length() {
                if let Some(b) = items.item(k).and_then(|n| n.dyn_into::<Element>().ok()) {
                    if k as usize == i {
                        let _ = b.set_attribute("aria-current", "step");
                    } else {
                        let _ = b.remove_attribute("aria-current");
                    }
                }
            }
        }
        let running = self.live.borrow().is_some();
        for (id, disabled) in [
            ("lesson-prev", i == 0 || running),
            ("lesson-next", i + 1 >= n || running),
        ] {
            if let Ok(b) = by_id::<HtmlButtonElement>(&self.doc, id) {
                b.set_disabled(disabled);
            }
        }
        let reports = self.step_reports(&step);
        let measured = reports.iter().all(|(_, m)| *m);
        if let Ok(b) = by_id::<HtmlButtonElement>(&self.doc, "lesson-run") {
            b.set_disabled(!running && (!self.valid.get() || self.model_only().is_some()));
            let what = if step.compares() { "them" } else { "it" };
            b.set_text_content(Some(&if running {
                "■ Stop (Esc)".to_string()
            } else if measured {
                format!("↻ Run {what} again")
            } else {
                format!("▶ Run {what} (space)")
            }));
        }
        if let Ok(t) = by_id::<Element>(&self.doc, "takeaway") {
            let runs = as_runs(&reports);
            let scale = self.settings.borrow().scale;
            let text = if running {
                "Running: the solid bars are measured as they happen, over the faint prediction.".to_string()
            } else {
                lesson::takeaway(&step, &runs, scale)
            };
            super::set_text(&t, &text);
            let _ = t.set_attribute("data-measured", if measured { "true" } else { "false" });
        }
        // How to find such a call in a service of one's own: what asyncio's debug mode
        // prints for the first step that held the loop.
        if let Ok(p) = by_id::<HtmlElement>(&self.doc, "debug-line") {
            let scale = self.settings.borrow().scale;
            let first = reports
                .iter()
                .find_map(|(r, _)| loopscope::view::debug::asyncio_debug(r, scale).into_iter().next());
            match first.filter(|_| !running && !step.compares()) {
                Some(line) => {
                    p.set_inner_html(&format!(
                        "<b>Finding it in your own service:</b> with <code>PYTHONASYNCIODEBUG=1</code> (Python 3.12+; on 3.11 uvicorn turns it off), asyncio logs each step that held the loop 0.1 s or more; here, a line per request, ending in how long: <code>{}</code>",
                        super::escape(&line.text)
                    ));
                    p.set_hidden(false);
                }
                None => p.set_hidden(true),
            }
        }
        // The step's words may have changed its height: its lanes fitted again.
        if self.live.borrow().is_none() {
            self.fit_lesson_to_screen();
        }
    }

    /// The legend: what the timelines shown can show, and nothing else; at most seven
    /// swatches in the Lesson.
    pub(super) fn render_legend(&self) {
        let Ok(list) = by_id::<Element>(&self.doc, "legend") else {
            return;
        };
        let reports: Vec<Rc<Report>> = self
            .drawn_sections()
            .iter()
            .map(|s| {
                s.measured
                    .borrow()
                    .clone()
                    .unwrap_or_else(|| s.predicted.borrow().clone())
            })
            .collect();
        let refs: Vec<&Report> = reports.iter().map(|r| &**r).collect();
        let swatches = if let Some(step) = self.current_step() {
            lesson::legend_of(&step, &refs)
        } else {
            legend::present(&refs)
        };
        let mut html: String = swatches
            .iter()
            .map(|s| {
                format!(
                    "<li data-swatch=\"{}\"><i class=\"sw {}\"></i>{}</li>",
                    s.class(),
                    s.class(),
                    s.label()
                )
            })
            .collect();
        if !self.current_step().is_some_and(|s| s.id == "compare") {
            html.push_str("<li class=\"ghost-note\"><i class=\"sw ghost\"></i>faint: what FastAPI's rules predict; solid: this page's run</li>");
        }
        if list.inner_html() != html {
            list.set_inner_html(&html);
        }
    }
}

/// A step's reports as the takeaway reads them.
fn as_runs(reports: &[(Rc<Report>, bool)]) -> Vec<Run<'_>> {
    reports
        .iter()
        .map(|(r, m)| Run {
            report: r,
            measured: *m,
        })
        .collect()
}
