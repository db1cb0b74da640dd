//! Why a host could not be built ([`HostError`]), a rule did not compile ([`CompileError`])
//! or an evaluation failed ([`EvalError`]), and how Rhai's errors are turned into them.

use std::fmt;
use std::path::PathBuf;

use rhai::{EvalAltResult, Position};
use serde::{Deserialize, Serialize};

/// Why a [`RuleHost`](super::RuleHost) could not be built.
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

pub(super) fn position(pos: Position) -> (Option<usize>, Option<usize>) {
    (pos.line(), pos.position())
}

/// The error's message without the trailing `(line L, position C)`.
pub(super) fn bare_message(err: &EvalAltResult) -> String {
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

/// A runtime error with the position in the rule's own source: inside functions the rule
/// defines, the innermost position; inside library functions, the call site in the rule.
pub(super) fn runtime_error(err: &EvalAltResult) -> EvalError {
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
