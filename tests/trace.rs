//! `loopscope simulate --trace` walked for every built-in endpoint: at every iteration
//! of every loop, the rules asyncio, anyio and the GIL keep hold.
#![cfg(not(target_arch = "wasm32"))]

use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;

/// The iterations `simulate --trace` prints for `args`, one JSON value each.
fn trace(args: &[&str]) -> Vec<Value> {
    let o = Command::new(env!("CARGO_BIN_EXE_loopscope"))
        .args(["simulate", "--trace"])
        .args(args)
        .output()
        .expect("run loopscope");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .collect()
}

fn requests(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// A line served first come, first served: from `before` to `after`, only its head
/// left, and newcomers joined at its tail.
fn fifo(before: &[u64], after: &[u64], what: &str) {
    let left = before.iter().filter(|r| !after.contains(r)).count();
    assert_eq!(
        &after[..before.len() - left],
        &before[left..],
        "{what}: {before:?} then {after:?} (only the head may leave)"
    );
}

/// Every rule, at every iteration of `lines`; returns how many iterations were checked.
fn check(lines: &[Value], tokens: u64, label: &str) -> usize {
    let mut last: HashMap<u64, &Value> = HashMap::new();
    for line in lines {
        let it = &line["iteration"];
        let worker = it["worker"].as_u64().expect("worker");
        let (start, end) = (it["start_ms"].as_f64().unwrap(), it["end_ms"].as_f64().unwrap());
        let state = &it["state"];
        let at = format!("{label}, iteration {} of worker {worker}", it["n"]);
        assert!(end >= start, "{at}: ends before it starts");
        assert!(state["ready"].is_array(), "{at}: ready is always a list");
        // Borrowed ≤ tokens, and the borrowers are the borrowed.
        let pool = &state["pool"];
        let borrowed = pool["borrowed"].as_u64().unwrap();
        assert!(borrowed <= tokens, "{at}: {borrowed} of {tokens} tokens");
        assert_eq!(pool["total"].as_u64(), Some(tokens), "{at}");
        assert_eq!(requests(&pool["borrowers"]).len() as u64, borrowed, "{at}");
        // A timer fires at or after its due time.
        for t in it["timers"].as_array().unwrap() {
            let due = t["due_ms"].as_f64().unwrap();
            assert!(start >= due - 1e-9, "{at}: a timer due at {due} ran at {start}");
        }
        if let Some(prev) = last.get(&worker) {
            let (p_it, p_state) = (&prev["iteration"], &prev["iteration"]["state"]);
            assert!(
                start >= p_it["end_ms"].as_f64().unwrap() - 1e-9,
                "{at}: starts before the last one ended"
            );
            // Waiters are served in FIFO order: the threadpool's, the processes', the queue's.
            fifo(
                &requests(&p_state["pool"]["waiting"]),
                &requests(&pool["waiting"]),
                &format!("{at}: the threadpool's waiters"),
            );
            for w in ["processes", "queue"] {
                if state[w].is_object() {
                    fifo(
                        &requests(&p_state[w]["waiting"]),
                        &requests(&state[w]["waiting"]),
                        &format!("{at}: {w}' waiters"),
                    );
                }
            }
            // A task step resumes one iteration after its future completed.
            let steps: Vec<u64> = it["ran"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["kind"] == "step")
                .filter_map(|c| c["request"].as_u64())
                .collect();
            for done in p_it["ran"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["kind"] == "done")
            {
                let r = done["request"].as_u64().expect("a future of a request");
                assert!(
                    steps.contains(&r),
                    "{at}: req {r}'s future completed the iteration before, its step did not run: {}",
                    done["what"]
                );
            }
        }
        last.insert(worker, line);
    }
    lines.len()
}

#[test]
fn every_endpoint_keeps_asyncios_anyios_and_the_gils_rules_at_every_iteration() {
    let common = [
        "-n", "30", "--tokens", "4", "--io-ms", "100", "--cpu-ms", "200", "--bg-ms", "50",
    ];
    let runs: [(&str, &[&str]); 4] = [
        ("sleep", &["-c", "30"]),
        ("a GIL held by pure Python", &["-c", "30", "--work", "python_cpu"]),
        ("two server workers", &["-c", "30", "--workers", "2"]),
        (
            "clients in turn",
            &["-c", "3", "--processes", "2", "--queue-workers", "1"],
        ),
    ];
    let variants = [
        "sync_def",
        "blocking",
        "async_io",
        "full_async",
        "background",
        "process_pool",
        "task_queue",
    ];
    for variant in variants {
        for (what, extra) in runs {
            let mut args = vec!["--variant", variant];
            args.extend(common);
            args.extend(extra);
            let lines = trace(&args);
            assert!(lines.iter().all(|l| l["variant"] == variant));
            let checked = check(&lines, 4, &format!("{variant}, {what}"));
            assert!(checked >= 2, "{variant}, {what}: {checked} iterations");
        }
    }
}

#[test]
fn the_first_iteration_reads_the_requests_and_the_last_leaves_nothing_behind() {
    let lines = trace(&["--variant", "full_async", "-n", "10", "--tokens", "4"]);
    let first = &lines[0]["iteration"];
    assert_eq!(first["polled"].as_array().unwrap().len(), 10);
    assert!(first["polled"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["kind"] == "read"));
    let after = &lines.last().unwrap()["iteration"]["state"];
    for queue in ["ready", "timers", "sockets", "background"] {
        assert_eq!(after[queue].as_array().map(Vec::len), Some(0), "{queue}: {after}");
    }
    assert_eq!(after["pool"]["borrowed"], 0);
}

#[test]
fn a_run_too_big_to_trace_is_refused_by_name() {
    let o = Command::new(env!("CARGO_BIN_EXE_loopscope"))
        .args(["simulate", "--trace", "--variant", "sync_def", "-n", "2001"])
        .output()
        .expect("run loopscope");
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("at most 2000") && err.contains("--requests"),
        "{err}"
    );
}
