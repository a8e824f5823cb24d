//! Config and validation, the report and its stats: plain data, no runtime.

pub mod config;
pub mod recorder;
pub mod report;
pub mod stats;

pub use config::{limits, Config, ConfigError, Variant, Work};
pub use recorder::{Incomplete, Recorder};
pub use report::{
    ConsoleLine, Phase, PhaseKind, Place, PredictionRequest, PredictionResponse, Report, RequestRecord,
    Source, Stall,
};
pub use stats::{Latency, Stats};
