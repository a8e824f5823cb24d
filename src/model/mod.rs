//! Config and validation, the report and its stats: plain data, no runtime.

pub mod config;
pub mod fidelity;
pub mod live;
pub mod recorder;
pub mod report;
pub mod stats;

pub use config::{limits, Config, ConfigError, Variant, Work};
pub use live::LiveEvent;
pub use recorder::{Incomplete, Recorder, RequestView};
pub use report::{
    ConsoleLine, Measurement, Phase, PhaseKind, Place, PredictionRequest, PredictionResponse, ProbeStall,
    Report, RequestRecord, Source, Stall,
};
pub use stats::{Latency, Stats};
