//! Decoding a stored event: `AnyEvent::decode` (upcast, version and tag checks, serde) and the
//! upcasters on their own (`upcast::upcast`, `upcasters_for`, `upcasters`), over an aggregate
//! type, event type, schema version and payload taken from the input.
//!
//! Input layout (see `Input::new`): three selector bytes, then `\n`-separated raw strings for
//! whatever the selectors leave to the input, then the payload as JSON. The selectors mostly
//! pick known names from the engine's own tables (`AGGREGATE_TYPES`, `event_types`), so that
//! the fuzzer reaches the deserializers of real events instead of "unknown aggregate type".
//!
//! Besides "no panic", it checks what decoding promises:
//! - a decoded event names the aggregate and event type it was decoded as;
//! - it serializes (`to_payload`) and decodes again, at the version it reports, to itself;
//! - with every personal field it declares set to `null` (crypto-shredding), it still decodes;
//! - `time::parse_zulu`, the fast path of event timestamps, agrees with chrono wherever it
//!   answers.
#![cfg_attr(fuzzing, no_main)]

use leadorch_domain::personal::{locate, PersonalData};
use leadorch_domain::upcast::{upcast, upcasters, upcasters_for};
use leadorch_domain::{current_version, event_types, AnyEvent, AGGREGATE_TYPES};
use serde_json::Value;

/// Versions worth trying besides the current one: every version an upcaster or event table
/// names, bare majors, patches, and a few that must be refused.
const VERSIONS: &[&str] = &[
    "1.0",
    "1.1",
    "1.2",
    "2.0",
    "2.1",
    "1",
    "2",
    "1.0.0",
    "1.1.0",
    "2.0.1",
    "0.9",
    "3.0",
    "1.99",
    "x.y",
    "",
    "1.0.0.0",
    "-1.0",
    "1.-1",
    "4294967296.0",
    " 1.0",
];

/// Every event type name of every aggregate (for mismatches between aggregate and event type).
fn all_event_types() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = AGGREGATE_TYPES
        .iter()
        .flat_map(|a| event_types(a).unwrap_or_default().iter().map(|(t, _)| *t))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

struct Input<'a> {
    aggregate_type: String,
    event_type: String,
    version: String,
    /// How the payload is put together (see `payload`).
    wrap: u8,
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Option<Input<'a>> {
        let (&[a, e, v], mut rest) = data.split_first_chunk::<3>()?;
        let mut raw = || -> String {
            let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            let s = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = rest.get(end + 1..).unwrap_or_default();
            s
        };
        // Aggregate: one of the known ones, or (1 in 16) raw bytes of the input.
        let aggregate_type = if a % 16 == 15 {
            raw()
        } else {
            AGGREGATE_TYPES[usize::from(a) % AGGREGATE_TYPES.len()].to_owned()
        };
        // Event: mostly one of this aggregate's, sometimes any aggregate's, sometimes raw.
        let own = event_types(&aggregate_type).unwrap_or_default();
        let event_type = match e % 8 {
            0..=4 if !own.is_empty() => own[usize::from(e / 8) % own.len()].0.to_owned(),
            5 | 6 => {
                let all = all_event_types();
                all[usize::from(e / 8) % all.len()].to_owned()
            }
            _ => raw(),
        };
        // Version: mostly the current one or a listed one, sometimes raw.
        let version = match v % 4 {
            0 => current_version(&aggregate_type, &event_type)
                .unwrap_or("1.0")
                .to_owned(),
            1 | 2 => VERSIONS[usize::from(v / 4) % VERSIONS.len()].to_owned(),
            _ => raw(),
        };
        Some(Input {
            aggregate_type,
            event_type,
            version,
            wrap: v / 4,
            rest,
        })
    }

    /// The payload: the rest as JSON, wrapped as `{event_type: …}` (externally tagged, as
    /// stored) unless the rest is already an object with that one key or the wrap selector
    /// says to leave it bare; a rest that is not JSON becomes a JSON string.
    fn payload(&self) -> Value {
        let value = serde_json::from_slice::<Value>(self.rest)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(self.rest).into_owned()));
        let tagged = value
            .as_object()
            .is_some_and(|m| m.len() == 1 && m.contains_key(&self.event_type));
        if tagged || self.wrap % 8 == 7 {
            value
        } else {
            let mut map = serde_json::Map::new();
            map.insert(self.event_type.clone(), value);
            Value::Object(map)
        }
    }
}

fn check_decoded(input: &Input, payload: &Value, event: &AnyEvent) {
    assert_eq!(event.aggregate_type(), input.aggregate_type);
    assert_eq!(event.event_type(), input.event_type);
    let _ = event.data_subject();

    // What the store writes back must be read back as the same event.
    let written = event
        .to_payload()
        .unwrap_or_else(|e| panic!("a decoded event does not serialize: {e}"));
    let again = AnyEvent::decode(
        event.aggregate_type(),
        &event.event_type(),
        &event.event_version(),
        &written,
    )
    .unwrap_or_else(|e| panic!("a decoded event, written again, does not decode: {e}"));
    assert_eq!(&again, event, "decode . to_payload . decode is not decode");

    // Crypto-shredding: the store hands personal fields back as null once the subject's key
    // is gone; the event must still decode.
    let mut shredded = payload.clone();
    let mut any = false;
    for field in event.personal_fields() {
        for at in locate(payload, field.pointer) {
            if let Some(v) = shredded.pointer_mut(&at) {
                *v = Value::Null;
                any = true;
            }
        }
    }
    if any {
        if let Err(e) = AnyEvent::decode(
            &input.aggregate_type,
            &input.event_type,
            &input.version,
            &shredded,
        ) {
            panic!(
                "decodes, but not once its personal fields are null (crypto-shredded): {e}\n\
                 shredded payload: {shredded}"
            );
        }
    }
}

/// `parse_zulu` must give what chrono gives, wherever it gives anything.
fn check_zulu(s: &str) {
    if let Some(fast) = leadorch_domain::time::parse_zulu(s) {
        let slow = s
            .parse::<chrono::DateTime<chrono::FixedOffset>>()
            .map(|t| t.with_timezone(&chrono::Utc));
        assert_eq!(
            Ok(fast),
            slow.map_err(|e| e.to_string()),
            "parse_zulu({s:?}) disagrees with chrono"
        );
    }
}

/// One input, checked. libFuzzer calls it under `cargo fuzz`; the test command calls it
/// over the kept inputs (`engine/api/tests/fuzz_replay.rs`).
pub fn run(data: &[u8]) {
    let Some(input) = Input::new(data) else {
        return;
    };
    let payload = input.payload();

    // The upcasters on their own.
    let (version, upcasted) = upcast(
        &input.aggregate_type,
        &input.event_type,
        &input.version,
        payload.clone(),
    );
    let _ = (version, upcasted);
    for upcaster in upcasters_for(&input.aggregate_type)
        .iter()
        .chain(upcasters().iter())
    {
        let _ = upcaster.can_upcast(&input.event_type, &input.version);
    }

    match AnyEvent::decode(
        &input.aggregate_type,
        &input.event_type,
        &input.version,
        &payload,
    ) {
        Ok(event) => check_decoded(&input, &payload, &event),
        Err(e) => {
            let _ = e.to_string();
        }
    }

    // Event timestamps: the raw rest, and every string in the payload.
    if let Ok(s) = std::str::from_utf8(input.rest) {
        check_zulu(s.trim_matches('"'));
    }
    fn strings(v: &Value, f: &mut dyn FnMut(&str)) {
        match v {
            Value::String(s) => f(s),
            Value::Array(a) => a.iter().for_each(|v| strings(v, f)),
            Value::Object(m) => m.values().for_each(|v| strings(v, f)),
            _ => {}
        }
    }
    strings(&payload, &mut check_zulu);
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));

/// Built by plain cargo rather than cargo-fuzz: nothing to run.
#[cfg(not(any(fuzzing, test)))]
fn main() {}
