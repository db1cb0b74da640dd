//! The sandboxed Rhai host: compiles rules once, prepares facts once per tick, and evaluates
//! each rule over the campaigns in its scope within hard limits.
//!
//! Isolation, in short: `Engine::new_raw()` with only the arithmetic, logic, string, math,
//! array, map, iterator and function-pointer packages (no time, no `sleep`, no `eval`, no
//! file access); imports resolve only to the compiled `rules/lib` modules; every Rhai limit is
//! set; a wall-clock budget per rule run is enforced from `on_progress`; `print`/`debug` go to
//! [`RuleRun::logs`]. The facts are pushed as constants, which Rhai refuses to modify.
//!
//! The host's parts, one module each: [`Limits`] and the errors (`limits`, `error`), the
//! bookkeeping of a rule run (`run`: [`RuleRun`], logs, the wall-clock budget), the facts
//! prepared once per tick (`prepared`: [`PreparedFacts`]) and the engine with its `rules/lib`
//! library (`library`). This file holds the host itself: compiling and evaluating rules.

use std::fmt;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, AST};
use sha2::{Digest, Sha256};

use crate::decision::Proposal;
use crate::facts::Facts;
use crate::meta::{parse_meta, RuleMeta};
use crate::natives;
use crate::view;

mod error;
mod library;
mod limits;
mod prepared;
mod reads;
mod reuse;
mod run;

pub use error::{CompileError, EvalError, HostError};
pub(crate) use library::register_packages;
pub use library::BUILT_IN as BUILT_IN_LIBRARY;
pub use limits::{
    Limits, CEILING_CALL_LEVELS, CEILING_EXPR_DEPTH, EVAL_STACK_SIZE, MAX_FUNCTIONS, MAX_LOG_LINES,
    MAX_LOG_LINE_CHARS, MAX_MODULES,
};
pub use prepared::PreparedFacts;
pub use reads::{Read, Reads};
pub use reuse::{Reuse, ReuseStats};
pub use run::{CampaignFailure, LogLine, RuleRun};

use error::{bare_message, position, runtime_error};
use library::{build_engine, read_library};
use prepared::PreparedCampaign;
use reuse::{Kept, KeyPlan, Outcome, Slot};
use run::{budget_clock, merge, LogSink, PartRun, RunGuard, RunState, TIMEOUT_TOKEN};

/// Most engine replicas a [`RuleHost`] keeps (one per core, up to this).
const MAX_REPLICAS: usize = 4;

/// A compiled rule: metadata, source digest and the compiled script. Cheap to clone.
#[derive(Clone)]
pub struct CompiledRule {
    /// Rule name.
    pub name: String,
    /// Header metadata.
    pub meta: RuleMeta,
    /// SHA-256 (hex) of the source text.
    pub source_digest: String,
    /// The compiled script, once per engine replica of the host (see [`RuleHost`]): worker
    /// threads each evaluate their own copy, so they never write to the same reference
    /// counts (which would make two threads barely faster than one).
    asts: Arc<[AST]>,
    /// What the script can read of the facts (the key of its kept results).
    reads: Arc<Reads>,
    /// The script only looks into `teams` ([`reads::only_looked_into`]): it is handed
    /// `teams` as a [`run::TeamsLookup`] (no copy of every team on `x in teams`, which Rhai
    /// makes of a map constant passed to a function), and its kept results depend on the
    /// teams each run looked up, not on all of them.
    pub(crate) teams_by_ref: bool,
}

impl CompiledRule {
    pub(crate) fn ast(&self) -> &AST {
        &self.asts[0]
    }

    /// What the rule's script can read of the facts, found in its code: the values a kept
    /// result of it is keyed on (see [`Reuse`]).
    pub fn reads(&self) -> &Reads {
        &self.reads
    }

    /// The copy compiled by the host's engine replica `replica`.
    fn ast_for(&self, replica: usize) -> &AST {
        &self.asts[replica % self.asts.len()]
    }
}

impl fmt::Debug for CompiledRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledRule")
            .field("name", &self.name)
            .field("meta", &self.meta)
            .field("source_digest", &self.source_digest)
            .finish_non_exhaustive()
    }
}

/// The rules host. Build it once at start-up (it compiles the library); it is `Send + Sync`,
/// so one host can serve several threads.
pub struct RuleHost {
    /// Identical engines (same packages, limits and library), one per worker thread of
    /// [`RuleHost::evaluate_all`] up to the number of cores: Rhai values, functions and
    /// modules are reference counted, and two threads sharing them contend on every count.
    engines: Vec<Engine>,
    limits: Limits,
    lib_digest: String,
    modules: Vec<String>,
    /// The library digest and the limits: what a [`Reuse`] must have been filled under.
    reuse_tag: String,
    /// Whether a library module names `global::` (where a function could read a rule's
    /// facts by name): then every rule is keyed on all the facts.
    lib_reads_globals: bool,
}

impl fmt::Debug for RuleHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleHost")
            .field("limits", &self.limits)
            .field("lib_digest", &self.lib_digest)
            .field("modules", &self.modules)
            .finish_non_exhaustive()
    }
}

/// Names rules can read; declared when compiling so that typos are compile errors.
const CONSTANTS: [&str; 4] = ["teams", "now", "campaign", "team"];

fn compile_scope() -> rhai::Scope<'static> {
    let mut scope = rhai::Scope::new();
    for name in CONSTANTS {
        // Plain variables, not constants: the optimizer must not fold facts in.
        scope.push_dynamic(name, Dynamic::UNIT);
    }
    scope
}

/// 1-based line and column (in characters) of the first occurrence of `needle`.
fn locate(source: &str, needle: &str) -> Option<(usize, usize)> {
    let at = source.find(needle)?;
    let before = &source[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Some((line, source[line_start..at].chars().count() + 1))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The digest a rule's source is known by (hex SHA-256 of its text): what an evaluation
/// records ([`CompiledRule::source_digest`]), a backtest reports and a rule's history shows.
pub fn source_digest(source: &str) -> String {
    sha256_hex(source.as_bytes())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

impl RuleHost {
    /// Builds the sandboxed engine and compiles every `*.rhai` file of `lib_dir` (e.g.
    /// `rules/lib`) into a module importable by its file stem (`import "hysteresis" as h;`).
    /// Library modules may import each other. Nothing else can be imported.
    pub fn new(lib_dir: Option<&Path>, limits: Limits) -> Result<RuleHost, HostError> {
        let sources = match lib_dir {
            Some(dir) => read_library(dir)?,
            None => Vec::new(),
        };
        RuleHost::with_library(sources, limits)
    }

    /// [`RuleHost::new`] over `lib_dir` when one is given, else over the library shipped
    /// with this version ([`BUILT_IN_LIBRARY`], the repository's `rules/lib`): what the CLI,
    /// the daemon, the HTTP API and the desktop app use, so that a rule importing
    /// `"hysteresis"` runs wherever the binary runs.
    pub fn new_or_built_in(lib_dir: Option<&Path>, limits: Limits) -> Result<RuleHost, HostError> {
        match lib_dir {
            Some(dir) => RuleHost::new(Some(dir), limits),
            None => RuleHost::built_in(limits),
        }
    }

    /// A host over the library shipped with this version ([`BUILT_IN_LIBRARY`]).
    pub fn built_in(limits: Limits) -> Result<RuleHost, HostError> {
        let sources = BUILT_IN_LIBRARY
            .iter()
            .map(|(name, source)| (name.to_string(), source.to_string()))
            .collect();
        RuleHost::with_library(sources, limits)
    }

    /// A host over library modules given as `(name, source)` pairs (a rule imports a module
    /// by its name).
    pub fn with_library(
        mut sources: Vec<(String, String)>,
        limits: Limits,
    ) -> Result<RuleHost, HostError> {
        limits.check()?;
        sources.sort();
        let mut hasher = Sha256::new();
        for (name, source) in &sources {
            hasher.update(name.as_bytes());
            hasher.update([0]);
            hasher.update(source.len().to_string().as_bytes());
            hasher.update([0]);
            hasher.update(source.as_bytes());
        }
        let lib_digest = hex::encode(hasher.finalize());
        let modules: Vec<String> = sources.iter().map(|(n, _)| n.clone()).collect();
        let lib_reads_globals = sources.iter().any(|(_, s)| s.contains("global::"));
        let reuse_tag = format!("{lib_digest} {limits:?}");
        let replicas = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_REPLICAS);
        let engines = (0..replicas)
            .map(|_| build_engine(&limits, sources.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RuleHost {
            engines,
            limits,
            lib_digest,
            modules,
            reuse_tag,
            lib_reads_globals,
        })
    }

    /// SHA-256 (hex) over the library modules' sorted names and sources (each as name, NUL,
    /// byte length, NUL, source). Record it with decisions next to the rule's digest.
    pub fn lib_digest(&self) -> &str {
        &self.lib_digest
    }

    /// Names of the library modules rules may import.
    pub fn modules(&self) -> &[String] {
        &self.modules
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Reads the header and compiles the rule once. Imports are resolved now, so an unknown
    /// module is a compile error; so is any variable other than the facts constants that the
    /// rule does not declare itself.
    pub fn compile(&self, name: &str, source: &str) -> Result<CompiledRule, CompileError> {
        let meta = parse_meta(source).map_err(|e| CompileError {
            rule: name.to_string(),
            line: Some(e.line),
            column: None,
            message: e.message,
        })?;
        let scope = compile_scope();
        // One copy per engine replica; they are identical (same source, same library).
        let mut asts = Vec::with_capacity(self.engines.len());
        for engine in &self.engines {
            let compiled = catch_unwind(AssertUnwindSafe(|| {
                engine.compile_into_self_contained(&scope, source)
            }));
            match compiled {
                Ok(Ok(ast)) => asts.push(ast),
                Ok(Err(err)) => return Err(self.compile_error(name, source, &err)),
                Err(panic) => {
                    return Err(CompileError {
                        rule: name.to_string(),
                        line: None,
                        column: None,
                        message: format!(
                            "the rule engine failed internally: {}",
                            panic_message(panic.as_ref())
                        ),
                    })
                }
            }
        }
        let reads = if self.lib_reads_globals {
            Reads::everything()
        } else {
            Reads::of(&asts[0])
        };
        let teams_by_ref = !self.lib_reads_globals && reads::only_looked_into(&asts[0], "teams");
        Ok(CompiledRule {
            name: name.to_string(),
            meta,
            source_digest: source_digest(source),
            asts: asts.into(),
            reads: Arc::new(reads),
            teams_by_ref,
        })
    }

    fn compile_error(&self, name: &str, source: &str, err: &EvalAltResult) -> CompileError {
        let (mut line, mut column) = position(err.position());
        if let (EvalAltResult::ErrorModuleNotFound(module, _), None) = (err, line) {
            // Imports resolved while compiling carry no position: find the literal.
            if let Some((l, c)) = locate(source, &format!("\"{module}\"")) {
                line = Some(l);
                column = Some(c);
            }
        }
        let message = match err {
            EvalAltResult::ErrorParsing(kind, _) => kind.to_string(),
            EvalAltResult::ErrorModuleNotFound(module, _) if self.modules.is_empty() => format!(
                "unknown module {module:?}: no rules library is loaded, so rules can import \
                 nothing (available: none)"
            ),
            EvalAltResult::ErrorModuleNotFound(module, _) => format!(
                "unknown module {module:?}: rules can only import the rules library's modules \
                 (available: {})",
                self.modules.join(", ")
            ),
            other => bare_message(other),
        };
        CompileError {
            rule: name.to_string(),
            line,
            column,
            message,
        }
    }

    /// Turns facts into the Rhai values rules read, once per tick. Problems with the facts
    /// (unknown time zone, bad calendar) are kept and reported by every evaluation.
    pub fn prepare(&self, facts: &Facts) -> PreparedFacts {
        PreparedFacts::new(facts)
    }

    /// Runs the rule once per campaign in its scope. Runtime errors and bad return values
    /// are recorded per campaign; a resource limit (or bad facts) aborts the run and drops
    /// all its proposals. Deterministic: the same rule over the same facts gives the same
    /// run, apart from `duration` (and a timeout on an overloaded machine).
    pub fn evaluate(&self, rule: &CompiledRule, facts: &PreparedFacts) -> RuleRun {
        let mut runs = self.evaluate_all(std::slice::from_ref(rule), facts, 1);
        runs.pop().unwrap_or_else(|| RuleRun::empty(rule))
    }

    /// Evaluates several rules over the same facts: faster than one [`RuleHost::evaluate`]
    /// call per rule, because each campaign's values are put in place once for all rules.
    /// With `threads > 1` the campaigns are split into that many consecutive parts, each
    /// evaluated on its own thread (with an [`EVAL_STACK_SIZE`] stack); `threads <= 1`
    /// evaluates in the calling thread. The result is in rule order and identical to one
    /// [`RuleHost::evaluate`] call per rule, apart from durations (and timeouts, where each
    /// thread's part gets the full wall-clock budget).
    pub fn evaluate_all(
        &self,
        rules: &[CompiledRule],
        facts: &PreparedFacts,
        threads: usize,
    ) -> Vec<RuleRun> {
        self.run_all(rules, facts, threads, None)
    }

    /// Like [`RuleHost::evaluate_all`], but a rule's result for a campaign is replayed from
    /// `reuse` when the rule, the library, the limits and every fact value the rule's script
    /// can read ([`CompiledRule::reads`]) are what they were when it was kept; what is
    /// evaluated is kept for the next call. The runs are identical to
    /// [`RuleHost::evaluate_all`]'s, apart from durations (and timeouts).
    /// [`Reuse::last`] tells how many were reused.
    pub fn evaluate_reusing(
        &self,
        rules: &[CompiledRule],
        facts: &PreparedFacts,
        threads: usize,
        reuse: &mut Reuse,
    ) -> Vec<RuleRun> {
        reuse.begin(&self.reuse_tag, rules);
        self.run_all(rules, facts, threads, Some(reuse))
    }

    fn run_all(
        &self,
        rules: &[CompiledRule],
        facts: &PreparedFacts,
        threads: usize,
        mut reuse: Option<&mut Reuse>,
    ) -> Vec<RuleRun> {
        let n = facts.campaigns.len();
        let plan = reuse.as_ref().map(|_| KeyPlan::new(rules, facts));
        let kept: Vec<Option<&Kept>> = match reuse.as_deref() {
            Some(r) => rules.iter().map(|rule| r.kept(rule)).collect(),
            None => vec![None; rules.len()],
        };
        let with = plan.as_ref().map(|p| (p, kept.as_slice()));
        let threads = threads.clamp(1, n.max(1));
        let ranges: Vec<Range<usize>> = (0..threads)
            .map(|t| t * n / threads..(t + 1) * n / threads)
            .collect();
        let parts: Vec<Vec<PartRun>> = if threads == 1 {
            vec![self.evaluate_part(rules, facts, 0..n, 0, with)]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = ranges[1..]
                    .iter()
                    .enumerate()
                    .map(|(i, range)| {
                        let range = range.clone();
                        std::thread::Builder::new()
                            .name("leadorch-rules".to_string())
                            .stack_size(EVAL_STACK_SIZE)
                            .spawn_scoped(s, move || {
                                self.evaluate_part(rules, facts, range, i + 1, with)
                            })
                    })
                    .collect();
                let mut parts = vec![self.evaluate_part(rules, facts, ranges[0].clone(), 0, with)];
                for (handle, range) in handles.into_iter().zip(&ranges[1..]) {
                    // A part whose thread could not start (or died) is redone here.
                    let part = handle.ok().and_then(|h| h.join().ok()).unwrap_or_else(|| {
                        self.evaluate_part(rules, facts, range.clone(), 0, with)
                    });
                    parts.push(part);
                }
                parts
            })
        };
        drop(kept);
        let mut parts: Vec<_> = parts.into_iter().map(Vec::into_iter).collect();
        rules
            .iter()
            .map(|rule| {
                let mut pieces: Vec<PartRun> =
                    parts.iter_mut().filter_map(Iterator::next).collect();
                if let Some(reuse) = reuse.as_deref_mut() {
                    let fresh = pieces
                        .iter_mut()
                        .flat_map(|p| std::mem::take(&mut p.fresh))
                        .collect();
                    reuse.keep(rule, n, fresh);
                    reuse.count(
                        pieces.iter().map(|p| p.reused).sum(),
                        pieces.iter().map(|p| p.computed).sum(),
                    );
                }
                merge(rule, pieces, facts)
            })
            .collect()
    }

    /// Walks the campaigns of `range` once and evaluates each rule on those in its scope.
    /// The campaign's values are pushed into the Rhai scope once for all rules.
    fn evaluate_part(
        &self,
        rules: &[CompiledRule],
        facts: &PreparedFacts,
        range: Range<usize>,
        replica: usize,
        reuse: Option<(&KeyPlan, &[Option<&Kept>])>,
    ) -> Vec<PartRun> {
        let engine = &self.engines[replica % self.engines.len()];
        let in_scope: Vec<Vec<bool>> = rules
            .iter()
            .map(|rule| {
                facts.campaigns[range.clone()]
                    .iter()
                    .map(|c| {
                        rule.meta.scope.matches_parts(
                            &c.id,
                            &c.campaign_id,
                            &c.name,
                            &c.labels,
                            c.team.as_deref(),
                        )
                    })
                    .collect()
            })
            .collect();
        let mut states: Vec<RunState> = rules
            .iter()
            .zip(&in_scope)
            .map(|(rule, matches)| RunState {
                rule,
                part: PartRun {
                    evaluated: matches.iter().filter(|m| **m).count(),
                    ..PartRun::default()
                },
                logs: LogSink::default(),
            })
            .collect();
        if let Some(error) = &facts.error {
            for state in &mut states {
                state.part.aborted = Some(EvalError::BadFacts(error.clone()));
            }
            return states.into_iter().map(|s| s.part).collect();
        }
        if states.iter().all(|s| s.part.evaluated == 0) {
            return states.into_iter().map(|s| s.part).collect();
        }

        let guard = RunGuard::install();
        // Two scopes: rules that only look into `teams` get it as a `TeamsLookup`, the
        // others as the map. Copies with their own strings: nothing this thread touches is
        // shared with another.
        let mut scopes = [false, true].map(|by_ref| {
            let wanted = states
                .iter()
                .any(|s| s.rule.teams_by_ref == by_ref && s.part.evaluated > 0);
            let mut scope = rhai::Scope::with_capacity(32);
            if wanted {
                fill_scope(&mut scope, facts, by_ref);
            }
            scope
        });
        let base = 2;
        let budget = self.limits.wall_clock;

        let mut keys = reuse.map(|(plan, _)| plan.campaign());
        let (plan, kept) = match reuse {
            Some((plan, kept)) => (Some(plan), kept),
            None => (None, &[][..]),
        };

        for (offset, index) in range.clone().enumerate() {
            let campaign = &facts.campaigns[index];
            let wanted = |s: &RunState, m: &Vec<bool>| s.part.aborted.is_none() && m[offset];
            if !states.iter().zip(&in_scope).any(|(s, m)| wanted(s, m)) {
                continue;
            }
            if let Some(keys) = &mut keys {
                keys.reset();
            }
            let mut pushed = [false; 2];
            // One clock reading per evaluation: each one ends the previous evaluation (and
            // the recording of its result) and starts the next.
            let mut clock = None;
            for (r, (state, matches)) in states.iter_mut().zip(&in_scope).enumerate() {
                if !wanted(state, matches) {
                    continue;
                }
                let key = keys.as_mut().and_then(|k| k.key(r, campaign));
                let slot =
                    key.and_then(|key| kept.get(r)?.as_ref()?.get(index, &campaign.id, key, plan?));
                if let Some(slot) = slot {
                    replay(state, campaign, index, slot);
                    continue;
                }
                if state.part.spent >= budget {
                    state.part.aborted = Some(self.timeout());
                    continue;
                }
                let which = usize::from(state.rule.teams_by_ref);
                let scope = &mut scopes[which];
                if !pushed[which] {
                    // Rhai constants cannot be modified by scripts; the copies keep the
                    // prepared values safe from closures, which share what they capture
                    // (and shared values lose that protection).
                    let (campaign_value, team_value) =
                        (campaign.campaign.clone(), campaign.team_value.clone());
                    scope.push_constant_dynamic("campaign", campaign_value);
                    scope.push_constant_dynamic("team", team_value);
                    pushed[which] = true;
                }
                let started = *clock.get_or_insert_with(budget_clock);
                let deadline = started + (budget - state.part.spent);
                let ast = state.rule.ast_for(replica);
                let before = Before::of(state);
                run::start_lookups();
                let result = guard.with_rule(state, index, deadline, || {
                    catch_unwind(AssertUnwindSafe(|| {
                        engine.eval_ast_with_scope::<Dynamic>(scope, ast)
                    }))
                });
                let looked_up = run::take_lookups();
                scope.rewind(base + 2);
                repair_scope(scope, facts, campaign, state.rule.teams_by_ref);
                self.record(state, campaign, result);
                let now = budget_clock();
                clock = Some(now);
                state.part.spent += now - started;
                state.part.computed += 1;
                if let (Some(key), Some(plan)) = (key, plan) {
                    let deps = looked_up
                        .into_iter()
                        .map(|name| {
                            let hash = plan.team_hash(&name);
                            (name, hash)
                        })
                        .collect();
                    if let Some(slot) = before.slot(state, &campaign.id, key, deps) {
                        state.part.fresh.push((index, slot));
                    }
                }
            }
            // The copies are dropped here, on the thread that used them (in parallel, and
            // not later when the prepared facts are dropped).
            for (scope, pushed) in scopes.iter_mut().zip(pushed) {
                if pushed {
                    scope.rewind(base);
                }
            }
        }
        drop(guard);
        states
            .into_iter()
            .map(|mut state| {
                state.part.lines = state.logs.lines;
                state.part.truncated_at = state.logs.truncated_at;
                state.part
            })
            .collect()
    }

    /// Records the outcome of one campaign evaluation.
    fn record(
        &self,
        state: &mut RunState,
        campaign: &PreparedCampaign,
        result: std::thread::Result<Result<Dynamic, Box<EvalAltResult>>>,
    ) {
        let error = match result {
            Ok(Ok(value)) => match natives::decisions_from(value) {
                Ok(decisions) => {
                    let rule = state.rule;
                    state
                        .part
                        .proposals
                        .extend(decisions.into_iter().map(|decision| Proposal {
                            rule: rule.name.clone(),
                            priority: rule.meta.priority,
                            campaign: campaign.id.to_string(),
                            decision,
                        }));
                    return;
                }
                Err(message) => EvalError::BadReturn(message),
            },
            Ok(Err(err)) => self.classify(&err),
            Err(panic) => EvalError::Runtime {
                line: None,
                column: None,
                message: format!(
                    "the rule engine failed internally: {}",
                    panic_message(panic.as_ref())
                ),
            },
        };
        if error.aborts_run() {
            state.part.aborted = Some(error);
        } else {
            state.part.failures.push(CampaignFailure {
                campaign: campaign.id.to_string(),
                error,
            });
        }
    }

    fn timeout(&self) -> EvalError {
        EvalError::Timeout {
            budget_ms: u64::try_from(self.limits.wall_clock.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// What a Rhai error means for the run.
    pub(crate) fn classify(&self, err: &EvalAltResult) -> EvalError {
        let limits = &self.limits;
        match err.unwrap_inner() {
            EvalAltResult::ErrorTooManyOperations(_) => EvalError::TooManyOperations,
            EvalAltResult::ErrorTerminated(token, _)
                if token.clone().into_immutable_string().ok().as_deref() == Some(TIMEOUT_TOKEN) =>
            {
                self.timeout()
            }
            EvalAltResult::ErrorStackOverflow(_) => EvalError::TooDeep(format!(
                "more than {} nested function calls",
                limits.max_call_levels
            )),
            EvalAltResult::ErrorParsing(rhai::ParseErrorType::ExprTooDeep, _) => {
                EvalError::TooDeep("expression nested too deeply".to_string())
            }
            EvalAltResult::ErrorDataTooLarge(what, _) => {
                let limit = if what.contains("string") {
                    format!(" (limit {} bytes)", limits.max_string_size)
                } else if what.contains("array") {
                    format!(" (limit {} elements)", limits.max_array_size)
                } else if what.contains("map") {
                    format!(" (limit {} entries)", limits.max_map_size)
                } else {
                    String::new()
                };
                EvalError::TooLarge(format!("{what} over the limit{limit}"))
            }
            EvalAltResult::ErrorTooManyVariables(_) => {
                EvalError::TooLarge(format!("more than {} variables", limits.max_variables))
            }
            EvalAltResult::ErrorTooManyModules(_) => {
                EvalError::TooLarge(format!("more than {MAX_MODULES} modules"))
            }
            _ => runtime_error(err),
        }
    }
}

/// Replays a kept result into a run, as evaluating the campaign would have added it.
fn replay(state: &mut RunState, campaign: &PreparedCampaign, index: usize, slot: &Slot) {
    state.part.operations += slot.operations;
    state.part.reused += 1;
    let Some(outcome) = &slot.outcome else {
        return;
    };
    let rule = state.rule;
    state
        .part
        .proposals
        .extend(outcome.decisions.iter().map(|decision| Proposal {
            rule: rule.name.clone(),
            priority: rule.meta.priority,
            campaign: campaign.id.to_string(),
            decision: decision.clone(),
        }));
    if let Some(error) = &outcome.failure {
        state.part.failures.push(CampaignFailure {
            campaign: campaign.id.to_string(),
            error: error.clone(),
        });
    }
    state.logs.campaign = index;
    for line in &outcome.lines {
        state.logs.push(line);
    }
}

/// Where a run stood before one campaign was evaluated, to keep what that evaluation added.
struct Before {
    proposals: usize,
    failures: usize,
    lines: usize,
    operations: u64,
}

impl Before {
    fn of(state: &RunState) -> Before {
        Before {
            proposals: state.part.proposals.len(),
            failures: state.part.failures.len(),
            lines: state.logs.lines.len(),
            operations: state.part.operations,
        }
    }

    /// What the evaluation added, to keep; `None` when it stopped the run or printed past
    /// the run's log limit (the lines dropped are not known).
    fn slot(
        &self,
        state: &RunState,
        campaign: &rhai::ImmutableString,
        key: u64,
        deps: Box<[(rhai::ImmutableString, u64)]>,
    ) -> Option<Slot> {
        if state.part.aborted.is_some() || state.logs.truncated_at.is_some() {
            return None;
        }
        let outcome = Outcome {
            decisions: state.part.proposals[self.proposals..]
                .iter()
                .map(|p| p.decision.clone())
                .collect(),
            failure: state.part.failures[self.failures..]
                .first()
                .map(|f| f.error.clone()),
            lines: state.logs.lines[self.lines..]
                .iter()
                .map(|(_, line)| line.clone())
                .collect(),
        };
        Some(Slot::new(
            campaign,
            key,
            deps,
            state.part.operations - self.operations,
            outcome,
        ))
    }
}

/// Pushes `teams` (a [`run::TeamsLookup`] when `teams_by_ref`, else the map) and `now`,
/// constants, each a copy of its own.
fn fill_scope(scope: &mut rhai::Scope, facts: &PreparedFacts, teams_by_ref: bool) {
    let teams = view::deep_copy(&facts.teams);
    if teams_by_ref {
        scope.push_constant("teams", run::TeamsLookup::new(teams));
    } else {
        scope.push_constant_dynamic("teams", teams);
    }
    scope.push_constant_dynamic("now", view::deep_copy(&facts.now));
}

/// After an evaluation the scope holds `teams`, `now`, `campaign`, `team`. A closure that
/// captured one of them turned it into a shared value, which Rhai no longer protects from
/// changes; replace all four with fresh copies so the next rule sees the facts unchanged.
fn repair_scope(
    scope: &mut rhai::Scope,
    facts: &PreparedFacts,
    campaign: &PreparedCampaign,
    teams_by_ref: bool,
) {
    let tainted = CONSTANTS
        .iter()
        .any(|name| scope.get(name).is_some_and(Dynamic::is_shared));
    if !tainted {
        return;
    }
    scope.clear();
    fill_scope(scope, facts, teams_by_ref);
    scope.push_constant_dynamic("campaign", campaign.campaign.clone());
    scope.push_constant_dynamic("team", campaign.team_value.clone());
}
