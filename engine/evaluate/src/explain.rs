//! `leadorch explain CAMPAIGN [--as-of TIME|POSITION] [--known-at TIME]`: why a campaign is in
//! its state.
//!
//! Reads the events of the campaign's own stream that the view includes (those that happened
//! by the event time asked, at or before the position asked or recorded by the recorded time
//! asked: the same events `replay` folds, docs/time-travel.md), finds the event that last set
//! its status, and, when that was the engine, the
//! evaluation that asked for it: the rule and version, what triggered it, the facts the rule
//! saw about this campaign and its team, and any conflict. It also reports open changes, a
//! manual hold, and the latest later evaluation that proposed something for the campaign and
//! was held back (dwell, cooldown, hold…).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cqrs_es::Aggregate;
use leadorch_core::time_travel::AsOf;
use leadorch_core::Engine;
use leadorch_domain::campaign::{CampaignChange, CampaignStatus, ChangeState};
use leadorch_domain::{stream_id, AnyEvent, Campaign, CampaignEvent, Evaluation, EvaluationRecord};
use leadorch_store::{EventFilter, Reveal};
use serde::Serialize;
use serde_json::Value;

use crate::{Error, Result};
use leadorch_core::projection::decode;

/// How the status came to be.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(ts_rs::TS, utoipa::ToSchema))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Cause {
    /// The engine changed it.
    Engine {
        /// The change id.
        change_id: String,
        /// The change.
        action: String,
        /// The reason recorded with the request (`[rule] reason`).
        reason: String,
        /// When it was requested.
        requested_at: DateTime<Utc>,
        /// When it was applied.
        applied_at: DateTime<Utc>,
        /// The evaluation that decided it.
        evaluation: Option<Box<EvaluationExcerpt>>,
    },
    /// Someone changed it outside the engine (respected until `hold_until`).
    Outside {
        /// When it was noticed.
        at: DateTime<Utc>,
        /// Fields that changed.
        fields: Vec<String>,
        /// Until when the engine keeps its hands off.
        hold_until: DateTime<Utc>,
    },
    /// It was like this when first observed.
    Observed {
        /// When.
        at: DateTime<Utc>,
    },
}

/// What an evaluation recorded, for one campaign.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(ts_rs::TS, utoipa::ToSchema))]
pub struct EvaluationExcerpt {
    /// Evaluation id.
    pub id: String,
    /// What triggered it.
    pub trigger: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Rules that ran: `id v<version>`.
    pub rules: Vec<String>,
    /// Rhai version.
    pub rhai_version: String,
    /// The facts of this campaign the rules saw.
    pub campaign_facts: Value,
    /// The facts of its team.
    pub team_facts: Value,
    /// Proposals for this campaign, accepted or not.
    pub proposals: Vec<Value>,
    /// Conflicts about this campaign.
    pub conflicts: Vec<Value>,
}

/// The explanation.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(ts_rs::TS, utoipa::ToSchema))]
pub struct Explanation {
    /// Campaign id.
    pub campaign: String,
    /// Its name.
    pub name: String,
    /// The time asked about.
    pub at: DateTime<Utc>,
    /// Status at that time.
    pub status: CampaignStatus,
    /// How it came to be.
    pub cause: Cause,
    /// Manual hold in force at that time.
    pub manual_hold_until: Option<DateTime<Utc>>,
    /// Changes requested, not applied yet: `(change id, action, reason)`.
    pub pending: Vec<(String, String, String)>,
    /// The latest later evaluation that proposed something for the campaign.
    pub latest: Option<EvaluationExcerpt>,
}

fn action_name(c: &CampaignChange) -> String {
    match c {
        CampaignChange::Pause => "pause".into(),
        CampaignChange::Resume => "resume".into(),
        CampaignChange::SetBudget {
            daily_budget_micros,
        } => {
            format!("set_budget {:.2}", *daily_budget_micros as f64 / 1e6)
        }
        CampaignChange::SetBidTarget { bidding } => format!("set_bid_target {bidding:?}"),
        CampaignChange::SetAdSchedule { slots } => {
            format!("set_ad_schedule ({} slots)", slots.len())
        }
    }
}

fn event_at(e: &CampaignEvent) -> DateTime<Utc> {
    match e {
        CampaignEvent::CampaignObserved { at, .. }
        | CampaignEvent::ChangedOutsideEngine { at, .. }
        | CampaignEvent::ChangeRequested { at, .. }
        | CampaignEvent::ChangeApplied { at, .. }
        | CampaignEvent::MetricsRecorded { at, .. }
        | CampaignEvent::ChangeFailed { at, .. }
        | CampaignEvent::ChangeSuperseded { at, .. } => *at,
    }
}

/// Finds one of `project`'s campaigns by id (`<customer>/<campaign>`) or by exact name (a
/// campaign of another project is not found). Names are Google data, sealed in the log and
/// absent from read models, so they are looked up in the decrypted facts view (a forgotten
/// account's campaigns have no name any more).
pub async fn resolve_campaign(engine: &Engine, project: &str, wanted: &str) -> Result<String> {
    let view = crate::facts::FactsView::load(engine).await?;
    if view
        .campaigns
        .get(wanted)
        .is_some_and(|c| c.state.customer_id().is_some() && c.project() == project)
    {
        return Ok(wanted.to_string());
    }
    let matches: Vec<String> = view
        .campaigns
        .iter()
        .filter(|(_, c)| c.project() == project)
        .filter(|(_, c)| c.state.snapshot().is_some_and(|s| s.name == wanted))
        .map(|(k, _)| k.clone())
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::Input(format!(
            "no campaign {wanted:?}: give its id (customer/campaign, see `leadorch events list --type CampaignObserved`) or its exact name"
        ))),
        many => Err(Error::Input(format!(
            "{} campaigns are named {wanted:?}: give the id, one of {}",
            many.len(),
            many.join(", ")
        ))),
    }
}

/// Loads one evaluation record.
pub async fn load_evaluation(engine: &Engine, id: &str) -> Result<Option<EvaluationRecord>> {
    let mut decoder = engine.store.codec.decoder(Reveal::Decrypt);
    let mut e = Evaluation::default();
    for rec in engine
        .store
        .log
        .read_stream(&stream_id(Evaluation::TYPE, id))
        .await?
    {
        if let AnyEvent::Evaluation(ev) = decode(&mut decoder, &rec).await? {
            e.apply(ev);
        }
    }
    Ok(e.record().cloned())
}

fn excerpt(id: &str, r: &EvaluationRecord, campaign: &str) -> EvaluationExcerpt {
    let campaign_facts = r.facts["campaigns"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == campaign).cloned())
        .unwrap_or(Value::Null);
    let team_facts = campaign_facts["team"]
        .as_str()
        .map(|t| r.facts["teams"][t].clone())
        .unwrap_or(Value::Null);
    let mut proposals = Vec::new();
    for p in r.resolution["accepted"].as_array().into_iter().flatten() {
        if p["campaign"] == campaign {
            let mut p = p.clone();
            p["outcome"] = Value::String("accepted".into());
            proposals.push(p);
        }
    }
    for s in r.resolution["suppressed"].as_array().into_iter().flatten() {
        if s["proposal"]["campaign"] == campaign {
            let mut p = s["proposal"].clone();
            p["outcome"] = serde_json::json!({ "suppressed": s["why"] });
            proposals.push(p);
        }
    }
    let conflicts = r.resolution["conflicts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["campaign"] == campaign)
        .cloned()
        .collect();
    EvaluationExcerpt {
        id: id.to_string(),
        trigger: r.trigger.clone(),
        at: r.at,
        rules: r
            .rules
            .iter()
            .map(|x| format!("{} v{}", x.rule_id, x.rule_version))
            .collect(),
        rhai_version: r.rhai_version.clone(),
        campaign_facts,
        team_facts,
        proposals,
        conflicts,
    }
}

/// Explains campaign `campaign` (an id) as of event time `at` (`None`: everything in the log).
pub async fn explain(
    engine: &Engine,
    campaign: &str,
    at: Option<DateTime<Utc>>,
) -> Result<Explanation> {
    let as_of = AsOf {
        happened_by: at,
        ..AsOf::default()
    };
    explain_as_of(engine, campaign, &as_of).await
}

/// Explains campaign `campaign` (an id) from the events `as_of` includes: those that
/// happened by its event time and are at or before its position (or were recorded by its
/// recorded time), the same events `leadorch replay` folds for the same arguments.
pub async fn explain_as_of(engine: &Engine, campaign: &str, as_of: &AsOf) -> Result<Explanation> {
    let mut decoder = engine.store.codec.decoder(Reveal::Decrypt);
    let events = engine
        .store
        .log
        .read_stream(&stream_id(Campaign::TYPE, campaign))
        .await?;
    let mut state = Campaign::default();
    let mut cause: Option<Cause> = None;
    let mut cause_position = 0;
    let mut last_at = None;
    for rec in &events {
        let AnyEvent::Campaign(e) = decode(&mut decoder, rec).await? else {
            continue;
        };
        let t = event_at(&e);
        if !as_of.holds_position(rec.position) || !as_of.happened(t) {
            continue;
        }
        let before = state.status();
        match &e {
            CampaignEvent::ChangedOutsideEngine {
                changed_fields,
                hold_until,
                at,
                ..
            } if changed_fields.iter().any(|f| f == "status") => {
                cause = Some(Cause::Outside {
                    at: *at,
                    fields: changed_fields.clone(),
                    hold_until: *hold_until,
                });
            }
            _ => {}
        }
        let applied = match &e {
            CampaignEvent::ChangeApplied {
                change_id,
                change,
                at,
            } => Some((change_id.clone(), change.clone(), *at)),
            _ => None,
        };
        state.apply(e);
        if let Some((change_id, change, applied_at)) = applied {
            if matches!(change, CampaignChange::Pause | CampaignChange::Resume) {
                let record = state.change(&change_id).cloned();
                let (reason, requested_at, decision) = record
                    .map(|r| (r.reason, r.requested_at, r.decision_ref))
                    .unwrap_or_default();
                let evaluation = match decision
                    .as_deref()
                    .and_then(|d| d.strip_prefix("evaluation:"))
                {
                    Some(id) => load_evaluation(engine, id)
                        .await?
                        .map(|r| Box::new(excerpt(id, &r, campaign))),
                    None => None,
                };
                cause = Some(Cause::Engine {
                    change_id,
                    action: action_name(&change),
                    reason,
                    requested_at,
                    applied_at,
                    evaluation,
                });
            }
        }
        if before.is_none() {
            cause = Some(Cause::Observed { at: t });
        }
        if before != state.status() || cause_position == 0 {
            cause_position = rec.position;
        }
        last_at = Some(t);
    }
    let snapshot = state.snapshot().cloned().ok_or_else(|| {
        if state.customer_id().is_some() {
            // Observed, but what was read is sealed with a key that is gone.
            Error::Input(format!(
                "campaign {campaign} holds no Google data: the Google account it was read through was forgotten"
            ))
        } else {
            Error::Input(if as_of.is_everything() {
                format!("campaign {campaign} was not observed")
            } else {
                format!(
                    "campaign {campaign} was not observed {}",
                    as_of.describe()
                )
            })
        }
    })?;
    let when = as_of
        .happened_by
        .or(as_of.known_at)
        .or(last_at)
        .unwrap_or_else(Utc::now);
    let pending = state
        .pending_changes()
        .filter(|(_, r)| matches!(r.state, ChangeState::Requested | ChangeState::Failed { .. }))
        .map(|(id, r)| (id.to_string(), action_name(&r.change), r.reason.clone()))
        .collect();
    // The latest evaluation after the status was set that proposed something for it.
    let mut latest = None;
    let mut cursor = cause_position;
    loop {
        let page = engine
            .store
            .log
            .list(&EventFilter {
                stream: None,
                event_type: Some("EvaluationRecorded".into()),
                after: cursor,
                until: as_of.until,
                limit: Some(2_000),
            })
            .await?;
        let Some(last) = page.last() else { break };
        cursor = last.position;
        for rec in &page {
            if let AnyEvent::Evaluation(leadorch_domain::EvaluationEvent::EvaluationRecorded(r)) =
                decode(&mut decoder, rec).await?
            {
                if !as_of.happened(r.at) {
                    continue;
                }
                let id = leadorch_domain::split_stream_id(&rec.stream_id)
                    .map_or(String::new(), |(_, id)| id.to_string());
                let x = excerpt(&id, &r, campaign);
                if !x.proposals.is_empty() {
                    latest = Some(x);
                }
            }
        }
    }
    Ok(Explanation {
        campaign: campaign.to_string(),
        name: snapshot.name.clone(),
        at: when,
        status: snapshot.status,
        cause: cause.unwrap_or(Cause::Observed { at: when }),
        manual_hold_until: state.manual_override_until().filter(|u| *u > when),
        pending,
        latest,
    })
}

/// A time as people read it in `zone`: `2026-03-02 09:30:00 CET`.
fn shown(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// Renders an explanation for people, every time in `zone` (the account's time zone,
/// `facts.timezone`), which the first line names.
pub fn render(x: &Explanation, zone: Tz) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "times in {}", zone.name());
    let status = match x.status {
        CampaignStatus::Enabled => "enabled",
        CampaignStatus::Paused => "paused",
        CampaignStatus::Removed => "removed",
    };
    let _ = writeln!(
        out,
        "{} ({}) is {status} at {}",
        x.name,
        x.campaign,
        shown(x.at, zone)
    );
    match &x.cause {
        Cause::Engine {
            change_id,
            action,
            reason,
            requested_at,
            applied_at,
            evaluation,
        } => {
            let _ = writeln!(
                out,
                "because: the engine applied {action} at {} (requested {}, change {change_id})",
                shown(*applied_at, zone),
                shown(*requested_at, zone)
            );
            let _ = writeln!(out, "reason: {reason}");
            if let Some(e) = evaluation {
                write_eval(&mut out, "decided by", e, zone);
            }
        }
        Cause::Outside {
            at,
            fields,
            hold_until,
        } => {
            let _ = writeln!(
                out,
                "because: it was changed outside the engine ({}) noticed at {}; the engine respects that until {}",
                fields.join(", "),
                shown(*at, zone),
                shown(*hold_until, zone)
            );
        }
        Cause::Observed { at } => {
            let _ = writeln!(
                out,
                "because: it was {status} when first observed at {}; the engine has not changed its status",
                shown(*at, zone)
            );
        }
    }
    if let Some(until) = x.manual_hold_until {
        let _ = writeln!(
            out,
            "manual hold: the engine will not change it before {}",
            shown(until, zone)
        );
    }
    for (id, action, reason) in &x.pending {
        let _ = writeln!(out, "pending: {action} ({id}): {reason}");
    }
    if let Some(e) = &x.latest {
        write_eval(&mut out, "latest evaluation with a proposal", e, zone);
    }
    out
}

fn write_eval(out: &mut String, title: &str, e: &EvaluationExcerpt, zone: Tz) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "{title}: evaluation {} at {} (trigger {}; rules {}; rhai {})",
        e.id,
        shown(e.at, zone),
        e.trigger,
        e.rules.join(", "),
        e.rhai_version
    );
    if !e.team_facts.is_null() {
        let t = &e.team_facts;
        let _ = writeln!(
            out,
            "  team {}: {} open of {} max, {} agents available",
            t["team"].as_str().unwrap_or("?"),
            t["open_leads"],
            t["max_open_leads"],
            t["agents_available"]
        );
    }
    for p in &e.proposals {
        let outcome = match &p["outcome"] {
            Value::String(s) => s.clone(),
            Value::Object(o) => match o.get("suppressed") {
                Some(Value::Object(why)) => {
                    let name = why.get("why").and_then(Value::as_str).unwrap_or("?");
                    let details: Vec<String> = why
                        .iter()
                        .filter(|(k, _)| k.as_str() != "why")
                        .map(|(k, v)| {
                            format!("{k} {}", v.as_str().map_or(v.to_string(), str::to_string))
                        })
                        .collect();
                    if details.is_empty() {
                        format!("held back: {name}")
                    } else {
                        format!("held back: {name} ({})", details.join(", "))
                    }
                }
                _ => Value::Object(o.clone()).to_string(),
            },
            other => other.to_string(),
        };
        let _ = writeln!(
            out,
            "  {} proposed {}: {} -> {}",
            p["rule"].as_str().unwrap_or("?"),
            p["decision"]["action"]["action"]
                .as_str()
                .or_else(|| p["decision"]["action"].as_str())
                .unwrap_or("?"),
            p["decision"]["reason"].as_str().unwrap_or(""),
            outcome
        );
    }
    for c in &e.conflicts {
        let _ = writeln!(out, "  conflict: {c}");
    }
}
