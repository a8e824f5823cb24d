//! The page's link: its settings in the URL's hash, so a link reproduces a setup
//! exactly, and a bad link is answered field by field and then rewritten to match the
//! page.

use super::presets::{preset, presets};
use super::settings::{self, Settings, EXTRA_FIELDS, FORM_FIELDS};
use crate::model::input::{quoted, Raw};
use crate::model::{ConfigError, Variant};

/// `%XX` escapes decoded; `None` for a malformed escape or bytes that are not UTF-8.
/// (The command line's static server uses it for request paths, too.)
pub fn percent_decode(s: &str) -> Option<String> {
    fn hex(digit: u8) -> Option<u8> {
        char::from(digit).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = hex(*bytes.get(i + 1)?)?;
            let low = hex(*bytes.get(i + 2)?)?;
            out.push((high << 4) | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Everything but `A-Z a-z 0-9 - _ . ~` escaped as `%XX`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Which of the page's two views a link opens.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// The tutorial as steps; at this step (its id).
    Lesson(String),
    /// Every setting and endpoint, and the numbers.
    Lab,
}

/// What a link says besides the settings: the view, the preset chosen, and which
/// endpoints are shown (empty: the tutorial's five).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct View {
    /// The view the link asks for; `None` when it says nothing (then a link with
    /// settings opens the Lab, and one without opens what the reader last used).
    pub mode: Option<Mode>,
    pub preset: Option<String>,
    pub show: Vec<Variant>,
}

impl View {
    /// What to keep for showing `variants`: nothing for the tutorial's five (the default).
    pub fn show_of(variants: &[Variant]) -> Vec<Variant> {
        let shown: Vec<Variant> = Variant::ALL
            .into_iter()
            .filter(|v| variants.contains(v))
            .collect();
        if shown == Variant::TUTORIAL || shown.is_empty() {
            Vec::new()
        } else {
            shown
        }
    }

    /// The endpoints shown, in the order of [`Variant::ALL`].
    pub fn shown(&self) -> Vec<Variant> {
        if self.show.is_empty() {
            Variant::TUTORIAL.to_vec()
        } else {
            Variant::ALL
                .into_iter()
                .filter(|v| self.show.contains(v))
                .collect()
        }
    }
}

/// `ids` joined with dots.
fn dotted(variants: &[Variant]) -> String {
    variants.iter().map(|v| v.id()).collect::<Vec<_>>().join(".")
}

/// Variants from dotted ids; a bad id is a problem of `key`'s.
fn undotted(key: &str, value: &str, errors: &mut Vec<ConfigError>) -> Vec<Variant> {
    let mut out = Vec::new();
    for id in value.split('.').filter(|id| !id.is_empty()) {
        match id.parse::<Variant>() {
            Ok(v) if !out.contains(&v) => out.push(v),
            Ok(_) => {}
            Err(e) => errors.push(ConfigError::new("link", format!("{key}: {}", e.message))),
        }
    }
    out
}

/// The URL hash for these settings, e.g. `#variant=async_io&requests=10&concurrency=10&
/// io_ms=500&cpu_ms=1000&bg_ms=200&tokens=40&work=sleep&scale=0.2`, plus `&preset=<id>`
/// and `&show=<variant>.<variant>` when given; a lesson's step is its view and step
/// alone (`#view=lesson&step=def`: the step has its settings). Numbers are printed
/// shortest (`500`, not `500.0`).
pub fn to_hash(settings: &Settings, view: &View) -> String {
    if let Some(Mode::Lesson(step)) = &view.mode {
        return format!("#view=lesson&step={}", percent_encode(step));
    }
    let c = &settings.config;
    let mut hash = format!(
        "#variant={}&requests={}&concurrency={}&io_ms={}&cpu_ms={}&bg_ms={}&tokens={}&work={}&scale={}",
        c.variant.id(),
        c.requests,
        c.concurrency,
        c.io_ms,
        c.cpu_ms,
        c.bg_ms,
        c.tokens,
        c.work.id(),
        settings.scale
    );
    let defaults = crate::model::Config::default();
    for name in EXTRA_FIELDS {
        if let (Some(value), Some(default)) = (c.get(name), defaults.get(name)) {
            if value != default {
                let shown = match value {
                    crate::model::config::Value::Count(n) => n.to_string(),
                    crate::model::config::Value::Ms(x) => x.to_string(),
                    _ => continue,
                };
                hash.push_str(&format!("&{name}={shown}"));
            }
        }
    }
    if let Some(id) = &view.preset {
        hash.push_str("&preset=");
        hash.push_str(&percent_encode(id));
    }
    if !view.show.is_empty() && view.shown() != Variant::TUTORIAL {
        hash.push_str("&show=");
        hash.push_str(&dotted(&view.shown()));
    }
    hash
}

/// What a link says.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkRead {
    /// [`Settings::default`] with every valid value of the link applied: always valid.
    pub settings: Settings,
    pub view: View,
    /// Every key the link got wrong, each by name; then defaults stand in.
    pub errors: Vec<ConfigError>,
    /// The form's fields as the link gives them (the last of a repeated key), to be put
    /// in the form as if typed: a good value stays, a bad one is flagged beside its
    /// field.
    pub typed: Vec<(String, String)>,
}

impl LinkRead {
    /// The problems the form cannot show beside a field of its own: an unknown key, a
    /// repeated one, a bad preset or endpoint list.
    pub fn beyond_the_form(&self) -> Vec<ConfigError> {
        self.errors
            .iter()
            .filter(|e| !FORM_FIELDS.contains(&e.field) || self.repeated(e))
            .cloned()
            .collect()
    }

    fn repeated(&self, e: &ConfigError) -> bool {
        e.message.starts_with("the link gives ")
    }
}

/// Reads a URL hash (with or without `#`; keys and values percent-decoded). Every bad
/// value, unknown key and unknown preset is a problem of its own; the rest applies over
/// the defaults. When `requests` is given without `concurrency`, all requests are sent
/// at once, as on the command line.
pub fn from_hash(hash: &str) -> LinkRead {
    let hash = hash.strip_prefix('#').unwrap_or(hash);
    let decode = |s: &str| percent_decode(s).unwrap_or_else(|| s.to_string());
    let mut pairs = Vec::new();
    let mut errors = Vec::new();
    let mut preset_id = None;
    let mut show = Vec::new();
    let (mut mode, mut step) = (None::<String>, None::<String>);
    for pair in hash.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (decode(k), decode(v));
        if key == "preset" {
            preset_id = Some(value);
        } else if key == "fit" {
            // Older links fitted some timelines: every timeline is fitted now.
        } else if key == "view" {
            mode = Some(value);
        } else if key == "step" {
            step = Some(value);
        } else if key == "show" {
            show = undotted("show", &value, &mut errors);
        } else if key == "variant" || FORM_FIELDS.contains(&key.as_str()) {
            if let Some((_, earlier)) = pairs.iter().rev().find(|(k, _)| *k == key) {
                let Raw::Typed(earlier) = earlier else {
                    unreachable!("typed")
                };
                errors.push(ConfigError::new(
                    "link",
                    format!(
                        "the link gives {key} more than once ({} and then {}): the last one counts",
                        quoted(earlier),
                        quoted(&value)
                    ),
                ));
            }
            pairs.push((key, Raw::Typed(value)));
        } else {
            errors.push(ConfigError::new(
                "link",
                format!("the link has an unknown setting {}", quoted(&key)),
            ));
        }
    }
    let preset_id = preset_id.and_then(|id| {
        if preset(&id).is_some() {
            Some(id)
        } else {
            let ids: Vec<&str> = presets().iter().map(|p| p.id).collect();
            errors.push(ConfigError::new(
                "preset",
                format!(
                    "unknown preset {}: expected one of {}",
                    quoted(&id),
                    ids.join(", ")
                ),
            ));
            None
        }
    });
    // The preset's settings, and what the link gives over them.
    let base = preset_id
        .as_deref()
        .and_then(preset)
        .map_or_else(Settings::default, |p| p.settings);
    let read = settings::read(&base, &pairs);
    errors.extend(read.errors);
    let mode = match mode.as_deref() {
        None if step.is_none() => None,
        None | Some("lesson") => {
            let id = step.unwrap_or_default();
            match super::lesson::step(&id) {
                Some(s) => Some(Mode::Lesson(s.id.to_string())),
                None => {
                    if !id.is_empty() {
                        let ids: Vec<&str> = super::lesson::steps().iter().map(|s| s.id).collect();
                        errors.push(ConfigError::new(
                            "link",
                            format!(
                                "unknown step {}: the lesson's are {}",
                                quoted(&id),
                                ids.join(", ")
                            ),
                        ));
                    }
                    Some(Mode::Lesson(super::lesson::steps()[0].id.to_string()))
                }
            }
        }
        Some("lab") => Some(Mode::Lab),
        Some(other) => {
            errors.push(ConfigError::new(
                "link",
                format!("unknown view {}: expected lesson or lab", quoted(other)),
            ));
            None
        }
    };
    let mut typed: Vec<(String, String)> = Vec::new();
    for (key, raw) in pairs.iter().rev() {
        if let (true, Raw::Typed(v)) = (FORM_FIELDS.contains(&key.as_str()), raw) {
            if !typed.iter().any(|(k, _)| k == key) {
                typed.push((key.clone(), v.clone()));
            }
        }
    }
    typed.reverse();
    // A preset without `show`: the endpoints it shows.
    if show.is_empty() {
        if let Some(p) = preset_id.as_deref().and_then(preset) {
            show = View::show_of(p.shown);
        }
    }
    LinkRead {
        settings: read.settings,
        view: View {
            mode,
            preset: preset_id,
            show,
        },
        errors,
        typed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Config, Target, Variant, Work};

    fn fields_of(errors: &[ConfigError]) -> Vec<&'static str> {
        errors.iter().map(|e| e.field).collect()
    }

    #[test]
    fn default_is_the_tutorial_and_its_hash_round_trips() {
        let s = Settings::default();
        let hash = to_hash(&s, &View::default());
        assert_eq!(
            hash,
            "#variant=async_io&requests=10&concurrency=10&io_ms=500&cpu_ms=1000&bg_ms=200&tokens=40&work=sleep&scale=0.2"
        );
        let read = from_hash(&hash);
        assert_eq!(
            (&read.settings, &read.view, read.errors.len()),
            (&s, &View::default(), 0)
        );
        assert_eq!(from_hash(hash.trim_start_matches('#')), read);
        assert_eq!(read.typed.len(), 8, "{:?}", read.typed);
        assert_eq!(from_hash("").settings, s);
    }

    #[test]
    fn a_preset_alone_brings_its_settings_and_its_endpoints() {
        let read = from_hash("#view=lab&preset=workers");
        assert!(read.errors.is_empty(), "{:?}", read.errors);
        let p = preset("workers").unwrap();
        assert_eq!(read.settings, p.settings);
        assert_eq!(read.view.shown(), p.shown);
        // A value given goes over the preset's.
        let read = from_hash("#preset=workers&requests=24");
        assert_eq!(read.settings.config.requests, 24);
        assert_eq!(read.settings.config.workers, 4);
    }

    #[test]
    fn a_bad_link_names_every_bad_value() {
        let read = from_hash("#scale=abc&tokens=-5&io_ms=NaN");
        assert_eq!(fields_of(&read.errors), ["io_ms", "tokens", "scale"]);
        assert_eq!(read.settings, Settings::default());
        let read = from_hash("#variant=blocking&requests=5&io_ms=abc&work=fast&colour=red&scale=1");
        assert_eq!(read.settings.config.variant, Variant::Blocking);
        assert_eq!(
            (read.settings.config.requests, read.settings.config.concurrency),
            (5, 5)
        );
        assert_eq!(read.settings.config.io_ms, 500.0);
        assert_eq!(read.settings.config.work, Work::Sleep);
        assert_eq!(read.settings.scale, 1.0);
        assert_eq!(fields_of(&read.errors), ["link", "io_ms", "work"]);
        assert_eq!(read.errors[0].message, "the link has an unknown setting 'colour'");
    }

    #[test]
    fn a_links_values_go_to_the_form_as_given_and_a_repeated_key_is_named() {
        // bg_ms 1 is too short at scale 0.5 (0.5 ms): it is flagged, the rest kept as given.
        let read = from_hash("#requests=7&concurrency=3&io_ms=40&cpu_ms=60&bg_ms=1&scale=0.5&requests=7");
        let typed: Vec<(&str, &str)> = read.typed.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            typed,
            [
                ("concurrency", "3"),
                ("io_ms", "40"),
                ("cpu_ms", "60"),
                ("bg_ms", "1"),
                ("scale", "0.5"),
                ("requests", "7")
            ]
        );
        let beyond = read.beyond_the_form();
        assert_eq!(beyond.len(), 1, "{beyond:?}");
        assert_eq!(
            beyond[0].message,
            "the link gives requests more than once ('7' and then '7'): the last one counts"
        );
        // As typed into the form: every value stays, bg_ms alone is refused.
        let raw: Vec<(String, Raw)> = read
            .typed
            .iter()
            .map(|(k, v)| (k.clone(), Raw::Typed(v.clone())))
            .collect();
        let form = settings::read(&read.settings, &raw);
        assert_eq!(fields_of(&form.errors), ["bg_ms"]);
        let read = from_hash("#requests=10&requests=20");
        assert_eq!(read.settings.config.requests, 20);
        assert!(read.beyond_the_form()[0].message.contains("('10' and then '20')"));
    }

    #[test]
    fn conflicting_values_fall_back_to_valid_ones() {
        let read = from_hash("requests=5&concurrency=8");
        assert_eq!(fields_of(&read.errors), ["concurrency"]);
        assert!(read.settings.config.problems(Target::Browser).is_empty());
        assert!(read.settings.config.concurrency <= read.settings.config.requests);
        // Requests alone: every request at once, and a bad count is reported once.
        let read = from_hash("requests=100001");
        assert_eq!(fields_of(&read.errors), ["requests"]);
        assert_eq!(read.settings.config, Config::default());
    }

    #[test]
    fn escapes_presets_and_garbage() {
        let read = from_hash("#requests=%2012&preset=no%20such");
        assert_eq!(read.settings.config.requests, 12);
        assert_eq!(read.view.preset, None);
        assert_eq!(fields_of(&read.errors), ["preset"]);
        assert!(read.errors[0].message.contains("'no such'"));
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("/%C3%A9").as_deref(), Some("/é"));
        assert_eq!(percent_decode("/plain+").as_deref(), Some("/plain+"));
        for bad in ["/%g0", "/%a", "/%c3", "%"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
        for junk in [
            "#",
            "&&&",
            "=",
            "%",
            "%zz=1",
            "%+1=2",
            "requests",
            "requests=",
            "#scale=%E2%82%AC",
            "é=ü",
        ] {
            let read = from_hash(junk);
            assert!(
                read.settings.config.problems(Target::Browser).is_empty(),
                "{junk}"
            );
        }
        let view = View {
            preset: Some("a b&c".into()),
            ..View::default()
        };
        let hash = to_hash(&Settings::default(), &view);
        assert!(hash.ends_with("&preset=a%20b%26c"), "{hash}");
    }

    #[test]
    fn a_link_opens_the_lesson_at_a_step_or_the_lab() {
        let read = from_hash("#view=lesson&step=async-io");
        assert_eq!(read.view.mode, Some(Mode::Lesson("async-io".into())));
        assert_eq!(to_hash(&read.settings, &read.view), "#view=lesson&step=async-io");
        assert_eq!(
            from_hash("#view=lesson").view.mode,
            Some(Mode::Lesson("def".into()))
        );
        assert_eq!(from_hash("#view=lab").view.mode, Some(Mode::Lab));
        assert_eq!(from_hash("#requests=4").view.mode, None);
        let read = from_hash("#view=lesson&step=nope");
        assert_eq!(read.view.mode, Some(Mode::Lesson("def".into())));
        assert!(read.errors[0].message.starts_with("unknown step 'nope'"));
        assert!(from_hash("#view=slides").errors[0]
            .message
            .contains("expected lesson or lab"));
        // Older links that fitted timelines still open: every timeline is fitted now.
        assert!(from_hash("#fit=blocking").errors.is_empty());
    }

    #[test]
    fn the_endpoints_shown_and_the_options_past_the_tutorial_are_in_the_link() {
        // The tutorial's five are shown by default, and the link does not say so.
        assert_eq!(View::default().shown(), Variant::TUTORIAL);
        let view = View {
            show: vec![Variant::TaskQueue, Variant::Background],
            ..View::default()
        };
        let s = Settings {
            config: Config {
                workers: 4,
                overhead_ms: 0.35,
                work: Work::PythonCpu,
                ..Config::default()
            },
            ..Settings::default()
        };
        let hash = to_hash(&s, &view);
        assert!(hash.contains("&workers=4&overhead_ms=0.35"), "{hash}");
        assert!(!hash.contains("processes"), "defaults stay out: {hash}");
        assert!(hash.ends_with("&show=background.task_queue"), "{hash}");
        let read = from_hash(&hash);
        assert_eq!(read.settings, s);
        assert_eq!(read.view.shown(), [Variant::Background, Variant::TaskQueue]);
        assert_eq!(read.errors, vec![]);
        let bad = from_hash("#workers=0&show=blocking.nope");
        assert_eq!(fields_of(&bad.errors), ["link", "workers"]);
        assert_eq!(bad.view.show, [Variant::Blocking]);
    }
}
