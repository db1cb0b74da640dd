//! The values of a lead: its funnel status, what the caller decided about an arrival (and why
//! a blocked one was refused), and the ad attribution it came with.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a lead stands in the sales funnel. Stages only move forward; `Won` and `Lost` are
/// terminal. Written and read as `new`, `contacted`, `qualified`, `won`, `lost` (serde,
/// [`fmt::Display`] and [`FromStr`] agree).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    /// Received, nobody has reached out yet.
    New,
    /// A sales agent has contacted the lead.
    Contacted,
    /// The lead is a real sales opportunity.
    Qualified,
    /// Closed: became a customer.
    Won,
    /// Closed: not a customer.
    Lost,
}

impl LeadStatus {
    /// Every status, in funnel order.
    pub const ALL: [LeadStatus; 5] = [
        LeadStatus::New,
        LeadStatus::Contacted,
        LeadStatus::Qualified,
        LeadStatus::Won,
        LeadStatus::Lost,
    ];

    /// The name it is written with (`"contacted"`).
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::New => "new",
            LeadStatus::Contacted => "contacted",
            LeadStatus::Qualified => "qualified",
            LeadStatus::Won => "won",
            LeadStatus::Lost => "lost",
        }
    }

    /// `Won` or `Lost`: no further change is possible.
    pub fn is_closed(self) -> bool {
        matches!(self, LeadStatus::Won | LeadStatus::Lost)
    }

    /// Whether a lead may move from `self` to `to`: forward only, never out of a closed
    /// status, never to the same status.
    pub fn can_move_to(self, to: LeadStatus) -> bool {
        !self.is_closed() && to.stage() > self.stage()
    }

    /// Open statuses (`New`, `Contacted`, `Qualified`) count towards a team's open leads.
    pub fn is_open(self) -> bool {
        !self.is_closed()
    }

    fn stage(self) -> u8 {
        match self {
            LeadStatus::New => 0,
            LeadStatus::Contacted => 1,
            LeadStatus::Qualified => 2,
            LeadStatus::Won | LeadStatus::Lost => 3,
        }
    }
}

impl fmt::Display for LeadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LeadStatus {
    type Err = UnknownStatus;

    /// The status named exactly as [`LeadStatus::as_str`] writes it; anything else is an
    /// [`UnknownStatus`] that lists the allowed names.
    fn from_str(s: &str) -> Result<LeadStatus, UnknownStatus> {
        LeadStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus {
                given: s.to_owned(),
            })
    }
}

/// A status name that is not one of [`LeadStatus::ALL`]. HTTP 422. Its message names what
/// was given and every allowed name:
/// `unknown lead status "called": expected one of new, contacted, qualified, won, lost`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownStatus {
    /// The name given.
    pub given: String,
}

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown lead status {:?}: expected one of ", self.given)?;
        for (i, status) in LeadStatus::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(status.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownStatus {}

/// Why an arrival was refused into the funnel (a [`super::LeadEvent::LeadBlocked`]). The caller
/// (the HTTP API) finds the reason; the aggregate records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    /// The email address is at a domain on the configured list of disposable-mail domains.
    DisposableEmail,
    /// Consent was required for this lead and none came with it.
    ConsentMissing,
    /// The team the lead would go to does not accept leads now.
    TeamNotAccepting,
}

impl BlockReason {
    /// Every reason.
    pub const ALL: [BlockReason; 3] = [
        BlockReason::DisposableEmail,
        BlockReason::ConsentMissing,
        BlockReason::TeamNotAccepting,
    ];

    /// The name it is written with (`"disposable_email"`).
    pub fn as_str(self) -> &'static str {
        match self {
            BlockReason::DisposableEmail => "disposable_email",
            BlockReason::ConsentMissing => "consent_missing",
            BlockReason::TeamNotAccepting => "team_not_accepting",
        }
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the caller decided about an arriving lead, after looking its fingerprints up and
/// checking it: the event [`super::LeadCommand::ReceiveLead`] records follows from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeadOutcome {
    /// A new lead: it enters the funnel as `New` ([`super::LeadEvent::LeadReceived`]).
    Accepted,
    /// A repeat of an earlier lead: recorded, never in the funnel
    /// ([`super::LeadEvent::LeadDeduplicated`]).
    Duplicate {
        /// The earlier lead's id.
        of: String,
    },
    /// Refused into the funnel: recorded with why, never in the funnel
    /// ([`super::LeadEvent::LeadBlocked`]).
    Blocked {
        /// Why.
        reason: BlockReason,
        /// What a person reads, e.g. `"mailinator.com is on the disposable-domain list"`.
        /// Stored in clear: it must not quote the lead's personal fields.
        detail: String,
    },
}

impl LeadOutcome {
    /// `"accepted"`, `"duplicate"` or `"blocked"`: what the HTTP API answers as `outcome`.
    pub fn as_str(&self) -> &'static str {
        match self {
            LeadOutcome::Accepted => "accepted",
            LeadOutcome::Duplicate { .. } => "duplicate",
            LeadOutcome::Blocked { .. } => "blocked",
        }
    }
}

/// Where the click behind a lead came from: Google's click ids and the UTM parameters of the
/// landing page's address.
///
/// The click ids are personal ([`crate::KeyPurpose::Contact`], sealed per subject): a `gclid`
/// names one click of one browser, which Google can tie to the person who clicked; `gbraid`
/// and `wbraid` are Google's aggregated (iOS) click ids and identify nobody on their own, but
/// stored beside a person's lead they are part of that person's record, no rule reads them,
/// and sealing them means an erasure or the contact retention window covers them too. The UTM
/// parameters describe the campaign, not the person, and are stored in clear (left out of the
/// stored JSON when absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// Personal ([`crate::KeyPurpose::Contact`]): Google click id.
    #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
    pub gclid: Option<String>,
    /// Personal ([`crate::KeyPurpose::Contact`]): Google click id for app-to-web (iOS).
    #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
    pub gbraid: Option<String>,
    /// Personal ([`crate::KeyPurpose::Contact`]): Google click id for web-to-app (iOS).
    #[serde(default, deserialize_with = "crate::personal::sealed_as_none")]
    pub wbraid: Option<String>,
    /// `utm_source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    /// `utm_medium`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_medium: Option<String>,
    /// `utm_campaign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    /// `utm_term`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_term: Option<String>,
    /// `utm_content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_content: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_by_the_names_they_are_written_with() {
        for status in LeadStatus::ALL {
            assert_eq!(status.as_str().parse::<LeadStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
            assert_eq!(
                serde_json::to_value(status).expect("serializes"),
                status.as_str()
            );
        }
    }

    #[test]
    fn an_unknown_status_names_what_was_given_and_every_allowed_one() {
        for given in ["called", "Contacted", " new", ""] {
            let err = given.parse::<LeadStatus>().expect_err(given);
            assert_eq!(err.given, given);
            assert_eq!(
                err.to_string(),
                format!(
                    "unknown lead status {given:?}: expected one of new, contacted, \
                     qualified, won, lost"
                )
            );
        }
    }

    #[test]
    fn status_rules() {
        assert!(LeadStatus::Won.is_closed() && LeadStatus::Lost.is_closed());
        assert!(LeadStatus::Qualified.is_open());
        assert!(!LeadStatus::New.can_move_to(LeadStatus::New));
    }

    #[test]
    fn reasons_and_outcomes_have_stable_names() {
        for reason in BlockReason::ALL {
            assert_eq!(
                serde_json::to_value(reason).expect("serializes"),
                reason.as_str()
            );
            assert_eq!(reason.to_string(), reason.as_str());
        }
        assert_eq!(LeadOutcome::Accepted.as_str(), "accepted");
        assert_eq!(
            LeadOutcome::Duplicate { of: "x".into() }.as_str(),
            "duplicate"
        );
        let blocked = LeadOutcome::Blocked {
            reason: BlockReason::ConsentMissing,
            detail: "no consent".into(),
        };
        assert_eq!(blocked.as_str(), "blocked");
    }
}
