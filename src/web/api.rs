//! Every export JavaScript calls, in one place: what `www/main.js` puts on
//! `window.loopscope`, what starts the page, and the entry point of a worker. Thin:
//! read the arguments, call the core or the runtime, hand back plain JS values.

use crate::page;
use crate::runtime::loadgen::{self, Observer, Run, RunError};
use crate::runtime::protocol::Role;
use crate::runtime::{broker, log, pool, server, worker};
use js_sys::{Array, Object, Reflect};
use loopscope::fidelity::fidelity;
use loopscope::model::input::Raw;
use loopscope::model::Event;
use loopscope::model::{Config, ConfigError, Faults, Recorder, Report, Source, Target};
use serde::Serialize;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

/// A value for JS: `None` → `null`, maps → plain objects, so `JSON.stringify`
/// round-trips it.
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_sys::Error::new(&e.to_string()).into())
}

/// A JS `Error` with `message`.
pub fn error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

/// One JS value, as the field rules read it: numbers stay numbers (`NaN` too), strings
/// stay strings, anything else is described.
fn raw_of(value: &JsValue) -> Raw {
    if let Some(x) = value.as_f64() {
        Raw::Number(x)
    } else if let Some(s) = value.as_string() {
        Raw::Str(s)
    } else if value.is_null() {
        Raw::Other("null".into())
    } else if let Some(b) = value.as_bool() {
        Raw::Other(b.to_string())
    } else if value.is_bigint() {
        let digits = value
            .unchecked_ref::<js_sys::BigInt>()
            .to_string(10)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default();
        Raw::Other(format!("{digits}n (a BigInt)"))
    } else if Array::is_array(value) {
        Raw::Other("an array".into())
    } else {
        Raw::Other("an object".into())
    }
}

/// What a JS value is, for "got ...".
fn described(value: &JsValue) -> String {
    if value.is_undefined() {
        "nothing".into()
    } else {
        raw_of(value).shown()
    }
}

/// Reads a config object from JS (snake_case fields; missing ones take the tutorial's
/// defaults, a missing `concurrency` is `requests`, all at once, as on the command
/// line; `scale` multiplies the durations, as the page's time scale does, 1 when not
/// given) by the core's field rules for `target`: every problem, each naming its field.
fn read_js_config(value: &JsValue, target: Target) -> Result<Config, Vec<ConfigError>> {
    if !value.is_object() || Array::is_array(value) || value.is_function() {
        return Err(vec![ConfigError::new(
            "config",
            format!(
                "a config must be an object such as {{variant: \"async_io\", requests: 10}}, got {}",
                described(value)
            ),
        )]);
    }
    let object: &Object = value.unchecked_ref();
    let pairs: Vec<(String, Raw)> = Object::keys(object)
        .iter()
        .filter_map(|key| {
            let name = key.as_string()?;
            let v = Reflect::get(value, &key).ok()?;
            // An undefined property is one not given, as JSON.stringify has it.
            (!v.is_undefined()).then(|| (name, raw_of(&v)))
        })
        .collect();
    loopscope::view::settings::read_scaled(&Config::default(), &pairs, target)
}

/// The JS error for a refused config: every message, and `problems` as `[{field,
/// message}]`.
fn refused(problems: &[ConfigError]) -> JsValue {
    let text: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    let e = js_sys::Error::new(&format!("invalid config: {}", text.join("; ")));
    if let Ok(list) = to_js(problems) {
        let _ = Reflect::set(&e, &"problems".into(), &list);
    }
    e.into()
}

/// `simulate(config, options)`: the virtual model's report for one variant, at once.
/// Options: `{summary: true}` gives the numbers and a latency histogram only (up to 10
/// million requests); `{columns: true}` gives the report with its requests and stalls
/// as typed arrays, column by column (what a chart of 100 000 requests wants, without
/// an object per request).
#[wasm_bindgen]
pub fn simulate(config: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let (summary, columns) = read_simulate_options(&options).map_err(|p| refused(&p))?;
    let target = if summary { Target::Summary } else { Target::Model };
    let config = read_js_config(&config, target).map_err(|p| refused(&p))?;
    if summary {
        return to_js(&loopscope::simulate_summary(&config).map_err(|e| refused(&[e]))?);
    }
    let mut report = loopscope::simulate(&config).map_err(|e| refused(&[e]))?;
    if !columns {
        return to_js(&report);
    }
    let requests = std::mem::take(&mut report.requests);
    let stalls = std::mem::take(&mut report.loop_stalls);
    let out = to_js(&report)?;
    Reflect::set(&out, &"requests".into(), &request_columns(&requests))?;
    Reflect::set(&out, &"loop_stalls".into(), &stall_columns(&stalls))?;
    Ok(out)
}

/// `simulate`'s options: `(summary, columns)`.
fn read_simulate_options(options: &JsValue) -> Result<(bool, bool), Vec<ConfigError>> {
    if options.is_undefined() || options.is_null() {
        return Ok((false, false));
    }
    let bad = |message: String| vec![ConfigError::new("options", message)];
    if !options.is_object() || Array::is_array(options) {
        return Err(bad(format!(
            "simulate's options must be an object such as {{summary: true}}, got {}",
            described(options)
        )));
    }
    let mut flags = (false, false);
    let object: &Object = options.unchecked_ref();
    for key in Object::keys(object).iter() {
        let name = key.as_string().unwrap_or_default();
        let value = Reflect::get(options, &key).unwrap_or(JsValue::UNDEFINED);
        let slot = match name.as_str() {
            "summary" => &mut flags.0,
            "columns" => &mut flags.1,
            _ => {
                return Err(bad(format!(
                    "unknown option '{name}': simulate takes summary and columns"
                )))
            }
        };
        *slot = value
            .as_bool()
            .ok_or_else(|| bad(format!("{name} must be true or false, got {}", described(&value))))?;
    }
    if flags.0 && flags.1 {
        return Err(bad(
            "summary and columns do not go together: a summary keeps no request".into(),
        ));
    }
    Ok(flags)
}

fn set(o: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(o, &key.into(), &value.into());
}

/// A report's requests as typed arrays: `id`, `worker`, the times, `status`,
/// `background_done_ms` (`NaN`: none) and the phases of request `i` at
/// `phase_offsets[i]..phase_offsets[i + 1]`, their kind and thread as codes into
/// `phase_kinds` and `places`.
fn request_columns(r: &loopscope::model::Requests) -> JsValue {
    use loopscope::model::{PhaseKind, Place};
    let o = Object::new();
    let f64s = |v: &[f64]| js_sys::Float64Array::from(v);
    let ids: Vec<f64> = r.id_column().iter().map(|&i| i as f64).collect();
    set(&o, "length", r.len() as f64);
    set(&o, "id", f64s(&ids));
    set(&o, "worker", js_sys::Uint32Array::from(r.worker_column()));
    set(&o, "sent_ms", f64s(r.sent_column()));
    set(&o, "accepted_ms", f64s(r.accepted_column()));
    set(&o, "responded_ms", f64s(r.responded_column()));
    let latency: Vec<f64> = r.iter().map(|q| q.latency_ms).collect();
    set(&o, "latency_ms", f64s(&latency));
    set(&o, "status", js_sys::Uint16Array::from(r.status_column()));
    set(&o, "background_done_ms", f64s(r.background_done_column()));
    set(&o, "phase_offsets", js_sys::Uint32Array::from(r.phase_offsets()));
    let phases = r.phases();
    let kinds: Vec<u8> = phases.iter().map(|p| p.kind.code()).collect();
    let places: Vec<u8> = phases.iter().map(|p| p.on.code()).collect();
    let blocking: Vec<u8> = phases.iter().map(|p| u8::from(p.blocking)).collect();
    let starts: Vec<f64> = phases.iter().map(|p| p.start_ms).collect();
    let ends: Vec<f64> = phases.iter().map(|p| p.end_ms).collect();
    set(&o, "phase_kind", js_sys::Uint8Array::from(&kinds[..]));
    set(&o, "phase_on", js_sys::Uint8Array::from(&places[..]));
    set(&o, "phase_blocking", js_sys::Uint8Array::from(&blocking[..]));
    set(&o, "phase_start_ms", f64s(&starts));
    set(&o, "phase_end_ms", f64s(&ends));
    let names = |ids: Vec<JsValue>| ids.into_iter().collect::<Array>();
    set(
        &o,
        "phase_kinds",
        names(
            PhaseKind::ALL
                .iter()
                .map(|k| to_js(k).unwrap_or_default())
                .collect(),
        ),
    );
    set(
        &o,
        "places",
        names(Place::ALL.iter().map(|p| to_js(p).unwrap_or_default()).collect()),
    );
    o.into()
}

/// The loop's stalls as typed arrays, their causes as codes into `causes`.
fn stall_columns(stalls: &[loopscope::model::Stall]) -> JsValue {
    let o = Object::new();
    let mut causes: Vec<&str> = Vec::new();
    let cause: Vec<u32> = stalls
        .iter()
        .map(|s| match causes.iter().position(|c| *c == s.cause) {
            Some(i) => i as u32,
            None => {
                causes.push(&s.cause);
                (causes.len() - 1) as u32
            }
        })
        .collect();
    let col = |f: fn(&loopscope::model::Stall) -> f64| -> js_sys::Float64Array {
        js_sys::Float64Array::from(&stalls.iter().map(f).collect::<Vec<_>>()[..])
    };
    set(&o, "length", stalls.len() as f64);
    set(&o, "start_ms", col(|s| s.start_ms));
    set(&o, "end_ms", col(|s| s.end_ms));
    set(&o, "request", col(|s| s.request as f64));
    set(&o, "worker", col(|s| s.worker as f64));
    set(&o, "cause", js_sys::Uint32Array::from(&cause[..]));
    set(
        &o,
        "causes",
        causes.iter().map(|c| JsValue::from_str(c)).collect::<Array>(),
    );
    o.into()
}

/// `problems(config)`: every reason `run(config)` would refuse it, as `[{field,
/// message}]`: empty when it can run. Never throws.
#[wasm_bindgen]
pub fn problems(config: JsValue) -> JsValue {
    let list = read_js_config(&config, Target::Browser).err().unwrap_or_default();
    to_js(&list).unwrap_or_else(|_| Array::new().into())
}

/// Reads `run`'s options: `{faults: {raise_in: [ids], crash_in: [ids]}}`, a test's
/// way to make threadpool jobs fail; nothing else.
fn read_options(options: &JsValue, config: &Config) -> Result<Faults, Vec<ConfigError>> {
    if options.is_undefined() || options.is_null() {
        return Ok(Faults::default());
    }
    let bad = |message: String| vec![ConfigError::new("options", message)];
    if !options.is_object() || Array::is_array(options) {
        return Err(bad(format!(
            "run's options must be an object such as {{faults: {{raise_in: [1]}}}}, got {}",
            described(options)
        )));
    }
    let object: &Object = options.unchecked_ref();
    for key in Object::keys(object).iter() {
        if key.as_string().as_deref() != Some("faults") {
            return Err(bad(format!(
                "unknown option {}: run takes only faults",
                raw_of(&key).shown()
            )));
        }
    }
    let faults = Reflect::get(options, &"faults".into()).unwrap_or(JsValue::UNDEFINED);
    let faults: Faults = if faults.is_undefined() {
        Faults::default()
    } else {
        serde_wasm_bindgen::from_value(faults).map_err(|e| {
            bad(format!(
                "faults must be {{raise_in: [request ids], crash_in: [request ids]}}: {e}"
            ))
        })?
    };
    let problems = faults.problems(config);
    if problems.is_empty() {
        Ok(faults)
    } else {
        Err(problems)
    }
}

/// Keeps what a console run reports, so a cancelled run can still say what it measured.
struct Recording(RefCell<Recorder>);

impl Observer for Recording {
    fn event(&self, event: &Event) {
        let _ = self.0.borrow_mut().record(event);
    }
}

/// The JS error for a cancelled run: what it measured so far travels as `partial` (a
/// report cut short), with the prediction as `predicted`.
fn cancelled(at_ms: f64, partial: &Report, predicted: &Report) -> JsValue {
    let cut = partial.cut_short.as_ref();
    let e = js_sys::Error::new(&format!(
        "the run was cancelled {:.1} s in: {} of {} requests answered",
        at_ms / 1000.0,
        cut.map_or(0, |c| c.answered),
        cut.map_or(0, |c| c.requests)
    ));
    for (key, report) in [("partial", partial), ("predicted", predicted)] {
        if let Ok(value) = to_js(report) {
            let _ = Reflect::set(&e, &key.into(), &value);
        }
    }
    e.into()
}

/// `run(config, options, glue_source)`: runs `config` for real and resolves to
/// `{ predicted, measured, fidelity }`. Rejects with every problem of an invalid config
/// (as `problems` lists them), while another run is going, and when cancelled (the
/// error then carries the run so far as `partial`).
#[wasm_bindgen]
pub fn run(config: JsValue, options: JsValue, glue_source: String) -> js_sys::Promise {
    let read = read_js_config(&config, Target::Browser)
        .and_then(|config| read_options(&options, &config).map(|faults| (config, faults)));
    wasm_bindgen_futures::future_to_promise(async move {
        let (config, faults) = read.map_err(|p| refused(&p))?;
        let _running = loadgen::begin_run().map_err(|e| error(&e))?;
        let predicted = loopscope::simulate_with(&config, &faults).map_err(|e| refused(&[e]))?;
        let recording = Recording(RefCell::new(Recorder::new(config.clone())));
        let log_to = log::log_to(log::run_name("console"), config.variant).await;
        let measured = loadgen::measure(&Run {
            config: &config,
            faults: &faults,
            glue_source: &glue_source,
            predicted: &predicted,
            log: &log_to,
            observer: &recording,
        })
        .await;
        let mut measured = match measured {
            Ok(report) => report,
            Err(RunError::Failed(message)) => return Err(error(&message)),
            Err(RunError::Cancelled { at_ms }) => {
                let partial = recording.0.into_inner().finish_cut_short(Source::Measured, at_ms);
                return Err(cancelled(at_ms, &partial, &predicted));
            }
        };
        if let Some(m) = measured.measurement.as_mut() {
            if loadgen::page_hidden() {
                m.warnings.push(
                    "the page was hidden when the run ended: browsers throttle hidden tabs' timers"
                        .to_string(),
                );
            }
        }
        let check = fidelity(&predicted, &measured);
        let out = Object::new();
        Reflect::set(&out, &"predicted".into(), &to_js(&predicted)?)?;
        Reflect::set(&out, &"measured".into(), &to_js(&measured)?)?;
        Reflect::set(&out, &"fidelity".into(), &to_js(&check)?)?;
        Ok(out.into())
    })
}

/// `cancel()`: ends the run going on now (the page's or the console's); it rejects, or
/// the page shows it, as cut short. Returns whether a run was going.
#[wasm_bindgen]
pub fn cancel() -> bool {
    loadgen::cancel()
}

/// `predictionLog()`: resolves to every row the background tasks logged, newest first
/// (`{ run, variant, request_id, request, response, written_ms, written_abs_ms, stored,
/// error? }`): IndexedDB's, and those kept in memory where it would not take them.
#[wasm_bindgen]
pub fn prediction_log() -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async { to_js(&log::rows().await.entries) })
}

/// `clearPredictionLog()`: empties the log (IndexedDB and memory), as the page's Clear.
#[wasm_bindgen]
pub fn clear_prediction_log() -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async {
        log::clear_all().await.map_err(|e| error(&e))?;
        Ok(JsValue::UNDEFINED)
    })
}

/// Workers alive right now (each run's server and pool workers; 0 between runs).
#[wasm_bindgen]
pub fn live_workers() -> u32 {
    loadgen::live_workers()
}

/// Whether a run is going.
#[wasm_bindgen]
pub fn is_running() -> bool {
    loadgen::is_running()
}

/// `seek(t_ms)`: shows every timeline, the code and the console at `t_ms` on the runs'
/// clock, as the page's scrubber does. Refused while a run is going.
#[wasm_bindgen]
pub fn seek(t_ms: JsValue) -> Result<(), JsValue> {
    match t_ms.as_f64() {
        Some(t) => page::seek(t).map_err(|e| error(&e)),
        None => Err(error(&format!(
            "seek takes a time in ms, got {}",
            described(&t_ms)
        ))),
    }
}

/// `loopState(config, t_ms, worker)`: the model's event loop at `t_ms` of the run
/// `config` describes (its clock: the durations times `scale`): asyncio's ready queue
/// and timers, the connections not read yet, anyio's threadpool tokens and their line,
/// the GIL, the process pool, the task queue, the background tasks pending. `worker`
/// (a server worker, 0 when not given) for `--workers`. Runs of up to 2000 requests.
#[wasm_bindgen]
pub fn loop_state(config: JsValue, t_ms: JsValue, worker: JsValue) -> Result<JsValue, JsValue> {
    let config = read_js_config(&config, Target::Model).map_err(|p| refused(&p))?;
    let Some(t) = t_ms.as_f64() else {
        return Err(error(&format!(
            "loopState takes a time in ms, got {}",
            described(&t_ms)
        )));
    };
    let worker = if worker.is_undefined() {
        0
    } else {
        match worker.as_f64() {
            Some(w) if w >= 0.0 && w.fract() == 0.0 && w < 1e9 => w as u64,
            _ => {
                return Err(error(&format!(
                    "worker must be a server worker's number from 0, got {}",
                    described(&worker)
                )))
            }
        }
    };
    to_js(&loopscope::sim::trace::loop_state(&config, t, worker).map_err(|e| refused(&[e]))?)
}

/// `iterations(config)`: every iteration of the model's event loops (asyncio's
/// `_run_once`), in order: what its poll read, the timers it found due, the callbacks
/// it ran, and the loop after it. Runs of up to 2000 requests.
#[wasm_bindgen]
pub fn iterations(config: JsValue) -> Result<JsValue, JsValue> {
    let config = read_js_config(&config, Target::Model).map_err(|p| refused(&p))?;
    let trace = loopscope::sim::trace::trace(&config).map_err(|e| refused(&[e]))?;
    to_js(&trace.iterations)
}

/// Starts the page: `start_ui(glue_source)` from www/main.js.
#[wasm_bindgen]
pub fn start_ui(glue_source: String) -> Result<(), JsValue> {
    page::start(glue_source)
}

/// A worker's entry point, called by its bootstrap once the module is instantiated.
#[wasm_bindgen]
pub fn worker_entry(
    role: &str,
    early: Array,
    early_ports: Array,
    peer: JsValue,
    shared: JsValue,
) -> Result<(), JsValue> {
    console_error_panic_hook::set_once();
    let role: Role = serde_json::from_value(serde_json::Value::String(role.to_string()))
        .map_err(|_| error(&format!("unknown worker role {role:?}")))?;
    let handler: Box<dyn FnMut(String)> = match role {
        Role::Server => server::start(),
        Role::Pool => pool::start_worker(),
        Role::Broker => broker::start(),
    };
    worker::listen(handler, early, early_ports, peer, shared);
    Ok(())
}
