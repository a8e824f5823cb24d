//! Raw input, as a person or a program gives it, read by the one rule of each field
//! ([`super::config::FIELDS`]): what was typed in the page's form, its link or on the
//! command line, and what a program passes to the JS API. A bad value is answered with
//! the same sentence wherever it came from, quoting it as it was given.

use super::config::{field, js_number, sort_by_field, Config, ConfigError, Rule, Target, Value, FIELDS};
pub use crate::format::quoted;

/// One value as it came in.
#[derive(Clone, Debug, PartialEq)]
pub enum Raw {
    /// Typed by a person (a form field, a link, the command line): numbers are read
    /// from the text, written as decimals (`1.5`, `1e2`).
    Typed(String),
    /// A JavaScript number (the JS API): `NaN` and `Infinity` included.
    Number(f64),
    /// A JavaScript string (the JS API): a name, never a number.
    Str(String),
    /// Any other JavaScript value, described (`null`, `true`, `an object`).
    Other(String),
}

/// The number typed text stands for, if it is one (`inf` and `NaN` count: they are
/// refused by range, and quoted as typed).
fn typed_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let plain = t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    let named = ["inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan"]
        .contains(&t.to_ascii_lowercase().as_str());
    (plain || named).then(|| t.parse::<f64>().ok()).flatten()
}

impl Raw {
    /// The value as the person gave it, for a message: a typed number as typed, other
    /// text quoted, a JS value as JavaScript would print it.
    pub fn shown(&self) -> String {
        match self {
            Raw::Typed(t) if t.trim().is_empty() => "nothing".into(),
            Raw::Typed(t) if typed_number(t).is_some() => {
                let t = t.trim();
                if t.chars().count() > 40 {
                    quoted(t)
                } else {
                    t.to_string()
                }
            }
            Raw::Typed(t) => quoted(t),
            Raw::Number(x) => js_number(*x),
            Raw::Str(s) => format!("{} (a string)", quoted(s)),
            Raw::Other(what) => what.clone(),
        }
    }
}

/// Typed pairs (field, text), as a person types them.
pub fn typed(pairs: &[(&str, &str)]) -> Vec<(String, Raw)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Raw::Typed(v.to_string())))
        .collect()
}

/// Reads one field: its typed value, or the field's one sentence for this input.
pub fn read_field(name: &str, raw: &Raw, target: Target) -> Result<Value, ConfigError> {
    let f = field(name).ok_or_else(|| unknown_field(name))?;
    let numeric = matches!(f.rule, Rule::Count { .. } | Rule::Duration | Rule::Cost);
    // A string where a name is expected needs no "(a string)".
    let shown = match raw {
        Raw::Str(s) if !numeric => quoted(s),
        _ => raw.shown(),
    };
    match (raw, numeric) {
        (Raw::Typed(t), true) => match typed_number(t) {
            Some(x) => f.number(target, x, &shown),
            None => Err(f.problem(target, &shown)),
        },
        (Raw::Typed(t), false) => f.name_of(target, t.trim(), &shown),
        (Raw::Number(x), true) => f.number(target, *x, &shown),
        (Raw::Str(s), false) => f.name_of(target, s, &shown),
        _ => Err(f.problem(target, &shown)),
    }
}

fn unknown_field(name: &str) -> ConfigError {
    let names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
    let close = names
        .iter()
        .find(|n| edit_distance(n, &name.to_ascii_lowercase()) <= 2)
        .map(|n| format!(" (did you mean '{n}'?)"))
        .unwrap_or_default();
    ConfigError::new(
        "config",
        format!(
            "unknown field {}{close}: a config has {}",
            quoted(name),
            names.join(", ")
        ),
    )
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (row[j] + 1)
                .min(row[j + 1] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// What [`read_config`] makes of some input.
#[derive(Clone, Debug, PartialEq)]
pub struct Read {
    /// `base` with every valid value applied, still valid: a value refused alone, or
    /// one that clashes with another, keeps `base`'s.
    pub config: Config,
    /// Every problem, at most one per field, in field order.
    pub errors: Vec<ConfigError>,
}

/// Reads `pairs` (field name, value) over `base` for `target`. The last value given
/// for a field counts; unknown names are problems. When `requests` is given without
/// `concurrency`, every request is sent at once (`concurrency` = `requests`), as on the
/// command line.
pub fn read_config(base: &Config, pairs: &[(String, Raw)], target: Target) -> Read {
    let mut config = base.clone();
    let mut errors = Vec::new();
    let mut given: Vec<&str> = Vec::new();
    for (name, raw) in pairs.iter().rev() {
        if given.contains(&name.as_str()) {
            continue; // an earlier value of a field given again
        }
        given.push(name);
        match read_field(name, raw, target) {
            Ok(value) => config.set(name, value),
            Err(e) => errors.push(e),
        }
    }
    let bad = |errors: &[ConfigError], name: &str| errors.iter().any(|e| e.field == name);
    if given.contains(&"requests") && !given.contains(&"concurrency") && !bad(&errors, "requests") {
        config.concurrency = config.requests;
    }
    // The rules that tie fields together, on what is left; a field they refuse keeps
    // base's value, and so does its partner if that is not enough.
    for joint in config.problems(target) {
        if !bad(&errors, joint.field) {
            errors.push(joint);
        }
    }
    for e in &errors {
        if let Some(v) = base.get(e.field) {
            config.set(e.field, v);
        }
    }
    for partners in [["concurrency", "requests"], ["tokens", "requests"]] {
        if !config.problems(target).is_empty() {
            for name in partners {
                if let Some(v) = base.get(name) {
                    config.set(name, v);
                }
            }
        }
    }
    if !config.problems(target).is_empty() {
        config = base.clone();
    }
    sort_by_field(&mut errors);
    Read { config, errors }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Variant, Work};

    fn one(name: &str, raw: Raw, target: Target) -> ConfigError {
        read_field(name, &raw, target).expect_err(name)
    }

    #[test]
    fn typed_numbers_are_quoted_as_typed_and_judged_by_one_rule() {
        let t = Target::Model;
        let m = |v: &str| one("requests", Raw::Typed(v.into()), t).message;
        assert_eq!(
            m("-1"),
            "requests must be a whole number from 1 to 100000, got -1"
        );
        assert_eq!(m("0"), "requests must be a whole number from 1 to 100000, got 0");
        assert_eq!(
            m("abc"),
            "requests must be a whole number from 1 to 100000, got 'abc'"
        );
        assert_eq!(
            m(""),
            "requests must be a whole number from 1 to 100000, got nothing"
        );
        assert_eq!(
            m("2.5"),
            "requests must be a whole number from 1 to 100000, got 2.5"
        );
        assert_eq!(
            m("Infinity"),
            "requests must be a whole number from 1 to 100000, got Infinity"
        );
        assert_eq!(
            m("NaN"),
            "requests must be a whole number from 1 to 100000, got NaN"
        );
        // Exponents are numbers everywhere: 1e2 is 100 for a count and for a duration.
        assert_eq!(
            read_field("requests", &Raw::Typed("1e2".into()), t),
            Ok(Value::Count(100))
        );
        assert_eq!(
            read_field("io_ms", &Raw::Typed("1e2".into()), t),
            Ok(Value::Ms(100.0))
        );
        assert_eq!(
            read_field("requests", &Raw::Typed(" 41 ".into()), t),
            Ok(Value::Count(41))
        );
        let e = one("io_ms", Raw::Typed("Infinity".into()), t);
        assert!(e.message.ends_with("got Infinity"), "{e}");
        let e = one("io_ms", Raw::Typed("inf".into()), t);
        assert!(e.message.ends_with("got inf"), "{e}");
    }

    #[test]
    fn js_values_keep_their_types() {
        let t = Target::Browser;
        let prefix = "requests must be a whole number from 1 to 100000, got ";
        for (raw, shown) in [
            (Raw::Number(-1.0), "-1"),
            (Raw::Number(1.5), "1.5"),
            (Raw::Number(f64::NAN), "NaN"),
            (Raw::Str("10".into()), "'10' (a string)"),
            (Raw::Other("null".into()), "null"),
        ] {
            assert_eq!(one("requests", raw, t).message, format!("{prefix}{shown}"));
        }
        assert_eq!(
            read_field("variant", &Raw::Str("blocking".into()), t),
            Ok(Value::Variant(Variant::Blocking))
        );
        assert_eq!(
            one("variant", Raw::Number(3.0), t).message,
            "unknown variant 3: expected one of sync_def, blocking, async_io, full_async, background, process_pool, task_queue"
        );
        assert_eq!(
            one("work", Raw::Str("fast".into()), t).message,
            "work must be one of 'sleep', 'compute', 'python_cpu', got 'fast'"
        );
        assert_eq!(
            read_field("work", &Raw::Typed("compute".into()), t),
            Ok(Value::Work(Work::Compute))
        );
    }

    #[test]
    fn unknown_fields_are_named_with_a_guess() {
        let r = read_config(
            &Config::default(),
            &[("request".into(), Raw::Number(5.0))],
            Target::Browser,
        );
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].field, "config");
        assert_eq!(
            r.errors[0].message,
            "unknown field 'request' (did you mean 'requests'?): a config has variant, requests, concurrency, io_ms, cpu_ms, bg_ms, tokens, work, processes, queue_workers, workers, overhead_ms, pickle_ms, broker_ms"
        );
        let r = read_config(
            &Config::default(),
            &[("colour".into(), Raw::Str("red".into()))],
            Target::Model,
        );
        assert!(!r.errors[0].message.contains("did you mean"));
    }

    #[test]
    fn every_bad_field_is_named_and_the_rest_applies() {
        let r = read_config(
            &Config::default(),
            &typed(&[
                ("requests", "5"),
                ("io_ms", "abc"),
                ("tokens", "-5"),
                ("variant", "blocking"),
            ]),
            Target::Browser,
        );
        let fields: Vec<_> = r.errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["io_ms", "tokens"]);
        assert_eq!(
            (r.config.variant, r.config.requests, r.config.concurrency),
            (Variant::Blocking, 5, 5)
        );
        assert_eq!((r.config.io_ms, r.config.tokens), (500.0, 40));
    }

    #[test]
    fn clashing_fields_keep_a_valid_config() {
        let r = read_config(
            &Config::default(),
            &typed(&[("requests", "5"), ("concurrency", "8")]),
            Target::Browser,
        );
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].field, "concurrency");
        assert!(r.config.problems(Target::Browser).is_empty());
        let r = read_config(
            &Config::default(),
            &typed(&[("variant", "full_async"), ("requests", "100"), ("tokens", "100")]),
            Target::Browser,
        );
        assert_eq!(r.errors[0].field, "tokens");
        assert!(r.config.problems(Target::Browser).is_empty());
        // The last value of a field counts.
        let r = read_config(
            &Config::default(),
            &typed(&[("requests", "abc"), ("requests", "4")]),
            Target::Model,
        );
        assert!(r.errors.is_empty());
        assert_eq!(r.config.requests, 4);
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("requests", "request"), 1);
        assert_eq!(edit_distance("io_ms", "io-ms"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
