//! The model as measured on real FastAPI: what `make calibrate` fitted against the
//! tutorial's endpoints on real uvicorn (BENCHMARKS.md, "The model against real
//! FastAPI"). The page offers it beside the ideal model.

/// A fitted model: where it was measured, and FastAPI's per-request loop cost there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    /// What it was measured on.
    pub measured_on: &'static str,
    /// `overhead_ms`, fitted.
    pub overhead_ms: f64,
}

/// FastAPI 0.165 on uvicorn 0.54, CPython 3.11, on the project's machine: the overhead
/// whose worst answer over ten scenarios is smallest (10 of 10 scenarios, 299 of 299
/// answers within max(3 %, 6 ms); the ideal model: 2 of 10, 231 of 299).
pub const FASTAPI: Calibration = Calibration {
    measured_on: "FastAPI 0.165 (uvicorn 0.54, CPython 3.11)",
    overhead_ms: 2.1,
};

/// The one line that answers "is this real FastAPI?": what the predictions were held
/// against, and how close they came (BENCHMARKS.md has the runs).
pub fn real_fastapi_line() -> String {
    format!(
        "Is this real FastAPI? The predictions (the faint bars, from FastAPI's rules) came within 3 % of real {} for every one of the 299 requests timed; a run in this page also depends on this machine, and varies a little from run to run",
        FASTAPI.measured_on
    )
}

/// The Lesson's line on what it shows: what runs where, and what the faint bars are.
pub fn how_it_runs_line() -> String {
    format!(
        "Each step really runs in this page, sped up: the endpoint's Python ported line for line to Rust (WebAssembly), on a real event loop with Web Workers as threads. Faint bars: the prediction from FastAPI's rules, within 3 % of real {} on all 299 requests timed; runs here vary a little",
        FASTAPI.measured_on
    )
}
