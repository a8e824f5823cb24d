//! The panels beside and below the timelines: the endpoint's code with each line lit
//! while requests are in it, the server console, and the numbers as `ab` prints them.

use super::{by_id, escape, on, App, Moment, Res};
use loopscope::fidelity::Fidelity;
use loopscope::format;
use loopscope::model::{Report, Stats, Variant};
use loopscope::view::{code, replay};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlButtonElement, HtmlElement, HtmlSelectElement};

impl App {
    pub(super) fn build_code_panel(self: &Rc<Self>) -> Res {
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
                app.show_endpoint(v);
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
        let probe: web_sys::HtmlInputElement = by_id(&self.doc, "show-probe")?;
        let app = self.clone();
        let check = probe.clone();
        on(&probe, "change", move |_: web_sys::Event| {
            app.show_probe.set(check.checked());
            if let Some(body) = app.doc.body() {
                let _ = body.class_list().toggle_with_force("probe", check.checked());
            }
            app.paint_all();
        })?;
        let debug: web_sys::HtmlInputElement = by_id(&self.doc, "asyncio-debug")?;
        let app = self.clone();
        let check = debug.clone();
        on(&debug, "change", move |_: web_sys::Event| {
            app.asyncio_debug.set(check.checked());
            app.render_console(true);
        })?;
        // A console line replays from its moment.
        let console: Element = by_id(&self.doc, "console-lines")?;
        let app = self.clone();
        on(&console, "click", move |e: web_sys::MouseEvent| {
            let t = e
                .target()
                .and_then(|t| t.dyn_into::<Element>().ok())
                .and_then(|el| el.closest("[data-t]").ok().flatten())
                .and_then(|li| li.get_attribute("data-t"))
                .and_then(|t| t.parse::<f64>().ok());
            if let Some(t) = t {
                app.seek_to(t);
            }
        })?;
        self.render_code();
        Ok(())
    }

    /// The report the code panel and the console follow for `v` when no run is going:
    /// the model's in a model replay, else the measurement if there is one.
    pub(super) fn followed(&self, v: Variant) -> Option<Rc<Report>> {
        let sections = self.sections.borrow();
        let s = sections.iter().find(|s| s.variant == v)?;
        let measured = s.measured.borrow();
        Some(match (self.replay_model.get(), measured.as_ref()) {
            (false, Some(m)) => m.clone(),
            _ => s.predicted.borrow().clone(),
        })
    }

    /// The endpoint whose code and console are shown (and, in Present mode, whose
    /// timeline is shown large): the code's menu and the overview's rows choose it.
    pub(super) fn show_endpoint(&self, v: Variant) {
        self.code_variant.set(v);
        if let Ok(select) = by_id::<HtmlSelectElement>(&self.doc, "code-variant") {
            select.set_value(v.id());
        }
        self.render_code();
        self.scroll_code_to_endpoint();
        self.render_console(true);
        if self.present_focus().is_some() {
            self.apply_shown();
            self.paint_all();
        }
    }

    pub(super) fn render_code(&self) {
        // Present mode shows the timeline of the endpoint whose code is shown.
        let focus = self.present_focus();
        for s in self.sections.borrow().iter() {
            let _ = s
                .figure
                .class_list()
                .toggle_with_force("focus", Some(s.variant) == focus);
        }
        let Ok(list) = by_id::<Element>(&self.doc, "code-lines") else {
            return;
        };
        let v = self.code_variant.get();
        if let Ok(sel) = by_id::<HtmlSelectElement>(&self.doc, "code-variant") {
            sel.set_value(v.id());
        }
        let rust = self.rust_shown.get();
        list.set_class_name(if rust { "code rust" } else { "code" });
        let lines: Vec<String> = if rust {
            code::rust(v).lines().map(str::to_string).collect()
        } else {
            code::python(&self.settings.borrow().config.with_variant(v))
        };
        let html: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                format!(
                    "<li data-line=\"{}\" data-count=\"0\"><code>{}</code></li>",
                    i + 1,
                    escape(l)
                )
            })
            .collect();
        list.set_inner_html(&html);
        self.render_code_counts();
    }

    /// Lights each Python line with the requests in it at the moment shown (and the
    /// background tasks, apart), with the count: `data-count` and `data-tasks`.
    pub(super) fn render_code_counts(&self) {
        if self.rust_shown.get() {
            return;
        }
        let v = self.code_variant.get();
        let positions = match self.moment() {
            Moment::Live { variant, now } if variant == v => {
                let live = self.live.borrow();
                live.as_ref()
                    .map(|l| l.trace.borrow().live_positions(now))
                    .unwrap_or_default()
            }
            Moment::At(t) => self
                .followed(v)
                .map(|r| replay::positions_at(&r, t))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let counts = code::counts(v, &positions);
        // The hint on lit lines, only while some line is lit.
        if let Some(hint) = self.doc.get_element_by_id("code-hint") {
            let lit = counts.requests.iter().chain(counts.tasks.iter()).any(|&n| n > 0);
            let _ = hint.toggle_attribute_with_force("hidden", !lit);
        }
        let Ok(items) = self.doc.query_selector_all("#code-lines li") else {
            return;
        };
        for i in 0..items.length() {
            let Some(li) = items.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
                continue;
            };
            let n = counts.requests.get(i as usize).copied().unwrap_or(0);
            let tasks = counts.tasks.get(i as usize).copied().unwrap_or(0);
            let _ = li.set_attribute("data-count", &n.to_string());
            if tasks > 0 {
                let _ = li.set_attribute("data-tasks", &tasks.to_string());
            } else {
                let _ = li.remove_attribute("data-tasks");
            }
            let _ = li.class_list().toggle_with_force("lit", n > 0);
            let _ = li.class_list().toggle_with_force("tasks", tasks > 0);
            let badge = li.query_selector(".count").ok().flatten();
            let waiting = counts.waiting.get(i as usize).copied().unwrap_or(0);
            let text = code::badge(n, waiting, tasks);
            match (text, badge) {
                (None, Some(b)) => b.remove(),
                (None, None) => {}
                (Some((t, label)), Some(b)) => {
                    b.set_text_content(Some(&t));
                    let _ = b.set_attribute("aria-label", &label);
                }
                (Some((t, label)), None) => {
                    if let Ok(b) = self.doc.create_element("span") {
                        b.set_class_name("count");
                        let _ = b.set_attribute("aria-label", &label);
                        b.set_text_content(Some(&t));
                        let _ = li.append_child(&b);
                    }
                }
            }
        }
    }

    /// The console of the code panel's variant: the live run's as it prints; else the
    /// followed report's, each line with its moment (`data-t`, on the run's clock; a
    /// click replays from it), the lines after the moment shown marked `data-future`
    /// and the latest one before it marked.
    pub(super) fn render_console(&self, reset: bool) {
        let Ok(list) = by_id::<Element>(&self.doc, "console-lines") else {
            return;
        };
        if self.console_to_end.replace(false) {
            if let Some(el) = list.dyn_ref::<HtmlElement>() {
                el.set_scroll_top(i32::MAX);
            }
        }
        let v = self.code_variant.get();
        let scale = self.settings.borrow().scale;
        let line_html = |t: f64, r: u64, text: &str, class: &str| {
            let bg = text.contains("Background Task") || text.starts_with("Logging");
            let error = text.starts_with("ERROR:");
            let asyncio = class == "asyncio";
            let class = if asyncio { "" } else { class };
            let kind = if asyncio { " data-kind=\"asyncio\"" } else { "" };
            let classes = [
                (bg, "bg"),
                (error, "err"),
                (asyncio, "asyncio"),
                (!class.is_empty(), class),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| *c)
            .collect::<Vec<_>>()
            .join(" ");
            format!(
                "<li data-t=\"{t}\"{kind} class=\"{classes}\"><span class=\"t\">{:.3} s</span><span class=\"r\">req {r}</span><span class=\"line\">{}</span></li>",
                t / scale / 1000.0,
                // A run of dashes stays whole when the line wraps.
                escape(text).replace("---", "<span class=\"nb\">---</span>")
            )
        };
        // The console shows a window of lines, as a terminal's screen does: the latest
        // while a run goes, those round the moment in a replay. A run of thousands of
        // requests prints tens of thousands; the page lays out a few hundred.
        const LIVE: usize = 200;
        const AROUND: usize = 150;
        let more = by_id::<HtmlElement>(&self.doc, "console-more").ok();
        let say_more = |before: usize, after: usize, dropped: u64| {
            if let Some(m) = &more {
                let mut text = match (before, after) {
                    (0, 0) => String::new(),
                    (b, 0) => format!("… {b} earlier lines not shown"),
                    (0, a) => format!("{a} later lines not shown …"),
                    (b, a) => format!("… {b} earlier and {a} later lines not shown"),
                };
                if dropped > 0 {
                    if !text.is_empty() {
                        text.push_str("; ");
                    }
                    text.push_str(&format!(
                        "the run printed {dropped} more lines than the report keeps (the first {})",
                        loopscope::model::limits::MAX_CONSOLE_LINES
                    ));
                }
                m.set_hidden(text.is_empty());
                m.set_text_content(Some(&text));
            }
        };
        match self.moment() {
            Moment::Live { variant, .. } if variant == v => {
                if reset {
                    list.set_inner_html("");
                    self.console_shown.set(0);
                    self.console_window.set((0, 0));
                }
                let live = self.live.borrow();
                let Some(l) = live.as_ref() else { return };
                let run = l.trace.borrow();
                let lines = run.console();
                let from = self.console_shown.get().max(lines.len().saturating_sub(LIVE));
                if from >= lines.len() {
                    return;
                }
                let html: String = lines[from..]
                    .iter()
                    .map(|c| line_html(c.t_ms, c.request, &c.line, ""))
                    .collect();
                let _ = list.insert_adjacent_html("beforeend", &html);
                // Only the latest stay.
                let mut extra = list.child_element_count() as usize;
                while extra > LIVE {
                    match list.first_element_child() {
                        Some(first) => first.remove(),
                        None => break,
                    }
                    extra -= 1;
                }
                self.console_shown.set(lines.len());
                say_more(lines.len().saturating_sub(LIVE), 0, 0);
                // Scrolled to the end next time, before anything is written: scrolling
                // now, just after the lines went in, would make the browser lay the page
                // out at once.
                self.console_to_end.set(true);
            }
            Moment::Live { .. } => {}
            moment => {
                let Some(report) = self.followed(v) else { return };
                // What the server printed, and with asyncio's debug mode on, what asyncio
                // logged of each step that held the loop 0.1 s or more, in time order.
                let mut entries: Vec<(f64, u64, &str, &str)> = report
                    .console
                    .iter()
                    .map(|c| (c.t_ms, c.request, c.line.as_str(), ""))
                    .collect();
                let debug = if self.asyncio_debug.get() {
                    loopscope::view::debug::asyncio_debug(&report, scale)
                } else {
                    Vec::new()
                };
                if !debug.is_empty() {
                    entries.extend(
                        debug
                            .iter()
                            .map(|d| (d.t_ms, d.request, d.text.as_str(), "asyncio")),
                    );
                    entries.sort_by(|a, b| a.0.total_cmp(&b.0));
                }
                let total = entries.len();
                let until = match moment {
                    Moment::At(t) => entries.partition_point(|e| e.0 <= t),
                    _ => total,
                };
                // The window round the moment: kept while the moment stays well inside
                // it, so a replay redraws it now and then, not every frame.
                let (mut start, mut end) = self.console_window.get();
                let margin_before = if start == 0 { 0 } else { 20 };
                let margin_after = if end >= total { 0 } else { 20 };
                let inside = until >= start + margin_before && until + margin_after <= end;
                let redraw = reset
                    || !inside
                    || end > total
                    || self.console_shown.get() != total
                    || list.child_element_count() as usize != end - start;
                if redraw {
                    start = until.saturating_sub(AROUND);
                    end = (start + 2 * AROUND).min(total);
                    start = end.saturating_sub(2 * AROUND);
                    let html: String = entries[start..end]
                        .iter()
                        .map(|&(t, r, text, class)| line_html(t, r, text, class))
                        .collect();
                    list.set_inner_html(&html);
                    self.console_shown.set(total);
                    self.console_window.set((start, end));
                    say_more(start, total - end, report.console_dropped);
                }
                // Mark the future and the latest line.
                let items = list.children();
                let mut latest: Option<Element> = None;
                for i in 0..items.length() {
                    let Some(li) = items.item(i) else { continue };
                    let at = start + i as usize;
                    let future = at >= until;
                    if future {
                        let _ = li.set_attribute("data-future", "");
                    } else {
                        let _ = li.remove_attribute("data-future");
                    }
                    let _ = li.class_list().toggle_with_force("future", future);
                    let is_latest = at + 1 == until && matches!(moment, Moment::At(_));
                    let _ = li.class_list().toggle_with_force("latest", is_latest);
                    if is_latest {
                        let _ = li.set_attribute("aria-current", "true");
                        latest = Some(li);
                    } else {
                        let _ = li.remove_attribute("aria-current");
                    }
                }
                // The whole run shown: its last lines in view, as a terminal's are.
                if matches!(moment, Moment::End) {
                    if let Some(el) = list.dyn_ref::<HtmlElement>() {
                        el.set_scroll_top(i32::MAX);
                    }
                }
                if let (Some(li), Some(el)) = (latest, list.dyn_ref::<HtmlElement>()) {
                    // Keep the latest line in view inside the console (not the page).
                    if let Some(li) = li.dyn_ref::<HtmlElement>() {
                        let top = li.offset_top() - el.offset_top();
                        let (view_top, view_h) = (el.scroll_top(), el.client_height());
                        if top < view_top || top + li.offset_height() > view_top + view_h {
                            el.set_scroll_top((top - view_h / 2).max(0));
                        }
                    }
                }
            }
        }
    }

    /// The numbers, measured beside the model: so far, at a replay's moment.
    pub(super) fn render_stats(&self) {
        let Ok(body) = by_id::<Element>(&self.doc, "stats-rows") else {
            return;
        };
        let moment = self.moment();
        let scale = self.settings.borrow().scale;
        let html: String = self
            .shown_sections()
            .iter()
            .map(|s| {
                let (p, m) = (s.predicted.borrow().clone(), s.measured.borrow().clone());
                match moment {
                    Moment::At(t) => {
                        let requests = |r: &Report| {
                            let answered = r.requests.iter().filter(|q| q.responded_ms <= t).count();
                            format!("{answered} of {} so far", r.config.requests)
                        };
                        stats_row(
                            s.variant,
                            &replay::stats_at(&p, t),
                            m.as_ref().map(|m| replay::stats_at(m, t)).as_ref(),
                            requests(m.as_deref().unwrap_or(&p)),
                            None,
                            scale,
                        )
                    }
                    _ => stats_row(
                        s.variant,
                        &p.stats,
                        m.as_ref().map(|m| &m.stats),
                        p.requests.len().to_string(),
                        s.check().as_deref(),
                        scale,
                    ),
                }
            })
            .collect();
        body.set_inner_html(&html);
    }
}

/// One endpoint's row of numbers: measured, then the prediction, and the difference.
/// Cells read in the tutorial's time (`scale` is the run's); their `data-measured` and
/// `data-predicted` stay in the run's milliseconds. `requests` is the first cell;
/// `check`, the fidelity verdict, is given for a finished run only (a run half replayed
/// is not compared).
pub(super) fn stats_row(
    v: Variant,
    predicted: &Stats,
    measured: Option<&Stats>,
    requests: String,
    check: Option<&Fidelity>,
    scale: f64,
) -> String {
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
    // Shown in the tutorial's time: ms ÷ scale, requests per second × scale.
    let fmt = |x: f64, ms: bool| {
        if ms {
            format::duration(x / scale)
        } else {
            format!("{:.2}", x * scale)
        }
    };
    // `data-variant` marks a finished (measured) row, the tests' hook; a row with the
    // model's numbers alone says which variant it is in `data-model-only`.
    let hook = if measured.is_some() {
        "data-variant"
    } else {
        "data-model-only"
    };
    let mut html = format!(
        "<tr {hook}=\"{}\"><th scope=\"row\"><code>{}</code></th><td data-metric=\"requests\">{requests}</td>",
        v.id(),
        v.route().trim_start_matches("POST ")
    );
    for (key, get, ms) in metrics {
        // The probe is compared with the loop's blocked time as measured, the rest with
        // the model.
        let (p, against) = if key == "probe_stall_total_ms" {
            (measured.map(|m| m.loop_stall_total_ms), "loop blocked")
        } else {
            (get(predicted), "predicted")
        };
        let m = measured.and_then(get);
        // The fidelity check behind this cell, if one is: its verdict is the cell's.
        let verdict = check.and_then(|c| {
            c.checks.iter().find(|x| match key {
                "makespan_ms" => x.name == "makespan_ms",
                "loop_stall_total_ms" => x.name == "loop_stall_total_ms",
                "probe_stall_total_ms" => x.name.starts_with("probe_stall_total_ms"),
                _ => false,
            })
        });
        let bad = verdict.is_some_and(|x| !x.ok);
        let ok_attr = verdict.map_or(String::new(), |x| {
            format!(
                " data-ok=\"{}\" title=\"{}{}\"",
                x.ok,
                escape(&x.says),
                super::run_ms_note(scale)
            )
        });
        let attr = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x}"));
        let cell = match (m, p) {
            (Some(m), Some(p)) => {
                let diff = if p.abs() > 1e-9 {
                    format!("{:+.1}%", (m - p) / p * 100.0)
                } else if ms {
                    format!("{:+.0} ms", (m - p) / scale)
                } else {
                    format!("{:+.2}", (m - p) * scale)
                };
                format!(
                    "<span class=\"m\">{}</span><span class=\"p\">{against} {} <span class=\"d{}\">{diff}</span></span>",
                    fmt(m, ms),
                    fmt(p, ms),
                    if bad { " bad" } else { "" }
                )
            }
            (None, Some(p)) => format!(
                "<span class=\"m\">—</span><span class=\"p\">{against} {}</span>",
                fmt(p, ms)
            ),
            _ => "<span class=\"m\">—</span>".to_string(),
        };
        let class = if key == "probe_stall_total_ms" {
            " class=\"probe-only\""
        } else {
            ""
        };
        html.push_str(&format!(
            "<td data-metric=\"{key}\"{class} data-measured=\"{}\" data-predicted=\"{}\"{ok_attr}>{cell}</td>",
            attr(m),
            attr(p)
        ));
    }
    html.push_str("</tr>");
    html
}
