//! The bookkeeping of a rule run: its outcome ([`RuleRun`]), the per-thread state Rhai's
//! callbacks write to (operation count, wall-clock deadline, bounded logs), and the merge of
//! the parts a run was split into.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use rhai::{Dynamic, ImmutableString};
use serde::{Deserialize, Serialize};

use super::prepared::PreparedFacts;
use super::{CompiledRule, EvalError, MAX_LOG_LINES, MAX_LOG_LINE_CHARS};
use crate::decision::Proposal;

/// One campaign's failure in a rule run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignFailure {
    /// Campaign id.
    pub campaign: String,
    /// What went wrong.
    pub error: EvalError,
}

/// A line a rule printed (`print` or `debug`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Campaign being evaluated when it was printed.
    pub campaign: String,
    /// The text.
    pub line: String,
}

/// The outcome of one rule over the campaigns in its scope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleRun {
    /// Rule name.
    pub rule: String,
    /// SHA-256 of the rule source that ran.
    pub source_digest: String,
    /// Campaigns in the rule's scope.
    pub evaluated: usize,
    /// Decisions, in campaign order then the order the rule returned them. Empty when
    /// [`RuleRun::aborted`] is set: a half-run rule never acts.
    pub proposals: Vec<Proposal>,
    /// Campaigns whose evaluation failed (the others went on).
    pub failures: Vec<CampaignFailure>,
    /// What the rule printed, bounded ([`MAX_LOG_LINES`], [`MAX_LOG_LINE_CHARS`]).
    pub logs: Vec<LogLine>,
    /// Set when a resource limit or bad facts stopped the whole run.
    pub aborted: Option<EvalError>,
    /// Rhai operations used over all campaigns.
    pub operations: u64,
    /// Wall-clock time of the run (the only non-deterministic field).
    pub duration: Duration,
}

impl RuleRun {
    pub(super) fn empty(rule: &CompiledRule) -> RuleRun {
        RuleRun {
            rule: rule.name.clone(),
            source_digest: rule.source_digest.clone(),
            evaluated: 0,
            proposals: Vec::new(),
            failures: Vec::new(),
            logs: Vec::new(),
            aborted: None,
            operations: 0,
            duration: Duration::ZERO,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Per-thread state of the run in progress. The engine is shared (and `Sync`), so the
// callbacks it calls (`on_progress`, `on_print`, `on_debug`) find the current run here.
// Evaluation is synchronous and never re-entrant, so one slot per thread suffices.

thread_local! {
    static OPS: Cell<u64> = const { Cell::new(0) };
    static OPS_BEFORE: Cell<u64> = const { Cell::new(0) };
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static LOG: RefCell<Option<LogSink>> = const { RefCell::new(None) };
    /// The team names the run in progress looked up in `teams` ([`TeamsLookup`]).
    static LOOKED_UP: RefCell<Vec<ImmutableString>> = const { RefCell::new(Vec::new()) };
}

/// `teams` as rules that only look into it see it ([`super::reads::only_looked_into`]):
/// the facts' teams behind a shared pointer (handing it to `contains` copies nothing), and
/// every name looked up (`teams[name]`, `teams.name`, `name in teams`) recorded for the run,
/// so a kept result of the run depends on those teams only (see `reuse`).
#[derive(Clone)]
pub(crate) struct TeamsLookup(std::sync::Arc<rhai::Map>);

impl TeamsLookup {
    pub(super) fn new(teams: Dynamic) -> TeamsLookup {
        TeamsLookup(std::sync::Arc::new(
            teams.try_cast::<rhai::Map>().unwrap_or_default(),
        ))
    }

    fn note(name: &ImmutableString) {
        LOOKED_UP.with(|l| l.borrow_mut().push(name.clone()));
    }

    /// `teams[name]` and `teams.name`: the team, or the error reading a key a map does not
    /// have gives (maps fail on a missing property in the host).
    fn get(&mut self, name: ImmutableString) -> Result<Dynamic, Box<rhai::EvalAltResult>> {
        Self::note(&name);
        match self.0.get(name.as_str()) {
            Some(team) => Ok(team.clone()),
            None => Err(rhai::EvalAltResult::ErrorPropertyNotFound(
                name.to_string(),
                rhai::Position::NONE,
            )
            .into()),
        }
    }

    /// `name in teams`.
    fn contains(&mut self, name: ImmutableString) -> bool {
        Self::note(&name);
        self.0.contains_key(name.as_str())
    }

    /// Registers the type (named `map`, as `teams` is for other rules) and its lookups.
    pub(crate) fn register(engine: &mut rhai::Engine) {
        engine
            .register_type_with_name::<TeamsLookup>("map")
            .register_indexer_get(TeamsLookup::get)
            .register_fn("contains", TeamsLookup::contains);
    }
}

/// Starts recording the team names a run looks up.
pub(super) fn start_lookups() {
    LOOKED_UP.with(|l| l.borrow_mut().clear());
}

/// The team names looked up since [`start_lookups`], each once, in name order.
pub(super) fn take_lookups() -> Vec<ImmutableString> {
    let mut names = LOOKED_UP.with(|l| std::mem::take(&mut *l.borrow_mut()));
    names.sort_unstable();
    names.dedup();
    names
}

pub(super) const TIMEOUT_TOKEN: &str = "leadorch: wall-clock budget exhausted";

#[derive(Default)]
pub(super) struct LogSink {
    pub(super) campaign: usize,
    pub(super) lines: Vec<(usize, String)>,
    /// Campaign being evaluated when the first line over the limit was written.
    pub(super) truncated_at: Option<usize>,
}

impl LogSink {
    pub(super) fn push(&mut self, text: &str) {
        if self.lines.len() >= MAX_LOG_LINES {
            self.truncated_at.get_or_insert(self.campaign);
            return;
        }
        let line = if text.chars().count() > MAX_LOG_LINE_CHARS {
            let mut cut: String = text.chars().take(MAX_LOG_LINE_CHARS - 1).collect();
            cut.push('…');
            cut
        } else {
            text.to_string()
        };
        self.lines.push((self.campaign, line));
    }
}

pub(super) fn log(text: &str) {
    LOG.with(|slot| {
        if let Some(sink) = slot.borrow_mut().as_mut() {
            sink.push(text);
        }
    });
}

/// Marks this thread as evaluating; clears the per-thread state when dropped (also on
/// panic), so callbacks outside an evaluation (library set-up) find nothing.
pub(super) struct RunGuard;

impl RunGuard {
    pub(super) fn install() -> RunGuard {
        LOG.with(|slot| *slot.borrow_mut() = Some(LogSink::default()));
        RunGuard
    }

    /// Evaluates one campaign for one rule with that rule's deadline, operation count so
    /// far (for the every-1024-operations clock check) and log sink.
    pub(super) fn with_rule<T>(
        &self,
        state: &mut RunState,
        campaign: usize,
        deadline: Instant,
        f: impl FnOnce() -> T,
    ) -> T {
        OPS.set(0);
        OPS_BEFORE.set(state.part.operations);
        DEADLINE.set(Some(deadline));
        state.logs.campaign = campaign;
        LOG.with(|slot| {
            if let Some(sink) = slot.borrow_mut().as_mut() {
                std::mem::swap(sink, &mut state.logs);
            }
        });
        let out = f();
        LOG.with(|slot| {
            if let Some(sink) = slot.borrow_mut().as_mut() {
                std::mem::swap(sink, &mut state.logs);
            }
        });
        state.part.operations += OPS.get();
        DEADLINE.set(None);
        out
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        DEADLINE.set(None);
        OPS.set(0);
        OPS_BEFORE.set(0);
        LOG.with(|slot| *slot.borrow_mut() = None);
    }
}

/// One rule's run over part of the campaigns.
#[derive(Default)]
pub(super) struct PartRun {
    pub(super) evaluated: usize,
    pub(super) proposals: Vec<Proposal>,
    pub(super) failures: Vec<CampaignFailure>,
    pub(super) lines: Vec<(usize, String)>,
    pub(super) truncated_at: Option<usize>,
    pub(super) aborted: Option<EvalError>,
    pub(super) operations: u64,
    pub(super) spent: Duration,
    /// Campaigns evaluated here (not replayed).
    pub(super) computed: usize,
    /// Campaigns replayed from kept results.
    pub(super) reused: usize,
    /// Results evaluated here, to keep: (campaign position, result).
    pub(super) fresh: Vec<(usize, super::reuse::Slot)>,
}

/// A rule's part run in progress.
pub(super) struct RunState<'r> {
    pub(super) rule: &'r CompiledRule,
    pub(super) part: PartRun,
    pub(super) logs: LogSink,
}

/// Joins the parts of one rule's run, in campaign order, as if it had run in one go: the
/// first aborted part ends the run, and the log limit applies to the whole run.
pub(super) fn merge(rule: &CompiledRule, parts: Vec<PartRun>, facts: &PreparedFacts) -> RuleRun {
    let mut run = RuleRun::empty(rule);
    run.evaluated = parts.iter().map(|p| p.evaluated).sum();
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut truncated_at = None;
    for part in parts {
        run.proposals.extend(part.proposals);
        run.failures.extend(part.failures);
        run.operations += part.operations;
        run.duration += part.spent;
        if truncated_at.is_none() {
            for (campaign, line) in part.lines {
                if lines.len() < MAX_LOG_LINES {
                    lines.push((campaign, line));
                } else {
                    truncated_at = Some(campaign);
                    break;
                }
            }
            if truncated_at.is_none() {
                truncated_at = part.truncated_at;
            }
        }
        if part.aborted.is_some() {
            run.aborted = part.aborted;
            break;
        }
    }
    if run.aborted.is_some() {
        run.proposals.clear();
    }
    if let Some(campaign) = truncated_at {
        lines.push((campaign, "… truncated (more output dropped)".to_string()));
    }
    run.logs = lines
        .into_iter()
        .map(|(index, line)| LogLine {
            campaign: facts.campaigns[index].id.to_string(),
            line,
        })
        .collect();
    run
}

/// Called by Rhai on every operation: remembers the count and, every 1024 operations of
/// the run, checks the wall clock.
pub(super) fn on_progress(ops: u64) -> Option<Dynamic> {
    OPS.set(ops);
    if OPS_BEFORE.get().wrapping_add(ops) & 1023 == 0 {
        if let Some(deadline) = DEADLINE.get() {
            if budget_clock() >= deadline {
                return Some(Dynamic::from(TIMEOUT_TOKEN));
            }
        }
    }
    None
}

/// The clock of the per-run wall-clock budget ([`Limits::wall_clock`]): read by
/// [`on_progress`] and between evaluations. The only clock the rules crate reads; rules
/// themselves see only the facts' time.
///
/// [`Limits::wall_clock`]: super::Limits::wall_clock
// Allowed: the budget only stops endless or slow rules (a stopped run proposes nothing);
// no rule can read this clock.
#[allow(clippy::disallowed_methods)]
#[inline]
pub(super) fn budget_clock() -> Instant {
    Instant::now()
}
