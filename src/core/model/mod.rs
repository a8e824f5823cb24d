//! Plain data, no runtime: config and its validation, the events a runtime reports,
//! the report built from them, its stats.

pub mod config;
pub mod event;
pub mod faults;
pub mod ids;
pub mod input;
pub mod record;
pub mod recorder;
pub mod report;
pub mod requests;
pub mod stats;
pub mod summary;

pub use config::{limits, Config, ConfigError, Durations, Target, Variant, Work};
pub use event::Event;
pub use faults::{Fault, Faults};
pub use record::{
    Answer, ConsoleLine, GilWait, Handoff, LogEntry, Phase, PhaseKind, Place, PredictionRequest,
    PredictionResponse, ProbeStall, Raised, RequestRecord, Stall,
};
pub use recorder::{console_lines, Incomplete, Recorder, RequestView};
pub use report::{CutShort, Measurement, Report, Source};
pub use requests::{RequestRef, Requests};
pub use stats::{Latency, Stats};
pub use summary::Summary;
