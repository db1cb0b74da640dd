//! How far a long request has come (ADR 0043): a client sends a token of its choosing in the
//! `Progress-Token` header with a long request (a backtest, a replay), and while that request
//! runs `GET /v1/progress/{token}` answers what it has done so far. The same works in process
//! (the desktop's `api_request` sets the header) and over HTTP, so a window shows a progress
//! bar whichever way it reaches the engine.
//!
//! Tokens are the caller's: a key reads only the progress of its own requests, and another
//! key's token is the same `404` as an unknown one. Nothing is stored; an entry lives exactly
//! as long as its request (a cancelled or dropped request takes it with it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::Json;
use serde::Serialize;
use ts_rs::TS;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::{Api, Problem};

/// The header a request names its progress token in.
pub const HEADER: &str = "progress-token";

/// The most requests whose progress one process follows at once; a request beyond them runs
/// as it would without a token (its progress is not kept).
pub const MAX_FOLLOWED: usize = 1_000;

/// How far a long request has come (`GET /v1/progress/{token}`): what the route that was
/// sent the `Progress-Token` header has done so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema, TS)]
pub struct Progress {
    /// The token the request was sent with.
    pub token: String,
    /// What is counted: `events` (log positions read).
    #[schema(example = "events")]
    pub unit: String,
    /// How many are done.
    pub done: u64,
    /// How many there are in all (`null` while not known).
    pub total: Option<u64>,
}

/// A followed request: its caller's key id and its token.
type SlotKey = (String, String);

/// One followed request's counters.
#[derive(Debug)]
struct Slot {
    unit: &'static str,
    done: AtomicU64,
    /// `u64::MAX` while unknown.
    total: AtomicU64,
}

/// The requests being followed in this process, by the caller's key and the token; shared by
/// every clone of the [`Api`].
#[derive(Clone, Debug, Default)]
pub struct Followed {
    slots: Arc<Mutex<HashMap<SlotKey, Arc<Slot>>>>,
}

impl Followed {
    /// Starts following a request of `caller` sent with `token` (none: a reporter that keeps
    /// nothing). The entry goes when the returned reporter is dropped. A second request with a
    /// token already followed for the same key takes the token over.
    pub fn follow(&self, caller: &Caller, token: Option<&Token>, unit: &'static str) -> Reporter {
        let Some(token) = token else {
            return Reporter::none();
        };
        let slot = Arc::new(Slot {
            unit,
            done: AtomicU64::new(0),
            total: AtomicU64::new(u64::MAX),
        });
        let key = (caller.key_id.clone(), token.0.clone());
        let Ok(mut slots) = self.slots.lock() else {
            return Reporter::none();
        };
        if slots.len() >= MAX_FOLLOWED && !slots.contains_key(&key) {
            return Reporter::none();
        }
        slots.insert(key.clone(), slot.clone());
        Reporter {
            inner: Some((self.clone(), key, slot)),
        }
    }

    /// The progress of `caller`'s request sent with `token`, while it runs.
    pub fn get(&self, caller: &Caller, token: &str) -> Option<Progress> {
        let slots = self.slots.lock().ok()?;
        let slot = slots.get(&(caller.key_id.clone(), token.to_string()))?;
        let total = slot.total.load(Ordering::Relaxed);
        Some(Progress {
            token: token.to_string(),
            unit: slot.unit.to_string(),
            done: slot.done.load(Ordering::Relaxed),
            total: (total != u64::MAX).then_some(total),
        })
    }

    /// How many requests are followed now.
    pub fn len(&self) -> usize {
        self.slots.lock().map_or(0, |s| s.len())
    }

    /// Whether no request is followed now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a route reports its progress through; dropping it ends the following.
#[derive(Debug)]
pub struct Reporter {
    inner: Option<(Followed, SlotKey, Arc<Slot>)>,
}

impl Reporter {
    /// A reporter that keeps nothing (no token was sent).
    pub fn none() -> Reporter {
        Reporter { inner: None }
    }

    /// Sets how many there are in all.
    pub fn total(&self, total: u64) {
        if let Some((_, _, slot)) = &self.inner {
            slot.total.store(total.min(u64::MAX - 1), Ordering::Relaxed);
        }
    }

    /// Sets how many are done.
    pub fn done(&self, done: u64) {
        if let Some((_, _, slot)) = &self.inner {
            slot.done.store(done, Ordering::Relaxed);
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        let Some((followed, key, slot)) = self.inner.take() else {
            return;
        };
        let Ok(mut slots) = followed.slots.lock() else {
            return;
        };
        // A later request that took the token over keeps it.
        if slots.get(&key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
            slots.remove(&key);
        }
    }
}

/// A request's `Progress-Token` header: 1–64 of `A-Z a-z 0-9 _ -`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token(pub String);

/// Why a token is not one, or `None` when it is.
pub fn check_token(token: &str) -> Option<String> {
    if token.is_empty() || token.len() > 64 {
        return Some(format!(
            "a progress token is 1 to 64 characters, and this one has {}",
            token.chars().count()
        ));
    }
    if let Some(c) = token
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Some(format!(
            "a progress token is made of A-Z, a-z, 0-9, _ and -, and this one has {c:?}"
        ));
    }
    None
}

/// The `Progress-Token` header, when the request has one; a malformed one is `422` naming the
/// header, before the route does any work.
#[derive(Clone, Debug)]
pub struct ProgressToken(pub Option<Token>);

impl<S: Send + Sync> FromRequestParts<S> for ProgressToken {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<ProgressToken, Problem> {
        let Some(value) = parts.headers.get(HEADER) else {
            return Ok(ProgressToken(None));
        };
        let token = value.to_str().map_err(|_| {
            Problem::invalid(
                "Progress-Token",
                "a progress token is made of A-Z, a-z, 0-9, _ and -, and this one is not text",
            )
        })?;
        if let Some(problem) = check_token(token) {
            return Err(Problem::invalid("Progress-Token", problem));
        }
        Ok(ProgressToken(Some(Token(token.to_string()))))
    }
}

/// How far the caller's request sent with this `Progress-Token` has come, while it runs
/// (a rule's backtest, a replay). Any working key may ask, about its own requests only.
#[utoipa::path(get, path = "/v1/progress/{token}", tag = "operations", operation_id = "progress",
    params(("token" = String, Path, description = "The `Progress-Token` the request was sent with")),
    responses(
        (status = 200, description = "How far it has come", body = Progress),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No request of this key with this token is running (not started yet, finished, or another key's)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The token is not one (1–64 of A-Z a-z 0-9 _ -)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn get(
    State(api): State<Api>,
    caller: Caller,
    Path(token): Path<String>,
) -> Result<Json<Progress>, Problem> {
    if let Some(problem) = check_token(&token) {
        return Err(Problem::invalid("token", problem));
    }
    api.progress.get(&caller, &token).map(Json).ok_or_else(|| {
        Problem::not_found(format!(
            "no request of this key sent with the progress token {token:?} is running: it has not started, or it has answered"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Scope;

    fn caller(key: &str) -> Caller {
        Caller {
            key_id: key.into(),
            name: key.into(),
            project: "default".into(),
            scopes: vec![Scope::Read],
            actor: format!("api-key:{key}"),
        }
    }

    #[test]
    fn a_request_is_followed_while_its_reporter_lives_and_only_for_its_key() {
        let followed = Followed::default();
        let token = Token("t-1".into());
        let reporter = followed.follow(&caller("a"), Some(&token), "events");
        assert_eq!(
            followed.get(&caller("a"), "t-1").map(|p| (p.done, p.total)),
            Some((0, None))
        );
        reporter.total(1_000_000);
        reporter.done(420_000);
        assert_eq!(
            followed.get(&caller("a"), "t-1"),
            Some(Progress {
                token: "t-1".into(),
                unit: "events".into(),
                done: 420_000,
                total: Some(1_000_000)
            })
        );
        assert_eq!(followed.get(&caller("b"), "t-1"), None);
        drop(reporter);
        assert_eq!(followed.get(&caller("a"), "t-1"), None);
        assert!(followed.is_empty());
    }

    #[test]
    fn a_token_taken_over_stays_with_the_later_request() {
        let followed = Followed::default();
        let token = Token("same".into());
        let first = followed.follow(&caller("a"), Some(&token), "events");
        let second = followed.follow(&caller("a"), Some(&token), "events");
        second.done(7);
        drop(first);
        assert_eq!(followed.get(&caller("a"), "same").map(|p| p.done), Some(7));
        drop(second);
        assert!(followed.is_empty());
    }

    #[test]
    fn no_token_keeps_nothing_and_the_table_is_bounded() {
        let followed = Followed::default();
        let none = followed.follow(&caller("a"), None, "events");
        none.done(5);
        assert!(followed.is_empty());
        let kept: Vec<Reporter> = (0..MAX_FOLLOWED)
            .map(|i| followed.follow(&caller("a"), Some(&Token(format!("t{i}"))), "events"))
            .collect();
        let beyond = followed.follow(&caller("a"), Some(&Token("more".into())), "events");
        beyond.done(1);
        assert_eq!(followed.len(), MAX_FOLLOWED);
        assert_eq!(followed.get(&caller("a"), "more"), None);
        drop(kept);
        assert!(followed.is_empty());
    }

    #[test]
    fn tokens_are_checked() {
        assert_eq!(check_token("p12-abc_DEF"), None);
        assert!(check_token("").unwrap().contains("1 to 64"));
        assert!(check_token(&"a".repeat(65)).unwrap().contains("65"));
        assert!(check_token("a b").unwrap().contains("' '"));
    }
}
