//! Faults to inject into a run, to see (and test) how it fails: a threadpool job that
//! raises, or one whose thread dies. FastAPI answers such a request 500 and serves the
//! others; the model predicts exactly that, and the browser runtime does it for real.

use super::config::{Config, ConfigError};
use crate::model::Raised;
use serde::{Deserialize, Serialize};

/// Which requests' first threadpool job fails, and how.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Requests whose first threadpool job raises `ValueError` at its first line.
    pub raise_in: Vec<u64>,
    /// Requests whose first threadpool job kills its thread: in a browser run the pool
    /// worker panics, dies and is replaced; for the model the job raises, as a dead
    /// worker's job does for the coroutine awaiting it.
    pub crash_in: Vec<u64>,
}

/// How a job fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    Raise,
    Crash,
}

impl Fault {
    /// What the coroutine awaiting the job sees.
    pub fn raised(self) -> Raised {
        Raised(match self {
            Fault::Raise => "ValueError: the model raised (a fault injected for this run)".into(),
            Fault::Crash => "the pool thread running the job died (a fault injected for this run)".into(),
        })
    }
}

impl Faults {
    pub fn is_empty(&self) -> bool {
        self.raise_in.is_empty() && self.crash_in.is_empty()
    }

    /// How request `request`'s first threadpool job fails, if it does.
    pub fn of(&self, request: u64) -> Option<Fault> {
        if self.crash_in.contains(&request) {
            Some(Fault::Crash)
        } else if self.raise_in.contains(&request) {
            Some(Fault::Raise)
        } else {
            None
        }
    }

    /// What is wrong with these faults for `config`: ids the run does not have, or an
    /// endpoint that runs nothing in the threadpool.
    pub fn problems(&self, config: &Config) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        if self.is_empty() {
            return errors;
        }
        if !config.variant.runs_threadpool_jobs() {
            errors.push(ConfigError::new(
                "faults",
                format!(
                    "faults fail a threadpool job, and {} runs none: try sync_def, full_async, background or task_queue",
                    config.variant
                ),
            ));
        }
        for (name, ids) in [("raise_in", &self.raise_in), ("crash_in", &self.crash_in)] {
            if let Some(id) = ids.iter().find(|&&id| id >= config.requests) {
                errors.push(ConfigError::new(
                    "faults",
                    format!(
                        "faults.{name} names request {id}, but the run has {} (ids 0 to {})",
                        config.requests,
                        config.requests - 1
                    ),
                ));
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Variant;

    #[test]
    fn faults_name_requests_of_the_run_and_need_a_pool() {
        let c = Config::default().with_variant(Variant::FullAsync);
        let f = Faults {
            raise_in: vec![1],
            crash_in: vec![10],
        };
        assert_eq!(f.of(1), Some(Fault::Raise));
        assert_eq!(f.of(10), Some(Fault::Crash));
        assert_eq!(f.of(2), None);
        let p = f.problems(&c);
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].message,
            "faults.crash_in names request 10, but the run has 10 (ids 0 to 9)"
        );
        let p = Faults {
            raise_in: vec![0],
            crash_in: vec![],
        }
        .problems(&c.with_variant(Variant::AsyncIo));
        assert!(p[0].message.contains("async_io runs none"), "{}", p[0].message);
        assert!(Faults::default()
            .problems(&c.with_variant(Variant::Blocking))
            .is_empty());
    }
}
