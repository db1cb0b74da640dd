//! The limits of rule evaluation ([`Limits`]) and the fixed bounds beside them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::HostError;

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
/// Stack size of the worker threads of [`RuleHost::evaluate_all`](super::RuleHost::evaluate_all).
pub const EVAL_STACK_SIZE: usize = 4 << 20;

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
    pub(super) fn check(&self) -> Result<(), HostError> {
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
