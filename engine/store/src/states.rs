//! Aggregate states kept between commands, so that a command on a long stream reads only the
//! events recorded since the state was last built, not the whole stream again.
//!
//! A team's capacity stream grows by a reading every time its figures change: every push of
//! a CRM, every poll of a capacity source, and with `--capacity-source leads` every accepted
//! lead. Without this, each new reading first read and decoded every earlier one, so its cost
//! grew with the stream's age (quadratic over the stream's life).
//!
//! What is kept is only ever the fold of events read from the log, up to the stream version
//! read: the log's events never change and a stream's versions have no gaps, so that state
//! plus the events after its version is the stream's state now, whoever appended them (this
//! process, another one, another machine). Nothing appended but not read is folded in.
//!
//! Only streams none of whose events carry personal fields are kept
//! ([`PersonalData::personal_fields`]): a kept state must never hold personal data that an
//! erasure could not reach (ADR 0012). The first event with personal fields drops its stream
//! from here for good in this process.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// At most this many streams are kept; beyond it the map starts again empty (a state is only
/// a shortcut: a stream not kept is read whole, as it would be without this).
const MAX_STREAMS: usize = 4096;

struct Kept {
    version: u64,
    state: Box<dyn Any + Send + Sync>,
}

/// Aggregate states by stream id, shared by the clones of a [`crate::Store`].
#[derive(Clone, Default)]
pub struct States {
    kept: Arc<Mutex<HashMap<String, Kept>>>,
    /// Streams seen with personal data: not kept again. Bounded like `kept` (every lead's
    /// stream lands here): forgetting one is safe, since a stream not kept is read from its
    /// start, so its personal event is seen again and it is not kept then either.
    personal: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl std::fmt::Debug for States {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.kept.lock().map(|k| k.len()).unwrap_or(0);
        f.debug_struct("States").field("kept", &kept).finish()
    }
}

impl States {
    /// The kept state of `stream` and the stream version it was built to, or the default
    /// state at version 0 when none is kept (of this type).
    pub fn start<A: Clone + Default + 'static>(&self, stream: &str) -> (A, u64) {
        let Ok(kept) = self.kept.lock() else {
            return (A::default(), 0);
        };
        kept.get(stream)
            .and_then(|k| {
                k.state
                    .downcast_ref::<A>()
                    .map(|state| (state.clone(), k.version))
            })
            .unwrap_or_else(|| (A::default(), 0))
    }

    /// Keeps `state`, the fold of `stream` up to `version`, unless `personal` (some event of
    /// the stream carries personal fields) or a state of a later version is already kept.
    pub fn keep<A: Clone + Send + Sync + 'static>(
        &self,
        stream: &str,
        state: &A,
        version: u64,
        personal: bool,
    ) {
        if personal {
            if let Ok(mut p) = self.personal.lock() {
                if p.len() >= MAX_STREAMS && !p.contains(stream) {
                    p.clear();
                }
                p.insert(stream.to_string());
            }
            if let Ok(mut kept) = self.kept.lock() {
                kept.remove(stream);
            }
            return;
        }
        if version == 0 || self.personal.lock().map_or(true, |p| p.contains(stream)) {
            return;
        }
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        if kept.get(stream).is_some_and(|k| k.version >= version) {
            return;
        }
        if kept.len() >= MAX_STREAMS && !kept.contains_key(stream) {
            kept.clear();
        }
        kept.insert(
            stream.to_string(),
            Kept {
                version,
                state: Box::new(state.clone()),
            },
        );
    }

    /// The stream version of the state kept for `stream`, if one is.
    pub fn kept_version(&self, stream: &str) -> Option<u64> {
        self.kept.lock().ok()?.get(stream).map(|k| k.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_state_is_returned_with_its_version_and_only_for_its_type() {
        let states = States::default();
        assert_eq!(states.start::<Vec<u32>>("capacity:a"), (vec![], 0));
        states.keep("capacity:a", &vec![1u32, 2], 2, false);
        assert_eq!(states.start::<Vec<u32>>("capacity:a"), (vec![1, 2], 2));
        assert_eq!(states.start::<String>("capacity:a"), (String::new(), 0));
        assert_eq!(states.kept_version("capacity:a"), Some(2));
    }

    #[test]
    fn an_older_state_never_replaces_a_newer_one() {
        let states = States::default();
        states.keep("s", &3u64, 3, false);
        states.keep("s", &1u64, 1, false);
        assert_eq!(states.start::<u64>("s"), (3, 3));
        states.keep("s", &5u64, 5, false);
        assert_eq!(states.start::<u64>("s"), (5, 5));
    }

    #[test]
    fn a_stream_with_personal_data_is_dropped_and_never_kept_again() {
        let states = States::default();
        states.keep("team:a", &1u64, 1, false);
        states.keep("team:a", &2u64, 2, true);
        assert_eq!(states.kept_version("team:a"), None);
        states.keep("team:a", &3u64, 3, false);
        assert_eq!(states.kept_version("team:a"), None);
        assert_eq!(states.start::<u64>("team:a"), (0, 0));
    }

    #[test]
    fn the_personal_streams_seen_are_bounded_too() {
        let states = States::default();
        for i in 0..=MAX_STREAMS {
            states.keep(&format!("lead:{i}"), &1u64, 1, true);
        }
        assert!(states.personal.lock().unwrap().len() <= MAX_STREAMS);
        assert_eq!(states.kept_version("lead:0"), None);
    }

    #[test]
    fn the_map_starts_again_when_full() {
        let states = States::default();
        for i in 0..MAX_STREAMS {
            states.keep(&format!("s{i}"), &1u64, 1, false);
        }
        assert_eq!(states.kept_version("s0"), Some(1));
        states.keep("one more", &1u64, 1, false);
        assert_eq!(states.kept_version("s0"), None);
        assert_eq!(states.kept_version("one more"), Some(1));
    }
}
