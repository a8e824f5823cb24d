//! How a worker is started and talked to: each runs this same wasm module, in a role
//! ([`Role`]); messages are JSON strings ([`super::protocol`]).

use super::protocol::{to_json, Hello, Role};
use js_sys::{Array, Reflect};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, DedicatedWorkerGlobalScope, MessageEvent, MessagePort, Url, Worker};

/// The script every worker starts with: the wasm glue's own source (it defines
/// `wasm_bindgen`), then a bootstrap that posts [`Hello::Booted`], takes the module
/// from the start object the owner sends in reply, and hands over to Rust (the
/// `worker_entry` export) with whatever string messages (and ports) arrived before.
/// A classic script, not a module: a page opened from a file can start a classic worker
/// from a blob, not a module one.
fn bootstrap_script(glue_source: &str) -> String {
    format!(
        r#"{glue_source}
;(() => {{
const early = [], earlyPorts = [];
let started = false;
self.onmessage = async (e) => {{
  // Strings are the owner's messages, possibly sent before the start object: keep them.
  if (started || typeof e.data === "string") {{ early.push(e.data); earlyPorts.push(...e.ports); return; }}
  started = true;
  await wasm_bindgen({{ module_or_path: e.data.module }});
  wasm_bindgen.worker_entry(e.data.role, early, earlyPorts, e.data.peer ?? null, e.data.shared ?? null);
}};
self.postMessage({booted});
}})();
"#,
        booted = serde_json::to_string(&to_json(&Hello::Booted)).expect("a string"),
    )
}

thread_local! {
    /// The workers' script as a blob URL, made once per page and kept: every worker
    /// starts from it.
    static SCRIPT_URL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The blob URL of the workers' script for `glue_source`.
fn script_url(glue_source: &str) -> Result<String, JsValue> {
    if let Some(url) = SCRIPT_URL.with(|u| u.borrow().clone()) {
        return Ok(url);
    }
    let parts = Array::of1(&JsValue::from_str(&bootstrap_script(glue_source)));
    let options = BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = Url::create_object_url_with_blob(&blob)?;
    SCRIPT_URL.with(|u| *u.borrow_mut() = Some(url.clone()));
    Ok(url)
}

/// Messages arrive here; `next().await` takes them in order.
pub struct Inbox<T>(Rc<RefCell<(VecDeque<T>, Option<Waker>)>>);

impl<T> Clone for Inbox<T> {
    fn clone(&self) -> Self {
        Inbox(self.0.clone())
    }
}

impl<T> Default for Inbox<T> {
    fn default() -> Self {
        Inbox(Rc::new(RefCell::new((VecDeque::new(), None))))
    }
}

impl<T> Inbox<T> {
    pub fn push(&self, message: T) {
        let mut inner = self.0.borrow_mut();
        inner.0.push_back(message);
        if let Some(w) = inner.1.take() {
            w.wake();
        }
    }

    pub fn next(&self) -> NextMessage<T> {
        NextMessage(self.clone())
    }
}

pub struct NextMessage<T>(Inbox<T>);

impl<T> Future for NextMessage<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
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

/// A worker running this module; terminated when dropped.
pub struct Spawned {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
}

impl Spawned {
    pub fn post(&self, text: &str) {
        let _ = self.worker.post_message(&JsValue::from_str(text));
    }

    /// Posts `text` and transfers `ports` with it.
    pub fn post_with_ports(&self, text: &str, ports: &[MessagePort]) -> Result<(), JsValue> {
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

/// Starts a worker running this wasm module in `role` (`glue_source` is the wasm
/// glue's JS source). Its messages (JSON strings) go to `on_message`; an uncaught error
/// in it goes to `on_error`, as a sentence. Given a `peer` port, the worker talks
/// through it instead (the owner still hears its errors). `shared` (a
/// `SharedArrayBuffer`: a process's GIL) reaches it as [`shared`].
pub fn spawn_worker(
    glue_source: &str,
    role: Role,
    name: &str,
    peer: Option<MessagePort>,
    shared: Option<&JsValue>,
    mut on_message: impl FnMut(String) + 'static,
    mut on_error: impl FnMut(String) + 'static,
) -> Result<Spawned, JsValue> {
    let worker_options = web_sys::WorkerOptions::new();
    worker_options.set_name(name);
    let worker = Worker::new_with_options(&script_url(glue_source)?, &worker_options)?;

    let start = js_sys::Object::new();
    Reflect::set(&start, &"module".into(), &wasm_bindgen::module())?;
    Reflect::set(&start, &"role".into(), &role.id().into())?;
    if let Some(shared) = shared {
        Reflect::set(&start, &"shared".into(), shared)?;
    }
    let transfer = Array::new();
    if let Some(port) = &peer {
        Reflect::set(&start, &"peer".into(), port)?;
        transfer.push(port);
    }
    let handshake = worker.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let Some(text) = e.data().as_string() else { return };
        match serde_json::from_str::<Hello>(&text) {
            Ok(Hello::Booted) => {
                let _ = handshake.post_message_with_transfer(&start, &transfer);
            }
            Err(_) => on_message(text),
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
        e.prevent_default();
        on_error(format!("{} ({}:{})", e.message(), e.filename(), e.lineno()));
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok(Spawned {
        worker,
        _on_message: on_message,
        _on_error: on_error,
    })
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
    /// What this worker was started with besides its role (a GIL's buffer), if anything.
    static SHARED: RefCell<JsValue> = const { RefCell::new(JsValue::NULL) };
}

/// What this worker was started with besides its role: an object whose fields hold
/// `SharedArrayBuffer`s (`gil`: its process's GIL; `accept`: the server workers' shared
/// accept queue), or `null`.
pub fn shared() -> JsValue {
    SHARED.with(|s| s.borrow().clone())
}

/// Field `name` of what this worker was started with (`undefined` when absent).
pub fn shared_field(name: &str) -> JsValue {
    let shared = shared();
    if shared.is_object() {
        Reflect::get(&shared, &name.into()).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// Posts a JSON message to this worker's peer: the port it was given, else whoever
/// started it.
pub fn post_to_parent(text: &str) {
    let message = JsValue::from_str(text);
    let sent = PEER.with(|p| p.borrow().as_ref().map(|port| port.post_message(&message)));
    if sent.is_none() {
        let _ = worker_scope().post_message(&message);
    }
}

/// Takes the ports transferred to this worker so far.
pub fn take_received_ports() -> Vec<MessagePort> {
    RECEIVED_PORTS.with(|p| p.take())
}

fn keep_ports(ports: impl IntoIterator<Item = JsValue>) {
    RECEIVED_PORTS.with(|p| {
        p.borrow_mut()
            .extend(ports.into_iter().map(JsCast::unchecked_into))
    });
}

/// Runs in a worker once the bootstrap has initialised the module: makes `handler` (its
/// role's) hear the worker's messages (on `peer`, the worker's end of a channel, when it
/// has one) and replays what arrived during start-up.
pub fn listen(
    handler: Box<dyn FnMut(String)>,
    early: Array,
    early_ports: Array,
    peer: JsValue,
    shared: JsValue,
) {
    SHARED.with(|s| *s.borrow_mut() = shared);
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
pub struct Peer {
    port: MessagePort,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Peer {
    pub fn new(port: MessagePort, mut on_message: impl FnMut(String) + 'static) -> Peer {
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

    pub fn post(&self, text: &str) {
        let _ = self.port.post_message(&JsValue::from_str(text));
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.port.set_onmessage(None);
        self.port.close();
    }
}
