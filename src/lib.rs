//! loopscope: what async/await, a threadpool and background tasks do to a FastAPI
//! server, shown on the tutorial's five endpoints.
//!
//! - [`flows`]: the tutorial's functions and endpoints, written once against the
//!   runtime traits [`flows::Thread`] and [`flows::EventLoop`].
//! - [`model`]: config and validation, the report and its stats.
//! - [`sim`]: the virtual-time runtime that predicts a run exactly.
//! - [`summary`]: the `ab`-like text the CLI and the page print.
//! - [`view`]: what the page shows, computed without a browser.
//!
//! The pure core never touches web-sys; the wasm exports live in `wasm_api`
//! (wasm32 only).

pub mod flows;
pub mod model;
pub mod sim;
pub mod summary;
pub mod view;

#[cfg(target_arch = "wasm32")]
mod ui;
#[cfg(target_arch = "wasm32")]
mod wasm_api;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use model::{Config, ConfigError, Report, Variant};
pub use sim::simulate;
