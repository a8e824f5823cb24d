//! Events a runtime emits as things happen, so a view can draw a run while it goes.
//! Applying them to a [`Recorder`] is how the server builds its report, and how the
//! page builds the same picture live: one code path for both.

use super::recorder::Recorder;
use super::report::{Phase, PhaseKind, Place, Stall};
use serde::{Deserialize, Serialize};

/// Times are ms on the run's timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "e", rename_all = "snake_case")]
pub enum LiveEvent {
    /// The event loop took the request in.
    Accepted {
        request: u64,
        t: f64,
    },
    /// A phase has begun and is still going (its end comes as a `Phase`).
    Began {
        request: u64,
        kind: PhaseKind,
        on: Place,
        blocking: bool,
        t: f64,
        /// For an awaited sleep: when its timer is due. Past it, the request is ready
        /// and waits for the loop.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<f64>,
    },
    /// A finished phase.
    Phase {
        request: u64,
        phase: Phase,
    },
    /// A wait for the loop or a token, from `from` to `to` (dropped when empty).
    Waited {
        request: u64,
        on: Place,
        from: f64,
        to: f64,
    },
    Stall {
        stall: Stall,
    },
    Print {
        request: u64,
        t: f64,
        text: String,
    },
    Responded {
        request: u64,
        t: f64,
    },
    BackgroundDone {
        request: u64,
        t: f64,
    },
}

impl LiveEvent {
    /// Records the event. `Began` carries nothing a report keeps: it is for live views.
    pub fn apply(&self, rec: &mut Recorder) {
        match self {
            LiveEvent::Accepted { request, t } => rec.accepted(*request, *t),
            LiveEvent::Began { .. } => {}
            LiveEvent::Phase { request, phase } => rec.phase(*request, phase.clone()),
            LiveEvent::Waited {
                request,
                on,
                from,
                to,
            } => rec.wait(*request, *on, *from, *to),
            LiveEvent::Stall { stall } => rec.stall(stall.clone()),
            LiveEvent::Print { request, t, text } => rec.print(*request, *t, text),
            LiveEvent::Responded { .. } => {} // the response body travels separately
            LiveEvent::BackgroundDone { request, t } => rec.background_done(*request, *t),
        }
    }
}
