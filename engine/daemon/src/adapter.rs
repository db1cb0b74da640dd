//! The boundary to an ads platform. The executor and the reconcile loop talk only to
//! [`AdsAdapter`]; the built-in simulator ([`SimAdapter`]) and, later, the Google Ads REST
//! client implement it.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use leadorch_domain::campaign::{CampaignChange, CampaignSnapshot, HourMetrics};
use leadorch_sim::Simulator;

/// A campaign as the platform reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedCampaign {
    /// Customer (account) id.
    pub customer_id: String,
    /// Campaign id.
    pub campaign_id: String,
    /// What the platform reports.
    pub snapshot: CampaignSnapshot,
}

/// One campaign-hour of performance as the platform reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedMetrics {
    /// Customer (account) id.
    pub customer_id: String,
    /// Campaign id.
    pub campaign_id: String,
    /// Start of the hour (UTC).
    pub hour_start: DateTime<Utc>,
    /// The figures so far.
    pub metrics: HourMetrics,
}

/// Why the platform refused or failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct AdapterError {
    /// What happened (no secrets, no personal data).
    pub message: String,
    /// Whether trying again later may succeed.
    pub retryable: bool,
}

/// Google's quota refused a call: the daily operations quota (`quotaError:
/// RESOURCE_EXHAUSTED`), or a rate limit whose `retryDelay` is longer than the client waits
/// between tries. Nothing is worth sending before the quota comes back (ADR on quota
/// exhaustion; see [`crate::quota`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaRefusal {
    /// The daily quota (rather than a rate limit).
    pub daily: bool,
    /// How long Google asked to wait (`retryDelay`), when it said.
    pub retry_delay: Option<std::time::Duration>,
    /// What Google said, with its request id (no token, no personal data).
    pub detail: String,
}

/// An ads platform.
#[async_trait]
pub trait AdsAdapter: Send + Sync {
    /// A short name for records (`sim`, `google-ads`).
    fn name(&self) -> &str;
    /// The Google account whose data this platform reports, if it is Google: what it reads
    /// (snapshots, metrics, and the facts built from them) is recorded sealed with that
    /// account's `google_ads` key, so forgetting the account shreds it (ADR 0012). `None`
    /// (the simulator): recorded in clear.
    fn google_account(&self) -> Option<&str> {
        None
    }
    /// Every campaign the engine may manage, as the platform reports it now.
    async fn campaigns(&self) -> Result<Vec<ObservedCampaign>, AdapterError>;
    /// The campaigns `wanted` (customer id, campaign id) as the platform reports them now;
    /// ones it does not know are left out. The executor reads back only the campaigns it is
    /// about to change. By default every campaign is read and the rest dropped.
    async fn campaigns_of(
        &self,
        wanted: &[(String, String)],
    ) -> Result<Vec<ObservedCampaign>, AdapterError> {
        let wanted: std::collections::HashSet<(&str, &str)> = wanted
            .iter()
            .map(|(c, id)| (c.as_str(), id.as_str()))
            .collect();
        let mut all = self.campaigns().await?;
        all.retain(|c| wanted.contains(&(c.customer_id.as_str(), c.campaign_id.as_str())));
        Ok(all)
    }
    /// Applies a change with absolute values (applying it twice has the effect of once).
    async fn apply(
        &self,
        customer_id: &str,
        campaign_id: &str,
        change: &CampaignChange,
    ) -> Result<(), AdapterError>;
    /// Why the platform cannot act at all right now (e.g. the account needs consent again);
    /// `None` when it can. While it cannot, the daemon decides and applies nothing.
    async fn cannot_act(&self) -> Option<String> {
        None
    }
    /// Waits until whatever the platform records on its own (e.g. a refused grant, recorded
    /// as `ReconsentNeeded`) is in the log; each step ends with it.
    async fn settle(&self) {}
    /// The quota refusal seen since the last [`AdsAdapter::release_quota`], if any. From the
    /// refusal on, the platform sends nothing: every call fails at once, unsent, until the
    /// daemon releases it at the quota's reset.
    fn quota_refusal(&self) -> Option<QuotaRefusal> {
        None
    }
    /// Lets calls through again after a quota refusal (the quota has reset).
    fn release_quota(&self) {}
    /// Hourly metrics of the hours starting in `[from, to)`, as the platform reports them
    /// now (the current hour keeps growing). Platforms whose metrics reach the log another
    /// way (the simulator's are recorded as it runs) report none.
    async fn metrics(
        &self,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> Result<Vec<ObservedMetrics>, AdapterError> {
        Ok(Vec::new())
    }
}

/// The built-in simulator as an ads platform.
#[derive(Clone, Debug)]
pub struct SimAdapter {
    sim: Arc<Mutex<Simulator>>,
}

impl SimAdapter {
    /// Wraps a shared simulator.
    pub fn new(sim: Arc<Mutex<Simulator>>) -> SimAdapter {
        SimAdapter { sim }
    }

    /// The simulator.
    pub fn sim(&self) -> &Arc<Mutex<Simulator>> {
        &self.sim
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Simulator>, AdapterError> {
        self.sim.lock().map_err(|_| AdapterError {
            message: "simulator state is poisoned".into(),
            retryable: false,
        })
    }
}

#[async_trait]
impl AdsAdapter for SimAdapter {
    fn name(&self) -> &str {
        "sim"
    }

    async fn campaigns(&self) -> Result<Vec<ObservedCampaign>, AdapterError> {
        Ok(self
            .lock()?
            .campaigns()
            .into_iter()
            .map(|c| ObservedCampaign {
                customer_id: c.customer_id,
                campaign_id: c.campaign_id,
                snapshot: c.snapshot,
            })
            .collect())
    }

    async fn apply(
        &self,
        customer_id: &str,
        campaign_id: &str,
        change: &CampaignChange,
    ) -> Result<(), AdapterError> {
        self.lock()?
            .apply(customer_id, campaign_id, change)
            .map_err(|e| AdapterError {
                message: e.to_string(),
                retryable: false,
            })
    }
}
