//! Exports: the requests of one or more reports as CSV, for a spreadsheet or pandas;
//! the background task's log as JSON Lines.

use crate::model::ids::serde_id;
use crate::model::{LogEntry, Report};

/// The log's rows as JSON Lines (<https://jsonlines.org>): one JSON object per line, in
/// the order given, each line ending with `\n`. `pandas.read_json(f, lines=True)` reads it.
pub fn log_jsonl(entries: &[LogEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        // A LogEntry is plain data (strings, numbers, bools): it always serialises.
        out.push_str(&serde_json::to_string(e).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The CSV header, in column order.
pub const HEADER: [&str; 14] = [
    "variant",
    "source",
    "id",
    "item_id",
    "feature_value",
    "sent_ms",
    "accepted_ms",
    "responded_ms",
    "latency_ms",
    "status",
    "prediction",
    "metadata",
    "background_done_ms",
    "time_scale",
];

/// A number printed shortest (`500`, `2.5`); empty when not finite.
fn number(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let x = if x == 0.0 { 0.0 } else { x }; // no "-0"
    format!("{x}")
}

/// A time in ms, rounded to 3 decimals (the microsecond), printed shortest.
fn time(x: f64) -> String {
    number((x * 1000.0).round() / 1000.0)
}

/// A field quoted per RFC 4180 when it holds a comma, a quote or a line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The title over an endpoint's timeline in the exported image: its route and its
/// numbers in the tutorial's time, the clock of the axis under it (`scale` is the run's
/// time scale), with how fast it was played.
pub fn png_title(
    variant: crate::model::Variant,
    predicted: &Report,
    measured: Option<&Report>,
    scale: f64,
) -> String {
    let d = |ms: f64| crate::format::duration(ms / scale);
    let played = if scale == 1.0 {
        String::new()
    } else {
        format!(
            " · played {}× faster, in the tutorial's time",
            (100.0 / scale).round() / 100.0
        )
    };
    match measured {
        Some(m) => format!(
            "{} — measured {} (predicted {}){played}",
            variant.route(),
            d(m.stats.makespan_ms),
            d(predicted.stats.makespan_ms)
        ),
        None => format!(
            "{} — predicted {}{played}",
            variant.route(),
            d(predicted.stats.makespan_ms)
        ),
    }
}

/// One row per request of each report, in the order given, under the header
/// `variant,source,id,item_id,feature_value,sent_ms,accepted_ms,responded_ms,latency_ms,
/// status,prediction,metadata,background_done_ms`.
///
/// `source` is `predicted` or `measured`; `status` is 200, or 500 for an error, whose
/// `prediction` and `metadata` are empty; `background_done_ms` is empty when the request
/// had no background task. The times are ms of the run as it was played, at
/// `time_scale` (the page's: 0.2 plays the tutorial five times faster); divide them by
/// it for the tutorial's time. Numbers are printed shortest, times rounded to 3
/// decimals. Fields holding a comma, quote or line break are quoted; lines end with CRLF
/// (RFC 4180).
pub fn requests_csv(reports: &[&Report], scale: f64) -> String {
    let mut out = HEADER.join(",");
    out.push_str("\r\n");
    for report in reports {
        let variant = report.config.variant.id();
        let source = serde_id(&report.source);
        for r in &report.requests {
            let answer = r.answer();
            let row = [
                variant.to_string(),
                source.to_string(),
                r.id.to_string(),
                r.request.item_id.to_string(),
                number(r.request.feature_value),
                time(r.sent_ms),
                time(r.accepted_ms),
                time(r.responded_ms),
                time(r.latency_ms),
                answer.status.to_string(),
                answer
                    .response
                    .as_ref()
                    .map(|a| number(a.prediction))
                    .unwrap_or_default(),
                answer
                    .response
                    .as_ref()
                    .map(|a| field(&a.metadata))
                    .unwrap_or_default(),
                r.background_done_ms.map(time).unwrap_or_default(),
                number(scale),
            ];
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_images_titles_are_on_the_clock_of_its_axis() {
        let c = crate::model::Config::default().with_variant(crate::model::Variant::AsyncIo);
        let scaled = crate::view::settings::scaled(&crate::view::settings::Settings {
            config: c,
            scale: 0.2,
        });
        let p = crate::simulate(&scaled).unwrap();
        assert_eq!(
            png_title(crate::model::Variant::AsyncIo, &p, Some(&p), 0.2),
            "POST /predict_async_io — measured 10.50 s (predicted 10.50 s) · played 5× faster, in the tutorial's time"
        );
        assert_eq!(
            png_title(crate::model::Variant::AsyncIo, &p, None, 1.0),
            "POST /predict_async_io — predicted 2.10 s"
        );
    }
    use crate::model::{Config, PredictionRequest, PredictionResponse, Source, Variant};

    #[test]
    fn the_log_is_one_object_per_line_and_reads_back() {
        let entry = |id: u64, stored: bool| LogEntry {
            run: "2026-11-28 10:00:00 page".into(),
            variant: Variant::Background,
            request_id: id,
            request: PredictionRequest::for_index(id),
            response: PredictionResponse {
                item_id: 123,
                metadata: "a \"quoted\"\nline".into(),
                prediction: 10.0,
            },
            written_ms: 100.5,
            written_abs_ms: 1.8e12,
            stored,
            error: (!stored).then(|| "IndexedDB: QuotaExceededError: full".into()),
        };
        let rows = [entry(1, true), entry(0, false)];
        let text = log_jsonl(&rows);
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.ends_with('\n'));
        let back: Vec<LogEntry> = text.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
        assert_eq!(back, rows);
        assert!(
            !text.lines().next().unwrap().contains("error"),
            "no error key when stored"
        );
        assert_eq!(log_jsonl(&[]), "");
    }

    /// A small RFC 4180 reader: rows of fields.
    fn read(csv: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let (mut row, mut cell) = (Vec::new(), String::new());
        let mut chars = csv.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => cell.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut cell)),
                (false, '\r') => {}
                (false, '\n') => {
                    row.push(std::mem::take(&mut cell));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => cell.push(c),
            }
        }
        assert!(
            cell.is_empty() && row.is_empty(),
            "the last line ends with a line break"
        );
        rows
    }

    fn report(variant: Variant, requests: u64) -> Report {
        crate::simulate(&Config {
            variant,
            requests,
            concurrency: requests,
            ..Config::default()
        })
        .expect("valid config")
    }

    #[test]
    fn header_then_one_row_per_request() {
        let (a, b) = (report(Variant::AsyncIo, 3), report(Variant::Background, 2));
        let csv = requests_csv(&[&a, &b], 1.0);
        let rows = read(&csv);
        assert_eq!(
            csv.lines().next(),
            Some(
                "variant,source,id,item_id,feature_value,sent_ms,accepted_ms,responded_ms,latency_ms,\
                 status,prediction,metadata,background_done_ms,time_scale"
            )
        );
        assert_eq!(rows.len(), 1 + 3 + 2);
        assert!(rows.iter().all(|r| r.len() == HEADER.len()));
        assert_eq!(requests_csv(&[], 1.0), format!("{}\r\n", HEADER.join(",")));
    }

    #[test]
    fn rows_parse_back_to_the_report() {
        let r = crate::simulate(&Config::default()).expect("valid");
        let rows = read(&requests_csv(&[&r], 0.2));
        let col = |name: &str| HEADER.iter().position(|&h| h == name).expect("column");
        for (row, req) in rows[1..].iter().zip(&r.requests) {
            let num = |name: &str| row[col(name)].parse::<f64>().expect(name);
            assert_eq!(row[col("variant")], "async_io");
            assert_eq!(row[col("source")], "predicted");
            assert_eq!(num("id"), req.id as f64);
            assert_eq!(num("item_id"), req.request.item_id as f64);
            assert_eq!(num("feature_value"), req.request.feature_value);
            assert_eq!(num("sent_ms"), req.sent_ms);
            assert_eq!(num("accepted_ms"), req.accepted_ms);
            assert_eq!(num("responded_ms"), req.responded_ms);
            assert_eq!(num("latency_ms"), req.latency_ms);
            assert_eq!(row[col("status")], "200");
            assert_eq!(num("prediction"), req.request.feature_value * 2.0);
            assert_eq!(row[col("metadata")], "some_fetched_value_async");
            // No background task: empty.
            assert_eq!(row[col("background_done_ms")], "");
        }
        assert_eq!(rows.len(), 1 + r.requests.len());
        // Shortest numbers: "500", not "500.0".
        assert_eq!(rows[1][col("responded_ms")], "1500");
        assert_eq!(rows[1][col("feature_value")], "5");
        assert_eq!(rows[2][col("feature_value")], "5.5");
    }

    #[test]
    fn background_done_is_filled_when_there_is_one() {
        let r = report(Variant::Background, 2);
        let rows = read(&requests_csv(&[&r], 0.2));
        assert_eq!(rows[1][12], "1700");
    }

    #[test]
    fn awkward_fields_are_quoted_and_times_rounded() {
        let mut r = report(Variant::SyncDef, 2);
        r.source = Source::Measured;
        r.requests.edit(|rows| {
            rows[0].answer.response.as_mut().unwrap().metadata = "a, \"quoted\"\nvalue".to_string();
            rows[1].answer = crate::model::Answer::server_error(&"ValueError: no model");
            rows[1].sent_ms = 0.1 + 0.2;
            rows[1].responded_ms = 1500.123456;
        });
        let csv = requests_csv(&[&r], 0.2);
        assert!(csv.contains(",\"a, \"\"quoted\"\"\nvalue\","), "{csv}");
        let rows = read(&csv);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1][1], "measured");
        assert_eq!(rows[1][11], "a, \"quoted\"\nvalue");
        // An error: its status, and no prediction or metadata.
        assert_eq!(&rows[2][9..12], ["500", "", ""]);
        assert_eq!(rows[2][5], "0.3");
        assert_eq!(rows[2][7], "1500.123");
        assert_eq!(number(f64::NAN), "");
        assert_eq!(number(-0.0), "0");
    }
}
