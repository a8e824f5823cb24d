//! Golden reports: a digest of the virtual model's report for a few scenarios, kept in
//! tests/golden/digests.txt (a line each, with its headline numbers). The browser test
//! (tests/wasm/web.rs) recomputes them inside Chromium and must get the same lines.
//!
//! After an intended change to the model: `LOOPSCOPE_BLESS=1 cargo test --test golden_reports`,
//! and read the diff: a line per scenario, saying which numbers moved.
#![cfg(not(target_arch = "wasm32"))]

#[path = "golden/scenarios.rs"]
mod scenarios;

#[test]
fn golden_digests_match_the_model() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/digests.txt");
    let fresh = scenarios::lines();
    if std::env::var_os("LOOPSCOPE_BLESS").is_some() {
        std::fs::write(path, &fresh).unwrap();
    }
    let stored = std::fs::read_to_string(path).expect("tests/golden/digests.txt (bless it)");
    assert!(
        stored == fresh,
        "the model's output changed; if intended, rerun with LOOPSCOPE_BLESS=1 and review the diff:\n{fresh}"
    );
}
