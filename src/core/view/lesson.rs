//! The Lesson: the tutorial told as steps a teacher clicks through, each one idea on one
//! screen (one timeline fitted to its run, the code with the lines that matter lit, and
//! one sentence written from what the run did), then a comparison of the five, and
//! optional steps past the tutorial for the questions a class asks next.
//!
//! Everything here is computed from reports (measured or predicted), so each sentence is
//! tested natively; the page only shows it.

use super::legend::{self, Swatch};
use super::presets::{preset, Preset};
use crate::format::duration;
use crate::model::{PhaseKind, Place, Report, Variant};

/// One step of the Lesson.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Its id in a link (`#view=lesson&step=def`).
    pub id: &'static str,
    /// Its title: the idea it shows.
    pub title: &'static str,
    /// What to watch, before it runs: one sentence.
    pub watch: &'static str,
    /// The endpoints it runs and shows, in order.
    pub variants: &'static [Variant],
    /// The preset whose settings it runs with.
    pub preset: &'static str,
    /// Past the tutorial: a question a class asks next.
    pub optional: bool,
    /// The lines of code that make the difference, for a step whose endpoints are side
    /// by side (its screen has no room for the whole modules).
    pub key_code: &'static [&'static str],
}

impl Step {
    /// Its settings' preset.
    pub fn preset(&self) -> Preset {
        preset(self.preset).expect("every step names a preset")
    }

    /// Whether it compares several endpoints on one screen.
    pub fn compares(&self) -> bool {
        self.variants.len() > 1
    }
}

/// Every step, in order: the tutorial's five, their comparison, then the optional ones.
pub fn steps() -> Vec<Step> {
    vec![
        Step {
            id: "def",
            title: "A def endpoint",
            watch: "The FastAPI ML-serving tutorial's first endpoint is a plain def whose fetch and model inference (run_model_prediction) call time.sleep, 0.5 s and 1 s. It claims: \u{201c}send several requests concurrently and the server processes them one after another, because time.sleep blocks the worker process.\u{201d} Ten requests at once: watch the event loop's lane (the one thread that runs every request's async code, in turns) and when the answers come.",
            variants: &[Variant::SyncDef],
            preset: "tutorial",
            optional: false,
            key_code: &[],
        },
        Step {
            id: "blocking",
            title: "A blocking call inside async def",
            watch: "The same body in an async def: time.sleep now runs on the event loop itself. Watch the loop's lane.",
            variants: &[Variant::Blocking],
            preset: "tutorial",
            optional: false,
            key_code: &[],
        },
        Step {
            id: "async-io",
            title: "Async I/O, a blocking inference",
            watch: "The fetch is awaited now (asyncio.sleep), but the inference is still a plain call in async def.",
            variants: &[Variant::AsyncIo],
            preset: "tutorial",
            optional: false,
            key_code: &[],
        },
        Step {
            id: "threadpool",
            title: "The inference in run_in_threadpool",
            watch: "The inference moves to a threadpool thread with await run_in_threadpool(...): the loop only waits for its result.",
            variants: &[Variant::FullAsync],
            preset: "tutorial",
            optional: false,
            key_code: &[],
        },
        Step {
            id: "background",
            title: "A background task after the response",
            watch: "Step 4's endpoint, with a log task added through BackgroundTasks: FastAPI runs it after the response has gone.",
            variants: &[Variant::Background],
            preset: "tutorial",
            optional: false,
            key_code: &[],
        },
        Step {
            id: "compare",
            title: "The five side by side",
            watch: "The same ten requests to each of the five endpoints, on one time axis.",
            variants: &Variant::TUTORIAL,
            preset: "tutorial",
            optional: false,
            key_code: &[],
        },
        Step {
            id: "threads",
            title: "Why async at all? 41 requests, 40 threads",
            watch: "FastAPI lends its threadpool out 40 threads at a time (anyio's limit). 41 requests at once (fetch 0.5 s, inference 1 s), to the def endpoint, then to the one that awaits its fetch and sends only the inference to a thread.",
            variants: &[Variant::SyncDef, Variant::FullAsync],
            preset: "threadpool-exhausted",
            optional: true,
            key_code: &["def predict_synchronously(...):  # a thread for the whole request", "prediction = await run_in_threadpool(run_model_prediction, x)  # a thread only for the inference"],
        },
        Step {
            id: "gil",
            title: "CPU-bound Python: threads or processes?",
            watch: "The inference is pure Python now (0.2 s of computing), which holds the GIL, the lock that lets one thread of a process run Python at a time. Eight requests at once: in the threadpool, then in a process pool, a process per core of this machine.",
            variants: &[Variant::FullAsync, Variant::ProcessPool],
            preset: "cpu-python",
            optional: true,
            key_code: &["sum(i * data_point for i in range(N))  # pure Python: holds the GIL", "await run_in_threadpool(run_model_prediction, x)  # threads: one GIL", "await loop.run_in_executor(process_pool, run_model_prediction, x)  # a GIL each"],
        },
        Step {
            id: "workers",
            title: "uvicorn --workers 4 and a blocking endpoint",
            watch: "Four server processes share one listening socket. Sixteen requests from eight clients, each sending its next request when its answer comes, with a short fetch (0.1 s) and inference (0.15 s): to the blocking endpoint, and to the one that awaits.",
            variants: &[Variant::Blocking, Variant::FullAsync],
            preset: "workers",
            optional: true,
            key_code: &["uvicorn app:app --workers 4  # four processes, one socket", "time.sleep(...) inside async def  # blocks its own worker's loop"],
        },
    ]
}

/// The axis a tutorial step (1 to 5) draws its run on, the same for each: the longest
/// of the tutorial's five endpoints, predicted for `config` (its blocking one, 15 s at
/// the tutorial's numbers), so a 1.5 s run looks a tenth as long as a 15 s one.
pub fn tutorial_axis_ms(config: &crate::model::Config) -> f64 {
    Variant::TUTORIAL
        .iter()
        .filter_map(|&v| crate::simulate(&config.with_variant(v)).ok())
        .map(|r| {
            r.requests
                .iter()
                .map(|q| q.background_done_ms.unwrap_or(q.responded_ms).max(q.responded_ms))
                .fold(r.stats.makespan_ms, f64::max)
        })
        .fold(0.0, f64::max)
}

/// The step with this id.
pub fn step(id: &str) -> Option<Step> {
    steps().into_iter().find(|s| s.id == id)
}

/// A run of one of a step's endpoints: its report, and whether it was measured in the
/// page (else it is the prediction).
#[derive(Clone, Copy, Debug)]
pub struct Run<'a> {
    pub report: &'a Report,
    pub measured: bool,
}

/// What happened, in the tutorial's time (`scale` is the run's time scale).
struct Said<'a> {
    run: Run<'a>,
    scale: f64,
}

impl Said<'_> {
    fn t(&self, ms: f64) -> String {
        duration(ms / self.scale)
    }
    fn makespan(&self) -> String {
        self.t(self.run.report.stats.makespan_ms)
    }
    fn blocked(&self) -> f64 {
        self.run.report.stats.loop_stall_total_ms
    }
    fn n(&self) -> usize {
        self.run.report.requests.len()
    }
    /// "measured" or "predicted": whose numbers these are.
    fn whose(&self) -> &'static str {
        if self.run.measured {
            "Measured"
        } else {
            "Predicted"
        }
    }
    /// The first answer, in ms of the run.
    fn first(&self) -> f64 {
        self.run
            .report
            .requests
            .responded_column()
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
    }
    /// The most requests running a phase of `kind` on a thread of the pool at one moment.
    fn most_on_threads(&self, kind: PhaseKind) -> usize {
        crate::model::stats::most_at_once(self.run.report.requests.iter().flat_map(|r| {
            r.phases
                .iter()
                .filter(move |p| p.kind == kind && p.on == Place::Pool && p.blocking)
                .map(|p| (p.start_ms, p.end_ms))
                .collect::<Vec<_>>()
        }))
    }
}

fn config_workers(said: &Said) -> usize {
    said.run.report.config.workers as usize
}

/// The step's one sentence, written from its runs (`runs[i]` is `step.variants[i]`'s):
/// measured where they were, else predicted, and saying which.
pub fn takeaway(step: &Step, runs: &[Run], scale: f64) -> String {
    let said: Vec<Said> = runs.iter().map(|&run| Said { run, scale }).collect();
    let Some(one) = said.first() else {
        return String::new();
    };
    let whose = if said.iter().all(|s| s.run.measured) {
        "Measured"
    } else if said.iter().any(|s| s.run.measured) {
        "Measured and predicted"
    } else {
        "Predicted"
    };
    match step.id {
        "def" => format!(
            "{}: all {} answered at {}, up to {} at once on threadpool threads, and the event loop was never blocked. Contrary to the tutorial, FastAPI runs a def endpoint in its threadpool, so they overlap.",
            one.whose(),
            one.n(),
            one.makespan(),
            one.most_on_threads(PhaseKind::Io)
        ),
        "blocking" => format!(
            "{}: the loop was blocked {} of {}: each request waited for the one before it, and the last was answered {}× later than the first. The tutorial's claim is true here, of async def, not of def.",
            one.whose(),
            one.t(one.blocked()),
            one.makespan(),
            (one.run.report.stats.makespan_ms / one.first().max(1e-9)).round()
        ),
        "async-io" => format!(
            "{}: the fetches overlapped, but each inference held the loop, {} in all: the last answer came at {}.",
            one.whose(),
            one.t(one.blocked()),
            one.makespan()
        ),
        "threadpool" => format!(
            "{}: all {} answered at {} and the loop never blocked: it only waited for the fetches and the threads. As fast as the def endpoint with ten requests; step 7 shows where the two part.",
            one.whose(),
            one.n(),
            one.makespan()
        ),
        "background" => format!(
            "{}: every answer came by {}; the log tasks ran after the responses, on threadpool threads, and were done at {}.",
            one.whose(),
            one.makespan(),
            one.run
                .report
                .stats
                .background_done_ms
                .map_or("—".to_string(), |t| one.t(t))
        ),
        "compare" => {
            let parts: Vec<String> = step
                .variants
                .iter()
                .zip(&said)
                .map(|(v, s)| {
                    let blocked = if s.blocked() > 0.0 {
                        format!(", loop blocked {}", s.t(s.blocked()))
                    } else {
                        String::new()
                    };
                    format!("{} {}{blocked}", v.route().trim_start_matches("POST "), s.makespan())
                })
                .collect();
            format!(
                "{whose}, last answer: {}. The rule: blocking calls go in a def endpoint or in await run_in_threadpool(...); inside async def, only await (and CPU-bound Python in a process pool: step 8).",
                parts.join("; ")
            )
        }
        "threads" => {
            let last_two = |s: &Said| {
                let mut a = s.run.report.requests.responded_column().to_vec();
                a.sort_by(f64::total_cmp);
                let n = a.len();
                (a[n.saturating_sub(2)], a[n - 1])
            };
            // The def endpoint holds a thread for its whole request; the one that awaits,
            // for its prediction only.
            let awaits = said.get(1).unwrap_or(one);
            let ((_, def_last), (_, last)) = (last_two(one), last_two(awaits));
            // The model's loop once they have all arrived: who holds the tokens, who waits.
            let inside = crate::sim::trace::loop_state(&one.run.report.config, 0.0, 0)
                .ok()
                .filter(|s| !s.pool.waiting.is_empty())
                .map(|s| {
                    format!(
                        " As they arrive, all {} of the threadpool's tokens (one per thread) are lent, to {}, and {} is first in line for one.",
                        s.pool.total,
                        crate::view::inside::requests(&s.pool.borrowers),
                        crate::view::inside::requests(&s.pool.waiting)
                    )
                })
                .unwrap_or_default();
            format!(
                "{whose}: the 41st request (req 40) waited for a free thread, answered at {} from the def endpoint, which holds a thread through its fetch too, and at {} from the one that awaits its fetch and needs a thread only for the inference.{inside} Threads are a budget of 40; a request awaiting on the loop holds none.",
                one.t(def_last),
                awaits.t(last)
            )
        }
        "gil" => {
            let other = said.get(1).unwrap_or(one);
            format!(
                "{whose}: in the threadpool the eight took turns on one GIL, the last at {}; in a pool of {} processes, each with a GIL of its own, the last came at {}.",
                one.makespan(),
                other.run.report.config.processes,
                other.makespan()
            )
        }
        "workers" => {
            let other = said.get(1).unwrap_or(one);
            // What one worker would have taken, predicted.
            let config = crate::model::Config {
                workers: 1,
                ..one.run.report.config.clone()
            };
            let alone = crate::simulate_summary(&config).map_or(0.0, |s| s.makespan_ms);
            // The first burst: how many of it the busiest worker took.
            let mut per = vec![0usize; config_workers(one)];
            // The first burst: the clients' first requests, sent together.
            let clients = one.run.report.config.concurrency;
            let burst: Vec<_> = one.run.report.requests.iter().filter(|r| r.id < clients).collect();
            for r in &burst {
                if let Some(n) = per.get_mut(r.worker as usize) {
                    *n += 1;
                }
            }
            let most = per.iter().copied().max().unwrap_or(0);
            // Which loop that was: its lane is named "loop N" on the chart.
            let busiest = per.iter().position(|&n| n == most).unwrap_or(0);
            let took = if most == burst.len() {
                format!("all {most} of the first connections")
            } else {
                format!("{most} of the first {} connections", burst.len())
            };
            format!(
                "{whose}: on four workers the blocking endpoint took {} (predicted for one worker alone: {}), not a quarter of it. The first worker to poll (loop {busiest} here) accepted {took} and ran them one after another, its loop blocked; each worker blocks its own loop for every request it takes. The endpoint that awaits took {}.",
                one.makespan(),
                one.t(alone),
                other.makespan()
            )
        }
        _ => String::new(),
    }
}

/// The legend of a step: at most seven swatches, naming only what its runs show (the
/// side-by-side step shows the overview's rows).
pub fn legend_of(step: &Step, runs: &[&Report]) -> Vec<Swatch> {
    let mut all = if step.id == "compare" {
        legend::overview(runs)
    } else {
        legend::present(runs)
    };
    all.truncate(7);
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::settings::scaled;

    fn run_of(step: &Step) -> Vec<Report> {
        step.variants
            .iter()
            .map(|&v| crate::simulate(&scaled(&step.preset().settings).with_variant(v)).unwrap())
            .collect()
    }

    fn predicted(step: &Step) -> String {
        let reports = run_of(step);
        let runs: Vec<Run> = reports
            .iter()
            .map(|report| Run {
                report,
                measured: false,
            })
            .collect();
        takeaway(step, &runs, step.preset().settings.scale)
    }

    #[test]
    fn the_tutorial_comes_first_then_the_comparison_then_the_questions() {
        let all = steps();
        let ids: Vec<&str> = all.iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [
                "def",
                "blocking",
                "async-io",
                "threadpool",
                "background",
                "compare",
                "threads",
                "gil",
                "workers"
            ]
        );
        assert!(all[..6].iter().all(|s| !s.optional));
        assert!(all[6..].iter().all(|s| s.optional));
        for s in &all {
            assert!(!s.variants.is_empty());
            let _ = s.preset();
        }
        assert_eq!(step("gil").map(|s| s.variants.len()), Some(2));
    }

    #[test]
    fn each_takeaway_is_one_sentence_from_the_numbers() {
        let say = |id: &str| predicted(&step(id).unwrap());
        assert_eq!(
            say("def"),
            "Predicted: all 10 answered at 1.50 s, up to 10 at once on threadpool threads, and the event loop was never blocked. Contrary to the tutorial, FastAPI runs a def endpoint in its threadpool, so they overlap."
        );
        assert_eq!(
            say("blocking"),
            "Predicted: the loop was blocked 15.00 s of 15.00 s: each request waited for the one before it, and the last was answered 10× later than the first. The tutorial's claim is true here, of async def, not of def."
        );
        assert!(say("async-io").contains("10.00 s in all: the last answer came at 10.50 s"));
        assert!(say("threadpool").starts_with("Predicted: all 10 answered at 1.50 s"));
        assert!(say("background").ends_with("were done at 1.70 s."));
        let compare = say("compare");
        assert!(
            compare.contains("/predict_blocking 15.00 s, loop blocked 15.00 s"),
            "{compare}"
        );
        assert!(compare.contains("/predict_sync 1.50 s;"), "{compare}");
        assert!(
            say("threads").contains(
                "answered at 3.00 s from the def endpoint, which holds a thread through its fetch too, and at 2.50 s"
            ),
            "{}",
            say("threads")
        );
        assert!(
            say("threads").contains(
                "As they arrive, all 40 of the threadpool's tokens (one per thread) are lent, to req 0–39, and req 40 is first in line for one."
            ),
            "{}",
            say("threads")
        );
        assert!(say("gil").contains("in a pool of 4 processes"));
        let workers = say("workers");
        assert!(workers.contains("(predicted for one worker alone: "), "{workers}");
        assert!(
            workers.contains("(loop 0 here) accepted all 8 of the first connections"),
            "{workers}"
        );
    }

    #[test]
    fn a_measured_run_says_so() {
        let s = step("threadpool").unwrap();
        let reports = run_of(&s);
        let runs = [Run {
            report: &reports[0],
            measured: true,
        }];
        assert!(takeaway(&s, &runs, 0.2).starts_with("Measured: all 10 answered at 1.50 s"));
    }

    #[test]
    fn a_steps_legend_has_at_most_five_items_it_shows() {
        for s in steps() {
            let reports = run_of(&s);
            let refs: Vec<&Report> = reports.iter().collect();
            let l = legend_of(&s, &refs);
            assert!(!l.is_empty() && l.len() <= 7, "{}: {l:?}", s.id);
        }
        let blocking = run_of(&step("blocking").unwrap());
        let l = legend_of(&step("blocking").unwrap(), &[&blocking[0]]);
        assert!(l.contains(&Swatch::LoopBlocked), "{l:?}");
        assert!(!l.contains(&Swatch::PredictPool), "{l:?}");
        let def = run_of(&step("def").unwrap());
        let l = legend_of(&step("def").unwrap(), &[&def[0]]);
        assert!(!l.contains(&Swatch::LoopBlocked), "{l:?}");
        assert!(l.contains(&Swatch::PredictPool), "{l:?}");
    }
}
