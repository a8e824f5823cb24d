//! One canvas per endpoint: the model's prediction as a faint ghost, the measurement
//! over it, the event loop's stalls and the probe's lag; hover and keyboard for details.

use super::paint::Painter;
use super::{by_id, escape, on, App, Res};
use crate::runtime::now_abs;
use loopscope::fidelity::Fidelity;
use loopscope::format;
use loopscope::model::{Report, Variant};
use loopscope::view::settings::scaled;
use loopscope::view::timeline::{self, Geometry, Layout, Picture};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlCanvasElement, HtmlElement};

/// One variant's timeline on the page.
pub(super) struct Section {
    pub variant: Variant,
    pub caption: Element,
    pub canvas: HtmlCanvasElement,
    pub painter: Painter,
    pub layout: RefCell<Layout>,
    pub predicted: RefCell<Report>,
    pub measured: RefCell<Option<Report>>,
}

impl App {
    pub(super) fn build_sections(self: &Rc<Self>) -> Res {
        let host: Element = by_id(&self.doc, "timelines")?;
        let config = scaled(&self.settings.borrow());
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
                loopscope::simulate(&config.with_variant(v)).map_err(|e| JsValue::from_str(&e.message))?;
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

    pub(super) fn wire_canvas(self: &Rc<Self>, index: usize, canvas: &HtmlCanvasElement) -> Res {
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

    /// The span every timeline shares, so they line up.
    pub(super) fn span_ms(&self, now: Option<f64>) -> f64 {
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

    pub(super) fn paint_all(&self) {
        let live = self.live.borrow();
        let now = live
            .as_ref()
            .and_then(|l| l.trace.borrow().t0_abs.map(|t0| now_abs() - t0));
        let span = self.span_ms(now);
        let sections = self.sections.borrow();
        let many = sections.len() > 1;
        for (i, s) in sections.iter().enumerate() {
            let width = s.canvas.client_width().max(300) as f64;
            let ghost = Picture::from_report(&s.predicted.borrow());
            let (real, cursor) = match live.as_ref() {
                Some(l) if l.variant == s.variant => {
                    let run = l.trace.borrow();
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
}

/// The line over a timeline: endpoint, what it does, and the result in a few words.
pub(super) fn caption(v: Variant, predicted: &Report, measured: Option<(&Report, &Fidelity)>) -> String {
    let p = &predicted.stats;
    let result = match measured {
        Some((m, _)) if m.cut_short.is_some() => {
            let cut = m.cut_short.as_ref().expect("cut short");
            format!(
                "<span class=\"warning\">cancelled {} in: {} of {} requests answered</span> (the model: last response at {}); what it measured so far is drawn",
                format::duration(cut.at_ms),
                cut.answered,
                cut.requests,
                format::duration(p.makespan_ms)
            )
        }
        Some((m, f)) => {
            let warnings: String = m.measurement.as_ref().map_or(String::new(), |x| {
                x.warnings
                    .iter()
                    .map(|w| format!(" · <span class=\"warning\">⚠ {}</span>", escape(w)))
                    .collect()
            });
            // A check that failed says what it found, beside the numbers.
            let failures: String = f
                .failures()
                .map(|say| {
                    format!(
                        "<span class=\"failed-check\" data-failed-check>✗ {}</span>",
                        escape(say)
                    )
                })
                .collect();
            format!(
                "measured <b>{}</b> (model {}){} · {} stalls, longest {}{warnings}{failures}",
                format::duration(m.stats.makespan_ms),
                format::duration(p.makespan_ms),
                if f.ok {
                    " · within the model's bounds"
                } else {
                    " · <b>outside the model's bounds</b>:"
                },
                m.loop_stalls.len(),
                format::duration(m.stats.loop_stall_max_ms)
            )
        }
        None if p.loop_stall_total_ms > 0.0 => format!(
            "model: last response at <b>{}</b>, loop blocked {}",
            format::duration(p.makespan_ms),
            format::duration(p.loop_stall_total_ms)
        ),
        None => format!(
            "model: last response at <b>{}</b>, loop never blocked",
            format::duration(p.makespan_ms)
        ),
    };
    format!(
        "<b>{}</b><span>{}</span><span class=\"verdict\">{}</span>",
        escape(v.route()),
        escape(v.summary()),
        result
    )
}
