//! The body of `POST /v1/capacity`, as the handler (`engine/api/src/routes/capacity.rs`,
//! `push`) reads and checks it before it touches the store: `body::parse::<CapacityReading>`
//! (the strict JSON reader every JSON route uses: duplicate keys, whole numbers written with a
//! fraction, the field named in every refusal), `ids::check_client_id`, the `at` skew and
//! `source` checks, `project::scoped`, then the domain's own checks (`CapacitySnapshot::decide`
//! against no reading and against an earlier one), `utilisation`, the "unchanged" test and the
//! answer as JSON.
//!
//! The first input byte picks the caller's project and key name and the earlier reading; the
//! rest is the body (at most `MAX_BODY_BYTES`, as the API's body limit).
//!
//! Besides "no panic": every refusal of the body reader is a 400 or a 422; and the event a
//! reading records is stored as the event store writes it and must decode again
//! (`AnyEvent::decode` at its current version) to itself: a reading the API accepts and a
//! replay cannot read would break the team's stream.
//!
//! Not reachable from here: `load_team`, `Engine::current` and `execute` (async, need the
//! store); the handler's checks are re-stated below in its order, with the server clock fixed.
#![cfg_attr(fuzzing, no_main)]

use chrono::{DateTime, Duration, Utc};
use cqrs_es::{Aggregate, DomainEvent};
use leadorch_api::body::parse;
use leadorch_api::ids::{check_client_id, scoped};
use leadorch_api::routes::capacity::{CapacityAnswer, CapacityReading, HEARTBEAT, MAX_SKEW};
use leadorch_api::MAX_BODY_BYTES;
use leadorch_domain::capacity::{CapacityCommand, CapacityEvent, CapacitySnapshot};
use leadorch_domain::AnyEvent;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a fixed time")
        .with_timezone(&Utc)
}

/// A team's state before the reading: none, or one earlier reading of `team`.
fn earlier(team: &str, which: u8) -> CapacitySnapshot {
    let mut last = CapacitySnapshot::default();
    if which % 2 == 1 {
        last.apply(CapacityEvent::CapacityRecorded {
            team: team.to_string(),
            agents_available: 3,
            open_leads: 12,
            max_open_leads: 30,
            source: "crm".into(),
            max_age_secs: Some(600),
            at: t("2026-12-07T09:55:00Z"),
        });
    }
    last
}

fn check_round_trip(event: &CapacityEvent) {
    let payload = serde_json::to_value(event).expect("a capacity event serializes");
    let decoded = AnyEvent::decode(
        "capacity",
        &event.event_type(),
        &event.event_version(),
        &payload,
    )
    .unwrap_or_else(|e| {
        panic!("a recorded reading does not decode again: {e}\npayload: {payload}")
    });
    assert_eq!(
        decoded,
        AnyEvent::Capacity(event.clone()),
        "payload: {payload}"
    );
}

/// One input, checked. libFuzzer calls it under `cargo fuzz`; the test command calls it
/// over the kept inputs (`engine/api/tests/fuzz_replay.rs`).
pub fn run(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if body.len() > MAX_BODY_BYTES {
        return;
    }
    let (project, key_name) = match selector % 3 {
        0 => ("default", "crm"),
        1 => ("acme", "contact-centre"),
        _ => ("default", " "),
    };
    let now = t("2026-12-07T10:00:00Z");

    let reading: CapacityReading = match parse(body) {
        Ok(reading) => reading,
        Err(problem) => {
            assert!(
                problem.status == 400 || problem.status == 422,
                "the body reader answered {}: {problem:?}",
                problem.status
            );
            serde_json::to_string(&problem).expect("a problem serializes");
            return;
        }
    };
    // The handler's checks, in its order.
    if check_client_id("team", &reading.team).is_err() {
        return;
    }
    let at = reading.at.unwrap_or(now);
    if at > now + MAX_SKEW {
        return;
    }
    let source = reading
        .source
        .clone()
        .unwrap_or_else(|| key_name.to_string());
    if source.trim().is_empty() || source.chars().count() > 64 {
        return;
    }
    let team = scoped(project, &reading.team);
    let last = earlier(&team, selector / 3);
    let command = CapacityCommand::Record {
        team: team.clone(),
        agents_available: reading.agents_available,
        open_leads: reading.open_leads,
        max_open_leads: reading.max_open_leads,
        source,
        max_age_secs: None,
        at,
    };
    let events = match last.decide(command) {
        Ok(events) => events,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let utilisation = events.first().and_then(CapacityEvent::utilisation);
    let unchanged = last.recorded_at().is_some_and(|t| at - t < HEARTBEAT)
        && last.agents_available() == reading.agents_available
        && last.open_leads() == reading.open_leads
        && last.max_open_leads() == reading.max_open_leads;
    let answer = CapacityAnswer {
        recorded: !unchanged,
        team: reading.team.clone(),
        utilisation,
        trace_id: String::new(),
    };
    serde_json::to_string(&answer).expect("the answer serializes");

    // What is stored must be readable: by a replay (decode) and by the aggregate.
    let mut state = last.clone();
    for event in events {
        check_round_trip(&event);
        state.apply(event);
    }
    let _ = (
        state.utilisation(),
        state.is_stale(now + Duration::hours(1)),
    );
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));

/// Built by plain cargo rather than cargo-fuzz: nothing to run.
#[cfg(not(any(fuzzing, test)))]
fn main() {}
