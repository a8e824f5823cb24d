//! The listening socket several server workers share (`uvicorn --workers N`): one
//! accept queue, in a `SharedArrayBuffer`. The page (the kernel) queues each new
//! connection and wakes every waiting worker; a worker takes connections only in its
//! poll, and the first to get there takes every connection queued (asyncio's accept
//! loop drains the backlog). A worker blocked in a `time.sleep` takes nothing. Only in
//! a cross-origin isolated page.

use js_sys::{Atomics, Int32Array, SharedArrayBuffer};
use wasm_bindgen::{JsCast, JsValue};

/// Slot 0 counts connections queued so far, slot 1 those taken; the ids follow.
const TAIL: u32 = 0;
const HEAD: u32 = 1;
const IDS: u32 = 2;

#[derive(Clone)]
pub struct AcceptQueue(Int32Array);

impl AcceptQueue {
    /// A queue for a run of `requests` connections (each queued once).
    pub fn new(requests: u64) -> AcceptQueue {
        let bytes = 4 * (IDS + requests as u32);
        AcceptQueue(Int32Array::new(&SharedArrayBuffer::new(bytes)))
    }

    pub fn from_buffer(buffer: &JsValue) -> Option<AcceptQueue> {
        buffer
            .dyn_ref::<SharedArrayBuffer>()
            .map(|b| AcceptQueue(Int32Array::new(b)))
    }

    pub fn buffer(&self) -> JsValue {
        self.0.buffer().into()
    }

    fn load(&self, i: u32) -> i32 {
        Atomics::load(&self.0, i).unwrap_or(0)
    }

    /// New connections (requests `ids`, arrived together): queued at once, then every
    /// waiting worker woken, so the first to wake finds them all (as a burst reaches a
    /// real listening socket long before a worker wakes up).
    pub fn push_all(&self, ids: &[u64]) {
        let tail = self.load(TAIL);
        for (i, &id) in ids.iter().enumerate() {
            let _ = Atomics::store(&self.0, IDS + tail as u32 + i as u32, id as i32);
        }
        let _ = Atomics::store(&self.0, TAIL, tail + ids.len() as i32);
        let _ = Atomics::notify(&self.0, TAIL);
    }

    /// Takes every queued connection, unless another worker got there first.
    pub fn take_all(&self) -> Vec<u64> {
        loop {
            let (head, tail) = (self.load(HEAD), self.load(TAIL));
            if head >= tail {
                return Vec::new();
            }
            if Atomics::compare_exchange(&self.0, HEAD, head, tail).unwrap_or(-1) == head {
                return (head..tail).map(|i| self.load(IDS + i as u32) as u64).collect();
            }
        }
    }

    /// Whether connections are waiting.
    pub fn pending(&self) -> bool {
        self.load(HEAD) < self.load(TAIL)
    }

    /// A promise that resolves when a connection is queued (at once if one is waiting).
    pub fn wait(&self) -> js_sys::Promise {
        let tail = self.load(TAIL);
        if self.load(HEAD) < tail {
            return js_sys::Promise::resolve(&JsValue::NULL);
        }
        let Ok(result) = Atomics::wait_async(&self.0, TAIL, tail) else {
            return js_sys::Promise::resolve(&JsValue::NULL);
        };
        js_sys::Reflect::get(&result, &"value".into())
            .ok()
            .and_then(|v| v.dyn_into::<js_sys::Promise>().ok())
            .unwrap_or_else(|| js_sys::Promise::resolve(&JsValue::NULL))
    }
}
