//! `leadorch events list`: the event log in log order, as a table or JSON lines.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Result};
use chrono::SecondsFormat;
use clap::{Args, Subcommand};
use leadorch_core::time_travel::AsOf;
use leadorch_store::{EventFilter, RecordedEvent, Reveal};
use serde_json::json;

use crate::common::{as_of, hex, open, Open};
use crate::Global;

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// List events in log order
    List(ListArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this stream (e.g. lead:0191…, campaign:1234567890/1001)
    #[arg(long)]
    pub stream: Option<String>,
    /// Only this event type (e.g. LeadReceived); an unknown type is an error that lists the
    /// known ones
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Only events after this position
    #[arg(long, default_value_t = 0)]
    pub after: u64,
    /// At most this many events
    #[arg(long)]
    pub limit: Option<u64>,
    /// Only events that had happened by this event time (RFC 3339 or a date; each event's
    /// `at`), or that are at or before this log position (digits)
    #[arg(long, value_name = "TIME|POSITION")]
    pub as_of: Option<String>,
    /// Only events the log held at this recorded time (RFC 3339 or a date): written by then
    #[arg(long, value_name = "TIME")]
    pub known_at: Option<String>,
    /// One JSON object per line, with the payload
    #[arg(long)]
    pub json: bool,
    /// Decrypt personal fields in --json output (default: shown as null)
    #[arg(long, requires = "json")]
    pub reveal: bool,
}

pub async fn run(g: &Global, cmd: EventsCommand) -> Result<ExitCode> {
    match cmd {
        EventsCommand::List(args) => list(g, args).await,
    }
}

async fn list(g: &Global, args: ListArgs) -> Result<ExitCode> {
    let engine = open(g, Open::Existing).await?;
    if let Some(t) = &args.event_type {
        check_event_type(&engine, t).await?;
    }
    let view = as_of(&engine, args.as_of.as_deref(), args.known_at.as_deref()).await?;
    let filter = EventFilter {
        stream: args.stream,
        event_type: args.event_type,
        after: args.after,
        until: view.until,
        limit: args.limit,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut decoder = engine.store.codec.decoder(if args.reveal {
        Reveal::Decrypt
    } else {
        Reveal::Redact
    });
    // Event time is each event's own `at`, read from its payload (personal fields stay shut).
    let mut times = engine.store.codec.decoder(Reveal::Redact);
    if !args.json {
        writeln!(
            out,
            "{:>8}  {:<27}  {:<48}  {:>4}  {:<22}  ACTOR",
            "POSITION", "RECORDED_AT", "STREAM", "VER", "TYPE"
        )?;
    }
    // Page through the log so a long listing never sits in memory.
    let mut page = filter.clone();
    let mut left = filter.limit;
    while left != Some(0) {
        page.limit = Some(match view.happened_by {
            // Some events of a page may be left out: read full pages.
            Some(_) => 10_000,
            None => left.unwrap_or(u64::MAX).min(10_000),
        });
        let events = engine.store.log.list(&page).await?;
        let Some(last) = events.last().map(|e| e.position) else {
            break;
        };
        for e in &events {
            if left == Some(0) {
                break;
            }
            if view.happened_by.is_some() && !happened(&view, &mut times, e).await? {
                continue;
            }
            if args.json {
                let payload = decoder.payload(e).await?;
                let meta: serde_json::Value =
                    serde_json::from_slice(&e.metadata).unwrap_or(serde_json::Value::Null);
                let line = json!({
                    "position": e.position,
                    "stream": e.stream_id,
                    "stream_version": e.stream_version,
                    "event_id": e.event_id,
                    "type": e.event_type,
                    "schema_version": e.schema_version,
                    "recorded_at": e.recorded_at_utc().to_rfc3339_opts(SecondsFormat::Micros, true),
                    "metadata": meta,
                    "payload": payload,
                    "hash": hex(&e.hash),
                });
                writeln!(out, "{line}")?;
            } else {
                writeln!(
                    out,
                    "{:>8}  {:<27}  {:<48}  {:>4}  {:<22}  {}",
                    e.position,
                    e.recorded_at_utc()
                        .to_rfc3339_opts(SecondsFormat::Micros, true),
                    e.stream_id,
                    e.stream_version,
                    e.event_type,
                    e.metadata().actor
                )?;
            }
            if let Some(l) = left.as_mut() {
                *l -= 1;
            }
        }
        page.after = last;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Whether `e` had happened by the view's event time (an event outside the domain, which has
/// no `at`, by its recorded time).
async fn happened(
    view: &AsOf,
    decoder: &mut leadorch_store::codec::Decoder<'_>,
    e: &RecordedEvent,
) -> Result<bool> {
    let known = leadorch_domain::split_stream_id(&e.stream_id)
        .is_some_and(|(t, _)| leadorch_domain::AGGREGATE_TYPES.contains(&t));
    if !known {
        return Ok(view.includes_foreign(e.position, e.recorded_at));
    }
    let event = leadorch_core::projection::decode(decoder, e).await?;
    Ok(view.includes(e.position, &event))
}

/// Refuses an event type that neither the domain knows nor the log holds (a typo would
/// otherwise list nothing and succeed), naming the known types.
async fn check_event_type(engine: &leadorch_core::Engine, wanted: &str) -> Result<()> {
    let known: Vec<&str> = leadorch_domain::AGGREGATE_TYPES
        .iter()
        .filter_map(|a| leadorch_domain::event_types(a))
        .flat_map(|types| types.iter().map(|(name, _)| *name))
        .collect();
    if known.contains(&wanted) {
        return Ok(());
    }
    // Events the domain does not model (the crash tests' probes) are still listed when
    // the log holds some.
    let probe = EventFilter {
        stream: None,
        event_type: Some(wanted.to_string()),
        after: 0,
        until: None,
        limit: Some(1),
    };
    if !engine.store.log.list(&probe).await?.is_empty() {
        return Ok(());
    }
    let mut names: Vec<&str> = known;
    names.sort_unstable();
    names.dedup();
    let hint = names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(wanted))
        .map(|n| format!(" (did you mean {n}?)"))
        .unwrap_or_default();
    bail!(
        "unknown event type {wanted:?} in --type{hint}; known types: {}",
        names.join(", ")
    )
}
