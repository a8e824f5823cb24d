//! loopscope's pure core: what async/await, a threadpool and background tasks do to a
//! FastAPI server, shown on the tutorial's five endpoints. Plain Rust: it builds and is
//! tested natively, and runs unchanged in the browser (the `loopscope-web` crate).
//!
//! - [`flows`]: the tutorial's functions and endpoints, written once against the
//!   runtime traits, and the part FastAPI and Starlette play around them.
//! - [`runtime`]: what both runtimes share: those traits and the calls they hand the
//!   threadpool, anyio's capacity limiter, how a coroutine step becomes a stall.
//! - [`model`]: config and its validation, the events, the report and its stats.
//! - [`sim`]: the virtual-time runtime that predicts a run exactly.
//! - [`fidelity`]: how close a measured run came to the model, in numbers and words.
//! - [`view`]: what the page shows, computed without a browser.
//! - [`format`]: how a time is written, everywhere.

pub mod fidelity;
pub mod flows;
pub mod format;
pub mod model;
pub mod runtime;
pub mod sim;
pub mod view;

pub use model::{Config, ConfigError, Report, Variant};
pub use sim::{simulate, simulate_given, simulate_summary, simulate_with, simulate_with_durations, Given};
