//! Human-readable summaries of reports, in the spirit of ApacheBench's output.

use crate::format::millis as ms;
use crate::model::Report;
use std::fmt::Write;

/// `ab`-style block for one report.
pub fn report_text(r: &Report) -> String {
    let c = &r.config;
    let s = &r.stats;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Endpoint:               {} ({})",
        c.variant.route(),
        c.variant.id()
    );
    let _ = writeln!(out, "                        {}", c.variant.summary());
    let _ = writeln!(
        out,
        "Durations:              io {} ms, cpu {} ms, background {} ms; threadpool {} tokens",
        ms(c.io_ms),
        ms(c.cpu_ms),
        ms(c.bg_ms),
        c.tokens
    );
    let _ = writeln!(out, "Concurrency Level:      {}", c.concurrency);
    let _ = writeln!(out, "Complete requests:      {}", r.requests.len());
    let _ = writeln!(out, "Failed requests:        {}", s.failed);
    let _ = writeln!(
        out,
        "Time taken for tests:   {:.3} seconds",
        s.makespan_ms / 1000.0
    );
    let _ = writeln!(out, "Requests per second:    {:.2} [#/sec]", s.throughput_rps);
    let _ = writeln!(
        out,
        "Event loop blocked:     {} ms in total, longest {} ms, {} stalls",
        ms(s.loop_stall_total_ms),
        ms(s.loop_stall_max_ms),
        r.loop_stalls.len()
    );
    if let Some(bg) = s.background_done_ms {
        let _ = writeln!(out, "Background tasks done:  {:.3} seconds", bg / 1000.0);
    }
    let _ = writeln!(
        out,
        "\nPercentage of the requests served within a certain time (ms)"
    );
    for (p, v) in [
        ("50", s.latency_ms.p50),
        ("95", s.latency_ms.p95),
        ("99", s.latency_ms.p99),
    ] {
        let _ = writeln!(out, "  {p}%  {:>8}", ms(v));
    }
    let _ = writeln!(out, " 100%  {:>8} (longest request)", ms(s.latency_ms.max));
    out
}

/// One row per report, for comparing variants side by side.
/// One row per summarised run (`--summary`): the same columns as [`table_text`], and the
/// tail of the latencies (p99, from the histogram).
pub fn summaries_text(summaries: &[crate::model::Summary]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<13} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9} {:>16} {:>11} {:>11}",
        "variant",
        "requests",
        "time (s)",
        "req/s",
        "p50 (ms)",
        "p99 (ms)",
        "max (ms)",
        "loop blocked (s)",
        "longest (ms)",
        "bg done (s)"
    );
    for s in summaries {
        let bg = s
            .background_done_ms
            .map_or("-".to_string(), |t| format!("{:.3}", t / 1000.0));
        let _ = writeln!(
            out,
            "{:<13} {:>9} {:>11.3} {:>9.2} {:>9} {:>9} {:>9} {:>16.3} {:>12} {:>11}",
            s.config.variant.id(),
            s.answered,
            s.makespan_ms / 1000.0,
            s.throughput_rps,
            ms(s.latency_ms.p50),
            ms(s.latency_ms.p99),
            ms(s.latency_ms.max),
            s.loop_stall_total_ms / 1000.0,
            ms(s.loop_stall_max_ms),
            bg
        );
    }
    out
}

pub fn table_text(reports: &[Report]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:<30} {:>8} {:>10} {:>8} {:>9} {:>9} {:>12} {:>9} {:>9}",
        "variant",
        "endpoint",
        "requests",
        "time (s)",
        "req/s",
        "p50 (ms)",
        "max (ms)",
        "loop blocked",
        "longest",
        "bg done"
    );
    for r in reports {
        let s = &r.stats;
        let bg = s
            .background_done_ms
            .map_or("-".to_string(), |t| format!("{:.3} s", t / 1000.0));
        let _ = writeln!(
            out,
            "{:<12} {:<30} {:>8} {:>10.3} {:>8.2} {:>9} {:>9} {:>9} ms {:>6} ms {:>9}",
            r.config.variant.id(),
            r.config.variant.route(),
            r.requests.len(),
            s.makespan_ms / 1000.0,
            s.throughput_rps,
            ms(s.latency_ms.p50),
            ms(s.latency_ms.max),
            ms(s.loop_stall_total_ms),
            ms(s.loop_stall_max_ms),
            bg
        );
    }
    out
}
