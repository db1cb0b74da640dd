//! Behaviour of the simulator through its public API.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use chrono_tz::Europe::Amsterdam;
use leadorch_domain::campaign::{
    AdScheduleSlot, Bidding, CampaignChange, CampaignStatus, DayOfWeek,
};
use leadorch_domain::LeadStatus;
use leadorch_sim::{
    Shift, SimCampaign, SimConfig, SimError, SimEvent, SimTeam, Simulator, TeamCapacity,
};

const CUSTOMER: &str = "123-456-7890";

/// Tuesday 11 March 2025, 07:00 in Amsterdam.
fn tuesday_7am() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 11, 6, 0, 0).unwrap()
}

fn campaign(id: &str, team: &str) -> SimCampaign {
    SimCampaign {
        campaign_id: id.to_owned(),
        name: format!("Campaign {id}"),
        labels: vec!["capacity-gated".to_owned(), format!("team:{team}")],
        team: team.to_owned(),
        status: CampaignStatus::Enabled,
        daily_budget_micros: 10_000_000_000,
        bidding: Bidding::ManualCpc,
        cpc_micros: 1_000_000,
        peak_clicks_per_hour: 120.0,
        lead_rate: 0.2,
    }
}

fn team(name: &str, shifts: Vec<Shift>) -> SimTeam {
    SimTeam {
        name: name.to_owned(),
        shifts,
        leads_per_agent_hour: 6.0,
        max_open_per_agent: 4,
        lead_expiry_minutes: 60,
    }
}

/// One team of two agents (Mon–Fri 08–17) and two campaigns.
fn small_world(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        start: tuesday_7am(),
        timezone: "Europe/Amsterdam".to_owned(),
        customer_id: CUSTOMER.to_owned(),
        campaigns: vec![campaign("1", "t"), campaign("2", "t")],
        teams: vec![team(
            "t",
            vec![Shift::mon_fri(8, 17), Shift::mon_fri(8, 17)],
        )],
    }
}

fn sim(config: SimConfig) -> Simulator {
    Simulator::new(config).expect("valid config")
}

fn arrivals_of<'a>(events: &'a [SimEvent], campaign: &str) -> Vec<&'a SimEvent> {
    events
        .iter()
        .filter(
            |e| matches!(e, SimEvent::LeadArrived { campaign_id, .. } if campaign_id == campaign),
        )
        .collect()
}

#[test]
fn same_config_seed_and_calls_give_identical_runs() {
    let run = |seed: u64| {
        let mut sim = sim(SimConfig::demo(tuesday_7am(), seed));
        let mut events = sim.advance(180);
        sim.apply(CUSTOMER, "1001", &CampaignChange::Pause).unwrap();
        sim.manual_change(
            CUSTOMER,
            "1004",
            &CampaignChange::SetBudget {
                daily_budget_micros: 500_000_000,
            },
        )
        .unwrap();
        events.extend(sim.advance(240));
        sim.apply(CUSTOMER, "1001", &CampaignChange::Resume)
            .unwrap();
        events.extend(sim.advance(300));
        (
            serde_json::to_string(&events).unwrap(),
            sim.summary(),
            sim.campaigns(),
            sim.capacity(),
            sim.now(),
        )
    };
    let first = run(42);
    assert_eq!(first, run(42));
    assert_ne!(first.0, run(43).0);
    assert!(first.1.leads > 0 && first.1.leads_worked > 0);
}

#[test]
fn clones_continue_identically() {
    let mut a = sim(SimConfig::demo(tuesday_7am(), 5));
    a.advance(200);
    let mut b = a.clone();
    assert_eq!(a.advance(300), b.advance(300));
    assert_eq!(a.summary(), b.summary());
}

#[test]
fn pausing_one_campaign_does_not_change_the_clicks_of_another() {
    let mut plain = sim(small_world(9));
    let mut paused = sim(small_world(9));
    paused.apply(CUSTOMER, "1", &CampaignChange::Pause).unwrap();
    plain.advance(600);
    paused.advance(600);
    assert_eq!(
        plain.summary().per_campaign["2"],
        paused.summary().per_campaign["2"]
    );
}

#[test]
fn events_are_in_time_order_and_stamped_with_the_minute_end() {
    let mut sim = sim(SimConfig::demo(tuesday_7am(), 3));
    let before = sim.now();
    let events = sim.advance(600);
    assert_eq!(sim.now(), before + Duration::minutes(600));
    assert!(events.windows(2).all(|w| w[0].at() <= w[1].at()));
    assert!(events
        .iter()
        .all(|e| e.at() > before && e.at() <= sim.now()));
    assert_eq!(sim.summary().minutes, 600);
}

#[test]
fn start_is_rounded_down_to_the_minute() {
    let mut config = small_world(1);
    config.start = tuesday_7am() + Duration::seconds(59) + Duration::milliseconds(500);
    let mut sim = sim(config);
    assert_eq!(sim.now(), tuesday_7am());
    sim.advance(2);
    assert_eq!(sim.now(), tuesday_7am() + Duration::minutes(2));
}

#[test]
fn daily_budget_caps_spend_per_local_day_and_resets_at_local_midnight() {
    let mut config = small_world(11);
    config.campaigns.truncate(1);
    // About 1,540 clicks a day at € 1 would cost about € 1,540; the budget is € 300.
    config.campaigns[0].daily_budget_micros = 300_000_000;
    let mut sim = sim(config);
    let events = sim.advance(3 * 1440);
    let mut per_local_day: BTreeMap<_, i64> = BTreeMap::new();
    for event in &events {
        if let SimEvent::MetricsHour {
            hour_start,
            cost_micros,
            ..
        } = event
        {
            *per_local_day
                .entry(hour_start.with_timezone(&Amsterdam).date_naive())
                .or_default() += cost_micros;
        }
    }
    // Tuesday (from 07:00), Wednesday, Thursday, Friday (until 07:00).
    assert_eq!(per_local_day.len(), 4);
    let full_days: Vec<i64> = per_local_day.values().copied().skip(1).take(2).collect();
    for spend in per_local_day.values() {
        assert!(*spend <= 300_000_000, "{per_local_day:?}");
    }
    for spend in full_days {
        // Stops only when the next click (at most € 1.20) would not fit.
        assert!(spend > 298_800_000, "{per_local_day:?}");
    }
    let state = &sim.campaigns()[0];
    assert_eq!(state.snapshot.status, CampaignStatus::Enabled);
}

#[test]
fn lowering_the_budget_below_todays_spend_stops_serving_for_the_day() {
    let mut sim = sim(small_world(4));
    sim.advance(300);
    let spent = sim.summary().per_campaign["1"].spend_micros;
    assert!(spent > 0);
    sim.apply(
        CUSTOMER,
        "1",
        &CampaignChange::SetBudget {
            daily_budget_micros: spent,
        },
    )
    .unwrap();
    let events = sim.advance(120);
    assert!(arrivals_of(&events, "1").is_empty());
    assert_eq!(sim.summary().per_campaign["1"].spend_micros, spent);
    assert_eq!(sim.summary().status_flips, 0);
}

#[test]
fn paused_and_removed_campaigns_serve_nothing() {
    let mut config = small_world(2);
    config.campaigns[1].status = CampaignStatus::Removed;
    let mut sim = sim(config);
    sim.apply(CUSTOMER, "1", &CampaignChange::Pause).unwrap();
    let events = sim.advance(1440);
    assert!(arrivals_of(&events, "1").is_empty());
    assert!(arrivals_of(&events, "2").is_empty());
    let summary = sim.summary();
    assert_eq!(summary.clicks, 0);
    assert_eq!(summary.spend_micros, 0);
    assert_eq!(summary.impressions, 0);
    assert_eq!(summary.minutes_paused["1"], 1440);
    assert_eq!(summary.minutes_paused["2"], 0);
    let hours = events
        .iter()
        .filter(|e| matches!(e, SimEvent::MetricsHour { campaign_id, clicks: 0, cost_micros: 0, impressions: 0, .. } if campaign_id == "1"))
        .count();
    assert_eq!(hours, 24);
}

#[test]
fn resuming_serves_again() {
    let mut sim = sim(small_world(2));
    sim.apply(CUSTOMER, "1", &CampaignChange::Pause).unwrap();
    sim.advance(240);
    assert_eq!(sim.summary().per_campaign["1"].clicks, 0);
    sim.apply(CUSTOMER, "1", &CampaignChange::Resume).unwrap();
    sim.advance(120);
    assert!(sim.summary().per_campaign["1"].clicks > 50);
    assert_eq!(sim.summary().minutes_paused["1"], 240);
    assert_eq!(sim.summary().status_flips, 2);
}

#[test]
fn ad_schedule_limits_serving_to_its_slots_in_local_time() {
    let mut sim = sim(small_world(8));
    let slot = AdScheduleSlot {
        day_of_week: DayOfWeek::Tuesday,
        start_hour: 10,
        start_minute: 0,
        end_hour: 11,
        end_minute: 30,
        bid_modifier: None,
    };
    sim.apply(
        CUSTOMER,
        "1",
        &CampaignChange::SetAdSchedule {
            slots: vec![slot.clone()],
        },
    )
    .unwrap();
    assert_eq!(sim.campaigns()[0].snapshot.ad_schedule, vec![slot]);
    let events = sim.advance(2 * 1440);
    let arrivals = arrivals_of(&events, "1");
    assert!(!arrivals.is_empty());
    for event in arrivals {
        // Stamped with the end of the minute served: 10:01 … 11:30 on Tuesday.
        let local = event.at().with_timezone(&Amsterdam);
        let minute = local.hour() * 60 + local.minute();
        assert_eq!(local.date_naive().to_string(), "2025-03-11");
        assert!((10 * 60 + 1..=11 * 60 + 30).contains(&minute), "{local}");
    }
    for event in &events {
        if let SimEvent::MetricsHour {
            campaign_id,
            hour_start,
            clicks,
            ..
        } = event
        {
            let local = hour_start.with_timezone(&Amsterdam);
            let inside =
                local.date_naive().to_string() == "2025-03-11" && (10..=11).contains(&local.hour());
            if campaign_id == "1" {
                assert_eq!(*clicks > 0, inside, "{local}: {clicks}");
            }
        }
    }
    assert!(sim.summary().per_campaign["2"].clicks > 1000);
}

#[test]
fn a_bid_modifier_scales_the_click_rate() {
    let mut low = sim(small_world(8));
    let mut high = sim(small_world(8));
    let all_week = |modifier: f64| CampaignChange::SetAdSchedule {
        slots: [
            DayOfWeek::Monday,
            DayOfWeek::Tuesday,
            DayOfWeek::Wednesday,
            DayOfWeek::Thursday,
            DayOfWeek::Friday,
            DayOfWeek::Saturday,
            DayOfWeek::Sunday,
        ]
        .into_iter()
        .map(|day_of_week| AdScheduleSlot {
            day_of_week,
            start_hour: 0,
            start_minute: 0,
            end_hour: 24,
            end_minute: 0,
            bid_modifier: Some(modifier),
        })
        .collect(),
    };
    low.apply(CUSTOMER, "1", &all_week(0.5)).unwrap();
    high.apply(CUSTOMER, "1", &all_week(2.0)).unwrap();
    low.advance(1440);
    high.advance(1440);
    let low_clicks = low.summary().per_campaign["1"].clicks as f64;
    let high_clicks = high.summary().per_campaign["1"].clicks as f64;
    assert!(
        high_clicks > 3.0 * low_clicks,
        "{low_clicks} vs {high_clicks}"
    );
}

#[test]
fn leads_nobody_picks_up_expire_after_the_expiry_and_count_as_wasted_spend() {
    let mut config = small_world(6);
    config.campaigns.truncate(1);
    config.campaigns[0].lead_rate = 1.0;
    config.teams[0].shifts.clear();
    config.teams[0].lead_expiry_minutes = 45;
    let mut sim = sim(config);
    let mut events = sim.advance(600);
    sim.apply(CUSTOMER, "1", &CampaignChange::Pause).unwrap();
    events.extend(sim.advance(45));

    let mut arrived = BTreeMap::new();
    let mut expired = 0;
    for event in &events {
        match event {
            SimEvent::LeadArrived { lead_id, at, .. } => {
                arrived.insert(lead_id.clone(), *at);
            }
            SimEvent::LeadExpired { lead_id, at, team } => {
                assert_eq!(team, "t");
                assert_eq!(*at - arrived[lead_id], Duration::minutes(45));
                expired += 1;
            }
            SimEvent::LeadWorked { .. } => panic!("nobody is on shift"),
            _ => {}
        }
    }
    let summary = sim.summary();
    assert!(expired > 100);
    assert_eq!(summary.leads_expired, expired);
    assert_eq!(summary.leads, expired);
    assert_eq!(summary.leads_open, 0);
    // Every click became a lead and every lead expired: all spend was wasted.
    assert_eq!(summary.spend_on_expired_micros, summary.spend_micros);
    // Nobody on shift and leads open: over capacity from the first lead until the last one
    // expired (44 minutes after the last arrival).
    let over = summary.minutes_over_capacity["t"];
    assert!((600..=600 + 44).contains(&over), "{over}");
}

#[test]
fn agents_work_leads_oldest_first_and_every_lead_is_accounted_for() {
    let mut sim = sim(small_world(12));
    let events = sim.advance(1440);
    let arrived: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            SimEvent::LeadArrived { lead_id, .. } => Some(lead_id.as_str()),
            _ => None,
        })
        .collect();
    let picked: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            SimEvent::LeadWorked {
                lead_id, status, ..
            } => {
                assert_eq!(*status, LeadStatus::Contacted);
                Some(lead_id.as_str())
            }
            _ => None,
        })
        .collect();
    // Lead ids are sequential, and worked in arrival order.
    assert_eq!(arrived.first(), Some(&"sim-000001"));
    assert!(picked.windows(2).all(|w| w[0] < w[1]));
    let summary = sim.summary();
    assert_eq!(summary.leads, arrived.len() as u64);
    assert_eq!(summary.leads_worked, picked.len() as u64);
    assert!(summary.leads_worked > 50);
    assert_eq!(
        summary.leads,
        summary.leads_worked + summary.leads_expired + summary.leads_open
    );
    // 2 agents × 6 leads an hour × 9 hours, at most.
    assert!(summary.leads_worked <= 108);
}

#[test]
fn lead_contact_details_are_fake_and_deterministic() {
    let mut sim = sim(small_world(1));
    let events = sim.advance(240);
    let mut seen = 0;
    for event in events {
        if let SimEvent::LeadArrived {
            lead_id,
            team,
            customer_id,
            name,
            email,
            phone,
            ..
        } = event
        {
            let number: u64 = lead_id.trim_start_matches("sim-").parse().unwrap();
            assert!(
                email.ends_with(&format!(".{number}@example.com")),
                "{email}"
            );
            assert!(phone.starts_with("+31 6 55"), "{phone}");
            assert!(!name.trim().is_empty());
            assert_eq!(team, "t");
            assert_eq!(customer_id, CUSTOMER);
            seen += 1;
        }
    }
    assert!(seen > 10);
}

#[test]
fn capacity_events_are_emitted_exactly_when_a_number_changes() {
    let mut sim = sim(SimConfig::demo(tuesday_7am(), 21));
    let mut previous = sim.capacity();
    let mut emitted = 0;
    for _ in 0..1440 {
        let events = sim.advance(1);
        let now = sim.capacity();
        for (before, after) in previous.iter().zip(&now) {
            let event = events.iter().find_map(|e| match e {
                SimEvent::CapacityChanged {
                    team,
                    agents_available,
                    open_leads,
                    max_open_leads,
                    at,
                } if *team == after.team => {
                    assert_eq!(*at, sim.now());
                    Some(TeamCapacity {
                        team: team.clone(),
                        agents_available: *agents_available,
                        open_leads: *open_leads,
                        max_open_leads: *max_open_leads,
                    })
                }
                _ => None,
            });
            if before == after {
                assert_eq!(event, None);
            } else {
                assert_eq!(event.as_ref(), Some(after));
                emitted += 1;
            }
        }
        previous = now;
    }
    assert!(emitted > 100);
}

#[test]
fn capacity_follows_shifts_and_open_leads() {
    let mut sim = sim(SimConfig::demo(tuesday_7am(), 21));
    let at_seven = sim.capacity();
    assert_eq!(at_seven[0].team, "sales-nl");
    assert_eq!(at_seven[0].agents_available, 0);
    assert_eq!(at_seven[0].max_open_leads, 0);
    sim.advance(60); // 08:00
    let nl = &sim.capacity()[0];
    assert_eq!((nl.agents_available, nl.max_open_leads), (3, 15));
    let be = &sim.capacity()[1];
    assert_eq!(be.agents_available, 0);
    // Leads arrived for sales-be before anyone is there: the maximum is 1, not 0.
    assert!(be.open_leads > 0);
    assert_eq!(be.max_open_leads, 1);
    sim.advance(240); // 12:00
    let nl = &sim.capacity()[0];
    assert_eq!((nl.agents_available, nl.max_open_leads), (4, 20));
    sim.advance(8 * 60 + 30); // 20:30
    let nl = &sim.capacity()[0];
    assert_eq!(nl.agents_available, 0);
    assert_eq!(nl.max_open_leads, if nl.open_leads > 0 { 1 } else { 0 });
}

#[test]
fn metrics_hours_cover_every_campaign_and_add_up_to_the_totals() {
    let mut sim = sim(SimConfig::demo(tuesday_7am(), 13));
    let events = sim.advance(1440);
    let mut clicks = 0;
    let mut cost = 0;
    let mut impressions = 0;
    let mut conversions = 0.0;
    let mut per_hour: BTreeMap<DateTime<Utc>, usize> = BTreeMap::new();
    for event in &events {
        if let SimEvent::MetricsHour {
            customer_id,
            hour_start,
            impressions: i,
            clicks: c,
            cost_micros,
            conversions: v,
            at,
            ..
        } = event
        {
            assert_eq!(customer_id, CUSTOMER);
            assert_eq!(*at, *hour_start + Duration::hours(1));
            assert_eq!(hour_start.timestamp() % 3600, 0);
            assert!(*i >= *c);
            *per_hour.entry(*hour_start).or_default() += 1;
            clicks += c;
            cost += cost_micros;
            impressions += i;
            conversions += v;
        }
    }
    assert_eq!(per_hour.len(), 24);
    assert!(per_hour.values().all(|n| *n == 4));
    let summary = sim.summary();
    assert_eq!(clicks, summary.clicks);
    assert_eq!(cost, summary.spend_micros);
    assert_eq!(impressions, summary.impressions);
    assert_eq!(conversions, summary.leads as f64);
    // Click-through rates of 4–6 %.
    let ctr = summary.clicks as f64 / summary.impressions as f64;
    assert!((0.039..0.061).contains(&ctr), "{ctr}");
    // Cost per click within ±20 % of € 1.50–2.40.
    assert!(summary.spend_micros > summary.clicks as i64 * 400_000);
}

#[test]
fn apply_is_idempotent_and_counts_status_flips() {
    let mut sim = sim(small_world(1));
    sim.apply(CUSTOMER, "1", &CampaignChange::Pause).unwrap();
    sim.apply(CUSTOMER, "1", &CampaignChange::Pause).unwrap();
    assert_eq!(sim.campaigns()[0].snapshot.status, CampaignStatus::Paused);
    assert_eq!(sim.summary().status_flips, 1);
    sim.apply(CUSTOMER, "1", &CampaignChange::Resume).unwrap();
    sim.apply(CUSTOMER, "2", &CampaignChange::Resume).unwrap();
    assert_eq!(sim.summary().status_flips, 2);
    let budget = CampaignChange::SetBudget {
        daily_budget_micros: 5_000_000,
    };
    sim.apply(CUSTOMER, "2", &budget).unwrap();
    sim.apply(CUSTOMER, "2", &budget).unwrap();
    let bidding = CampaignChange::SetBidTarget {
        bidding: Bidding::TargetCpa {
            target_cpa_micros: 20_000_000,
        },
    };
    sim.apply(CUSTOMER, "2", &bidding).unwrap();
    let state = &sim.campaigns()[1];
    assert_eq!(state.customer_id, CUSTOMER);
    assert_eq!(state.campaign_id, "2");
    assert_eq!(state.snapshot.daily_budget_micros, 5_000_000);
    assert_eq!(
        state.snapshot.bidding,
        Bidding::TargetCpa {
            target_cpa_micros: 20_000_000
        }
    );
    assert_eq!(sim.summary().status_flips, 2);
    assert_eq!(sim.summary().manual_changes, 0);
    // The configuration keeps the initial settings.
    assert_eq!(
        sim.config().campaigns[1].daily_budget_micros,
        10_000_000_000
    );
}

#[test]
fn apply_refuses_what_google_ads_refuses() {
    let mut config = small_world(1);
    config.campaigns[1].status = CampaignStatus::Removed;
    let mut sim = sim(config);
    let pause = CampaignChange::Pause;
    assert!(matches!(
        sim.apply("999-999-9999", "1", &pause),
        Err(SimError::UnknownCustomer { customer_id, .. }) if customer_id == "999-999-9999"
    ));
    assert!(matches!(
        sim.apply(CUSTOMER, "404", &pause),
        Err(SimError::UnknownCampaign { campaign_id, .. }) if campaign_id == "404"
    ));
    let removed = sim
        .apply(CUSTOMER, "2", &CampaignChange::Resume)
        .unwrap_err();
    assert_eq!(
        removed,
        SimError::CampaignRemoved {
            campaign_id: "2".to_owned()
        }
    );
    assert!(removed.to_string().contains("\"2\""));
    for budget in [0, -5] {
        let error = sim
            .apply(
                CUSTOMER,
                "1",
                &CampaignChange::SetBudget {
                    daily_budget_micros: budget,
                },
            )
            .unwrap_err();
        assert!(
            matches!(error, SimError::InvalidBudget { ref campaign_id, daily_budget_micros } if campaign_id == "1" && daily_budget_micros == budget)
        );
    }
    let other = CampaignChange::SetBidTarget {
        bidding: Bidding::Other("ENHANCED_CPC".to_owned()),
    };
    assert!(matches!(
        sim.apply(CUSTOMER, "1", &other),
        Err(SimError::UnsupportedBidding { strategy, .. }) if strategy == "ENHANCED_CPC"
    ));
    let bad_slot = CampaignChange::SetAdSchedule {
        slots: vec![AdScheduleSlot {
            day_of_week: DayOfWeek::Monday,
            start_hour: 9,
            start_minute: 10,
            end_hour: 10,
            end_minute: 0,
            bid_modifier: None,
        }],
    };
    let error = sim.apply(CUSTOMER, "1", &bad_slot).unwrap_err();
    assert!(matches!(error, SimError::InvalidChange { ref campaign_id, .. } if campaign_id == "1"));
    assert!(error.to_string().starts_with("campaign \"1\": "), "{error}");
    // Nothing changed.
    assert_eq!(
        sim.campaigns(),
        Simulator::new(sim.config().clone()).unwrap().campaigns()
    );
    assert_eq!(sim.summary().status_flips, 0);
}

#[test]
fn manual_changes_are_counted_apart_from_the_engines() {
    let mut sim = sim(small_world(1));
    sim.manual_change(CUSTOMER, "1", &CampaignChange::Pause)
        .unwrap();
    sim.manual_change(CUSTOMER, "1", &CampaignChange::Pause)
        .unwrap();
    assert_eq!(sim.campaigns()[0].snapshot.status, CampaignStatus::Paused);
    let summary = sim.summary();
    assert_eq!(summary.manual_changes, 1);
    assert_eq!(summary.status_flips, 0);
    sim.manual_change(
        CUSTOMER,
        "2",
        &CampaignChange::SetBudget {
            daily_budget_micros: 1_000_000,
        },
    )
    .unwrap();
    assert_eq!(sim.summary().manual_changes, 2);
    assert!(matches!(
        sim.manual_change(CUSTOMER, "nope", &CampaignChange::Resume),
        Err(SimError::UnknownCampaign { .. })
    ));
    // The engine undoing it is a status flip.
    sim.apply(CUSTOMER, "1", &CampaignChange::Resume).unwrap();
    assert_eq!(sim.summary().status_flips, 1);
    assert_eq!(sim.summary().manual_changes, 2);
}

/// A change to a valid configuration.
type Edit = dyn Fn(&mut SimConfig);

#[test]
fn invalid_configurations_are_refused_with_what_and_where() {
    let refused = |change: &Edit| {
        let mut config = small_world(1);
        change(&mut config);
        Simulator::new(config).unwrap_err()
    };
    assert!(matches!(
        refused(&|c| c.timezone = "Mars/Olympus".to_owned()),
        SimError::InvalidTimezone { timezone } if timezone == "Mars/Olympus"
    ));
    assert_eq!(
        refused(&|c| c.customer_id = " ".to_owned()),
        SimError::BlankCustomerId
    );
    assert!(matches!(
        refused(&|c| c.campaigns[1].campaign_id = "1".to_owned()),
        SimError::DuplicateCampaign { campaign_id } if campaign_id == "1"
    ));
    assert!(matches!(
        refused(&|c| c.teams.push(c.teams[0].clone())),
        SimError::DuplicateTeam { team } if team == "t"
    ));
    assert!(matches!(
        refused(&|c| c.campaigns[1].team = "ghost".to_owned()),
        SimError::UnknownTeam { campaign_id, team } if campaign_id == "2" && team == "ghost"
    ));
    let campaign_errors: [(&Edit, &str); 6] = [
        (&|c| c.campaigns[1].lead_rate = 1.5, "lead_rate"),
        (&|c| c.campaigns[1].lead_rate = f64::NAN, "lead_rate"),
        (
            &|c| c.campaigns[1].peak_clicks_per_hour = -1.0,
            "peak_clicks_per_hour",
        ),
        (&|c| c.campaigns[1].cpc_micros = 0, "cpc_micros"),
        (
            &|c| c.campaigns[1].daily_budget_micros = 0,
            "daily_budget_micros",
        ),
        (&|c| c.campaigns[1].name = String::new(), "name"),
    ];
    for (change, field) in campaign_errors {
        let error = refused(change);
        assert!(
            matches!(error, SimError::InvalidCampaign { ref campaign_id, .. } if campaign_id == "2")
        );
        assert!(error.to_string().contains(field), "{error}");
    }
    let team_errors: [(&Edit, &str); 6] = [
        (
            &|c| c.teams[0].leads_per_agent_hour = 0.0,
            "leads_per_agent_hour",
        ),
        (&|c| c.teams[0].max_open_per_agent = 0, "max_open_per_agent"),
        (
            &|c| c.teams[0].lead_expiry_minutes = 0,
            "lead_expiry_minutes",
        ),
        (&|c| c.teams[0].shifts[1].end_hour = 25, "shift 1"),
        (&|c| c.teams[0].shifts[0].start_hour = 17, "shift 0"),
        (&|c| c.teams[0].shifts[0].weekdays.clear(), "shift 0"),
    ];
    for (change, what) in team_errors {
        let error = refused(change);
        assert!(matches!(error, SimError::InvalidTeam { ref team, .. } if team == "t"));
        assert!(error.to_string().contains(what), "{error}");
    }
}

#[test]
fn the_demo_config_is_valid_and_as_documented() {
    let config = SimConfig::demo(tuesday_7am(), 1);
    let sim = sim(config.clone());
    assert_eq!(sim.config(), &config);
    assert_eq!(config.customer_id, CUSTOMER);
    assert_eq!(config.timezone, "Europe/Amsterdam");
    let gated: Vec<&str> = config
        .campaigns
        .iter()
        .filter(|c| c.labels.iter().any(|l| l == "capacity-gated"))
        .map(|c| c.campaign_id.as_str())
        .collect();
    assert_eq!(gated, ["1001", "1002", "1004"]);
    // A team label names the campaign's own team; BE Generic has none (its team comes from
    // the configuration's campaign → team mapping, so the capacity gate alone acts on it).
    for campaign in &config.campaigns {
        let team_labels: Vec<&String> = campaign
            .labels
            .iter()
            .filter(|l| l.starts_with("team:"))
            .collect();
        match campaign.campaign_id.as_str() {
            "1004" => assert!(team_labels.is_empty(), "{campaign:?}"),
            _ => assert_eq!(team_labels, [&format!("team:{}", campaign.team)]),
        }
    }
    // Every example rule's scope label is on some campaign.
    for label in ["capacity-gated", "business-hours", "paced"] {
        assert!(
            config
                .campaigns
                .iter()
                .any(|c| c.labels.iter().any(|l| l == label)),
            "{label}"
        );
    }
    let teams: Vec<(&str, usize)> = config
        .teams
        .iter()
        .map(|t| (t.name.as_str(), t.shifts.len()))
        .collect();
    assert_eq!(teams, [("sales-nl", 4), ("sales-be", 2)]);
    // The config round-trips through JSON, for daemons that read it from a file.
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(serde_json::from_str::<SimConfig>(&json).unwrap(), config);
}
