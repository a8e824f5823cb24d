//! Every message the page, the server workers, their pool workers and the task queue's
//! broker send each other, typed. Messages travel as JSON strings ([`to_json`],
//! [`from_json`]); a worker's start object is the one exception: it carries the
//! `WebAssembly.Module` (and a GIL's `SharedArrayBuffer`), so it is a JS object
//! ([`super::worker`]).

use super::hold::Hold;
use loopscope::model::Event;
use loopscope::model::Raised;
use loopscope::model::{
    Config, Durations, Fault, Faults, LogEntry, Phase, PhaseKind, Place, ProbeStall, Variant,
};
use loopscope::runtime::{SyncCall, SyncReturn};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("messages serialize")
}

pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("bad message {text:?}: {e}"))
}

/// What a worker is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// One uvicorn process: the event loop.
    Server,
    /// One thread of a pool: a threadpool thread, a process of a process pool, or a
    /// task-queue worker (it says which at start).
    Pool,
    /// The task queue's broker: it hands jobs to the queue workers in turn.
    Broker,
}

impl Role {
    pub fn id(self) -> &'static str {
        loopscope::model::ids::serde_id(&self)
    }
}

/// What a worker's bootstrap script posts once it has loaded, before its module is
/// instantiated; its owner answers with the start object.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hello {
    Booted,
}

/// Where a run's background tasks log (`log_prediction_details`): the run's name, its
/// endpoint, and whether the page could open IndexedDB (else why not).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogTo {
    pub run: String,
    pub variant: Variant,
    pub db: Result<(), String>,
}

/// The page to the server worker.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToServer {
    /// Get ready for this run as server worker `worker` (calibrate compute work);
    /// answer `WantPool`.
    Setup {
        config: Config,
        faults: Faults,
        /// Where background tasks log; `None` for a rehearsal, which logs nothing.
        log: Option<LogTo>,
        worker: u64,
    },
    /// The workers the page started for this server: their ports come with this
    /// message, its pool threads' first, then its processes', then (task_queue) one to
    /// the broker. Get each ready, start the probe, answer `Ready`.
    Pool,
    /// The clock starts: times are ms since `t0_abs`.
    Go { t0_abs: f64 },
    /// Requests sent together (the clients' sends of one moment, as one message: a
    /// burst of a thousand is one message, not a thousand). One server worker; several
    /// share an accept queue instead.
    Requests { ids: Vec<u64> },
    /// Every request of the run is answered: finish what is left (background tasks),
    /// then answer `Done`.
    Finish,
    /// Worker `worker` of its threadpool (`processes`: of its process pool) died
    /// (`message`); the port of the one the page started in its place comes with this
    /// message.
    Replaced {
        worker: usize,
        processes: bool,
        message: String,
    },
}

/// The server worker to the page.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromServer {
    /// Start this many pool threads and processes and send `Pool` with a port to each.
    WantPool {
        threads: u64,
        processes: u64,
    },
    Ready,
    /// What happened since the last batch (times on the run's timeline).
    Events {
        events: Vec<Event>,
    },
    /// Heartbeat lateness samples, `[absolute time, lag]`, for a live sparkline.
    Lag {
        samples: Vec<[f64; 2]>,
    },
    /// Finished: what only this worker measured.
    Done {
        part: ServerPart,
    },
    Failed {
        message: String,
    },
}

/// What one server worker measured beyond the events it sent: its probe, how it held
/// its threads, its pools. The page puts the parts of every worker into one report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerPart {
    pub worker: u64,
    /// On the run's clock.
    pub probe_stalls: Vec<ProbeStall>,
    /// Gaps in the heartbeat while the loop ran nothing: the browser's.
    pub probe_gaps: Vec<ProbeStall>,
    /// `[t, lag]` on the run's clock: the lateness the loop caused.
    pub probe_lag: Vec<[f64; 2]>,
    /// How late a timer fired while the loop was free (90th percentile).
    pub idle_lateness_ms: f64,
    pub loop_block_method: String,
    pub compute_rounds_per_ms: Option<f64>,
    pub pool_workers: u64,
    pub process_workers: u64,
    pub pool_start_ms: f64,
    /// Whether its loop took a real GIL for each iteration (python_cpu).
    pub gil: bool,
}

/// The page to the task queue's broker.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToBroker {
    /// The queue workers' ports come with this message, then one per server worker.
    /// Get the queue workers ready; answer `Ready`.
    Setup {
        durations: Durations,
        hold: Hold,
        log: Option<LogTo>,
        queue_workers: u64,
        servers: u64,
    },
    Go {
        t0_abs: f64,
    },
}

/// A server worker to the broker: `log_prediction_details.delay(...)` was called at
/// `asked_abs`.
#[derive(Serialize, Deserialize)]
pub struct Enqueue {
    pub request: u64,
    pub call: SyncCall,
    pub asked_abs: f64,
}

/// The broker to the page.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromBroker {
    Ready,
    Events { events: Vec<Event> },
    Failed { message: String },
}

/// The server to a pool worker.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToPool {
    /// Get ready for jobs that hold their thread this way, and log there; answer `Ready`.
    /// `place`: what the worker is (a threadpool thread, a process, a queue worker);
    /// `gil`: pure-Python work takes the GIL it was started with.
    Start {
        hold: Hold,
        log: Option<LogTo>,
        place: Place,
        gil: bool,
    },
    Job {
        job: u64,
        request: u64,
        call: SyncCall,
        durations: Durations,
        hold: Hold,
        /// Makes the job fail (a test's injected fault).
        fault: Option<Fault>,
        /// The run's time 0 (absolute ms), for the times a log row carries.
        t0_abs: f64,
        /// Pickling the call's argument and result (a process pool's), ms.
        pickle_ms: f64,
    },
}

/// A pool worker to the server.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromPool {
    Ready,
    Progress { items: Vec<Progress> },
    Done(JobDone),
    Failed { message: String },
}

/// What a job did, in absolute time (the server converts it to the run's timeline):
/// its result, and the [`Progress`] not yet posted (the end of its last phase, its last
/// prints).
#[derive(Serialize, Deserialize)]
pub struct JobDone {
    pub job: u64,
    pub request: u64,
    pub result: Result<SyncReturn, Raised>,
    /// What a log task wrote (or kept, and why).
    pub logged: Option<LogEntry>,
    pub progress: Vec<Progress>,
    /// When the worker took the job, and when it was done.
    pub start_abs: f64,
    pub end_abs: f64,
    /// The owner's: when it posted the job to the worker, and when the result reached
    /// it (the worker leaves them 0).
    #[serde(default)]
    pub posted_abs: f64,
    #[serde(default)]
    pub received_abs: f64,
}

/// A job's phase began or ended, or it printed a line, in absolute time. What happened
/// so far is posted as each phase begins, so the page draws a `def` endpoint's fetch
/// and then its prediction while its job runs; the rest comes with the result (one
/// message at the busy moment a job ends, not three).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    Began {
        request: u64,
        phase: PhaseKind,
        on: Place,
        start_abs: f64,
    },
    Ended {
        request: u64,
        phase: Phase,
    },
    Print {
        request: u64,
        t_abs: f64,
        text: String,
    },
}

impl Progress {
    /// The event it is on the run's timeline, whose time 0 is `t0_abs`.
    pub fn into_event(self, t0_abs: f64) -> Event {
        match self {
            Progress::Began {
                request,
                phase,
                on,
                start_abs,
            } => Event::Began {
                request,
                kind: phase,
                on,
                blocking: true,
                t: start_abs - t0_abs,
                due: None,
            },
            Progress::Ended { request, mut phase } => {
                phase.start_ms -= t0_abs;
                phase.end_ms -= t0_abs;
                Event::Phase { request, phase }
            }
            Progress::Print { request, t_abs, text } => Event::Print {
                request,
                t: t_abs - t0_abs,
                text,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loopscope::model::{Place, PredictionRequest};
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    /// Every message a pool worker sends survives JSON (`to_json` panics on what
    /// cannot serialize).
    #[wasm_bindgen_test]
    fn every_message_to_and_from_a_pool_worker_round_trips() {
        let request = PredictionRequest::for_index(0);
        let phase = Phase {
            kind: PhaseKind::Cpu,
            start_ms: 1.0,
            end_ms: 2.0,
            on: Place::Pool,
            blocking: true,
        };
        let items = vec![
            Progress::Print {
                request: 0,
                t_abs: 1.0,
                text: "Starting model prediction...".into(),
            },
            Progress::Began {
                request: 0,
                phase: PhaseKind::Cpu,
                on: Place::Pool,
                start_abs: 1.0,
            },
            Progress::Ended { request: 0, phase },
        ];
        let from = [
            FromPool::Ready,
            FromPool::Progress { items: items.clone() },
            FromPool::Done(JobDone {
                job: 3,
                request: 0,
                result: Ok(SyncReturn::Prediction(10.0)),
                logged: Some(LogEntry {
                    run: "2026-11-28 10:00:00 page".into(),
                    variant: Variant::Background,
                    request_id: 0,
                    request,
                    response: loopscope::model::PredictionResponse {
                        item_id: 123,
                        metadata: "m".into(),
                        prediction: 10.0,
                    },
                    written_ms: 12.5,
                    written_abs_ms: 1.8e12,
                    stored: false,
                    error: Some("IndexedDB: QuotaExceededError: full".into()),
                }),
                progress: items,
                start_abs: 1.0,
                end_abs: 2.0,
                posted_abs: 0.0,
                received_abs: 0.0,
            }),
            FromPool::Failed { message: "no".into() },
        ];
        for message in from {
            let text = to_json(&message);
            let back: FromPool = serde_json::from_str(&text).expect(&text);
            assert_eq!(to_json(&back), text);
        }
        let to = ToPool::Job {
            job: 3,
            request: 0,
            call: SyncCall::PredictSynchronously(request),
            durations: Durations {
                io_ms: 1.0,
                cpu_ms: 2.0,
                bg_ms: 3.0,
            },
            hold: Hold::Sleep,
            fault: Some(Fault::Raise),
            t0_abs: 1.5,
            pickle_ms: 0.0,
        };
        let text = to_json(&to);
        assert_eq!(
            to_json(&serde_json::from_str::<ToPool>(&text).expect(&text)),
            text
        );
    }
}
