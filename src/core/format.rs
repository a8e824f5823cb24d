//! How the page, the CLI and the exports write a time, and quote what a person typed:
//! one place, so a duration reads the same in a caption, a tooltip, the stats table and
//! the command line's summary.

/// A duration for a person: "1.50 s" from a second up, "120 ms" from 10 ms, "4.2 ms"
/// below.
pub fn duration(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// A count rounded to a whole, its thousands apart: "4 000", "12 500".
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0).round());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The badge on a timeline: how fast the run was played against the tutorial's time,
/// in words that cannot be read backwards ("the run went 5× faster", not "at 0.2×").
pub fn played_at(scale: f64) -> String {
    let ratio = |x: f64| {
        let x = (x * 100.0).round() / 100.0;
        format!("{x}")
    };
    if scale == 1.0 {
        "all times in the tutorial's seconds, run as they are".to_string()
    } else if scale < 1.0 {
        format!(
            "all times in the tutorial's seconds (this page ran it {}× faster, to save the wait)",
            ratio(1.0 / scale)
        )
    } else {
        format!(
            "all times in the tutorial's seconds (this page ran it {}× slower)",
            ratio(scale)
        )
    }
}

/// A round duration (a scale's 1, 2 or 5 times a power of ten) printed shortest:
/// "25 s", "2.5 s", "100 ms", "0.5 ms".
pub fn round_duration(ms: f64) -> String {
    let shortest = |x: f64| {
        let x = (x * 1000.0).round() / 1000.0;
        format!("{x}")
    };
    if ms >= 1000.0 {
        format!("{} s", shortest(ms / 1000.0))
    } else {
        format!("{} ms", shortest(ms))
    }
}

/// A number of milliseconds in a column headed "ms": whole when it is whole, else to
/// a tenth ("500", "2.5").
pub fn millis(x: f64) -> String {
    if x == x.round() {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// `'text'`, with control characters replaced and long input cut.
pub fn quoted(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .take(40)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if raw.chars().count() > 40 {
        s.push('…');
    }
    format!("'{s}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(1000.0), "1.00 s");
        assert_eq!(duration(15_000.0), "15.00 s");
        assert_eq!(duration(120.4), "120 ms");
        assert_eq!(duration(4.25), "4.2 ms");
        assert_eq!(millis(500.0), "500");
        assert_eq!(millis(2.5), "2.5");
        assert_eq!(round_duration(25_000.0), "25 s");
        assert_eq!(round_duration(2_500.0), "2.5 s");
        assert_eq!(round_duration(100.0), "100 ms");
        assert_eq!(round_duration(0.5), "0.5 ms");
        assert_eq!(
            played_at(0.2),
            "all times in the tutorial's seconds (this page ran it 5× faster, to save the wait)"
        );
        assert_eq!(
            played_at(0.3),
            "all times in the tutorial's seconds (this page ran it 3.33× faster, to save the wait)"
        );
        assert_eq!(
            played_at(2.0),
            "all times in the tutorial's seconds (this page ran it 2× slower)"
        );
        assert_eq!(
            played_at(1.0),
            "all times in the tutorial's seconds, run as they are"
        );
    }
}
