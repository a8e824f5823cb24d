//! The pieces of asyncio's loop both runtimes build theirs from (the virtual one in
//! [`crate::sim`], the browser's server worker), so a coroutine is scheduled by the same
//! rules on both clocks:
//! - the ready queue of callbacks ([`Callback`], asyncio's `_ready`), which a loop runs
//!   a snapshot of per iteration;
//! - futures a callback completes ([`Signal`], [`Wait`]): a task awaiting one resumes in
//!   the iteration after the callback ran, as a future's done-callback does;
//! - `asyncio.sleep(0)` ([`Checkpoint`]) and anyio's way into the threadpool
//!   ([`anyio_acquire`]);
//! - the loop's scheduled timers ([`Timer`], asyncio's `_scheduled` heap).

use super::limiter::{Limiter, Token};
use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// An entry of a loop's ready queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callback {
    /// One step of a task's coroutine (`Task.__step`).
    Step(usize),
    /// A timer's or a job's callback: completes the future a task awaits.
    Fire(usize),
    /// uvicorn's `data_received`: request `id` is read and its task created.
    Read(u64),
}

/// A loop's ready queue. Shared with the wakers, which need `Send + Sync`.
pub type Ready = Arc<Mutex<VecDeque<Callback>>>;

pub fn push(ready: &Ready, callback: Callback) {
    ready.lock().expect("ready queue").push_back(callback);
}

pub fn len(ready: &Ready) -> usize {
    ready.lock().expect("ready queue").len()
}

/// This iteration's callbacks, moved into `batch` (empty, kept to reuse its buffer):
/// the ones ready now. asyncio's `_run_once` runs `len(self._ready)` of them; those they
/// schedule wait for the next iteration, as they land in the emptied queue here.
pub fn take_iteration(ready: &Ready, batch: &mut VecDeque<Callback>) {
    debug_assert!(batch.is_empty(), "the last iteration ran all of its callbacks");
    std::mem::swap(&mut *ready.lock().expect("ready queue"), batch);
}

/// Wakes a task by putting a step of it on its loop's ready queue.
pub struct TaskWaker {
    pub task: usize,
    pub ready: Ready,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        push(&self.ready, Callback::Step(self.task));
    }
}

/// The waker of task `task` on the loop whose queue is `ready`.
pub fn waker(task: usize, ready: &Ready) -> Waker {
    Waker::from(Arc::new(TaskWaker {
        task,
        ready: ready.clone(),
    }))
}

/// A one-shot future a callback completes.
#[derive(Default)]
pub struct Signal {
    fired: Cell<bool>,
    /// When what it stands for happened (a job's result posted to the loop), on the
    /// runtime's clock.
    pub at: Cell<f64>,
    waker: RefCell<Option<Waker>>,
}

impl Signal {
    pub fn fire(&self) {
        self.fired.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

/// Awaits a [`Signal`].
pub struct Wait(pub Rc<Signal>);

impl Future for Wait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.fired.get() {
            Poll::Ready(())
        } else {
            *self.0.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// The signals a loop's callbacks fire, by id (what a `Fire` callback carries).
#[derive(Default)]
pub struct Signals {
    slots: Vec<Option<Rc<Signal>>>,
    free: Vec<usize>,
}

impl Signals {
    /// A new signal and its id.
    pub fn add(&mut self) -> (usize, Rc<Signal>) {
        let signal = Rc::new(Signal::default());
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id] = Some(signal.clone());
                id
            }
            None => {
                self.slots.push(Some(signal.clone()));
                self.slots.len() - 1
            }
        };
        (id, signal)
    }

    /// The signal `id`, for a caller that will fire it later.
    pub fn get(&self, id: usize) -> Option<&Rc<Signal>> {
        self.slots.get(id)?.as_ref()
    }

    /// Takes signal `id` out (its id is reused), to be fired.
    pub fn take(&mut self, id: usize) -> Option<Rc<Signal>> {
        let signal = self.slots.get_mut(id)?.take()?;
        self.free.push(id);
        Some(signal)
    }
}

/// `asyncio.sleep(0)`: the task goes to the back of the ready queue and continues next
/// iteration.
pub struct Checkpoint(bool);

impl Checkpoint {
    pub fn new() -> Checkpoint {
        Checkpoint(false)
    }
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint::new()
    }
}

impl Future for Checkpoint {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// How anyio's `run_sync` takes a token before it hands a call to a worker thread
/// (anyio/_backends/_asyncio.py `run_sync_in_worker_thread`): `await checkpoint()`,
/// then `async with limiter`, which, finding a token free and nobody waiting, also
/// yields once (`cancel_shielded_checkpoint`); else the task waits in the limiter's
/// FIFO line and resumes the iteration after the token is handed to it. `request` is
/// who asks, for a view of the line; `note` is told, before each yield, what the task
/// resumes after (for a view of the ready queue).
pub async fn anyio_acquire(limiter: &Limiter, request: u64, note: impl Fn(&'static str)) -> Token {
    note("resume after anyio's checkpoint (sleep(0)) before taking a token");
    Checkpoint::new().await;
    let free = limiter.in_use() < limiter.total() && limiter.waiting() == 0;
    if !free {
        note("resume with the threadpool token handed to it");
    }
    let token = limiter.acquire_as(request).await;
    if free {
        note("resume after anyio's second checkpoint, a token in hand");
        Checkpoint::new().await;
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_reuse_their_ids_and_fire_once_taken() {
        let mut s = Signals::default();
        let (a, sa) = s.add();
        let (b, _) = s.add();
        assert_ne!(a, b);
        let taken = s.take(a).expect("there");
        assert!(Rc::ptr_eq(&taken, &sa));
        assert!(s.take(a).is_none(), "fired once");
        let (c, _) = s.add();
        assert_eq!(c, a, "the id is reused");
    }

    #[test]
    fn a_checkpoint_puts_the_task_back_in_line() {
        let ready = Ready::default();
        let w = waker(7, &ready);
        let mut cp = std::pin::pin!(Checkpoint::new());
        assert!(cp.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
        let mut batch = VecDeque::new();
        take_iteration(&ready, &mut batch);
        assert_eq!(batch, [Callback::Step(7)]);
        assert!(cp.as_mut().poll(&mut Context::from_waker(&w)).is_ready());
        assert_eq!(len(&ready), 0, "ready once");
    }

    #[test]
    fn an_iteration_runs_what_was_ready_when_it_began() {
        let ready = Ready::default();
        push(&ready, Callback::Step(1));
        push(&ready, Callback::Fire(2));
        let mut batch = VecDeque::new();
        take_iteration(&ready, &mut batch);
        // A callback of this iteration schedules another: it runs next iteration.
        push(&ready, Callback::Step(3));
        assert_eq!(batch, [Callback::Step(1), Callback::Fire(2)]);
        batch.clear();
        take_iteration(&ready, &mut batch);
        assert_eq!(batch, [Callback::Step(3)]);
    }
}

/// A timer on a loop (`call_later`): due at `when` (on the loop's clock), it completes
/// signal `signal`. Timers due at the same moment fire in the order they were
/// scheduled (`seq`), as asyncio's heap of `(when, handle)` does.
#[derive(Debug)]
pub struct Timer {
    pub when: f64,
    pub seq: u64,
    pub signal: usize,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    /// Reversed, so a max-heap (`BinaryHeap`) pops the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        other.when.total_cmp(&self.when).then(other.seq.cmp(&self.seq))
    }
}
