//! What asyncio's debug mode prints for a run: how to find a blocking call in a service
//! of one's own. With debug mode on (`PYTHONASYNCIODEBUG=1` or `python -X dev`), the
//! loop times every callback it runs and logs each that took `slow_callback_duration`
//! (0.1 s) or more (CPython 3.11.7, asyncio/base_events.py 1910–1918:
//! `logger.warning('Executing %s took %.3f seconds', _format_handle(handle), dt)`). A
//! task's step is such a callback, and `_format_handle` prints the task's repr
//! (base_events.py 70–76; the repr: base_tasks.py 9–29, base_futures.py 45–62,
//! coroutines.py 50–111).
//!
//! Under uvicorn the task is `RequestResponseCycle.run_asgi()`. The line below is what
//! uvicorn 0.55 with h11 prints on Python 3.12 (captured: docs/fastapi-rules.md, "How
//! to find a blocking call"): one line per slow step, not per blocking call, with no
//! prefix (the `asyncio` logger falls back to stderr). On Python 3.11, uvicorn ≥ 0.36
//! started from its command line turns debug mode off (its own `asyncio.run` passes
//! `debug=False`), so nothing is printed there. (A step that stopped at an await prints
//! the pending form, whose `create_future` line in base_events.py moves with the Python
//! version: it is elided.)

use crate::model::{Report, Variant};

/// asyncio's `slow_callback_duration`: 0.1 s.
pub const SLOW_CALLBACK_MS: f64 = 100.0;

/// One line asyncio's debug mode would print.
#[derive(Clone, Debug, PartialEq)]
pub struct DebugLine {
    /// When it is printed (the end of the slow step), on the run's clock.
    pub t_ms: f64,
    pub request: u64,
    pub text: String,
}

/// Where uvicorn's request task lives (0.55, h11): `run_asgi`'s `def` line, the line
/// of its `await app(...)`, and the line of `data_received`'s `create_task`.
const H11: &str = "…/site-packages/uvicorn/protocols/http/h11_impl.py";
const DEFINED_AT: u32 = 405;
const RUNNING_AT: u32 = 407;
const CREATED_AT: u32 = 254;

/// The lines asyncio's debug mode prints for `report`'s stalls, in the tutorial's time
/// (`scale` is the run's: a stall of 300 ms at 0.2× is the tutorial's 1.5 s). A task is
/// named `Task-N` by a counter of every task the process created; the server's own
/// (its serve loop, its lifespan, an accept per connection) are not modelled, so here
/// request `i`'s task is `Task-{i + 1}`.
pub fn asyncio_debug(report: &Report, scale: f64) -> Vec<DebugLine> {
    let mut lines: Vec<DebugLine> = report
        .loop_stalls
        .iter()
        .filter(|s| (s.end_ms - s.start_ms) / scale >= SLOW_CALLBACK_MS)
        .map(|s| {
            let responded = report
                .requests
                .iter()
                .find(|r| r.id == s.request)
                .map_or(s.end_ms, |r| r.responded_ms);
            // The step that ran to the task's end leaves it finished: one that answered,
            // unless the task then awaits its background tasks (Starlette runs them in
            // the same task). One that stopped at an await leaves it pending.
            // (A measured answer leaves a moment after the step's last blocking call.)
            let slack = (0.05 * (s.end_ms - s.start_ms)).max(5.0);
            let finished = responded <= s.end_ms + slack && report.config.variant != Variant::Background;
            let task = format!("Task-{}", s.request + 1);
            let repr = if finished {
                format!(
                    "<Task finished name='{task}' coro=<RequestResponseCycle.run_asgi() done, defined at {H11}:{DEFINED_AT}> result=None created at {H11}:{CREATED_AT}>"
                )
            } else {
                format!(
                    "<Task pending name='{task}' coro=<RequestResponseCycle.run_asgi() running at {H11}:{RUNNING_AT}> wait_for=<Future pending cb=[Task.task_wakeup()] created at …/asyncio/base_events.py:…> cb=[set.discard()] created at {H11}:{CREATED_AT}>"
                )
            };
            DebugLine {
                t_ms: s.end_ms,
                request: s.request,
                text: format!("Executing {repr} took {:.3} seconds", (s.end_ms - s.start_ms) / scale / 1000.0),
            }
        })
        .collect();
    lines.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Config, Variant};

    #[test]
    fn each_slow_step_is_named_as_asyncio_names_it() {
        let blocking = crate::simulate(&Config::default().with_variant(Variant::Blocking)).unwrap();
        let lines = asyncio_debug(&blocking, 1.0);
        assert_eq!(lines.len(), 10, "one a request: its one step held the loop 1.5 s");
        assert_eq!(
            lines[0].text,
            "Executing <Task finished name='Task-1' coro=<RequestResponseCycle.run_asgi() done, defined at …/site-packages/uvicorn/protocols/http/h11_impl.py:405> result=None created at …/site-packages/uvicorn/protocols/http/h11_impl.py:254> took 1.500 seconds"
        );
        assert_eq!(lines[0].t_ms, 1500.0);
        // At 0.2×, the steps are 300 ms of the run, the tutorial's 1.5 s.
        let fast = crate::simulate(&crate::view::settings::scaled(&crate::view::settings::Settings {
            config: Config::default().with_variant(Variant::AsyncIo),
            scale: 0.2,
        }))
        .unwrap();
        let lines = asyncio_debug(&fast, 0.2);
        assert_eq!(lines.len(), 10);
        assert!(lines[0].text.ends_with("took 1.000 seconds"), "{}", lines[0].text);
        // Nothing blocks: nothing is printed.
        let free = crate::simulate(&Config::default().with_variant(Variant::FullAsync)).unwrap();
        assert!(asyncio_debug(&free, 1.0).is_empty());
    }

    #[test]
    fn a_step_that_answers_finishes_its_task_whatever_the_queue_does_after() {
        // task_queue with a slow broker: .delay() blocks the loop 150 ms, then the
        // response goes in the same step: the task is finished; the queue's job is not
        // the task's.
        let c = Config {
            broker_ms: 150.0,
            requests: 1,
            concurrency: 1,
            ..Config::default().with_variant(Variant::TaskQueue)
        };
        let r = crate::simulate(&c).unwrap();
        let lines = asyncio_debug(&r, 1.0);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0]
                .text
                .starts_with("Executing <Task finished name='Task-1'"),
            "{}",
            lines[0].text
        );
        assert!(lines[0].text.ends_with("took 0.150 seconds"), "{}", lines[0].text);
    }
}
