//! The page's settings: a config in the tutorial's time, and a time scale that a run
//! multiplies every duration by ([`scaled`]), so a class need not wait 15 s.
//!
//! Read by the core's field rules ([`crate::model::input`]) for a browser run, plus two
//! of the page's own: the scale's range, and that the scaled durations can be timed.

use crate::format;
use crate::model::input::{read_config, Raw};
use crate::model::{limits, Config, ConfigError, Target};

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

/// The form's fields, in order (also the element ids' suffixes and the URL keys).
pub const FORM_FIELDS: [&str; 12] = [
    "requests",
    "concurrency",
    "io_ms",
    "cpu_ms",
    "bg_ms",
    "tokens",
    "work",
    "processes",
    "queue_workers",
    "workers",
    "overhead_ms",
    "scale",
];

/// The fields past the tutorial: a link states them only when they differ from the
/// defaults, so the tutorial's links stay as they were.
pub const EXTRA_FIELDS: [&str; 4] = ["processes", "queue_workers", "workers", "overhead_ms"];

/// The form's fields past the tutorial's five and its time scale: the "Beyond the
/// tutorial" part of the form.
pub const EXTRA_FORM_FIELDS: [&str; 6] = [
    "tokens",
    "work",
    "processes",
    "queue_workers",
    "workers",
    "overhead_ms",
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

/// What [`read`] makes of some input: settings that are always valid (a refused value
/// keeps the base's), and every problem, at most one per field.
#[derive(Clone, Debug, PartialEq)]
pub struct Read {
    pub settings: Settings,
    pub errors: Vec<ConfigError>,
}

impl Read {
    /// The settings, if nothing was refused.
    pub fn ok(self) -> Result<Settings, Vec<ConfigError>> {
        if self.errors.is_empty() {
            Ok(self.settings)
        } else {
            Err(self.errors)
        }
    }
}

fn read_scale(raw: &Raw) -> Result<f64, ConfigError> {
    let x = match raw {
        Raw::Typed(t) => t.trim().parse::<f64>().ok(),
        Raw::Number(x) => Some(*x),
        Raw::Str(_) | Raw::Other(_) => None,
    };
    match x {
        Some(x) if x.is_finite() && (SCALE_MIN..=SCALE_MAX).contains(&x) => Ok(x),
        _ => Err(ConfigError::new(
            "scale",
            format!(
                "time scale must be a number from {SCALE_MIN} to {SCALE_MAX}, got {}",
                raw.shown()
            ),
        )),
    }
}

/// `ms × scale`, rounded to the microsecond so the run's numbers print cleanly (never
/// down to 0).
fn scale_ms(ms: f64, scale: f64) -> f64 {
    let x = ms * scale;
    let rounded = (x * 1000.0).round() / 1000.0;
    if rounded > 0.0 || !x.is_finite() {
        rounded
    } else {
        x
    }
}

/// The run's actual config: the durations multiplied by the scale (rounded to the
/// microsecond); every other field unchanged (the per-request and per-call costs are
/// the machine's and FastAPI's, not the tutorial's, so they are not scaled).
pub fn scaled(settings: &Settings) -> Config {
    let c = &settings.config;
    Config {
        io_ms: scale_ms(c.io_ms, settings.scale),
        cpu_ms: scale_ms(c.cpu_ms, settings.scale),
        bg_ms: scale_ms(c.bg_ms, settings.scale),
        ..c.clone()
    }
}

/// The durations a run will use must be timeable and within the step limit.
fn scaled_problems(settings: &Settings) -> Vec<ConfigError> {
    let c = &settings.config;
    let (scale, min, max) = (
        settings.scale,
        limits::BROWSER_MIN_DURATION_MS,
        limits::MAX_DURATION_MS,
    );
    let mut errors = Vec::new();
    for (field, value) in [("io_ms", c.io_ms), ("cpu_ms", c.cpu_ms), ("bg_ms", c.bg_ms)] {
        let run = scale_ms(value, scale);
        let what = if run < min {
            format!("below the {min} ms a browser run can time: raise {field} or the time scale")
        } else if run > max {
            format!("above the {max} ms a step may last: lower {field} or the time scale")
        } else {
            continue;
        };
        let name = crate::model::config::field(field).map_or("config", |f| f.name);
        errors.push(ConfigError::new(
            name,
            format!("{field} at time scale {scale} is {run} ms, {what}"),
        ));
    }
    errors
}

/// A sentence for a run that asks the browser for more answers a second than it keeps
/// to the prediction (`limits::BROWSER_FAITHFUL_RPS`): `predicted` is the model's
/// report of the run. None for a run within it.
pub fn throughput_warning(predicted: &crate::model::Report) -> Option<String> {
    let faithful = limits::BROWSER_FAITHFUL_RPS;
    let n = predicted.config.requests as f64;
    let makespan = predicted.stats.makespan_ms;
    if makespan <= 0.0 || n < 200.0 {
        return None; // a short burst is not a rate
    }
    let asked = n / (makespan / 1000.0);
    (asked > faithful * 1.05).then(|| {
        // Two figures: "about 4 000", not "3 996".
        let step = 10f64.powf((asked.log10().floor() - 1.0).max(0.0));
        let asked = (asked / step).round() * step;
        format!(
            "This run asks for about {} answers a second; a browser run keeps to the prediction up to about {} a second on a 2-core machine (BENCHMARKS.md, \"Throughput\"), so expect its answers later than predicted.",
            format::thousands(asked),
            format::thousands(faithful)
        )
    })
}

/// A config from the JS API, whose fields are the command line's plus an optional
/// `scale`, as the page's form has it: the durations as given, times the scale (1 when
/// none is given), as the page runs them. Every problem, each naming its field.
pub fn read_scaled(
    base: &Config,
    pairs: &[(String, Raw)],
    target: Target,
) -> Result<Config, Vec<ConfigError>> {
    let (scale_pairs, config_pairs): (Vec<_>, Vec<_>) =
        pairs.iter().cloned().partition(|(name, _)| name == "scale");
    let read = crate::model::input::read_config(base, &config_pairs, target);
    let mut errors = read.errors;
    let scale = match scale_pairs.last().map(|(_, raw)| read_scale(raw)) {
        Some(Ok(scale)) => scale,
        Some(Err(e)) => {
            errors.push(e);
            1.0
        }
        None => 1.0,
    };
    let settings = Settings {
        config: read.config,
        scale,
    };
    if errors.is_empty() && target == Target::Browser {
        errors = scaled_problems(&settings);
    }
    if errors.is_empty() {
        Ok(scaled(&settings))
    } else {
        crate::model::config::sort_by_field(&mut errors);
        Err(errors)
    }
}

/// Reads `pairs` (a form field or URL key, and what was given) over `base`. Names are
/// the config's fields and `scale`; anything else is refused by name. The config is
/// read for a browser run; the durations are also checked as scaled for the run.
pub fn read(base: &Settings, pairs: &[(String, Raw)]) -> Read {
    let (scale_pairs, config_pairs): (Vec<_>, Vec<_>) =
        pairs.iter().cloned().partition(|(name, _)| name == "scale");
    let config = read_config(&base.config, &config_pairs, Target::Browser);
    let mut errors = config.errors;
    let mut settings = Settings {
        config: config.config,
        scale: base.scale,
    };
    if let Some((_, raw)) = scale_pairs.last() {
        match read_scale(raw) {
            Ok(scale) => settings.scale = scale,
            Err(e) => errors.push(e),
        }
    }
    let scaled_errors: Vec<ConfigError> = scaled_problems(&settings)
        .into_iter()
        .filter(|e| !errors.iter().any(|known| known.field == e.field))
        .collect();
    if !scaled_errors.is_empty() {
        // Keep what was given valid: the scale and the durations it broke fall back.
        settings.scale = base.scale;
        for e in &scaled_errors {
            if let Some(v) = base.config.get(e.field) {
                settings.config.set(e.field, v);
            }
        }
        if !scaled_problems(&settings).is_empty() {
            settings = base.clone();
        }
        errors.extend(scaled_errors);
    }
    crate::model::config::sort_by_field(&mut errors);
    errors.sort_by_key(|e| usize::from(e.field == "scale")); // scale last, as in the form
    Read { settings, errors }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_asking_for_more_than_the_browser_keeps_to_is_warned_about() {
        let fast = crate::simulate(&Config {
            variant: crate::model::Variant::FullAsync,
            requests: 20_000,
            concurrency: 1_000,
            io_ms: 5.0,
            cpu_ms: 10.0,
            ..Config::default()
        })
        .unwrap();
        let w = throughput_warning(&fast).expect("4 000 a second");
        assert!(
            w.starts_with("This run asks for about 4 000 answers a second"),
            "{w}"
        );
        // The tutorial's ten requests: no rate to speak of.
        let tutorial = crate::simulate(&Config::default()).unwrap();
        assert_eq!(throughput_warning(&tutorial), None);
    }
    use crate::model::input::typed;
    use crate::model::{Variant, Work};

    fn fields_of(errors: &[ConfigError]) -> Vec<&'static str> {
        errors.iter().map(|e| e.field).collect()
    }

    /// The one problem a typed value gets.
    fn refused(field: &str, value: &str) -> ConfigError {
        let errors = read(&Settings::default(), &typed(&[(field, value)]))
            .ok()
            .expect_err(value);
        assert_eq!(errors.len(), 1, "{field}={value}: {errors:?}");
        let e = errors.into_iter().next().expect("one error");
        assert!(!e.message.contains('\n'), "{e}");
        e
    }

    #[test]
    fn read_applies_every_field_over_base() {
        let s = read(
            &Settings::default(),
            &typed(&[
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
        .ok()
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
        // Missing fields keep base's value.
        let kept = read(&s, &typed(&[("tokens", "3")])).ok().expect("valid");
        assert_eq!(kept.config.tokens, 3);
        assert_eq!(kept.config.io_ms, 40.0);
        assert_eq!(read(&s, &[]).ok(), Ok(s));
    }

    #[test]
    fn every_bad_value_of_a_field_gets_the_same_range() {
        // The form is a browser run: 0, -1 and 100001 all say "from 1 to 100000".
        for bad in [
            "abc",
            "",
            "0",
            "-1",
            "NaN",
            "1e9",
            "2.5",
            "100001",
            "99999999999999999999999",
        ] {
            let e = refused("requests", bad);
            assert!(
                e.message
                    .starts_with("requests must be a whole number from 1 to 100000, got "),
                "{e}"
            );
        }
        assert!(refused("requests", "abc").message.ends_with("got 'abc'"));
        assert!(refused("requests", "-1").message.ends_with("got -1"));
        assert!(refused("concurrency", "0")
            .message
            .starts_with("concurrency must be a whole number from 1 to 100000"));
        assert!(refused("concurrency", "-1")
            .message
            .starts_with("concurrency must be a whole number from 1 to 100000"));
        for bad in ["abc", "0", "-1", "NaN", "1e9", "inf", "0.5", "Infinity"] {
            let e = refused("io_ms", bad);
            assert!(
                e.message
                    .starts_with("io_ms must be a number of milliseconds from 1 to 600000"),
                "{e}"
            );
        }
        assert!(refused("io_ms", "Infinity").message.ends_with("got Infinity"));
        refused("cpu_ms", "-5");
        refused("bg_ms", "NaN");
        for bad in ["0", "-3", "1.5", "x", "10001"] {
            refused("tokens", bad);
        }
        // 1e2 is a number everywhere.
        let s = read(
            &Settings::default(),
            &typed(&[("requests", "1e2"), ("io_ms", "1e2")]),
        )
        .ok()
        .expect("1e2");
        assert_eq!((s.config.requests, s.config.io_ms), (100, 100.0));
        let e = refused("concurrency", "11");
        assert!(e.message.contains("cannot exceed requests"), "{e}");
        assert_eq!(
            refused("work", "fast").message,
            "work must be one of 'sleep', 'compute', 'python_cpu', got 'fast'"
        );
        for bad in ["0.05", "3", "NaN", "inf", "fast", ""] {
            let e = refused("scale", bad);
            assert!(
                e.message
                    .starts_with("time scale must be a number from 0.1 to 2, got"),
                "{e}"
            );
        }
        refused("variant", "fast");
        let errors = read(
            &Settings::default(),
            &typed(&[
                ("variant", "full_async"),
                ("requests", "100"),
                ("concurrency", "100"),
                ("tokens", "100"),
            ]),
        )
        .ok()
        .expect_err("workers");
        assert_eq!(fields_of(&errors), ["tokens"]);
    }

    #[test]
    fn read_reports_every_bad_field_at_once() {
        let errors = read(
            &Settings::default(),
            &typed(&[
                ("requests", "abc"),
                ("concurrency", "0"),
                ("io_ms", "0.5"),
                ("cpu_ms", "NaN"),
                ("bg_ms", "1e9"),
                ("tokens", "-1"),
                ("work", "fast"),
                ("processes", "0"),
                ("queue_workers", "x"),
                ("workers", "99"),
                ("overhead_ms", "-1"),
                ("scale", "3"),
            ]),
        )
        .ok()
        .expect_err("all bad");
        assert_eq!(fields_of(&errors), FORM_FIELDS);
    }

    #[test]
    fn the_durations_the_run_will_use_are_checked() {
        let e = read(&Settings::default(), &typed(&[("io_ms", "4"), ("scale", "0.1")]))
            .ok()
            .expect_err("too short");
        assert_eq!(fields_of(&e), ["io_ms"]);
        assert_eq!(
            e[0].message,
            "io_ms at time scale 0.1 is 0.4 ms, below the 1 ms a browser run can time: \
             raise io_ms or the time scale"
        );
        let e = read(
            &Settings::default(),
            &typed(&[("cpu_ms", "600000"), ("scale", "2")]),
        )
        .ok()
        .expect_err("long");
        assert_eq!(fields_of(&e), ["cpu_ms"]);
        let r = read(&Settings::default(), &typed(&[("io_ms", "4"), ("scale", "0.1")]));
        assert_eq!(r.settings, Settings::default(), "what is kept stays runnable");
        assert!(
            read(&Settings::default(), &typed(&[("io_ms", "10"), ("scale", "0.1")]))
                .ok()
                .is_ok()
        );
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
}
