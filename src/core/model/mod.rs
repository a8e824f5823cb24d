//! Config and its validation, the report and its stats, fidelity: plain data, no runtime.

pub mod config;
pub mod faults;
pub mod fidelity;
pub mod ids;
pub mod input;
pub mod recorder;
pub mod report;
pub mod stats;

pub use config::{limits, Config, ConfigError, Durations, Target, Variant, Work};
pub use faults::{Fault, Faults};
pub use recorder::{Incomplete, Recorder, RequestView};
pub use report::{
    Answer, ConsoleLine, CutShort, Measurement, Phase, PhaseKind, Place, PredictionRequest,
    PredictionResponse, ProbeStall, Report, RequestRecord, Source, Stall,
};
pub use stats::{Latency, Stats};
