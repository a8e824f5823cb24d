//! anyio's `CapacityLimiter`, single-threaded: `total` tokens, waiters served first
//! come, first served. A released token goes straight to the oldest waiter: anyio's
//! `release` reserves it for the waiter it wakes, before that waiter runs (since anyio
//! 4.14.2, which fixed over-granting when a non-blocking acquire came in between,
//! anyio issue #1170), so a newcomer can never jump the queue. Clock-free, so the
//! virtual and the browser runtime share it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Slot {
    granted: Cell<bool>,
    waker: RefCell<Option<Waker>>,
    /// Who waits (a request's id), for a view of the line.
    owner: u64,
}

struct Inner {
    total: u64,
    in_use: Cell<u64>,
    peak: Cell<u64>,
    waiters: RefCell<VecDeque<Rc<Slot>>>,
    /// Who holds the tokens, in the order they got them, when [`Limiter::track`] asked
    /// for it (a view of the loop's state; a big run keeps none).
    holders: Option<RefCell<Vec<u64>>>,
}

/// A FIFO capacity limiter. Cloning shares it.
#[derive(Clone)]
pub struct Limiter(Rc<Inner>);

/// A held token; dropping it releases the token (to the oldest waiter, if any).
pub struct Token(Limiter, u64);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}

impl Limiter {
    pub fn new(total: u64) -> Limiter {
        Self::make(total, false)
    }

    /// A limiter that also keeps who holds its tokens and who waits, by the owner each
    /// [`Limiter::acquire_as`] names.
    pub fn tracked(total: u64) -> Limiter {
        Self::make(total, true)
    }

    fn make(total: u64, tracked: bool) -> Limiter {
        assert!(total > 0, "a limiter needs at least one token");
        Limiter(Rc::new(Inner {
            total,
            in_use: Cell::new(0),
            peak: Cell::new(0),
            waiters: RefCell::new(VecDeque::new()),
            holders: tracked.then(RefCell::default),
        }))
    }

    /// Who holds the tokens (empty unless tracked), in the order they got them.
    pub fn borrowers(&self) -> Vec<u64> {
        self.0.holders.as_ref().map_or(Vec::new(), |h| h.borrow().clone())
    }

    /// Who waits for a token, first in line first.
    pub fn waiters(&self) -> Vec<u64> {
        self.0.waiters.borrow().iter().map(|s| s.owner).collect()
    }

    /// Tokens in all.
    pub fn total(&self) -> u64 {
        self.0.total
    }

    /// Tokens held right now.
    pub fn in_use(&self) -> u64 {
        self.0.in_use.get()
    }

    /// Most tokens ever held at once.
    pub fn peak(&self) -> u64 {
        self.0.peak.get()
    }

    /// How many are waiting for a token.
    pub fn waiting(&self) -> usize {
        self.0.waiters.borrow().len()
    }

    /// `async with limiter:` — resolves to a token once one is free and every earlier
    /// waiter has been served.
    pub fn acquire(&self) -> Acquire {
        self.acquire_as(u64::MAX)
    }

    /// [`Limiter::acquire`] for `owner` (a request's id), whom a tracked limiter names
    /// among its borrowers and waiters.
    pub fn acquire_as(&self, owner: u64) -> Acquire {
        Acquire {
            limiter: self.clone(),
            slot: None,
            owner,
        }
    }

    fn take(&self, owner: u64) {
        let n = self.0.in_use.get() + 1;
        self.0.in_use.set(n);
        self.0.peak.set(self.0.peak.get().max(n));
        if let Some(h) = &self.0.holders {
            h.borrow_mut().push(owner);
        }
    }

    fn release(&self, owner: u64) {
        if let Some(h) = &self.0.holders {
            let mut h = h.borrow_mut();
            if let Some(i) = h.iter().position(|&o| o == owner) {
                h.remove(i);
            }
        }
        let next = self.0.waiters.borrow_mut().pop_front();
        match next {
            // The token passes to the waiter; in_use is unchanged.
            Some(slot) => {
                slot.granted.set(true);
                if let Some(h) = &self.0.holders {
                    h.borrow_mut().push(slot.owner);
                }
                if let Some(w) = slot.waker.borrow_mut().take() {
                    w.wake();
                }
            }
            None => self.0.in_use.set(self.0.in_use.get() - 1),
        }
    }
}

/// The future of [`Limiter::acquire`]. Dropping it while waiting leaves the line
/// (and passes on a token granted but not yet taken).
pub struct Acquire {
    limiter: Limiter,
    slot: Option<Rc<Slot>>,
    owner: u64,
}

impl Future for Acquire {
    type Output = Token;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Token> {
        let lim = self.limiter.clone();
        match &self.slot {
            None => {
                let inner = &lim.0;
                if inner.in_use.get() < inner.total && inner.waiters.borrow().is_empty() {
                    lim.take(self.owner);
                    let owner = self.owner;
                    return Poll::Ready(Token(lim, owner));
                }
                let slot = Rc::new(Slot {
                    owner: self.owner,
                    ..Slot::default()
                });
                *slot.waker.borrow_mut() = Some(cx.waker().clone());
                inner.waiters.borrow_mut().push_back(slot.clone());
                self.slot = Some(slot);
                Poll::Pending
            }
            Some(slot) if slot.granted.get() => {
                self.slot = None;
                let owner = self.owner;
                Poll::Ready(Token(lim, owner))
            }
            Some(slot) => {
                *slot.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            if slot.granted.get() {
                self.limiter.release(slot.owner);
            } else {
                self.limiter
                    .0
                    .waiters
                    .borrow_mut()
                    .retain(|s| !Rc::ptr_eq(s, &slot));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn poll(f: &mut Acquire) -> Option<Token> {
        let waker = Waker::from(Arc::new(Flag(false.into())));
        match Pin::new(f).poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(t) => Some(t),
            Poll::Pending => None,
        }
    }

    #[test]
    fn serves_waiters_first_come_first_served() {
        let lim = Limiter::new(1);
        let held = poll(&mut lim.acquire()).expect("free token");
        let mut waiters: Vec<Acquire> = (0..3).map(|_| lim.acquire()).collect();
        for w in &mut waiters {
            assert!(poll(w).is_none());
        }
        assert_eq!(lim.waiting(), 3);
        drop(held);
        // Only the first waiter may proceed; a newcomer queues behind the rest.
        let mut late = lim.acquire();
        assert!(poll(&mut late).is_none());
        assert!(poll(&mut waiters[2]).is_none());
        assert!(poll(&mut waiters[1]).is_none());
        let t0 = poll(&mut waiters[0]).expect("first in line");
        drop(t0);
        assert!(poll(&mut waiters[2]).is_none());
        let t1 = poll(&mut waiters[1]).expect("second in line");
        drop(t1);
        let t2 = poll(&mut waiters[2]).expect("third in line");
        drop(t2);
        assert!(poll(&mut late).is_some());
        assert_eq!(lim.peak(), 1);
    }

    #[test]
    fn in_use_never_exceeds_total_and_drops_free_tokens() {
        let lim = Limiter::new(2);
        let a = poll(&mut lim.acquire()).unwrap();
        let b = poll(&mut lim.acquire()).unwrap();
        let mut c = lim.acquire();
        assert!(poll(&mut c).is_none());
        assert_eq!(lim.in_use(), 2);
        drop(c); // leaves the line
        assert_eq!(lim.waiting(), 0);
        drop(a);
        drop(b);
        assert_eq!(lim.in_use(), 0);
        assert_eq!(lim.peak(), 2);
    }

    #[test]
    fn a_tracked_limiter_names_its_borrowers_and_its_line() {
        let lim = Limiter::tracked(2);
        let a = poll(&mut lim.acquire_as(4)).unwrap();
        let _b = poll(&mut lim.acquire_as(7)).unwrap();
        let mut c = lim.acquire_as(9);
        let mut d = lim.acquire_as(1);
        assert!(poll(&mut c).is_none() && poll(&mut d).is_none());
        assert_eq!((lim.borrowers(), lim.waiters()), (vec![4, 7], vec![9, 1]));
        drop(a);
        // The token went to 9, first in line, before 9 has run.
        assert_eq!((lim.borrowers(), lim.waiters()), (vec![7, 9], vec![1]));
        assert!(Limiter::new(1).borrowers().is_empty(), "untracked: nobody named");
    }

    #[test]
    fn a_granted_but_abandoned_token_passes_on() {
        let lim = Limiter::new(1);
        let a = poll(&mut lim.acquire()).unwrap();
        let mut b = lim.acquire();
        let mut c = lim.acquire();
        assert!(poll(&mut b).is_none());
        assert!(poll(&mut c).is_none());
        drop(a); // granted to b
        drop(b); // b never took it: it goes to c
        assert!(poll(&mut c).is_some());
    }
}
