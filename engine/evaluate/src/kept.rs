//! The kept facts view (ADR 0048): the facts view as of one position, written down sealed now
//! and then, so that a process on a long log (a daemon starting, `leadorch status`, the API's
//! first facts) starts from it and folds only the events after it instead of the whole log.
//!
//! A copy is only a shortcut: the log is the truth, and any doubt means folding from the first
//! event. A copy is used only when
//!
//! - it was written by a build that folds the log the same way: its format names a digest of
//!   the code that folds (this module's [`FOLD_SOURCES`]) and the crate's version, so any
//!   change to them sets every older copy aside;
//! - the event at its position is still the one it was folded to (same hash);
//! - every Google account whose data it holds still has the key that data was opened with
//!   (the facts view never shows what a forgotten account's key sealed, ADR 0043); and
//! - it opens with its own key, which forgetting any account's Google key destroys together
//!   with the copy ([`leadorch_store::kept`]).
//!
//! The copy is serialised as CBOR: binary floats round-trip exactly, so a view read back is
//! equal to the view written (`engine/evaluate/tests/kept.rs` folds both ways and compares).

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::facts::FactsView;
use crate::timeline::AccountKeys;

/// The code whose behaviour a kept view depends on: how events are decoded and folded. A
/// change to any of these files makes every copy written before it unusable (the next start
/// folds the log once and writes a new one).
const FOLD_SOURCES: [&[u8]; 13] = [
    include_bytes!("facts.rs"),
    include_bytes!("kept.rs"),
    include_bytes!("timeline.rs"),
    include_bytes!("../../core/src/projection.rs"),
    include_bytes!("../../domain/src/lib.rs"),
    include_bytes!("../../domain/src/upcast.rs"),
    include_bytes!("../../domain/src/campaign/aggregate.rs"),
    include_bytes!("../../domain/src/campaign/events.rs"),
    include_bytes!("../../domain/src/campaign/values.rs"),
    include_bytes!("../../domain/src/capacity.rs"),
    include_bytes!("../../domain/src/rule.rs"),
    include_bytes!("../../domain/src/team/mod.rs"),
    include_bytes!("../../domain/src/team/hours.rs"),
];

/// The format of a copy this build writes and reads.
pub fn format() -> &'static str {
    static FORMAT: OnceLock<String> = OnceLock::new();
    FORMAT.get_or_init(|| {
        let mut h = Sha256::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        for source in FOLD_SOURCES {
            h.update((source.len() as u64).to_be_bytes());
            h.update(source);
        }
        format!("cbor-1/{}", &hex::encode(h.finalize())[..16])
    })
}

/// What is written in clear beside the sealed copy (and authenticated with it).
#[derive(Debug, Serialize, Deserialize)]
struct Head {
    /// [`format`] of the build that wrote it.
    format: String,
    /// The view's position.
    position: u64,
    /// The hash of the event at that position, hex.
    hash: String,
    /// Each Google account whose data the view holds, with the id of the key it was opened
    /// with (`None`: it had none).
    keys: Vec<(String, Option<String>)>,
    /// When it was written.
    written_at: DateTime<Utc>,
}

/// A kept view, as read back.
#[derive(Debug)]
pub struct Kept {
    /// The view.
    pub view: FactsView,
    /// The keys its Google data was opened with.
    pub keys: AccountKeys,
}

/// Why [`load`] found no copy to use (for the daemon's start line and the tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unused {
    /// None written, or its key is gone (an account was forgotten since).
    None,
    /// Written by a build that folds differently.
    Format,
    /// The log no longer holds the event it was folded to.
    Log,
    /// An account's key changed since.
    KeyChanged,
    /// It does not decode.
    Corrupt,
}

/// The kept view, if one can be used (see the module's documentation), else why not.
pub async fn load(engine: &leadorch_core::Engine) -> crate::Result<Result<Kept, Unused>> {
    let Some(kept) = engine.store.codec.keys().kept_facts().await? else {
        return Ok(Err(Unused::None));
    };
    let Ok(head) = serde_json::from_slice::<Head>(&kept.head) else {
        return Ok(Err(Unused::Corrupt));
    };
    if head.format != format() {
        return Ok(Err(Unused::Format));
    }
    match event_hash(engine, head.position).await? {
        Some(hash) if hash == head.hash => {}
        _ => return Ok(Err(Unused::Log)),
    }
    let keys = AccountKeys::from_ids(head.keys.iter().cloned().collect());
    if !keys.unchanged(engine).await? {
        return Ok(Err(Unused::KeyChanged));
    }
    let view: FactsView = match ciborium::from_reader(kept.data.as_slice()) {
        Ok(view) => view,
        Err(e) => {
            tracing::warn!("the kept facts do not decode ({e}); folding the log instead");
            return Ok(Err(Unused::Corrupt));
        }
    };
    if view.position != head.position {
        return Ok(Err(Unused::Corrupt));
    }
    Ok(Ok(Kept { view, keys }))
}

/// Writes `view` (folded with `keys`) as the kept view, replacing the last one. `false` when
/// it was not written because an account's key changed meanwhile (the caller folds again) or
/// there is nothing to keep (an empty log).
pub async fn save(
    engine: &leadorch_core::Engine,
    view: &FactsView,
    keys: &AccountKeys,
    now: DateTime<Utc>,
) -> crate::Result<bool> {
    let Some(hash) = event_hash(engine, view.position).await? else {
        return Ok(false);
    };
    let head = Head {
        format: format().to_string(),
        position: view.position,
        hash,
        keys: head_keys(keys),
        written_at: now,
    };
    let head = serde_json::to_vec(&head).map_err(|e| crate::Error::Input(e.to_string()))?;
    let mut data = Vec::new();
    ciborium::into_writer(view, &mut data)
        .map_err(|e| crate::Error::Input(format!("the facts view does not encode: {e}")))?;
    let written = engine
        .store
        .codec
        .keys()
        .keep_facts(&head, &data, &head_keys(keys), now.timestamp_micros())
        .await?;
    Ok(written.is_ok())
}

fn head_keys(keys: &AccountKeys) -> Vec<(String, Option<String>)> {
    keys.ids().map(|(a, k)| (a.clone(), k.clone())).collect()
}

/// The hash of the event at `position` (`None`: no such event).
async fn event_hash(
    engine: &leadorch_core::Engine,
    position: u64,
) -> crate::Result<Option<String>> {
    if position == 0 {
        return Ok(None);
    }
    let page = engine.store.log.read_after(position - 1, 1).await?;
    Ok(page
        .first()
        .filter(|r| r.position == position)
        .map(|r| hex::encode(r.hash)))
}

/// The view of the whole log with the keys it was opened with: the kept view and the events
/// after it, or every event when there is no usable copy.
pub async fn load_or_fold(
    engine: &leadorch_core::Engine,
) -> crate::Result<(FactsView, AccountKeys)> {
    let (mut view, mut keys) = match load(engine).await? {
        Ok(kept) => (kept.view, kept.keys),
        Err(_) => Default::default(),
    };
    catch_up(engine, &mut view, &mut keys).await?;
    Ok((view, keys))
}

/// Folds the events after `view`'s position into it, noting the keys first; starts over from
/// the first event when a key it was opened with changed.
pub async fn catch_up(
    engine: &leadorch_core::Engine,
    view: &mut FactsView,
    keys: &mut AccountKeys,
) -> crate::Result<()> {
    if !keys.unchanged(engine).await? {
        *view = FactsView::default();
        *keys = AccountKeys::default();
    }
    let mut decoder = engine.store.codec.decoder(leadorch_store::Reveal::Decrypt);
    loop {
        let page = engine.store.log.read_after(view.position, 5_000).await?;
        if page.is_empty() {
            return Ok(());
        }
        keys.note_page(engine, &page).await?;
        view.fold_page(&mut decoder, &page).await?;
    }
}
