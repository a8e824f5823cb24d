//! "Inside the event loop": the model's loop at the replay's moment, for the endpoint
//! whose code is shown (core: `view::inside`), and a step through its iterations.

use super::{by_id, escape, on, App, Moment, Res};
use loopscope::sim::trace::{self, Trace};
use loopscope::view::inside;
use loopscope::view::settings::scaled;
use std::rc::Rc;
use web_sys::{Element, HtmlButtonElement, HtmlInputElement};

/// Entries listed a part before "and n more".
const LISTED: usize = 6;

impl App {
    pub(super) fn build_inside(self: &Rc<Self>) -> Res {
        for (id, forward) in [("i-prev", false), ("i-next", true)] {
            let b: HtmlButtonElement = by_id(&self.doc, id)?;
            let app = self.clone();
            on(&b, "click", move |_: web_sys::Event| app.step_iteration(forward))?;
        }
        Ok(())
    }

    /// The model's trace of the code panel's endpoint (kept per config).
    fn inside_trace(&self) -> Result<Rc<Trace>, String> {
        let config = scaled(&self.settings.borrow()).with_variant(self.code_variant.get());
        if let Some((_, t)) = self.inside_traces.borrow().iter().find(|(c, _)| *c == config) {
            return Ok(t.clone());
        }
        let t = Rc::new(trace::trace(&config).map_err(|e| e.message)?);
        let mut kept = self.inside_traces.borrow_mut();
        if kept.len() >= 8 {
            kept.remove(0);
        }
        kept.push((config, t.clone()));
        Ok(t)
    }

    /// One `_run_once` on or back: the replay switched to the prediction (whose
    /// iterations these are), moved to the iteration's start, the panel showing it.
    pub(super) fn step_iteration(self: &Rc<Self>, forward: bool) {
        if self.live.borrow().is_some() {
            return;
        }
        let Ok(trace) = self.inside_trace() else {
            return;
        };
        if trace.iterations.is_empty() {
            return;
        }
        if !self.replay_model.get() {
            self.replay_model.set(true);
            if let Ok(check) = by_id::<HtmlInputElement>(&self.doc, "t-model") {
                check.set_checked(true);
            }
            self.reset_clock();
        }
        let last = trace.iterations.len() - 1;
        let t = self.clock.borrow().t_ms;
        let next = match (self.inside_at.get(), forward) {
            (Some(i), true) => (i + 1).min(last),
            (Some(i), false) => i.saturating_sub(1),
            // From a moment: the first iteration after it (from the start, the first),
            // or the last one before it.
            (None, true) if t <= trace.iterations[0].start_ms + 1e-9 => 0,
            (None, true) => trace
                .iterations
                .iter()
                .position(|it| it.start_ms > t + 1e-9)
                .unwrap_or(last),
            (None, false) => trace
                .iterations
                .iter()
                .rposition(|it| it.start_ms < t - 1e-9)
                .unwrap_or(0),
        };
        self.clock.borrow_mut().seek(trace.iterations[next].end_ms);
        self.render_moment(false);
        self.inside_at.set(Some(next));
        self.say_replay();
        self.render_inside();
    }

    /// The panel at the moment shown (or the iteration stepped to).
    pub(super) fn render_inside(&self) {
        let Ok(host) = by_id::<Element>(&self.doc, "inside-parts") else {
            return;
        };
        let scale = self.settings.borrow().scale;
        let v = self.code_variant.get();
        let moment = match self.moment() {
            Moment::Live { now, .. } => now,
            Moment::At(t) => t,
            _ => self.clock.borrow().t_ms,
        };
        // A step through the iterations holds until the clock moves elsewhere.
        let iteration = self.inside_at.get().and_then(|i| {
            let trace = self.inside_trace().ok()?;
            trace
                .iterations
                .get(i)
                .filter(|it| (it.end_ms - moment).abs() < 1e-6)
                .cloned()
        });
        if iteration.is_none() {
            self.inside_at.set(None);
        }
        let config = scaled(&self.settings.borrow()).with_variant(v);
        let state = match &iteration {
            Some(it) => Ok(it.state.clone()),
            None => trace::loop_state(&config, moment, 0).map_err(|e| e.message),
        };
        let t = loopscope::format::duration(moment / scale);
        let measured = !self.replay_model.get() && self.followed(v).is_some_and(|r| r.measurement.is_some());
        // Past this endpoint's own run (the replay's clock spans every run shown).
        let ended = self.followed(v).map(|r| {
            r.requests
                .iter()
                .map(|q| q.background_done_ms.unwrap_or(q.responded_ms).max(q.responded_ms))
                .fold(r.stats.makespan_ms, f64::max)
        });
        let note = match (&state, measured) {
            (Err(e), _) => format!("Not shown: {e}."),
            (Ok(_), _) if ended.is_some_and(|end| moment > end + 1e-6) => format!(
                "{} at {t}: its run ended at {}, so its loop has nothing left.",
                v.route(),
                loopscope::format::duration(ended.unwrap_or(0.0) / scale)
            ),
            (Ok(_), true) => format!(
                "{} at {t}, as the model has it: this page measures when things happen, not the browser's own queues.",
                v.route()
            ),
            (Ok(_), false) => format!("{}, the model's loop at {t}.", v.route()),
        };
        let workers = config.workers;
        let note = if workers > 1 {
            format!("{note} The first of its {workers} server workers.")
        } else {
            note
        };
        if let Some(el) = self.doc.get_element_by_id("inside-note") {
            el.set_text_content(Some(&note));
        }
        if let Some(el) = self.doc.get_element_by_id("inside-iteration") {
            match &iteration {
                Some(it) => {
                    let (head, lines) = inside::iteration_lines(it, scale);
                    let items: String = lines.iter().map(|l| format!("<li>{}</li>", escape(l))).collect();
                    el.set_inner_html(&format!("<b>{}</b><ol>{items}</ol>", escape(&head)));
                    let _ = el.toggle_attribute_with_force("hidden", false);
                }
                None => {
                    let _ = el.toggle_attribute_with_force("hidden", true);
                }
            }
        }
        let html = match &state {
            Ok(s) => {
                // What holds something first, in the loop's order; the empty ones on a line.
                // Projected, each list keeps to a few lines so the panel fits the screen.
                let limit = if self.present.get() { LISTED / 2 } else { LISTED };
                let parts = inside::parts(s, scale, limit);
                let (busy, empty): (Vec<_>, Vec<_>) = parts
                    .iter()
                    .partition(|p| p.busy || p.title == "Ready to run" || p.title == "Running now");
                let mut html: String = busy
                    .iter()
                    .map(|p| {
                        let items: String = p
                            .items
                            .iter()
                            .map(|i| format!("<li>{}</li>", escape(i)))
                            .chain((p.more > 0).then(|| format!("<li class=\"more\">and {} more</li>", p.more)))
                            .collect();
                        format!(
                            "<div class=\"part{}\"><dt title=\"{}\">{}</dt><dd><span class=\"summary\">{}</span>{}</dd></div>",
                            if p.busy { " busy" } else { "" },
                            escape(&p.python),
                            escape(p.title),
                            escape(&p.summary),
                            if items.is_empty() { String::new() } else { format!("<ul>{items}</ul>") }
                        )
                    })
                    .collect();
                if !empty.is_empty() {
                    let names: Vec<String> = empty
                        .iter()
                        .map(|p| format!("<span title=\"{}\">{}</span>", escape(&p.python), escape(p.title)))
                        .collect();
                    html.push_str(&format!(
                        "<div class=\"part\"><dt>Empty</dt><dd>{}</dd></div>",
                        names.join(", ")
                    ));
                }
                html
            }
            Err(_) => String::new(),
        };
        if host.inner_html() != html {
            host.set_inner_html(&html);
        }
    }
}
