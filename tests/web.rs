//! The virtual model inside Chromium (`wasm-pack test --headless --chrome`): it must
//! give the same reports as natively, byte for byte (tests/golden/reports.json is
//! written by the native test tests/golden_reports.rs).
#![cfg(target_arch = "wasm32")]

use loopscope::model::Report;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const GOLDEN: &str = include_str!("golden/reports.json");

#[wasm_bindgen_test]
fn the_model_in_the_browser_matches_the_native_reports() {
    let golden: Vec<Report> = serde_json::from_str(GOLDEN).expect("golden reports");
    assert!(golden.len() >= 10);
    let fresh: Vec<Report> = golden
        .iter()
        .map(|r| loopscope::simulate(&r.config).expect("valid config"))
        .collect();
    assert_eq!(serde_json::to_string_pretty(&fresh).unwrap() + "\n", GOLDEN);
    assert_eq!(fresh, golden);
}

#[wasm_bindgen_test]
fn the_tutorials_numbers_in_the_browser() {
    let reports = loopscope::summary::all_variants(&loopscope::Config::default()).unwrap();
    let makespans: Vec<f64> = reports.iter().map(|r| r.stats.makespan_ms).collect();
    assert_eq!(makespans, [1500.0, 15000.0, 10500.0, 1500.0, 1500.0]);
}
