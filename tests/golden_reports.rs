//! Golden reports: the virtual model's output for a set of scenarios, kept in
//! tests/golden/reports.json. The browser test (tests/web.rs) recomputes each one
//! inside Chromium and must produce the same JSON, byte for byte.
//!
//! After an intended change to the model: `LOOPSCOPE_BLESS=1 cargo test --test golden_reports`.
#![cfg(not(target_arch = "wasm32"))]

use loopscope::model::{Config, Report, Variant, Work};
use loopscope::simulate;

fn scenarios() -> Vec<Config> {
    let mut out: Vec<Config> = Variant::ALL
        .iter()
        .map(|v| Config::default().with_variant(*v))
        .collect();
    let small = |variant, requests, concurrency, tokens, bg_ms| Config {
        variant,
        requests,
        concurrency,
        io_ms: 40.0,
        cpu_ms: 80.0,
        bg_ms,
        tokens,
        work: Work::Sleep,
    };
    out.push(small(Variant::Background, 6, 6, 3, 20.0));
    out.push(small(Variant::Background, 5, 2, 1, 130.0));
    out.push(small(Variant::AsyncIo, 6, 2, 40, 20.0));
    out.push(small(Variant::SyncDef, 6, 6, 2, 20.0));
    out.push(Config {
        io_ms: 12.5,
        cpu_ms: 33.3,
        bg_ms: 7.1,
        ..small(Variant::FullAsync, 9, 4, 2, 7.1)
    });
    out
}

#[test]
fn golden_reports_match_the_model() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/reports.json");
    let reports: Vec<Report> = scenarios().iter().map(|c| simulate(c).unwrap()).collect();
    let fresh = serde_json::to_string_pretty(&reports).unwrap() + "\n";
    if std::env::var_os("LOOPSCOPE_BLESS").is_some() {
        std::fs::write(path, &fresh).unwrap();
    }
    let stored = std::fs::read_to_string(path).expect("tests/golden/reports.json (bless it)");
    assert!(
        stored == fresh,
        "the model's output changed; if intended, rerun with LOOPSCOPE_BLESS=1 and review the diff"
    );
    // And it reads back as the same reports.
    let parsed: Vec<Report> = serde_json::from_str(&stored).unwrap();
    assert_eq!(parsed, reports);
}
