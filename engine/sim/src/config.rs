//! What the simulated world looks like: the account, its campaigns and the sales teams that
//! work the leads, plus the built-in demo world ([`SimConfig::demo`]).

use chrono::{DateTime, Utc};
use leadorch_domain::campaign::{Bidding, CampaignStatus, DayOfWeek};
use serde::{Deserialize, Serialize};

/// Monday to Friday.
pub const WEEKDAYS: [DayOfWeek; 5] = [
    DayOfWeek::Monday,
    DayOfWeek::Tuesday,
    DayOfWeek::Wednesday,
    DayOfWeek::Thursday,
    DayOfWeek::Friday,
];

/// The whole simulated world. Checked by [`crate::Simulator::new`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Seed of every random draw: same config, seed and calls give the same outputs.
    pub seed: u64,
    /// Simulated time at the start; rounded down to the whole minute.
    pub start: DateTime<Utc>,
    /// IANA time zone of the account and the teams (e.g. `"Europe/Amsterdam"`): hours of day,
    /// days of the week, shifts, ad schedules and budget days are all local time.
    pub timezone: String,
    /// Google Ads customer id of the simulated account, e.g. `"123-456-7890"`.
    pub customer_id: String,
    /// The account's campaigns.
    pub campaigns: Vec<SimCampaign>,
    /// The sales teams.
    pub teams: Vec<SimTeam>,
}

/// One simulated campaign: what Google Ads shows of it, and how it performs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimCampaign {
    /// Google Ads campaign id; unique.
    pub campaign_id: String,
    /// Campaign name.
    pub name: String,
    /// Labels, as rules see them (e.g. `"capacity-gated"`, `"team:sales-nl"`).
    pub labels: Vec<String>,
    /// The team its leads go to (one of [`SimConfig::teams`]).
    pub team: String,
    /// Status at the start.
    pub status: CampaignStatus,
    /// Daily budget in micros at the start; positive.
    pub daily_budget_micros: i64,
    /// Bidding strategy at the start (reported only; it does not change performance).
    pub bidding: Bidding,
    /// Average cost per click in micros; positive. Each click costs this ±20 %, rounded to
    /// whole cents (hundredths of the account currency).
    pub cpc_micros: i64,
    /// Clicks per hour at the busiest hour of a Monday, before budget limits; finite, ≥ 0.
    pub peak_clicks_per_hour: f64,
    /// Leads per click, 0–1.
    pub lead_rate: f64,
}

/// One sales team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimTeam {
    /// Team name; unique.
    pub name: String,
    /// Shifts; each one is one agent.
    pub shifts: Vec<Shift>,
    /// Leads one agent works per hour; positive. An agent spends `60 / this` minutes on each
    /// lead (rounded, at least 1), during which the lead counts as open.
    pub leads_per_agent_hour: f64,
    /// Open leads one agent on shift can take; positive. See [`crate::TeamCapacity`] for how
    /// the team's maximum follows from it.
    pub max_open_per_agent: u32,
    /// Minutes a lead may wait before an agent picks it up; positive. A lead still waiting
    /// then is lost: the team could not work it.
    pub lead_expiry_minutes: u32,
}

/// One agent's working hours, local time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// Days the agent works; not empty.
    pub weekdays: Vec<DayOfWeek>,
    /// First hour on shift, 0–23.
    pub start_hour: u8,
    /// First hour off shift (exclusive), after `start_hour`, at most 24. Shifts past
    /// midnight are written as two shifts.
    pub end_hour: u8,
}

impl Shift {
    /// A shift from Monday to Friday.
    pub fn mon_fri(start_hour: u8, end_hour: u8) -> Shift {
        Shift {
            weekdays: WEEKDAYS.to_vec(),
            start_hour,
            end_hour,
        }
    }

    /// Whether the agent is on shift at a local day and hour.
    pub fn is_active(&self, day: DayOfWeek, hour: u32) -> bool {
        self.weekdays.contains(&day)
            && u32::from(self.start_hour) <= hour
            && hour < u32::from(self.end_hour)
    }
}

/// One euro (or other account currency unit) in micros.
const UNIT: i64 = 1_000_000;

impl SimConfig {
    /// The built-in demo world: customer `123-456-7890` in `Europe/Amsterdam`.
    ///
    /// | team       | agents (Mon–Fri)          | leads/agent/h | open/agent | expiry |
    /// |------------|---------------------------|---------------|------------|--------|
    /// | `sales-nl` | 3 × 08–17, 1 × 12–20      | 4             | 5          | 90 min |
    /// | `sales-be` | 2 × 09–17                 | 4             | 5          | 90 min |
    ///
    /// | id   | name           | labels                                                             | budget/day | CPC    | peak clicks/h | lead rate | peak leads/h |
    /// |------|----------------|--------------------------------------------------------------------|------------|--------|---------------|-----------|--------------|
    /// | 1001 | NL Generic     | `capacity-gated`, `team:sales-nl`                                  | € 3,300    | € 1.80 | 180           | 8 %       | 14.4         |
    /// | 1002 | NL Competitors | `capacity-gated`, `team:sales-nl`                                  | € 1,600    | € 2.40 | 70            | 7 %       | 4.9          |
    /// | 1003 | NL Brand       | `brand`, `team:sales-nl`, `business-hours`, `paced`, `budget:200` | € 200      | € 0.60 | 30            | 10 %      | 3.0          |
    /// | 1004 | BE Generic     | `capacity-gated`                                                   | € 2,500    | € 1.50 | 170           | 8 %       | 13.6         |
    ///
    /// The labels give each example rule in `rules/` something to act on: `capacity-gated`
    /// (`capacity_gate`; BE Generic has no team label, so it is gated by this rule alone,
    /// its team coming from the configuration's campaign → team mapping, which the demo
    /// fills from [`SimCampaign::team`]), `team:<name>` (`team_routing`, priority over the
    /// capacity gate for the NL campaigns), `business-hours` (`business_hours`: the brand
    /// campaign runs while its team is on shift) and `paced` with `budget:<amount>`
    /// (`budget_pacing`: the brand budget shrinks as the team fills up). The simulator itself
    /// ignores labels.
    ///
    /// All campaigns start enabled; bidding is Maximize conversions (1001, 1004), Target CPA
    /// € 30 (1002) and Manual CPC (1003).
    ///
    /// Why these numbers: at the peak (10:00–14:00 on a Monday or Tuesday) `sales-nl`
    /// receives about 22 leads an hour against a pace of 12 (16 from noon, 4 after 17:00),
    /// `sales-be` about 14 against 8. With 90 minutes' patience a lead is lost once more than
    /// `pace × 1.5` leads wait ahead of it: 18 for `sales-nl` in the morning, 12 for
    /// `sales-be`. So without rules both teams are full from mid-morning (`sales-be` already
    /// at 09:00, with the leads of 07:00–09:00 waiting for it), and of a Tuesday's leads
    /// from 07:00 to 19:00 about 30 % expire (25–36 % over seeds 1–6 and 42). The teams
    /// work about the same number of leads either way, so the extra spend mostly buys leads
    /// that are lost. Pausing the capacity-gated campaigns at 90 % utilisation and resuming
    /// them below 70 % keeps the queues at about 11 waiting (`sales-nl`) and 7
    /// (`sales-be`), under an hour's wait: a handful of leads expire (brand leads and the
    /// leads still waiting when a shift ends) and spend drops by about 40 %. Without rules the
    /// budgets run out between 19:00 and 21:00 local time.
    pub fn demo(start: DateTime<Utc>, seed: u64) -> SimConfig {
        let labels = |gated: &str, team: &str| vec![gated.to_owned(), format!("team:{team}")];
        let campaign = |id: &str,
                        name: &str,
                        labels: Vec<String>,
                        team: &str,
                        budget: i64,
                        bidding: Bidding,
                        cpc_cents: i64,
                        peak: f64,
                        lead_rate: f64| SimCampaign {
            campaign_id: id.to_owned(),
            name: name.to_owned(),
            labels,
            team: team.to_owned(),
            status: CampaignStatus::Enabled,
            daily_budget_micros: budget * UNIT,
            bidding,
            cpc_micros: cpc_cents * UNIT / 100,
            peak_clicks_per_hour: peak,
            lead_rate,
        };
        SimConfig {
            seed,
            start,
            timezone: "Europe/Amsterdam".to_owned(),
            customer_id: "123-456-7890".to_owned(),
            campaigns: vec![
                campaign(
                    "1001",
                    "NL Generic",
                    labels("capacity-gated", "sales-nl"),
                    "sales-nl",
                    3_300,
                    Bidding::MaximizeConversions,
                    180,
                    180.0,
                    0.08,
                ),
                campaign(
                    "1002",
                    "NL Competitors",
                    labels("capacity-gated", "sales-nl"),
                    "sales-nl",
                    1_600,
                    Bidding::TargetCpa {
                        target_cpa_micros: 30 * UNIT,
                    },
                    240,
                    70.0,
                    0.07,
                ),
                campaign(
                    "1003",
                    "NL Brand",
                    [
                        "brand",
                        "team:sales-nl",
                        "business-hours",
                        "paced",
                        "budget:200",
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                    "sales-nl",
                    200,
                    Bidding::ManualCpc,
                    60,
                    30.0,
                    0.10,
                ),
                campaign(
                    "1004",
                    "BE Generic",
                    vec!["capacity-gated".to_owned()],
                    "sales-be",
                    2_500,
                    Bidding::MaximizeConversions,
                    150,
                    170.0,
                    0.08,
                ),
            ],
            teams: vec![
                SimTeam {
                    name: "sales-nl".to_owned(),
                    shifts: vec![
                        Shift::mon_fri(8, 17),
                        Shift::mon_fri(8, 17),
                        Shift::mon_fri(8, 17),
                        Shift::mon_fri(12, 20),
                    ],
                    leads_per_agent_hour: 4.0,
                    max_open_per_agent: 5,
                    lead_expiry_minutes: 90,
                },
                SimTeam {
                    name: "sales-be".to_owned(),
                    shifts: vec![Shift::mon_fri(9, 17), Shift::mon_fri(9, 17)],
                    leads_per_agent_hour: 4.0,
                    max_open_per_agent: 5,
                    lead_expiry_minutes: 90,
                },
            ],
        }
    }
}
