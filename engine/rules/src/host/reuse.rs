//! Rule results kept from one evaluation to the next ([`Reuse`]): a rule's result for a
//! campaign is replayed, not recomputed, while the rule's code, the library and limits, and
//! every value the rule can read (see [`Reads`](super::Reads)) are what they were.
//!
//! The key of a rule run for one campaign hashes the values of the facts the rule's script
//! can read ([`Reads`](super::Reads)). A run is a function of those values (Rhai evaluates
//! deterministically, the natives are pure, rules see no clock), so replaying its
//! proposals, failure, printed lines and operation count gives the run byte for byte. What
//! is not kept: a run stopped by a resource limit (that ends the rule's whole run anyway)
//! and a run whose printed lines went over the run's log limit (the lines dropped are not
//! known). Those are evaluated again.

use std::collections::HashMap;

use rhai::ImmutableString;

use super::prepared::{PreparedCampaign, PreparedFacts};
use super::reads::{Read, ValueHasher};
use super::{CompiledRule, EvalError};
use crate::decision::Decision;

/// [`KeyPlan::team_hash`] of a team the facts do not have.
const ABSENT: u64 = 0;
/// [`KeyPlan::team_hash`] of a team whose value cannot be hashed: differs from itself (a
/// result that looked it up is never reused; see [`Kept::get`]).
const UNHASHABLE: u64 = u64::MAX;

/// Calls after which a rule's kept results are dropped if it was not evaluated in between.
const KEEP_UNUSED_FOR: u64 = 1_000;

/// Rule results kept across evaluations, for one [`RuleHost`](super::RuleHost). Pass the
/// same `Reuse` to every [`RuleHost::evaluate_reusing`](super::RuleHost::evaluate_reusing)
/// call; a `Reuse` given to another host (another library or limits) starts empty.
#[derive(Default)]
pub struct Reuse {
    host: String,
    rules: HashMap<(String, String), Kept>,
    calls: u64,
    last: ReuseStats,
}

impl std::fmt::Debug for Reuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reuse")
            .field("rules", &self.rules.len())
            .field("calls", &self.calls)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

/// What the last evaluation did with the kept results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReuseStats {
    /// Rule runs for one campaign replayed from a kept result.
    pub reused: usize,
    /// Rule runs for one campaign evaluated.
    pub evaluated: usize,
}

/// One rule version's kept results, by campaign position in the facts.
#[derive(Default)]
pub(super) struct Kept {
    slots: Vec<Slot>,
    used: u64,
}

/// One campaign's kept result.
#[derive(Clone, Default)]
pub(super) struct Slot {
    /// The campaign id (empty: nothing kept).
    campaign: ImmutableString,
    key: u64,
    /// The teams the run looked up by name, with the hash of each then
    /// ([`KeyPlan::team_hash`]): for a rule that only looks into `teams`, whose key leaves
    /// `teams` out.
    deps: Box<[(ImmutableString, u64)]>,
    pub(super) operations: u64,
    /// `None`: no proposal, no failure, nothing printed (most runs).
    pub(super) outcome: Option<Box<Outcome>>,
}

/// What a run for one campaign produced, beyond its operation count.
#[derive(Clone, Debug, Default)]
pub(super) struct Outcome {
    pub(super) decisions: Vec<Decision>,
    pub(super) failure: Option<EvalError>,
    pub(super) lines: Vec<String>,
}

impl Slot {
    pub(super) fn new(
        campaign: &ImmutableString,
        key: u64,
        deps: Box<[(ImmutableString, u64)]>,
        operations: u64,
        outcome: Outcome,
    ) -> Slot {
        let empty =
            outcome.decisions.is_empty() && outcome.failure.is_none() && outcome.lines.is_empty();
        Slot {
            campaign: campaign.clone(),
            key,
            deps,
            operations,
            outcome: (!empty).then(|| Box::new(outcome)),
        }
    }
}

impl Reuse {
    /// An empty store of results.
    pub fn new() -> Reuse {
        Reuse::default()
    }

    /// What the last evaluation reused and evaluated.
    pub fn last(&self) -> ReuseStats {
        self.last
    }

    /// Forgets every kept result.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Starts a call for `host_tag` (the host's library digest and limits) over `rules`:
    /// results kept for another host are dropped, as are those of rules not evaluated for
    /// [`KEEP_UNUSED_FOR`] calls and of other versions of the rules evaluated now.
    pub(super) fn begin(&mut self, host_tag: &str, rules: &[CompiledRule]) {
        if self.host != host_tag {
            self.rules.clear();
            self.host = host_tag.to_string();
        }
        self.calls += 1;
        let calls = self.calls;
        for rule in rules {
            if let Some(kept) = self.rules.get_mut(&rule_key(rule)) {
                kept.used = calls;
            }
        }
        self.rules.retain(|(name, digest), kept| {
            let replaced = rules
                .iter()
                .any(|r| &r.name == name && &r.source_digest != digest);
            !replaced && calls - kept.used < KEEP_UNUSED_FOR
        });
        self.last = ReuseStats::default();
    }

    /// The kept results of `rule`, if any.
    pub(super) fn kept(&self, rule: &CompiledRule) -> Option<&Kept> {
        self.rules.get(&rule_key(rule))
    }

    /// Keeps the results evaluated in a call: `fresh` as (campaign position, slot), for
    /// facts of `campaigns` campaigns.
    pub(super) fn keep(
        &mut self,
        rule: &CompiledRule,
        campaigns: usize,
        fresh: Vec<(usize, Slot)>,
    ) {
        let calls = self.calls;
        let kept = self.rules.entry(rule_key(rule)).or_default();
        kept.used = calls;
        kept.slots.resize_with(campaigns, Slot::default);
        for (index, slot) in fresh {
            kept.slots[index] = slot;
        }
    }

    pub(super) fn count(&mut self, reused: usize, evaluated: usize) {
        self.last.reused += reused;
        self.last.evaluated += evaluated;
    }
}

fn rule_key(rule: &CompiledRule) -> (String, String) {
    (rule.name.clone(), rule.source_digest.clone())
}

impl Kept {
    /// The kept result for the campaign at `index`, if it was kept under `key` and every
    /// team its run looked up is as it was then.
    pub(super) fn get(
        &self,
        index: usize,
        campaign: &ImmutableString,
        key: u64,
        plan: &KeyPlan,
    ) -> Option<&Slot> {
        self.slots.get(index).filter(|s| {
            s.key == key
                && !s.campaign.is_empty()
                && s.campaign == *campaign
                && s.deps
                    .iter()
                    .all(|(name, hash)| *hash != UNHASHABLE && plan.team_hash(name) == *hash)
        })
    }
}

/// One value a key is made of, for one campaign.
#[derive(Clone, PartialEq, Eq)]
enum Item {
    /// `()` or a map (and the value itself when it is not a map).
    Kind(Var),
    /// A first-level field of the map (nothing when it is not a map).
    Field(Var, String),
    /// All of it.
    Whole(Var),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Var {
    Campaign,
    Team,
}

impl Item {
    fn hash(&self, campaign: &PreparedCampaign) -> Option<u64> {
        let value = |v: &Var| match v {
            Var::Campaign => &campaign.campaign,
            Var::Team => &campaign.team_value,
        };
        let mut h = ValueHasher::new();
        let hashed = match self {
            Item::Kind(v) => h.kind(value(v)),
            Item::Field(v, field) => h.field(value(v), field),
            Item::Whole(v) => h.value(value(v)),
        };
        hashed.then(|| h.finish())
    }
}

/// How to make each rule's key in one evaluation: the values every rule reads the same way
/// (`teams`, `now`) hashed once, and the per-campaign values all rules read listed once,
/// so that each is hashed once per campaign whatever number of rules read it.
pub(super) struct KeyPlan {
    items: Vec<Item>,
    /// Each team's hash, for the rules that look teams up by name.
    teams: HashMap<String, u64>,
    /// Per rule: the hash of its `teams` and `now` reads, and its items; `None` when a value
    /// it reads cannot be hashed (the rule is then evaluated, never reused).
    rules: Vec<Option<(u64, Vec<usize>)>>,
}

/// One campaign's item hashes, computed when first needed.
pub(super) struct CampaignKeys<'p> {
    plan: &'p KeyPlan,
    hashes: Vec<Option<Option<u64>>>,
}

impl KeyPlan {
    pub(super) fn new(rules: &[CompiledRule], facts: &PreparedFacts) -> KeyPlan {
        let mut items: Vec<Item> = Vec::new();
        let mut index = |item: Item| -> usize {
            match items.iter().position(|i| *i == item) {
                Some(at) => at,
                None => {
                    items.push(item);
                    items.len() - 1
                }
            }
        };
        let mut plans = Vec::with_capacity(rules.len());
        let mut teams = HashMap::new();
        if rules.iter().any(|r| r.teams_by_ref) {
            if let Some(map) = facts.teams.read_lock::<rhai::Map>() {
                for (name, team) in map.iter() {
                    let mut h = ValueHasher::new();
                    // A team whose value cannot be hashed never matches a kept result.
                    let hash = if h.value(team) {
                        h.finish()
                    } else {
                        UNHASHABLE
                    };
                    teams.insert(name.to_string(), hash);
                }
            }
        }
        for rule in rules {
            let reads = rule.reads();
            let mut shared = ValueHasher::new();
            // A rule that only looks teams up by name is keyed on the teams each run looked
            // up (the slot's `deps`), not on all of them.
            if !rule.teams_by_ref && !shared.read(&reads.teams, &facts.teams) {
                plans.push(None);
                continue;
            }
            shared.str("now");
            if !shared.read(&reads.now, &facts.now) {
                plans.push(None);
                continue;
            }
            let mut mine = Vec::new();
            for (var, read) in [(Var::Campaign, &reads.campaign), (Var::Team, &reads.team)] {
                match read {
                    Read::None => {}
                    Read::Whole => mine.push(index(Item::Whole(var))),
                    Read::Fields(fields) => {
                        mine.push(index(Item::Kind(var)));
                        for f in fields {
                            mine.push(index(Item::Field(var, f.clone())));
                        }
                    }
                }
            }
            plans.push(Some((shared.finish(), mine)));
        }
        KeyPlan {
            items,
            teams,
            rules: plans,
        }
    }

    /// The hash of team `name` in this evaluation's facts ([`ABSENT`] when there is none).
    pub(super) fn team_hash(&self, name: &str) -> u64 {
        self.teams.get(name).copied().unwrap_or(ABSENT)
    }

    pub(super) fn campaign(&self) -> CampaignKeys<'_> {
        CampaignKeys {
            plan: self,
            hashes: vec![None; self.items.len()],
        }
    }
}

impl CampaignKeys<'_> {
    /// Forgets the previous campaign's hashes.
    pub(super) fn reset(&mut self) {
        self.hashes.iter_mut().for_each(|h| *h = None);
    }

    /// The key of rule `rule` (its position in the evaluation) for `campaign`; `None` when
    /// a value it reads cannot be hashed.
    pub(super) fn key(&mut self, rule: usize, campaign: &PreparedCampaign) -> Option<u64> {
        let (shared, items) = self.plan.rules.get(rule)?.as_ref()?;
        let mut h = ValueHasher::new();
        h.u64(*shared);
        for &i in items {
            let hash = *self.hashes[i].get_or_insert_with(|| self.plan.items[i].hash(campaign));
            h.u64(hash?);
        }
        Some(h.finish())
    }
}
