//! `leadorch seed` as a user runs it: a history that ends at the seed's "now".

use chrono::{DateTime, Duration, Utc};

mod common;
use common::{leadorch, ok, stderr};

/// Every timestamp in a JSON value (strings that read as RFC 3339).
fn times(v: &serde_json::Value, out: &mut Vec<DateTime<Utc>>) {
    match v {
        serde_json::Value::String(s) => {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                out.push(t.with_timezone(&Utc));
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| times(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| times(x, out)),
        _ => {}
    }
}

#[test]
fn a_seeded_history_ends_at_the_seeds_now() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let before = Utc::now();
    // ~25 simulated days: the old estimate of the days needed ran such a history a few
    // weeks into the future.
    ok(home, &["seed", "--events", "20000"]);
    let after = Utc::now();
    let listed = ok(home, &["events", "list", "--json"]);
    let mut occurred = Vec::new();
    let mut all = Vec::new();
    let mut count = 0;
    for line in listed.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        count += 1;
        let (_, payload) = v["payload"].as_object().unwrap().iter().next().unwrap();
        let at = payload["at"]
            .as_str()
            .unwrap_or_else(|| panic!("no at: {v}"));
        occurred.push(
            DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc),
        );
        times(payload, &mut all);
    }
    assert_eq!(count, 20000);
    let last = *occurred.iter().max().unwrap();
    assert!(
        last <= after,
        "an event happened at {last}, after the seed's now"
    );
    // It ends near now (within the week before it), not long ago.
    assert!(
        last > before - Duration::days(8),
        "the history ends at {last}, long before now"
    );
    // Nothing it holds (a manual hold's end included) lies far in the future: at most the
    // 4-hour hold of a change made just before now.
    let latest = *all.iter().max().unwrap();
    assert!(
        latest <= after + Duration::hours(4),
        "{latest} is in the future"
    );
}

#[test]
fn continuing_a_seeded_history_past_now_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(home, &["seed", "--events", "2000"]);
    // A year of events cannot follow a history that ends this week without running past now.
    let o = leadorch(home, &["seed", "--events", "300000"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("after now") && err.contains("more fit before now"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // Nothing was written.
    let listed = ok(home, &["events", "list", "--json"]);
    assert_eq!(listed.lines().count(), 2000);
}
