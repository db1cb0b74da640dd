//! A dry run: one rule evaluated against the log's state — now, or as of an earlier point
//! ([`AsOf`], docs/time-travel.md) — and resolved as the daemon would resolve it, with nothing
//! recorded or applied. What `leadorch rules dry-run` prints and `POST /v1/rules/{id}/dry-run`
//! answers.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use leadorch_config::FactSettings;
use leadorch_core::time_travel::AsOf;
use leadorch_core::Engine;
use leadorch_rules::{Policy, RuleHost, RuleRun};

use crate::facts::{FactsScope, FactsView};
use crate::tick::{self, LoadedRule, TickOutcome};
use crate::Result;

/// What a dry run found.
#[derive(Debug)]
pub struct DryRun {
    /// The rule that ran.
    pub rule: Arc<LoadedRule>,
    /// The rule's clock: the time its facts are of (`now`, local time, business hours).
    pub at: DateTime<Utc>,
    /// The part of the log its facts came from.
    pub as_of: AsOf,
    /// Its run and how its proposals were resolved (only this rule's).
    pub outcome: TickOutcome,
}

impl DryRun {
    /// The rule's run over the campaigns in its scope.
    pub fn run(&self) -> &RuleRun {
        // `evaluate` returns one run per rule given, and it was given one.
        &self.outcome.runs[0].1
    }
}

/// Evaluates `rule` over the facts of the log `as_of` names, at the rule's clock: the event
/// time asked for, else the recorded time asked for, else (for a log position) the latest
/// event time up to it, else `now`. The facts hold only what had happened by that clock, so
/// no fact is younger than the time the rule sees. The rule sees `project`'s campaigns and
/// teams. Reads the log; records nothing.
#[allow(clippy::too_many_arguments)]
pub async fn dry_run(
    engine: &Engine,
    host: &RuleHost,
    project: &str,
    rule: Arc<LoadedRule>,
    as_of: AsOf,
    facts: &FactSettings,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<DryRun> {
    let clock = as_of.happened_by.or(as_of.known_at);
    let (view, at) = match (clock, as_of.position) {
        (None, Some(_)) => {
            let (view, latest) = FactsView::load_as_of(engine, &as_of).await?;
            (view, latest.unwrap_or(now))
        }
        (clock, _) => {
            let at = clock.unwrap_or(now);
            let (view, _) = FactsView::load_as_of(engine, &as_of.happened_by_at_most(at)).await?;
            (view, at)
        }
    };
    let outcome = tick::evaluate(
        host,
        std::slice::from_ref(&rule),
        view.facts_in(at, facts, &FactsScope::project(project)),
        policy,
    );
    Ok(DryRun {
        rule,
        at,
        as_of,
        outcome,
    })
}
