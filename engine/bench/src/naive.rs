//! The straightforward way to host Rhai rules, the baseline of `leadorch bench rules`: a
//! stock `Engine::new_raw()` with the same packages and decision functions
//! ([`PlainEngine`]), and for every rule and campaign the facts converted to Rhai values
//! through serde (`rhai::serde::to_dynamic`) into a fresh scope. It makes the same decisions
//! as [`RuleHost::evaluate`], only slower, on one thread.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use leadorch_domain::campaign::{CampaignStatus, DayOfWeek};
use leadorch_rules::{
    CampaignFacts, CompiledRule, EvalError, Facts, Metrics, PlainEngine, RuleHost, TeamFacts,
};
use rhai::Scope;
use serde_json::{json, Map as JsonMap, Value};

/// Evaluates every rule over every campaign in its scope the naive way and returns the
/// number of proposals (aborted runs contribute none, as with [`RuleHost::evaluate`]).
/// Fails only on facts that cannot be evaluated (unknown time zone, bad calendar).
pub fn naive_tick(
    host: &RuleHost,
    rules: &[CompiledRule],
    facts: &Facts,
) -> Result<usize, EvalError> {
    let engine = PlainEngine::new(host);

    let now = now_json(facts)?;
    let teams: JsonMap<String, Value> = facts
        .teams
        .iter()
        .map(|(name, t)| (name.clone(), team_json(name, t, facts.at)))
        .collect();
    let dynamic =
        |v: &Value| rhai::serde::to_dynamic(v).map_err(|e| EvalError::BadFacts(e.to_string()));
    let mut proposals = 0;
    for rule in rules {
        let mut count = 0;
        let mut aborted = false;
        for c in facts
            .campaigns
            .iter()
            .filter(|c| rule.meta.scope.matches(c))
        {
            let team = c
                .team
                .as_ref()
                .and_then(|t| teams.get(t))
                .cloned()
                .unwrap_or(Value::Null);
            let mut scope = Scope::new();
            scope.push_constant_dynamic("teams", dynamic(&Value::Object(teams.clone()))?);
            scope.push_constant_dynamic("now", dynamic(&now)?);
            scope.push_constant_dynamic(
                "campaign",
                dynamic(&campaign_json(c, facts.at, facts.window_minutes))?,
            );
            scope.push_constant_dynamic("team", dynamic(&team)?);
            match engine.run(rule, &mut scope) {
                Ok(decisions) => count += decisions.len(),
                Err(err) => {
                    if err.aborts_run() {
                        aborted = true;
                        break;
                    }
                }
            }
        }
        if !aborted {
            proposals += count;
        }
    }
    Ok(proposals)
}

/// RFC 3339 in UTC with a `Z` suffix, whole seconds.
fn iso_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn status_name(s: CampaignStatus) -> &'static str {
    match s {
        CampaignStatus::Enabled => "enabled",
        CampaignStatus::Paused => "paused",
        CampaignStatus::Removed => "removed",
    }
}

fn day_name(d: DayOfWeek) -> &'static str {
    match d {
        DayOfWeek::Monday => "monday",
        DayOfWeek::Tuesday => "tuesday",
        DayOfWeek::Wednesday => "wednesday",
        DayOfWeek::Thursday => "thursday",
        DayOfWeek::Friday => "friday",
        DayOfWeek::Saturday => "saturday",
        DayOfWeek::Sunday => "sunday",
    }
}

/// `"HH:MM"` for minutes since midnight.
fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn micros_to_units(micros: i64) -> Value {
    json!(micros as f64 / 1_000_000.0)
}

fn metrics_json(m: &Metrics) -> JsonMap<String, Value> {
    let mut map = JsonMap::new();
    map.insert("impressions".into(), json!(m.impressions));
    map.insert("clicks".into(), json!(m.clicks));
    map.insert("cost".into(), micros_to_units(m.cost_micros));
    map.insert("cost_micros".into(), json!(m.cost_micros));
    map.insert("conversions".into(), json!(m.conversions));
    map
}

fn campaign_json(c: &CampaignFacts, at: DateTime<Utc>, window_minutes: u32) -> Value {
    use leadorch_domain::campaign::Bidding;
    let (strategy, cpa, roas) = match &c.bidding {
        Bidding::ManualCpc => ("manual_cpc".to_string(), Value::Null, Value::Null),
        Bidding::MaximizeConversions => {
            ("maximize_conversions".to_string(), Value::Null, Value::Null)
        }
        Bidding::TargetCpa { target_cpa_micros } => (
            "target_cpa".to_string(),
            micros_to_units(*target_cpa_micros),
            Value::Null,
        ),
        Bidding::TargetRoas { target_roas } => {
            ("target_roas".to_string(), Value::Null, json!(target_roas))
        }
        Bidding::Other(name) => (name.clone(), Value::Null, Value::Null),
    };
    let mut since = JsonMap::new();
    for field in ["status", "daily_budget_micros", "bidding", "ad_schedule"] {
        since.insert(field.into(), Value::Null);
    }
    for (field, when) in &c.last_change_at {
        since.insert(field.clone(), json!((at - *when).num_minutes()));
    }
    let schedule: Vec<Value> = c
        .ad_schedule
        .iter()
        .map(|s| {
            json!({
                "day": day_name(s.day_of_week),
                "start": hhmm(s.start()),
                "end": hhmm(s.end()),
                "bid_modifier": s.bid_modifier,
            })
        })
        .collect();
    let mut recent = metrics_json(&c.metrics_window);
    recent.insert("minutes".into(), json!(window_minutes));
    json!({
        "id": c.id,
        "customer_id": c.customer_id,
        "campaign_id": c.campaign_id,
        "name": c.name,
        "labels": c.labels,
        "team": c.team,
        "status": status_name(c.status),
        "paused": c.status == CampaignStatus::Paused,
        "budget": micros_to_units(c.daily_budget_micros),
        "budget_micros": c.daily_budget_micros,
        "bidding": { "strategy": strategy, "target_cpa": cpa, "target_roas": roas },
        "ad_schedule": schedule,
        "manual_override": c.manual_override_until.is_some_and(|u| u > at),
        "manual_override_until": c.manual_override_until.map(iso_utc),
        "minutes_since_change": since,
        "pending": c.pending_fields,
        "today": metrics_json(&c.metrics_today),
        "recent": recent,
        "leads_today": c.leads_today,
        "leads_recent": c.leads_window,
    })
}

fn team_json(name: &str, t: &TeamFacts, at: DateTime<Utc>) -> Value {
    let age = t.updated_at.map(|u| (at - u).num_minutes());
    json!({
        "name": if t.team.is_empty() { name } else { t.team.as_str() },
        "agents_available": t.agents_available,
        "open_leads": t.open_leads,
        "max_open_leads": t.max_open_leads,
        "utilisation": t.utilisation(),
        "free_slots": t.free_slots(),
        "leads_recent": t.leads_window,
        "minutes_since_update": age,
        "age_minutes": age,
        "stale": t.is_stale(at),
    })
}

fn now_json(facts: &Facts) -> Result<Value, EvalError> {
    let tz: chrono_tz::Tz = facts
        .timezone
        .parse()
        .map_err(|_| EvalError::BadFacts(format!("unknown time zone {:?}", facts.timezone)))?;
    let local = facts.at.with_timezone(&tz);
    let minute_of_day = local.hour() * 60 + local.minute();
    let mut open = JsonMap::new();
    let mut business_hours = false;
    for (name, calendar) in &facts.calendars {
        let is_open = calendar
            .is_open_at(name, facts.at, tz)
            .map_err(EvalError::BadFacts)?;
        if name == "default" {
            business_hours = is_open;
        }
        open.insert(name.clone(), json!(is_open));
    }
    let weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [local.weekday().num_days_from_monday() as usize];
    Ok(json!({
        "iso": local.to_rfc3339_opts(SecondsFormat::Secs, false),
        "utc": iso_utc(facts.at),
        "date": local.date_naive().format("%Y-%m-%d").to_string(),
        "year": local.year(),
        "month": local.month(),
        "day": local.day(),
        "hour": local.hour(),
        "minute": local.minute(),
        "weekday": weekday,
        "minute_of_day": minute_of_day,
        "timezone": facts.timezone,
        "business_hours": business_hours,
        "open": open,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use leadorch_domain::campaign::{AdScheduleSlot, Bidding};
    use leadorch_rules::{Calendar, Limits};

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T10:30:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    /// The values a rule reads are the same through serde as prepared by the host: a rule
    /// that writes them into its reason gives the same reason both ways.
    #[test]
    fn serde_views_equal_the_prepared_views() {
        let mut c = CampaignFacts::new("1/2", "Brand");
        c.labels = vec!["a".into()];
        c.team = Some("t".into());
        c.daily_budget_micros = 12_340_000;
        c.bidding = Bidding::TargetCpa {
            target_cpa_micros: 5_000_000,
        };
        c.ad_schedule = vec![AdScheduleSlot {
            day_of_week: DayOfWeek::Friday,
            start_hour: 9,
            start_minute: 0,
            end_hour: 17,
            end_minute: 30,
            bid_modifier: None,
        }];
        c.last_change_at.insert("status".into(), at());
        let t = TeamFacts {
            team: "t".into(),
            agents_available: 2,
            open_leads: 3,
            max_open_leads: 4,
            updated_at: Some(at()),
            leads_window: 5,
            max_age_secs: None,
        };
        let mut calendars = BTreeMap::new();
        calendars.insert("default".to_string(), Calendar::default());
        let mut office = Calendar::default();
        office
            .weekly
            .insert("mon".into(), vec![["09:00".into(), "17:30".into()]]);
        calendars.insert("office".to_string(), office);
        let facts = Facts {
            at: at(),
            timezone: "Europe/Amsterdam".into(),
            calendars,
            window_minutes: 60,
            teams: BTreeMap::from([("t".to_string(), t.clone())]),
            campaigns: vec![c.clone()],
        };

        let host = RuleHost::new(None, Limits::default()).expect("host");
        let rule = host
            .compile(
                "views",
                "pause(`campaign ${campaign} team ${team} teams ${teams} now ${now}`)",
            )
            .expect("compiles");
        let run = host.evaluate(&rule, &host.prepare(&facts));
        assert_eq!(run.proposals.len(), 1, "{run:?}");
        let prepared = &run.proposals[0].decision.reason;

        let dynamic = |v: Value| rhai::serde::to_dynamic(v).expect("converts");
        let mut scope = Scope::new();
        scope.push_constant_dynamic("teams", dynamic(json!({ "t": team_json("t", &t, at()) })));
        scope.push_constant_dynamic("now", dynamic(now_json(&facts).expect("valid")));
        scope.push_constant_dynamic("campaign", dynamic(campaign_json(&c, at(), 60)));
        scope.push_constant_dynamic("team", dynamic(team_json("t", &t, at())));
        let decisions = PlainEngine::new(&host)
            .run(&rule, &mut scope)
            .expect("runs");
        assert_eq!(&decisions[0].reason, prepared);
        // Every part was there to compare, the calendars' answers included.
        for part in [
            "12.34",
            "\"friday\"",
            "\"utilisation\": 0.75",
            "\"office\": true",
        ] {
            assert!(prepared.contains(part), "{part} in {prepared}");
        }
    }

    #[test]
    fn same_decisions_as_the_host() {
        let host = RuleHost::new(None, Limits::default()).expect("host");
        let rule = host
            .compile(
                "r",
                "if team != () && team.utilisation > 0.5 { pause(`${campaign.name}`) }",
            )
            .expect("compiles");
        let mut teams = BTreeMap::new();
        teams.insert(
            "t".to_string(),
            TeamFacts {
                team: "t".into(),
                agents_available: 1,
                open_leads: 9,
                max_open_leads: 10,
                updated_at: None,
                leads_window: 0,
                max_age_secs: None,
            },
        );
        let campaigns: Vec<CampaignFacts> = (0..5)
            .map(|i| {
                let mut c = CampaignFacts::new(&format!("1/{i}"), "c");
                c.team = (i % 2 == 0).then(|| "t".to_string());
                c
            })
            .collect();
        let facts = Facts {
            at: at(),
            timezone: "UTC".into(),
            calendars: BTreeMap::new(),
            window_minutes: 60,
            teams,
            campaigns,
        };
        let run = host.evaluate(&rule, &host.prepare(&facts));
        assert_eq!(
            naive_tick(&host, std::slice::from_ref(&rule), &facts),
            Ok(run.proposals.len())
        );
        assert_eq!(run.proposals.len(), 3);
    }
}
