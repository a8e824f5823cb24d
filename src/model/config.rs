//! What a run is: which endpoint, how much load, how long each step takes.
//!
//! The same [`Config::validate`] guards the CLI, the JS API and the page, so a bad
//! value gets the same message everywhere.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The five request flows: the tutorial's four endpoints plus the one its text describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// `def` endpoint: FastAPI runs it in the threadpool.
    SyncDef,
    /// `async def` calling the blocking functions: both hold the event loop.
    Blocking,
    /// `await asyncio.sleep` fetch, then the blocking prediction on the loop.
    AsyncIo,
    /// `await` fetch + `await run_in_threadpool(predict)`.
    FullAsync,
    /// `full_async` + a sync background task after the response.
    Background,
}

impl Variant {
    /// All five, in the tutorial's order.
    pub const ALL: [Variant; 5] = [
        Variant::SyncDef,
        Variant::Blocking,
        Variant::AsyncIo,
        Variant::FullAsync,
        Variant::Background,
    ];

    /// The id used on the command line, in JSON and in the page's `data-run` hooks.
    pub fn id(self) -> &'static str {
        match self {
            Variant::SyncDef => "sync_def",
            Variant::Blocking => "blocking",
            Variant::AsyncIo => "async_io",
            Variant::FullAsync => "full_async",
            Variant::Background => "background",
        }
    }

    /// The HTTP route of the endpoint.
    pub fn route(self) -> &'static str {
        match self {
            Variant::SyncDef => "POST /predict_sync",
            Variant::Blocking => "POST /predict_blocking",
            Variant::AsyncIo => "POST /predict_async_io",
            Variant::FullAsync => "POST /predict_full_async",
            Variant::Background => "POST /predict_with_background",
        }
    }

    /// One line on what a request does.
    pub fn summary(self) -> &'static str {
        match self {
            Variant::SyncDef => "def endpoint: FastAPI runs it in the threadpool, the loop stays free",
            Variant::Blocking => "async def calling time.sleep: every request holds the event loop",
            Variant::AsyncIo => "await asyncio.sleep for I/O, then the prediction blocks the loop",
            Variant::FullAsync => "await I/O, await run_in_threadpool(predict): the loop stays free",
            Variant::Background => "full_async, then a sync log task after the response is sent",
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Variant {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::ALL
            .into_iter()
            .find(|v| v.id() == s)
            .ok_or_else(|| ConfigError {
                field: "variant",
                message: format!(
                    "unknown variant '{s}': expected one of {}",
                    Variant::ALL.map(Variant::id).join(", ")
                ),
            })
    }
}

/// What a blocking step does to its thread when it really runs (browser runtime only;
/// the virtual model treats both alike).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Work {
    /// Holds the thread without burning CPU, like the tutorial's `time.sleep`.
    #[default]
    Sleep,
    /// Burns CPU for the duration, so threads contend for the machine's cores.
    Compute,
}

/// Caps that keep a run meaningful and the machine responsive. Documented in the README.
pub mod limits {
    /// Most requests in one run.
    pub const MAX_REQUESTS: u64 = 100_000;
    /// Most threadpool tokens (anyio's default is 40).
    pub const MAX_TOKENS: u64 = 10_000;
    /// Longest single step, in ms (10 minutes).
    pub const MAX_DURATION_MS: f64 = 600_000.0;
    /// Most requests in one browser run (each is a message and a task; the page draws each).
    pub const BROWSER_MAX_REQUESTS: u64 = 2_000;
    /// Most pool Web Workers one browser run starts (min(tokens, requests)).
    pub const BROWSER_MAX_WORKERS: u64 = 64;
    /// Shortest step a browser run can time: timers have millisecond resolution.
    pub const BROWSER_MIN_DURATION_MS: f64 = 1.0;
}

/// The tutorial's numbers (FASTAPI_SEMANTICS.md rule 8) and anyio's default limiter.
pub mod defaults {
    pub const IO_MS: f64 = 500.0;
    pub const CPU_MS: f64 = 1000.0;
    pub const BG_MS: f64 = 200.0;
    pub const TOKENS: u64 = 40;
    pub const REQUESTS: u64 = 10;
}

/// One run: `requests` in total, `concurrency` clients each sending its next request
/// when its previous response arrives (ab's `-n` and `-c`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub variant: Variant,
    pub requests: u64,
    pub concurrency: u64,
    /// `fetch_external_data`'s sleep (the tutorial's 0.5 s).
    pub io_ms: f64,
    /// `run_model_prediction`'s sleep (1 s).
    pub cpu_ms: f64,
    /// `log_prediction_details`'s sleep (0.2 s).
    pub bg_ms: f64,
    /// Threadpool size: anyio's default limiter has 40 tokens.
    pub tokens: u64,
    pub work: Work,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            variant: Variant::AsyncIo,
            requests: defaults::REQUESTS,
            concurrency: defaults::REQUESTS,
            io_ms: defaults::IO_MS,
            cpu_ms: defaults::CPU_MS,
            bg_ms: defaults::BG_MS,
            tokens: defaults::TOKENS,
            work: Work::Sleep,
        }
    }
}

/// A bad value: which field, and a sentence a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

fn check_count(field: &'static str, value: u64, max: u64, errors: &mut Vec<ConfigError>) {
    if value == 0 || value > max {
        errors.push(ConfigError {
            field,
            message: format!("{field} must be a whole number from 1 to {max}, got {value}"),
        });
    }
}

fn check_duration(field: &'static str, value: f64, errors: &mut Vec<ConfigError>) {
    let max = limits::MAX_DURATION_MS;
    if !(value.is_finite() && value > 0.0 && value <= max) {
        errors.push(ConfigError {
            field,
            message: format!(
                "{field} must be a number of milliseconds above 0 and at most {max}, got {value}"
            ),
        });
    }
}

impl Config {
    /// The most threadpool threads a run can use: the limiter allows `tokens` jobs at
    /// once, and each request has at most one job at a time.
    pub fn pool_threads(&self) -> u64 {
        self.tokens.min(self.requests)
    }

    /// Every problem with this config, one per field, in field order; empty when valid.
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        check_count("requests", self.requests, limits::MAX_REQUESTS, &mut errors);
        check_count("concurrency", self.concurrency, limits::MAX_REQUESTS, &mut errors);
        if self.concurrency > self.requests && self.requests > 0 && self.concurrency <= limits::MAX_REQUESTS {
            errors.push(ConfigError {
                field: "concurrency",
                message: format!(
                    "concurrency ({}) cannot exceed requests ({}): each client sends at least one request",
                    self.concurrency, self.requests
                ),
            });
        }
        check_duration("io_ms", self.io_ms, &mut errors);
        check_duration("cpu_ms", self.cpu_ms, &mut errors);
        check_duration("bg_ms", self.bg_ms, &mut errors);
        check_count("tokens", self.tokens, limits::MAX_TOKENS, &mut errors);
        errors
    }

    /// Every problem with running this config for real in a browser: the core's, plus
    /// the browser's own limits.
    pub fn browser_problems(&self) -> Vec<ConfigError> {
        let mut errors = self.problems();
        if !errors.is_empty() {
            return errors;
        }
        if self.requests > limits::BROWSER_MAX_REQUESTS {
            errors.push(ConfigError {
                field: "requests",
                message: format!(
                    "a browser run takes at most {} requests (the model alone takes up to {}), got {}",
                    limits::BROWSER_MAX_REQUESTS,
                    limits::MAX_REQUESTS,
                    self.requests
                ),
            });
        }
        if self.pool_threads() > limits::BROWSER_MAX_WORKERS {
            errors.push(ConfigError {
                field: "tokens",
                message: format!(
                    "a browser run starts one Web Worker per usable token, at most {}; got {} tokens for {} requests",
                    limits::BROWSER_MAX_WORKERS,
                    self.tokens,
                    self.requests
                ),
            });
        }
        for (field, value) in [
            ("io_ms", self.io_ms),
            ("cpu_ms", self.cpu_ms),
            ("bg_ms", self.bg_ms),
        ] {
            if value < limits::BROWSER_MIN_DURATION_MS {
                errors.push(ConfigError {
                    field,
                    message: format!(
                        "{field} must be at least {} ms in a browser run (timers have millisecond resolution), got {value}",
                        limits::BROWSER_MIN_DURATION_MS
                    ),
                });
            }
        }
        errors
    }

    /// `Ok` when valid, else the first problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    /// The same config for another variant.
    pub fn with_variant(&self, variant: Variant) -> Config {
        Config {
            variant,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_tutorials_and_valid() {
        let c = Config::default();
        assert_eq!((c.io_ms, c.cpu_ms, c.bg_ms, c.tokens), (500.0, 1000.0, 200.0, 40));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(Config, &str)> = vec![
            (
                Config {
                    requests: 0,
                    concurrency: 0,
                    ..Config::default()
                },
                "requests",
            ),
            (
                Config {
                    requests: 100_001,
                    ..Config::default()
                },
                "requests",
            ),
            (
                Config {
                    concurrency: 0,
                    ..Config::default()
                },
                "concurrency",
            ),
            (
                Config {
                    concurrency: 11,
                    ..Config::default()
                },
                "concurrency",
            ),
            (
                Config {
                    io_ms: 0.0,
                    ..Config::default()
                },
                "io_ms",
            ),
            (
                Config {
                    cpu_ms: -1.0,
                    ..Config::default()
                },
                "cpu_ms",
            ),
            (
                Config {
                    bg_ms: f64::NAN,
                    ..Config::default()
                },
                "bg_ms",
            ),
            (
                Config {
                    io_ms: f64::INFINITY,
                    ..Config::default()
                },
                "io_ms",
            ),
            (
                Config {
                    cpu_ms: 600_001.0,
                    ..Config::default()
                },
                "cpu_ms",
            ),
            (
                Config {
                    tokens: 0,
                    ..Config::default()
                },
                "tokens",
            ),
            (
                Config {
                    tokens: 10_001,
                    ..Config::default()
                },
                "tokens",
            ),
        ];
        for (config, field) in cases {
            let err = config.validate().expect_err(field);
            assert_eq!(err.field, field, "{err}");
            assert!(!err.message.contains('\n'));
        }
    }

    #[test]
    fn problems_lists_every_bad_field() {
        let c = Config {
            io_ms: -1.0,
            tokens: 0,
            ..Config::default()
        };
        let fields: Vec<_> = c.problems().iter().map(|e| e.field).collect();
        assert_eq!(fields, ["io_ms", "tokens"]);
    }

    #[test]
    fn browser_runs_have_tighter_limits() {
        assert!(Config::default().browser_problems().is_empty());
        let many = Config {
            requests: 5_000,
            concurrency: 5_000,
            ..Config::default()
        };
        assert_eq!(many.validate(), Ok(()));
        assert_eq!(many.browser_problems()[0].field, "requests");
        let workers = Config {
            requests: 100,
            concurrency: 100,
            tokens: 100,
            ..Config::default()
        };
        assert_eq!(workers.browser_problems()[0].field, "tokens");
        // 100 tokens for 10 requests start only 10 workers.
        assert!(Config {
            tokens: 100,
            ..Config::default()
        }
        .browser_problems()
        .is_empty());
        let short = Config {
            cpu_ms: 0.5,
            ..Config::default()
        };
        assert_eq!(short.browser_problems()[0].field, "cpu_ms");
    }

    #[test]
    fn variant_ids_round_trip_and_unknown_is_explained() {
        for v in Variant::ALL {
            assert_eq!(v.id().parse::<Variant>(), Ok(v));
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{}\"", v.id()));
        }
        let err = "fast".parse::<Variant>().unwrap_err();
        assert!(err
            .message
            .contains("sync_def, blocking, async_io, full_async, background"));
    }

    #[test]
    fn json_config_fills_defaults_and_rejects_unknown_fields() {
        let c: Config =
            serde_json::from_str(r#"{"variant":"full_async","requests":4,"concurrency":4}"#).unwrap();
        assert_eq!(c.variant, Variant::FullAsync);
        assert_eq!(c.cpu_ms, 1000.0);
        let err = serde_json::from_str::<Config>(r#"{"io":5}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `io`"));
    }
}
