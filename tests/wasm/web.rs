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
    assert_eq!(makespans, [1500.0, 15000.0, 10500.0, 1500.0, 1500.0]);
}
