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
            title: "The tutorial as written",
            explanation: "Ten clients each send one request at once, with the tutorial's durations \
                (fetch 0.5 s, prediction 1 s, log 0.2 s) played five times faster. Try the five \
                endpoints in turn and compare when the last response arrives and how long the event \
                loop was blocked.",
            settings: Settings::default(),
            suggested: &Variant::ALL,
        },
        Preset {
            id: "def-endpoint",
            title: "What FastAPI really does with a def endpoint",
            explanation: "The tutorial says requests to its def endpoint are served one after another, \
                but FastAPI runs a def endpoint in its threadpool (40 threads by default), so ten \
                requests overlap and all finish after one fetch and one prediction. Requests are \
                served one after another only when the blocking calls run inside an async def, as in \
                the blocking endpoint, which takes ten times as long.",
            settings: settings(Variant::SyncDef, 10, 10, 0.2),
            suggested: &[Variant::SyncDef, Variant::Blocking],
        },
        Preset {
            id: "threadpool-exhausted",
            title: "Threadpool exhausted: 41 requests, 40 tokens",
            explanation: "Forty-one requests arrive at once but the threadpool has 40 tokens, so the \
                41st waits for a token until one of the other 40 gives its token back. With \
                full_async its response comes one whole prediction after the others; with the def \
                endpoint, which holds its token through the fetch too, one whole fetch and \
                prediction after.",
            settings: settings(Variant::FullAsync, 41, 41, 0.5),
            suggested: &[Variant::FullAsync, Variant::SyncDef],
        },
        Preset {
            id: "blocking-async",
            title: "One blocking call inside async def",
            explanation: "The ten fetches are awaited, so they overlap, but run_model_prediction is \
                called without await inside the async def, so each prediction holds the event loop \
                and everything else queues behind it. The last response comes after one fetch and \
                ten predictions; full_async moves the prediction into the threadpool and all ten \
                finish together.",
            settings: settings(Variant::AsyncIo, 10, 10, 0.2),
            suggested: &[Variant::AsyncIo, Variant::FullAsync],
        },
        Preset {
            id: "cpu-bound",
            title: "CPU-bound work in the threadpool",
            explanation: "Each prediction now burns a CPU core instead of sleeping, like NumPy \
                inference that releases the GIL, so the eight pool threads compute in parallel, but \
                only on as many cores as the machine has: on a 2-core machine the run takes much \
                longer than the model predicts, since the model gives every thread a core of its own. \
                Pure-Python inference would hold the GIL, so the threads would take turns and gain \
                nothing from the threadpool.",
            settings: Settings {
                config: Config {
                    work: Work::Compute,
                    ..settings(Variant::FullAsync, 8, 8, 0.5).config
                },
                scale: 0.5,
            },
            suggested: &[Variant::FullAsync],
        },
        Preset {
            id: "background-load",
            title: "Background logging under load",
            explanation: "Each response goes out as soon as its prediction is done, and only then does \
                its sync log task ask the threadpool for a token, in the same first-come, first-served \
                line as the predictions. With 60 clients sending 120 requests and a 0.5 s log write, \
                the logs of earlier responses hold tokens that later predictions wait for, so \
                responses come later than with full_async even though the logging runs after them.",
            settings: Settings {
                config: Config {
                    bg_ms: 500.0,
                    ..settings(Variant::Background, 120, 60, 0.5).config
                },
                scale: 0.5,
            },
            suggested: &[Variant::Background, Variant::FullAsync],
        },
    ]
}

/// The preset with this id.
pub fn preset(id: &str) -> Option<Preset> {
    presets().into_iter().find(|p| p.id == id)
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
            let view = link::View {
                preset: Some(p.id.to_string()),
                fit: vec![],
            };
            let hash = link::to_hash(s, &view);
            assert!(hash.ends_with(&format!("&preset={}", p.id)));
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
    }
}
