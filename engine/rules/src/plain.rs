//! Rules run the plain way, for baselines outside this crate (the rules benchmark's naive
//! tick, in `leadorch-bench`): a stock Rhai engine with the host's packages, decision
//! functions and limits, evaluating a compiled rule in a scope its caller fills. Production
//! code runs rules through [`RuleHost`], which is what such a baseline is measured against.

use rhai::{Dynamic, Engine, Scope};

use crate::decision::Decision;
use crate::host::{CompiledRule, EvalError, RuleHost};
use crate::natives;

/// A stock `Engine::new_raw()` with the packages rules get, the decision functions
/// (`pause`, `resume`, …) and the host's limits on operations, call levels, sizes and
/// variables, and reading a missing map property is an error as in the host; without what the host adds for speed and safety (facts prepared once per
/// tick, one engine per thread, the wall-clock budget, `print`/`debug` capture, `eval`
/// disabled). It runs rules as the host compiled them ([`RuleHost::compile`]).
pub struct PlainEngine<'h> {
    host: &'h RuleHost,
    engine: Engine,
}

impl<'h> PlainEngine<'h> {
    /// An engine with the packages, decision functions and limits of `host`.
    pub fn new(host: &'h RuleHost) -> PlainEngine<'h> {
        let limits = host.limits();
        let mut engine = Engine::new_raw();
        crate::host::register_packages(&mut engine);
        engine
            .set_max_operations(limits.max_operations)
            .set_max_call_levels(limits.max_call_levels)
            .set_max_string_size(limits.max_string_size)
            .set_max_array_size(limits.max_array_size)
            .set_max_map_size(limits.max_map_size)
            .set_max_variables(limits.max_variables)
            .set_fail_on_invalid_map_property(true);
        natives::register(&mut engine);
        PlainEngine { host, engine }
    }

    /// Evaluates `rule` once in `scope` (the caller puts `campaign`, `team`, `teams` and
    /// `now` in it) and reads the decisions it returned. Errors are those of the host: a
    /// runtime error or a bad return value concerns this evaluation only; any other
    /// ([`EvalError::aborts_run`]) stops the rule's run.
    pub fn run(&self, rule: &CompiledRule, scope: &mut Scope) -> Result<Vec<Decision>, EvalError> {
        let value = self
            .engine
            .eval_ast_with_scope::<Dynamic>(scope, rule.ast())
            .map_err(|e| self.host.classify(&e))?;
        natives::decisions_from(value).map_err(EvalError::BadReturn)
    }
}
