//! The page's inputs: parsing what was typed, the time scale, the URL hash, and the presets.
//!
//! The form holds the tutorial's durations and a time scale; a run uses the durations
//! multiplied by the scale ([`scaled`]). Every check is the browser run's
//! ([`Config::browser_problems`]) applied to what the run will really use, so a form
//! that parses can be run.

use crate::model::{limits, Config, ConfigError, Variant, Work};

/// What the form holds: the config (variant = the last one chosen) and the time scale.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub config: Config,
    /// Multiplies every duration of a run: 0.2 plays the tutorial five times faster.
    pub scale: f64,
}

/// Smallest time scale.
pub const SCALE_MIN: f64 = 0.1;
/// Largest time scale.
pub const SCALE_MAX: f64 = 2.0;

/// The form's field names, in order (also the element ids' suffixes and the URL keys).
pub const FIELDS: [&str; 8] = [
    "requests",
    "concurrency",
    "io_ms",
    "cpu_ms",
    "bg_ms",
    "tokens",
    "work",
    "scale",
];

impl Default for Settings {
    /// The tutorial: [`Config::default`] at time scale 0.2.
    fn default() -> Self {
        Settings {
            config: Config::default(),
            scale: 0.2,
        }
    }
}

/// The fields [`parse`] reads: `variant`, then [`FIELDS`].
fn known() -> impl Iterator<Item = &'static str> {
    std::iter::once("variant").chain(FIELDS)
}

fn error(field: &'static str, message: String) -> ConfigError {
    ConfigError { field, message }
}

/// What was typed, quoted for a one-line message: control characters replaced, long
/// input cut.
fn shown(raw: &str) -> String {
    if raw.trim().is_empty() {
        return "nothing".to_string();
    }
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

fn work_id(work: Work) -> &'static str {
    match work {
        Work::Sleep => "sleep",
        Work::Compute => "compute",
    }
}

fn parse_count(field: &'static str, raw: &str, max: u64) -> Result<u64, ConfigError> {
    raw.trim().parse::<u64>().map_err(|_| {
        error(
            field,
            format!(
                "{field} must be a whole number from 1 to {max}, got {}",
                shown(raw)
            ),
        )
    })
}

fn parse_duration(field: &'static str, raw: &str) -> Result<f64, ConfigError> {
    raw.trim().parse::<f64>().map_err(|_| {
        error(
            field,
            format!(
                "{field} must be a number of milliseconds above 0 and at most {}, got {}",
                limits::MAX_DURATION_MS,
                shown(raw)
            ),
        )
    })
}

fn parse_scale(raw: &str) -> Result<f64, ConfigError> {
    match raw.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && (SCALE_MIN..=SCALE_MAX).contains(&x) => Ok(x),
        _ => Err(error(
            "scale",
            format!(
                "time scale must be a number from {SCALE_MIN} to {SCALE_MAX}, got {}",
                shown(raw)
            ),
        )),
    }
}

fn parse_work(raw: &str) -> Result<Work, ConfigError> {
    match raw.trim() {
        "sleep" => Ok(Work::Sleep),
        "compute" => Ok(Work::Compute),
        _ => Err(error(
            "work",
            format!("work must be 'sleep' or 'compute', got {}", shown(raw)),
        )),
    }
}

/// Sets one field from what was typed; the config is unchanged on error.
fn set(settings: &mut Settings, field: &str, raw: &str) -> Result<(), ConfigError> {
    let c = &mut settings.config;
    match field {
        "variant" => c.variant = raw.trim().parse()?,
        "requests" => c.requests = parse_count("requests", raw, limits::BROWSER_MAX_REQUESTS)?,
        "concurrency" => c.concurrency = parse_count("concurrency", raw, limits::BROWSER_MAX_REQUESTS)?,
        "tokens" => c.tokens = parse_count("tokens", raw, limits::MAX_TOKENS)?,
        "io_ms" => c.io_ms = parse_duration("io_ms", raw)?,
        "cpu_ms" => c.cpu_ms = parse_duration("cpu_ms", raw)?,
        "bg_ms" => c.bg_ms = parse_duration("bg_ms", raw)?,
        "work" => c.work = parse_work(raw)?,
        "scale" => settings.scale = parse_scale(raw)?,
        _ => {}
    }
    Ok(())
}

/// Copies one field from `from` (used to undo an invalid value).
fn restore(settings: &mut Settings, from: &Settings, field: &str) {
    let (c, b) = (&mut settings.config, &from.config);
    match field {
        "variant" => c.variant = b.variant,
        "requests" => c.requests = b.requests,
        "concurrency" => c.concurrency = b.concurrency,
        "tokens" => c.tokens = b.tokens,
        "io_ms" => c.io_ms = b.io_ms,
        "cpu_ms" => c.cpu_ms = b.cpu_ms,
        "bg_ms" => c.bg_ms = b.bg_ms,
        "work" => c.work = b.work,
        "scale" => settings.scale = from.scale,
        _ => {}
    }
}

/// Every range problem of the config as typed, one per field where possible.
/// `browser_problems` stops at the core's problems, so when there are some, the
/// browser's own limits are checked field by field on an otherwise valid config.
fn range_problems(c: &Config) -> Vec<ConfigError> {
    let mut errors = c.browser_problems();
    if c.problems().is_empty() {
        return errors;
    }
    let valid_requests = if (1..=limits::BROWSER_MAX_REQUESTS).contains(&c.requests) {
        c.requests
    } else {
        Config::default().requests
    };
    let base = Config {
        requests: valid_requests,
        concurrency: 1,
        tokens: 1,
        ..Config::default()
    };
    let probes = [
        (
            "requests",
            Config {
                requests: c.requests,
                ..base.clone()
            },
        ),
        (
            "tokens",
            Config {
                tokens: c.tokens,
                ..base.clone()
            },
        ),
        (
            "io_ms",
            Config {
                io_ms: c.io_ms,
                ..base.clone()
            },
        ),
        (
            "cpu_ms",
            Config {
                cpu_ms: c.cpu_ms,
                ..base.clone()
            },
        ),
        (
            "bg_ms",
            Config {
                bg_ms: c.bg_ms,
                ..base.clone()
            },
        ),
    ];
    for (field, probe) in probes {
        if !errors.iter().any(|e| e.field == field) {
            errors.extend(probe.browser_problems().into_iter().filter(|e| e.field == field));
        }
    }
    errors
}

/// The durations a run will use must also be timeable and within the step limit.
fn scaled_problems(settings: &Settings, skip: &[&str]) -> Vec<ConfigError> {
    let c = &settings.config;
    let mut errors = Vec::new();
    for (field, value) in [("io_ms", c.io_ms), ("cpu_ms", c.cpu_ms), ("bg_ms", c.bg_ms)] {
        if skip.contains(&field) {
            continue;
        }
        let run = scale_ms(value, settings.scale);
        let (scale, min, max) = (
            settings.scale,
            limits::BROWSER_MIN_DURATION_MS,
            limits::MAX_DURATION_MS,
        );
        if run < min {
            errors.push(error(
                field_name(field),
                format!(
                    "{field} at time scale {scale} is {run} ms, below the {min} ms a browser run can \
                     time: raise {field} or the time scale"
                ),
            ));
        } else if run > max {
            errors.push(error(
                field_name(field),
                format!(
                    "{field} at time scale {scale} is {run} ms, above the {max} ms a step may last: \
                     lower {field} or the time scale"
                ),
            ));
        }
    }
    errors
}

/// The `'static` name of a known field.
fn field_name(field: &str) -> &'static str {
    known().find(|&k| k == field).unwrap_or("config")
}

fn order(field: &str) -> usize {
    known().position(|k| k == field).unwrap_or(FIELDS.len() + 1)
}

/// Applies what parses over `base` and returns every problem. Invalid fields keep
/// `base`'s value, so the settings returned are valid whenever `base` is.
fn apply(base: &Settings, raw: &[(&str, String)]) -> (Settings, Vec<ConfigError>) {
    let mut settings = base.clone();
    let mut errors: Vec<ConfigError> = Vec::new();
    for field in known() {
        // The last value given for a field counts.
        if let Some((_, value)) = raw.iter().rev().find(|(name, _)| *name == field) {
            if let Err(e) = set(&mut settings, field, value) {
                errors.push(e);
            }
        }
    }
    let typed: Vec<&str> = errors.iter().map(|e| e.field).collect();
    let ranges: Vec<ConfigError> = range_problems(&settings.config)
        .into_iter()
        .filter(|e| !typed.contains(&e.field))
        .collect();
    errors.extend(ranges);
    if !errors.iter().any(|e| e.field == "scale") {
        let skip: Vec<&str> = errors.iter().map(|e| e.field).collect();
        errors.extend(scaled_problems(&settings, &skip));
    }
    // Anything the run itself would refuse that the checks above missed.
    if errors.is_empty() {
        errors.extend(scaled(&settings).browser_problems());
    }
    errors.sort_by_key(|e| order(e.field));

    for e in &errors {
        restore(&mut settings, base, e.field);
    }
    if !errors.is_empty() && !settings_ok(&settings) {
        // e.g. concurrency valid alone but above base's requests: undo the pair.
        restore(&mut settings, base, "requests");
        restore(&mut settings, base, "concurrency");
        if !settings_ok(&settings) {
            settings = base.clone();
        }
    }
    (settings, errors)
}

fn settings_ok(settings: &Settings) -> bool {
    (SCALE_MIN..=SCALE_MAX).contains(&settings.scale)
        && settings.config.browser_problems().is_empty()
        && scaled(settings).browser_problems().is_empty()
}

/// Parses raw strings (as typed) for each field name into Settings, starting from `base`.
///
/// Names are those of [`FIELDS`], plus `variant`; others are ignored. Missing fields keep
/// `base`'s value; nothing is clamped. Every invalid field gets one [`ConfigError`] naming
/// it, with the same messages as the CLI and the JS API for out-of-range values, checked
/// against the browser's limits; the durations are also checked as scaled for the run.
pub fn parse(base: &Settings, raw: &[(&str, String)]) -> Result<Settings, Vec<ConfigError>> {
    let (settings, errors) = apply(base, raw);
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(errors)
    }
}

/// `ms × scale`, rounded to the microsecond so the run's numbers print cleanly.
fn scale_ms(ms: f64, scale: f64) -> f64 {
    let x = ms * scale;
    let rounded = (x * 1000.0).round() / 1000.0;
    if rounded > 0.0 || !x.is_finite() {
        rounded
    } else {
        x // never round a positive duration down to 0
    }
}

/// The run's actual config: the durations multiplied by the scale (rounded to the
/// microsecond); every other field unchanged.
pub fn scaled(settings: &Settings) -> Config {
    let c = &settings.config;
    Config {
        io_ms: scale_ms(c.io_ms, settings.scale),
        cpu_ms: scale_ms(c.cpu_ms, settings.scale),
        bg_ms: scale_ms(c.bg_ms, settings.scale),
        ..c.clone()
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL hash for these settings, e.g. `#variant=async_io&requests=10&concurrency=10&
/// io_ms=500&cpu_ms=1000&bg_ms=200&tokens=40&work=sleep&scale=0.2`, plus `&preset=<id>`
/// when given. Numbers are printed shortest (`500`, not `500.0`).
pub fn to_hash(settings: &Settings, preset: Option<&str>) -> String {
    let c = &settings.config;
    let mut hash = format!(
        "#variant={}&requests={}&concurrency={}&io_ms={}&cpu_ms={}&bg_ms={}&tokens={}&work={}&scale={}",
        c.variant.id(),
        c.requests,
        c.concurrency,
        c.io_ms,
        c.cpu_ms,
        c.bg_ms,
        c.tokens,
        work_id(c.work),
        settings.scale
    );
    if let Some(id) = preset {
        hash.push_str("&preset=");
        hash.push_str(&percent_encode(id));
    }
    hash
}

/// Reads a URL hash (with or without `#`; values percent-decoded) over
/// [`Settings::default`]. Unknown keys are ignored; invalid values are returned as errors
/// and leave the default in place. When `requests` is given without `concurrency`, all
/// requests are sent at once (concurrency = requests, as on the command line). A `preset`
/// naming no preset is dropped with an error (field `preset`).
///
/// Returns (settings, preset id if any, errors).
pub fn from_hash(hash: &str) -> (Settings, Option<String>, Vec<ConfigError>) {
    let hash = hash.strip_prefix('#').unwrap_or(hash);
    let mut raw: Vec<(String, String)> = hash
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let last = |key: &str| raw.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let filled = match (last("requests"), last("concurrency")) {
        (Some(n), None) => Some(n),
        _ => None,
    };
    if let Some(n) = &filled {
        raw.push(("concurrency".to_string(), n.clone()));
    }
    let pairs: Vec<(&str, String)> = raw.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let (settings, mut errors) = apply(&Settings::default(), &pairs);
    if filled.is_some() {
        // The concurrency filled in is not the user's error: `requests` reports it.
        errors.retain(|e| e.field != "concurrency");
    }
    let mut preset_id = None;
    if let Some((_, id)) = raw.iter().rev().find(|(k, _)| k == "preset") {
        if preset(id).is_some() {
            preset_id = Some(id.clone());
        } else {
            let ids: Vec<&str> = PRESET_IDS.to_vec();
            errors.push(error(
                "preset",
                format!("unknown preset {}: expected one of {}", shown(id), ids.join(", ")),
            ));
        }
    }
    (settings, preset_id, errors)
}

/// A ready-made scenario: settings to load and the endpoints to try with them.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    pub id: &'static str,
    pub title: &'static str,
    /// Two sentences, for a student.
    pub explanation: &'static str,
    pub settings: Settings,
    /// The endpoints to press, in order; `settings.config.variant` is one of them (the
    /// first, except in `tutorial`, which is [`Settings::default`]).
    pub suggested: &'static [Variant],
}

const PRESET_IDS: [&str; 6] = [
    "tutorial",
    "def-endpoint",
    "threadpool-exhausted",
    "blocking-async",
    "cpu-bound",
    "background-load",
];

fn settings(variant: Variant, requests: u64, concurrency: u64, scale: f64) -> Settings {
    Settings {
        config: Config {
            variant,
            requests,
            concurrency,
            ..Config::default()
        },
        scale,
    }
}

/// Every preset, in the order the page lists them.
pub fn presets() -> Vec<Preset> {
    vec![
        Preset {
            id: "tutorial",
            title: "The tutorial as written",
            explanation: "Ten clients each send one request at once, with the tutorial's durations \
                (fetch 0.5 s, prediction 1 s, log 0.2 s) played five times faster. Try the five \
                endpoints in turn and compare when the last response arrives and how long the event \
                loop was blocked.",
            settings: Settings::default(),
            suggested: &Variant::ALL,
        },
        Preset {
            id: "def-endpoint",
            title: "What FastAPI really does with a def endpoint",
            explanation: "The tutorial says requests to its def endpoint are served one after another, \
                but FastAPI runs a def endpoint in its threadpool (40 threads by default), so ten \
                requests overlap and all finish after one fetch and one prediction. Requests are \
                served one after another only when the blocking calls run inside an async def, as in \
                the blocking endpoint, which takes ten times as long.",
            settings: settings(Variant::SyncDef, 10, 10, 0.2),
            suggested: &[Variant::SyncDef, Variant::Blocking],
        },
        Preset {
            id: "threadpool-exhausted",
            title: "Threadpool exhausted: 41 requests, 40 tokens",
            explanation: "Forty-one requests arrive at once but the threadpool has 40 tokens, so the \
                41st waits for a token until one of the other 40 gives its token back. With \
                full_async its response comes one whole prediction after the others; with the def \
                endpoint, which holds its token through the fetch too, one whole fetch and \
                prediction after.",
            settings: settings(Variant::FullAsync, 41, 41, 0.5),
            suggested: &[Variant::FullAsync, Variant::SyncDef],
        },
        Preset {
            id: "blocking-async",
            title: "One blocking call inside async def",
            explanation: "The ten fetches are awaited, so they overlap, but run_model_prediction is \
                called without await inside the async def, so each prediction holds the event loop \
                and everything else queues behind it. The last response comes after one fetch and \
                ten predictions; full_async moves the prediction into the threadpool and all ten \
                finish together.",
            settings: settings(Variant::AsyncIo, 10, 10, 0.2),
            suggested: &[Variant::AsyncIo, Variant::FullAsync],
        },
        Preset {
            id: "cpu-bound",
            title: "CPU-bound work in the threadpool",
            explanation: "Each prediction now burns a CPU core instead of sleeping, like NumPy \
                inference that releases the GIL, so the eight pool threads compute in parallel, but \
                only on as many cores as the machine has: on a 2-core machine the run takes much \
                longer than the model predicts, since the model gives every thread a core of its own. \
                Pure-Python inference would hold the GIL, so the threads would take turns and gain \
                nothing from the threadpool.",
            settings: Settings {
                config: Config {
                    work: Work::Compute,
                    ..settings(Variant::FullAsync, 8, 8, 0.5).config
                },
                scale: 0.5,
            },
            suggested: &[Variant::FullAsync],
        },
        Preset {
            id: "background-load",
            title: "Background logging under load",
            explanation: "Each response goes out as soon as its prediction is done, and only then does \
                its sync log task ask the threadpool for a token, in the same first-come, first-served \
                line as the predictions. With 60 clients sending 120 requests and a 0.5 s log write, \
                the logs of earlier responses hold tokens that later predictions wait for, so \
                responses come later than with full_async even though the logging runs after them.",
            settings: Settings {
                config: Config {
                    bg_ms: 500.0,
                    ..settings(Variant::Background, 120, 60, 0.5).config
                },
                scale: 0.5,
            },
            suggested: &[Variant::Background, Variant::FullAsync],
        },
    ]
}

/// The preset with this id.
pub fn preset(id: &str) -> Option<Preset> {
    presets().into_iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        pairs.iter().map(|&(k, v)| (k, v.to_string())).collect()
    }

    fn fields_of(errors: &[ConfigError]) -> Vec<&'static str> {
        errors.iter().map(|e| e.field).collect()
    }

    /// The field that one typed value is refused for.
    fn refused(field: &'static str, value: &str) -> ConfigError {
        let errors = parse(&Settings::default(), &raw(&[(field, value)])).expect_err(value);
        assert_eq!(fields_of(&errors), [field], "{field}={value}: {errors:?}");
        let e = errors.into_iter().next().expect("one error");
        assert!(!e.message.contains('\n'), "{e}");
        e
    }

    #[test]
    fn default_is_the_tutorial_and_its_hash_round_trips() {
        let s = Settings::default();
        assert_eq!(s.config, Config::default());
        assert_eq!(s.scale, 0.2);
        let hash = to_hash(&s, None);
        assert_eq!(
            hash,
            "#variant=async_io&requests=10&concurrency=10&io_ms=500&cpu_ms=1000&bg_ms=200&tokens=40&work=sleep&scale=0.2"
        );
        assert_eq!(from_hash(&hash), (s.clone(), None, vec![]));
        assert_eq!(from_hash(hash.trim_start_matches('#')), (s.clone(), None, vec![]));
        assert_eq!(from_hash(""), (s, None, vec![]));
    }

    #[test]
    fn every_preset_can_run_in_a_browser_and_round_trips_with_its_id() {
        let all = presets();
        assert_eq!(all.iter().map(|p| p.id).collect::<Vec<_>>(), PRESET_IDS);
        for p in &all {
            let s = &p.settings;
            assert!(s.config.browser_problems().is_empty(), "{}", p.id);
            assert!(scaled(s).browser_problems().is_empty(), "{}", p.id);
            assert!((SCALE_MIN..=SCALE_MAX).contains(&s.scale));
            assert!(p.suggested.contains(&s.config.variant), "{}", p.id);
            let hash = to_hash(s, Some(p.id));
            assert!(hash.ends_with(&format!("&preset={}", p.id)));
            assert_eq!(
                from_hash(&hash),
                (s.clone(), Some(p.id.to_string()), vec![]),
                "{}",
                p.id
            );
            assert_eq!(preset(p.id).as_ref(), Some(p));
            // Two sentences, and a run of a few seconds at most.
            assert_eq!(p.explanation.matches(". ").count() + 1, 2, "{}", p.id);
            assert!(p.explanation.ends_with('.'));
            for &v in p.suggested {
                let report = crate::simulate(&scaled(s).with_variant(v)).expect("runs");
                let end = report
                    .stats
                    .background_done_ms
                    .unwrap_or(0.0)
                    .max(report.stats.makespan_ms);
                assert!(end <= 5_000.0, "{} {v}: {end} ms", p.id);
            }
        }
        assert_eq!(preset("tutorial").map(|p| p.settings), Some(Settings::default()));
        assert_eq!(preset("nope"), None);
    }

    #[test]
    fn presets_show_what_they_say() {
        let run = |id: &str, v: Variant| {
            let p = preset(id).expect("preset");
            crate::simulate(&scaled(&p.settings).with_variant(v))
                .expect("runs")
                .stats
        };
        // def endpoint: ten overlap; the blocking async def takes ten times as long.
        let (sync, blocking) = (
            run("def-endpoint", Variant::SyncDef),
            run("def-endpoint", Variant::Blocking),
        );
        assert_eq!(sync.makespan_ms, 300.0);
        assert_eq!(blocking.makespan_ms, 3000.0);
        // 41 requests, 40 tokens: one prediction later; one fetch + prediction later for def.
        assert_eq!(
            run("threadpool-exhausted", Variant::FullAsync).makespan_ms,
            250.0 + 2.0 * 500.0
        );
        assert_eq!(
            run("threadpool-exhausted", Variant::SyncDef).makespan_ms,
            2.0 * 750.0
        );
        // async_io: one fetch and ten predictions.
        assert_eq!(
            run("blocking-async", Variant::AsyncIo).makespan_ms,
            100.0 + 10.0 * 200.0
        );
        assert_eq!(run("blocking-async", Variant::FullAsync).makespan_ms, 300.0);
        // Background logs delay later predictions.
        let bg = run("background-load", Variant::Background);
        let fa = run("background-load", Variant::FullAsync);
        assert!(
            bg.makespan_ms > fa.makespan_ms,
            "{} vs {}",
            bg.makespan_ms,
            fa.makespan_ms
        );
        assert!(bg.latency_ms.p50 > fa.latency_ms.p50);
    }

    #[test]
    fn parse_applies_every_field_over_base() {
        let s = parse(
            &Settings::default(),
            &raw(&[
                ("variant", "full_async"),
                ("requests", " 41 "),
                ("concurrency", "20"),
                ("io_ms", "40"),
                ("cpu_ms", "80.5"),
                ("bg_ms", "20"),
                ("tokens", "8"),
                ("work", "compute"),
                ("scale", "1"),
            ]),
        )
        .expect("valid");
        let c = &s.config;
        assert_eq!(
            (c.variant, c.requests, c.concurrency, c.tokens),
            (Variant::FullAsync, 41, 20, 8)
        );
        assert_eq!(
            (c.io_ms, c.cpu_ms, c.bg_ms, c.work, s.scale),
            (40.0, 80.5, 20.0, Work::Compute, 1.0)
        );
        // Missing fields keep base's value; unknown names are ignored.
        let kept = parse(&s, &raw(&[("tokens", "3"), ("colour", "red")])).expect("valid");
        assert_eq!(
            kept,
            Settings {
                config: Config {
                    tokens: 3,
                    ..s.config.clone()
                },
                ..s.clone()
            }
        );
        assert_eq!(parse(&s, &[]), Ok(s));
    }

    #[test]
    fn parse_names_each_bad_field() {
        for bad in [
            "abc",
            "",
            "0",
            "-1",
            "NaN",
            "1e9",
            "2.5",
            "99999999999999999999999",
        ] {
            let e = refused("requests", bad);
            assert!(
                e.message.starts_with("requests must be a whole number from 1 to"),
                "{e}"
            );
        }
        assert_eq!(
            refused("requests", "abc").message,
            "requests must be a whole number from 1 to 2000, got 'abc'"
        );
        assert!(refused("requests", "5000").message.contains("at most 2000"));
        for bad in ["abc", "0", "-1", "NaN", "1e9", "inf", "0.5"] {
            let e = refused("io_ms", bad);
            assert!(e.message.starts_with("io_ms must be"), "{e}");
        }
        refused("cpu_ms", "-5");
        refused("bg_ms", "NaN");
        for bad in ["0", "-3", "1.5", "x", "10001"] {
            refused("tokens", bad);
        }
        refused("concurrency", "0");
        let e = refused("concurrency", "11");
        assert!(e.message.contains("cannot exceed requests"), "{e}");
        let e = refused("work", "fast");
        assert_eq!(e.message, "work must be 'sleep' or 'compute', got 'fast'");
        for bad in ["0.05", "3", "NaN", "inf", "fast", ""] {
            let e = refused("scale", bad);
            assert!(
                e.message
                    .starts_with("time scale must be a number from 0.1 to 2, got"),
                "{e}"
            );
        }
        refused("variant", "fast");
        // Too many pool workers for a browser.
        let errors = parse(
            &Settings::default(),
            &raw(&[("requests", "100"), ("concurrency", "100"), ("tokens", "100")]),
        )
        .expect_err("workers");
        assert_eq!(fields_of(&errors), ["tokens"]);
    }

    #[test]
    fn parse_reports_every_bad_field_at_once() {
        let errors = parse(
            &Settings::default(),
            &raw(&[
                ("requests", "abc"),
                ("concurrency", "0"),
                ("io_ms", "0.5"),
                ("cpu_ms", "NaN"),
                ("bg_ms", "1e9"),
                ("tokens", "-1"),
                ("work", "fast"),
                ("scale", "3"),
            ]),
        )
        .expect_err("all bad");
        assert_eq!(fields_of(&errors), FIELDS);
        // A browser-only limit is still reported next to a core problem.
        let errors =
            parse(&Settings::default(), &raw(&[("requests", "0"), ("io_ms", "0.5")])).expect_err("two");
        assert_eq!(fields_of(&errors), ["requests", "io_ms"]);
    }

    #[test]
    fn parse_checks_the_durations_the_run_will_use() {
        let e =
            parse(&Settings::default(), &raw(&[("io_ms", "4"), ("scale", "0.1")])).expect_err("too short");
        assert_eq!(fields_of(&e), ["io_ms"]);
        assert_eq!(
            e[0].message,
            "io_ms at time scale 0.1 is 0.4 ms, below the 1 ms a browser run can time: \
             raise io_ms or the time scale"
        );
        let e = parse(
            &Settings::default(),
            &raw(&[("cpu_ms", "600000"), ("scale", "2")]),
        )
        .expect_err("long");
        assert_eq!(fields_of(&e), ["cpu_ms"]);
        assert!(parse(&Settings::default(), &raw(&[("io_ms", "10"), ("scale", "0.1")])).is_ok());
    }

    #[test]
    fn scaled_multiplies_only_durations() {
        let s = Settings {
            config: Config {
                variant: Variant::Background,
                requests: 7,
                concurrency: 3,
                tokens: 5,
                work: Work::Compute,
                ..Config::default()
            },
            scale: 0.3,
        };
        let c = scaled(&s);
        assert_eq!((c.io_ms, c.cpu_ms, c.bg_ms), (150.0, 300.0, 60.0));
        assert_eq!(
            Config {
                io_ms: 500.0,
                cpu_ms: 1000.0,
                bg_ms: 200.0,
                ..c
            },
            s.config
        );
        assert_eq!(
            scaled(&Settings {
                scale: 1.0,
                ..s.clone()
            }),
            s.config
        );
    }

    #[test]
    fn hash_keeps_valid_values_and_reports_bad_ones() {
        let (s, preset_id, errors) =
            from_hash("#variant=blocking&requests=5&io_ms=abc&work=fast&colour=red&scale=1");
        assert_eq!(s.config.variant, Variant::Blocking);
        assert_eq!((s.config.requests, s.config.concurrency), (5, 5));
        assert_eq!(s.config.io_ms, 500.0);
        assert_eq!(s.config.work, Work::Sleep);
        assert_eq!(s.scale, 1.0);
        assert_eq!(preset_id, None);
        assert_eq!(fields_of(&errors), ["io_ms", "work"]);
        // Conflicting values fall back to valid defaults.
        let (s, _, errors) = from_hash("requests=5&concurrency=8");
        assert_eq!(fields_of(&errors), ["concurrency"]);
        assert!(s.config.browser_problems().is_empty());
        assert!(s.config.concurrency <= s.config.requests);
        // %20 and other escapes are decoded; an unknown preset is reported.
        let (s, p, errors) = from_hash("#requests=%2012&preset=no%20such");
        assert_eq!(s.config.requests, 12);
        assert_eq!(p, None);
        assert_eq!(fields_of(&errors), ["preset"]);
        assert!(errors[0].message.contains("'no such'"));
        assert_eq!(percent_decode("a%20b%+1%4"), "a b%+1%4");
        // Garbage never panics.
        for junk in [
            "#",
            "&&&",
            "=",
            "%",
            "%zz=1",
            "%+1=2",
            "requests",
            "requests=",
            "#scale=%E2%82%AC",
            "é=ü",
        ] {
            let (s, _, _) = from_hash(junk);
            assert!(s.config.browser_problems().is_empty(), "{junk}");
        }
    }

    #[test]
    fn preset_ids_are_encoded_in_the_hash() {
        let hash = to_hash(&Settings::default(), Some("a b&c"));
        assert!(hash.ends_with("&preset=a%20b%26c"), "{hash}");
    }
}
