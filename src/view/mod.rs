//! What the page shows, computed without a browser: the timeline's layout, the code
//! panel, the form and its URL, exports. Pure Rust, tested natively; `src/ui` (wasm32)
//! only paints it and wires events.

pub mod code;
pub mod export;
pub mod form;
pub mod live;
pub mod timeline;
