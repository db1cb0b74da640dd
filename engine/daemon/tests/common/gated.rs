//! A daemon over the simulated account with the gate rule, as `daemon.rs` and `crash.rs`
//! drive it: the start time, a counting adapter, capacity readings, and every evaluation's
//! decisions as stored. (`google.rs` uses none of it.)
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use leadorch_config::Config;
use leadorch_core::Engine;
use leadorch_daemon::adapter::{AdapterError, AdsAdapter, ObservedCampaign, SimAdapter};
use leadorch_daemon::Daemon;
use leadorch_domain::campaign::CampaignChange;
use leadorch_domain::{CapacityCommand, CapacitySnapshot, EvaluationEvent};
use leadorch_evaluate::library::save_rule;
use leadorch_rules::RuleHost;
use leadorch_sim::{SimConfig, Simulator};
use leadorch_store::{EventFilter, Metadata, Reveal};
use leadorch_test_support::TestDb;

use super::{engine, host, GATE};

pub fn start() -> DateTime<Utc> {
    // Monday 2 March 2026, 07:00 in Amsterdam.
    DateTime::parse_from_rfc3339("2026-03-02T06:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Every evaluation's decisions and rule runs, as stored (durations excluded).
pub async fn decisions(e: &Engine) -> Vec<String> {
    let mut out = Vec::new();
    let mut decoder = e.store.codec.decoder(Reveal::Redact);
    let recs = e
        .store
        .log
        .list(&EventFilter {
            stream: None,
            event_type: Some("EvaluationRecorded".into()),
            after: 0,
            until: None,
            limit: None,
        })
        .await
        .unwrap();
    for rec in recs {
        let any = leadorch_core::projection::decode(&mut decoder, &rec)
            .await
            .unwrap();
        let leadorch_domain::AnyEvent::Evaluation(EvaluationEvent::EvaluationRecorded(r)) = any
        else {
            panic!("not an evaluation")
        };
        let runs: Vec<_> = r
            .rules
            .iter()
            .map(|x| {
                (
                    x.rule_id.clone(),
                    x.rule_version,
                    x.source_digest.clone(),
                    x.run.clone(),
                )
            })
            .collect();
        out.push(
            serde_json::to_string(&(
                &rec.stream_id,
                &r.trigger,
                &r.facts_digest,
                &r.resolution,
                &runs,
                &r.changes,
            ))
            .unwrap(),
        );
    }
    out
}

/// Counts the changes that reach the platform.
pub struct Counting {
    pub inner: SimAdapter,
    pub applied: AtomicU64,
}

#[async_trait]
impl AdsAdapter for Counting {
    fn name(&self) -> &str {
        "counting-sim"
    }
    async fn campaigns(&self) -> Result<Vec<ObservedCampaign>, AdapterError> {
        self.inner.campaigns().await
    }
    async fn apply(
        &self,
        customer_id: &str,
        campaign_id: &str,
        change: &CampaignChange,
    ) -> Result<(), AdapterError> {
        self.applied.fetch_add(1, Ordering::SeqCst);
        self.inner.apply(customer_id, campaign_id, change).await
    }
}

pub fn counting() -> Arc<Counting> {
    let sim = Simulator::new(SimConfig::demo(start(), 7)).unwrap();
    Arc::new(Counting {
        inner: SimAdapter::new(Arc::new(Mutex::new(sim))),
        applied: AtomicU64::new(0),
    })
}

pub async fn capacity(e: &Engine, team: &str, open: u32, max: u32, at: DateTime<Utc>) {
    e.execute::<CapacitySnapshot>(
        team,
        CapacityCommand::Record {
            team: team.into(),
            agents_available: 3,
            open_leads: open,
            max_open_leads: max,
            source: "test".into(),
            max_age_secs: None,
            at,
        },
        &Metadata::actor("test"),
    )
    .await
    .unwrap();
}

pub fn gated_in(sim: &Arc<Counting>, team: &str) -> usize {
    let s = sim.inner.sim().lock().unwrap();
    s.campaigns()
        .iter()
        .filter(|c| {
            c.snapshot
                .labels
                .iter()
                .any(|l| l == &format!("team:{team}"))
        })
        .count()
}

/// A daemon with the gate rule saved, the simulated campaigns observed (one step at
/// `start()`), and a counting adapter.
pub struct Gated {
    pub _db: TestDb,
    pub e: Engine,
    pub h: Arc<RuleHost>,
    pub adapter: Arc<Counting>,
    pub d: Daemon,
}

pub async fn gated(config: Config) -> Gated {
    let db = TestDb::sqlite();
    let e = engine(&db).await;
    let h = host();
    save_rule(&e, &h, "gate", GATE, true, start(), "test")
        .await
        .unwrap();
    let adapter = counting();
    let mut d = Daemon::start(e.clone(), h.clone(), adapter.clone(), config)
        .await
        .unwrap();
    d.step(start()).await.unwrap();
    Gated {
        _db: db,
        e,
        h,
        adapter,
        d,
    }
}
