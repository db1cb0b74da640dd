//! The TypeScript declarations of the API's request and response types (ts-rs, ADR 0039):
//! what the desktop's front end uses instead of writing the types a second time.
//! `src-tauri/tests/ts_bindings.rs` writes them, with the desktop's own types, into
//! `desktop/src/generated` and fails when the committed files differ.
//!
//! Every type of `routes/` and [`Problem`] (the body of every `4xx`/`5xx`) is exported, with the types they contain; query parameters too
//! (their fields are what the query string may name). So are the engine's types the API
//! serves as they are — `leadorch_evaluate::explain::Explanation` (`GET …/explain`) and
//! `leadorch_domain::EvaluationRecord` (each `GET /v1/evaluations` item's `evaluation`) — which
//! derive `TS` and `ToSchema` under their crates' `schema` feature, turned on by this crate.

use std::path::Path;

use ts_rs::{Config, ExportError, TS};

use crate::problem::{FieldIssue, Problem};
use crate::routes::{
    access_log, audit, campaigns, capacity, events, google, history, keys, leads, ops, progress,
    rules, sources, subjects, teams, webhooks, Page,
};

/// How every binding is written: into `out_dir`, with 64-bit integers as `number` — what
/// serde_json writes them as (ts-rs's default, `bigint`, is not what `JSON.parse` gives).
/// Positions, counts and micro-amounts stay far below 2^53, where a `number` is exact.
pub fn config(out_dir: &Path) -> Config {
    Config::new().with_large_int("number").with_out_dir(out_dir)
}

/// Writes the declaration of every API type, and of every type they contain, one file per
/// type (`<Name>.ts`; `serde_json::Value` as `serde_json/JsonValue.ts`), into `cfg`'s folder.
pub fn export(cfg: &Config) -> Result<(), ExportError> {
    macro_rules! export {
        ($($t:ty),* $(,)?) => {
            $( <$t as TS>::export_all(cfg)?; )*
        };
    }
    export!(
        Problem,
        FieldIssue,
        Page<access_log::AccessEntry>,
        access_log::AccessEntry,
        access_log::AccessParams,
        campaigns::LastChange,
        campaigns::CampaignView,
        campaigns::ExplainQuery,
        leadorch_evaluate::explain::Explanation,
        audit::VerifyStatus,
        events::EventQuery,
        events::StreamQuery,
        events::CountQuery,
        events::DetailQuery,
        events::EventView,
        events::EventWindow,
        events::EventCount,
        events::PersonalField,
        events::EventDetail,
        capacity::CapacityReading,
        capacity::CapacityAnswer,
        capacity::HistoryQuery,
        capacity::RecordedReading,
        google::AccountView,
        google::ConsentStarted,
        google::RevokeAnswer,
        history::EvaluationQuery,
        history::EvaluationOrder,
        history::EvaluationView,
        leadorch_domain::EvaluationRecord,
        history::ReplayQuery,
        history::TeamThen,
        history::RuleThen,
        history::Replay,
        keys::KeyView,
        keys::NewKeyRequest,
        keys::CreatedKey,
        keys::ListKeys,
        keys::KeyList,
        leads::LeadBody,
        leads::ConsentBody,
        leads::LeadAnswer,
        leads::StatusChange,
        leads::StatusAnswer,
        ops::Ready,
        progress::Progress,
        rules::RuleScope,
        rules::RuleSchedule,
        rules::RuleItem,
        rules::RuleList,
        rules::RuleHeaderView,
        rules::VersionItem,
        rules::RuleDetail,
        rules::SaveRequest,
        rules::SaveAnswer,
        rules::EnabledAnswer,
        rules::HistoryItem,
        rules::HistoryList,
        rules::DiffQuery,
        rules::DiffAnswer,
        rules::RollbackRequest,
        rules::RollbackAnswer,
        rules::DryRunRequest,
        rules::DryRunDecision,
        rules::DryRunFailure,
        rules::DryRunLog,
        rules::DryRunAnswer,
        rules::ShowQuery,
        rules::CheckRequest,
        rules::CheckDiagnostic,
        rules::CheckedRule,
        rules::CheckAnswer,
        rules::BacktestRequest,
        rules::BacktestDecision,
        rules::BacktestFigures,
        rules::BacktestAnswer,
        rules::FixtureRequest,
        rules::FixtureRule,
        rules::FixtureStep,
        rules::FixtureAnswer,
        sources::SourceHealth,
        sources::SourcesAnswer,
        subjects::LookupRequest,
        subjects::SubjectMatch,
        subjects::LookupAnswer,
        subjects::LeadView,
        subjects::ExportAnswer,
        subjects::ExportedEvent,
        subjects::ErasureAnswer,
        subjects::WithdrawRequest,
        subjects::WithdrawAnswer,
        teams::TeamRequest,
        teams::MemberRequest,
        teams::TeamResponse,
        teams::MaxOpenLeadsFrom,
        teams::MemberResponse,
        teams::TeamList,
        webhooks::EventTypeName,
        webhooks::WebhookView,
        webhooks::NewWebhookRequest,
        webhooks::CreatedWebhook,
        webhooks::RotatedSecret,
        webhooks::WebhookList,
        webhooks::DeliveryStateName,
        webhooks::DeliveryView,
        webhooks::DeliveryList,
        webhooks::DeliveryParams,
    );
    Ok(())
}
