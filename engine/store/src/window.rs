//! Windows over the log for an audit view: a page of events after or before a position,
//! oldest or newest first, filtered by type, stream, actor, recorded time, event time and
//! which streams the reader may see; how many events such a filter matches; one event by
//! position.
//!
//! Every filter is one SQL statement, the same text on both backends but for the event-time
//! condition (how a payload's time is parsed differs). What it costs:
//! - position ranges walk the primary key;
//! - `event_type` uses `events_by_type (event_type, position)`, a stream the
//!   `(stream_id, stream_version)` key (within a stream, version order is position order);
//! - recorded time is turned into positions first (two seeks in `events_by_time`): recorded
//!   time never decreases with position, so a time range is a position range;
//! - the actor is compared on the metadata's first bytes (`{"actor":"…"` — metadata is always
//!   written by [`crate::Metadata::to_bytes`], whose first field is the actor), without parsing
//!   JSON, but on every row the other conditions leave;
//! - event time (each payload's own `at`, ADR 0019) is not in log order and has no index:
//!   every row the other conditions leave is parsed — its payload as JSON, then the `at` as
//!   RFC 3339 ([`crate::Dialect::event_time_range`]) — the dearest condition here: about 4 µs
//!   a row on SQLite and 5–6 µs on PostgreSQL (300-byte payloads), so about a second for a
//!   walk of 200,000 positions and ten for a count of 2,000,000. Nothing is written for it:
//!   appends cost what they did. An event without a readable `at` never matches it;
//! - [`Visibility`] is a condition on each row's stream id.
//!
//! The caller bounds what one statement may walk (a position range), since the last three
//! conditions use no index.

use crate::error::Result;
use crate::log::{EventLog, EventRow, RecordedEvent, EVENT_COLUMNS};
use crate::on_pool;

/// Which streams a reader may see, as a condition on stream ids (the store knows nothing of
/// projects: the API says which prefixes and streams are whose).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Visibility {
    /// Every stream.
    #[default]
    All,
    /// Only streams whose id starts with one of `prefixes` (`lead:acme/`), or is one of
    /// `streams`.
    Only {
        /// Stream id prefixes.
        prefixes: Vec<String>,
        /// Whole stream ids.
        streams: Vec<String>,
    },
    /// Every stream but those of a kind in `kinds` whose id holds a `/` (`lead:acme/f-1`), and
    /// but `streams`.
    Except {
        /// Stream kinds (`lead`, the part before the `:`).
        kinds: Vec<String>,
        /// Whole stream ids.
        streams: Vec<String>,
    },
}

/// Which events a window or a count takes (every condition given must hold).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Match {
    /// Only this event type.
    pub event_type: Option<String>,
    /// Only this stream (its stored id).
    pub stream: Option<String>,
    /// Only events whose metadata names this actor.
    pub actor: Option<String>,
    /// Only events recorded at or after this time (µs since the epoch; turned into a position
    /// range, see the module's documentation).
    pub recorded_from: Option<i64>,
    /// Only events recorded before this time (µs since the epoch).
    pub recorded_to: Option<i64>,
    /// Only events whose own time (their payload's `at`) is at or after this one (µs since the
    /// epoch). Checked row by row, see the module's documentation.
    pub event_from: Option<i64>,
    /// Only events whose own time is before this one (µs since the epoch).
    pub event_to: Option<i64>,
    /// Only streams the reader may see.
    pub visibility: Visibility,
}

/// A window: positions after `after` and before `before`, `limit` of them from one end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// Only positions greater than this one (0: from the start).
    pub after: u64,
    /// Only positions smaller than this one (`None`: to the end).
    pub before: Option<u64>,
    /// Newest first (the `limit` events just before `before`), else oldest first.
    pub newest_first: bool,
    /// At most this many.
    pub limit: u64,
    /// Which events.
    pub filter: Match,
}

/// The stored first bytes of metadata naming `actor` (two forms: more fields follow, or none).
fn actor_prefixes(actor: &str) -> (Vec<u8>, Vec<u8>) {
    let quoted = serde_json::to_string(actor).unwrap_or_default();
    let start = format!("{{\"actor\":{quoted}");
    (
        format!("{start},").into_bytes(),
        format!("{start}}}").into_bytes(),
    )
}

/// `kind` written for a `LIKE` pattern with `\` as the escape character.
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Appends ` AND …` for every condition of `$m` to query builder `$qb` of a database of
/// dialect `$dialect`.
macro_rules! push_match {
    ($qb:expr, $m:expr, $dialect:expr) => {{
        let qb = $qb;
        let m: &Match = $m;
        let dialect: crate::Dialect = $dialect;
        if let Some(t) = &m.event_type {
            qb.push(" AND event_type = ").push_bind(t.clone());
        }
        if let Some(s) = &m.stream {
            qb.push(" AND stream_id = ").push_bind(s.clone());
        }
        if let Some(a) = &m.actor {
            let (more, last) = actor_prefixes(a);
            qb.push(" AND (substr(metadata, 1, ")
                .push_bind(more.len() as i32)
                .push(") = ")
                .push_bind(more)
                .push(" OR substr(metadata, 1, ")
                .push_bind(last.len() as i32)
                .push(") = ")
                .push_bind(last)
                .push(")");
        }
        // The event's own time in `[from, to)`, worked out once per row (see the module's
        // documentation for what it costs).
        if m.event_from.is_some() || m.event_to.is_some() {
            let (lo, hi) = (
                m.event_from.unwrap_or(i64::MIN),
                m.event_to.unwrap_or(i64::MAX),
            );
            if lo >= hi {
                qb.push(" AND 1 = 0");
            } else {
                let [before, between, after] = dialect.event_time_range();
                qb.push(" AND ")
                    .push(before)
                    .push_bind(lo)
                    .push(between)
                    .push_bind(hi)
                    .push(after);
            }
        }
        match &m.visibility {
            Visibility::All => {}
            Visibility::Only { prefixes, streams } => {
                qb.push(" AND (1 = 0");
                for p in prefixes {
                    qb.push(" OR substr(stream_id, 1, ")
                        .push_bind(p.chars().count() as i32)
                        .push(") = ")
                        .push_bind(p.clone());
                }
                for s in streams {
                    qb.push(" OR stream_id = ").push_bind(s.clone());
                }
                qb.push(")");
            }
            Visibility::Except { kinds, streams } => {
                for k in kinds {
                    qb.push(" AND stream_id NOT LIKE ")
                        .push_bind(format!("{}:%/%", like_literal(k)))
                        .push(" ESCAPE '\\'");
                }
                for s in streams {
                    qb.push(" AND stream_id <> ").push_bind(s.clone());
                }
            }
        }
    }};
}

/// An `after` past every position the log can hold: nothing.
const NOTHING: u64 = i64::MAX as u64;

fn pos(p: u64) -> i64 {
    i64::try_from(p).unwrap_or(i64::MAX)
}

impl EventLog {
    /// The positions recorded in `m`'s `[recorded_from, recorded_to)` as bounds: only
    /// positions greater than the first and smaller than the second (recorded time never
    /// decreases with position). `(0, None)` without either; an `after` of `i64::MAX` when
    /// nothing was recorded since `recorded_from`.
    pub async fn recorded_bounds(&self, m: &Match) -> Result<(u64, Option<u64>)> {
        let mut after = 0;
        let mut before = None;
        if let Some(from) = m.recorded_from {
            let first: Option<i64> = on_pool!(self.db(), p => sqlx::query_scalar(
                "SELECT position FROM events WHERE recorded_at >= $1 \
                 ORDER BY recorded_at, position LIMIT 1")
                .bind(from)
                .fetch_optional(p)
                .await)?;
            after = match first {
                Some(first) => (first as u64).saturating_sub(1),
                None => NOTHING,
            };
        }
        if let Some(to) = m.recorded_to {
            let last: Option<i64> = on_pool!(self.db(), p => sqlx::query_scalar(
                "SELECT position FROM events WHERE recorded_at < $1 \
                 ORDER BY recorded_at DESC, position DESC LIMIT 1")
                .bind(to)
                .fetch_optional(p)
                .await)?;
            before = Some(last.map_or(0, |last| last as u64 + 1));
        }
        Ok((after, before))
    }

    /// The events of `window`, in the order it asks for.
    pub async fn window(&self, window: &Window) -> Result<Vec<RecordedEvent>> {
        let (floor, ceiling) = self.recorded_bounds(&window.filter).await?;
        let after = window.after.max(floor);
        let before = match (window.before, ceiling) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if before.is_some_and(|b| b <= after.saturating_add(1)) || after >= NOTHING {
            return Ok(Vec::new());
        }
        let rows: Vec<EventRow> = on_pool!(self.db(), p => {
            let mut qb = sqlx::QueryBuilder::new(format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE position > "
            ));
            qb.push_bind(pos(after));
            if let Some(before) = before {
                qb.push(" AND position < ").push_bind(pos(before));
            }
            push_match!(&mut qb, &window.filter, self.db().dialect());
            let dir = if window.newest_first { " DESC" } else { "" };
            // Within a stream, version order is position order, and it is what the
            // (stream_id, stream_version) key gives without a sort.
            if window.filter.stream.is_some() {
                qb.push(format!(" ORDER BY stream_id{dir}, stream_version{dir}"));
            } else {
                qb.push(format!(" ORDER BY position{dir}"));
            }
            qb.push(" LIMIT ").push_bind(pos(window.limit));
            qb.build_query_as().fetch_all(p).await
        })?;
        rows.into_iter().map(RecordedEvent::try_from).collect()
    }

    /// How many events at positions `after < position <= until` `filter` takes.
    pub async fn count(&self, filter: &Match, after: u64, until: u64) -> Result<u64> {
        let (floor, ceiling) = self.recorded_bounds(filter).await?;
        let after = after.max(floor);
        let until = match ceiling {
            Some(before) => until.min(before.saturating_sub(1)),
            None => until,
        };
        if until <= after {
            return Ok(0);
        }
        let n: i64 = on_pool!(self.db(), p => {
            let mut qb = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM events WHERE position > ");
            qb.push_bind(pos(after));
            qb.push(" AND position <= ").push_bind(pos(until));
            push_match!(&mut qb, filter, self.db().dialect());
            qb.build_query_scalar().fetch_one(p).await
        })?;
        Ok(n.max(0) as u64)
    }

    /// The event at `position`, if there is one and `visibility` lets the reader see it.
    pub async fn event_at(
        &self,
        position: u64,
        visibility: &Visibility,
    ) -> Result<Option<RecordedEvent>> {
        let filter = Match {
            visibility: visibility.clone(),
            ..Default::default()
        };
        let found = self
            .window(&Window {
                after: position.saturating_sub(1),
                before: Some(position.saturating_add(1)),
                newest_first: false,
                limit: 1,
                filter,
            })
            .await?;
        Ok(found.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_prefixes_are_the_serialised_metadata_start() {
        let m = crate::Metadata::actor("api-key:k \"1\"");
        let bytes = m.to_bytes();
        let (more, last) = actor_prefixes("api-key:k \"1\"");
        assert!(
            bytes.starts_with(&last),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        let mut m2 = m.clone();
        m2.trace_id = Some("t".into());
        assert!(m2.to_bytes().starts_with(&more));
        assert!(!m2.to_bytes().starts_with(&actor_prefixes("api-key:k").0));
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_literal("data_subject"), "data\\_subject");
        assert_eq!(like_literal("a%b\\"), "a\\%b\\\\");
    }
}
