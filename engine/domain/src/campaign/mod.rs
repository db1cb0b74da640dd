//! Google Ads campaigns as the engine knows them: what was last observed, which changes the
//! engine asked for and how they ended, and whether someone changed the campaign outside the
//! engine (which the engine then respects for a while instead of undoing it).
//!
//! The aggregate id is `"<customer_id>/<campaign_id>"` ([`Campaign::aggregate_id`]).
//!
//! How outside changes are told apart from the engine's own: every change the engine
//! requests is tracked by `change_id`. When it is marked applied, the aggregate's known state
//! is updated, so the next observation matches. When an observation arrives *before* the
//! change is marked applied (the executor raced the poller), a difference that an open
//! change would produce is also not counted as an outside change.
//!
//! One file per part: [`values`] (snapshots, changes, schedules, metrics), [`commands`],
//! [`events`] (with their personal-data pointers), [`errors`], and [`aggregate`] (the state,
//! `decide` with one function per command, and `evolve`).

pub mod aggregate;
pub mod commands;
pub mod errors;
pub mod events;
pub mod values;

pub use aggregate::Campaign;
pub use commands::CampaignCommand;
pub use errors::CampaignError;
#[cfg(test)]
pub(crate) use events::{sample_snapshot, samples};
pub use events::{CampaignEvent, EVENT_TYPES};
pub use values::{
    field, AdScheduleSlot, Bidding, CampaignChange, CampaignSnapshot, CampaignStatus, ChangeRecord,
    ChangeState, Currency, DayOfWeek, HourMetrics, MAX_SLOTS_PER_DAY,
};

#[cfg(test)]
mod metrics_tests;
#[cfg(test)]
mod tests;
