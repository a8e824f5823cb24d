//! "Inside the event loop": the model's loop at a moment, as a panel a Python programmer
//! reads: what is ready to run, the timers, the connections not read yet, the
//! threadpool's tokens and their line, the GIL, the process pool, the task queue, the
//! background tasks still to run. Each part names its CPython / anyio / Starlette
//! object for a tooltip. Words only; the page lays them out.

use crate::format;
use crate::sim::trace::{Item, Iteration, LoopState};

/// One part of the panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// What it is, in plain words.
    pub title: &'static str,
    /// What it is in CPython, anyio or Starlette (the tooltip).
    pub python: String,
    /// Its state in a few words: "2 of 40 tokens lent".
    pub summary: String,
    /// Its entries, first first (at most the limit asked for).
    pub items: Vec<String>,
    /// Entries not listed.
    pub more: usize,
    /// Whether something is in it (the page dims an empty part).
    pub busy: bool,
}

/// Requests as short ranges: "req 0–39, 41, 43–45" (in the order given, runs kept).
pub fn requests(ids: &[u64]) -> String {
    if ids.is_empty() {
        return "none".into();
    }
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &id in ids {
        match runs.last_mut() {
            Some((_, end)) if id == *end + 1 => *end = id,
            _ => runs.push((id, id)),
        }
    }
    let text: Vec<String> = runs
        .iter()
        .map(|&(a, b)| {
            if a == b {
                format!("{a}")
            } else {
                format!("{a}–{b}")
            }
        })
        .collect();
    format!("req {}", text.join(", "))
}

fn listed(items: impl IntoIterator<Item = String>, limit: usize) -> (Vec<String>, usize) {
    let all: Vec<String> = items.into_iter().collect();
    let more = all.len().saturating_sub(limit);
    (all.into_iter().take(limit).collect(), more)
}

/// The parts of the panel for `state`, times in the tutorial's seconds (`scale` is
/// the run's time scale), at most `limit` entries a part.
pub fn parts(state: &LoopState, scale: f64, limit: usize) -> Vec<Part> {
    let t = |ms: f64| format::duration(ms / scale);
    let mut out = Vec::new();
    if let Some(running) = &state.running {
        out.push(Part {
            title: "Running now",
            python: "the callback _run_once is in: until it returns, nothing else on this loop runs".into(),
            summary: format!("{}, holding the loop", running.what),
            busy: true,
            items: Vec::new(),
            more: 0,
        });
    }
    let (items, more) = listed(state.ready.iter().map(|i| i.what.clone()), limit);
    out.push(Part {
        title: "Ready to run",
        python: "loop._ready: the callbacks the next iteration of the loop (_run_once) runs, in order".into(),
        summary: match (state.ready.len(), state.running.is_some()) {
            (0, false) => "nothing: the loop waits in its poll".into(),
            (0, true) => "nothing else".into(),
            (1, _) => "1 callback".into(),
            (n, false) => format!("{n} callbacks, run one after another"),
            (n, true) => format!("{n} callbacks, waiting for the one running to return"),
        },
        busy: !state.ready.is_empty(),
        items,
        more,
    });
    let (items, more) = listed(
        state
            .timers
            .iter()
            .map(|x| format!("{}, due at {}", x.what, t(x.due_ms))),
        limit,
    );
    out.push(Part {
        title: "Timers",
        python: "loop._scheduled: a heap of TimerHandles (asyncio.sleep's), earliest first".into(),
        summary: match state.timers.first() {
            None => "none".into(),
            Some(first) => format!("{}, the next due at {}", state.timers.len(), t(first.due_ms)),
        },
        busy: !state.timers.is_empty(),
        items,
        more,
    });
    let (items, more) = listed(state.sockets.iter().map(|i| i.what.clone()), limit);
    out.push(Part {
        title: "Connections not read yet",
        python: "the listening socket's backlog, and the sockets the selector has not read (uvicorn's data_received)".into(),
        summary: match state.sockets.len() {
            0 => "none".into(),
            n => format!("{n} waiting for the loop to read them"),
        },
        busy: !state.sockets.is_empty(),
        items,
        more,
    });
    let p = &state.pool;
    let mut items = Vec::new();
    if !p.borrowers.is_empty() {
        items.push(format!("lent to {}", requests(&p.borrowers)));
    }
    if !p.waiting.is_empty() {
        items.push(format!(
            "in line for a token, first come first served: {}",
            requests(&p.waiting)
        ));
    }
    out.push(Part {
        title: "Threadpool",
        python: format!(
            "anyio's default CapacityLimiter ({} tokens): run_in_threadpool and a def endpoint borrow one; the waiters are served first come, first served",
            p.total
        ),
        summary: if p.waiting.is_empty() {
            format!("{} of {} tokens lent", p.borrowed, p.total)
        } else {
            format!(
                "all {} tokens lent; {} waiting for one",
                p.total,
                p.waiting.len()
            )
        },
        busy: p.borrowed > 0,
        items,
        more: 0,
    });
    if let Some(g) = &state.gil {
        let mut items = Vec::new();
        if !g.waiting.is_empty() {
            items.push(format!("waiting: {}", g.waiting.join(", ")));
        }
        if let Some(at) = g.drop_request_ms {
            items.push(format!("the holder is asked to drop it at {}", t(at)));
        }
        out.push(Part {
            title: "GIL",
            python: "the interpreter's lock: one thread runs Python at a time; a waiter asks the holder to drop it after sys.getswitchinterval() (5 ms)".into(),
            summary: match &g.holder {
                Some(h) => format!("held by {h}"),
                None => "free".into(),
            },
            busy: g.holder.is_some(),
            items,
            more: 0,
        });
    }
    for (title, python, w) in [
        (
            "Process pool",
            "concurrent.futures.ProcessPoolExecutor(max_workers=P): a job each, the rest in its call queue",
            &state.processes,
        ),
        (
            "Task queue",
            "the broker's queue (Celery, RQ…): its workers take the log jobs first come, first served",
            &state.queue,
        ),
    ] {
        if let Some(w) = w {
            out.push(Part {
                title,
                python: python.into(),
                summary: format!("{} of {} busy", w.busy, w.total),
                busy: w.busy > 0,
                items: if w.waiting.is_empty() {
                    Vec::new()
                } else {
                    vec![format!("waiting: {}", requests(&w.waiting))]
                },
                more: 0,
            });
        }
    }
    if !state.background.is_empty() {
        out.push(Part {
            title: "Background tasks pending",
            python: "Starlette's BackgroundTasks: run after the response is sent, in the request's own task"
                .into(),
            summary: format!("{} answered, their log task not done", state.background.len()),
            busy: true,
            items: vec![requests(&state.background)],
            more: 0,
        });
    }
    out
}

/// An iteration, as the panel says it: its place, its time, and what it did in order.
pub fn iteration_lines(it: &Iteration, scale: f64) -> (String, Vec<String>) {
    let t = format::duration(it.start_ms / scale);
    let held = it.end_ms - it.start_ms;
    let head = if held > 0.0 {
        format!(
            "Iteration {} at {t} (it held the loop {})",
            it.n + 1,
            format::duration(held / scale)
        )
    } else {
        format!("Iteration {} at {t}", it.n + 1)
    };
    let mut lines = Vec::new();
    let what = |i: &Item| i.what.clone();
    if !it.polled.is_empty() {
        lines.push(format!(
            "poll: read {}",
            requests(&it.polled.iter().filter_map(|i| i.request).collect::<Vec<_>>())
        ));
    }
    if !it.timers.is_empty() {
        lines.push(format!("timers due: {}", it.timers.len()));
    }
    lines.extend(
        it.ran
            .iter()
            .enumerate()
            .map(|(k, i)| format!("{}. {}", k + 1, what(i))),
    );
    (head, lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Config, Variant};
    use crate::sim::trace::loop_state;

    #[test]
    fn requests_read_as_ranges() {
        assert_eq!(requests(&[]), "none");
        assert_eq!(requests(&[3]), "req 3");
        assert_eq!(requests(&[0, 1, 2, 3, 5, 7, 8]), "req 0–3, 5, 7–8");
    }

    #[test]
    fn the_41st_request_waits_for_a_token_and_the_panel_says_so() {
        // The "41 requests, 40 tokens" preset's def endpoint, as the page runs it.
        let p = crate::view::presets::preset("threadpool-exhausted").expect("preset");
        let config = crate::view::settings::scaled(&p.settings).with_variant(Variant::SyncDef);
        let s = loop_state(&config, 1.0, 0).unwrap();
        let parts = parts(&s, p.settings.scale, 6);
        let pool = parts.iter().find(|p| p.title == "Threadpool").unwrap();
        assert_eq!(pool.summary, "all 40 tokens lent; 1 waiting for one");
        assert_eq!(
            pool.items,
            [
                "lent to req 0–39",
                "in line for a token, first come first served: req 40"
            ]
        );
        assert!(pool.python.contains("CapacityLimiter (40 tokens)"));
    }

    #[test]
    fn a_step_holding_the_loop_is_running_now_and_the_others_wait_to_run() {
        let config = Config {
            variant: Variant::Blocking,
            ..Config::default()
        };
        let s = loop_state(&config, 2000.0, 0).unwrap();
        let parts = parts(&s, 1.0, 3);
        assert_eq!(parts[0].title, "Running now");
        assert!(parts[0].summary.starts_with("req 1: "), "{}", parts[0].summary);
        assert_eq!(
            parts[1].summary,
            "8 callbacks, waiting for the one running to return"
        );
        assert_eq!(parts[1].more, 5);
    }

    #[test]
    fn ten_fetches_wait_on_timers_and_the_list_is_cut_with_a_count() {
        let config = Config {
            variant: Variant::FullAsync,
            requests: 10,
            io_ms: 100.0,
            cpu_ms: 200.0,
            tokens: 4,
            ..Config::default()
        };
        let s = loop_state(&config, 50.0, 0).unwrap();
        let parts = parts(&s, 1.0, 3);
        let timers = parts.iter().find(|p| p.title == "Timers").unwrap();
        assert_eq!(timers.summary, "10, the next due at 100 ms");
        assert_eq!(timers.items.len(), 3);
        assert_eq!(timers.more, 7);
        assert!(timers.items[0].ends_with("due at 100 ms"), "{:?}", timers.items);
        let ready = &parts[0];
        assert_eq!(ready.summary, "nothing: the loop waits in its poll");
        assert!(!ready.busy);
        // No GIL, process pool or queue in play: no part for them.
        assert!(parts
            .iter()
            .all(|p| !["GIL", "Process pool", "Task queue"].contains(&p.title)));
    }

    #[test]
    fn an_iteration_says_what_it_polled_and_ran_in_order() {
        let config = Config {
            variant: Variant::FullAsync,
            requests: 3,
            concurrency: 3,
            ..Config::default()
        };
        let t = crate::sim::trace::trace(&config).unwrap();
        let (head, lines) = iteration_lines(&t.iterations[0], 1.0);
        assert_eq!(head, "Iteration 1 at 0.0 ms");
        assert_eq!(lines[0], "poll: read req 0–2");
        assert_eq!(lines[1], "1. read request 0 (uvicorn's data_received)");
        let (_, lines) = iteration_lines(&t.iterations[2], 1.0);
        assert!(lines[0].starts_with("timers due: 3"), "{lines:?}");
    }
}
