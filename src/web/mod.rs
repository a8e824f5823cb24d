//! The browser runtime (wasm32 only): the same endpoint code on a real event loop.
//!
//! Three kinds of thread, each a JS realm running this same wasm module:
//! - the **page** ([`page`]) is the load generator: it sends requests as messages and
//!   sends each client's next one when a response comes back (ab's semantics);
//! - the **server** worker ([`server`]) is one uvicorn process: its event loop runs the
//!   handlers, `time.sleep` really holds it, a heartbeat probe ([`probe`]) measures its
//!   lag, and a [`crate::sim::limiter::Limiter`] bounds the threadpool;
//! - **pool** workers ([`pool`]) are the threadpool's threads: they run a
//!   [`crate::flows::SyncCall`] with the same Rust function and post back what happened.
//!   The page starts them and gives each one end of a `MessageChannel`, the server the
//!   other: they talk directly, and the page terminates every worker it started when the
//!   run ends. (Pool workers nested in the server worker, terminated with it, were left
//!   alive by Chromium after about one run in ten: BENCHMARKS.md, "Worker lifetime".)
//!
//! Every timestamp crosses threads as absolute time (`performance.timeOrigin +
//! performance.now()`), so all land on one timeline: ms since the first request.

pub mod page;
mod pool;
mod probe;
mod server;

use crate::model::{PhaseKind, Work};
use js_sys::{Array, Atomics, Int32Array, Reflect, SharedArrayBuffer};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    Blob, BlobPropertyBag, DedicatedWorkerGlobalScope, MessageEvent, MessagePort, Performance, Url, Worker,
};

thread_local! {
    static PERFORMANCE: Performance = Reflect::get(&js_sys::global(), &"performance".into())
        .expect("performance")
        .unchecked_into();
    /// A private cell to `Atomics.wait` on, when the realm may block on one.
    static WAIT_CELL: Option<Int32Array> = cross_origin_isolated()
        .then(|| Int32Array::new(&SharedArrayBuffer::new(4)));
}

/// Absolute time in ms, comparable across the page and its workers.
pub(crate) fn now_abs() -> f64 {
    PERFORMANCE.with(|p| p.time_origin() + p.now())
}

/// `crossOriginIsolated`: then `SharedArrayBuffer` exists and workers may `Atomics.wait`.
pub(crate) fn cross_origin_isolated() -> bool {
    Reflect::get(&js_sys::global(), &"crossOriginIsolated".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// How a blocking step holds its thread in a browser run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Hold {
    /// Like `time.sleep`: the thread waits, burning no CPU.
    Sleep,
    /// CPU-bound work: a fixed amount of computation, sized to take the step's duration
    /// on one uncontended core, so steps sharing cores take longer, as inference does.
    Compute { rounds_per_ms: f64 },
}

impl Hold {
    /// For `work`; compute work is calibrated on this thread first (60–400 ms).
    pub(crate) fn for_work(work: Work) -> Hold {
        match work {
            Work::Sleep => Hold::Sleep,
            Work::Compute => Hold::Compute {
                rounds_per_ms: calibrate(),
            },
        }
    }

    /// How a step of this kind holds its thread: compute work computes only the
    /// prediction; the fetch and the log write wait, as I/O does, whatever the work.
    pub(crate) fn for_kind(self, kind: PhaseKind) -> Hold {
        match kind {
            PhaseKind::Cpu => self,
            _ => Hold::Sleep,
        }
    }

    /// How it is done here, for the report: `atomics_wait`, `spin` or `compute`.
    pub(crate) fn method(self) -> &'static str {
        match self {
            Hold::Sleep if WAIT_CELL.with(Option::is_some) => "atomics_wait",
            Hold::Sleep => "spin",
            Hold::Compute { .. } => "compute",
        }
    }
}

/// `rounds` × 256 steps of xorshift: real arithmetic, as inference would do. Never
/// inlined, and called in small chunks: the engine optimises per function and swaps
/// optimised code in only between calls, so warming it up must warm this very function,
/// and a long step must not be one call stuck on the baseline tier.
#[inline(never)]
fn kernel(rounds: u64, mut x: u64) -> u64 {
    for _ in 0..rounds {
        for _ in 0..256 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
    }
    std::hint::black_box(x)
}

/// The best kernel rate (rounds per ms) over 2 ms slices, run until `done(best,
/// elapsed)` or `cap_ms`. The best slice is one that ran on a core undisturbed.
fn best_rate(cap_ms: f64, mut done: impl FnMut(f64, f64) -> bool) -> f64 {
    let (start, mut best, mut seed) = (now_abs(), 0.0f64, 0x9E37_79B9_7F4A_7C15);
    loop {
        let slice = now_abs();
        let mut rounds = 0u64;
        while now_abs() - slice < 2.0 {
            seed = kernel(8, seed);
            rounds += 8;
        }
        best = best.max(rounds as f64 / (now_abs() - slice));
        let elapsed = now_abs() - start;
        if done(best, elapsed) || elapsed >= cap_ms {
            return best;
        }
    }
}

/// Kernel rounds per ms on one core. The engine first runs new code on a baseline
/// tier, about half as fast, and swaps in optimised code when it is ready, so this runs
/// until the best rate has not improved for 40 ms (at least 60 ms, at most 400 ms).
fn calibrate() -> f64 {
    let (mut last_best, mut since) = (0.0, 0.0);
    best_rate(400.0, |best, elapsed| {
        if best > last_best * 1.02 {
            (last_best, since) = (best, elapsed);
        }
        elapsed >= 60.0 && elapsed - since >= 40.0
    })
}

/// Warms this worker's kernel up until it runs at 85 % of `rate` (the optimised tier),
/// at most 500 ms; a fresh worker's first compute steps would otherwise run on baseline
/// code, about twice as slow. Returns the best rate seen.
pub(crate) fn warm_up(rate: f64) -> f64 {
    best_rate(500.0, |best, _| best >= 0.85 * rate)
}

/// Really holds this thread for a step of `ms`: `Atomics.wait` for sleep work where the
/// realm allows it (no CPU burnt, like `time.sleep`), else a spin until the deadline;
/// for compute work, a fixed amount of computation.
pub(crate) fn hold(ms: f64, how: Hold) {
    match how {
        Hold::Compute { rounds_per_ms } => {
            let (mut left, mut seed) = ((ms * rounds_per_ms).round() as u64, 0x9E37_79B9_7F4A_7C15);
            while left > 0 {
                let chunk = left.min(64);
                seed = kernel(chunk, seed);
                left -= chunk;
            }
        }
        Hold::Sleep => {
            let deadline = now_abs() + ms;
            let waited = WAIT_CELL.with(|cell| match cell {
                Some(cell) => loop {
                    let left = deadline - now_abs();
                    if left <= 0.0 {
                        break true;
                    }
                    // Nobody notifies this cell: it returns "timed-out" after `left` ms.
                    if Atomics::wait_with_timeout(cell, 0, 0, left).is_err() {
                        break false;
                    }
                },
                None => false,
            });
            while !waited && now_abs() < deadline {
                std::hint::spin_loop();
            }
        }
    }
}

/// The script every worker starts with: import the glue, say "boot", take the module
/// from the start object the owner sends in reply, then hand over to Rust
/// ([`worker_entry`]) with whatever string messages (and ports) arrived before.
fn bootstrap_script(glue_url: &str) -> String {
    format!(
        r#"import init, {{ worker_entry }} from {glue};
const early = [], earlyPorts = [];
let started = false;
self.onmessage = async (e) => {{
  // Strings are the owner's messages, possibly sent before the start object: keep them.
  if (started || typeof e.data === "string") {{ early.push(e.data); earlyPorts.push(...e.ports); return; }}
  started = true;
  await init({{ module_or_path: e.data.module }});
  worker_entry(e.data.role, e.data.glue, early, earlyPorts, e.data.peer ?? null);
}};
self.postMessage("boot");
"#,
        glue = serde_json::to_string(glue_url).expect("a string")
    )
}

/// Messages to and from a worker arrive here; `next().await` takes them in order.
#[derive(Clone, Default)]
pub(crate) struct Inbox(Rc<RefCell<(VecDeque<String>, Option<Waker>)>>);

impl Inbox {
    pub(crate) fn push(&self, message: String) {
        let mut inner = self.0.borrow_mut();
        inner.0.push_back(message);
        if let Some(w) = inner.1.take() {
            w.wake();
        }
    }

    pub(crate) fn next(&self) -> NextMessage {
        NextMessage(self.clone())
    }
}

pub(crate) struct NextMessage(Inbox);

impl Future for NextMessage {
    type Output = String;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<String> {
        let mut inner = (self.0).0.borrow_mut();
        match inner.0.pop_front() {
            Some(m) => Poll::Ready(m),
            None => {
                inner.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// A worker running this module in `role`; terminated when dropped.
pub(crate) struct Spawned {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
}

impl Spawned {
    pub(crate) fn post(&self, text: &str) {
        let _ = self.worker.post_message(&JsValue::from_str(text));
    }

    /// Posts `text` and transfers `ports` with it.
    pub(crate) fn post_with_ports(&self, text: &str, ports: &[MessagePort]) -> Result<(), JsValue> {
        let transfer: Array = ports.iter().collect();
        self.worker
            .post_message_with_transfer(&JsValue::from_str(text), &transfer)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// Starts a module worker running this wasm module in `role`. Its messages (JSON
/// strings) go to `on_message`, and so does an uncaught error in it, as
/// `{"kind":"failed","message":...}`, so the owner has one place to listen. Given a
/// `peer` port, the worker talks through it instead (the owner still hears its errors).
pub(crate) fn spawn_worker(
    glue_url: &str,
    role: &str,
    name: &str,
    peer: Option<MessagePort>,
    on_message: impl FnMut(String) + 'static,
) -> Result<Spawned, JsValue> {
    let parts = Array::of1(&JsValue::from_str(&bootstrap_script(glue_url)));
    let options = BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = Url::create_object_url_with_blob(&blob)?;
    let worker_options = web_sys::WorkerOptions::new();
    worker_options.set_type(web_sys::WorkerType::Module);
    worker_options.set_name(name);
    let worker = Worker::new_with_options(&url, &worker_options)?;
    Url::revoke_object_url(&url)?;

    let start = js_sys::Object::new();
    Reflect::set(&start, &"module".into(), &wasm_bindgen::module())?;
    Reflect::set(&start, &"role".into(), &role.into())?;
    Reflect::set(&start, &"glue".into(), &glue_url.into())?;
    let transfer = Array::new();
    if let Some(port) = &peer {
        Reflect::set(&start, &"peer".into(), port)?;
        transfer.push(port);
    }
    let sink: Rc<RefCell<dyn FnMut(String)>> = Rc::new(RefCell::new(on_message));
    let (messages, errors) = (sink.clone(), sink);
    let handshake = worker.clone();
    let on_message =
        Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| match e.data().as_string() {
            Some(boot) if boot == "boot" => {
                let _ = handshake.post_message_with_transfer(&start, &transfer);
            }
            Some(text) => (messages.borrow_mut())(text),
            None => {}
        });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
        e.prevent_default();
        let message = format!(
            "a worker failed: {} ({}:{})",
            e.message(),
            e.filename(),
            e.lineno()
        );
        (errors.borrow_mut())(serde_json::json!({ "kind": "failed", "message": message }).to_string());
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok(Spawned {
        worker,
        _on_message: on_message,
        _on_error: on_error,
    })
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("messages serialize")
}

pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("bad message {text:?}: {e}"))
}

fn worker_scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

thread_local! {
    /// In a worker given a peer port (a pool worker): where its messages go.
    static PEER: RefCell<Option<MessagePort>> = const { RefCell::new(None) };
    /// Ports transferred to this worker (the server's ends of its pool's channels),
    /// not yet taken.
    static RECEIVED_PORTS: RefCell<Vec<MessagePort>> = const { RefCell::new(Vec::new()) };
}

/// Posts a JSON message to this worker's peer: the port it was given, else whoever
/// started it.
pub(crate) fn post_to_parent(text: &str) {
    let message = JsValue::from_str(text);
    let sent = PEER.with(|p| p.borrow().as_ref().map(|port| port.post_message(&message)));
    if sent.is_none() {
        let _ = worker_scope().post_message(&message);
    }
}

/// Takes the ports transferred to this worker so far.
pub(crate) fn take_received_ports() -> Vec<MessagePort> {
    RECEIVED_PORTS.with(|p| p.take())
}

fn keep_ports(ports: impl IntoIterator<Item = JsValue>) {
    RECEIVED_PORTS.with(|p| {
        p.borrow_mut()
            .extend(ports.into_iter().map(JsCast::unchecked_into))
    });
}

/// Called by the bootstrap once the module is initialised in a worker: installs the
/// role's message handler (on `peer`, the worker's end of a channel, when it has one)
/// and replays what arrived during start-up.
#[wasm_bindgen]
pub fn worker_entry(role: &str, glue_url: String, early: Array, early_ports: Array, peer: JsValue) {
    let handler: Box<dyn FnMut(String)> = match role {
        "server" => server::start(glue_url),
        "pool" => pool::start_worker(),
        other => {
            post_to_parent(&format!(
                r#"{{"kind":"failed","message":"unknown worker role {other}"}}"#
            ));
            return;
        }
    };
    keep_ports(early_ports.iter());
    let handler = Rc::new(RefCell::new(handler));
    let h = handler.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        keep_ports(e.ports().iter());
        if let Some(text) = e.data().as_string() {
            (h.borrow_mut())(text);
        }
    });
    match peer.dyn_into::<MessagePort>() {
        Ok(port) => {
            port.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            PEER.with(|p| *p.borrow_mut() = Some(port));
        }
        Err(_) => worker_scope().set_onmessage(Some(on_message.as_ref().unchecked_ref())),
    }
    on_message.forget(); // lives as long as the worker
    for m in early.iter() {
        if let Some(text) = m.as_string() {
            (handler.borrow_mut())(text);
        }
    }
}

/// One end of a `MessageChannel` to another worker: JSON strings both ways.
pub(crate) struct Peer {
    port: MessagePort,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Peer {
    pub(crate) fn new(port: MessagePort, mut on_message: impl FnMut(String) + 'static) -> Peer {
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(text) = e.data().as_string() {
                on_message(text);
            }
        });
        port.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Peer {
            port,
            _on_message: on_message,
        }
    }

    pub(crate) fn post(&self, text: &str) {
        let _ = self.port.post_message(&JsValue::from_str(text));
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.port.set_onmessage(None);
        self.port.close();
    }
}
