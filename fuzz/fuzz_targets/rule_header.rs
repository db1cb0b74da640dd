//! A rule's `//!` header: `leadorch_rules::parse_meta` over arbitrary UTF-8, then what the
//! engine does with the metadata it accepts: the scope matched against campaigns
//! (`Scope::matches`, its `*` globs) and shown (`Display`), and the schedule's next run
//! (`Schedule::next_after`, croner for `cron:`) in a few time zones.
//!
//! The first input byte picks how the rest becomes a source: as it is, every line prefixed
//! with `//! `, or every line prefixed with `//! <known key>: ` (so that the fuzzer spends its
//! time in the value parsers rather than finding the key names). Invalid UTF-8 is replaced.
//!
//! Besides "no panic": a non-empty scope, written as `Display` writes it, reads back as
//! itself (it is documented as "as the `//! scope:` header writes it").
#![cfg_attr(fuzzing, no_main)]

use chrono::{DateTime, Utc};
use leadorch_rules::meta::KEYS;
use leadorch_rules::{parse_meta, CampaignFacts};

fn source_of(data: &[u8]) -> Option<String> {
    let (&mode, rest) = data.split_first()?;
    let text = String::from_utf8_lossy(rest);
    Some(match mode % 4 {
        0 => text.into_owned(),
        1 => text.lines().map(|l| format!("//! {l}\n")).collect(),
        // A known key per line, picked by the line's first byte.
        _ => text
            .lines()
            .map(|l| {
                let key = KEYS[l.bytes().next().map_or(0, usize::from) % KEYS.len()];
                format!("//! {key}: {}\n", l.get(1..).unwrap_or(""))
            })
            .chain(std::iter::once(
                "let x = 1;\n//! priority: 5\nnoop();\n".to_string(),
            ))
            .collect(),
    })
}

fn campaigns() -> Vec<CampaignFacts> {
    let mut a = CampaignFacts::new("111-222-3333/42", "Brand NL");
    a.labels = vec!["capacity-gated".into(), "team:sales-nl".into(), "".into()];
    a.team = Some("sales-nl".into());
    let mut b = CampaignFacts::new("7", "*");
    b.labels = vec!["*".into(), "ü".into()];
    vec![a, b, CampaignFacts::new("", "")]
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a fixed time")
        .with_timezone(&Utc)
}

/// One input, checked. libFuzzer calls it under `cargo fuzz`; the test command calls it
/// over the kept inputs (`engine/api/tests/fuzz_replay.rs`).
pub fn run(data: &[u8]) {
    let Some(source) = source_of(data) else {
        return;
    };
    let meta = match parse_meta(&source) {
        Ok(meta) => meta,
        Err(e) => {
            assert!(e.line >= 1, "error lines are 1-based: {e}");
            return;
        }
    };
    for c in &campaigns() {
        let _ = meta.scope.matches(c);
    }
    let shown = meta.scope.to_string();
    if !meta.scope.is_empty() {
        let again = parse_meta(&format!("//! scope: {shown}\n"))
            .unwrap_or_else(|e| panic!("scope {shown:?} as displayed does not parse: {e}"));
        assert_eq!(
            again.scope, meta.scope,
            "scope {shown:?} does not read back as itself"
        );
    }
    if let Some(schedule) = &meta.schedule {
        for t in [
            "2026-03-02T10:00:00Z",
            "2026-03-29T00:59:59Z", // Europe's spring forward
            "2026-11-01T05:30:00Z", // America's fall back
            "2028-02-29T23:59:00Z",
        ] {
            for tz in [
                "Europe/Amsterdam",
                "UTC",
                "America/New_York",
                "Nope/Nowhere",
            ] {
                if let Some(next) = schedule.next_after(at(t), tz) {
                    assert!(next > at(t), "next run {next} is not after {t} ({tz})");
                }
            }
        }
    }
    for trigger in &meta.triggers {
        let _ = trigger.to_string();
    }
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));

/// Built by plain cargo rather than cargo-fuzz: nothing to run.
#[cfg(not(any(fuzzing, test)))]
fn main() {}
