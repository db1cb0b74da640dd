//! The endpoints, one module per family. Each handler asks its [`crate::auth::Caller`] for the
//! scope it needs and documents itself for `/openapi.json` (`#[utoipa::path]`).

pub mod access_log;
pub mod audit;
pub mod campaigns;
pub mod capacity;
pub mod events;
pub mod google;
pub mod history;
pub mod keys;
pub mod leads;
pub mod ops;
pub mod progress;
pub mod rules;
pub mod sources;
pub mod subjects;
pub mod teams;
pub mod webhooks;

use serde::Serialize;
use ts_rs::TS;
use utoipa::ToSchema;

/// A page of a list: its items, and the cursor of the next page (`null` on the last).
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `before` (or `after`) for the next page; `null`: no more.
    pub next: Option<String>,
}

/// RFC 3339 text of µs since the epoch.
pub fn time_text(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
