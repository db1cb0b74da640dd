//! Google accounts an operator connected through OAuth, and the lifecycle of that connection:
//! consent, token refreshes, a need to consent again, revocation and deletion of the data.
//!
//! Tokens themselves never enter events (the store keeps the refresh token encrypted at rest);
//! events only record that things happened. The account's email address is personal
//! ([`KeyPurpose::Account`], data subject = `account_id`); deleting the data means destroying
//! that key after revocation.
//!
//! Lifecycle: `NotConnected → Connected ⇄ ReconsentNeeded → Revoked → (DataDeleted)`.
//! A new grant is accepted in every state and reconnects the account.
//!
//! Beside the lifecycle, `QuotaExhausted` records that Google refused the account's calls for
//! the day (its Cloud project's daily operations quota) and until when the daemon sends
//! nothing: said once per exhaustion, not once per refused call.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::is_blank;
use crate::personal::{KeyPurpose, PersonalData, PersonalField};

crate::event_table!(GoogleAccountEvent {
    ConsentGranted => "1.0",
    TokenRefreshed => "1.0",
    ReconsentNeeded => "1.0",
    Revoked => "1.0",
    DataDeleted => "1.0",
    QuotaExhausted => "1.0",
});

/// The OAuth scope the Google Ads API needs; every grant must include it.
pub const ADWORDS_SCOPE: &str = "https://www.googleapis.com/auth/adwords";

/// Where the connection stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Never granted.
    #[default]
    NotConnected,
    /// Granted and usable.
    Connected,
    /// Google refused the refresh token; the operator must consent again.
    ReconsentNeeded,
    /// The operator (or we) revoked the grant.
    Revoked,
}

/// Commands of a [`GoogleAccount`].
#[derive(Clone, Debug, PartialEq)]
pub enum GoogleAccountCommand {
    /// Record a completed OAuth consent.
    GrantConsent {
        /// Google account id (the aggregate id; the data subject of the email).
        account_id: String,
        /// Personal: the account's email address.
        email: Option<String>,
        /// Scopes granted; must include [`ADWORDS_SCOPE`].
        scopes: Vec<String>,
        /// Google Ads customer ids the account can access.
        accessible_customers: Vec<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record a successful access-token refresh.
    RecordTokenRefresh {
        /// When the new access token expires.
        expires_at: DateTime<Utc>,
        /// When it was refreshed.
        at: DateTime<Utc>,
    },
    /// Record that Google refused the refresh token (e.g. `invalid_grant`).
    RecordReconsentNeeded {
        /// What Google said.
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Record that the grant was revoked.
    Revoke {
        /// When.
        at: DateTime<Utc>,
    },
    /// Record that the account's data was deleted (after revocation).
    DeleteData {
        /// When.
        at: DateTime<Utc>,
    },
    /// Record that Google refused a call for the daily operations quota, and that nothing is
    /// sent to Google through the account before `until` (nothing is recorded when an
    /// exhaustion lasting at least as long is already recorded).
    RecordQuotaExhausted {
        /// Until when nothing is sent (Google's `retryDelay`, else the next midnight
        /// Pacific time, when Google's daily quotas reset).
        until: DateTime<Utc>,
        /// What Google said (error code, request id); no token, no personal data.
        reason: String,
        /// When Google refused.
        at: DateTime<Utc>,
    },
}

/// Events of a [`GoogleAccount`]. Every event names its account, the data subject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GoogleAccountEvent {
    /// The operator consented.
    ConsentGranted {
        /// Google account id.
        account_id: String,
        /// Personal ([`KeyPurpose::Account`]).
        #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
        email: Option<String>,
        /// Scopes granted (sorted, unique).
        scopes: Vec<String>,
        /// Accessible Google Ads customer ids (sorted, unique).
        accessible_customers: Vec<String>,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The access token was refreshed.
    TokenRefreshed {
        /// Google account id.
        account_id: String,
        /// When the new access token expires.
        expires_at: DateTime<Utc>,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The operator must consent again.
    ReconsentNeeded {
        /// Google account id.
        account_id: String,
        /// What Google said.
        reason: String,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The grant was revoked.
    Revoked {
        /// Google account id.
        account_id: String,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// The account's data was deleted.
    DataDeleted {
        /// Google account id.
        account_id: String,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
    /// Google refused a call for the daily operations quota: nothing is sent to Google
    /// through the account before `until`.
    QuotaExhausted {
        /// Google account id.
        account_id: String,
        /// Until when nothing is sent.
        #[serde(deserialize_with = "crate::time::utc")]
        until: DateTime<Utc>,
        /// What Google said (error code, request id).
        reason: String,
        /// When Google refused.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
}

/// Why a [`GoogleAccountCommand`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GoogleAccountError {
    /// A required field is empty. HTTP 422.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
    /// The grant lacks the Google Ads scope. HTTP 422.
    #[error("scopes must include {ADWORDS_SCOPE}")]
    MissingAdwordsScope,
    /// The grant names another account than this aggregate's. HTTP 409.
    #[error("grant for account {found:?} sent to account {expected:?}")]
    AccountMismatch {
        /// This aggregate's account.
        expected: String,
        /// The command's account.
        found: String,
    },
    /// The account was never connected. HTTP 404.
    #[error("account is not connected")]
    NotConnected,
    /// The grant was revoked; connect again first. HTTP 409.
    #[error("account access was revoked")]
    Revoked,
    /// The operator must consent again before tokens can be refreshed. HTTP 409.
    #[error("account needs consent again")]
    ReconsentRequired,
    /// The account is already marked as needing consent again. HTTP 409.
    #[error("account already needs consent again")]
    AlreadyNeedsReconsent,
    /// The new access token would already be expired. HTTP 422.
    #[error("token expiry {expires_at} is not after {at}")]
    InvalidExpiry {
        /// The expiry given.
        expires_at: DateTime<Utc>,
        /// The refresh time given.
        at: DateTime<Utc>,
    },
    /// Data can only be deleted after the grant is revoked. HTTP 409.
    #[error("revoke access before deleting the data")]
    StillConnected,
    /// The data was already deleted. HTTP 409.
    #[error("account data already deleted")]
    DataAlreadyDeleted,
    /// A quota exhaustion that would already be over. HTTP 422.
    #[error("quota exhausted until {until}, which is not after {at}")]
    QuotaUntilNotAfter {
        /// The end given.
        until: DateTime<Utc>,
        /// The refusal's time.
        at: DateTime<Utc>,
    },
}

/// One connected Google account (no personal data in state).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GoogleAccount {
    account_id: Option<String>,
    status: AccountStatus,
    scopes: Vec<String>,
    accessible_customers: Vec<String>,
    connected_at: Option<DateTime<Utc>>,
    token_expires_at: Option<DateTime<Utc>>,
    reconsent_reason: Option<String>,
    revoked_at: Option<DateTime<Utc>>,
    data_deleted_at: Option<DateTime<Utc>>,
    /// Until when Google's daily quota was last recorded exhausted.
    #[serde(default)]
    quota_exhausted_until: Option<DateTime<Utc>>,
}

impl GoogleAccount {
    /// The account id, once granted.
    pub fn account_id(&self) -> Option<&str> {
        self.account_id.as_deref()
    }

    /// Where the connection stands.
    pub fn status(&self) -> AccountStatus {
        self.status
    }

    /// Scopes of the last grant.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Google Ads customer ids of the last grant.
    pub fn accessible_customers(&self) -> &[String] {
        &self.accessible_customers
    }

    /// When the last grant was made.
    pub fn connected_at(&self) -> Option<DateTime<Utc>> {
        self.connected_at
    }

    /// When the current access token expires.
    pub fn token_expires_at(&self) -> Option<DateTime<Utc>> {
        self.token_expires_at
    }

    /// Why consent is needed again, when it is.
    pub fn reconsent_reason(&self) -> Option<&str> {
        self.reconsent_reason.as_deref()
    }

    /// When the grant was revoked.
    pub fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.revoked_at
    }

    /// When the data was deleted (cleared by a new grant).
    pub fn data_deleted_at(&self) -> Option<DateTime<Utc>> {
        self.data_deleted_at
    }

    /// Until when Google's daily quota was last recorded exhausted (it may be over by now).
    pub fn quota_exhausted_until(&self) -> Option<DateTime<Utc>> {
        self.quota_exhausted_until
    }

    /// The account id, or the error for a never-connected account.
    fn known_account(&self) -> Result<String, GoogleAccountError> {
        self.account_id
            .clone()
            .ok_or(GoogleAccountError::NotConnected)
    }

    /// Decides which events a command produces, without applying them.
    pub fn decide(
        &self,
        command: GoogleAccountCommand,
    ) -> Result<Vec<GoogleAccountEvent>, GoogleAccountError> {
        use AccountStatus as S;
        match command {
            GoogleAccountCommand::GrantConsent {
                account_id,
                email,
                scopes,
                accessible_customers,
                at,
            } => {
                if is_blank(&account_id) {
                    return Err(GoogleAccountError::EmptyField("account_id"));
                }
                if let Some(expected) = &self.account_id {
                    if *expected != account_id {
                        return Err(GoogleAccountError::AccountMismatch {
                            expected: expected.clone(),
                            found: account_id,
                        });
                    }
                }
                if !scopes.iter().any(|s| s == ADWORDS_SCOPE) {
                    return Err(GoogleAccountError::MissingAdwordsScope);
                }
                if accessible_customers.iter().any(|c| is_blank(c)) {
                    return Err(GoogleAccountError::EmptyField("accessible_customers"));
                }
                let sorted = |v: Vec<String>| -> Vec<String> {
                    v.into_iter().collect::<BTreeSet<_>>().into_iter().collect()
                };
                Ok(vec![GoogleAccountEvent::ConsentGranted {
                    account_id,
                    email,
                    scopes: sorted(scopes),
                    accessible_customers: sorted(accessible_customers),
                    at,
                }])
            }
            GoogleAccountCommand::RecordTokenRefresh { expires_at, at } => {
                let account_id = self.known_account()?;
                match self.status {
                    S::Connected => {}
                    S::NotConnected => return Err(GoogleAccountError::NotConnected),
                    S::ReconsentNeeded => return Err(GoogleAccountError::ReconsentRequired),
                    S::Revoked => return Err(GoogleAccountError::Revoked),
                }
                if expires_at <= at {
                    return Err(GoogleAccountError::InvalidExpiry { expires_at, at });
                }
                Ok(vec![GoogleAccountEvent::TokenRefreshed {
                    account_id,
                    expires_at,
                    at,
                }])
            }
            GoogleAccountCommand::RecordReconsentNeeded { reason, at } => {
                let account_id = self.known_account()?;
                match self.status {
                    S::Connected => {}
                    S::NotConnected => return Err(GoogleAccountError::NotConnected),
                    S::ReconsentNeeded => return Err(GoogleAccountError::AlreadyNeedsReconsent),
                    S::Revoked => return Err(GoogleAccountError::Revoked),
                }
                if is_blank(&reason) {
                    return Err(GoogleAccountError::EmptyField("reason"));
                }
                Ok(vec![GoogleAccountEvent::ReconsentNeeded {
                    account_id,
                    reason,
                    at,
                }])
            }
            GoogleAccountCommand::Revoke { at } => {
                let account_id = self.known_account()?;
                match self.status {
                    S::Connected | S::ReconsentNeeded => {}
                    S::NotConnected => return Err(GoogleAccountError::NotConnected),
                    S::Revoked => return Err(GoogleAccountError::Revoked),
                }
                Ok(vec![GoogleAccountEvent::Revoked { account_id, at }])
            }
            GoogleAccountCommand::DeleteData { at } => {
                let account_id = self.known_account()?;
                match self.status {
                    S::Revoked => {}
                    S::NotConnected => return Err(GoogleAccountError::NotConnected),
                    S::Connected | S::ReconsentNeeded => {
                        return Err(GoogleAccountError::StillConnected)
                    }
                }
                if self.data_deleted_at.is_some() {
                    return Err(GoogleAccountError::DataAlreadyDeleted);
                }
                Ok(vec![GoogleAccountEvent::DataDeleted { account_id, at }])
            }
            GoogleAccountCommand::RecordQuotaExhausted { until, reason, at } => {
                let account_id = self.known_account()?;
                if self.status == S::Revoked {
                    return Err(GoogleAccountError::Revoked);
                }
                if is_blank(&reason) {
                    return Err(GoogleAccountError::EmptyField("reason"));
                }
                if until <= at {
                    return Err(GoogleAccountError::QuotaUntilNotAfter { until, at });
                }
                if self.quota_exhausted_until.is_some_and(|u| u >= until) {
                    return Ok(vec![]);
                }
                Ok(vec![GoogleAccountEvent::QuotaExhausted {
                    account_id,
                    until,
                    reason,
                    at,
                }])
            }
        }
    }
}

impl GoogleAccount {
    /// Applies one event to the state: what `Aggregate::apply` does (the `Aggregate` impl is
    /// generated from the list in the crate root, [`crate::for_each_aggregate!`]).
    pub(crate) fn evolve(&mut self, event: GoogleAccountEvent) {
        match event {
            GoogleAccountEvent::ConsentGranted {
                account_id,
                scopes,
                accessible_customers,
                at,
                ..
            } => {
                *self = GoogleAccount {
                    account_id: Some(account_id),
                    status: AccountStatus::Connected,
                    scopes,
                    accessible_customers,
                    connected_at: Some(at),
                    token_expires_at: None,
                    reconsent_reason: None,
                    revoked_at: None,
                    data_deleted_at: None,
                    // The quota is the Cloud project's: a new grant does not reset it.
                    quota_exhausted_until: self.quota_exhausted_until,
                };
            }
            GoogleAccountEvent::TokenRefreshed { expires_at, .. } => {
                self.token_expires_at = Some(expires_at);
            }
            GoogleAccountEvent::ReconsentNeeded { reason, .. } => {
                self.status = AccountStatus::ReconsentNeeded;
                self.reconsent_reason = Some(reason);
                self.token_expires_at = None;
            }
            GoogleAccountEvent::Revoked { at, .. } => {
                self.status = AccountStatus::Revoked;
                self.revoked_at = Some(at);
                self.token_expires_at = None;
            }
            GoogleAccountEvent::DataDeleted { at, .. } => {
                self.data_deleted_at = Some(at);
                self.scopes.clear();
                self.accessible_customers.clear();
                self.reconsent_reason = None;
            }
            GoogleAccountEvent::QuotaExhausted { until, .. } => {
                self.quota_exhausted_until = Some(until);
            }
        }
    }
}

const GRANTED_FIELDS: &[PersonalField] = &[PersonalField {
    pointer: "/ConsentGranted/email",
    purpose: KeyPurpose::Account,
}];

impl PersonalData for GoogleAccountEvent {
    fn data_subject(&self) -> Option<&str> {
        match self {
            GoogleAccountEvent::ConsentGranted { account_id, .. }
            | GoogleAccountEvent::TokenRefreshed { account_id, .. }
            | GoogleAccountEvent::ReconsentNeeded { account_id, .. }
            | GoogleAccountEvent::Revoked { account_id, .. }
            | GoogleAccountEvent::DataDeleted { account_id, .. }
            | GoogleAccountEvent::QuotaExhausted { account_id, .. } => Some(account_id),
        }
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        match self {
            GoogleAccountEvent::ConsentGranted { .. } => GRANTED_FIELDS,
            GoogleAccountEvent::TokenRefreshed { .. }
            | GoogleAccountEvent::ReconsentNeeded { .. }
            | GoogleAccountEvent::Revoked { .. }
            | GoogleAccountEvent::DataDeleted { .. }
            | GoogleAccountEvent::QuotaExhausted { .. } => &[],
        }
    }
}

/// One sample of every event variant, with every personal field filled.
#[cfg(test)]
pub(crate) fn samples() -> Vec<GoogleAccountEvent> {
    use crate::testutil::t;
    vec![
        GoogleAccountEvent::ConsentGranted {
            account_id: "acct-1".into(),
            email: Some("ops@example.com".into()),
            scopes: vec![ADWORDS_SCOPE.into()],
            accessible_customers: vec!["1234567890".into()],
            at: t(0),
        },
        GoogleAccountEvent::TokenRefreshed {
            account_id: "acct-1".into(),
            expires_at: t(60),
            at: t(1),
        },
        GoogleAccountEvent::ReconsentNeeded {
            account_id: "acct-1".into(),
            reason: "invalid_grant".into(),
            at: t(2),
        },
        GoogleAccountEvent::Revoked {
            account_id: "acct-1".into(),
            at: t(3),
        },
        GoogleAccountEvent::DataDeleted {
            account_id: "acct-1".into(),
            at: t(4),
        },
        GoogleAccountEvent::QuotaExhausted {
            account_id: "acct-1".into(),
            until: t(600),
            reason: "quotaError.RESOURCE_EXHAUSTED".into(),
            at: t(5),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::t;
    use cqrs_es::test::TestFramework;
    use cqrs_es::Aggregate;

    type Fixture = TestFramework<GoogleAccount>;
    type E = GoogleAccountError;

    fn grant() -> GoogleAccountCommand {
        GoogleAccountCommand::GrantConsent {
            account_id: "acct-1".into(),
            email: Some("ops@example.com".into()),
            scopes: vec![
                "openid".into(),
                ADWORDS_SCOPE.into(),
                "email".into(),
                "openid".into(),
            ],
            accessible_customers: vec!["222".into(), "111".into()],
            at: t(0),
        }
    }

    fn granted() -> GoogleAccountEvent {
        GoogleAccountEvent::ConsentGranted {
            account_id: "acct-1".into(),
            email: Some("ops@example.com".into()),
            scopes: vec!["email".into(), ADWORDS_SCOPE.into(), "openid".into()],
            accessible_customers: vec!["111".into(), "222".into()],
            at: t(0),
        }
    }

    fn reconsent_needed() -> GoogleAccountEvent {
        GoogleAccountEvent::ReconsentNeeded {
            account_id: "acct-1".into(),
            reason: "invalid_grant".into(),
            at: t(2),
        }
    }

    fn revoked() -> GoogleAccountEvent {
        GoogleAccountEvent::Revoked {
            account_id: "acct-1".into(),
            at: t(3),
        }
    }

    fn deleted() -> GoogleAccountEvent {
        GoogleAccountEvent::DataDeleted {
            account_id: "acct-1".into(),
            at: t(4),
        }
    }

    fn refresh() -> GoogleAccountCommand {
        GoogleAccountCommand::RecordTokenRefresh {
            expires_at: t(70),
            at: t(10),
        }
    }

    fn needs_reconsent() -> GoogleAccountCommand {
        GoogleAccountCommand::RecordReconsentNeeded {
            reason: "invalid_grant".into(),
            at: t(10),
        }
    }

    #[test]
    fn grant_records_sorted_unique_scopes_and_customers() {
        Fixture::with(())
            .given_no_previous_events()
            .when(grant())
            .then_expect_events(vec![granted()]);
    }

    #[test]
    fn grant_reconnects_from_any_state() {
        for given in [
            vec![granted()],
            vec![granted(), reconsent_needed()],
            vec![granted(), revoked()],
            vec![granted(), revoked(), deleted()],
        ] {
            Fixture::with(())
                .given(given)
                .when(grant())
                .then_expect_events(vec![granted()]);
        }
    }

    #[test]
    fn grant_needs_the_adwords_scope() {
        Fixture::with(())
            .given_no_previous_events()
            .when(GoogleAccountCommand::GrantConsent {
                account_id: "acct-1".into(),
                email: None,
                scopes: vec!["https://www.googleapis.com/auth/adwords.readonly".into()],
                accessible_customers: vec![],
                at: t(0),
            })
            .then_expect_error(E::MissingAdwordsScope);
    }

    #[test]
    fn grant_validates_ids() {
        Fixture::with(())
            .given_no_previous_events()
            .when(GoogleAccountCommand::GrantConsent {
                account_id: "".into(),
                email: None,
                scopes: vec![ADWORDS_SCOPE.into()],
                accessible_customers: vec![],
                at: t(0),
            })
            .then_expect_error(E::EmptyField("account_id"));
        Fixture::with(())
            .given_no_previous_events()
            .when(GoogleAccountCommand::GrantConsent {
                account_id: "acct-1".into(),
                email: None,
                scopes: vec![ADWORDS_SCOPE.into()],
                accessible_customers: vec!["".into()],
                at: t(0),
            })
            .then_expect_error(E::EmptyField("accessible_customers"));
        Fixture::with(())
            .given(vec![granted()])
            .when(GoogleAccountCommand::GrantConsent {
                account_id: "acct-2".into(),
                email: None,
                scopes: vec![ADWORDS_SCOPE.into()],
                accessible_customers: vec![],
                at: t(0),
            })
            .then_expect_error(E::AccountMismatch {
                expected: "acct-1".into(),
                found: "acct-2".into(),
            });
    }

    #[test]
    fn token_refresh_is_recorded_while_connected() {
        Fixture::with(())
            .given(vec![granted()])
            .when(refresh())
            .then_expect_events(vec![GoogleAccountEvent::TokenRefreshed {
                account_id: "acct-1".into(),
                expires_at: t(70),
                at: t(10),
            }]);
    }

    #[test]
    fn token_refresh_is_refused_when_not_usable() {
        for (given, error) in [
            (vec![], E::NotConnected),
            (vec![granted(), reconsent_needed()], E::ReconsentRequired),
            (vec![granted(), revoked()], E::Revoked),
            (vec![granted(), revoked(), deleted()], E::Revoked),
        ] {
            Fixture::with(())
                .given(given)
                .when(refresh())
                .then_expect_error(error);
        }
    }

    #[test]
    fn token_refresh_needs_a_future_expiry() {
        Fixture::with(())
            .given(vec![granted()])
            .when(GoogleAccountCommand::RecordTokenRefresh {
                expires_at: t(10),
                at: t(10),
            })
            .then_expect_error(E::InvalidExpiry {
                expires_at: t(10),
                at: t(10),
            });
    }

    #[test]
    fn reconsent_need_is_recorded_while_connected() {
        Fixture::with(())
            .given(vec![granted()])
            .when(needs_reconsent())
            .then_expect_events(vec![GoogleAccountEvent::ReconsentNeeded {
                account_id: "acct-1".into(),
                reason: "invalid_grant".into(),
                at: t(10),
            }]);
    }

    #[test]
    fn reconsent_need_is_refused_otherwise() {
        for (given, error) in [
            (vec![], E::NotConnected),
            (
                vec![granted(), reconsent_needed()],
                E::AlreadyNeedsReconsent,
            ),
            (vec![granted(), revoked()], E::Revoked),
        ] {
            Fixture::with(())
                .given(given)
                .when(needs_reconsent())
                .then_expect_error(error);
        }
        Fixture::with(())
            .given(vec![granted()])
            .when(GoogleAccountCommand::RecordReconsentNeeded {
                reason: "".into(),
                at: t(10),
            })
            .then_expect_error(E::EmptyField("reason"));
    }

    #[test]
    fn quota_exhaustion_is_recorded_once_per_exhaustion() {
        let exhausted = |until: i64, at: i64| GoogleAccountCommand::RecordQuotaExhausted {
            until: t(until),
            reason: "quotaError.RESOURCE_EXHAUSTED".into(),
            at: t(at),
        };
        let event = |until: i64, at: i64| GoogleAccountEvent::QuotaExhausted {
            account_id: "acct-1".into(),
            until: t(until),
            reason: "quotaError.RESOURCE_EXHAUSTED".into(),
            at: t(at),
        };
        Fixture::with(())
            .given(vec![granted()])
            .when(exhausted(600, 5))
            .then_expect_events(vec![event(600, 5)]);
        // Already recorded until then (or later): nothing new.
        Fixture::with(())
            .given(vec![granted(), event(600, 5)])
            .when(exhausted(600, 7))
            .then_expect_events(vec![]);
        // A later exhaustion, after the reset: recorded.
        Fixture::with(())
            .given(vec![granted(), event(600, 5)])
            .when(exhausted(2000, 610))
            .then_expect_events(vec![event(2000, 610)]);
        for (given, command, error) in [
            (vec![], exhausted(600, 5), E::NotConnected),
            (vec![granted(), revoked()], exhausted(600, 5), E::Revoked),
            (
                vec![granted()],
                exhausted(5, 5),
                E::QuotaUntilNotAfter {
                    until: t(5),
                    at: t(5),
                },
            ),
        ] {
            Fixture::with(())
                .given(given)
                .when(command)
                .then_expect_error(error);
        }
        let mut state = GoogleAccount::default();
        for e in [granted(), event(600, 5), granted()] {
            state.evolve(e);
        }
        assert_eq!(
            state.quota_exhausted_until(),
            Some(t(600)),
            "a new grant does not reset the Cloud project's quota"
        );
    }

    #[test]
    fn revoke_is_recorded_while_connected_or_needing_reconsent() {
        for given in [vec![granted()], vec![granted(), reconsent_needed()]] {
            Fixture::with(())
                .given(given)
                .when(GoogleAccountCommand::Revoke { at: t(3) })
                .then_expect_events(vec![revoked()]);
        }
    }

    #[test]
    fn revoke_is_refused_otherwise() {
        for (given, error) in [
            (vec![], E::NotConnected),
            (vec![granted(), revoked()], E::Revoked),
        ] {
            Fixture::with(())
                .given(given)
                .when(GoogleAccountCommand::Revoke { at: t(5) })
                .then_expect_error(error);
        }
    }

    #[test]
    fn data_is_deleted_after_revocation() {
        Fixture::with(())
            .given(vec![granted(), revoked()])
            .when(GoogleAccountCommand::DeleteData { at: t(4) })
            .then_expect_events(vec![deleted()]);
    }

    #[test]
    fn data_deletion_is_refused_otherwise() {
        for (given, error) in [
            (vec![], E::NotConnected),
            (vec![granted()], E::StillConnected),
            (vec![granted(), reconsent_needed()], E::StillConnected),
            (vec![granted(), revoked(), deleted()], E::DataAlreadyDeleted),
        ] {
            Fixture::with(())
                .given(given)
                .when(GoogleAccountCommand::DeleteData { at: t(5) })
                .then_expect_error(error);
        }
    }

    #[test]
    fn state_follows_the_lifecycle_without_the_email() {
        let mut account = GoogleAccount::default();
        assert_eq!(account.status(), AccountStatus::NotConnected);
        account.apply(granted());
        assert_eq!(account.status(), AccountStatus::Connected);
        assert_eq!(account.account_id(), Some("acct-1"));
        assert_eq!(account.accessible_customers(), ["111", "222"]);
        assert!(account.scopes().iter().any(|s| s == ADWORDS_SCOPE));
        assert_eq!(account.connected_at(), Some(t(0)));
        assert!(!serde_json::to_string(&account)
            .expect("serializes")
            .contains("ops@example.com"));
        for event in samples().into_iter().skip(1) {
            account.apply(event);
        }
        assert_eq!(account.status(), AccountStatus::Revoked);
        assert_eq!(account.token_expires_at(), None);
        assert_eq!(account.reconsent_reason(), None);
        assert_eq!(account.revoked_at(), Some(t(3)));
        assert_eq!(account.data_deleted_at(), Some(t(4)));
        assert!(account.scopes().is_empty());
    }
}
