//! CPython's GIL, as the "new GIL" (Python/ceval_gil.c, since 3.2) hands it out, for
//! one server process: one holder at a time; a thread that wants it waits; once a waiter
//! has waited the switch interval (`sys.getswitchinterval()`, 5 ms) with no switch, it
//! sets `gil_drop_request` and the holder drops the GIL at its next check of the eval
//! breaker (every few bytecodes: taken as at once). With FORCE_SWITCHING the thread that
//! dropped it cannot take it back before another thread has: it waits behind the others.
//! A thread that releases the GIL of its own accord (`time.sleep`, a blocking read, the
//! event loop going into `epoll_wait`, a thread finishing its job) hands it to a waiter
//! at once.
//!
//! Which waiter gets it: the one that has waited longest (the condition variable wakes
//! one waiter; the order is taken as first come, first served). Clock-free: the caller
//! says when things happen.

use std::collections::VecDeque;

/// The switch interval: CPython's default `sys.getswitchinterval()`, 0.005 s.
pub const SWITCH_INTERVAL_MS: f64 = 5.0;

/// A thread of the process: its event loop, or a threadpool thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Loop,
    Thread(usize),
}

#[derive(Clone, Debug, Default)]
pub struct Gil {
    /// Who holds it, and since when.
    holder: Option<(Who, f64)>,
    /// Who waits for it, each since when, first come first.
    waiters: VecDeque<(Who, f64)>,
}

impl Gil {
    /// Who holds it.
    pub fn holder(&self) -> Option<Who> {
        self.holder.map(|(w, _)| w)
    }

    /// Who waits for it, first in line first.
    pub fn waiting(&self) -> Vec<Who> {
        self.waiters.iter().map(|(w, _)| *w).collect()
    }

    /// `who` wants the GIL at `t`: whether it has it now (else it waits in line).
    pub fn acquire(&mut self, who: Who, t: f64) -> bool {
        debug_assert!(self.holder() != Some(who), "{who:?} already holds the GIL");
        if self.holder.is_none() {
            self.holder = Some((who, t));
            true
        } else {
            self.waiters.push_back((who, t));
            false
        }
    }

    /// The holder lets the GIL go at `t`; the waiter that takes it at `t`, and since when
    /// it had waited.
    pub fn release(&mut self, t: f64) -> Option<(Who, f64)> {
        self.holder = None;
        let (next, since) = self.waiters.pop_front()?;
        self.holder = Some((next, t));
        Some((next, since))
    }

    /// When the holder is asked to drop the GIL: the switch interval after the later of
    /// when it took it and when the longest waiter began to wait; `None` when nobody
    /// waits.
    pub fn drop_due(&self) -> Option<f64> {
        let (_, held_since) = self.holder?;
        let (_, waiting_since) = self.waiters.front()?;
        Some(held_since.max(*waiting_since) + SWITCH_INTERVAL_MS)
    }

    /// A forced switch at `t` (the holder was asked to drop the GIL): the holder goes to
    /// the back of the line and the longest waiter takes the GIL. Returns the new holder
    /// and since when it had waited.
    pub fn switch(&mut self, t: f64) -> Option<(Who, f64)> {
        let (old, _) = self.holder?;
        let next = self.release(t)?;
        self.waiters.push_back((old, t));
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_waiters_in_turn_and_the_dropper_goes_last() {
        let mut g = Gil::default();
        assert!(g.acquire(Who::Thread(0), 0.0));
        assert_eq!(g.drop_due(), None, "nobody waits: no reason to drop it");
        assert!(!g.acquire(Who::Thread(1), 1.0));
        assert!(!g.acquire(Who::Loop, 2.0));
        // Thread 1 has waited since 1 ms: the holder is asked to drop it at 6 ms.
        assert_eq!(g.drop_due(), Some(6.0));
        assert_eq!(g.switch(6.0), Some((Who::Thread(1), 1.0)));
        // Now thread 1 has held it since 6, the loop waited since 2: drop at 11.
        assert_eq!(g.drop_due(), Some(11.0));
        // Thread 1 finishes at 8 and lets it go: the loop, then thread 0.
        assert_eq!(g.release(8.0), Some((Who::Loop, 2.0)));
        assert_eq!(g.release(8.0), Some((Who::Thread(0), 6.0)));
        assert_eq!(g.release(9.0), None);
        assert_eq!(g.holder(), None);
    }
}
