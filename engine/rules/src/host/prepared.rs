//! Facts turned into Rhai values once per tick ([`PreparedFacts`]), shared by every rule
//! evaluated over them.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use rhai::{Dynamic, ImmutableString, Map};

use crate::facts::{CampaignFacts, Facts};
use crate::view;

/// Campaigns per block of [`RuleHost::prepare`](super::RuleHost::prepare) sharing one copy of repeated strings.
const PREPARE_BLOCK: usize = 64;
/// From this many campaigns on, [`RuleHost::prepare`](super::RuleHost::prepare) builds on two threads.
const PARALLEL_PREPARE: usize = 256;

/// Facts turned into Rhai values once, shared by every rule evaluated in a tick.
pub struct PreparedFacts {
    pub(super) at: DateTime<Utc>,
    pub(super) error: Option<String>,
    pub(super) now: Dynamic,
    pub(super) teams: Dynamic,
    pub(super) campaigns: Vec<PreparedCampaign>,
}

/// One campaign's prepared values, and the parts of it scopes match on.
pub(super) struct PreparedCampaign {
    pub(super) id: ImmutableString,
    pub(super) campaign_id: ImmutableString,
    pub(super) name: ImmutableString,
    pub(super) labels: Vec<ImmutableString>,
    pub(super) team: Option<ImmutableString>,
    pub(super) campaign: Dynamic,
    pub(super) team_value: Dynamic,
}

impl fmt::Debug for PreparedFacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedFacts")
            .field("at", &self.at)
            .field("error", &self.error)
            .field("campaigns", &self.campaigns.len())
            .finish_non_exhaustive()
    }
}

impl Drop for PreparedFacts {
    /// Large fact sets are freed on two threads, as they were built.
    fn drop(&mut self) {
        if self.campaigns.len() >= PARALLEL_PREPARE {
            let second = self.campaigns.split_off(self.campaigns.len() / 2);
            std::thread::scope(|s| {
                let freed = std::thread::Builder::new()
                    .name("leadorch-prepare".to_string())
                    .spawn_scoped(s, move || drop(second));
                self.campaigns.clear();
                // A thread that could not start dropped `second` with the closure.
                drop(freed);
            });
        }
    }
}

impl PreparedFacts {
    /// The evaluation moment.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Why these facts cannot be evaluated (every run over them is aborted with
    /// [`EvalError::BadFacts`](super::EvalError::BadFacts)), if so.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Number of campaigns.
    pub fn len(&self) -> usize {
        self.campaigns.len()
    }

    /// Whether there are no campaigns.
    pub fn is_empty(&self) -> bool {
        self.campaigns.is_empty()
    }

    /// Turns facts into the Rhai values rules read ([`RuleHost::prepare`]). Problems with
    /// the facts (unknown time zone, bad calendar) are kept and reported by every evaluation.
    ///
    /// [`RuleHost::prepare`]: super::RuleHost::prepare
    pub(super) fn new(facts: &Facts) -> PreparedFacts {
        let at = facts.at;
        let (now, error) = match view::now_map(at, &facts.timezone, &facts.calendars) {
            Ok(now) => (now, None),
            Err(e) => (Dynamic::UNIT, Some(e)),
        };
        let mut teams = Map::new();
        for (name, team) in &facts.teams {
            teams.insert(name.as_str().into(), view::team_map(name, team, at));
        }
        // Each half (the parts `evaluate_all` gives two threads) is built in blocks, each
        // with its own shared strings and team values: a thread then only touches reference
        // counts no other thread touches. Large fact sets are built on two threads.
        let window = facts.window_minutes;
        let build = |campaigns: &[CampaignFacts]| -> Vec<PreparedCampaign> {
            let mut out = Vec::with_capacity(campaigns.len());
            for block in campaigns.chunks(PREPARE_BLOCK) {
                let mut strings = view::Interner::default();
                let mut team_values: HashMap<&str, Dynamic> = HashMap::new();
                for c in block {
                    let (campaign, [id, campaign_id, name], labels) =
                        view::campaign_map(c, at, window, &mut strings);
                    let team_value = match c.team.as_deref() {
                        None => Dynamic::UNIT,
                        Some(t) => team_values
                            .entry(t)
                            .or_insert_with(|| {
                                facts
                                    .teams
                                    .get(t)
                                    .map_or(Dynamic::UNIT, |team| view::team_map(t, team, at))
                            })
                            .clone(),
                    };
                    out.push(PreparedCampaign {
                        id,
                        campaign_id,
                        name,
                        labels,
                        team: c.team.as_deref().map(|t| strings.get(t)),
                        campaign,
                        team_value,
                    });
                }
            }
            out
        };
        let (first, second) = facts.campaigns.split_at(facts.campaigns.len() / 2);
        let campaigns = if facts.campaigns.len() >= PARALLEL_PREPARE {
            std::thread::scope(|s| {
                let other = std::thread::Builder::new()
                    .name("leadorch-prepare".to_string())
                    .spawn_scoped(s, || build(second));
                let mut campaigns = build(first);
                match other.ok().and_then(|h| h.join().ok()) {
                    Some(rest) => campaigns.extend(rest),
                    None => campaigns.extend(build(second)),
                }
                campaigns
            })
        } else {
            let mut campaigns = build(first);
            campaigns.extend(build(second));
            campaigns
        };
        PreparedFacts {
            at,
            error,
            now,
            teams: Dynamic::from_map(teams),
            campaigns,
        }
    }
}
