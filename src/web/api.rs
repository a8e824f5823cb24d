//! Every export JavaScript calls, in one place: what `www/main.js` puts on
//! `window.loopscope`, what starts the page, and the entry point of a worker. Thin:
//! read the arguments, call the core or the runtime, hand back plain JS values.

use crate::page;
use crate::runtime::loadgen::{self, Unobserved};
use crate::runtime::worker;
use js_sys::{Array, Object, Reflect};
use loopscope::model::fidelity::fidelity;
use loopscope::model::input::{read_config, Raw};
use loopscope::model::{Config, ConfigError, Target};
use serde::Serialize;
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
/// line) by the core's field rules for `target`: every problem, each naming its field.
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
    let read = read_config(&Config::default(), &pairs, target);
    if read.errors.is_empty() {
        Ok(read.config)
    } else {
        Err(read.errors)
    }
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

/// `simulate(config)`: the virtual model's report for one variant, instantly.
#[wasm_bindgen]
pub fn simulate(config: JsValue) -> Result<JsValue, JsValue> {
    let config = read_js_config(&config, Target::Model).map_err(|p| refused(&p))?;
    to_js(&loopscope::simulate(&config).map_err(|e| refused(&[e]))?)
}

/// `problems(config)`: every reason `run(config)` would refuse it, as `[{field,
/// message}]`: empty when it can run. Never throws.
#[wasm_bindgen]
pub fn problems(config: JsValue) -> JsValue {
    let list = read_js_config(&config, Target::Browser).err().unwrap_or_default();
    to_js(&list).unwrap_or_else(|_| Array::new().into())
}

/// `run(config, glue_url)`: runs `config` for real and resolves to `{ predicted,
/// measured, fidelity }`. Rejects with every problem of an invalid config (as
/// `problems` lists them), and while another run is going.
#[wasm_bindgen]
pub fn run(config: JsValue, glue_url: String) -> js_sys::Promise {
    let config = read_js_config(&config, Target::Browser);
    wasm_bindgen_futures::future_to_promise(async move {
        let config = config.map_err(|p| refused(&p))?;
        let _running = loadgen::begin_run().map_err(|e| error(&e))?;
        let predicted = loopscope::simulate(&config).map_err(|e| refused(&[e]))?;
        let mut measured = loadgen::measure(&config, &glue_url, &predicted, &Unobserved)
            .await
            .map_err(|e| error(&e))?;
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

/// Starts the page: `start_ui(glue_url)` from www/main.js.
#[wasm_bindgen]
pub fn start_ui(glue_url: String) -> Result<(), JsValue> {
    page::start(glue_url)
}

/// A worker's entry point, called by its bootstrap once the module is instantiated.
#[wasm_bindgen]
pub fn worker_entry(
    role: &str,
    glue_url: String,
    early: Array,
    early_ports: Array,
    peer: JsValue,
) -> Result<(), JsValue> {
    worker::enter(role, glue_url, early, early_ports, peer).map_err(|e| error(&e))
}
