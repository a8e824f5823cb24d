//! The legend: the swatches of what a set of timelines shows, and only those, in the
//! order a reader needs them (what holds the loop first). The page draws each with the
//! same colour and texture as the canvas.

use crate::model::{PhaseKind, Place, Report};

/// One thing a timeline can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swatch {
    /// The event loop's lane: a step held it (a blocking call on the loop).
    LoopBlocked,
    /// The event loop's lane: it had work ready but waited for its GIL.
    LoopGil,
    /// A fetch that holds a threadpool thread (`time.sleep` in a `def`).
    FetchBlocking,
    /// A fetch that holds the event loop (`time.sleep` in an `async def`).
    FetchOnLoop,
    /// A fetch that is awaited (`await asyncio.sleep`): the loop is free meanwhile.
    FetchAwaited,
    /// The model's inference on the event loop.
    PredictLoop,
    /// The model's inference on a threadpool thread.
    PredictPool,
    /// The model's inference in a process of a process pool.
    PredictProcess,
    /// Ready to compute, waiting for the GIL.
    GilWait,
    /// The background log task (a threadpool thread, or a queue worker).
    Background,
    /// Waiting: for the loop, a thread, a process or a queue worker.
    Waiting,
    /// The answer, as the client gets it.
    Answered,
    /// An answer that was an error (500).
    Failed,
    /// The overview's row: a run, to its last answer.
    Run,
}

impl Swatch {
    /// What it means, in a few words.
    pub fn label(self) -> &'static str {
        match self {
            Swatch::LoopBlocked => "event loop blocked",
            Swatch::LoopGil => "event loop waiting for the GIL",
            Swatch::FetchBlocking => "fetch with time.sleep, on a threadpool thread",
            Swatch::FetchOnLoop => "fetch with time.sleep, on the event loop",
            Swatch::FetchAwaited => "fetch awaited (asyncio.sleep): no thread held",
            Swatch::PredictLoop => "model inference on the event loop",
            Swatch::PredictPool => "model inference on a threadpool thread",
            Swatch::PredictProcess => "model inference in a process",
            Swatch::GilWait => "a thread ready to compute, waiting for the GIL",
            Swatch::Background => "background log task",
            Swatch::Waiting => "waiting (for the loop or a thread)",
            Swatch::Answered => "answered",
            Swatch::Failed => "answered 500",
            Swatch::Run => "a run, to its last answer",
        }
    }

    /// Its class in the page's style sheet (`.sw.<class>`).
    pub fn class(self) -> &'static str {
        match self {
            Swatch::LoopBlocked => "stall",
            Swatch::LoopGil => "loop-gil",
            Swatch::FetchBlocking => "io-blocking",
            Swatch::FetchOnLoop => "io-loop",
            Swatch::FetchAwaited => "io",
            Swatch::PredictLoop => "cpu-loop",
            Swatch::PredictPool => "cpu-pool",
            Swatch::PredictProcess => "cpu-process",
            Swatch::GilWait => "gil-wait",
            Swatch::Background => "background",
            Swatch::Waiting => "queued",
            Swatch::Answered => "response",
            Swatch::Failed => "error",
            Swatch::Run => "run",
        }
    }
}

/// The overview's swatches: a run, what held its loop, its answers.
pub fn overview(reports: &[&Report]) -> Vec<Swatch> {
    let mut out = vec![Swatch::Run];
    if reports.iter().any(|r| !r.loop_stalls.is_empty()) {
        out.push(Swatch::LoopBlocked);
    }
    out.push(Swatch::Answered);
    out
}

/// The swatches of what `reports` show, most telling first: what held the loop, the
/// steps by where they ran, the waits, the answers.
pub fn present(reports: &[&Report]) -> Vec<Swatch> {
    let mut seen = Vec::new();
    let mut note = |s: Swatch, there: bool| {
        if there && !seen.contains(&s) {
            seen.push(s);
        }
    };
    let phases = || {
        reports
            .iter()
            .flat_map(|r| r.requests.iter())
            .flat_map(|q| q.phases.iter())
    };
    let any = |f: &dyn Fn(PhaseKind, Place, bool) -> bool| phases().any(|p| f(p.kind, p.on, p.blocking));
    note(
        Swatch::LoopBlocked,
        reports.iter().any(|r| !r.loop_stalls.is_empty()),
    );
    note(
        Swatch::LoopGil,
        reports.iter().any(|r| !r.loop_gil_waits.is_empty()),
    );
    note(
        Swatch::FetchOnLoop,
        any(&|k, on, b| k == PhaseKind::Io && b && on == Place::Loop),
    );
    note(
        Swatch::FetchBlocking,
        any(&|k, on, b| k == PhaseKind::Io && b && on != Place::Loop),
    );
    note(Swatch::FetchAwaited, any(&|k, _, b| k == PhaseKind::Io && !b));
    note(
        Swatch::PredictLoop,
        any(&|k, on, _| k == PhaseKind::Cpu && on == Place::Loop),
    );
    note(
        Swatch::PredictPool,
        any(&|k, on, _| k == PhaseKind::Cpu && on == Place::Pool),
    );
    note(
        Swatch::PredictProcess,
        any(&|k, on, _| k == PhaseKind::Cpu && on == Place::Process),
    );
    note(Swatch::GilWait, any(&|k, _, _| k == PhaseKind::GilWait));
    note(Swatch::Background, any(&|k, _, _| k == PhaseKind::Background));
    // A wait too short to see is not worth a swatch: a pixel of a projector's timeline.
    let span = reports.iter().map(|r| r.stats.makespan_ms).fold(1.0, f64::max);
    note(
        Swatch::Waiting,
        phases().any(|p| p.kind == PhaseKind::Queued && p.end_ms - p.start_ms > span / 300.0),
    );
    note(Swatch::Answered, true);
    note(Swatch::Failed, reports.iter().any(|r| r.stats.failed > 0));
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Config, Variant, Work};

    fn of(v: Variant, work: Work) -> Report {
        crate::simulate(&Config {
            work,
            ..Config::default().with_variant(v)
        })
        .unwrap()
    }

    #[test]
    fn each_endpoint_names_what_it_shows_and_nothing_else() {
        let blocking = of(Variant::Blocking, Work::Sleep);
        assert_eq!(
            present(&[&blocking]),
            [
                Swatch::LoopBlocked,
                Swatch::FetchOnLoop,
                Swatch::PredictLoop,
                Swatch::Waiting,
                Swatch::Answered
            ]
        );
        let full = of(Variant::FullAsync, Work::Sleep);
        assert_eq!(
            present(&[&full]),
            [Swatch::FetchAwaited, Swatch::PredictPool, Swatch::Answered]
        );
        let gil = of(Variant::FullAsync, Work::PythonCpu);
        let l = present(&[&gil]);
        assert!(
            l.contains(&Swatch::LoopGil) && l.contains(&Swatch::GilWait),
            "{l:?}"
        );
        // All five at once: each kind of fetch its own swatch, one meaning a colour.
        let five: Vec<Report> = Variant::TUTORIAL.iter().map(|&v| of(v, Work::Sleep)).collect();
        let refs: Vec<&Report> = five.iter().collect();
        let l = present(&refs);
        for fetch in [Swatch::FetchOnLoop, Swatch::FetchBlocking, Swatch::FetchAwaited] {
            assert!(l.contains(&fetch), "{fetch:?}: {l:?}");
        }
        for s in l {
            assert!(!s.label().is_empty() && !s.class().is_empty());
        }
    }
}
