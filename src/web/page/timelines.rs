//! One canvas per endpoint: the model's prediction as a faint ghost, the measurement
//! over it, the event loop's stalls and the probe's lag; hover and keyboard for details.

use super::paint::Painter;
use super::{by_id, escape, on, App, Moment, Res};
use loopscope::fidelity::Fidelity;
use loopscope::format;
use loopscope::model::{Report, Variant};
use loopscope::view::settings::scaled;
use loopscope::view::timeline::{self, Geometry, Layout, Picture};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlButtonElement, HtmlCanvasElement, HtmlElement};

/// One variant's timeline on the page.
pub(super) struct Section {
    pub variant: Variant,
    /// The timeline's element: hidden when its endpoint is not shown.
    pub figure: HtmlElement,
    pub caption: Element,
    /// States the time scale the run was played at.
    pub badge: Element,
    /// Fits the timeline to its own run (`aria-pressed`).
    pub fit: HtmlButtonElement,
    pub canvas: HtmlCanvasElement,
    pub painter: Painter,
    pub layout: RefCell<Layout>,
    pub predicted: RefCell<Report>,
    pub measured: RefCell<Option<Report>>,
}

impl App {
    /// The sections of the endpoints shown, in order.
    pub(super) fn shown_sections(&self) -> Vec<Rc<Section>> {
        let shown = self.view.borrow().shown();
        self.sections
            .borrow()
            .iter()
            .filter(|s| shown.contains(&s.variant))
            .cloned()
            .collect()
    }

    pub(super) fn build_sections(self: &Rc<Self>) -> Res {
        let host: Element = by_id(&self.doc, "timelines")?;
        let config = scaled(&self.settings.borrow());
        let mut sections = Vec::new();
        for (i, v) in Variant::ALL.into_iter().enumerate() {
            let figure: HtmlElement = self.doc.create_element("figure")?.dyn_into()?;
            figure.set_class_name("timeline");
            figure.set_attribute("data-variant", v.id())?;
            let caption = self.doc.create_element("figcaption")?;
            let tools = self.doc.create_element("div")?;
            tools.set_class_name("timeline-tools");
            let badge = self.doc.create_element("span")?;
            badge.set_class_name("badge");
            let fit: HtmlButtonElement = self.doc.create_element("button")?.dyn_into()?;
            fit.set_type("button");
            fit.set_class_name("fit");
            fit.set_attribute("data-fit", v.id())?;
            fit.set_text_content(Some("Fit to this run"));
            fit.set_attribute("aria-pressed", "false")?;
            fit.set_title("Stretch this timeline over its own run, or line it up with the others");
            tools.append_child(&badge)?;
            tools.append_child(&fit)?;
            let canvas: HtmlCanvasElement = self.doc.create_element("canvas")?.dyn_into()?;
            canvas.set_tab_index(0);
            canvas.set_attribute("role", "img")?;
            canvas.set_attribute(
                "aria-label",
                &format!("Timeline of {}: request lanes, event-loop stalls and probe lag. Use the arrow keys to step through its phases, Enter to replay from one.", v.id()),
            )?;
            figure.append_child(&caption)?;
            figure.append_child(&tools)?;
            figure.append_child(&canvas)?;
            host.append_child(&figure)?;
            let predicted =
                loopscope::simulate(&config.with_variant(v)).map_err(|e| JsValue::from_str(&e.message))?;
            let section = Rc::new(Section {
                variant: v,
                figure: figure.clone(),
                caption,
                badge,
                fit: fit.clone(),
                painter: Painter::new(&canvas)?,
                canvas: canvas.clone(),
                layout: RefCell::default(),
                predicted: RefCell::new(predicted),
                measured: RefCell::default(),
            });
            self.wire_canvas(i, &canvas)?;
            let app = self.clone();
            on(&fit, "click", move |_: web_sys::Event| {
                {
                    let mut view = app.view.borrow_mut();
                    match view.fit.iter().position(|&f| f == v) {
                        Some(i) => {
                            view.fit.remove(i);
                        }
                        None => view.fit.push(v),
                    }
                }
                app.update_link();
                app.paint_all();
            })?;
            sections.push(section);
        }
        *self.sections.borrow_mut() = sections;
        Ok(())
    }

    pub(super) fn wire_canvas(self: &Rc<Self>, index: usize, canvas: &HtmlCanvasElement) -> Res {
        let hit_under = move |app: &App, e: &web_sys::MouseEvent| {
            app.sections.borrow().get(index).and_then(|s| {
                let layout = s.layout.borrow();
                timeline::hit_at(&layout, f64::from(e.offset_x()), f64::from(e.offset_y()))
                    .map(|i| layout.hits[i].clone())
            })
        };
        let app = self.clone();
        on(canvas, "mousemove", move |e: web_sys::MouseEvent| {
            let hit = hit_under(&app, &e);
            app.tooltip(
                hit.map(|h| format!("{} (click to replay from here)", h.text))
                    .as_deref(),
                f64::from(e.client_x()),
                f64::from(e.client_y()),
            );
        })?;
        // A click on a bar, a stall or an answer moves the replay to its moment.
        let app = self.clone();
        on(canvas, "click", move |e: web_sys::MouseEvent| {
            if let Some(hit) = hit_under(&app, &e) {
                app.seek_to(hit.t_ms);
            }
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
                "Enter" => {
                    let t = current.and_then(|h| {
                        app.sections
                            .borrow()
                            .get(index)
                            .and_then(|s| s.layout.borrow().hits.get(h).map(|hit| hit.t_ms))
                    });
                    if let Some(t) = t {
                        e.prevent_default();
                        app.seek_to(t);
                    }
                    return;
                }
                _ => return,
            };
            e.prevent_default();
            app.focus.set(next.map(|h| (index, h)));
            app.paint_all();
            app.show_focused();
        })?;
        Ok(())
    }

    pub(super) fn show_focused(&self) {
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

    pub(super) fn tooltip(&self, text: Option<&str>, x: f64, y: f64) {
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

    /// What a section shows as its measurement: the run going on, the measured report,
    /// or nothing (the prediction is drawn solid); a model replay shows the prediction.
    fn shown_report(&self, s: &Section) -> Option<Report> {
        if self.replay_model.get() {
            None
        } else {
            s.measured.borrow().clone()
        }
    }

    /// The end of a section's run on its clock (its prediction's or its measurement's,
    /// whichever is later), background tasks included.
    fn end_of(s: &Section) -> f64 {
        let end = |r: &Report| Picture::from_report(r).end_ms;
        let mut e = end(&s.predicted.borrow());
        if let Some(m) = s.measured.borrow().as_ref() {
            e = e.max(end(m));
        }
        e
    }

    /// The span every timeline shares, so they line up; `now` for a run going on.
    pub(super) fn span_ms(&self, now: Option<f64>) -> f64 {
        let sections = self.shown_sections();
        let mut span = sections.iter().map(|s| Self::end_of(s)).fold(1.0, f64::max);
        if let Some(now) = now {
            span = span.max(now);
        }
        span
    }

    pub(super) fn paint_all(&self) {
        let moment = self.moment();
        let now = match moment {
            Moment::Live { now, .. } => Some(now),
            _ => None,
        };
        let shared = self.span_ms(now) * 1.03;
        let scale = self.settings.borrow().scale;
        let present = self.present.get();
        let live = self.live.borrow();
        let sections = self.sections.borrow();
        let shown = self.view.borrow().shown();
        let many = shown.len() > 1;
        for (i, s) in sections.iter().enumerate() {
            if !shown.contains(&s.variant) {
                continue;
            }
            let fitted = self.view.borrow().fit.contains(&s.variant);
            let _ = s
                .fit
                .set_attribute("aria-pressed", if fitted { "true" } else { "false" });
            s.badge.set_text_content(Some(&format::played_at(scale)));
            let width = s.canvas.client_width().max(300) as f64;
            let ghost = Picture::from_report(&s.predicted.borrow());
            let (real, cursor, veil) = match (live.as_ref(), moment) {
                (Some(l), Moment::Live { now, .. }) if l.variant == s.variant => {
                    (Some(l.trace.borrow().picture(now)), Some(now), false)
                }
                (_, Moment::At(t)) => (
                    self.shown_report(s).as_ref().map(Picture::from_report),
                    Some(t),
                    true,
                ),
                _ => (
                    self.shown_report(s).as_ref().map(Picture::from_report),
                    None,
                    false,
                ),
            };
            let span = if fitted {
                match (live.as_ref(), now) {
                    (Some(l), Some(now)) if l.variant == s.variant => Self::end_of(s).max(now),
                    _ => Self::end_of(s),
                }
                .max(1.0)
                    * 1.03
            } else {
                shared
            };
            let lanes = s.predicted.borrow().requests.len() as f64;
            let geo = Geometry {
                width,
                span_ms: span,
                lanes_px: match (present, many) {
                    (true, _) => (lanes * 36.0).clamp(240.0, 640.0),
                    (false, true) => 120.0,
                    (false, false) => 220.0,
                },
                scale,
                text_px: if present { 21.0 } else { 12.0 }, // axis and notes 1 px less
            };
            let layout = timeline::layout(&ghost, real.as_ref(), geo, cursor, veil);
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
}

/// How many ground-truth stalls the probe saw as one: back-to-back steps leave its
/// heartbeat no turn in between (the most any one probe stall spans).
fn merged_by_probe(m: &Report) -> usize {
    m.probe_stalls
        .iter()
        .flatten()
        .map(|p| {
            m.loop_stalls
                .iter()
                .filter(|s| s.start_ms < p.end_ms && p.start_ms < s.end_ms)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// The line over a timeline: endpoint, what it does, and the result in a few words, in
/// the tutorial's time (`scale` is the run's).
pub(super) fn caption(
    v: Variant,
    predicted: &Report,
    measured: Option<(&Report, &Fidelity)>,
    scale: f64,
) -> String {
    let p = &predicted.stats;
    let d = |ms: f64| format::duration(ms / scale);
    let result = match measured {
        Some((m, _)) if m.cut_short.is_some() => {
            let cut = m.cut_short.as_ref().expect("cut short");
            format!(
                "<span class=\"warning\">cancelled {} in: {} of {} requests answered</span> (the model: last response at {}); what it measured so far is drawn",
                d(cut.at_ms),
                cut.answered,
                cut.requests,
                d(p.makespan_ms)
            )
        }
        Some((m, f)) => {
            let warnings: String = m.measurement.as_ref().map_or(String::new(), |x| {
                x.warnings
                    .iter()
                    .map(|w| format!(" · <span class=\"warning\">⚠ {}</span>", escape(w)))
                    .collect()
            });
            // A check that failed says what it found, beside the numbers (in the run's
            // own milliseconds: the fidelity bounds are about what was measured).
            let failures: String = f
                .failures()
                .map(|say| {
                    format!(
                        "<span class=\"failed-check\" data-failed-check>✗ {}{}</span>",
                        escape(say),
                        if scale == 1.0 {
                            String::new()
                        } else {
                            format!(" (ms of the run, at time scale {scale})")
                        }
                    )
                })
                .collect();
            let merged = merged_by_probe(m);
            let probe_note = if merged > 1 {
                format!(
                    "<span class=\"note\">The probe saw {merged} stalls in a row as one: its heartbeat cannot run between steps that follow each other on the loop.</span>"
                )
            } else {
                String::new()
            };
            let gil = if m.stats.loop_gil_wait_total_ms > 0.0 {
                format!(" · loop waited {} for the GIL", d(m.stats.loop_gil_wait_total_ms))
            } else {
                String::new()
            };
            format!(
                "measured <b>{}</b> (model {}){} · {} stalls, longest {}{gil}{warnings}{failures}{probe_note}",
                d(m.stats.makespan_ms),
                d(p.makespan_ms),
                if f.ok {
                    " · within the model's bounds"
                } else {
                    " · <b>outside the model's bounds</b>:"
                },
                m.loop_stalls.len(),
                d(m.stats.loop_stall_max_ms)
            )
        }
        None => {
            let blocked = if p.loop_stall_total_ms > 0.0 {
                format!("loop blocked {}", d(p.loop_stall_total_ms))
            } else {
                "loop never blocked".to_string()
            };
            let gil = if p.loop_gil_wait_total_ms > 0.0 {
                format!(", waited {} for the GIL", d(p.loop_gil_wait_total_ms))
            } else {
                String::new()
            };
            format!(
                "model: last response at <b>{}</b>, {blocked}{gil}",
                d(p.makespan_ms)
            )
        }
    };
    format!(
        "<b>{}</b><span>{}</span><span class=\"verdict\">{}</span>",
        escape(v.route()),
        escape(v.summary()),
        result
    )
}
