//! One evaluation: enabled rules over the facts, resolved into accepted decisions, and (when
//! recording) written as an `EvaluationRecorded` event plus one `ChangeRequested` per accepted
//! change — the outbox the executor drains.
//!
//! Evaluation ids are derived from the log position and the evaluation time, and change ids
//! from the evaluation id, so a daemon that crashed after deciding and re-runs the same
//! evaluation finds the same ids already recorded instead of acting twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, SecondsFormat, Utc};
use leadorch_core::Engine;
use leadorch_domain::evaluation::{RequestedChange, RuleRunRecord};
use leadorch_domain::{Campaign, CampaignCommand, Evaluation, EvaluationCommand, EvaluationRecord};
use leadorch_rules::{
    CompileError, CompiledRule, Facts, Policy, Proposal, Resolution, Reuse, ReuseStats, RuleHost,
    RuleRun,
};
use leadorch_store::Metadata;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::facts::FactsView;
use crate::Result;

/// This engine's version, recorded with every evaluation.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A rule version compiled for evaluation.
#[derive(Clone, Debug)]
pub struct LoadedRule {
    /// Rule id within its project (bare: `capacity_gate`, stored as `acme/capacity_gate` in
    /// project `acme`), as rules, proposals and evaluation records name it.
    pub id: String,
    /// Version.
    pub version: u32,
    /// The compiled source.
    pub compiled: CompiledRule,
}

/// Compiled rules, cached per (id, version).
#[derive(Default)]
pub struct RuleSet {
    cache: HashMap<(String, u32), Arc<LoadedRule>>,
    broken: HashMap<(String, u32), CompileError>,
}

impl RuleSet {
    /// The enabled rules of `project` in the view, compiled (each version once), in priority
    /// order (highest first, then id), named bare; rules whose stored source no longer
    /// compiles (e.g. a library module went away) are returned separately.
    pub fn enabled(
        &mut self,
        host: &RuleHost,
        view: &FactsView,
        project: &str,
    ) -> (Vec<Arc<LoadedRule>>, Vec<CompileError>) {
        let mut rules = Vec::new();
        let mut broken = Vec::new();
        for (stored, entry) in &view.rules {
            let Some(id) = leadorch_domain::project::unscoped(project, stored) else {
                continue;
            };
            if !entry.state.is_enabled() {
                continue;
            }
            let Some(current) = entry.state.current() else {
                continue;
            };
            let key = (stored.clone(), current.version);
            if let Some(r) = self.cache.get(&key) {
                rules.push(r.clone());
                continue;
            }
            if let Some(e) = self.broken.get(&key) {
                broken.push(e.clone());
                continue;
            }
            match host.compile(id, &current.source) {
                Ok(compiled) => {
                    let r = Arc::new(LoadedRule {
                        id: id.to_string(),
                        version: current.version,
                        compiled,
                    });
                    self.cache.insert(key, r.clone());
                    rules.push(r);
                }
                Err(e) => {
                    self.broken.insert(key, e.clone());
                    broken.push(e);
                }
            }
        }
        rules.sort_by(|a, b| {
            (b.compiled.meta.priority, &a.id).cmp(&(a.compiled.meta.priority, &b.id))
        });
        (rules, broken)
    }
}

/// The result of evaluating rules over facts (nothing recorded yet).
#[derive(Debug)]
pub struct TickOutcome {
    /// The facts the rules saw.
    pub facts: Facts,
    /// SHA-256 of their canonical JSON.
    pub facts_digest: String,
    /// Each rule's run, in evaluation order.
    pub runs: Vec<(Arc<LoadedRule>, RuleRun)>,
    /// How the proposals were resolved.
    pub resolution: Resolution,
    /// Time taken, µs.
    pub duration_us: u64,
    /// Rule runs for one campaign replayed from kept results, and evaluated (both zero
    /// when evaluated without [`Reuse`]).
    pub reuse: ReuseStats,
}

/// Evaluates `rules` over `facts` and resolves their proposals. Pure apart from timing.
pub fn evaluate(
    host: &RuleHost,
    rules: &[Arc<LoadedRule>],
    facts: Facts,
    policy: &Policy,
) -> TickOutcome {
    evaluate_with(host, rules, facts, policy, None)
}

/// Like [`evaluate`], but a rule's result for a campaign is replayed from `reuse` while
/// nothing the rule reads changed ([`RuleHost::evaluate_reusing`]); the outcome is the same
/// apart from timing. Keep one `Reuse` per host across evaluations.
pub fn evaluate_reusing(
    host: &RuleHost,
    rules: &[Arc<LoadedRule>],
    facts: Facts,
    policy: &Policy,
    reuse: &mut Reuse,
) -> TickOutcome {
    evaluate_with(host, rules, facts, policy, Some(reuse))
}

fn evaluate_with(
    host: &RuleHost,
    rules: &[Arc<LoadedRule>],
    facts: Facts,
    policy: &Policy,
    reuse: Option<&mut Reuse>,
) -> TickOutcome {
    let started = Instant::now();
    let facts_digest = digest(&facts);
    let prepared = host.prepare(&facts);
    let compiled: Vec<leadorch_rules::CompiledRule> =
        rules.iter().map(|r| r.compiled.clone()).collect();
    // Campaign ranges on both cores; the result equals one run per rule.
    let threads = if facts.campaigns.len() >= 200 { 2 } else { 1 };
    let (runs_only, reuse) = match reuse {
        Some(reuse) => (
            host.evaluate_reusing(&compiled, &prepared, threads, reuse),
            reuse.last(),
        ),
        None => (
            host.evaluate_all(&compiled, &prepared, threads),
            ReuseStats::default(),
        ),
    };
    let mut runs = Vec::with_capacity(rules.len());
    let mut proposals: Vec<Proposal> = Vec::new();
    let mut overrides = BTreeMap::new();
    for (rule, run) in rules.iter().zip(runs_only) {
        proposals.extend(run.proposals.iter().cloned());
        overrides.insert(
            rule.id.clone(),
            (rule.compiled.meta.dwell, rule.compiled.meta.cooldown),
        );
        runs.push((rule.clone(), run));
    }
    let resolution =
        leadorch_rules::resolve(facts.at, proposals, &facts.campaigns, policy, &overrides);
    TickOutcome {
        facts,
        facts_digest,
        runs,
        resolution,
        duration_us: started.elapsed().as_micros() as u64,
        reuse,
    }
}

/// SHA-256 (hex) of the canonical JSON of the facts.
pub fn digest(facts: &Facts) -> String {
    let bytes = serde_json::to_vec(facts).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// The id of `project`'s evaluation at `position` and `at` (stored as `acme/{position}@{at}`
/// outside the default project, so two projects' daemons woken by one event never share an
/// evaluation or change id).
pub fn evaluation_id(project: &str, position: u64, at: DateTime<Utc>) -> String {
    leadorch_domain::project::scoped(
        project,
        &format!(
            "{position}@{}",
            at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
    )
}

/// A rule run as stored: everything but the duration (which never replays identically).
pub fn run_record(rule: &LoadedRule, run: &RuleRun) -> RuleRunRecord {
    let mut value = serde_json::to_value(run).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("duration");
    }
    RuleRunRecord {
        rule_id: rule.id.clone(),
        rule_version: rule.version,
        source_digest: rule.compiled.source_digest.clone(),
        evaluated: run.evaluated as u64,
        run: value,
        duration_us: run.duration.as_micros() as u64,
    }
}

/// The Google account whose key seals an evaluation's facts excerpt and resolution: the
/// account the proposed-for campaigns were read through (`None` when none was read from
/// Google). A daemon evaluates only its own account's campaigns
/// ([`crate::facts::FactsScope::account`]), so there is one; should there be several, the first by name,
/// and [`facts_excerpt`] leaves the others' campaigns out, so that forgetting an account
/// never leaves its data sealed under another account's key.
fn evaluation_account(view: &FactsView, outcome: &TickOutcome) -> Option<String> {
    proposed_ids(outcome)
        .into_iter()
        .filter_map(|id| view.campaigns.get(id)?.google_account.clone())
        .min()
}

fn proposed_ids(outcome: &TickOutcome) -> Vec<&str> {
    let mut ids: Vec<&str> = outcome
        .resolution
        .accepted
        .iter()
        .map(|p| p.campaign.as_str())
        .chain(
            outcome
                .resolution
                .suppressed
                .iter()
                .map(|s| s.proposal.campaign.as_str()),
        )
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The facts worth keeping inline: campaigns something was proposed for (read through
/// `account`, or not from Google), and their teams.
fn facts_excerpt(view: &FactsView, outcome: &TickOutcome, account: Option<&str>) -> Value {
    let ids = proposed_ids(outcome);
    let same_account = |id: &str| {
        view.campaigns
            .get(id)
            .and_then(|c| c.google_account.as_deref())
            .is_none_or(|a| Some(a) == account)
    };
    let campaigns: Vec<&leadorch_rules::CampaignFacts> = outcome
        .facts
        .campaigns
        .iter()
        .filter(|c| ids.binary_search(&c.id.as_str()).is_ok() && same_account(&c.id))
        .collect();
    let teams: BTreeMap<&String, &leadorch_rules::TeamFacts> = outcome
        .facts
        .teams
        .iter()
        .filter(|(name, _)| campaigns.iter().any(|c| c.team.as_ref() == Some(*name)))
        .collect();
    json!({
        "at": outcome.facts.at,
        "timezone": outcome.facts.timezone,
        "window_minutes": outcome.facts.window_minutes,
        "campaigns": campaigns,
        "teams": teams,
    })
}

/// What recording an evaluation did.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The evaluation id.
    pub id: String,
    /// Changes requested (or found already requested by an earlier run of this evaluation).
    pub changes: Vec<RequestedChange>,
}

/// Records `project`'s evaluation and requests its accepted changes. Idempotent per
/// evaluation id.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    engine: &Engine,
    view: &FactsView,
    host: &RuleHost,
    outcome: &TickOutcome,
    trigger: &str,
    position: u64,
    actor: &str,
    project: &str,
) -> Result<Recorded> {
    let id = evaluation_id(project, position, outcome.facts.at);
    let mut changes = Vec::new();
    for (n, p) in outcome.resolution.accepted.iter().enumerate() {
        if p.decision.action.to_change().is_some() {
            changes.push(RequestedChange {
                campaign: p.campaign.clone(),
                change_id: format!("{id}/{n}"),
                rule_id: p.rule.clone(),
                action: p.decision.action.name().to_string(),
            });
        }
    }
    let google_account = evaluation_account(view, outcome);
    let record = EvaluationRecord {
        trigger: trigger.to_string(),
        log_position: position,
        facts_digest: outcome.facts_digest.clone(),
        facts: facts_excerpt(view, outcome, google_account.as_deref()),
        rules: outcome
            .runs
            .iter()
            .map(|(r, run)| run_record(r, run))
            .collect(),
        resolution: serde_json::to_value(&outcome.resolution).unwrap_or(Value::Null),
        changes: changes.clone(),
        engine_version: ENGINE_VERSION.to_string(),
        rhai_version: leadorch_rules::RHAI_VERSION.to_string(),
        lib_digest: host.lib_digest().to_string(),
        duration_us: outcome.duration_us,
        at: outcome.facts.at,
        google_account,
    };
    let metadata = Metadata::actor(actor);
    let stream = leadorch_domain::stream_id(<Evaluation as cqrs_es::Aggregate>::TYPE, &id);
    // Already recorded by an earlier run that stopped before requesting every change.
    if engine.store.log.stream_version(&stream).await? == 0 {
        engine
            .execute::<Evaluation>(&id, EvaluationCommand::Record(Box::new(record)), &metadata)
            .await?;
    }
    let decision_ref = format!("evaluation:{id}");
    for (n, p) in outcome.resolution.accepted.iter().enumerate() {
        let Some(change) = p.decision.action.to_change() else {
            continue;
        };
        let change_id = format!("{id}/{n}");
        let known = view
            .campaigns
            .get(&p.campaign)
            .is_some_and(|c| c.state.change(&change_id).is_some());
        if known {
            continue;
        }
        let command = CampaignCommand::RequestChange {
            change_id: change_id.clone(),
            change,
            reason: format!("[{}] {}", p.rule, p.decision.reason),
            decision_ref: Some(decision_ref.clone()),
            // Sealed with the campaign's account: rules write reasons from its facts.
            google_account: view
                .campaigns
                .get(&p.campaign)
                .and_then(|c| c.google_account.clone()),
            at: outcome.facts.at,
        };
        engine
            .execute::<Campaign>(&p.campaign, command, &metadata)
            .await?;
    }
    Ok(Recorded { id, changes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::Aggregate;
    use leadorch_domain::{AnyEvent, Rule, RuleCommand};
    use leadorch_rules::Limits;

    const SOURCE: &str = "//! scope: all\n//! every: 5m\n\nif team == () { return; }\n";

    fn enabled_rule() -> Vec<leadorch_domain::RuleEvent> {
        let at = Utc::now();
        let mut rule = Rule::default();
        let mut events = Vec::new();
        for command in [
            RuleCommand::Create {
                name: "gate".into(),
                source: SOURCE.into(),
                priority: 0,
                at,
            },
            RuleCommand::Enable { at },
        ] {
            for e in rule.decide(command).expect("decided") {
                rule.apply(e.clone());
                events.push(e);
            }
        }
        events
    }

    #[test]
    fn each_project_runs_its_own_rules_named_bare_with_ids_of_its_own() {
        let mut view = FactsView::default();
        let mut position = 0;
        for stream in [
            "rule:capacity_gate",
            "rule:acme/capacity_gate",
            "rule:acme/hours",
        ] {
            for e in enabled_rule() {
                position += 1;
                view.apply(position, stream, &AnyEvent::Rule(e));
            }
        }
        let host = RuleHost::new(None, Limits::default()).expect("host");
        let mut rules = RuleSet::default();
        let ids = |rules: Vec<Arc<LoadedRule>>| -> Vec<String> {
            rules.iter().map(|r| r.id.clone()).collect()
        };
        let (default, broken) = rules.enabled(&host, &view, "default");
        assert!(broken.is_empty(), "{broken:?}");
        assert_eq!(ids(default), vec!["capacity_gate"]);
        let (acme, _) = rules.enabled(&host, &view, "acme");
        assert_eq!(
            ids(acme),
            vec!["capacity_gate", "hours"],
            "bare within acme"
        );
        assert!(rules.enabled(&host, &view, "globex").0.is_empty());

        let at = Utc::now();
        assert_ne!(
            evaluation_id("default", 7, at),
            evaluation_id("acme", 7, at),
            "two projects' daemons woken by one event keep their evaluations apart"
        );
        assert!(evaluation_id("acme", 7, at).starts_with("acme/7@"));
        assert!(evaluation_id("default", 7, at).starts_with("7@"));
    }
}
