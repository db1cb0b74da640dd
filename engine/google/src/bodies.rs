//! Builders of the mutate request bodies, validated before anything is sent.
//!
//! Pure functions, so the exact JSON is testable without a server. The customer id goes in
//! the URL path only; bodies carry resource names.

use crate::config::CustomerId;
use crate::error::AdsError;
use crate::model::{
    campaign_resource_name, check_budget_name, check_campaign_id, check_criterion_name,
    validate_ad_schedule, AdScheduleSlot, BiddingTarget, CampaignStatus,
};
use crate::wire::{
    AdScheduleCriterionCreate, CampaignBudgetOperation, CampaignBudgetUpdate,
    CampaignCriterionOperation, CampaignOperation, CampaignUpdate, MutateRequest, TargetCpaWire,
    TargetRoasWire, MUTABLE_RESOURCE,
};

/// Flags every mutation sends explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MutateFlags {
    /// `partialFailure`.
    pub partial_failure: bool,
    /// `validateOnly`.
    pub validate_only: bool,
}

fn request<Op>(operations: Vec<Op>, flags: MutateFlags) -> MutateRequest<Op> {
    MutateRequest {
        operations,
        partial_failure: flags.partial_failure,
        validate_only: flags.validate_only,
        response_content_type: MUTABLE_RESOURCE,
    }
}

/// `campaigns:mutate` setting `status` (updateMask `status`).
pub fn campaign_status(
    customer: &CustomerId,
    campaign_id: i64,
    status: &CampaignStatus,
    flags: MutateFlags,
) -> Result<MutateRequest<CampaignOperation>, AdsError> {
    check_campaign_id(campaign_id)?;
    let status = status.writable()?;
    Ok(request(
        vec![CampaignOperation {
            update_mask: "status".into(),
            update: CampaignUpdate {
                resource_name: campaign_resource_name(customer, campaign_id),
                status: Some(status),
                ..CampaignUpdate::default()
            },
        }],
        flags,
    ))
}

/// `campaignBudgets:mutate` setting `amountMicros` (must be > 0).
pub fn budget_amount(
    customer: &CustomerId,
    budget_resource_name: &str,
    amount_micros: i64,
    flags: MutateFlags,
) -> Result<MutateRequest<CampaignBudgetOperation>, AdsError> {
    check_budget_name(customer, budget_resource_name)?;
    if amount_micros <= 0 {
        return Err(AdsError::Invalid(format!(
            "budget amount must be positive, found {amount_micros} micros"
        )));
    }
    Ok(request(
        vec![CampaignBudgetOperation {
            update_mask: "amountMicros".into(),
            update: CampaignBudgetUpdate {
                resource_name: budget_resource_name.to_owned(),
                amount_micros,
            },
        }],
        flags,
    ))
}

/// `campaigns:mutate` setting `targetCpa.targetCpaMicros` or `targetRoas.targetRoas`.
pub fn bidding_target(
    customer: &CustomerId,
    campaign_id: i64,
    target: BiddingTarget,
    flags: MutateFlags,
) -> Result<MutateRequest<CampaignOperation>, AdsError> {
    check_campaign_id(campaign_id)?;
    let mut update = CampaignUpdate {
        resource_name: campaign_resource_name(customer, campaign_id),
        ..CampaignUpdate::default()
    };
    let mask = match target {
        BiddingTarget::TargetCpa { micros } => {
            if micros <= 0 {
                return Err(AdsError::Invalid(format!(
                    "target CPA must be positive, found {micros} micros"
                )));
            }
            update.target_cpa = Some(TargetCpaWire {
                target_cpa_micros: Some(micros),
            });
            "targetCpa.targetCpaMicros"
        }
        BiddingTarget::TargetRoas { ratio } => {
            if !(ratio.is_finite() && ratio > 0.0) {
                return Err(AdsError::Invalid(format!(
                    "target ROAS must be a positive number, found {ratio}"
                )));
            }
            update.target_roas = Some(TargetRoasWire {
                target_roas: Some(ratio),
            });
            "targetRoas.targetRoas"
        }
    };
    Ok(request(
        vec![CampaignOperation {
            update_mask: mask.into(),
            update,
        }],
        flags,
    ))
}

/// One `campaignCriteria:mutate` replacing a campaign's ad schedule: removes of `existing`
/// first, then creates of `new_slots`. With `partial_failure` off it is all or nothing.
pub fn replace_ad_schedule(
    customer: &CustomerId,
    campaign_id: i64,
    existing: &[String],
    new_slots: &[AdScheduleSlot],
    flags: MutateFlags,
) -> Result<MutateRequest<CampaignCriterionOperation>, AdsError> {
    check_campaign_id(campaign_id)?;
    for name in existing {
        check_criterion_name(customer, campaign_id, name)?;
    }
    validate_ad_schedule(new_slots)?;
    if existing.is_empty() && new_slots.is_empty() {
        return Err(AdsError::Invalid(
            "ad schedule replacement with nothing to remove or create".into(),
        ));
    }
    let campaign = campaign_resource_name(customer, campaign_id);
    let ops = existing
        .iter()
        .map(|n| CampaignCriterionOperation::Remove(n.clone()))
        .chain(new_slots.iter().map(|s| {
            CampaignCriterionOperation::Create(AdScheduleCriterionCreate {
                campaign: campaign.clone(),
                ad_schedule: s.to_wire(),
                bid_modifier: s.bid_modifier,
            })
        }))
        .collect();
    Ok(request(ops, flags))
}
