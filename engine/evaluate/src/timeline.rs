//! Replays that start from kept views instead of the log's first event (ADR 0043).
//!
//! [`FactsView::load_as_of`] folds the log from position 0 for every moment asked for: on a
//! million events, seconds per stop of a scrubber. A [`Timeline`] folds the log once, keeping
//! the view as it was every so many positions (a *mark*), with the earliest and latest event
//! time of each stretch between two marks, and the whole fold so far. A replay then starts
//! from the whole fold, or else the last mark, whose events all happened by the moment and all
//! lie within its position limit, and reads only the stretches after it that hold an event
//! that happened by then. The answer is the same
//! view the full fold gives (the events applied, their order and the view's position are the
//! same; `tests/timeline.rs` compares them), because a stretch read neither applies nor skips
//! differently from the full fold: one whose earliest event is later than the moment has
//! nothing to apply.
//!
//! Marks hold Google data opened with accounts' keys. Forgetting an account destroys its
//! key; a mark made before must then not answer again. Every replay first checks that each
//! account whose data the marks hold still has the key they were made with (one key read per
//! account; this sees destructions by any process, with or without an event), and drops every
//! mark otherwise. Leads' and consents' sealed fields are never opened by the facts view.
//!
//! Memory: at most [`MAX_MARKS`] marks; past that, every other one is dropped and the spacing
//! doubles.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use leadorch_core::time_travel::AsOf;
use leadorch_domain::{split_stream_id, AnyEvent};
use leadorch_domain::{KeyPurpose, PersonalData};

use crate::facts::{decode_for_facts, FactsView};

/// The most marks a timeline keeps.
pub const MAX_MARKS: usize = 32;

/// The positions between two marks at first.
pub const FIRST_SPACING: u64 = 20_000;

/// Events read per page.
const PAGE: u64 = 5_000;

/// The view as of a position, with what the stretch up to it held.
#[derive(Debug, Clone)]
struct Mark {
    /// The last position folded in.
    position: u64,
    /// The view after every domain event up to `position`.
    view: Arc<FactsView>,
    /// The latest event time of any domain event up to `position`.
    latest: Option<DateTime<Utc>>,
    /// The earliest event time of the domain events after the previous mark, up to
    /// `position` (`None`: there were none).
    earliest: Option<DateTime<Utc>>,
}

/// Kept views of the log (see the module's description). Not shared by processes: each
/// builds its own on its first replay.
#[derive(Debug)]
pub struct Timeline {
    marks: Vec<Mark>,
    /// Everything folded so far, up to `built_to`.
    tip: FactsView,
    built_to: u64,
    /// The latest event time folded so far.
    latest: Option<DateTime<Utc>>,
    /// The earliest event time folded since the last mark.
    earliest: Option<DateTime<Utc>>,
    spacing: u64,
    /// The keys the Google data folded in was opened with.
    keys: AccountKeys,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            marks: Vec::new(),
            tip: FactsView::default(),
            built_to: 0,
            latest: None,
            earliest: None,
            spacing: FIRST_SPACING,
            keys: AccountKeys::default(),
        }
    }
}

/// A stretch of the log a replay reads.
struct Stretch {
    after: u64,
    to: u64,
}

impl Timeline {
    /// A timeline that marks every `spacing` positions at first (at least 1).
    pub fn with_spacing(spacing: u64) -> Timeline {
        Timeline {
            spacing: spacing.max(1),
            ..Timeline::default()
        }
    }

    /// How many marks it keeps now.
    pub fn marks(&self) -> usize {
        self.marks.len()
    }

    /// The last position folded in.
    pub fn built_to(&self) -> u64 {
        self.built_to
    }

    /// The view of the events `as_of` includes: what [`FactsView::load_as_of`] folds, from
    /// the nearest mark. `progress(done, total)` is told the positions read so far and in all
    /// (catching up to the head, then the stretches this moment needs).
    pub async fn view_as_of(
        &mut self,
        engine: &leadorch_core::Engine,
        as_of: &AsOf,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> crate::Result<FactsView> {
        if !self.keys.unchanged(engine).await? {
            *self = Timeline::default();
        }
        let head = engine.store.log.head().await?.position;
        let catch_up = head.saturating_sub(self.built_to);
        let mut done = 0;
        // Until caught up, what is known: the catch-up, and the stretches already folded
        // (the part not yet folded is the catch-up's; counted once).
        let read = self.plan(as_of, self.built_to);
        let total = catch_up + read.iter().map(|s| s.to - s.after).sum::<u64>();
        progress(0, total);
        self.extend(engine, head, &mut |p| progress(done + p, total))
            .await?;
        done += catch_up;
        // The catch-up may have added marks: plan again, from the nearest one now.
        let read = self.plan(as_of, head);
        let total = done + read.iter().map(|s| s.to - s.after).sum::<u64>();
        progress(done, total);
        let mut view = match self.start(as_of) {
            Some((_, kept)) => kept.clone(),
            None => FactsView::default(),
        };
        let mut decoder = engine.store.codec.decoder(leadorch_store::Reveal::Decrypt);
        for stretch in read {
            let mut cursor = stretch.after;
            while cursor < stretch.to {
                let page = engine.store.log.read_after(cursor, PAGE).await?;
                let Some(last) = page.last().map(|r| r.position) else {
                    break;
                };
                for rec in page.iter().filter(|r| r.position <= stretch.to) {
                    if !is_domain(&rec.stream_id) || !as_of.holds_position(rec.position) {
                        continue;
                    }
                    let event = decode_for_facts(&mut decoder, rec).await?;
                    if as_of.happened(event.at()) {
                        view.apply(rec.position, &rec.stream_id, &event);
                    }
                }
                done += last.min(stretch.to) - cursor;
                progress(done, total);
                cursor = last;
            }
        }
        Ok(view)
    }

    /// Where a replay of `as_of` starts: the whole fold kept so far, else the last mark,
    /// within its position limit and whose events all happened by its moment; with the
    /// position it covers.
    fn start(&self, as_of: &AsOf) -> Option<(u64, &FactsView)> {
        let fits = |position: u64, latest: Option<DateTime<Utc>>| {
            as_of.holds_position(position)
                && as_of
                    .happened_by
                    .is_none_or(|t| latest.is_none_or(|l| l <= t))
        };
        if self.built_to > 0 && fits(self.built_to, self.latest) {
            return Some((self.built_to, &self.tip));
        }
        self.marks
            .iter()
            .rev()
            .find(|m| fits(m.position, m.latest))
            .map(|m| (m.position, &*m.view))
    }

    /// The stretches after [`Timeline::start`] a replay of `as_of` must read (those that may
    /// hold an event it includes), with the log after `built_to` up to `head`.
    fn plan(&self, as_of: &AsOf, head: u64) -> Vec<Stretch> {
        let from = self.start(as_of).map_or(0, |(position, _)| position);
        let limit = as_of.until.unwrap_or(u64::MAX).min(head);
        let may_hold = |earliest: Option<DateTime<Utc>>| match (as_of.happened_by, earliest) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(t), Some(e)) => e <= t,
        };
        let mut read: Vec<Stretch> = Vec::new();
        let mut add = |after: u64, to: u64| {
            let to = to.min(limit);
            if to <= after {
                return;
            }
            match read.last_mut() {
                Some(s) if s.to == after => s.to = to,
                _ => read.push(Stretch { after, to }),
            }
        };
        let mut previous = 0;
        for m in &self.marks {
            if m.position > from && may_hold(m.earliest) {
                add(previous.max(from), m.position);
            }
            previous = m.position;
        }
        let last = self.marks.last().map_or(0, |m| m.position);
        if self.built_to > from.max(last) && may_hold(self.earliest) {
            add(from.max(last), self.built_to);
        }
        // Appended since the catch-up (or not yet folded): read as it is.
        add(self.built_to.max(from), head);
        read
    }

    /// Folds the log from `built_to` up to `head` into the tip, marking it every `spacing`
    /// positions. `progress` is told the positions read.
    async fn extend(
        &mut self,
        engine: &leadorch_core::Engine,
        head: u64,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> crate::Result<()> {
        let start = self.built_to;
        let mut decoder = engine.store.codec.decoder(leadorch_store::Reveal::Decrypt);
        while self.built_to < head {
            let page = engine.store.log.read_after(self.built_to, PAGE).await?;
            if page.is_empty() {
                break;
            }
            self.keys.note_page(engine, &page).await?;
            for rec in page.iter().filter(|r| r.position <= head) {
                if is_domain(&rec.stream_id) {
                    let event = decode_for_facts(&mut decoder, rec).await?;
                    let at = event.at();
                    self.latest = self.latest.max(Some(at));
                    self.earliest = earlier(self.earliest, Some(at));
                    self.tip.apply(rec.position, &rec.stream_id, &event);
                }
                self.built_to = rec.position;
                let last = self.marks.last().map_or(0, |m| m.position);
                if self.built_to - last >= self.spacing {
                    self.mark();
                }
            }
            progress(self.built_to - start);
        }
        Ok(())
    }

    /// Keeps the tip as a mark, thinning the marks to every other one past [`MAX_MARKS`].
    fn mark(&mut self) {
        self.marks.push(Mark {
            position: self.built_to,
            view: Arc::new(self.tip.clone()),
            latest: self.latest,
            earliest: self.earliest.take(),
        });
        if self.marks.len() > MAX_MARKS {
            // Every second mark is kept; a dropped one's stretch joins the next kept one's.
            self.spacing *= 2;
            let mut kept: Vec<Mark> = Vec::with_capacity(self.marks.len() / 2 + 1);
            let mut earliest: Option<DateTime<Utc>> = None;
            for (i, m) in self.marks.drain(..).enumerate() {
                earliest = earlier(earliest, m.earliest);
                if i % 2 == 1 {
                    kept.push(Mark { earliest, ..m });
                    earliest = None;
                }
            }
            // A dropped last mark's stretch belongs to the one after the last kept mark.
            self.earliest = earlier(earliest, self.earliest);
            self.marks = kept;
        }
    }
}

/// The Google account whose key seals `rec`'s Google data (named in clear in the event),
/// read without opening anything; `None` for other streams and data not read from Google.
async fn sealing_account(
    clear: &mut leadorch_store::codec::Decoder<'_>,
    rec: &leadorch_store::RecordedEvent,
) -> crate::Result<Option<String>> {
    if split_stream_id(&rec.stream_id).is_none_or(|(t, _)| t != "campaign") {
        return Ok(None);
    }
    let event = match leadorch_core::projection::decode_current(rec) {
        Some(event) => event,
        None => leadorch_core::projection::decode(clear, rec).await?,
    };
    Ok(match event {
        AnyEvent::Campaign(e) => e.data_subject().map(str::to_string),
        _ => None,
    })
}

/// The key each Google account's data was opened with, for what keeps that data in memory
/// (replay marks, the API's facts view): when one differs now (the account was forgotten, or
/// forgotten and connected again), what was opened with it must go.
#[derive(Debug, Default, Clone)]
pub struct AccountKeys {
    /// The `google_ads` key id of each account when its data was first opened (`None`: it
    /// had none then).
    ids: BTreeMap<String, Option<String>>,
}

impl AccountKeys {
    /// Keys as noted before (a kept view's, ADR 0048).
    pub fn from_ids(ids: BTreeMap<String, Option<String>>) -> Self {
        AccountKeys { ids }
    }

    /// Each account noted, with the id of its key then.
    pub fn ids(&self) -> impl Iterator<Item = (&String, &Option<String>)> {
        self.ids.iter()
    }

    /// Remembers the key `account` has now, the first time it is seen (`None`: data not read
    /// from Google, nothing to remember).
    pub async fn note(
        &mut self,
        engine: &leadorch_core::Engine,
        account: Option<&str>,
    ) -> crate::Result<()> {
        let Some(account) = account else {
            return Ok(());
        };
        if !self.ids.contains_key(account) {
            let id = key_id(engine, account).await?;
            self.ids.insert(account.to_string(), id);
        }
        Ok(())
    }

    /// [`AccountKeys::note`] for the accounts whose keys seal `page`'s Google data, read in
    /// clear: called before the page is decoded with keys, so a key destroyed meanwhile is
    /// always seen as changed.
    pub async fn note_page(
        &mut self,
        engine: &leadorch_core::Engine,
        page: &[leadorch_store::RecordedEvent],
    ) -> crate::Result<()> {
        let mut clear = engine.store.codec.decoder(leadorch_store::Reveal::Redact);
        for rec in page {
            let account = sealing_account(&mut clear, rec).await?;
            self.note(engine, account.as_deref()).await?;
        }
        Ok(())
    }

    /// Whether every account seen still has the key it had (one key read per account).
    pub async fn unchanged(&self, engine: &leadorch_core::Engine) -> crate::Result<bool> {
        for (account, id) in &self.ids {
            if key_id(engine, account).await? != *id {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

async fn key_id(engine: &leadorch_core::Engine, account: &str) -> crate::Result<Option<String>> {
    Ok(engine
        .store
        .codec
        .keys()
        .key(account, KeyPurpose::GoogleAds)
        .await?
        .map(|k| k.id()))
}

fn earlier(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn is_domain(stream_id: &str) -> bool {
    split_stream_id(stream_id).is_some_and(|(t, _)| leadorch_domain::AGGREGATE_TYPES.contains(&t))
}
