//! Why the simulator refused a configuration or a change.

use leadorch_domain::CampaignError;

/// Shorthand for results of this crate.
pub type Result<T, E = SimError> = std::result::Result<T, E>;

/// Why [`crate::Simulator::new`], [`crate::Simulator::apply`] or
/// [`crate::Simulator::manual_change`] refused.
///
/// The configuration variants come from [`crate::Simulator::new`] only. The change variants
/// are what the Google Ads API would refuse with a request error: none of them succeeds when
/// retried unchanged, so an executor should treat every one as non-retryable.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The configuration's time zone is not an IANA name chrono-tz knows.
    #[error("unknown time zone {timezone:?} (expected an IANA name such as \"Europe/Amsterdam\")")]
    InvalidTimezone {
        /// The name as configured.
        timezone: String,
    },
    /// The configuration's customer id is empty.
    #[error("customer_id must not be empty")]
    BlankCustomerId,
    /// Two campaigns share an id.
    #[error("campaign {campaign_id:?} is configured more than once")]
    DuplicateCampaign {
        /// The repeated id.
        campaign_id: String,
    },
    /// Two teams share a name.
    #[error("team {team:?} is configured more than once")]
    DuplicateTeam {
        /// The repeated name.
        team: String,
    },
    /// A campaign routes its leads to a team that is not configured.
    #[error("campaign {campaign_id:?} routes leads to team {team:?}, which is not configured")]
    UnknownTeam {
        /// The campaign.
        campaign_id: String,
        /// The team it names.
        team: String,
    },
    /// A campaign's settings are out of range.
    #[error("campaign {campaign_id:?}: {reason}")]
    InvalidCampaign {
        /// The campaign.
        campaign_id: String,
        /// What is wrong.
        reason: String,
    },
    /// A team's settings are out of range.
    #[error("team {team:?}: {reason}")]
    InvalidTeam {
        /// The team.
        team: String,
        /// What is wrong.
        reason: String,
    },
    /// A change was sent for another Google Ads account than the simulated one.
    #[error("unknown customer {customer_id:?} (the simulated account is {expected:?})")]
    UnknownCustomer {
        /// The customer id sent.
        customer_id: String,
        /// The simulated account's customer id.
        expected: String,
    },
    /// A change was sent for a campaign the account does not have.
    #[error("customer {customer_id:?} has no campaign {campaign_id:?}")]
    UnknownCampaign {
        /// The customer id.
        customer_id: String,
        /// The campaign id sent.
        campaign_id: String,
    },
    /// The campaign is removed; Google Ads refuses every change to it.
    #[error("campaign {campaign_id:?} is removed and cannot be changed")]
    CampaignRemoved {
        /// The campaign.
        campaign_id: String,
    },
    /// A budget change to zero or less.
    #[error(
        "campaign {campaign_id:?}: daily budget must be positive, got {daily_budget_micros} micros"
    )]
    InvalidBudget {
        /// The campaign.
        campaign_id: String,
        /// The budget sent.
        daily_budget_micros: i64,
    },
    /// A bidding change to [`leadorch_domain::campaign::Bidding::Other`], which can only be observed.
    #[error("campaign {campaign_id:?}: bidding strategy {strategy:?} cannot be set")]
    UnsupportedBidding {
        /// The campaign.
        campaign_id: String,
        /// The strategy's name as sent.
        strategy: String,
    },
    /// Any other change Google Ads would refuse (bid target, ad schedule limits).
    #[error("campaign {campaign_id:?}: {source}")]
    InvalidChange {
        /// The campaign.
        campaign_id: String,
        /// The domain's reason.
        source: CampaignError,
    },
}
