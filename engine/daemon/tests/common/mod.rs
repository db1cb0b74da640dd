//! What the daemon's test files share: the repository, a fresh engine, the rules host, the
//! capacity-gate rule and the daemon settings they run with; [`gated`], the simulated
//! account with the gate rule that `daemon.rs` and `crash.rs` drive.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use leadorch_config::Config;
use leadorch_core::Engine;
use leadorch_rules::{Limits, RuleHost};
use leadorch_store::{Db, MasterKey, RetentionPolicy, Store};
use leadorch_test_support::TestDb;

pub mod gated;

/// Pause above 90 % of a team's capacity, resume below 70 %, on every capacity change.
pub const GATE: &str = r#"//! pause above 90 %, resume below 70 %
//! on: capacity_changed
//! priority: 10
if team == () { return; }
if team.utilisation >= 0.9 && !campaign.paused { return pause(`full: ${team.open_leads}/${team.max_open_leads}`); }
if team.utilisation < 0.7 && campaign.paused { return resume("room again"); }
"#;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub async fn engine(t: &TestDb) -> Engine {
    let db = Db::connect(&t.url).await.unwrap();
    Engine {
        store: Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
            .await
            .unwrap(),
    }
}

/// The rules host, with a wall-clock budget no rule run reaches before its outcome, however
/// busy the machine (the production 50 ms can pass in a debug build on a loaded machine).
pub fn host() -> Arc<RuleHost> {
    let limits = Limits {
        wall_clock: std::time::Duration::from_secs(60),
        ..Limits::default()
    };
    Arc::new(RuleHost::new(Some(&repo().join("rules/lib")), limits).unwrap())
}

/// Amsterdam time, no minimum dwell.
pub fn config() -> Config {
    let mut c = Config::default();
    c.facts.timezone = "Europe/Amsterdam".into();
    c.policy.min_dwell = "0m".into();
    c
}
