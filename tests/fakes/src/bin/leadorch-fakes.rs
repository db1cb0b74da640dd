//! Starts the fakes with a demo customer (1234567890) and a demo HubSpot portal, and prints
//! where they listen, so `leadorch` can be pointed at them by hand. Runs until Ctrl-C.

#![forbid(unsafe_code)]

use chrono::{Duration, Utc};
use leadorch_fakes::{
    AdScheduleSlot, Bidding, CampaignStatus, DayOfWeek, FakeCampaign, FakeGoogleAds, FakeHubSpot,
    FakeOAuth, FakeOwner,
};

const CUSTOMER: &str = "1234567890";

#[tokio::main]
async fn main() {
    let oauth = FakeOAuth::start().await;
    let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
    ads.add_customer(CUSTOMER, None);

    let mut brand = FakeCampaign::new(111, "Brand");
    brand.labels = vec!["autopilot".to_owned()];
    brand.ad_schedule = vec![
        AdScheduleSlot::new(DayOfWeek::Monday, 9, 17),
        AdScheduleSlot::new(DayOfWeek::Tuesday, 9, 17),
    ];
    let mut generic = FakeCampaign::new(222, "Generic");
    // Gated by sales-nl's capacity (rules/capacity_gate.rhai): the README's tour pauses it.
    generic.labels = vec!["capacity-gated".to_owned(), "team:sales-nl".to_owned()];
    generic.bidding = Bidding::TargetCpa {
        target_cpa_micros: 15_000_000,
    };
    generic.budget_amount_micros = 80_000_000;
    let mut shopping = FakeCampaign::new(333, "Shopping");
    shopping.bidding = Bidding::TargetRoas { target_roas: 4.0 };
    let mut winter = FakeCampaign::new(444, "Winter sale");
    winter.status = CampaignStatus::Paused;
    winter.bidding = Bidding::MaximizeConversions;
    for campaign in [brand, generic, shopping, winter] {
        ads.add_campaign(CUSTOMER, campaign);
    }
    // Two days of history, so reports have something to show.
    let today = Utc::now().date_naive();
    for day in [today - Duration::days(1), today] {
        for hour in 0..24 {
            ads.accrue_hour(CUSTOMER, day, hour);
        }
    }
    let tokens = oauth.issue_tokens();

    // HubSpot: team 178588 "Sales NL" (owners 101 and 102), leads open and not.
    let hubspot = FakeHubSpot::start().await;
    hubspot.put_owner(FakeOwner::new("101", &[("178588", "Sales NL")]));
    hubspot.put_owner(FakeOwner::new("102", &[("178588", "Sales NL")]));
    hubspot.add_contacts(6, "101", "NEW");
    hubspot.add_contacts(3, "101", "IN_PROGRESS");
    hubspot.add_contacts(4, "102", "OPEN");
    hubspot.add_contacts(5, "102", "CONNECTED");
    let a_new_lead = hubspot.contacts_of("101", "NEW")[0];

    println!("# Fake Google Ads (customer {CUSTOMER}) and Google OAuth are listening.");
    println!("# Point leadorch at them (the consent page approves by itself):");
    println!("export LEADORCH_GOOGLE_ADS_BASE_URL={}", ads.base_url());
    println!("export LEADORCH_GOOGLE_OAUTH_AUTH_URL={}", oauth.auth_url());
    println!(
        "export LEADORCH_GOOGLE_OAUTH_TOKEN_URL={}",
        oauth.token_url()
    );
    println!(
        "export LEADORCH_GOOGLE_OAUTH_REVOKE_URL={}",
        oauth.revoke_url()
    );
    println!("export LEADORCH_GOOGLE_CLIENT_ID={}", oauth.client_id());
    println!(
        "export LEADORCH_GOOGLE_CLIENT_SECRET={}",
        oauth.client_secret()
    );
    println!(
        "# For curl: a valid access token (refresh token {})",
        tokens.refresh_token
    );
    println!("# Authorization: Bearer {}", tokens.access_token);
    println!("# Fake HubSpot (team 178588, owners 101 and 102): in [capacity.sources.<name>] put");
    println!(
        "#   kind = \"hubspot\"  base_url = \"{}\"  token_env = \"HUBSPOT_TOKEN\"",
        hubspot.base_url()
    );
    println!("export HUBSPOT_TOKEN={}", hubspot.token());
    println!("# Qualify a lead as a rep would (the next poll shows one open lead less):");
    println!(
        "# curl -X PATCH -H \"Authorization: Bearer $HUBSPOT_TOKEN\" -H 'content-type: application/json' -d '{{\"properties\":{{\"hs_lead_status\":\"CONNECTED\"}}}}' {}/crm/v3/objects/contacts/{a_new_lead}",
        hubspot.base_url()
    );
    println!("Ctrl-C to stop.");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("waiting for Ctrl-C failed: {e}");
    }
}
