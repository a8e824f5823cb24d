//! The load generator, on the page: it talks to the server worker the way clients talk
//! HTTP (a request message in, a response message out, each client sending its next
//! request when its response arrives, as `ab` does) and tells an [`Observer`] what
//! happens as it happens. It knows nothing of what the observer draws.

use super::accept::AcceptQueue;
use super::gil::Gil;
use super::hold::Hold;
use super::probe;
use super::protocol::{
    from_json, to_json, FromBroker, FromServer, LogTo, Role, ServerPart, ToBroker, ToServer,
};
use super::worker::{spawn_worker, Inbox, Spawned};
use super::{cross_origin_isolated, hardware_concurrency, now_abs};
use loopscope::model::stats::most_at_once;
use loopscope::model::Event;
use loopscope::model::{
    Config, Faults, Measurement, Phase, PhaseKind, Place, ProbeStall, Recorder, Report, Source, Variant, Work,
};
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
    /// Server worker `worker`'s heartbeat lateness samples `[t_ms, lag_ms]`, on the
    /// run's timeline.
    fn lag(&self, _worker: u64, _samples: &[[f64; 2]]) {}
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

/// What the load generator hears: its workers' messages and errors, the watchdog and
/// a cancel.
enum Heard {
    /// A message from server worker `worker`.
    Server {
        worker: usize,
        text: String,
    },
    /// A message from the task queue's broker.
    Broker(String),
    Failed(String),
    /// Worker `worker` of server `server`'s threadpool (or process pool) died: it is
    /// replaced, and its job ends as an error.
    PoolDied {
        server: usize,
        processes: bool,
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

/// Starts a worker of a pool (`name`), talking to its owner through `port`, with its
/// process's GIL when it has one; `on_error` hears its death.
fn spawn_pool_worker(
    glue_source: &str,
    name: String,
    port: web_sys::MessagePort,
    gil: Option<&Gil>,
    on_error: impl FnMut(String) + 'static,
) -> Result<Counted, JsValue> {
    let shared = gil.map(|g| shared_object(Some(g), None));
    Ok(Counted::new(spawn_worker(
        glue_source,
        Role::Pool,
        &name,
        Some(port),
        shared.as_ref(),
        |_| {}, // it talks to its owner
        on_error,
    )?))
}

/// What a worker is started with besides its role: its process's GIL, the server
/// workers' shared accept queue.
fn shared_object(gil: Option<&Gil>, accept: Option<&AcceptQueue>) -> JsValue {
    let o = js_sys::Object::new();
    if let Some(g) = gil {
        let _ = js_sys::Reflect::set(&o, &"gil".into(), &g.buffer());
    }
    if let Some(q) = accept {
        let _ = js_sys::Reflect::set(&o, &"accept".into(), &q.buffer());
    }
    o.into()
}

/// A server worker's pools, as the page started them.
#[derive(Default)]
struct Pools {
    threads: Vec<Counted>,
    processes: Vec<Counted>,
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
    let python_gil = config.work == Work::PythonCpu;
    if python_gil && !cross_origin_isolated() {
        return Err(RunError::Failed(PYTHON_CPU_NEEDS_ISOLATION.into()));
    }
    if config.workers > 1 && !cross_origin_isolated() {
        return Err(RunError::Failed(WORKERS_NEED_ISOLATION.into()));
    }
    let js = |e: JsValue| RunError::Failed(format!("{e:?}"));
    let inbox: Inbox<Heard> = Inbox::default();
    let _current = Current::new(&inbox);
    let n = config.workers as usize;
    let task_queue = config.variant == Variant::TaskQueue;
    // One GIL per server process, shared with its pool threads.
    let gils: Vec<Option<Gil>> = (0..n).map(|_| python_gil.then(Gil::new)).collect();
    // With several server workers, the one accept queue they share.
    let accept = (n > 1).then(|| AcceptQueue::new(config.requests));
    let mut servers = Vec::with_capacity(n);
    for (w, gil) in gils.iter().enumerate() {
        let (messages, errors) = (inbox.clone(), inbox.clone());
        let shared = Some(shared_object(gil.as_ref(), accept.as_ref()));
        servers.push(Counted::new(
            spawn_worker(
                glue_source,
                Role::Server,
                &format!("loopscope server worker {w} (a uvicorn process)"),
                None,
                shared.as_ref(),
                move |text| messages.push(Heard::Server { worker: w, text }),
                move |e| errors.push(Heard::Failed(format!("server worker {w} failed: {e}"))),
            )
            .map_err(js)?,
        ));
    }
    // The task queue: a broker, its queue workers, and a channel from each server to it.
    let mut broker: Option<Counted> = None;
    let mut queue_workers: Vec<Counted> = Vec::new();
    let mut server_to_broker: Vec<Option<web_sys::MessagePort>> = (0..n).map(|_| None).collect();
    if task_queue {
        let (messages, errors) = (inbox.clone(), inbox.clone());
        let b = Counted::new(
            spawn_worker(
                glue_source,
                Role::Broker,
                "loopscope task queue broker",
                None,
                None,
                move |text| messages.push(Heard::Broker(text)),
                move |e| errors.push(Heard::Failed(format!("the task queue's broker failed: {e}"))),
            )
            .map_err(js)?,
        );
        let mut ports = Vec::new();
        for q in 0..config.queue_processes() as usize {
            let channel = web_sys::MessageChannel::new().map_err(js)?;
            let errors = inbox.clone();
            queue_workers.push(
                spawn_pool_worker(
                    glue_source,
                    format!("loopscope queue worker {q}"),
                    channel.port2(),
                    None,
                    move |e| errors.push(Heard::Failed(format!("queue worker {q} failed: {e}"))),
                )
                .map_err(js)?,
            );
            ports.push(channel.port1());
        }
        for slot in server_to_broker.iter_mut() {
            let channel = web_sys::MessageChannel::new().map_err(js)?;
            *slot = Some(channel.port1());
            ports.push(channel.port2());
        }
        b.0.post_with_ports(
            &to_json(&ToBroker::Setup {
                durations: config.durations(),
                hold: Hold::Sleep,
                log: log.cloned(),
                queue_workers: config.queue_processes(),
                servers: n as u64,
            }),
            &ports,
        )
        .map_err(js)?;
        broker = Some(b);
    }
    let mut pools: Vec<Pools> = (0..n).map(|_| Pools::default()).collect();
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
    // What the page hears, until the run ends: a worker's message, or why it ended.
    macro_rules! next_message {
        () => {
            loop {
                match inbox.next().await {
                    Heard::Server { worker, text } => break Heard::Server { worker, text },
                    Heard::Broker(text) => break Heard::Broker(text),
                    Heard::Failed(message) => return Err(RunError::Failed(message)),
                    Heard::Cancelled => {
                        return Err(RunError::Cancelled {
                            at_ms: t0.map_or(0.0, |t0| now_abs() - t0),
                        })
                    }
                    Heard::PoolDied {
                        server,
                        processes,
                        worker,
                        message,
                    } => {
                        // A thread (or process) of a pool died with its job: a new one
                        // takes its place, and the server ends the job as an exception.
                        let channel = web_sys::MessageChannel::new().map_err(js)?;
                        let (list, gil) = if processes {
                            (&mut pools[server].processes, None)
                        } else {
                            (&mut pools[server].threads, gils[server].as_ref())
                        };
                        let Some(slot) = list.get_mut(worker) else {
                            return Err(RunError::Failed(format!(
                                "a worker of server {server}'s pool ({worker}) failed: {message}"
                            )));
                        };
                        let errors = inbox.clone();
                        *slot = spawn_pool_worker(
                            glue_source,
                            format!("loopscope server {server} pool worker {worker} (replacement)"),
                            channel.port2(),
                            gil,
                            move |message| {
                                errors.push(Heard::PoolDied {
                                    server,
                                    processes,
                                    worker,
                                    message,
                                })
                            },
                        )
                        .map_err(js)?;
                        servers[server]
                            .0
                            .post_with_ports(
                                &to_json(&ToServer::Replaced {
                                    worker,
                                    processes,
                                    message,
                                }),
                                &[channel.port1()],
                            )
                            .map_err(js)?;
                    }
                }
            }
        };
    }

    for (w, server) in servers.iter().enumerate() {
        server.0.post(&to_json(&ToServer::Setup {
            config: config.clone(),
            faults: faults.clone(),
            log: log.cloned(),
            worker: w as u64,
        }));
    }
    // Every server ready, with its pools, and the broker with its queue workers.
    let mut ready = 0;
    let mut broker_ready = !task_queue;
    while ready < n || !broker_ready {
        match next_message!() {
            Heard::Server { worker, text } => match from_json::<FromServer>(&text)? {
                FromServer::WantPool { threads, processes } => {
                    let mut ports = Vec::new();
                    for (count, is_processes) in [(threads, false), (processes, true)] {
                        for i in 0..count as usize {
                            let channel = web_sys::MessageChannel::new().map_err(js)?;
                            let errors = inbox.clone();
                            let gil = (!is_processes).then(|| gils[worker].as_ref()).flatten();
                            let spawned = spawn_pool_worker(
                                glue_source,
                                format!(
                                    "loopscope server {worker} {} {i}",
                                    if is_processes { "process" } else { "pool thread" }
                                ),
                                channel.port2(),
                                gil,
                                move |message| {
                                    errors.push(Heard::PoolDied {
                                        server: worker,
                                        processes: is_processes,
                                        worker: i,
                                        message,
                                    })
                                },
                            )
                            .map_err(js)?;
                            if is_processes {
                                pools[worker].processes.push(spawned);
                            } else {
                                pools[worker].threads.push(spawned);
                            }
                            ports.push(channel.port1());
                        }
                    }
                    if let Some(port) = server_to_broker[worker].take() {
                        ports.push(port);
                    }
                    servers[worker]
                        .0
                        .post_with_ports(&to_json(&ToServer::Pool), &ports)
                        .map_err(js)?;
                }
                FromServer::Ready => ready += 1,
                FromServer::Failed { message } => return Err(RunError::Failed(message)),
                _ => {}
            },
            Heard::Broker(text) => match from_json::<FromBroker>(&text)? {
                FromBroker::Ready => broker_ready = true,
                FromBroker::Failed { message } => return Err(RunError::Failed(message)),
                FromBroker::Events { .. } => {}
            },
            _ => unreachable!("next_message! returns worker messages only"),
        }
    }
    let start = now_abs();
    t0 = Some(start);
    observer.started(start);
    for server in &servers {
        server.0.post(&to_json(&ToServer::Go { t0_abs: start }));
    }
    if let Some(b) = &broker {
        b.0.post(&to_json(&ToBroker::Go { t0_abs: start }));
    }
    // The report is recorded here, from every worker's events and the clients' sends.
    let mut rec = Recorder::new(config.clone());
    let mut record = |event: &Event| -> Result<(), RunError> {
        observer.event(event);
        if let Event::Logged { entry } = event {
            super::log::heard(entry);
        }
        rec.record(event).map_err(|e| RunError::Failed(e.to_string()))
    };
    let mut next = 0;
    // The clients' sends of one moment go as one message (or into the shared accept
    // queue together: connections that arrive at once).
    let mut sends: Vec<u64> = Vec::new();
    let send = |id: u64,
                sends: &mut Vec<u64>,
                record: &mut dyn FnMut(&Event) -> Result<(), RunError>|
     -> Result<(), RunError> {
        let sent_abs = now_abs();
        record(&Event::Sent {
            request: id,
            t: sent_abs - start,
        })?;
        sends.push(id);
        Ok(())
    };
    let flush = |sends: &mut Vec<u64>| {
        if sends.is_empty() {
            return;
        }
        match &accept {
            // New connections on the listening socket the server workers share.
            Some(queue) => {
                queue.push_all(sends);
                sends.clear();
            }
            None => servers[0].0.post(&to_json(&ToServer::Requests {
                ids: std::mem::take(sends),
            })),
        }
    };
    while next < config.concurrency {
        send(next, &mut sends, &mut record)?;
        next += 1;
    }
    flush(&mut sends);
    let mut parts: Vec<Option<ServerPart>> = (0..n).map(|_| None).collect();
    // task_queue: a log job per answered request; the run ends when all are done.
    let (mut jobs_expected, mut jobs_done) = (0u64, 0u64);
    let mut answered = 0u64;
    loop {
        let all_parts = parts.iter().all(Option::is_some);
        if all_parts && (!task_queue || jobs_done >= jobs_expected) {
            break;
        }
        let events = match next_message!() {
            Heard::Server { worker, text } => match from_json::<FromServer>(&text)? {
                FromServer::Events { events } => events,
                FromServer::Lag { samples } => {
                    let on_run: Vec<[f64; 2]> =
                        samples.into_iter().map(|[t, lag]| [t - start, lag]).collect();
                    observer.lag(worker as u64, &on_run);
                    continue;
                }
                FromServer::Done { part } => {
                    parts[worker] = Some(part);
                    continue;
                }
                FromServer::Failed { message } => return Err(RunError::Failed(message)),
                FromServer::Ready | FromServer::WantPool { .. } => continue,
            },
            Heard::Broker(text) => match from_json::<FromBroker>(&text)? {
                FromBroker::Events { events } => events,
                FromBroker::Failed { message } => return Err(RunError::Failed(message)),
                FromBroker::Ready => continue,
            },
            _ => unreachable!("next_message! returns worker messages only"),
        };
        for event in &events {
            record(event)?;
            match event {
                Event::Responded { answer, .. } => {
                    if task_queue && answer.is_ok() {
                        jobs_expected += 1;
                    }
                    answered += 1;
                    if answered == config.requests {
                        // Every request is answered: the servers finish what is left.
                        for server in &servers {
                            server.0.post(&to_json(&ToServer::Finish));
                        }
                    }
                    // ab: this client sends its next request now.
                    if next < config.requests {
                        send(next, &mut sends, &mut record)?;
                        next += 1;
                    }
                }
                Event::BackgroundDone { .. } if task_queue => jobs_done += 1,
                _ => {}
            }
        }
        flush(&mut sends);
    }
    let parts: Vec<ServerPart> = parts.into_iter().flatten().collect();
    // The run is over: the page draws a frame before the report is built.
    gloo_timers::future::TimeoutFuture::new(0).await;
    assemble(rec, parts, config, faults).map_err(RunError::Failed)
}

/// Why a run on several server workers cannot run in this page.
pub const WORKERS_NEED_ISOLATION: &str = "several server workers share one accept queue, kept in a SharedArrayBuffer, and this page is not cross-origin isolated (opened from a file?): the timelines show the prediction; `make run` serves the page isolated";

/// Why a `python_cpu` run cannot run in this page.
pub const PYTHON_CPU_NEEDS_ISOLATION: &str = "python_cpu work needs a real GIL, a lock in a SharedArrayBuffer, and this page is not cross-origin isolated (opened from a file?): the timelines show the prediction; `make run` serves the page isolated";

/// The run's report: what the page recorded from every worker's events, with what each
/// server worker measured (its probe, its pools) and what could make it wrong.
fn assemble(
    rec: Recorder,
    parts: Vec<ServerPart>,
    config: &Config,
    faults: &Faults,
) -> Result<Report, String> {
    let mut report = rec.finish(Source::Measured).map_err(|e| e.to_string())?;
    let mut probe_stalls: Vec<ProbeStall> = parts
        .iter()
        .flat_map(|p| p.probe_stalls.iter().cloned())
        .collect();
    probe_stalls.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    report.stats.set_probe(&probe_stalls);
    let mut warnings = Vec::new();
    // Gaps in the heartbeat while the loop ran nothing: the browser's own work.
    let mut probe_gaps: Vec<ProbeStall> = parts.iter().flat_map(|p| p.probe_gaps.iter().cloned()).collect();
    probe_gaps.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    let unexplained: f64 = probe_gaps.iter().map(|p| p.end_ms - p.start_ms).sum();
    if unexplained > 50.0 && unexplained > 0.1 * report.stats.makespan_ms {
        warnings.push(format!(
            "the heartbeat ran late for {unexplained:.0} ms while the loop ran nothing: timers were throttled \
             (hidden tab?) or the machine was busy, so the run may be late"
        ));
    }
    let cores = hardware_concurrency();
    // Threads computing at once: compute work, or a `time.sleep` on an event loop that
    // spins (a page that is not cross-origin isolated has no Atomics.wait; there pool
    // threads play their sleeps on timers, but a loop must hold everything while it
    // blocks, so it spins). Sleeping threads share nothing.
    let spins = !cross_origin_isolated();
    let busy = |p: &&Phase| {
        p.blocking
            && match (config.work, p.on) {
                (_, Place::Loop) if spins => true,
                (Work::Sleep, _) => false,
                (_, _) => p.kind == PhaseKind::Cpu,
            }
    };
    let computing = most_at_once(
        report
            .requests
            .iter()
            .flat_map(|r| r.phases.iter().filter(busy).map(|p| (p.start_ms, p.end_ms))),
    );
    if computing > cores as usize && spins && config.work == Work::Sleep {
        warnings.push(format!(
            "time.sleep spins on an event loop of this page (not cross-origin isolated): up to {computing} loops \
             spun at once on {cores} cores, so they shared cores and woke late; real time.sleep takes no core \
             (`make run` serves the page isolated)"
        ));
    } else if computing > cores as usize {
        warnings.push(format!(
            "compute work: up to {computing} threads computed at once on {cores} cores, so they shared \
             cores; the model assumes a core each (work that releases the GIL, like NumPy, or processes)"
        ));
    }
    let heartbeat = probe::Heartbeat::here();
    let period = heartbeat.period_ms;
    let timer_lateness_ms = parts.iter().map(|p| p.idle_lateness_ms).fold(0.0, f64::max);
    let first = parts.first().ok_or("no server worker reported")?;
    report.measurement = Some(Measurement {
        probe_lag: first.probe_lag.clone(),
        probe_lag_by_worker: parts.iter().skip(1).map(|p| p.probe_lag.clone()).collect(),
        probe_period_ms: period,
        probe_threshold_ms: heartbeat.threshold_ms,
        timer_lateness_ms,
        cross_origin_isolated: cross_origin_isolated(),
        loop_block_method: first.loop_block_method.clone(),
        compute_rounds_per_ms: first.compute_rounds_per_ms,
        hardware_concurrency: cores,
        pool_workers: parts.iter().map(|p| p.pool_workers).sum(),
        process_workers: parts.iter().map(|p| p.process_workers).sum(),
        queue_workers: config.queue_processes(),
        gil: parts.iter().any(|p| p.gil),
        pool_start_ms: parts.iter().map(|p| p.pool_start_ms).fold(0.0, f64::max),
        rehearsal_ms: None,
        warnings,
    });
    report.probe_stalls = Some(probe_stalls);
    report.probe_gaps = probe_gaps;
    report.faults = faults.clone();
    Ok(report)
}
