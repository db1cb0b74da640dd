#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod arbiter;
pub mod decision;
pub mod facts;
pub mod fixtures;
pub mod host;
pub mod lint;
pub mod meta;
mod natives;
pub mod plain;
mod view;

pub use arbiter::{
    fit_to_currency, resolve, Conflict, Policy, Resolution, SuppressReason, Suppressed,
};
pub use decision::{Action, Decision, Proposal};
pub use facts::{Calendar, CampaignFacts, Facts, Metrics, RefusedChange, TeamFacts};
pub use fixtures::{
    check_rule_file, fixture_rules, run_fixture, run_fixture_dir, run_fixture_source, FixtureError,
    FixtureReport, StepOutcome,
};
pub use host::{
    source_digest, CampaignFailure, CompileError, CompiledRule, EvalError, HostError, Limits,
    LogLine, PreparedFacts, Read, Reads, Reuse, ReuseStats, RuleHost, RuleRun, BUILT_IN_LIBRARY,
};
pub use lint::{unknown_facts, UnknownFact};
pub use meta::{parse_meta, MetaError, RuleMeta, Schedule, Scope, Trigger};
pub use plain::PlainEngine;

/// The Rhai version rules run on; must match `Cargo.lock`. Record it with every decision:
/// a different interpreter may decide differently.
pub const RHAI_VERSION: &str = "1.27.0";
