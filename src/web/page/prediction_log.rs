//! The prediction log: what the `background` endpoint's `log_prediction_details` wrote,
//! read back from IndexedDB (and from memory, where the database would not take a row),
//! newest first, with Clear and Export (JSON Lines).

use super::exports::download;
use super::{by_id, escape, on, App, Res};
use crate::runtime::log::{self, Change};
use loopscope::model::LogEntry;
use loopscope::view::export::log_jsonl;
use std::rc::Rc;
use web_sys::{Element, HtmlButtonElement, HtmlElement};

/// The table shows this many rows at most; Export has them all.
const SHOWN: usize = 200;

/// The page's copy of the log and what it says about it.
#[derive(Default)]
pub(super) struct LogView {
    /// Every row, newest first.
    rows: Vec<LogEntry>,
    /// Why the database could not be read or opened, when it could not.
    db_problem: Option<String>,
    /// The rows changed since the table was drawn.
    dirty: bool,
}

impl App {
    pub(super) fn build_prediction_log(self: &Rc<Self>) -> Res {
        let clear: HtmlButtonElement = by_id(&self.doc, "log-clear")?;
        let app = self.clone();
        on(&clear, "click", move |_: web_sys::Event| {
            let n = app.log.borrow().rows.len();
            let asked = web_sys::window()
                .and_then(|w| {
                    w.confirm_with_message(&format!(
                        "Delete all {n} rows of the prediction log? Export them first to keep them."
                    ))
                    .ok()
                })
                .unwrap_or(false);
            if !asked {
                return;
            }
            let app = app.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = log::clear_all().await {
                    app.status(&format!("The log could not be cleared: {e}"), true);
                }
            });
        })?;
        let export: HtmlButtonElement = by_id(&self.doc, "log-export")?;
        let app = self.clone();
        on(&export, "click", move |_: web_sys::Event| {
            let text = log_jsonl(&app.log.borrow().rows);
            if let Err(e) = download(
                &app.doc,
                "loopscope-prediction-log.jsonl",
                "application/jsonl",
                &text,
            ) {
                app.status(&format!("Export failed: {e:?}"), true);
            }
        })?;
        // Rows come in as the background tasks write them; the table is redrawn with the
        // next frame, not once per row.
        let app = self.clone();
        log::on_change(Rc::new(move |change: &Change| {
            let mut view = app.log.borrow_mut();
            match change {
                Change::Row(entry) => {
                    // Rows arrive as their writes commit, not quite in the order written.
                    let at = view
                        .rows
                        .partition_point(|r| LogEntry::newest_first(r, entry).is_lt());
                    view.rows.insert(at, entry.clone());
                }
                Change::Cleared => view.rows.clear(),
            }
            view.dirty = true;
            drop(view);
            if app.live.borrow().is_none() {
                app.render_prediction_log();
            }
        }));
        // What earlier visits logged.
        let app = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let read = log::rows().await;
            {
                let mut view = app.log.borrow_mut();
                // Rows that came in meanwhile are in the database too: the read has them.
                view.rows = read.entries;
                view.db_problem = read.problem;
                view.dirty = true;
            }
            app.render_prediction_log();
        });
        Ok(())
    }

    /// Redraws the log's table, if its rows changed since.
    pub(super) fn render_prediction_log(&self) {
        let view = self.log.borrow();
        if !view.dirty {
            return;
        }
        let (Ok(body), Ok(count), Ok(problem), Ok(export), Ok(clear)) = (
            by_id::<Element>(&self.doc, "log-rows"),
            by_id::<Element>(&self.doc, "log-count"),
            by_id::<HtmlElement>(&self.doc, "log-problem"),
            by_id::<HtmlButtonElement>(&self.doc, "log-export"),
            by_id::<HtmlButtonElement>(&self.doc, "log-clear"),
        ) else {
            return;
        };
        let n = view.rows.len();
        let html: String = view.rows.iter().take(SHOWN).map(row).collect();
        body.set_inner_html(&html);
        count.set_text_content(Some(&match n {
            0 => "No rows yet: run the background endpoint.".to_string(),
            n if n > SHOWN => format!("{n} rows; the newest {SHOWN} shown (Export has them all)."),
            1 => "1 row.".to_string(),
            n => format!("{n} rows."),
        }));
        export.set_disabled(n == 0);
        clear.set_disabled(n == 0);
        let in_memory = view.rows.iter().filter(|r| !r.stored).count();
        let why = view
            .rows
            .iter()
            .find_map(|r| r.error.clone())
            .or_else(|| view.db_problem.clone());
        let text = match (in_memory, why) {
            (0, None) => None,
            (0, Some(why)) => Some(format!(
                "The log's database cannot be used here ({why}): new rows will be kept in this page's memory only."
            )),
            (k, why) => Some(format!(
                "{k} row{} could not be written to IndexedDB ({}): {} kept in this page's memory only, and a reload loses {}. Export to keep {}.",
                if k == 1 { "" } else { "s" },
                why.unwrap_or_else(|| "no reason given".into()),
                if k == 1 { "it is" } else { "they are" },
                if k == 1 { "it" } else { "them" },
                if k == 1 { "it" } else { "them" },
            )),
        };
        problem.set_text_content(text.as_deref());
        problem.set_hidden(text.is_none());
        drop(view);
        self.log.borrow_mut().dirty = false;
    }
}

/// One row of the table.
fn row(e: &LogEntry) -> String {
    let written = js_sys::Date::new(&e.written_abs_ms.into());
    let time = format!(
        "{:02}:{:02}:{:02}.{:03}",
        written.get_hours(),
        written.get_minutes(),
        written.get_seconds(),
        written.get_milliseconds()
    );
    let stored = if e.stored {
        "IndexedDB".to_string()
    } else {
        format!(
            "<span class=\"memory\" title=\"{}\">memory only</span>",
            escape(e.error.as_deref().unwrap_or(""))
        )
    };
    format!(
        "<tr data-request=\"{id}\" data-stored=\"{s}\"><td>{time}</td><td>{run}</td><td><code>{route}</code></td>\
         <td>#{id}: item_id {item}, feature_value {feature}</td>\
         <td>prediction {prediction}, {metadata}</td><td>{stored}</td></tr>",
        id = e.request_id,
        s = e.stored,
        run = escape(&e.run),
        route = e.variant.route(),
        item = e.request.item_id,
        feature = e.request.feature_value,
        prediction = e.response.prediction,
        metadata = escape(&e.response.metadata),
    )
}
