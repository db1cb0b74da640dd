//! The sandboxed Rhai engine and the `rules/lib` library compiled into it: the only place
//! the rules crate reads files outside the fixtures runner.

use std::collections::BTreeSet;
use std::path::Path;

use rhai::module_resolvers::StaticModuleResolver;
use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage, BasicMapPackage,
    BasicMathPackage, BasicStringPackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::{Engine, EvalAltResult, Module, OptimizationLevel};

use super::error::{bare_message, position};
use super::run::{log, on_progress};
use super::{CompileError, HostError, Limits, MAX_FUNCTIONS, MAX_MODULES};
use crate::natives;

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
pub(super) fn build_engine(
    limits: &Limits,
    sources: Vec<(String, String)>,
) -> Result<Engine, HostError> {
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
        .set_strict_variables(true)
        // Reading a property or key a map does not have (`campaign.does_not_exist`, a typo)
        // is a runtime error, not `()`: a rule never silently compares nothing. Rules test
        // for an optional key with `"key" in map`.
        .set_fail_on_invalid_map_property(true);
    engine.on_progress(on_progress);
    engine.on_print(log);
    engine.on_debug(|text, _source, pos| match pos.line() {
        Some(line) => log(&format!("debug (line {line}): {text}")),
        None => log(&format!("debug: {text}")),
    });
    natives::register(&mut engine);
    super::run::TeamsLookup::register(&mut engine);
    let resolver = build_library(&mut engine, sources)?;
    engine.set_module_resolver(resolver);
    Ok(engine)
}

/// The library shipped with this version: the `*.rhai` files of the repository's `rules/lib`,
/// compiled into the binary, sorted by name. A host given no library folder uses it
/// ([`super::RuleHost::new_or_built_in`]), so rules that import its modules run wherever the
/// binary runs (ADR 0051). A test checks that it equals the folder.
pub const BUILT_IN: [(&str, &str); 3] = [
    (
        "calendar",
        include_str!("../../../../rules/lib/calendar.rhai"),
    ),
    (
        "hysteresis",
        include_str!("../../../../rules/lib/hysteresis.rhai"),
    ),
    ("pacing", include_str!("../../../../rules/lib/pacing.rhai")),
];

/// Reads the `*.rhai` files of the library folder, sorted by name.
// Allowed: loading `rules/lib` at start-up is the host's one file access (rules themselves
// cannot read files).
#[allow(clippy::disallowed_methods)]
pub(super) fn read_library(dir: &Path) -> Result<Vec<(String, String)>, HostError> {
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
