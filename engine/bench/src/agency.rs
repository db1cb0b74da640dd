//! `leadorch bench agency`: an agency's Google Ads accounts on one PostgreSQL, period after
//! period.
//!
//! An agency reaches its clients' Google Ads accounts through its manager account: one OAuth
//! grant (the agency's Google login, account `ops`), every client customer in `[google]
//! customers`, the manager as `[google] login_customer_id` (sent as `login-customer-id`, which
//! the fake requires for a managed customer). So the bench builds:
//! - the fakes of `leadorch-fakes` in this process: `--customers` client customers under one
//!   manager, each with `--campaigns` campaigns in teams of 50 (labelled `team:<name>` and, in
//!   turn, `capacity-gated`, `paced`, `business-hours`);
//! - one fresh PostgreSQL database, the product's store on it;
//! - the grant connected by the real consent flow (as `bench react` does);
//! - every example rule of `rules/` as shipped, saved and enabled, with the shipped settings
//!   (a default calendar open at all hours is the one addition: the shipped configuration names
//!   none, and `business_hours.rhai` would pause its campaigns at night);
//! - the daemon ([`Daemon::start`]) with the Google adapter as `leadorch daemon --adapter
//!   google` builds it, stepped with [`Daemon::step`] on a simulated clock, one step per
//!   5-minute period: each step is due to reconcile (`[reconcile] every = "5m"`) and to run
//!   every scheduled rule.
//!
//! Before each period's step, every team's capacity reading changes (recorded as its CRM
//! would push it), each team on its own phase of a 25-period cycle that goes above 90 % once
//! and below 70 % most of the time, so the rules pause some teams' campaigns and resume
//! others'. The step's wall-clock time — reading all campaigns back, evaluating every rule
//! over them, recording, applying the changes at the fake through the client's per-customer
//! rate limiter — is what must fit in the period. The fake's recorded requests
//! (`RecordedRequest::received_at`, per customer) give the peak requests in any one-second
//! window per customer, against what the client's shipped limit allows (5 per second, a
//! burst of 5: at most 10 in any one second).
//!
//! There is no peer: the product has one way to step a daemon over all its customers, and
//! a daemon per customer would need 100 connected grants, which is not how an agency
//! connects.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use chrono::Utc;
use clap::Args;
use leadorch_config::{Config, GoogleSettings};
use leadorch_core::Engine;
use leadorch_daemon::executor::ExecResult;
use leadorch_daemon::Daemon;
use leadorch_evaluate::library::save_rule;
use leadorch_fakes::{FakeGoogleAds, FakeOAuth};
use leadorch_rules::RuleHost;

use super::fresh::Databases;
use super::react::{self, RuleChoice, ACCOUNT};
use super::{thousands, Backend};

/// The agency's manager account.
const MANAGER: &str = "9000000000";
/// Campaigns per team.
const TEAM_SIZE: u64 = 50;
/// A team's room (open leads).
const MAX_OPEN: u32 = 20;
/// Open leads of a team, period after period (of `MAX_OPEN`): a different reading every
/// period, above 90 % once in 25 periods and below 70 % for most of them, so each period a
/// twenty-fifth of the teams fill up (their campaigns paused) and others have room again.
const CYCLE: [u32; 25] = [
    19, 17, 15, 13, 11, 9, 7, 5, 4, 5, 7, 9, 11, 13, 15, 17, 16, 14, 12, 10, 8, 6, 8, 10, 12,
];
/// The period the daemon's work must fit in.
const PERIOD: Duration = Duration::from_secs(300);
/// The client's shipped limit per customer: requests per second, and its burst.
const RATE: usize = 5;
const BURST: usize = 5;

#[derive(Args, Debug)]
pub struct AgencyArgs {
    /// Client customers under the agency's manager account
    #[arg(long, default_value_t = 100)]
    pub customers: u64,
    /// Campaigns per customer
    #[arg(long, default_value_t = 100)]
    pub campaigns: u64,
    /// 5-minute periods stepped (the first one observes every campaign)
    #[arg(long, default_value_t = 3)]
    pub periods: u64,
    /// Folder of the example rules (all are saved and enabled, as shipped, with lib/)
    #[arg(long, default_value = "rules")]
    pub rules_dir: std::path::PathBuf,
    /// PostgreSQL server (a database is created and dropped)
    #[arg(
        long,
        env = "LEADORCH_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres_url: String,
}

/// One period's step.
struct Period {
    /// Recording the teams' readings (the CRM's pushes, not the daemon's work).
    readings: Duration,
    /// The daemon's step.
    step: Duration,
    /// The rule tick's own time within it.
    tick: Duration,
    rule_runs: usize,
    reused: usize,
    accepted: usize,
    applied: usize,
    failed: usize,
    drift: usize,
    requests: usize,
}

/// Runs `bench agency`.
pub async fn run(args: &AgencyArgs) -> Result<ExitCode> {
    if args.customers == 0 || args.campaigns == 0 || args.periods == 0 {
        bail!("--customers, --campaigns and --periods must be at least 1");
    }
    let rules = react::example_rules(&args.rules_dir, RuleChoice::All)?;
    let mut dbs = Databases::new(Backend::Postgres, &args.postgres_url).await?;
    let result = match dbs.create("agency").await {
        Ok(fresh) => {
            let r = match react::open_engine(&fresh).await {
                Ok((db, engine)) => {
                    let r = measure(&engine, args, &rules).await;
                    drop(engine);
                    db.close().await;
                    r
                }
                Err(e) => Err(e),
            };
            dbs.drop_db(fresh).await;
            r
        }
        Err(e) => Err(e),
    };
    dbs.cleanup().await;
    let (periods, rates) = result?;
    report(args, &periods, &rates);
    Ok(ExitCode::SUCCESS)
}

fn customer_id(k: u64) -> String {
    (1_000_000_000 + k).to_string()
}

/// Teams of customer `k`, and each campaign's team by index.
fn team_name(k: u64, t: u64) -> String {
    format!("c{k:03}-t{t:02}")
}

async fn measure(
    engine: &Engine,
    args: &AgencyArgs,
    rules: &[(String, String)],
) -> Result<(Vec<Period>, Rates)> {
    let oauth = FakeOAuth::start().await;
    let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
    let mut teams = Vec::new();
    let customers: Vec<String> = (0..args.customers).map(customer_id).collect();
    for (k, customer) in customers.iter().enumerate() {
        let k = k as u64;
        ads.add_customer(customer, Some(MANAGER));
        for i in 0..args.campaigns {
            let team = team_name(k, i / TEAM_SIZE);
            if i.is_multiple_of(TEAM_SIZE) {
                teams.push(team.clone());
            }
            ads.add_campaign(
                customer,
                react::labelled_campaign(1_000 + i as i64, &team, i),
            );
        }
    }
    let mut config = Config {
        google: GoogleSettings {
            account: ACCOUNT.into(),
            customers: customers.clone(),
            login_customer_id: Some(MANAGER.into()),
            base_url: Some(ads.base_url()),
            client_id: Some(oauth.client_id().to_string()),
            client_secret: Some(oauth.client_secret().to_string()),
            token_url: Some(oauth.token_url()),
            auth_url: Some(oauth.auth_url()),
            revoke_url: Some(oauth.revoke_url()),
            ..GoogleSettings::default()
        },
        rules_lib: Some(args.rules_dir.join("lib")),
        ..Config::default()
    };
    config
        .facts
        .calendars
        .insert("default".into(), react::always_open());
    config
        .validate()
        .map_err(|e| anyhow!("the bench's configuration: {e}"))?;
    eprintln!(
        "{} customers under manager {MANAGER}, {} campaigns, {} teams; connecting account {ACCOUNT} …",
        args.customers,
        thousands(args.customers * args.campaigns),
        teams.len()
    );
    react::connect(engine, &config.google, MANAGER).await?;
    let host = Arc::new(
        RuleHost::new(Some(&args.rules_dir.join("lib")), config.limits())
            .context("loading the rules library")?,
    );
    for (id, source) in rules {
        save_rule(engine, &host, id, source, true, Utc::now(), "bench")
            .await
            .with_context(|| format!("saving rules/{id}.rhai"))?;
    }
    let adapter: Arc<dyn leadorch_daemon::adapter::AdsAdapter> =
        react::google_adapter(engine, &config).await?;
    let mut daemon = Daemon::start(engine.clone(), host, adapter, config.clone())
        .await
        .context("starting the daemon")?;

    let mut now = Utc::now();
    let mut out = Vec::new();
    for p in 0..args.periods {
        let readings_started = Instant::now();
        let with_open: Vec<(String, u32)> = teams
            .iter()
            .enumerate()
            .map(|(j, t)| (t.clone(), CYCLE[(j * 7 + p as usize) % CYCLE.len()]))
            .collect();
        record_readings(engine, &with_open, now).await?;
        let readings = readings_started.elapsed();
        let before = ads.requests().len();
        eprintln!("period {}: stepping the daemon …", p + 1);
        let started = Instant::now();
        let report = daemon
            .step(now)
            .await
            .with_context(|| format!("period {}'s step", p + 1))?;
        let step = started.elapsed();
        if let Some(why) = &report.paused {
            bail!("period {}: the daemon paused: {why}", p + 1);
        }
        let applied = report
            .executed
            .iter()
            .filter(|x| x.result == ExecResult::Applied)
            .count();
        let failed: Vec<String> = report
            .executed
            .iter()
            .filter_map(|x| match &x.result {
                ExecResult::Failed { error, .. } => Some(format!("{}: {error}", x.campaign)),
                _ => None,
            })
            .collect();
        if let Some(first) = failed.first() {
            eprintln!(
                "period {}: {} changes failed (first: {first})",
                p + 1,
                failed.len()
            );
        }
        out.push(Period {
            readings,
            step,
            tick: Duration::from_micros(report.evaluations.iter().map(|e| e.duration_us).sum()),
            rule_runs: report
                .evaluations
                .iter()
                .map(|e| e.evaluated + e.reused)
                .sum(),
            reused: report.evaluations.iter().map(|e| e.reused).sum(),
            accepted: report.evaluations.iter().map(|e| e.accepted.len()).sum(),
            applied,
            failed: failed.len(),
            drift: report.drift.len(),
            requests: ads.requests().len() - before,
        });
        eprintln!(
            "period {}: step {:.1} s, {applied} changes applied",
            p + 1,
            step.as_secs_f64()
        );
        now += chrono::Duration::seconds(PERIOD.as_secs() as i64);
    }
    let rates = rates(&ads.requests());
    Ok((out, rates))
}

async fn record_readings(
    engine: &Engine,
    teams: &[(String, u32)],
    at: chrono::DateTime<Utc>,
) -> Result<()> {
    let metadata = leadorch_store::Metadata::actor("crm");
    for (team, open) in teams {
        let command = leadorch_domain::CapacityCommand::Record {
            team: team.clone(),
            agents_available: 3,
            open_leads: *open,
            max_open_leads: MAX_OPEN,
            source: "crm".into(),
            max_age_secs: None,
            at,
        };
        engine
            .execute::<leadorch_domain::CapacitySnapshot>(team, command, &metadata)
            .await
            .with_context(|| format!("recording team {team}'s capacity"))?;
    }
    Ok(())
}

/// Requests per customer, as the fake recorded them.
struct Rates {
    /// The most requests one customer received in any one second, and which customer.
    peak: (usize, String),
    /// Customers that received more than the client's limit allows in some window.
    over: Vec<String>,
    /// Requests in all, and to customers (not the manager's `listAccessibleCustomers`).
    total: usize,
}

/// The most requests in any window of `window` among sorted instants.
fn most_within(times: &[Instant], window: Duration) -> usize {
    let mut best = 0;
    let mut start = 0;
    for (end, t) in times.iter().enumerate() {
        while t.duration_since(times[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

fn rates(requests: &[leadorch_fakes::RecordedRequest]) -> Rates {
    let mut by: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
    for r in requests {
        if let Some(rest) = r.path.split("/customers/").nth(1) {
            let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
            by.entry(id).or_default().push(r.received_at);
        }
    }
    let mut peak = (0, String::new());
    let mut over = Vec::new();
    for (customer, times) in &mut by {
        times.sort();
        let one = most_within(times, Duration::from_secs(1));
        if one > peak.0 {
            peak = (one, customer.clone());
        }
        // A token bucket of BURST refilled at RATE per second lets through at most
        // BURST + RATE * w requests in any w seconds.
        if [1u64, 2, 5, 10]
            .iter()
            .any(|w| most_within(times, Duration::from_secs(*w)) > BURST + RATE * (*w as usize))
        {
            over.push(customer.clone());
        }
    }
    Rates {
        peak,
        over,
        total: requests.len(),
    }
}

fn report(args: &AgencyArgs, periods: &[Period], rates: &Rates) {
    let campaigns = args.customers * args.campaigns;
    println!(
        "leadorch bench agency: {} client customers x {} campaigns ({} campaigns) under one manager account ({MANAGER}, login-customer-id), one OAuth grant; {} periods of 5 minutes on a simulated clock, each one Daemon::step timed on the wall clock",
        args.customers,
        args.campaigns,
        thousands(campaigns),
        periods.len()
    );
    println!(
        "database: a fresh PostgreSQL database (synchronous_commit=on), the product's store on it; one process, one tokio runtime of {} worker threads shared by the daemon and the fakes; the rule tick's own two worker threads",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "daemon: Daemon::start + Daemon::step(now), every example rule of rules/ as shipped, saved and enabled, the shipped settings (reconcile every 5m, policy.min_dwell 15m, reuse of kept results) and a default calendar open at all hours; the Google Ads REST client as shipped (5 requests/s per customer, burst 5, retries); leadorch-fakes' FakeOAuth and FakeGoogleAds in this process"
    );
    println!(
        "readings: before each step every team's reading changes (a 25-period cycle per team, above 90 % once, below 70 % most of the time), recorded as its CRM pushes it"
    );
    println!(
        "| period | step (wall) | rule tick | rule runs (reused) | accepted | applied | failed | drift | requests to Google | readings recorded |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (i, p) in periods.iter().enumerate() {
        println!(
            "| {} | {:.2} s | {:.0} ms | {} ({}) | {} | {} | {} | {} | {} | {:.2} s |",
            i + 1,
            p.step.as_secs_f64(),
            p.tick.as_secs_f64() * 1000.0,
            thousands(p.rule_runs as u64),
            thousands(p.reused as u64),
            p.accepted,
            p.applied,
            p.failed,
            p.drift,
            p.requests,
            p.readings.as_secs_f64()
        );
    }
    println!(
        "requests to Google: {} in all; the most to one customer in any second: {} (customer {}); the client's limit allows at most {} (a burst of {BURST}, then {RATE}/s)",
        rates.total,
        rates.peak.0,
        rates.peak.1,
        BURST + RATE
    );
    println!(
        "peer: none (the product steps one daemon over all of an account's customers; a daemon per customer would need a grant per customer, not how an agency connects)"
    );
    // The first period observes every campaign (a new installation's first reading): the goal
    // is about the periods after it, when there are any.
    let steady = if periods.len() > 1 {
        &periods[1..]
    } else {
        periods
    };
    let slowest = steady
        .iter()
        .map(|p| p.step)
        .max()
        .unwrap_or(Duration::ZERO);
    let failed: usize = steady.iter().map(|p| p.failed).sum();
    println!(
        "goal {} customers x {} campaigns within each 5-minute period: {} (slowest step {:.1} s of 300 s over periods {}-{}; {failed} changes failed; the first period, observing every campaign, took {:.1} s)",
        args.customers,
        args.campaigns,
        if slowest <= PERIOD && failed == 0 {
            "met"
        } else {
            "missed"
        },
        slowest.as_secs_f64(),
        periods.len() + 1 - steady.len(),
        periods.len(),
        periods.first().map_or(0.0, |p| p.step.as_secs_f64())
    );
    println!(
        "goal per-customer rate limit respected: {} (peak {} requests in one second to one customer, limit {}; {} customers over it in some window)",
        if rates.over.is_empty() {
            "met"
        } else {
            "missed"
        },
        rates.peak.0,
        BURST + RATE,
        rates.over.len()
    );
}
