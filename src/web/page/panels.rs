//! The panels beside and below the timelines: the endpoint's code with each line lit
//! while requests are in it, the server console, and the numbers as `ab` prints them.

use super::{by_id, escape, on, App, Res};
use crate::runtime::now_abs;
use loopscope::fidelity::fidelity;
use loopscope::format;
use loopscope::model::{Report, Stats, Variant};
use loopscope::view::code;
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

    pub(super) fn render_code(&self) {
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
    pub(super) fn render_code_counts(&self) {
        if self.rust_shown.get() {
            return;
        }
        let v = self.code_variant.get();
        let live = self.live.borrow();
        let positions = match live.as_ref() {
            Some(l) if l.variant == v => {
                let run = l.trace.borrow();
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
    pub(super) fn render_console(&self, reset: bool) {
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
                let run = l.trace.borrow();
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

    pub(super) fn render_stats(&self) {
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
}

pub(super) fn stats_row(v: Variant, predicted: &Report, measured: Option<&Report>) -> String {
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
    let fmt = |x: f64, ms: bool| {
        if ms {
            format::duration(x)
        } else {
            format!("{x:.2}")
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
        // The fidelity check behind this cell, if one is: its verdict is the cell's.
        let verdict = check.as_ref().and_then(|c| {
            c.checks.iter().find(|x| match key {
                "makespan_ms" => x.name == "makespan_ms",
                "loop_stall_total_ms" => x.name == "loop_stall_total_ms",
                "probe_stall_total_ms" => x.name.starts_with("probe_stall_total_ms"),
                _ => false,
            })
        });
        let bad = verdict.is_some_and(|x| !x.ok);
        let ok_attr = verdict.map_or(String::new(), |x| {
            format!(" data-ok=\"{}\" title=\"{}\"", x.ok, escape(&x.says))
        });
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
            "<td data-metric=\"{key}\" data-measured=\"{}\" data-predicted=\"{}\"{ok_attr}>{cell}</td>",
            attr(m),
            attr(p)
        ));
    }
    html.push_str("</tr>");
    html
}
