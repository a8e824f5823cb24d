//! One canvas per endpoint: the model's prediction as a faint ghost, the measurement
//! over it, the event loop's stalls and the probe's lag; hover and keyboard for details.

use super::paint::Painter;
use super::{by_id, escape, on, App, Moment, Res};
use loopscope::fidelity::{fidelity, Fidelity, Verdict};
use loopscope::format;
use loopscope::model::{Report, Variant};
use loopscope::view::settings::scaled;
use loopscope::view::timeline::{self, CellCache, Geometry, Layout, Picture};
use std::cell::{Cell, RefCell};
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
    /// Shows the whole run again (disabled when not zoomed).
    pub zoom_reset: HtmlButtonElement,
    pub canvas: HtmlCanvasElement,
    pub painter: Painter,
    pub layout: RefCell<Layout>,
    pub predicted: RefCell<Rc<Report>>,
    pub measured: RefCell<Option<Rc<Report>>>,
    /// The zoomed window of the run's clock, if zoomed in.
    pub window: Cell<Option<(f64, f64)>>,
    /// Made once per report, not once per frame.
    ghost_cache: Derived<Picture>,
    real_cache: Derived<Picture>,
    check_cache: RefCell<Option<Checked>>,
    /// What the canvas shows now: an unchanged timeline is not drawn again.
    painted: RefCell<Option<Painted>>,
    /// Merged lanes' cells, kept between frames, and the pictures they were made of
    /// (another picture, even at a freed one's address, starts them afresh).
    cells: RefCell<CellCache>,
    cells_of: Cell<(usize, usize)>,
}

/// A zoom step from the keyboard or a button.
#[derive(Clone, Copy, Debug)]
pub(super) enum Zoom {
    /// Closer by a factor (below 1: further).
    By(f64),
    /// Moved by a share of the window (negative: earlier).
    Pan(f64),
    /// The whole run.
    Reset,
}

/// A prediction, a measurement, and the check of one against the other.
type Checked = (Rc<Report>, Rc<Report>, Rc<Fidelity>);

/// Where a drag began: the pointer's x and the window then.
type DragStart = (f64, (f64, f64));

/// Something made from a report, kept while the report is the same one.
type Derived<T> = RefCell<Option<(Rc<Report>, Rc<T>)>>;

fn derived<T>(cache: &Derived<T>, report: &Rc<Report>, make: impl FnOnce(&Report) -> T) -> Rc<T> {
    let mut slot = cache.borrow_mut();
    match slot.as_ref() {
        Some((r, made)) if Rc::ptr_eq(r, report) => made.clone(),
        _ => {
            let made = Rc::new(make(report));
            *slot = Some((report.clone(), made.clone()));
            made
        }
    }
}

/// What a timeline was drawn from.
#[derive(Clone, PartialEq)]
struct Painted {
    geo: Geometry,
    cursor: Option<f64>,
    veil: bool,
    focused: Option<usize>,
    ghost: *const Picture,
    real: Option<*const Picture>,
}

impl Section {
    /// The prediction, as a timeline draws it.
    pub fn ghost(&self) -> Rc<Picture> {
        derived(&self.ghost_cache, &self.predicted.borrow(), Picture::from_report)
    }

    /// The measurement, as a timeline draws it.
    pub fn real(&self) -> Option<Rc<Picture>> {
        let measured = self.measured.borrow().clone()?;
        Some(derived(&self.real_cache, &measured, Picture::from_report))
    }

    /// Takes `picture` as the measurement's (the live run's own, finished: not made
    /// again from the report).
    pub fn adopt_real(&self, measured: &Rc<Report>, picture: Rc<Picture>) {
        *self.real_cache.borrow_mut() = Some((measured.clone(), picture));
    }

    /// The measurement held against the prediction, once per pair.
    pub fn check(&self) -> Option<Rc<Fidelity>> {
        let m = self.measured.borrow().clone()?;
        let p = self.predicted.borrow().clone();
        let mut slot = self.check_cache.borrow_mut();
        if let Some((cp, cm, f)) = slot.as_ref() {
            if Rc::ptr_eq(cp, &p) && Rc::ptr_eq(cm, &m) {
                return Some(f.clone());
            }
        }
        let f = Rc::new(fidelity(&p, &m));
        *slot = Some((p, m, f.clone()));
        Some(f)
    }

    /// The end of its run on its clock (its prediction's or its measurement's,
    /// whichever is later), background tasks included.
    pub fn end_ms(&self) -> f64 {
        let ghost = self.ghost().end_ms;
        self.real().map_or(ghost, |r| ghost.max(r.end_ms))
    }
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

    /// The timelines drawn: those shown, or in Present mode the one shown large.
    pub(super) fn drawn_sections(&self) -> Vec<Rc<Section>> {
        let focus = self.present_focus();
        let mut sections = self.shown_sections();
        sections.retain(|s| !focus.is_some_and(|f| f != s.variant));
        sections
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
            tools.set_attribute("role", "group")?;
            tools.set_attribute("aria-label", &format!("Zoom the {} timeline", v.route()))?;
            // Zoom: the buttons do what the wheel, a drag and + − 0 do on the canvas.
            let mut zoom_buttons = Vec::new();
            for (label, name, zoom) in [
                ("−", "Zoom out", Zoom::By(0.5)),
                ("+", "Zoom in", Zoom::By(2.0)),
                ("Whole run", "Show the whole run", Zoom::Reset),
            ] {
                let b: HtmlButtonElement = self.doc.create_element("button")?.dyn_into()?;
                b.set_type("button");
                b.set_class_name("zoom");
                b.set_text_content(Some(label));
                b.set_attribute("aria-label", &format!("{name} ({} timeline)", v.route()))?;
                b.set_title(&format!(
                    "{name}: or the mouse wheel over the timeline, drag to pan; keys + − 0, Shift+arrows"
                ));
                let app = self.clone();
                on(&b, "click", move |_: web_sys::Event| app.apply_zoom(i, zoom))?;
                tools.append_child(&b)?;
                zoom_buttons.push(b);
            }
            let zoom_reset = zoom_buttons.pop().expect("three buttons");
            zoom_reset.set_disabled(true);
            let canvas: HtmlCanvasElement = self.doc.create_element("canvas")?.dyn_into()?;
            canvas.set_tab_index(0);
            canvas.set_attribute("role", "img")?;
            canvas.set_attribute(
                "aria-label",
                &format!("Timeline of {}: a lane per request, the event loop's lane above them. Use the arrow keys to step through its phases, Enter to replay from one; + and − zoom the time axis, Shift with an arrow pans, 0 shows the whole run.", v.route()),
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
                zoom_reset,
                painter: Painter::new(&canvas)?,
                canvas: canvas.clone(),
                layout: RefCell::default(),
                predicted: RefCell::new(Rc::new(predicted)),
                measured: RefCell::default(),
                window: Cell::new(None),
                ghost_cache: RefCell::default(),
                real_cache: RefCell::default(),
                check_cache: RefCell::default(),
                painted: RefCell::default(),
                cells: RefCell::default(),
                cells_of: Cell::new((0, 0)),
            });
            self.wire_canvas(i, &canvas)?;
            sections.push(section);
        }
        *self.sections.borrow_mut() = sections;
        Ok(())
    }

    pub(super) fn wire_canvas(self: &Rc<Self>, index: usize, canvas: &HtmlCanvasElement) -> Res {
        let point_under = move |app: &App, e: &web_sys::MouseEvent| {
            app.sections.borrow().get(index).and_then(|s| {
                let layout = s.layout.borrow();
                timeline::point_at(&layout, f64::from(e.offset_x()), f64::from(e.offset_y()))
            })
        };
        // A drag pans the time axis: where it started (px, window), and whether it moved
        // (then it is no click).
        let drag: Rc<Cell<Option<DragStart>>> = Rc::default();
        let dragged = Rc::new(Cell::new(false));
        let app = self.clone();
        let (d, moved) = (drag.clone(), dragged.clone());
        on(canvas, "mousemove", move |e: web_sys::MouseEvent| {
            if let Some((x0, (a, b))) = d.get() {
                if e.buttons() & 1 == 0 {
                    d.set(None);
                } else {
                    let dx = f64::from(e.offset_x()) - x0;
                    if dx.abs() > 3.0 || moved.get() {
                        moved.set(true);
                        app.pan_to(index, a, b, dx);
                        app.tooltip(None, 0.0, 0.0);
                        return;
                    }
                }
            }
            let found = point_under(&app, &e);
            app.tooltip(
                found
                    .map(|(text, _)| format!("{text} (click to replay from here)"))
                    .as_deref(),
                f64::from(e.client_x()),
                f64::from(e.client_y()),
            );
        })?;
        let app = self.clone();
        let (d, moved) = (drag.clone(), dragged.clone());
        on(canvas, "mousedown", move |e: web_sys::MouseEvent| {
            if e.button() != 0 {
                return;
            }
            let window = app.sections.borrow().get(index).map(|s| s.layout.borrow().window);
            if let Some(w) = window {
                d.set(Some((f64::from(e.offset_x()), w)));
                moved.set(false);
            }
        })?;
        let d = drag.clone();
        on(canvas, "mouseup", move |_: web_sys::MouseEvent| d.set(None))?;
        // A click on a bar, a stall or an answer moves the replay to its moment.
        let app = self.clone();
        on(canvas, "click", move |e: web_sys::MouseEvent| {
            if dragged.replace(false) {
                return;
            }
            if let Some((_, t)) = point_under(&app, &e) {
                app.seek_to(t);
            }
        })?;
        // The wheel zooms the time axis about the pointer.
        let app = self.clone();
        let wheel = Closure::<dyn FnMut(web_sys::WheelEvent)>::new(move |e: web_sys::WheelEvent| {
            let dy = e.delta_y() * if e.delta_mode() == 1 { 33.0 } else { 1.0 };
            if dy == 0.0 {
                return;
            }
            e.prevent_default();
            app.zoom(index, 2f64.powf(-dy / 300.0), Some(f64::from(e.offset_x())));
        });
        let options = web_sys::AddEventListenerOptions::new();
        options.set_passive(false);
        canvas.add_event_listener_with_callback_and_add_event_listener_options(
            "wheel",
            wheel.as_ref().unchecked_ref(),
            &options,
        )?;
        wheel.forget();
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
            // + and − zoom the time axis, 0 shows the whole run, Shift with an arrow pans.
            let zoom = match e.key().as_str() {
                "+" | "=" => Some(Zoom::By(2.0)),
                "-" | "_" => Some(Zoom::By(0.5)),
                "0" => Some(Zoom::Reset),
                "ArrowLeft" if e.shift_key() => Some(Zoom::Pan(-0.25)),
                "ArrowRight" if e.shift_key() => Some(Zoom::Pan(0.25)),
                _ => None,
            };
            if let Some(z) = zoom {
                e.prevent_default();
                app.apply_zoom(index, z);
                return;
            }
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

    /// Zooms section `index`'s time axis by `factor` about the pointer at `px` (its
    /// centre without one).
    fn zoom(&self, index: usize, factor: f64, px: Option<f64>) {
        let Some(s) = self.sections.borrow().get(index).cloned() else {
            return;
        };
        let (window, (left, width), limit) = {
            let l = s.layout.borrow();
            (l.window, l.plot, self.unzoomed_span(&s))
        };
        let (a, b) = window;
        let at = px.map_or((a + b) / 2.0, |px| {
            a + ((px - left) / width).clamp(0.0, 1.0) * (b - a)
        });
        let (from, to) = Geometry::zoomed(a, b, factor, at, limit);
        self.set_window(&s, from, to, limit);
    }

    fn pan_to(&self, index: usize, a: f64, b: f64, dx_px: f64) {
        let Some(s) = self.sections.borrow().get(index).cloned() else {
            return;
        };
        let width = s.layout.borrow().plot.1.max(1.0);
        let limit = self.unzoomed_span(&s);
        let (from, to) = Geometry::panned(a, b, -dx_px / width * (b - a), limit);
        self.set_window(&s, from, to, limit);
    }

    pub(super) fn apply_zoom(&self, index: usize, zoom: Zoom) {
        match zoom {
            Zoom::By(f) => self.zoom(index, f, None),
            Zoom::Reset => {
                if let Some(s) = self.sections.borrow().get(index).cloned() {
                    s.window.set(None);
                    self.after_zoom(&s);
                }
            }
            Zoom::Pan(share) => {
                let window = self
                    .sections
                    .borrow()
                    .get(index)
                    .map(|s| s.layout.borrow().window);
                if let Some((a, b)) = window {
                    let width = self.sections.borrow()[index].layout.borrow().plot.1;
                    self.pan_to(index, a, b, -share * width);
                }
            }
        }
    }

    /// The span a section shows unzoomed: its own run (every timeline is fitted to
    /// it; the overview lines the runs up).
    fn unzoomed_span(&self, s: &Section) -> f64 {
        let own = if self.lesson_at.get().is_some() && self.view.borrow().shown().len() > 1 {
            self.span_ms(None)
        } else {
            s.end_ms()
        };
        match self.moment() {
            Moment::Live { variant, now } if variant == s.variant => room_for(own, now),
            _ => own,
        }
        .max(1.0)
            * 1.03
    }

    fn set_window(&self, s: &Section, from: f64, to: f64, limit: f64) {
        let whole = from <= 0.0 && to >= limit - 1e-9;
        s.window.set((!whole).then_some((from, to)));
        self.after_zoom(s);
    }

    fn after_zoom(&self, s: &Section) {
        let zoomed = s.window.get().is_some();
        let _ = s
            .zoom_reset
            .set_attribute("aria-disabled", if zoomed { "false" } else { "true" });
        s.zoom_reset.set_disabled(!zoomed);
        // The bar the tooltip described may have moved or left the window.
        self.focus.set(None);
        self.tooltip(None, 0.0, 0.0);
        self.paint_all();
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

    /// The axis the Lesson's steps 1 to 5 share (worked out once per config).
    fn tutorial_axis(&self) -> f64 {
        let config = scaled(&self.settings.borrow());
        if let Some((c, axis)) = self.lesson_axis.borrow().as_ref() {
            if *c == config {
                return *axis;
            }
        }
        let axis = loopscope::view::lesson::tutorial_axis_ms(&config);
        *self.lesson_axis.borrow_mut() = Some((config, axis));
        axis
    }

    /// The span every timeline shares, so they line up; `now` for a run going on.
    pub(super) fn span_ms(&self, now: Option<f64>) -> f64 {
        let sections = self.shown_sections();
        let span = sections.iter().map(|s| s.end_ms()).fold(1.0, f64::max);
        now.map_or(span, |now| room_for(span, now))
    }

    pub(super) fn paint_all(&self) {
        if self.starting.get() {
            return; // the page paints once, when it has started
        }
        let moment = self.moment();
        let now = match moment {
            Moment::Live { now, .. } => Some(now),
            _ => None,
        };
        let scale = self.settings.borrow().scale;
        let present = self.present.get();
        let step = self.current_step();
        let lesson = step.is_some();
        let live = self.live.borrow();
        let sections = self.sections.borrow();
        let shown = self.view.borrow().shown();
        let many = shown.len() > 1;
        // Every width read before anything is written: a read after a write makes the
        // browser lay the page out again, once per timeline.
        let widths: Vec<f64> = sections
            .iter()
            .map(|s| {
                if shown.contains(&s.variant) {
                    s.canvas.client_width().max(300) as f64
                } else {
                    0.0
                }
            })
            .collect();
        // The Lesson's timelines fill the screen's height: one, or two stacked.
        let screen_h = web_sys::window()
            .and_then(|w| w.inner_height().ok())
            .and_then(|h| h.as_f64())
            .unwrap_or(1080.0);
        // What is left of the screen under the timelines' top, less a caption, the
        // axis, the loop's lane and the takeaway under them.
        let timelines_top = if lesson {
            self.doc
                .get_element_by_id("timelines")
                .map_or(400.0, |el| el.get_bounding_client_rect().top())
                + web_sys::window().and_then(|w| w.scroll_y().ok()).unwrap_or(0.0)
        } else {
            0.0
        };
        let loops = self.settings.borrow().config.workers as f64;
        // Less what the step's text took, as measured after the last paint.
        let lesson_lanes = (screen_h - timelines_top - 345.0 - (loops - 1.0) * 30.0 + self.lesson_fit.get())
            .clamp(96.0, 640.0);
        if let Ok(out) = by_id::<Element>(&self.doc, "t-badge") {
            super::set_text(&out, &format::played_at(scale));
        }
        let shared_end = sections
            .iter()
            .filter(|s| shown.contains(&s.variant))
            .map(|s| s.end_ms())
            .fold(1.0, f64::max);
        let focus = self.present_focus();
        for (i, s) in sections.iter().enumerate() {
            if !shown.contains(&s.variant) || focus.is_some_and(|f| f != s.variant) {
                continue;
            }
            let width = widths[i];
            let ghost = s.ghost();
            let going = live.as_ref().filter(|l| l.variant == s.variant);
            let measured = if self.replay_model.get() { None } else { s.real() };
            let (cursor, veil) = match moment {
                Moment::Live { now, .. } if going.is_some() => (Some(now), false),
                Moment::At(t) => (Some(t), true),
                _ => (None, false),
            };
            // Fitted to its own run (the overview lines the runs up); the Lesson's two side
            // by side share one axis, so they compare at a glance.
            // (Steps 1 to 5 are fitted too: the strip above them sets each against 15 s.)
            let own = if lesson && many { shared_end } else { s.end_ms() };
            let span = match (going, now) {
                (Some(_), Some(now)) => room_for(own, now),
                _ => own,
            }
            .max(1.0)
                * 1.03;
            // Zoomed: the window, kept within the run (a new run may be shorter).
            let (from_ms, to_ms) = match s.window.get() {
                Some((a, b)) => Geometry::panned(a, b, 0.0, span),
                None => (0.0, span),
            };
            let lanes = ghost.lanes as f64;
            let geo = Geometry {
                width,
                from_ms,
                to_ms,
                lanes_px: match (lesson, present, many) {
                    (true, _, _) => lesson_lanes,
                    (false, true, _) => (lanes * 21.0).clamp(180.0, 300.0),
                    (false, false, true) => (lanes * 20.0).clamp(160.0, 320.0),
                    (false, false, false) => 240.0,
                },
                scale,
                text_px: if present || lesson { 21.0 } else { 12.0 }, // axis and notes 1 px less
                shared_lag_ms: 0.0,
                probe: !lesson && self.show_probe.get(),
            };
            let focused_index = self.focus.get().filter(|(si, _)| *si == i).map(|(_, hi)| hi);
            let key = Painted {
                geo,
                cursor,
                veil,
                focused: focused_index,
                ghost: Rc::as_ptr(&ghost),
                real: measured.as_ref().map(Rc::as_ptr),
            };
            // A finished timeline is drawn again only when what it shows changed.
            if going.is_none() && s.painted.borrow().as_ref() == Some(&key) {
                continue;
            }
            let mut cells = s.cells.borrow_mut();
            // The pictures drawn (a live run's closed part and its finished picture
            // are one and the same: its cells are kept across the run's end).
            let drawn = (
                Rc::as_ptr(&ghost) as usize,
                match (going, &measured) {
                    (Some(l), _) => l.trace.borrow().closed() as *const Picture as usize,
                    (None, Some(m)) => Rc::as_ptr(m) as usize,
                    (None, None) => 0,
                },
            );
            if s.cells_of.replace(drawn) != drawn {
                *cells = CellCache::default();
            }
            let layout = match going {
                Some(l) => {
                    let trace = l.trace.borrow();
                    let open = trace.open_picture(now.unwrap_or(0.0));
                    timeline::layout_cached(&ghost, &[trace.closed(), &open], geo, cursor, veil, &mut cells)
                }
                None => {
                    let real: Vec<&Picture> = measured.iter().map(|m| &**m).collect();
                    timeline::layout_cached(&ghost, &real, geo, cursor, veil, &mut cells)
                }
            };
            drop(cells);
            let focused = focused_index.and_then(|hi| layout.hits.get(hi).cloned());
            // The window drawn, on the run's clock, for whoever reads the page (a test).
            let window = format!("{from_ms:.3} {to_ms:.3}");
            if s.figure.get_attribute("data-window").as_deref() != Some(window.as_str()) {
                let _ = s.figure.set_attribute("data-window", &window);
            }
            s.painter.paint(&s.canvas, &layout, focused.as_ref());
            *s.layout.borrow_mut() = layout;
            *s.painted.borrow_mut() = if going.is_some() { None } else { Some(key) };
            if self.first_paint_only.replace(false) {
                break;
            }
        }
        self.first_paint_only.set(false);
        let settled = live.is_none();
        drop(sections);
        drop(live);
        self.paint_overview();
        if lesson && settled {
            self.fit_lesson_to_screen();
        }
        if !self.first_timeline.replace(true) {
            if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
                let _ = p.mark("loopscope-first-timeline");
            }
        }
    }
}

impl App {
    /// The Lesson's lanes grown or shrunk so the step's takeaway ends at the screen's
    /// bottom: the room the step's words take is known only once they are laid out.
    pub(super) fn fit_lesson_to_screen(&self) {
        if self.fitting.replace(true) {
            return;
        }
        let screen_h = web_sys::window()
            .and_then(|w| w.inner_height().ok())
            .and_then(|h| h.as_f64())
            .unwrap_or(1080.0);
        let bottom = ["takeaway", "timelines"].iter().find_map(|id| {
            let el = self.doc.get_element_by_id(id)?;
            let r = el.get_bounding_client_rect();
            (r.height() > 0.0).then(|| r.bottom())
        });
        let scroll_y = web_sys::window().and_then(|w| w.scroll_y().ok()).unwrap_or(0.0);
        // The code beside the timelines: its list gives up what its section (with the
        // debug line under it, when a step held the loop) would take past the screen.
        if let Some(lines) = self
            .doc
            .get_element_by_id("code-lines")
            .and_then(|e| e.dyn_into::<HtmlElement>().ok())
        {
            // How far the section reaches past the screen (0 when it is not shown).
            let over = || {
                self.doc.get_element_by_id("code").map_or(0.0, |section| {
                    let r = section.get_bounding_client_rect();
                    if r.height() > 0.0 {
                        r.bottom() + scroll_y - (screen_h - 8.0)
                    } else {
                        0.0
                    }
                })
            };
            // Written only when it changes: this runs at every frame of a replay.
            let style = lines.style();
            let mut past = over();
            if past < -8.0
                && !style
                    .get_property_value("max-height")
                    .unwrap_or_default()
                    .is_empty()
            {
                let _ = style.remove_property("max-height"); // room again: the stylesheet's limit
                past = over();
            }
            if past > 0.0 {
                let h = (f64::from(lines.client_height()) - past).max(120.0);
                let _ = style.set_property("max-height", &format!("{h:.0}px"));
            }
        }
        if let Some(bottom) = bottom {
            let gap = screen_h - (bottom + scroll_y) - 12.0;
            let fit = self.lesson_fit.get();
            let wanted = (fit + gap).clamp(-400.0, 400.0);
            if gap.abs() > 8.0 && (wanted - fit).abs() > 1.0 {
                self.lesson_fit.set(wanted);
                self.paint_all();
            }
        }
        self.fitting.set(false);
    }

    pub(super) fn build_overview(self: &Rc<Self>) -> Res {
        let canvas: HtmlCanvasElement = by_id(&self.doc, "overview-canvas")?;
        let painter = Painter::new(&canvas)?;
        // A row of the overview chooses the endpoint whose code (and, in Present mode,
        // whose timeline) is shown.
        let app = self.clone();
        let c = canvas.clone();
        on(&canvas, "click", move |e: web_sys::MouseEvent| {
            let rect = c.get_bounding_client_rect();
            let y = f64::from(e.client_y()) - rect.top();
            let rows = app.overview_rows.borrow().clone();
            if let Some(&(_, v)) = rows.iter().find(|(r, _)| y >= r.0 && y < r.1) {
                app.show_endpoint(v);
            }
        })?;
        *self.overview.borrow_mut() = Some((canvas, painter));
        Ok(())
    }

    /// Every run shown on one axis, a row each: in the Lab when it shows several, and
    /// the Lesson's side-by-side step.
    fn paint_overview(&self) {
        let Ok(figure) = by_id::<HtmlElement>(&self.doc, "overview") else {
            return;
        };
        let step = self.current_step();
        // Steps 2 to 5: a strip of this step's run beside the longest of the steps before
        // it, on the axis the five share, so each is seen against the 15 s one.
        let strip: Option<Vec<Variant>> = self
            .lesson_at
            .get()
            .filter(|&i| i > 0 && step.as_ref().is_some_and(|s| !s.optional && !s.compares()))
            .and_then(|i| {
                let all = loopscope::view::lesson::steps();
                let here = all[i].variants[0];
                let sections = self.sections.borrow();
                let end = |v: Variant| {
                    sections
                        .iter()
                        .find(|s| s.variant == v)
                        .map_or(0.0, |s| s.end_ms())
                };
                let longest = all[..i]
                    .iter()
                    .filter(|s| !s.optional && !s.compares())
                    .map(|s| s.variants[0])
                    .max_by(|a, b| end(*a).total_cmp(&end(*b)))?;
                Some(vec![longest, here])
            });
        let sections: Vec<Rc<Section>> = match &strip {
            Some(variants) => variants
                .iter()
                .filter_map(|v| self.sections.borrow().iter().find(|s| s.variant == *v).cloned())
                .collect(),
            None => self.shown_sections(),
        };
        let wanted = match &step {
            Some(s) => s.id == "compare" || strip.is_some(),
            None => sections.len() > 1,
        };
        if let Some(caption) = figure.query_selector("figcaption").ok().flatten() {
            let text = if strip.is_some() {
                "This step's run beside the longest before it, on one time axis"
            } else {
                "Every run on one time axis: when each last answered, and the event loop's blocked time, hatched"
            };
            super::set_text(&caption, text);
        }
        figure.set_hidden(!wanted);
        if !wanted {
            return;
        }
        let overview = self.overview.borrow();
        let Some((canvas, painter)) = overview.as_ref() else {
            return;
        };
        let live = self.live.borrow();
        let reports: Vec<(Variant, Rc<Report>, Option<Rc<Report>>)> = sections
            .iter()
            .map(|s| {
                let measured = if self.replay_model.get() {
                    None
                } else {
                    s.measured.borrow().clone()
                };
                (s.variant, s.predicted.borrow().clone(), measured)
            })
            .collect();
        let rows: Vec<loopscope::view::overview::Row> = reports
            .iter()
            .map(|(variant, p, m)| loopscope::view::overview::Row {
                variant: *variant,
                predicted: p,
                measured: m
                    .as_deref()
                    .filter(|_| !live.as_ref().is_some_and(|l| l.variant == *variant)),
            })
            .collect();
        let big = step.is_some() || self.present.get();
        let width = canvas.client_width().max(300) as f64;
        let at = match self.moment() {
            Moment::At(t) => Some(t),
            _ => None,
        };
        let layout = loopscope::view::overview::overview(
            &rows,
            width,
            if big { 21.0 } else { 12.0 },
            match (step.is_some(), self.present.get()) {
                _ if strip.is_some() => 30.0, // a strip: the step's own timeline comes first
                (true, _) => 96.0,
                (false, true) => 34.0, // Present mode: the focused timeline needs the height
                _ => 0.0,
            },
            self.settings.borrow().scale,
            at,
            if strip.is_some() {
                self.tutorial_axis()
            } else {
                0.0
            },
        );
        *self.overview_rows.borrow_mut() = layout
            .hits
            .iter()
            .zip(rows.iter())
            .map(|(h, r)| ((h.y, h.y + h.h), r.variant))
            .collect();
        painter.paint(canvas, &layout, None);
    }
}

/// The span to draw a run going past `span` (its prediction's end) at `now`: a quarter
/// more at a time, so the axis moves now and then rather than every frame (and the
/// merged cells kept for a window stay valid meanwhile).
fn room_for(span: f64, now: f64) -> f64 {
    let mut s = span.max(1.0);
    while s < now {
        s *= 1.25;
    }
    s
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
                "<span class=\"warning\">cancelled {} in (the tutorial's time): {} of {} requests answered</span> (predicted: last response at {}); what it measured so far is drawn",
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
                    .map(|w| format!("<span class=\"warning\"> · ⚠ {}</span>", escape(w)))
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
                        super::run_ms_note(scale)
                    )
                })
                .collect();
            let merged = merged_by_probe(m);
            let mut probe_note = if merged > 1 {
                format!(
                    "<span class=\"note probe-only\">The probe saw {merged} stalls in a row as one: its heartbeat cannot run between steps that follow each other on the loop.</span>"
                )
            } else {
                String::new()
            };
            // The probe's stalls are the loop's own work (the browser's gaps are not
            // drawn): with no blocking call, that is FastAPI's work, or many steps at once.
            let marks = m.probe_stalls.as_ref().map_or(0, Vec::len);
            if m.loop_stalls.is_empty() && marks > 0 {
                let what = if marks == 1 {
                    "The mark in the probe's lane is".to_string()
                } else {
                    format!("The {marks} marks in the probe's lane are")
                };
                let busy = if m.config.overhead_ms > 0.0 {
                    "FastAPI's own work on the loop (what the prediction charges per request)"
                } else {
                    "the loop running many requests' steps back to back"
                };
                probe_note.push_str(&format!(
                    "<span class=\"note probe-only\">{what} {busy}, not a blocking call of the endpoint.</span>"
                ));
            }
            if let Some(x) = m.measurement.as_ref().filter(|x| x.probe_period_ms > 1.0) {
                probe_note.push_str(&format!(
                    "<span class=\"note probe-only\">The probe's heartbeat here is a {} ms <code>setTimeout</code> (this page is not cross-origin isolated, so it has no precise timed wait): it misses stalls under about {} ms.</span>",
                    x.probe_period_ms, x.probe_threshold_ms
                ));
            }
            let gil = if m.stats.loop_gil_wait_total_ms > 0.0 {
                format!(" · loop waited {} for the GIL", d(m.stats.loop_gil_wait_total_ms))
            } else {
                String::new()
            };
            let verdict = match Verdict::of(predicted, m, f) {
                Verdict::AsPredicted => "<span class=\"detail\"> · as predicted</span>".to_string(),
                Verdict::GivenTheMachine { off_pct, why } => {
                    let reason = escape(if f.reason.is_empty() {
                        "this machine's timing"
                    } else {
                        &f.reason
                    });
                    // The Lesson keeps it to one line: the whole reason on hover.
                    format!(
                        "<span class=\"detail\"> · <b>{off_pct:+.0} % against the prediction</b>, all of it this machine's: {} agrees with every figure</span><span class=\"plain\" title=\"{reason}\"> · {off_pct:+.0} %: {reason}</span>",
                        escape(&why),
                    )
                }
                Verdict::Outside => {
                    " · <b>outside the prediction's bounds</b> (each check that failed is below)".to_string()
                }
            };
            let blocked = match m.loop_stalls.len() {
                0 => "the loop never blocked".to_string(),
                1 => format!("the loop blocked once, for {}", d(m.stats.loop_stall_max_ms)),
                n => format!(
                    "the loop blocked {n} times, the longest {}",
                    d(m.stats.loop_stall_max_ms)
                ),
            };
            format!(
                "measured: last answer at <b>{}</b> (predicted {}){verdict}<span class=\"detail\"> · {blocked}{gil}</span>{warnings}{failures}{probe_note}",
                d(m.stats.makespan_ms),
                d(p.makespan_ms),
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

#[cfg(test)]
mod tests {
    use super::caption;
    use loopscope::fidelity::fidelity;
    use loopscope::model::{Measurement, Source, Variant};
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    /// A measured run outside the model's bounds says so over its timeline, in words
    /// beside the numbers, and says the words' milliseconds are the run's.
    #[wasm_bindgen_test]
    fn a_failed_check_is_said_in_words_over_the_timeline() {
        let config = loopscope::Config::default().with_variant(Variant::FullAsync);
        let predicted = loopscope::simulate(&config).unwrap();
        let mut measured = predicted.clone();
        measured.source = Source::Measured;
        measured.measurement = Some(Measurement {
            probe_period_ms: 1.0,
            probe_threshold_ms: 1.5,
            ..Measurement::default()
        });
        measured.probe_stalls = Some(Vec::new());
        // Every answer 300 ms late: the makespan and the answers checks fail.
        measured.requests.edit(|rows| {
            for q in rows.iter_mut() {
                q.responded_ms += 300.0;
                q.latency_ms += 300.0;
            }
        });
        measured.stats.makespan_ms += 300.0;
        let check = fidelity(&predicted, &measured);
        assert!(!check.ok);
        let html = caption(Variant::FullAsync, &predicted, Some((&measured, &check)), 0.2);
        assert!(html.contains("<b>outside the prediction's bounds</b>"), "{html}");
        assert!(
            html.contains("data-failed-check>✗ makespan_ms: measured 1800 ms, predicted 1500 ms"),
            "{html}"
        );
        assert!(
            html.contains("(ms of the run, played at time scale 0.2;"),
            "{html}"
        );
        // Within the bounds, nothing is marked failed.
        let check = fidelity(&predicted, &predicted);
        let html = caption(Variant::FullAsync, &predicted, Some((&predicted, &check)), 1.0);
        assert!(!html.contains("data-failed-check"), "{html}");
        // Probe stalls where nothing blocked are named for what they are.
        let mut gaps = measured.clone();
        gaps.probe_stalls = Some(
            [(10.0, 12.5), (400.0, 403.0)]
                .iter()
                .map(|&(start_ms, end_ms)| loopscope::model::ProbeStall {
                    start_ms,
                    end_ms,
                    lag_ms: end_ms - start_ms - 0.5,
                    worker: 0,
                })
                .collect(),
        );
        let html = caption(Variant::FullAsync, &predicted, Some((&gaps, &check)), 1.0);
        assert!(
            html.contains("The 2 marks in the probe's lane are the loop running many requests' steps back to back, not a blocking call of the endpoint."),
            "{html}"
        );
    }
}
