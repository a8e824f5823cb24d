//! The load generator, on the page: it talks to the server worker the way clients talk
//! HTTP (a request message in, a response message out, each client sending its next
//! request when its response arrives, as `ab` does) and tells an [`Observer`] what
//! happens as it happens. It knows nothing of what the observer draws.

use super::now_abs;
use super::protocol::{from_json, to_json, FromServer, Role, ToServer};
use super::worker::{spawn_worker, Inbox, Spawned};
use loopscope::model::{Config, Report, Variant, Work};
use loopscope::runtime::Event;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;

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

/// What the load generator hears: the server's messages, and its workers' errors.
enum Heard {
    Server(String),
    Failed(String),
}

/// Runs `config` on a fresh server worker and returns its measured report, telling
/// `observer` everything as it happens. `predicted` is the model's report for it.
///
/// The first time a page runs an endpoint with a kind of work, a rehearsal goes first,
/// off the clock: the same endpoint with a few requests of a few ms, so that the
/// browser has compiled the code the measured run executes (WebAssembly functions are
/// compiled on first call; cold, the first run measured up to 13 ms slower than later
/// ones, see BENCHMARKS.md). Its wall time is reported as `measurement.rehearsal_ms`.
pub async fn measure(
    config: &Config,
    glue_url: &str,
    predicted: &Report,
    observer: &dyn Observer,
) -> Result<Report, String> {
    let key = (config.variant, config.work);
    let rehearsal_ms = if REHEARSED.with(|r| r.borrow().contains(&key)) {
        None
    } else {
        let start = now_abs();
        let rehearsal = rehearsal_of(config);
        let rehearsal_predicted = loopscope::simulate(&rehearsal).map_err(|e| e.message)?;
        measure_once(&rehearsal, glue_url, &rehearsal_predicted, &Unobserved).await?;
        REHEARSED.with(|r| r.borrow_mut().insert(key));
        Some(now_abs() - start)
    };
    let mut report = measure_once(config, glue_url, predicted, observer).await?;
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

async fn measure_once(
    config: &Config,
    glue_url: &str,
    predicted: &Report,
    observer: &dyn Observer,
) -> Result<Report, String> {
    if page_hidden() {
        return Err("the page is hidden: browsers throttle hidden tabs' timers, so a run would measure the throttling; show the page and run again".into());
    }
    let js = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let inbox: Inbox<Heard> = Inbox::default();
    let (messages, errors) = (inbox.clone(), inbox.clone());
    let server = Counted::new(
        spawn_worker(
            glue_url,
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
    // A watchdog, so a wedged worker rejects the run instead of hanging it.
    let limit_ms = 30_000.0 + 3.0 * (predicted.stats.makespan_ms + config.bg_ms * config.requests as f64);
    let watchdog = inbox.clone();
    wasm_bindgen_futures::spawn_local(async move {
        gloo_timers::future::sleep(std::time::Duration::from_millis(limit_ms as u64)).await;
        watchdog.push(Heard::Failed(format!(
            "the run did not finish within {:.0} s",
            limit_ms / 1000.0
        )));
    });

    server.0.post(&to_json(&ToServer::Setup {
        config: config.clone(),
    }));
    loop {
        let message = match inbox.next().await {
            Heard::Server(text) => from_json::<FromServer>(&text)?,
            Heard::Failed(message) => return Err(message),
        };
        match message {
            FromServer::WantPool { workers } => {
                let mut server_ends = Vec::new();
                for i in 0..workers {
                    let channel = web_sys::MessageChannel::new().map_err(js)?;
                    let errors = inbox.clone();
                    pool.push(Counted::new(
                        spawn_worker(
                            glue_url,
                            Role::Pool,
                            &format!("loopscope pool thread {i}"),
                            Some(channel.port2()),
                            |_| {}, // it talks to the server
                            move |e| errors.push(Heard::Failed(format!("pool thread {i} failed: {e}"))),
                        )
                        .map_err(js)?,
                    ));
                    server_ends.push(channel.port1());
                }
                server
                    .0
                    .post_with_ports(&to_json(&ToServer::Pool), &server_ends)
                    .map_err(js)?;
            }
            FromServer::Ready { .. } => break,
            FromServer::Failed { message } => return Err(message),
            _ => {}
        }
    }
    let t0 = now_abs();
    observer.started(t0);
    server.0.post(&to_json(&ToServer::Go { t0_abs: t0 }));
    let mut next = 0;
    let send = |id: u64| {
        let sent_abs = now_abs();
        observer.event(&Event::Sent {
            request: id,
            t: sent_abs - t0,
        });
        server.0.post(&to_json(&ToServer::Request { id, sent_abs }));
    };
    while next < config.concurrency {
        send(next);
        next += 1;
    }
    loop {
        let message = match inbox.next().await {
            Heard::Server(text) => from_json::<FromServer>(&text)?,
            Heard::Failed(message) => return Err(message),
        };
        match message {
            FromServer::Events { events } => {
                for event in &events {
                    observer.event(event);
                    // ab: this client sends its next request now.
                    if matches!(event, Event::Responded { .. }) && next < config.requests {
                        send(next);
                        next += 1;
                    }
                }
            }
            FromServer::Lag { samples } => {
                let on_run: Vec<[f64; 2]> = samples.into_iter().map(|[t, lag]| [t - t0, lag]).collect();
                observer.lag(&on_run);
            }
            FromServer::Done { report } => return Ok(*report),
            FromServer::Failed { message } => return Err(message),
            FromServer::Ready { .. } | FromServer::WantPool { .. } => {}
        }
    }
}
