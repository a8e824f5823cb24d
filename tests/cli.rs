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
fn simulate_all_prints_a_row_per_endpoint_with_the_tutorials_numbers() {
    let o = loopscope(&["simulate", "--variant", "all"]);
    assert!(o.status.success());
    let out = stdout(&o);
    let rows: Vec<&str> = out.lines().skip(1).filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(rows.len(), 7, "{out}");
    let expect = [
        ("sync_def", "1.500"),
        ("blocking", "15.000"),
        ("async_io", "10.500"),
        ("full_async", "1.500"),
        ("background", "1.500"),
        // 10 predictions, 4 processes: three rounds after the fetch.
        ("process_pool", "3.500"),
        ("task_queue", "1.500"),
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
    // Two queue workers take the ten logs two at a time from 1.5 s: done at 2.5 s.
    assert!(rows[6].ends_with("2.500 s"), "task queue logs done: {}", rows[6]);
    let tutorial = stdout(&loopscope(&["simulate", "--variant", "tutorial"]));
    assert_eq!(
        tutorial.lines().skip(1).filter(|l| !l.trim().is_empty()).count(),
        5
    );
}

#[test]
fn the_options_past_the_tutorial_are_read_like_the_others() {
    let makespan = |args: &[&str]| {
        let mut full = vec!["simulate", "--json"];
        full.extend_from_slice(args);
        let o = loopscope(&full);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice::<loopscope::Report>(&o.stdout)
            .expect("one report")
            .stats
            .makespan_ms
    };
    // Pure-Python predictions share the GIL: the threadpool buys no parallelism.
    let gil = makespan(&[
        "--variant",
        "full_async",
        "-n",
        "4",
        "--work",
        "python_cpu",
        "--io-ms",
        "30",
        "--cpu-ms",
        "50",
    ]);
    assert!((220.0..=240.0).contains(&gil), "{gil}");
    assert_eq!(
        makespan(&[
            "--variant",
            "process_pool",
            "-n",
            "8",
            "--processes",
            "2",
            "--io-ms",
            "30",
            "--cpu-ms",
            "50"
        ]),
        230.0
    );
    assert_eq!(
        makespan(&[
            "--variant",
            "blocking",
            "-n",
            "8",
            "--workers",
            "4",
            "--io-ms",
            "20",
            "--cpu-ms",
            "30"
        ]),
        400.0,
        "a burst lands on one worker: uvicorn's workers share one accept queue"
    );
    assert_eq!(
        makespan(&[
            "--variant",
            "async_io",
            "-n",
            "2",
            "--overhead-ms",
            "1",
            "--io-ms",
            "10",
            "--cpu-ms",
            "10"
        ]),
        // Two first steps of 0.15 ms, the first fetch from 0.15, its prediction
        // 10.15–20.15 and answer (0.85 ms) to 21; the second prediction 21–31, answer 31.85.
        31.85
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
    let all: Vec<loopscope::Report> = serde_json::from_slice(&o.stdout).expect("seven reports");
    assert_eq!(all.len(), 7);
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
        (
            &["--work", "gpu"],
            "work must be one of 'sleep', 'compute', 'python_cpu', got 'gpu' (--work)",
        ),
        (
            &["--processes", "0"],
            "processes must be a whole number from 1 to 1024, got 0 (--processes)",
        ),
        (&["--queue-workers", "x"], "got 'x' (--queue-workers)"),
        (
            &["--workers", "65"],
            "workers must be a whole number from 1 to 64, got 65 (--workers)",
        ),
        (
            &["--overhead-ms", "-1"],
            "overhead_ms must be a number of milliseconds from 0 to 1000, got -1 (--overhead-ms)",
        ),
        (&["--pickle-ms", "nan"], "got nan (--pickle-ms)"),
        (&["--broker-ms", "1e4"], "from 0 to 1000"),
        (&["--nonsense"], "unexpected argument"),
        (
            &["--request", "5"],
            "unexpected argument '--request' found (did you mean '--requests'?)",
        ),
        (
            &["-n", "3000000", "--summary"],
            "concurrency must be a whole number from 1 to 1000000 for a summary",
        ),
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
