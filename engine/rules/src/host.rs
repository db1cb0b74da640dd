//! The sandboxed Rhai host: compiles rules once, prepares facts once per tick, and evaluates
//! each rule over the campaigns in its scope within hard limits.
//!
//! Isolation, in short: `Engine::new_raw()` with only the arithmetic, logic, string, math,
//! array, map, iterator and function-pointer packages (no time, no `sleep`, no `eval`, no
//! file access); imports resolve only to the compiled `rules/lib` modules; every Rhai limit is
//! set; a wall-clock budget per rule run is enforced from `on_progress`; `print`/`debug` go to
//! [`RuleRun::logs`]. The facts are pushed as constants, which Rhai refuses to modify.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rhai::module_resolvers::StaticModuleResolver;
use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage, BasicMapPackage,
    BasicMathPackage, BasicStringPackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::{
    Dynamic, Engine, EvalAltResult, ImmutableString, Map, Module, OptimizationLevel, Position, AST,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decision::Proposal;
use crate::facts::{CampaignFacts, Facts};
use crate::meta::{parse_meta, RuleMeta};
use crate::natives;
use crate::view;

/// Most `print`/`debug` lines kept per rule run; one "… truncated" line follows when more
/// were written.
pub const MAX_LOG_LINES: usize = 50;
/// Longest kept log line, in characters (longer lines are cut and end with `…`).
pub const MAX_LOG_LINE_CHARS: usize = 500;
/// Most functions a rule (or library module) may define.
pub const MAX_FUNCTIONS: usize = 256;
/// Most modules a rule may import.
pub const MAX_MODULES: usize = 16;
/// Highest `max_call_levels` accepted: deeper recursion can overflow a 2 MiB thread stack.
pub const CEILING_CALL_LEVELS: usize = 48;
/// Highest expression depth accepted (same reason).
pub const CEILING_EXPR_DEPTH: usize = 64;
/// Stack size of the worker threads of [`RuleHost::evaluate_all`].
pub const EVAL_STACK_SIZE: usize = 4 << 20;
/// Campaigns per block of [`RuleHost::prepare`] sharing one copy of repeated strings.
const PREPARE_BLOCK: usize = 64;
/// From this many campaigns on, [`RuleHost::prepare`] builds on two threads.
const PARALLEL_PREPARE: usize = 256;
/// Most engine replicas a [`RuleHost`] keeps (one per core, up to this).
const MAX_REPLICAS: usize = 4;

/// Resource limits of rule evaluation. Counts apply per campaign evaluation; the wall-clock
/// budget applies to one rule's run over all its campaigns.
///
/// Evaluation recurses on the calling thread's stack: run it on a thread with at least
/// 2 MiB of stack (the default for spawned and Tokio blocking threads). The ceilings
/// [`CEILING_CALL_LEVELS`] and [`CEILING_EXPR_DEPTH`] keep the worst case within that.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Rhai operations per campaign evaluation (0 would mean unlimited and is refused).
    pub max_operations: u64,
    /// Nested function calls.
    pub max_call_levels: usize,
    /// Expression nesting at the top level of a rule (checked when compiling).
    pub max_expr_depth: usize,
    /// Expression nesting inside functions (checked when compiling).
    pub max_function_expr_depth: usize,
    /// Longest string, in bytes.
    pub max_string_size: usize,
    /// Largest array.
    pub max_array_size: usize,
    /// Largest object map.
    pub max_map_size: usize,
    /// Most variables alive at once.
    pub max_variables: usize,
    /// Wall-clock budget of one rule run over all its campaigns.
    pub wall_clock: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 100_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_size: 10_000,
            max_array_size: 1_000,
            max_map_size: 1_000,
            max_variables: 256,
            wall_clock: Duration::from_millis(50),
        }
    }
}

impl Limits {
    fn check(&self) -> Result<(), HostError> {
        let problem = if self.max_operations == 0 {
            Some("max_operations must be above 0 (0 would mean unlimited)".to_string())
        } else if self.max_call_levels == 0 || self.max_call_levels > CEILING_CALL_LEVELS {
            Some(format!(
                "max_call_levels must be 1..={CEILING_CALL_LEVELS}, got {}",
                self.max_call_levels
            ))
        } else if [self.max_expr_depth, self.max_function_expr_depth]
            .iter()
            .any(|d| *d == 0 || *d > CEILING_EXPR_DEPTH)
        {
            Some(format!(
                "expression depths must be 1..={CEILING_EXPR_DEPTH}, got {} and {}",
                self.max_expr_depth, self.max_function_expr_depth
            ))
        } else if [
            self.max_string_size,
            self.max_array_size,
            self.max_map_size,
            self.max_variables,
        ]
        .contains(&0)
        {
            Some("size limits must be above 0 (0 would mean unlimited)".to_string())
        } else if self.wall_clock.is_zero() {
            Some("wall_clock must be above 0".to_string())
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(HostError::Limits(p)))
    }
}

/// Why a [`RuleHost`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The library folder or one of its files could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A library module does not compile or its top level fails.
    #[error("rules library {0}")]
    Library(CompileError),
    /// The limits are unusable.
    #[error("bad limits: {0}")]
    Limits(String),
}

/// A rule (or library module) that does not compile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct CompileError {
    /// Rule (or module) name.
    pub rule: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {}: ", self.rule)?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: ")?,
            (Some(l), None) => write!(f, "line {l}: ")?,
            _ => {}
        }
        f.write_str(&self.message)
    }
}

/// Why evaluating a rule failed, for one campaign or for the whole run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum EvalError {
    /// The per-campaign operation budget ran out (aborts the run).
    #[error("too many operations (endless loop?)")]
    TooManyOperations,
    /// The wall-clock budget of the rule run ran out (aborts the run).
    #[error("took longer than the {budget_ms} ms budget")]
    Timeout {
        /// The budget.
        budget_ms: u64,
    },
    /// Call levels, expression depth or stack exhausted (aborts the run).
    #[error("too deep: {0}")]
    TooDeep(String),
    /// A string, array, map or the variable count grew past its limit (aborts the run).
    #[error("too large: {0}")]
    TooLarge(String),
    /// The script failed for this campaign (`throw`, wrong types, unknown function…).
    #[error("{}", runtime_display(.line, .column, .message))]
    Runtime {
        /// 1-based line in the rule source, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What went wrong.
        message: String,
    },
    /// The script returned something that is not a decision.
    #[error("bad return value: {0}")]
    BadReturn(String),
    /// The facts cannot be evaluated (unknown time zone, bad calendar).
    #[error("bad facts: {0}")]
    BadFacts(String),
}

fn runtime_display(line: &Option<usize>, column: &Option<usize>, message: &str) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: {message}"),
        (Some(l), None) => format!("line {l}: {message}"),
        _ => message.to_string(),
    }
}

impl EvalError {
    /// Stable kind name, as serialized: `too_many_operations`, `timeout`, `too_deep`,
    /// `too_large`, `runtime`, `bad_return`, `bad_facts`.
    pub fn kind(&self) -> &'static str {
        match self {
            EvalError::TooManyOperations => "too_many_operations",
            EvalError::Timeout { .. } => "timeout",
            EvalError::TooDeep(_) => "too_deep",
            EvalError::TooLarge(_) => "too_large",
            EvalError::Runtime { .. } => "runtime",
            EvalError::BadReturn(_) => "bad_return",
            EvalError::BadFacts(_) => "bad_facts",
        }
    }

    /// Whether this error stops the whole run of the rule (resource limits, bad facts).
    pub fn aborts_run(&self) -> bool {
        !matches!(self, EvalError::Runtime { .. } | EvalError::BadReturn(_))
    }
}

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
}

impl CompiledRule {
    pub(crate) fn ast(&self) -> &AST {
        &self.asts[0]
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
    fn empty(rule: &CompiledRule) -> RuleRun {
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
}

const TIMEOUT_TOKEN: &str = "leadorch: wall-clock budget exhausted";

#[derive(Default)]
struct LogSink {
    campaign: usize,
    lines: Vec<(usize, String)>,
    /// Campaign being evaluated when the first line over the limit was written.
    truncated_at: Option<usize>,
}

impl LogSink {
    fn push(&mut self, text: &str) {
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

fn log(text: &str) {
    LOG.with(|slot| {
        if let Some(sink) = slot.borrow_mut().as_mut() {
            sink.push(text);
        }
    });
}

/// Marks this thread as evaluating; clears the per-thread state when dropped (also on
/// panic), so callbacks outside an evaluation (library set-up) find nothing.
struct RunGuard;

impl RunGuard {
    fn install() -> RunGuard {
        LOG.with(|slot| *slot.borrow_mut() = Some(LogSink::default()));
        RunGuard
    }

    /// Evaluates one campaign for one rule with that rule's deadline, operation count so
    /// far (for the every-1024-operations clock check) and log sink.
    fn with_rule<T>(
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
struct PartRun {
    evaluated: usize,
    proposals: Vec<Proposal>,
    failures: Vec<CampaignFailure>,
    lines: Vec<(usize, String)>,
    truncated_at: Option<usize>,
    aborted: Option<EvalError>,
    operations: u64,
    spent: Duration,
}

/// A rule's part run in progress.
struct RunState<'r> {
    rule: &'r CompiledRule,
    part: PartRun,
    logs: LogSink,
}

/// Joins the parts of one rule's run, in campaign order, as if it had run in one go: the
/// first aborted part ends the run, and the log limit applies to the whole run.
fn merge(rule: &CompiledRule, parts: Vec<PartRun>, facts: &PreparedFacts) -> RuleRun {
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
fn on_progress(ops: u64) -> Option<Dynamic> {
    OPS.set(ops);
    if OPS_BEFORE.get().wrapping_add(ops) & 1023 == 0 {
        if let Some(deadline) = DEADLINE.get() {
            if Instant::now() >= deadline {
                return Some(Dynamic::from(TIMEOUT_TOKEN));
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------

/// Facts turned into Rhai values once, shared by every rule evaluated in a tick.
pub struct PreparedFacts {
    at: DateTime<Utc>,
    error: Option<String>,
    now: Dynamic,
    teams: Dynamic,
    campaigns: Vec<PreparedCampaign>,
}

struct PreparedCampaign {
    id: ImmutableString,
    campaign_id: ImmutableString,
    name: ImmutableString,
    labels: Vec<ImmutableString>,
    team: Option<ImmutableString>,
    campaign: Dynamic,
    team_value: Dynamic,
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
    /// [`EvalError::BadFacts`]), if so.
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

fn position(pos: Position) -> (Option<usize>, Option<usize>) {
    (pos.line(), pos.position())
}

/// 1-based line and column (in characters) of the first occurrence of `needle`.
fn locate(source: &str, needle: &str) -> Option<(usize, usize)> {
    let at = source.find(needle)?;
    let before = &source[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Some((line, source[line_start..at].chars().count() + 1))
}

/// The error's message without the trailing `(line L, position C)`.
fn bare_message(err: &EvalAltResult) -> String {
    let text = err.to_string();
    let pos = err.position();
    if pos.is_none() {
        return text;
    }
    let suffix = format!(" ({pos})");
    text.strip_suffix(&suffix)
        .map(str::to_string)
        .unwrap_or(text)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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
        limits.check()?;
        let sources = match lib_dir {
            Some(dir) => read_library(dir)?,
            None => Vec::new(),
        };
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
        Ok(CompiledRule {
            name: name.to_string(),
            meta,
            source_digest: sha256_hex(source.as_bytes()),
            asts: asts.into(),
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
            EvalAltResult::ErrorModuleNotFound(module, _) => format!(
                "unknown module {module:?}: rules can only import rules/lib modules (available: {})",
                if self.modules.is_empty() {
                    "none".to_string()
                } else {
                    self.modules.join(", ")
                }
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
        let n = facts.campaigns.len();
        let threads = threads.clamp(1, n.max(1));
        let ranges: Vec<Range<usize>> = (0..threads)
            .map(|t| t * n / threads..(t + 1) * n / threads)
            .collect();
        let parts: Vec<Vec<PartRun>> = if threads == 1 {
            vec![self.evaluate_part(rules, facts, 0..n, 0)]
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
                            .spawn_scoped(s, move || self.evaluate_part(rules, facts, range, i + 1))
                    })
                    .collect();
                let mut parts = vec![self.evaluate_part(rules, facts, ranges[0].clone(), 0)];
                for (handle, range) in handles.into_iter().zip(&ranges[1..]) {
                    // A part whose thread could not start (or died) is redone here.
                    let part = handle
                        .ok()
                        .and_then(|h| h.join().ok())
                        .unwrap_or_else(|| self.evaluate_part(rules, facts, range.clone(), 0));
                    parts.push(part);
                }
                parts
            })
        };
        let mut parts: Vec<_> = parts.into_iter().map(Vec::into_iter).collect();
        rules
            .iter()
            .map(|rule| {
                let pieces: Vec<PartRun> = parts.iter_mut().filter_map(Iterator::next).collect();
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
        let mut scope = rhai::Scope::with_capacity(32);
        // Copies with their own strings: nothing this thread touches is shared with another.
        scope.push_constant_dynamic("teams", view::deep_copy(&facts.teams));
        scope.push_constant_dynamic("now", view::deep_copy(&facts.now));
        let base = scope.len();
        let budget = self.limits.wall_clock;

        for (offset, index) in range.clone().enumerate() {
            let campaign = &facts.campaigns[index];
            let wanted = |s: &RunState, m: &Vec<bool>| s.part.aborted.is_none() && m[offset];
            if !states.iter().zip(&in_scope).any(|(s, m)| wanted(s, m)) {
                continue;
            }
            // Rhai constants cannot be modified by scripts; the copies keep the prepared
            // values safe from closures, which share what they capture (and shared values
            // lose that protection).
            let (campaign_value, team_value) =
                (campaign.campaign.clone(), campaign.team_value.clone());
            scope.push_constant_dynamic("campaign", campaign_value);
            scope.push_constant_dynamic("team", team_value);
            // One clock reading per evaluation: each one ends the previous evaluation (and
            // the recording of its result) and starts the next.
            let mut clock = Instant::now();
            for (state, matches) in states.iter_mut().zip(&in_scope) {
                if !wanted(state, matches) {
                    continue;
                }
                if state.part.spent >= budget {
                    state.part.aborted = Some(self.timeout());
                    continue;
                }
                let started = clock;
                let deadline = started + (budget - state.part.spent);
                let ast = state.rule.ast_for(replica);
                let result = guard.with_rule(state, index, deadline, || {
                    catch_unwind(AssertUnwindSafe(|| {
                        engine.eval_ast_with_scope::<Dynamic>(&mut scope, ast)
                    }))
                });
                scope.rewind(base + 2);
                repair_scope(&mut scope, facts, campaign);
                self.record(state, campaign, result);
                clock = Instant::now();
                state.part.spent += clock - started;
            }
            // The copies are dropped here, on the thread that used them (in parallel, and
            // not later when the prepared facts are dropped).
            scope.rewind(base);
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

/// After an evaluation the scope holds `teams`, `now`, `campaign`, `team`. A closure that
/// captured one of them turned it into a shared value, which Rhai no longer protects from
/// changes; replace all four with fresh copies so the next rule sees the facts unchanged.
fn repair_scope(scope: &mut rhai::Scope, facts: &PreparedFacts, campaign: &PreparedCampaign) {
    let tainted = CONSTANTS
        .iter()
        .any(|name| scope.get(name).is_some_and(Dynamic::is_shared));
    if !tainted {
        return;
    }
    scope.clear();
    scope.push_constant_dynamic("teams", view::deep_copy(&facts.teams));
    scope.push_constant_dynamic("now", view::deep_copy(&facts.now));
    scope.push_constant_dynamic("campaign", campaign.campaign.clone());
    scope.push_constant_dynamic("team", campaign.team_value.clone());
}

/// A runtime error with the position in the rule's own source: inside functions the rule
/// defines, the innermost position; inside library functions, the call site in the rule.
fn runtime_error(err: &EvalAltResult) -> EvalError {
    let mut pos = err.position();
    let mut context = Vec::new();
    let mut current = err;
    loop {
        match current {
            EvalAltResult::ErrorInFunctionCall(name, source, inner, _) => {
                if source.is_empty() {
                    context.push(format!("in function '{name}'"));
                    if !inner.position().is_none() {
                        pos = inner.position();
                    }
                } else {
                    let at = inner
                        .position()
                        .line()
                        .map(|l| format!(", line {l}"))
                        .unwrap_or_default();
                    context.push(format!("in function '{name}' of module '{source}'{at}"));
                }
                current = inner;
            }
            EvalAltResult::ErrorInModule(name, inner, _) => {
                context.push(format!("in module '{name}'"));
                current = inner;
            }
            _ => break,
        }
    }
    let mut message = match current {
        EvalAltResult::ErrorRuntime(value, _) if !value.is_unit() => {
            format!("thrown: {value}")
        }
        other => bare_message(other),
    };
    if !context.is_empty() {
        message.push_str(" (");
        message.push_str(&context.join(", "));
        message.push(')');
    }
    let (line, column) = position(pos);
    EvalError::Runtime {
        line,
        column,
        message,
    }
}

/// The packages rules get, and only those: no core language package (it has a blocking
/// `sleep`), no time package (`timestamp()` would make rules non-deterministic).
pub(crate) fn register_packages(engine: &mut Engine) {
    for package in [
        ArithmeticPackage::new().as_shared_module(),
        LogicPackage::new().as_shared_module(),
        BasicStringPackage::new().as_shared_module(),
        MoreStringPackage::new().as_shared_module(),
        BasicMathPackage::new().as_shared_module(),
        BasicArrayPackage::new().as_shared_module(),
        BasicMapPackage::new().as_shared_module(),
        BasicIteratorPackage::new().as_shared_module(),
        BasicFnPackage::new().as_shared_module(),
    ] {
        engine.register_global_module(package);
    }
}

/// The sandboxed engine with the rules library compiled into its module resolver.
fn build_engine(limits: &Limits, sources: Vec<(String, String)>) -> Result<Engine, HostError> {
    let mut engine = Engine::new_raw();
    register_packages(&mut engine);
    engine.disable_symbol("eval");
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_variables(limits.max_variables)
        .set_max_functions(MAX_FUNCTIONS)
        .set_max_modules(MAX_MODULES)
        .set_optimization_level(OptimizationLevel::Full)
        .set_fast_operators(true)
        .set_strict_variables(true);
    engine.on_progress(on_progress);
    engine.on_print(log);
    engine.on_debug(|text, _source, pos| match pos.line() {
        Some(line) => log(&format!("debug (line {line}): {text}")),
        None => log(&format!("debug: {text}")),
    });
    natives::register(&mut engine);
    let resolver = build_library(&mut engine, sources)?;
    engine.set_module_resolver(resolver);
    Ok(engine)
}

fn read_library(dir: &Path) -> Result<Vec<(String, String)>, HostError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HostError::Io { path, source }
    };
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("rhai") || !path.is_file() {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let source = std::fs::read_to_string(&path).map_err(io(&path))?;
        sources.push((stem.to_string(), source));
    }
    sources.sort();
    Ok(sources)
}

/// Compiles and evaluates the library modules, in dependency order (a module importing a
/// not-yet-built one is retried after it).
fn build_library(
    engine: &mut Engine,
    sources: Vec<(String, String)>,
) -> Result<StaticModuleResolver, HostError> {
    let names: BTreeSet<String> = sources.iter().map(|(n, _)| n.clone()).collect();
    let mut resolver = StaticModuleResolver::new();
    let mut pending = sources;
    while !pending.is_empty() {
        engine.set_module_resolver(resolver.clone());
        let mut waiting = Vec::new();
        let mut last_error = None;
        let before = pending.len();
        for (name, source) in pending {
            let built = engine
                .compile_into_self_contained(&rhai::Scope::new(), &source)
                .and_then(|mut ast| {
                    ast.set_source(name.as_str());
                    Module::eval_ast_as_new(rhai::Scope::new(), &ast, engine)
                });
            match built {
                Ok(module) => resolver.insert(name.as_str(), module),
                Err(err) => {
                    let waits_for_sibling = matches!(
                        err.unwrap_inner(),
                        EvalAltResult::ErrorModuleNotFound(m, _)
                            if names.contains(m.as_str()) && !resolver.contains_path(m)
                    );
                    let (line, column) = position(err.position());
                    let bare = bare_message(err.unwrap_inner());
                    let error = CompileError {
                        rule: format!("lib/{name}"),
                        line,
                        column,
                        message: if waits_for_sibling {
                            format!("{bare} (import cycle?)")
                        } else {
                            bare.to_string()
                        },
                    };
                    if !waits_for_sibling {
                        return Err(HostError::Library(error));
                    }
                    last_error = Some(error);
                    waiting.push((name, source));
                }
            }
        }
        if waiting.len() == before {
            if let Some(error) = last_error {
                return Err(HostError::Library(error));
            }
        }
        pending = waiting;
    }
    Ok(resolver)
}
