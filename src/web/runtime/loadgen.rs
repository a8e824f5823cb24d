//! The load generator, on the page: it talks to the server worker the way clients talk
//! HTTP (a request message in, a response message out, each client sending its next
//! request when its response arrives, as `ab` does) and tells an [`Observer`] what
//! happens as it happens. It knows nothing of what the observer draws.

use super::now_abs;
use super::protocol::{from_json, to_json, FromServer, LogTo, Role, ToServer};
use super::worker::{spawn_worker, Inbox, Spawned};
use loopscope::model::Event;
use loopscope::model::{Config, Faults, Report, Variant, Work};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// Told what happens during a run, as it happens.
pub trait Observer {
    /// The run's clock started at `t0_abs` (absolute ms).
    fn started(&self, _t0_abs: f64) {}
    /// Something happened: the load generator's own `Sent`, and every event the server
    /// reports.
    fn event(&self, _event: &Event) {}
    /// Heartbeat lateness samples `[t_ms, lag_ms]`, on the run's timeline.
    fn lag(&self, _samples: &[[f64; 2]]) {}
}

/// An observer that ignores everything (`loopscope.run` from the console).
pub struct Unobserved;

impl Observer for Unobserved {}

/// Told `true` when a run starts and `false` when it ends.
pub type RunningListener = Rc<dyn Fn(bool)>;

thread_local! {
    static RUNNING: Cell<bool> = const { Cell::new(false) };
    static LIVE_WORKERS: Cell<u32> = const { Cell::new(0) };
    /// Told when a run starts (`true`) and ends (`false`): the page's controls.
    static ON_RUNNING: RefCell<Option<RunningListener>> = RefCell::default();
    /// The (endpoint, work) pairs this page has rehearsed.
    static REHEARSED: RefCell<HashSet<(Variant, Work)>> = RefCell::default();
    /// The inbox of the run going on, for [`cancel`].
    static CURRENT: RefCell<Option<Inbox<Heard>>> = RefCell::default();
}

/// Cancels the run going on, if any: its workers are terminated at once and it ends
/// with [`RunError::Cancelled`]. Returns whether there was one.
pub fn cancel() -> bool {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .map(|inbox| inbox.push(Heard::Cancelled))
            .is_some()
    })
}

/// Why a run ended without its report.
#[derive(Clone, Debug, PartialEq)]
pub enum RunError {
    /// Something failed; the sentence says what.
    Failed(String),
    /// [`cancel`] was called `at_ms` into the run (on its clock; 0 before it started).
    Cancelled { at_ms: f64 },
}

impl From<String> for RunError {
    fn from(message: String) -> RunError {
        RunError::Failed(message)
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Failed(message) => f.write_str(message),
            RunError::Cancelled { at_ms } => write!(f, "the run was cancelled {:.1} s in", at_ms / 1000.0),
        }
    }
}

/// Workers alive right now, as this module counts them: each run starts a server and
/// its pool workers, and terminates them all when it ends.
pub fn live_workers() -> u32 {
    LIVE_WORKERS.with(Cell::get)
}

/// Whether a run is going.
pub fn is_running() -> bool {
    RUNNING.with(Cell::get)
}

/// `f` is told whenever a run starts or ends, whoever started it (the page's buttons
/// or `loopscope.run` from the console), so the page can show it.
pub fn on_running_change(f: RunningListener) {
    ON_RUNNING.with(|slot| *slot.borrow_mut() = Some(f));
}

fn tell_running(running: bool) {
    if let Some(f) = ON_RUNNING.with(|slot| slot.borrow().clone()) {
        f(running);
    }
}

/// Held while a run is going; one at a time, for the JS API and the page alike.
pub struct Running(());

/// Claims the one run slot, or says why not (runs would compete for the same cores, so
/// loopscope runs one at a time rather than queueing silently).
pub fn begin_run() -> Result<Running, String> {
    if RUNNING.with(|r| r.replace(true)) {
        return Err(
            "a run is already going: wait for it to finish (one run at a time, so runs do not compete for the cores)"
                .into(),
        );
    }
    tell_running(true);
    Ok(Running(()))
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|r| r.set(false));
        tell_running(false);
    }
}

/// A worker this page started, counted while it lives; terminated when dropped.
struct Counted(Spawned);

impl Counted {
    fn new(worker: Spawned) -> Counted {
        LIVE_WORKERS.with(|n| n.set(n.get() + 1));
        Counted(worker)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE_WORKERS.with(|n| n.set(n.get() - 1));
    }
}

/// Whether the page is hidden (its timers would be throttled).
pub fn page_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Hidden)
}

/// What the load generator hears: the server's messages, its workers' errors, the
/// watchdog and a cancel.
enum Heard {
    Server(String),
    Failed(String),
    /// Pool worker `worker` died: it is replaced, and its job ends as an error.
    PoolDied {
        worker: usize,
        message: String,
    },
    Cancelled,
}

/// Claims the cancel slot for a run's inbox; released when dropped.
struct Current;

impl Current {
    fn new(inbox: &Inbox<Heard>) -> Current {
        CURRENT.with(|c| *c.borrow_mut() = Some(inbox.clone()));
        Current
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().take());
    }
}

/// Starts pool worker `i`, talking to the server through `port`; its death is heard
/// as [`Heard::PoolDied`].
fn spawn_pool_worker(
    glue_source: &str,
    i: usize,
    port: web_sys::MessagePort,
    inbox: &Inbox<Heard>,
) -> Result<Counted, JsValue> {
    let errors = inbox.clone();
    Ok(Counted::new(spawn_worker(
        glue_source,
        Role::Pool,
        &format!("loopscope pool thread {i}"),
        Some(port),
        |_| {}, // it talks to the server
        move |message| errors.push(Heard::PoolDied { worker: i, message }),
    )?))
}

/// One run to measure: what to run, and who to tell what happens.
#[derive(Clone, Copy)]
pub struct Run<'a> {
    pub config: &'a Config,
    /// Faults to inject (a test's); none for the page.
    pub faults: &'a Faults,
    /// The wasm glue's JS source, which each worker runs.
    pub glue_source: &'a str,
    /// The model's report for it (the watchdog's time scales with it).
    pub predicted: &'a Report,
    /// Where its background tasks log.
    pub log: &'a LogTo,
    pub observer: &'a dyn Observer,
}

/// Runs `run.config` on a fresh server worker and returns its measured report, telling
/// `run.observer` everything as it happens.
///
/// The first time a page runs an endpoint with a kind of work, a rehearsal goes first,
/// off the clock: the same endpoint with a few requests of a few ms, so that the
/// browser has compiled the code the measured run executes (WebAssembly functions are
/// compiled on first call; cold, the first run measured up to 13 ms slower than later
/// ones, see BENCHMARKS.md). Its wall time is reported as `measurement.rehearsal_ms`.
pub async fn measure(run: &Run<'_>) -> Result<Report, RunError> {
    let key = (run.config.variant, run.config.work);
    let rehearsal_ms = if REHEARSED.with(|r| r.borrow().contains(&key)) {
        None
    } else {
        let start = now_abs();
        let config = rehearsal_of(run.config);
        let predicted = loopscope::simulate(&config).map_err(|e| e.message)?;
        measure_once(
            &Run {
                config: &config,
                faults: &Faults::default(),
                predicted: &predicted,
                observer: &Unobserved,
                ..*run
            },
            None, // a rehearsal logs nothing
        )
        .await?;
        REHEARSED.with(|r| r.borrow_mut().insert(key));
        Some(now_abs() - start)
    };
    let mut report = measure_once(run, Some(run.log)).await?;
    if let Some(m) = report.measurement.as_mut() {
        m.rehearsal_ms = rehearsal_ms;
    }
    Ok(report)
}

/// The rehearsal for `config`: its endpoint and work, at most 3 requests and tokens,
/// every duration 2 ms.
fn rehearsal_of(config: &Config) -> Config {
    let requests = config.requests.min(3);
    Config {
        requests,
        concurrency: config.concurrency.min(requests),
        tokens: config.tokens.min(requests),
        io_ms: 2.0,
        cpu_ms: 2.0,
        bg_ms: 2.0,
        ..config.clone()
    }
}

/// How long a run may take before the watchdog ends it: a wedged worker rejects the
/// run instead of hanging it, and a long run is given time in proportion to the model's
/// prediction (pool start-up and the page's own work come on top of it).
pub fn watchdog_ms(predicted: &Report) -> f64 {
    let end = predicted
        .stats
        .background_done_ms
        .unwrap_or(0.0)
        .max(predicted.stats.makespan_ms);
    30_000.0 + 4.0 * end
}

async fn measure_once(run: &Run<'_>, log: Option<&LogTo>) -> Result<Report, RunError> {
    let Run {
        config,
        faults,
        glue_source,
        predicted,
        observer,
        ..
    } = *run;
    if page_hidden() {
        return Err(RunError::Failed("the page is hidden: browsers throttle hidden tabs' timers, so a run would measure the throttling; show the page and run again".into()));
    }
    let js = |e: JsValue| RunError::Failed(format!("{e:?}"));
    let inbox: Inbox<Heard> = Inbox::default();
    let _current = Current::new(&inbox);
    let (messages, errors) = (inbox.clone(), inbox.clone());
    let server = Counted::new(
        spawn_worker(
            glue_source,
            Role::Server,
            "loopscope server (one uvicorn worker)",
            None,
            move |m| messages.push(Heard::Server(m)),
            move |e| errors.push(Heard::Failed(format!("the server worker failed: {e}"))),
        )
        .map_err(js)?,
    );
    // The pool workers: this page starts them when the server asks, and terminates
    // them (dropping them) when the run ends, however it ends.
    let mut pool: Vec<Counted> = Vec::new();
    let limit_ms = watchdog_ms(predicted);
    let watchdog = inbox.clone();
    let _watchdog = gloo_timers::callback::Timeout::new(
        limit_ms.min(f64::from(u32::MAX)) as u32,
        move || {
            watchdog.push(Heard::Failed(format!(
            "the run did not finish within {:.0} s (four times the model's {:.1} s, plus 30 s): a worker may be stuck",
            limit_ms / 1000.0,
            (limit_ms - 30_000.0) / 4000.0
        )));
        },
    );
    let mut t0: Option<f64> = None;
    // What the page hears, until the run ends: a server message, or why it ended.
    macro_rules! next_message {
        () => {
            loop {
                match inbox.next().await {
                    Heard::Server(text) => break from_json::<FromServer>(&text)?,
                    Heard::Failed(message) => return Err(RunError::Failed(message)),
                    Heard::Cancelled => {
                        return Err(RunError::Cancelled {
                            at_ms: t0.map_or(0.0, |t0| now_abs() - t0),
                        })
                    }
                    Heard::PoolDied { worker, message } => {
                        // A thread of the pool died with its job: a new one takes its
                        // place, and the server ends the job as an exception.
                        let channel = web_sys::MessageChannel::new().map_err(js)?;
                        let Some(slot) = pool.get_mut(worker) else {
                            return Err(RunError::Failed(format!(
                                "pool thread {worker} failed: {message}"
                            )));
                        };
                        *slot =
                            spawn_pool_worker(glue_source, worker, channel.port2(), &inbox).map_err(js)?;
                        server
                            .0
                            .post_with_ports(
                                &to_json(&ToServer::Replaced { worker, message }),
                                &[channel.port1()],
                            )
                            .map_err(js)?;
                    }
                }
            }
        };
    }

    server.0.post(&to_json(&ToServer::Setup {
        config: config.clone(),
        faults: faults.clone(),
        log: log.cloned(),
    }));
    loop {
        match next_message!() {
            FromServer::WantPool { workers } => {
                let mut server_ends = Vec::new();
                for i in 0..workers as usize {
                    let channel = web_sys::MessageChannel::new().map_err(js)?;
                    pool.push(spawn_pool_worker(glue_source, i, channel.port2(), &inbox).map_err(js)?);
                    server_ends.push(channel.port1());
                }
                server
                    .0
                    .post_with_ports(&to_json(&ToServer::Pool), &server_ends)
                    .map_err(js)?;
            }
            FromServer::Ready { .. } => break,
            FromServer::Failed { message } => return Err(RunError::Failed(message)),
            _ => {}
        }
    }
    let start = now_abs();
    t0 = Some(start);
    observer.started(start);
    server.0.post(&to_json(&ToServer::Go { t0_abs: start }));
    let mut next = 0;
    let send = |id: u64| {
        let sent_abs = now_abs();
        observer.event(&Event::Sent {
            request: id,
            t: sent_abs - start,
        });
        server.0.post(&to_json(&ToServer::Request { id, sent_abs }));
    };
    while next < config.concurrency {
        send(next);
        next += 1;
    }
    loop {
        match next_message!() {
            FromServer::Events { events } => {
                for event in &events {
                    observer.event(event);
                    if let Event::Logged { entry } = event {
                        super::log::heard(entry);
                    }
                    // ab: this client sends its next request now.
                    if matches!(event, Event::Responded { .. }) && next < config.requests {
                        send(next);
                        next += 1;
                    }
                }
            }
            FromServer::Lag { samples } => {
                let on_run: Vec<[f64; 2]> = samples.into_iter().map(|[t, lag]| [t - start, lag]).collect();
                observer.lag(&on_run);
            }
            FromServer::Done { report } => return Ok(*report),
            FromServer::Failed { message } => return Err(RunError::Failed(message)),
            FromServer::Ready { .. } | FromServer::WantPool { .. } => {}
        }
    }
}
