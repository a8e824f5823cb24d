//! The virtual model inside Chromium (`wasm-pack test --headless --chrome src/web`): it
//! must give the same reports as natively, bit for bit (tests/golden/digests.txt is
//! written by the native test tests/golden_reports.rs).
#![cfg(target_arch = "wasm32")]

#[path = "../golden/scenarios.rs"]
mod scenarios;

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn the_model_in_the_browser_matches_the_native_digests() {
    assert_eq!(scenarios::lines(), include_str!("../golden/digests.txt"));
}

#[wasm_bindgen_test]
fn the_tutorials_numbers_in_the_browser() {
    let makespans: Vec<f64> = loopscope::model::Variant::ALL
        .iter()
        .map(|v| {
            loopscope::simulate(&loopscope::Config::default().with_variant(*v))
                .unwrap()
                .stats
                .makespan_ms
        })
        .collect();
    assert_eq!(
        makespans,
        [1500.0, 15000.0, 10500.0, 1500.0, 1500.0, 3500.0, 1500.0]
    );
}

/// A long run is given time in proportion to its prediction, not a fixed 30 s: 2 000
/// requests to the def endpoint at 0.1× (7.5 s predicted) once failed at 30 s.
#[wasm_bindgen_test]
fn the_watchdog_scales_with_the_prediction() {
    use loopscope::model::{Config, Variant};
    let config = Config {
        variant: Variant::SyncDef,
        requests: 2000,
        concurrency: 2000,
        io_ms: 50.0,
        cpu_ms: 100.0,
        bg_ms: 20.0,
        ..Config::default()
    };
    let predicted = loopscope::simulate(&config).unwrap();
    assert_eq!(predicted.stats.makespan_ms, 7500.0);
    let limit = loopscope_web::runtime::loadgen::watchdog_ms(&predicted);
    assert_eq!(limit, 30_000.0 + 4.0 * 7500.0);
    // Background tasks count: the run ends when the last log is written.
    let background = loopscope::simulate(&config.with_variant(Variant::Background)).unwrap();
    let end = background.stats.background_done_ms.unwrap();
    assert_eq!(
        loopscope_web::runtime::loadgen::watchdog_ms(&background),
        30_000.0 + 4.0 * end
    );
}
