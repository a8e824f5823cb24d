//! What the page shows, computed without a browser, so it is tested natively; the page
//! (`loopscope-web`'s `page` module) only paints it and wires events.
//!
//! - [`trace`]: a run going on, as recorded so far;
//! - [`replay`]: a finished run at any moment of it (positions, console, numbers);
//! - [`timeline`]: a run's timeline as geometry (what to draw where, and what it means);
//! - [`code`]: the endpoints' Python, and the line each request is at; [`inside`]: the
//!   model's event loop at a moment (its queues, tokens, GIL), as a panel;
//! - [`lesson`]: the tutorial as steps, each one sentence from its run; [`legend`]: the
//!   swatches of what a set of timelines shows;
//! - [`settings`], [`link`], [`presets`]: the form, its URL and ready-made scenarios;
//! - [`summary`], [`export`]: the ab-like text and CSV.

pub mod calibration;
pub mod code;
pub mod debug;
pub mod export;
pub mod inside;
pub mod legend;
pub mod lesson;
pub mod link;
pub mod overview;
pub mod presets;
pub mod replay;
pub mod settings;
pub mod summary;
pub mod timeline;
pub mod trace;
