//! The wasm exports the page's JS calls. Thin: parse, call the core, serialize.

use crate::model::{Config, ConfigError};
use serde::Serialize;
use wasm_bindgen::prelude::*;

pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    // json_compatible: None → null, maps → plain objects, so JSON.stringify round-trips.
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// A config object from JS (snake_case fields; missing ones take the tutorial's
/// defaults, and a missing `concurrency` is `requests`, all at once, as on the command
/// line), or the reason it is malformed.
pub(crate) fn config_from_js(config: JsValue) -> Result<Config, JsError> {
    if config.is_undefined() || config.is_null() {
        return Ok(Config::default());
    }
    let has_concurrency = js_sys::Reflect::has(&config, &"concurrency".into()).unwrap_or(false);
    let mut parsed: Config =
        serde_wasm_bindgen::from_value(config).map_err(|e| JsError::new(&format!("invalid config: {e}")))?;
    if !has_concurrency {
        parsed.concurrency = parsed.requests;
    }
    Ok(parsed)
}

fn valid_config(config: JsValue) -> Result<Config, JsError> {
    let config = config_from_js(config)?;
    config
        .validate()
        .map_err(|e: ConfigError| JsError::new(&e.message))?;
    Ok(config)
}

/// `simulate(config)`: the virtual model's report for one variant.
#[wasm_bindgen]
pub fn simulate(config: JsValue) -> Result<JsValue, JsError> {
    let config = valid_config(config)?;
    to_js(&crate::simulate(&config).map_err(|e| JsError::new(&e.message))?)
}

/// `simulate_all(config)`: one report per variant, same load.
#[wasm_bindgen]
pub fn simulate_all(config: JsValue) -> Result<JsValue, JsError> {
    let config = valid_config(config)?;
    to_js(&crate::summary::all_variants(&config).map_err(|e| JsError::new(&e.message))?)
}

/// `summary_table(config)`: the CLI's `simulate --variant all` table, as text.
#[wasm_bindgen]
pub fn summary_table(config: JsValue) -> Result<String, JsError> {
    let config = valid_config(config)?;
    let reports = crate::summary::all_variants(&config).map_err(|e| JsError::new(&e.message))?;
    Ok(crate::summary::table_text(&reports))
}

/// `config_problems(config)`: every invalid field as `{field, message}` (empty when
/// valid), so a form can show each message beside its field.
#[wasm_bindgen]
pub fn config_problems(config: JsValue) -> Result<JsValue, JsError> {
    to_js(&config_from_js(config)?.problems())
}
