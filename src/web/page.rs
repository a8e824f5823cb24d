//! The page's side: `loopscope.run(config)`. The page is the load generator — it talks
//! to the server worker the way clients talk HTTP: a request message in, a response
//! message out, each client sending its next request when its response arrives.

use super::server::{FromServer, ToServer};
use super::{from_json, now_abs, spawn_worker, to_json, Inbox};
use crate::model::{fidelity::fidelity, Config, LiveEvent, Variant, Work};
use crate::view::live::LiveRun;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// Told `true` when a run starts and `false` when it ends.
type RunningListener = Rc<dyn Fn(bool)>;

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
#[wasm_bindgen]
pub fn live_workers() -> u32 {
    LIVE_WORKERS.with(Cell::get)
}

/// Whether a run is going.
#[wasm_bindgen]
pub fn is_running() -> bool {
    RUNNING.with(Cell::get)
}

/// Held while a run is going; one at a time, for the JS API and the page alike.
pub(crate) struct Running;

/// `f` is told whenever a run starts or ends, whoever started it (the page's buttons
/// or `loopscope.run` from the console), so the page can show it.
pub(crate) fn on_running_change(f: RunningListener) {
    ON_RUNNING.with(|slot| *slot.borrow_mut() = Some(f));
}

fn tell_running(running: bool) {
    if let Some(f) = ON_RUNNING.with(|slot| slot.borrow().clone()) {
        f(running);
    }
}

/// Claims the one run slot, or says why not.
pub(crate) fn begin_run() -> Result<Running, JsValue> {
    if RUNNING.with(|r| r.replace(true)) {
        return Err(error(
            "a run is already going: wait for it to finish (one run at a time, so runs do not compete for the cores)",
        ));
    }
    tell_running(true);
    Ok(Running)
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|r| r.set(false));
        tell_running(false);
    }
}

/// A worker this page started, counted while it lives.
struct Live(super::Spawned);

impl Live {
    fn new(worker: super::Spawned) -> Live {
        LIVE_WORKERS.with(|n| n.set(n.get() + 1));
        Live(worker)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        LIVE_WORKERS.with(|n| n.set(n.get() - 1));
    }
}

fn error(message: impl AsRef<str>) -> JsValue {
    js_sys::Error::new(message.as_ref()).into()
}

fn page_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Hidden)
}

/// `run(config, glue_url)`: runs `config` for real and resolves to
/// `{ predicted, measured, fidelity }`. Rejects with the core's message for an invalid
/// config, and while another run is going (runs would compete for the same cores, so
/// loopscope runs one at a time rather than queueing silently).
#[wasm_bindgen]
pub fn run(config: JsValue, glue_url: String) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        let config: Config = crate::wasm_api::config_from_js(config).map_err(JsValue::from)?;
        if let Some(problem) = config.browser_problems().into_iter().next() {
            return Err(error(problem.message));
        }
        let _running = begin_run()?;
        let predicted = crate::simulate(&config).map_err(|e| error(e.message))?;
        let mut measured = measure(&config, &glue_url, predicted.stats.makespan_ms, None).await?;
        if let Some(m) = measured.measurement.as_mut() {
            if page_hidden() {
                m.warnings.push(
                    "the page was hidden when the run ended: browsers throttle hidden tabs' timers"
                        .to_string(),
                );
            }
        }
        let check = fidelity(&predicted, &measured);
        let out = js_sys::Object::new();
        js_sys::Reflect::set(&out, &"predicted".into(), &crate::wasm_api::to_js(&predicted)?)?;
        js_sys::Reflect::set(&out, &"measured".into(), &crate::wasm_api::to_js(&measured)?)?;
        js_sys::Reflect::set(&out, &"fidelity".into(), &crate::wasm_api::to_js(&check)?)?;
        Ok(out.into())
    })
}

/// Runs `config` on a fresh server worker and returns its measured report, feeding
/// `live` (if given) with everything as it happens.
///
/// The first time a page runs an endpoint with a kind of work, a rehearsal goes first,
/// off the clock: the same endpoint with a few requests of a few ms, so that the
/// browser has compiled the code the measured run executes (WebAssembly functions are
/// compiled on first call; cold, the first run measured up to 13 ms slower than later
/// ones, see BENCHMARKS.md). Its wall time is reported as `measurement.rehearsal_ms`.
pub(crate) async fn measure(
    config: &Config,
    glue_url: &str,
    predicted_ms: f64,
    live: Option<Rc<RefCell<LiveRun>>>,
) -> Result<crate::Report, JsValue> {
    let key = (config.variant, config.work);
    let rehearsal_ms = if REHEARSED.with(|r| r.borrow().contains(&key)) {
        None
    } else {
        let start = now_abs();
        let rehearsal = rehearsal_of(config);
        let rehearsal_predicted = crate::simulate(&rehearsal).map_or(0.0, |r| r.stats.makespan_ms);
        measure_once(&rehearsal, glue_url, rehearsal_predicted, None).await?;
        REHEARSED.with(|r| r.borrow_mut().insert(key));
        Some(now_abs() - start)
    };
    let mut report = measure_once(config, glue_url, predicted_ms, live).await?;
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
    predicted_ms: f64,
    live: Option<Rc<RefCell<LiveRun>>>,
) -> Result<crate::Report, JsValue> {
    if page_hidden() {
        return Err(error("the page is hidden: browsers throttle hidden tabs' timers, so a run would measure the throttling; show the page and run again"));
    }
    let inbox = Inbox::default();
    let sink = inbox.clone();
    let server = Live::new(spawn_worker(
        glue_url,
        "server",
        "loopscope server (one uvicorn worker)",
        None,
        move |m| sink.push(m),
    )?);
    // The pool workers: this page starts them when the server asks, and terminates
    // them (dropping them) when the run ends, however it ends.
    let mut pool: Vec<Live> = Vec::new();
    // A watchdog, so a wedged worker rejects the promise instead of hanging it.
    let limit_ms = 30_000.0 + 3.0 * (predicted_ms + config.bg_ms * config.requests as f64);
    let watchdog = inbox.clone();
    wasm_bindgen_futures::spawn_local(async move {
        gloo_timers::future::sleep(std::time::Duration::from_millis(limit_ms as u64)).await;
        watchdog.push(to_json(&FromServer::Failed {
            message: format!("the run did not finish within {:.0} s", limit_ms / 1000.0),
        }));
    });

    server.0.post(&to_json(&ToServer::Setup {
        config: config.clone(),
    }));
    loop {
        match from_json::<FromServer>(&inbox.next().await).map_err(error)? {
            FromServer::WantPool { workers } => {
                let mut server_ends = Vec::new();
                for i in 0..workers {
                    let channel = web_sys::MessageChannel::new()?;
                    let sink = inbox.clone();
                    pool.push(Live::new(spawn_worker(
                        glue_url,
                        "pool",
                        &format!("loopscope pool thread {i}"),
                        Some(channel.port2()),
                        move |m| sink.push(m), // only its errors: it talks to the server
                    )?));
                    server_ends.push(channel.port1());
                }
                server
                    .0
                    .post_with_ports(&to_json(&ToServer::Pool), &server_ends)?;
            }
            FromServer::Ready { .. } => break,
            FromServer::Failed { message } => return Err(error(message)),
            _ => {}
        }
    }
    let t0 = now_abs();
    if let Some(live) = &live {
        live.borrow_mut().t0_abs = Some(t0);
    }
    server.0.post(&to_json(&ToServer::Go { t0_abs: t0 }));
    let mut next = 0;
    let send = |id: u64| {
        let sent_abs = now_abs();
        if let Some(live) = &live {
            live.borrow_mut().sent(id, sent_abs - t0);
        }
        server.0.post(&to_json(&ToServer::Request { id, sent_abs }));
    };
    while next < config.concurrency {
        send(next);
        next += 1;
    }
    loop {
        match from_json::<FromServer>(&inbox.next().await).map_err(error)? {
            FromServer::Events { events } => {
                for event in &events {
                    if let Some(live) = &live {
                        live.borrow_mut().apply(event);
                    }
                    // ab: this client sends its next request now.
                    if matches!(event, LiveEvent::Responded { .. }) && next < config.requests {
                        send(next);
                        next += 1;
                    }
                }
            }
            FromServer::Lag { samples } => {
                if let Some(live) = &live {
                    live.borrow_mut()
                        .lag(samples.into_iter().map(|[t, lag]| [t - t0, lag]));
                }
            }
            FromServer::Done { report } => return Ok(*report),
            FromServer::Failed { message } => return Err(error(message)),
            FromServer::Ready { .. } | FromServer::WantPool { .. } => {}
        }
    }
}
