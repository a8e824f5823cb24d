//! loopscope in the browser (wasm32 only): the tutorial's endpoints run for real on a
//! Web Worker event loop, and the page that draws them beside the model's prediction.
//!
//! - [`api`]: every export JavaScript calls (`window.loopscope`, the page's start, a
//!   worker's entry point);
//! - [`runtime`]: the browser runtime: the load generator, the server and pool
//!   workers, the stall probe, the messages between them;
//! - [`page`]: the DOM glue that paints the core's view model.
//!
//! On other targets the crate is empty: its code needs a browser.

#[cfg(target_arch = "wasm32")]
pub mod api;
#[cfg(target_arch = "wasm32")]
mod page;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
