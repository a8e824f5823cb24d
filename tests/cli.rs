//! The `loopscope` command as a person uses it.
#![cfg(not(target_arch = "wasm32"))]

use std::process::{Command, Output};

fn loopscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loopscope"))
        .args(args)
        .output()
        .expect("run loopscope")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn simulate_all_prints_five_rows_with_the_tutorials_numbers() {
    let o = loopscope(&["simulate", "--variant", "all"]);
    assert!(o.status.success());
    let out = stdout(&o);
    let rows: Vec<&str> = out.lines().skip(1).filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(rows.len(), 5, "{out}");
    let expect = [
        ("sync_def", "1.500"),
        ("blocking", "15.000"),
        ("async_io", "10.500"),
        ("full_async", "1.500"),
        ("background", "1.500"),
    ];
    for (row, (id, secs)) in rows.iter().zip(expect) {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[0], id, "{row}");
        assert_eq!(cols[4], secs, "{row}");
    }
    assert!(rows[4].ends_with("1.700 s"), "background logs done: {}", rows[4]);
    assert!(
        rows[1].contains("15000 ms"),
        "blocking stalls the loop 15 s: {}",
        rows[1]
    );
}

#[test]
fn one_variant_prints_an_ab_like_summary() {
    let o = loopscope(&["simulate", "--variant", "async_io", "-n", "4", "-c", "2"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("Concurrency Level:      2"), "{out}");
    assert!(out.contains("Complete requests:      4"), "{out}");
    assert!(out.contains("Time taken for tests:   5.000 seconds"), "{out}");
    assert!(
        out.contains("Event loop blocked:     4000 ms in total, longest 1000 ms, 4 stalls"),
        "{out}"
    );
}

#[test]
fn json_is_a_report_or_an_array_of_them() {
    let o = loopscope(&[
        "simulate",
        "--variant",
        "full_async",
        "-n",
        "3",
        "--tokens",
        "1",
        "--json",
    ]);
    assert!(o.status.success());
    let r: loopscope::Report = serde_json::from_slice(&o.stdout).expect("one report");
    assert_eq!(r.stats.makespan_ms, 3500.0);
    let o = loopscope(&["simulate", "--json", "-n", "2"]);
    let all: Vec<loopscope::Report> = serde_json::from_slice(&o.stdout).expect("five reports");
    assert_eq!(all.len(), 5);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v[0]["stats"]["background_done_ms"].is_null());
    assert_eq!(v[4]["stats"]["background_done_ms"], 1700.0);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["--variant", "fastest"], "unknown variant 'fastest'"),
        (
            &["-n", "0"],
            "requests must be a whole number from 1 to 100000, got 0 (--requests)",
        ),
        (
            &["-n", "-1"],
            "requests must be a whole number from 1 to 100000, got -1 (--requests)",
        ),
        (
            &["-n=-1"],
            "requests must be a whole number from 1 to 100000, got -1 (--requests)",
        ),
        (&["--requests=-3"], "got -3 (--requests)"),
        (&["-n", "2.5"], "got 2.5"),
        (&["-n", "100001"], "from 1 to 100000"),
        (&["-c", "0"], "concurrency must be"),
        (&["-n", "3", "-c", "5"], "cannot exceed requests"),
        (&["--io-ms", "-5"], "io_ms must be"),
        (&["--cpu-ms", "0"], "cpu_ms must be"),
        (&["--bg-ms", "nan"], "bg_ms must be"),
        (&["--io-ms", "inf"], "io_ms must be"),
        (&["--io-ms", "Infinity"], "got Infinity (--io-ms)"),
        (&["--cpu-ms", "1e9"], "at most 600000"),
        (&["--tokens", "0"], "tokens must be"),
        (&["--io-ms", "fast"], "got 'fast' (--io-ms)"),
        (&["--nonsense"], "unexpected argument"),
    ];
    for (args, expect) in cases {
        let mut full = vec!["simulate"];
        full.extend_from_slice(args);
        let o = loopscope(&full);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line, got {err:?}");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    // Exponents are numbers, as in the page's form: 1e2 requests is 100.
    let o = loopscope(&["simulate", "--variant", "full_async", "-n", "1e2", "--json"]);
    assert!(o.status.success());
    let r: loopscope::Report = serde_json::from_slice(&o.stdout).expect("one report");
    assert_eq!(r.requests.len(), 100);
    let o = loopscope(&["serve", "--dir", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
}
