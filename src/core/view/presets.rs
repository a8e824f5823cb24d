//! Ready-made scenarios for a class: settings to load, the endpoints to try with them,
//! and two sentences on what they show.

use super::settings::Settings;
use crate::model::{Config, Variant, Work};

/// A ready-made scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    pub id: &'static str,
    pub title: &'static str,
    /// Two sentences, for a student.
    pub explanation: &'static str,
    pub settings: Settings,
    /// The endpoints to press, in order; `settings.config.variant` is one of them (the
    /// first, except in `tutorial`, which is [`Settings::default`]).
    pub suggested: &'static [Variant],
    /// The endpoints whose timelines it shows: the tutorial's five, or the ones it
    /// compares.
    pub shown: &'static [Variant],
    /// Whether it is about a setting past the tutorial's (the threadpool's size, the
    /// kind of work, processes, queue workers, server workers): the form's "Beyond the
    /// tutorial" opens for it.
    pub beyond: bool,
}

fn settings(variant: Variant, requests: u64, concurrency: u64, scale: f64) -> Settings {
    Settings {
        config: Config {
            variant,
            requests,
            concurrency,
            ..Config::default()
        },
        scale,
    }
}

/// Every preset, in the order the page lists them.
pub fn presets() -> Vec<Preset> {
    vec![
        Preset {
            id: "tutorial",
            title: "The tutorial's five endpoints",
            explanation: "Ten clients each send one request at once, with the tutorial's durations \
                (fetch 0.5 s, inference 1 s, log 0.2 s) played five times faster. Try the five \
                endpoints in turn and compare when the last response arrives and how long the event \
                loop was blocked.",
            settings: Settings::default(),
            suggested: &Variant::TUTORIAL,
            shown: &Variant::TUTORIAL,
            beyond: false,
        },
        Preset {
            id: "def-endpoint",
            title: "The tutorial's claim about def, tested",
            explanation: "The tutorial says requests to its def endpoint are served one after another, \
                but FastAPI runs a def endpoint in its threadpool (40 threads by default), so ten \
                requests overlap and all finish after one fetch and one inference. Requests are \
                served one after another only when the blocking calls run inside an async def, as in \
                /predict_blocking, which takes ten times as long.",
            settings: settings(Variant::SyncDef, 10, 10, 0.2),
            suggested: &[Variant::SyncDef, Variant::Blocking],
            shown: &Variant::TUTORIAL,
            beyond: false,
        },
        Preset {
            id: "threadpool-exhausted",
            title: "Threadpool exhausted: 41 requests, 40 threads",
            explanation: "Forty-one requests arrive at once but FastAPI lends out 40 threads at a time \
                (anyio's 40 tokens), so the 41st waits until one of the other 40 gives its thread \
                back. From /predict_full_async its response comes one whole inference after the \
                others; from the def endpoint, which holds its thread through the fetch too, one \
                whole fetch and inference after.",
            settings: settings(Variant::FullAsync, 41, 41, 0.5),
            suggested: &[Variant::FullAsync, Variant::SyncDef],
            // The two the scenario compares: the blocking endpoints would take a minute
            // with 41 requests and fill the shared time axis.
            shown: &[Variant::SyncDef, Variant::FullAsync],
            beyond: true,
        },
        Preset {
            id: "blocking-async",
            title: "One blocking call inside async def",
            explanation: "The ten fetches are awaited, so they overlap, but run_model_prediction is \
                called without await inside the async def, so each inference holds the event loop \
                and everything else queues behind it. The last response comes after one fetch and \
                ten inferences; /predict_full_async moves the inference into the threadpool and \
                all ten finish together.",
            settings: settings(Variant::AsyncIo, 10, 10, 0.2),
            suggested: &[Variant::AsyncIo, Variant::FullAsync],
            shown: &Variant::TUTORIAL,
            beyond: false,
        },
        Preset {
            id: "cpu-python",
            title: "CPU-bound Python in the threadpool",
            explanation: "The inference is now pure Python, which holds the GIL while it computes, so \
                run_in_threadpool's eight threads take turns on one GIL: the last answer comes after \
                eight inferences, and the event loop itself waits for the GIL between them. A process \
                pool gives each inference an interpreter and a GIL of its own, so four run at once and \
                the eight take two inferences' time, on a machine with a core per process.",
            settings: Settings {
                config: Config {
                    work: Work::PythonCpu,
                    cpu_ms: 200.0,
                    ..settings(Variant::FullAsync, 8, 8, 0.5).config
                },
                scale: 0.5,
            },
            suggested: &[Variant::FullAsync, Variant::ProcessPool],
            shown: &[Variant::SyncDef, Variant::FullAsync, Variant::ProcessPool],
            beyond: true,
        },
        Preset {
            id: "workers",
            title: "uvicorn --workers 4 and a blocking endpoint",
            explanation: "Four uvicorn workers share one listening socket and the first idle one accepts \
                every waiting connection, so the first eight requests land on one worker and wait for \
                each other as on one, while the other three sit idle. Sixteen requests finish in a \
                little over half of one worker's time, not a quarter, and each worker still blocks its \
                own loop for every request it takes.",
            settings: Settings {
                config: Config {
                    workers: 4,
                    io_ms: 100.0,
                    cpu_ms: 150.0,
                    ..settings(Variant::Blocking, 16, 8, 0.5).config
                },
                scale: 0.5,
            },
            suggested: &[Variant::Blocking, Variant::FullAsync],
            shown: &[Variant::Blocking, Variant::AsyncIo, Variant::FullAsync],
            beyond: true,
        },
        Preset {
            id: "background-load",
            title: "Background logging under load",
            explanation: "Each sync log task asks the threadpool for a thread only after its response, in \
                the same first-come, first-served line as the inferences, so with 60 clients and a \
                0.5 s log write the logs hold threads that later inferences wait for. A task queue, as \
                the tutorial advises for heavy background work, hands each log job to queue workers \
                outside the server: no thread is held, the answers come as from /predict_full_async, \
                and the logs finish when the queue workers get to them.",
            settings: Settings {
                config: Config {
                    bg_ms: 500.0,
                    queue_workers: 10,
                    ..settings(Variant::Background, 120, 60, 0.5).config
                },
                scale: 0.5,
            },
            suggested: &[Variant::Background, Variant::TaskQueue],
            shown: &[Variant::FullAsync, Variant::Background, Variant::TaskQueue],
            beyond: true,
        },
    ]
}

/// The preset with this id.
pub fn preset(id: &str) -> Option<Preset> {
    presets().into_iter().find(|p| p.id == id)
}

impl Preset {
    /// Whether it runs a process pool: its size matters to what the reader sees.
    fn has_processes(&self) -> bool {
        self.shown.contains(&Variant::ProcessPool)
    }

    /// Its settings on a machine with `cores` cores: a process pool is sized to them
    /// (never larger than the preset's own), as CPython sizes one by default
    /// (`max_workers=os.cpu_count()`). Four processes on two cores would share the
    /// cores and compute no faster than threads on one GIL: the lesson inverted.
    pub fn settings_here(&self, cores: u32) -> Settings {
        let mut s = self.settings.clone();
        if self.has_processes() {
            s.config.processes = s.config.processes.min(u64::from(cores.max(1)));
        }
        s
    }

    /// Its two sentences, and, where it sized its process pool to this machine, a third
    /// that says so and what it does.
    pub fn explanation_here(&self, cores: u32) -> String {
        let here = self.settings_here(cores).config.processes;
        if !self.has_processes() || here == self.settings.config.processes {
            return self.explanation.to_string();
        }
        let n = self.settings.config.requests;
        let rounds = n.div_ceil(here);
        let (cores_said, pool) = match here {
            1 => ("one core".to_string(), "one process".to_string()),
            k => (format!("{k} cores"), format!("{k} processes")),
        };
        format!(
            "{} This machine has {cores_said}, so the pool here has {pool}, one per core: the {n} take {rounds} inferences' time{}.",
            self.explanation,
            if here == 1 {
                ", no faster than threads taking turns on one GIL"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Target;
    use crate::view::link;
    use crate::view::settings::{scaled, SCALE_MAX, SCALE_MIN};

    #[test]
    fn every_preset_can_run_in_a_browser_and_round_trips_with_its_id() {
        let all = presets();
        let mut ids: Vec<&str> = all.iter().map(|p| p.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), all.len(), "ids are unique");
        for p in &all {
            let s = &p.settings;
            assert!(s.config.problems(Target::Browser).is_empty(), "{}", p.id);
            assert!(scaled(s).problems(Target::Browser).is_empty(), "{}", p.id);
            assert!((SCALE_MIN..=SCALE_MAX).contains(&s.scale));
            assert!(p.suggested.contains(&s.config.variant), "{}", p.id);
            assert!(p.suggested.iter().all(|v| p.shown.contains(v)), "{}", p.id);
            let view = link::View {
                mode: None,
                preset: Some(p.id.to_string()),
                show: link::View::show_of(p.shown),
            };
            let hash = link::to_hash(s, &view);
            assert!(hash.contains(&format!("&preset={}", p.id)), "{hash}");
            let read = link::from_hash(&hash);
            assert_eq!(
                (read.settings, read.view, read.errors),
                (s.clone(), view, vec![]),
                "{}",
                p.id
            );
            assert_eq!(preset(p.id).as_ref(), Some(p));
            // Two sentences, and a run of a few seconds at most.
            assert_eq!(p.explanation.matches(". ").count() + 1, 2, "{}", p.id);
            assert!(p.explanation.ends_with('.'));
            for &v in p.suggested {
                let report = crate::simulate(&scaled(s).with_variant(v)).expect("runs");
                let end = report
                    .stats
                    .background_done_ms
                    .unwrap_or(0.0)
                    .max(report.stats.makespan_ms);
                assert!(end <= 5_000.0, "{} {v}: {end} ms", p.id);
            }
        }
        assert_eq!(preset("tutorial").map(|p| p.settings), Some(Settings::default()));
        assert_eq!(preset("nope"), None);
    }

    #[test]
    fn a_process_pool_is_sized_to_the_machine() {
        let p = preset("cpu-python").expect("preset");
        assert_eq!(p.settings.config.processes, 4);
        assert_eq!(p.settings_here(8).config.processes, 4);
        assert_eq!(p.explanation_here(8), p.explanation);
        assert_eq!(p.settings_here(2).config.processes, 2);
        assert!(p
            .explanation_here(2)
            .ends_with("This machine has 2 cores, so the pool here has 2 processes, one per core: the 8 take 4 inferences' time."));
        assert!(p.explanation_here(1).contains("no faster than threads"));
        // On two cores the lesson holds: the process pool beats the threads on one GIL.
        let run = |v: Variant| {
            crate::simulate(&scaled(&p.settings_here(2)).with_variant(v))
                .unwrap()
                .stats
                .makespan_ms
        };
        assert!(run(Variant::ProcessPool) < run(Variant::FullAsync) * 0.7);
        let other = preset("tutorial").expect("preset");
        assert_eq!(other.settings_here(1), other.settings);
    }

    #[test]
    fn presets_show_what_they_say() {
        let run = |id: &str, v: Variant| {
            let p = preset(id).expect("preset");
            crate::simulate(&scaled(&p.settings).with_variant(v))
                .expect("runs")
                .stats
        };
        // def endpoint: ten overlap; the blocking async def takes ten times as long.
        let (sync, blocking) = (
            run("def-endpoint", Variant::SyncDef),
            run("def-endpoint", Variant::Blocking),
        );
        assert_eq!(sync.makespan_ms, 300.0);
        assert_eq!(blocking.makespan_ms, 3000.0);
        // 41 requests, 40 tokens: one prediction later; one fetch + prediction later for def.
        assert_eq!(
            run("threadpool-exhausted", Variant::FullAsync).makespan_ms,
            250.0 + 2.0 * 500.0
        );
        assert_eq!(
            run("threadpool-exhausted", Variant::SyncDef).makespan_ms,
            2.0 * 750.0
        );
        // async_io: one fetch and ten predictions.
        assert_eq!(
            run("blocking-async", Variant::AsyncIo).makespan_ms,
            100.0 + 10.0 * 200.0
        );
        assert_eq!(run("blocking-async", Variant::FullAsync).makespan_ms, 300.0);
        // Background logs delay later predictions.
        let bg = run("background-load", Variant::Background);
        let fa = run("background-load", Variant::FullAsync);
        assert!(
            bg.makespan_ms > fa.makespan_ms,
            "{} vs {}",
            bg.makespan_ms,
            fa.makespan_ms
        );
        assert!(bg.latency_ms.p50 > fa.latency_ms.p50);
        // ... and a task queue answers as full_async does.
        let tq = run("background-load", Variant::TaskQueue);
        assert_eq!(tq.makespan_ms, fa.makespan_ms);
        assert!(tq.background_done_ms.unwrap() > tq.makespan_ms);
        // Pure Python: eight predictions one after another on the GIL; four at a time in
        // a process pool.
        assert_eq!(
            run("cpu-python", Variant::FullAsync).makespan_ms,
            250.0 + 8.0 * 100.0
        );
        assert_eq!(
            run("cpu-python", Variant::ProcessPool).makespan_ms,
            250.0 + 2.0 * 100.0
        );
        // Four workers: the first eight on one, then the stream spreads: about a third of
        // one worker's time.
        let p = preset("workers").expect("preset");
        let one = crate::simulate(&Config {
            workers: 1,
            ..scaled(&p.settings)
        })
        .expect("runs")
        .stats
        .makespan_ms;
        let four = run("workers", Variant::Blocking);
        assert!(four.makespan_ms < 0.6 * one, "{} vs {one}", four.makespan_ms);
        assert!(four.makespan_ms > one / 4.0, "not the round-robin ideal");
    }
}
