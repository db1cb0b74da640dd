//! Backing off when Google's quota is exhausted.
//!
//! Google counts every call against a Cloud project's daily operations quota — searches as
//! much as mutations — and answers `quotaError: RESOURCE_EXHAUSTED` once it is spent; calling
//! again before it resets only collects more refusals. So the first refusal
//! ([`AdsAdapter::quota_refusal`]; also a rate limit whose `retryDelay` is longer than the
//! client retries) holds the daemon's whole Google account:
//!
//! - **until when**: Google's `retryDelay` when it sent one (it is the time left), else the
//!   next midnight Pacific time ([`next_quota_reset`]), when Google's daily quotas reset;
//!   always reckoned from the step's `now`, so a simulated clock drives it;
//! - **said once**: a `QuotaExhausted` event on the account's stream (the time, the end,
//!   what Google said), and the step's [`crate::StepReport::paused`] reason, which the running
//!   daemon prints once when it starts and once when rules act again. The changes open at
//!   that moment are recorded failed once, with `quota_until` (no refusal of the change: the
//!   arbiter does not hold it back afterwards);
//! - **nothing sent meanwhile**: the adapter fails every call at once from the refusal on;
//!   the steps of the hold read no campaign, decide nothing and apply nothing (triggers wait);
//! - **after the reset**: the adapter is released, the campaigns are read, and every enabled
//!   rule is evaluated once on the facts of then (trigger `quota_reset`), so what is still
//!   wanted is requested and applied once.
//!
//! A daemon that starts during a recorded hold keeps it ([`GoogleAccount::quota_exhausted_until`]).

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use leadorch_core::Engine;
use leadorch_domain::{AnyEvent, GoogleAccount, GoogleAccountCommand};
use leadorch_store::Metadata;

use crate::adapter::{AdsAdapter, QuotaRefusal};
use crate::daemon::Daemon;
use crate::Result;

/// The trigger named in the evaluation of every enabled rule after a hold.
pub const QUOTA_RESET_TRIGGER: &str = "quota_reset";

/// Where Google's daily quotas reset at midnight.
pub const QUOTA_RESET_ZONE: chrono_tz::Tz = chrono_tz::America::Los_Angeles;

/// The next midnight Pacific time after `now`.
pub fn next_quota_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&QUOTA_RESET_ZONE).date_naive();
    let next = local.succ_opt().unwrap_or(local);
    QUOTA_RESET_ZONE
        .from_local_datetime(&next.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| *t > now)
        .unwrap_or(now + Duration::days(1))
}

/// Until when nothing is sent after `refusal` at `now`: Google's `retryDelay` when it gave
/// one, else the next daily reset; at least a second from `now`.
pub fn hold_until(refusal: &QuotaRefusal, now: DateTime<Utc>) -> DateTime<Utc> {
    let until = match refusal.retry_delay {
        Some(delay) => now + Duration::from_std(delay).unwrap_or(Duration::days(1)),
        None => next_quota_reset(now),
    };
    until.max(now + Duration::seconds(1))
}

/// What the operator is told while the hold lasts (the step's `paused` reason).
pub fn paused_reason(refusal: &QuotaRefusal, until: DateTime<Utc>) -> String {
    let what = if refusal.daily {
        "the daily operations quota is exhausted"
    } else {
        "the rate limit asks to wait"
    };
    let why = match (refusal.retry_delay, refusal.daily) {
        (Some(_), _) => "Google's retryDelay",
        (None, _) => "midnight Pacific time, when Google's daily quotas reset",
    };
    format!(
        "Google Ads: {what} ({}); nothing is sent to Google until {} ({why}), then the rules decide again",
        refusal.detail,
        until.format("%Y-%m-%d %H:%M:%S UTC"),
    )
}

/// The hold in force: until when, and what the operator is told.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Hold {
    until: DateTime<Utc>,
    reason: String,
}

/// A daemon's quota hold.
#[derive(Debug, Default)]
pub(crate) struct Quota {
    hold: Option<Hold>,
    restored: bool,
    reevaluate: bool,
}

impl Quota {
    /// At the start of a step: the reason while a hold lasts (`now` before its end). At the
    /// first step from its end, the adapter is released and the next evaluation takes every
    /// enabled rule ([`Quota::take_reevaluate`]).
    pub(crate) async fn held(
        &mut self,
        engine: &Engine,
        adapter: &dyn AdsAdapter,
        now: DateTime<Utc>,
    ) -> Result<Option<String>> {
        if !self.restored {
            self.restored = true;
            self.restore(engine, adapter, now).await?;
        }
        match &self.hold {
            Some(h) if now < h.until => Ok(Some(h.reason.clone())),
            Some(h) => {
                tracing::info!(until = %h.until, "Google's quota is back; calling Google again");
                self.hold = None;
                adapter.release_quota();
                self.reevaluate = true;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// After calls to the platform: when one was refused for the quota, starts the hold
    /// (recorded once) and returns its reason; the reason of the hold in force otherwise.
    pub(crate) async fn begin(
        &mut self,
        engine: &Engine,
        adapter: &dyn AdsAdapter,
        now: DateTime<Utc>,
        actor: &str,
    ) -> Result<Option<String>> {
        if let Some(h) = &self.hold {
            return Ok(Some(h.reason.clone()));
        }
        let Some(refusal) = adapter.quota_refusal() else {
            return Ok(None);
        };
        let until = hold_until(&refusal, now);
        let reason = paused_reason(&refusal, until);
        tracing::warn!(%until, detail = %refusal.detail, "Google's quota refused a call; holding every call");
        if let Some(account) = adapter.google_account() {
            let command = GoogleAccountCommand::RecordQuotaExhausted {
                until,
                reason: refusal.detail.clone(),
                at: now,
            };
            match engine
                .execute::<GoogleAccount>(account, command, &Metadata::actor(actor))
                .await
            {
                Ok(()) => {}
                // An account this database never connected (a token given by hand): the
                // hold still holds, the notice still says it.
                Err(leadorch_core::Error::Rejected { message, .. }) => {
                    tracing::warn!(%account, %message, "the quota exhaustion was not recorded");
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.hold = Some(Hold {
            until,
            reason: reason.clone(),
        });
        Ok(Some(reason))
    }

    /// Whether every enabled rule is to be evaluated once (the first step after a hold).
    pub(crate) fn take_reevaluate(&mut self) -> bool {
        std::mem::take(&mut self.reevaluate)
    }

    /// A hold recorded by an earlier run that is not over.
    async fn restore(
        &mut self,
        engine: &Engine,
        adapter: &dyn AdsAdapter,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Some(account) = adapter.google_account() else {
            return Ok(());
        };
        let state = engine
            .load_state::<GoogleAccount>(account, |e| match e {
                AnyEvent::GoogleAccount(e) => Some(e),
                _ => None,
            })
            .await?;
        if let Some(until) = state.quota_exhausted_until().filter(|u| *u > now) {
            self.hold = Some(Hold {
                until,
                reason: format!(
                    "Google Ads: the daily operations quota is exhausted (recorded); nothing is sent to Google until {}, then the rules decide again",
                    until.format("%Y-%m-%d %H:%M:%S UTC"),
                ),
            });
        }
        Ok(())
    }
}

impl Daemon {
    /// Until when nothing is sent to Google, while Google's quota holds the daemon.
    pub fn quota_held_until(&self) -> Option<DateTime<Utc>> {
        self.quota.hold.as_ref().map(|h| h.until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn refusal(retry_delay: Option<u64>) -> QuotaRefusal {
        QuotaRefusal {
            daily: true,
            retry_delay: retry_delay.map(std::time::Duration::from_secs),
            detail: "quota exhausted (daily) [request id r-1]".into(),
        }
    }

    #[test]
    fn the_daily_quota_resets_at_midnight_pacific_time() {
        // Winter (PST, UTC-8) and summer (PDT, UTC-7).
        assert_eq!(
            next_quota_reset(at("2026-03-02T08:00:00Z")),
            at("2026-03-03T08:00:00Z")
        );
        assert_eq!(
            next_quota_reset(at("2026-03-02T07:59:00Z")),
            at("2026-03-02T08:00:00Z")
        );
        assert_eq!(
            next_quota_reset(at("2026-07-01T12:00:00Z")),
            at("2026-07-02T07:00:00Z")
        );
        // The night the clocks go forward (8 March 2026): midnight is still there.
        assert_eq!(
            next_quota_reset(at("2026-03-08T09:00:00Z")),
            at("2026-03-09T07:00:00Z")
        );
    }

    #[test]
    fn google_s_retry_delay_wins_over_the_reset() {
        let now = at("2026-03-02T08:00:00Z");
        assert_eq!(
            hold_until(&refusal(Some(600)), now),
            at("2026-03-02T08:10:00Z")
        );
        assert_eq!(hold_until(&refusal(None), now), at("2026-03-03T08:00:00Z"));
        assert_eq!(
            hold_until(&refusal(Some(0)), now),
            now + Duration::seconds(1)
        );
        let reason = paused_reason(&refusal(None), at("2026-03-03T08:00:00Z"));
        assert!(
            reason.contains("until 2026-03-03 08:00:00 UTC (midnight Pacific time"),
            "{reason}"
        );
        assert!(reason.contains("request id r-1"), "{reason}");
    }
}
