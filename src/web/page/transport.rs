//! The replay's transport: play and pause (space), step to the previous or next event
//! (`,` and `.`), a speed from 0.1× to 4× (in the tutorial's time), and a scrubber over
//! the runs' clock. At its moment, every timeline, the code panel, the console and the
//! numbers show the state then; the clock itself is the core's `view::replay::Clock`.

use super::{by_id, on, App, Res};
use loopscope::format;
use loopscope::model::Report;
use loopscope::view::replay::{Clock, Moments, SPEEDS};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlButtonElement, HtmlInputElement, HtmlSelectElement};

impl App {
    pub(super) fn build_transport(self: &Rc<Self>) -> Res {
        let speed: HtmlSelectElement = by_id(&self.doc, "t-speed")?;
        for s in SPEEDS {
            let option = self.doc.create_element("option")?;
            option.set_attribute("value", &s.to_string())?;
            option.set_text_content(Some(&format!("{s}×")));
            speed.append_child(&option)?;
        }
        speed.set_value("1");
        let app = self.clone();
        let sel = speed.clone();
        on(&speed, "change", move |_: web_sys::Event| {
            if let Ok(s) = sel.value().parse::<f64>() {
                app.clock.borrow_mut().speed = s;
            }
        })?;
        let scrubber: HtmlInputElement = by_id(&self.doc, "t-scrub")?;
        let app = self.clone();
        let input = scrubber.clone();
        on(&scrubber, "input", move |_: web_sys::Event| {
            if let Ok(t) = input.value().parse::<f64>() {
                app.seek_to(t);
            }
        })?;
        for (id, act) in [
            ("t-play", App::toggle_play as fn(&Rc<App>)),
            ("t-prev", |app: &Rc<App>| app.step(false)),
            ("t-next", |app: &Rc<App>| app.step(true)),
        ] {
            let button: HtmlButtonElement = by_id(&self.doc, id)?;
            let app = self.clone();
            on(&button, "click", move |_: web_sys::Event| act(&app))?;
        }
        let model: HtmlInputElement = by_id(&self.doc, "t-model")?;
        let app = self.clone();
        let check = model.clone();
        on(&model, "change", move |_: web_sys::Event| {
            app.replay_model.set(check.checked());
            app.reset_clock_keeping_moment();
            app.render_moment(true);
        })?;
        // Space plays and pauses, `,` and `.` step, `[` and `]` step the loop's iterations,
        // wherever the focus is but in a field
        // (or on a control that space already presses).
        let app = self.clone();
        on(&self.doc, "keydown", move |e: web_sys::KeyboardEvent| {
            if e.ctrl_key() || e.meta_key() || e.alt_key() || app.live.borrow().is_some() {
                return;
            }
            // Typing in a field keeps its keys; a checkbox or the scrubber does not type.
            let typing = e
                .target()
                .and_then(|t| t.dyn_into::<Element>().ok())
                .is_some_and(|el| match el.dyn_ref::<HtmlInputElement>() {
                    Some(input) => !matches!(input.type_().as_str(), "checkbox" | "radio" | "range"),
                    None => {
                        matches!(
                            el.tag_name().as_str(),
                            "SELECT" | "TEXTAREA" | "BUTTON" | "SUMMARY" | "A"
                        ) || el.has_attribute("contenteditable")
                    }
                });
            let on_button = e
                .target()
                .is_some_and(|t| t.dyn_ref::<HtmlButtonElement>().is_some());
            let act: Option<fn(&Rc<App>)> = match e.key().as_str() {
                " " if !typing => Some(App::toggle_play),
                "," if !typing || on_button => Some(|app| app.step(false)),
                "." if !typing || on_button => Some(|app| app.step(true)),
                // [ and ] step through the model's iterations of the loop.
                "[" if !typing || on_button => Some(|app| app.step_iteration(false)),
                "]" if !typing || on_button => Some(|app| app.step_iteration(true)),
                _ => None,
            };
            if let Some(act) = act {
                e.prevent_default();
                act(&app);
            }
        })?;
        Ok(())
    }

    /// The reports the replay covers: each section's shown report (the model's in a
    /// model replay) and its prediction.
    fn replayed(&self) -> Vec<Rc<Report>> {
        self.shown_sections()
            .iter()
            .flat_map(|s| {
                let measured = if self.replay_model.get() {
                    None
                } else {
                    s.measured.borrow().clone()
                };
                [Some(s.predicted.borrow().clone()), measured]
            })
            .flatten()
            .collect()
    }

    /// The clock back at the end of what there is to replay (after a run, or new
    /// settings): everything shown.
    pub(super) fn reset_clock(&self) {
        let span = self.span_ms(None);
        let scale = self.settings.borrow().scale;
        let speed = self.clock.borrow().speed;
        *self.clock.borrow_mut() = Clock {
            speed,
            ..Clock::at_end(span, scale)
        };
    }

    /// A new span (another source), the moment kept where it can be.
    fn reset_clock_keeping_moment(&self) {
        let t = self.clock.borrow().t_ms;
        let at_end = {
            let c = self.clock.borrow();
            c.t_ms >= c.span_ms
        };
        self.reset_clock();
        if !at_end {
            self.clock.borrow_mut().seek(t);
        }
    }

    /// Shows everything at `t_ms` on the runs' clock (the scrubber, a click, `seek`).
    pub(super) fn seek_to(self: &Rc<Self>, t_ms: f64) {
        if self.live.borrow().is_some() {
            return;
        }
        self.clock.borrow_mut().seek(t_ms);
        self.render_moment(false);
        self.say_replay();
    }

    /// The status line says where the replay stands: playing, paused at a moment, or
    /// the whole run shown.
    pub(super) fn say_replay(&self) {
        let clock = *self.clock.borrow();
        let t = |ms: f64| format::duration(ms / clock.scale);
        let text = if clock.playing {
            "Replaying: space pauses; the comma and period keys move event by event.".to_string()
        } else if clock.t_ms < clock.span_ms {
            format!(
                "Paused at {} of {}: ▶ Replay (space) plays on from here; the comma and period keys move event by event.",
                t(clock.t_ms),
                t(clock.span_ms)
            )
        } else {
            "The whole run shown: ▶ Replay (space) plays it from the start; drag the time to any moment."
                .to_string()
        };
        self.status(&text, false);
    }

    pub(super) fn toggle_play(self: &Rc<Self>) {
        if self.live.borrow().is_some() {
            return;
        }
        self.clock.borrow_mut().toggle();
        self.render_moment(false);
        self.say_replay();
        if self.clock.borrow().playing {
            self.animate();
        }
    }

    pub(super) fn step(self: &Rc<Self>, forward: bool) {
        if self.live.borrow().is_some() {
            return;
        }
        let reports = self.replayed();
        let moments = Moments::of(&reports.iter().map(|r| &**r).collect::<Vec<_>>());
        self.clock.borrow_mut().step(&moments, forward);
        self.render_moment(false);
        self.say_replay();
    }

    /// The transport shows the clock: the scrubber's place (ms on the runs' clock), the
    /// time in the tutorial's seconds, play or pause; it waits while a run goes.
    pub(super) fn render_transport(&self) {
        let live = self.live.borrow().is_some();
        let clock = *self.clock.borrow();
        if let Ok(scrubber) = by_id::<HtmlInputElement>(&self.doc, "t-scrub") {
            scrubber.set_max(&format!("{}", clock.span_ms));
            scrubber.set_value(&format!("{}", clock.t_ms));
            scrubber.set_disabled(live);
            let _ = scrubber.set_attribute(
                "aria-valuetext",
                &format!(
                    "{} of {} (the tutorial's time)",
                    format::duration(clock.t_ms / clock.scale),
                    format::duration(clock.span_ms / clock.scale)
                ),
            );
        }
        if let Ok(out) = by_id::<Element>(&self.doc, "t-time") {
            out.set_text_content(Some(&if live {
                "live".to_string()
            } else {
                format!(
                    "{} of {}",
                    format::duration(clock.t_ms / clock.scale),
                    format::duration(clock.span_ms / clock.scale)
                )
            }));
        }
        if let Ok(play) = by_id::<HtmlButtonElement>(&self.doc, "t-play") {
            play.set_text_content(Some(if clock.playing {
                "❚❚ Pause"
            } else {
                "▶ Replay"
            }));
            let _ = play.set_attribute("aria-pressed", if clock.playing { "true" } else { "false" });
            play.set_disabled(live);
        }
        for id in ["t-prev", "t-next", "t-speed", "t-model"] {
            if let Some(el) = self.doc.get_element_by_id(id) {
                if live {
                    let _ = el.set_attribute("disabled", "");
                } else {
                    let _ = el.remove_attribute("disabled");
                }
            }
        }
    }
}
