//! `leadorch bench react`: from a capacity push over HTTP to Google receiving the change.
//!
//! Everything runs in this process, as a team's installation would run it, except that Google
//! is the fake of `leadorch-fakes` (the Google Ads REST API and Google OAuth on 127.0.0.1):
//! - a fresh database (the bench's [`Databases`]), the product's store on it;
//! - Google account `ops` connected by the real consent flow against the fake OAuth server
//!   (`leadorch_accounts::PendingConsent`: PKCE, `state`, the loopback redirect; the bench plays
//!   the browser), so the daemon's tokens come from the stored, sealed refresh token;
//! - the example rules of `rules/` as shipped, all four saved and enabled (`--rules gate`:
//!   `capacity_gate.rhai` alone, as before `--campaigns`);
//! - the real daemon (`Daemon::run`: leadership, the log's notifications) acting through the
//!   Google Ads REST client (`leadorch_google`, its shipped settings: 5 requests per second
//!   per customer, retries) on customer 123-456-7890, which has the capacity-gated campaign of
//!   team `sales-nl` and an ungated one;
//! - the real API router (`leadorch_api::router`, rate limits as shipped) on 127.0.0.1 with a
//!   `capacity` key.
//!
//! With `--campaigns N`, N − 2 more campaigns are spread over teams of 50 (`team-0000`, …,
//! each read 20–50 % full, so no example rule asks them for a change) and over customers of at
//! most `--campaigns-per-customer` (1,000: Google allows 10,000 campaigns in one account, and
//! an installation of that size spreads over several; the first customer holds the measured
//! team's two campaigns), all in `[google] customers` and reached through the one grant. Each
//! background campaign is labelled `team:<its team>` and, in turn, `capacity-gated`, `paced`
//! and `business-hours`, so every rule's scope covers thousands of them: every push's step
//! evaluates the rules triggered by a capacity change over all of them (replaying the kept
//! results of the runs whose reads did not change), and the executor reads back the campaign
//! it is about to change before the mutate. The daemon's default calendar is
//! open at all hours (the shipped configuration names none, and `business_hours.rhai` would
//! pause its campaigns whenever the bench runs), and the ungated campaign gets its team from
//! `[facts] campaign_teams` instead of a `team:` label (team_routing would follow the team
//! for it too).
//!
//! Then N capacity pushes (`POST /v1/capacity`, each answered `201`) alternately fill the team
//! (15 of 15 open leads: utilisation 100 %, above the rule's 90 %) and free it (3 of 15: 20 %,
//! below its 70 %), so each push crosses the rule's hysteresis band and asks for exactly one
//! change. Each push waits until the fake has received the `campaigns:mutate` that pauses
//! (resumes) the gated campaign, and until the daemon has recorded it applied; the latency is
//! from sending the POST to the fake having that request ([`RecordedRequest::received_at`]).
//! The daemon's `policy.min_dwell` is set to 0 (shipped: 15 minutes, which would hold every
//! change after the first for 15 minutes). Pushes start at least `--interval-ms` apart (1 s by
//! default): each change is four requests to Google — the executor reads the customer's
//! campaigns back (campaigns, labels, ad-schedule criteria) before the mutate — and the client
//! sends at most 5 requests per second per customer (a burst of 5), so closer pushes would
//! measure the client's rate limiter. The bench fails unless every push led to exactly one
//! mutate, applied by the fake and recorded as applied, and the ungated campaign was never
//! touched.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use chrono::Utc;
use clap::Args;
use leadorch_accounts::{self as accounts, AccountTokens, PendingConsent};
use leadorch_api::keys::Scope;
use leadorch_config::{Config, GoogleSettings};
use leadorch_core::Engine;
use leadorch_daemon::executor::ExecResult;
use leadorch_daemon::google::GoogleAdapter;
use leadorch_daemon::{Daemon, Notice};
use leadorch_domain::{Campaign, CapacityCommand, CapacitySnapshot};
use leadorch_evaluate::library::save_rule;
use leadorch_fakes::{CampaignStatus, FakeCampaign, FakeGoogleAds, FakeOAuth, RecordedRequest};
use leadorch_google::GoogleAdsClient;
use leadorch_rules::RuleHost;
use leadorch_store::{Db, EventFilter, MasterKey, RetentionPolicy, Store};
use tokio::sync::{mpsc, watch};

use super::fresh::{Databases, Fresh};
use super::served::Served;
use super::{thousands, Backend, Latencies};

/// The Google Ads customer (digits, as the fake's paths have it).
const CUSTOMER: &str = "1234567890";
/// The capacity-gated campaign of the team.
const GATED: i64 = 222;
/// A campaign of the same team without the `capacity-gated` label: never to be touched.
const UNGATED: i64 = 111;
/// The team the pushes are about.
const TEAM: &str = "sales-nl";
/// The connected Google account.
pub(crate) const ACCOUNT: &str = "ops";
/// A team of three agents with room for 15 open leads: full at 15, free at 3.
const MAX_OPEN: u32 = 15;
const FULL_OPEN: u32 = 15;
const FREE_OPEN: u32 = 3;
/// How long one push may take to reach Google before the bench gives up.
const PATIENCE: Duration = Duration::from_secs(30);
/// The `LEADORCH_GOOGLE_*` variables that would point the client away from the fake.
const GOOGLE_ENV: [&str; 7] = [
    "LEADORCH_GOOGLE_CLIENT_ID",
    "LEADORCH_GOOGLE_CLIENT_SECRET",
    "LEADORCH_GOOGLE_OAUTH_AUTH_URL",
    "LEADORCH_GOOGLE_OAUTH_TOKEN_URL",
    "LEADORCH_GOOGLE_OAUTH_REVOKE_URL",
    "LEADORCH_GOOGLE_ADS_BASE_URL",
    "LEADORCH_GOOGLE_ADS_API_VERSION",
];

#[derive(Args, Debug)]
pub struct ReactArgs {
    /// Database to run on
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: Backend,
    /// Capacity pushes, alternately filling and freeing the team (each one change)
    #[arg(long, default_value_t = 200)]
    pub events: u64,
    /// Time from one push to the next, at least, in milliseconds: each change is four requests
    /// to Google (the executor's read-back of the campaigns, then the mutate) and the client
    /// sends at most 5 per second per customer, so pushes closer than 800 ms apart measure its
    /// rate limiter too
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Campaigns at the fake Google: the measured team's gated and ungated campaign, and the
    /// rest spread over teams of 50 (labelled for every example rule) whose readings ask for
    /// no change, so every step the daemon evaluates and reads back all of them
    #[arg(long, default_value_t = 2)]
    pub campaigns: u64,
    /// Campaigns per Google Ads customer: more campaigns are spread over more customers, all
    /// in `[google] customers` and reached through the one grant
    #[arg(long, default_value_t = 1000)]
    pub campaigns_per_customer: u64,
    /// Which example rules are saved and enabled: `all` (every `*.rhai` of --rules-dir) or
    /// `gate` (capacity_gate.rhai alone, as before `--campaigns`)
    #[arg(long, value_enum, default_value = "all")]
    pub rules: RuleChoice,
    /// Folder of the example rules (used as shipped, with lib/)
    #[arg(long, default_value = "rules")]
    pub rules_dir: PathBuf,
    /// Server for --backend postgres (a database is created and dropped)
    #[arg(
        long,
        env = "LEADORCH_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres_url: String,
}

/// Which example rules a run saves and enables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RuleChoice {
    /// Every `*.rhai` file of the rules folder.
    All,
    /// `capacity_gate.rhai` alone.
    Gate,
}

/// Campaigns per background team.
const TEAM_SIZE: u64 = 50;
/// The first background campaign's id.
const FIRST_BACKGROUND: i64 = 1_000;

/// What one push measured.
struct Push {
    /// Whether it filled the team (a pause) or freed it (a resume).
    fill: bool,
    /// From sending the POST to its `201`.
    answered: Duration,
    /// From sending the POST to the fake having the first request of the push's change (the
    /// executor's read-back: the change is decided and recorded by then).
    first_request: Duration,
    /// From sending the POST to the fake having the mutate.
    mutate: Duration,
    /// From sending the POST to the daemon's report of the step that applied the change.
    reported: Duration,
    /// The rule tick's own time in that step (the evaluation's `duration_us`).
    tick: Duration,
}

/// What the daemon said, as the bench needs it.
enum Said {
    Leading,
    Step {
        /// Campaigns whose change the platform applied in this step.
        applied: Vec<String>,
        /// Changes that failed, with the error.
        failed: Vec<String>,
        /// Why the rules were paused, if they were.
        paused: Option<String>,
        /// The rule tick's time (µs) of the step's evaluations.
        tick_us: u64,
        /// Rule runs that failed or were stopped (e.g. by the wall-clock budget).
        rule_failures: Vec<String>,
        /// Nothing evaluated, applied or found changed in this step.
        idle: bool,
    },
    Away(String),
}

/// Runs `bench react`.
pub async fn run(args: &ReactArgs) -> Result<ExitCode> {
    if args.events == 0 {
        bail!("--events must be at least 1");
    }
    if let Some(var) = GOOGLE_ENV.iter().find(|v| std::env::var_os(v).is_some()) {
        bail!(
            "{var} is set: bench react points the Google clients at its own fake Google; unset it"
        );
    }
    if args.campaigns < 2 {
        bail!("--campaigns must be at least 2 (the measured team's gated and ungated campaign)");
    }
    if args.campaigns_per_customer < 2 {
        bail!("--campaigns-per-customer must be at least 2");
    }
    let rules = example_rules(&args.rules_dir, args.rules)?;
    let mut dbs = Databases::new(args.backend, &args.postgres_url).await?;
    let result = match dbs.create("react").await {
        Ok(fresh) => {
            let r = measure(&fresh, args, &rules).await;
            dbs.drop_db(fresh).await;
            r
        }
        Err(e) => Err(e),
    };
    dbs.cleanup().await;
    let (pushes, notes) = result?;
    report(args, &pushes, &notes);
    Ok(ExitCode::SUCCESS)
}

/// The example rules to save, `(id, source)`: every `*.rhai` of `dir` (sorted by name), or
/// `capacity_gate.rhai` alone.
pub fn example_rules(dir: &std::path::Path, choice: RuleChoice) -> Result<Vec<(String, String)>> {
    let files: Vec<PathBuf> = match choice {
        RuleChoice::Gate => vec![dir.join("capacity_gate.rhai")],
        RuleChoice::All => {
            let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
                .with_context(|| {
                    format!(
                        "reading the example rules in {} (run from the repository root, or pass --rules-dir)",
                        dir.display()
                    )
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
                .collect();
            v.sort();
            v
        }
    };
    let mut out = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).with_context(|| {
            format!(
                "reading the example rule {} (run from the repository root, or pass --rules-dir)",
                file.display()
            )
        })?;
        let id = file
            .file_stem()
            .and_then(|s| s.to_str())
            .context("a rule file's name")?
            .to_string();
        out.push((id, source));
    }
    if !out.iter().any(|(id, _)| id == "capacity_gate") {
        bail!("no capacity_gate.rhai in {}", dir.display());
    }
    Ok(out)
}

/// Facts about the run, for the output.
struct Notes {
    requests_per_change: f64,
    threads: usize,
    layout: Layout,
    rules: Vec<String>,
    /// From the daemon leading to its first step's report (the first reconcile and evaluation).
    first_step: Duration,
    /// Rule runs that failed or were stopped while the pushes ran, with what they said (first).
    rule_failures: (usize, Option<String>),
}

/// Where the campaigns are: customers, teams.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Customer ids (digits); the first holds the measured team's campaigns.
    pub customers: Vec<String>,
    /// Background teams and their open leads (of `BACKGROUND_MAX`).
    pub teams: Vec<(String, u32)>,
    /// Campaigns in all.
    pub campaigns: u64,
}

/// A background team's room: its readings (20–50 % full) ask no rule for a change.
const BACKGROUND_MAX: u32 = 20;

impl Layout {
    fn new(campaigns: u64, per_customer: u64) -> Layout {
        let customers = campaigns.div_ceil(per_customer);
        let background = campaigns - 2;
        let teams = background.div_ceil(TEAM_SIZE);
        Layout {
            customers: (0..customers)
                .map(|k| (1_234_567_890 + k).to_string())
                .collect(),
            teams: (0..teams)
                .map(|t| (format!("team-{t:04}"), 4 + (t % 7) as u32))
                .collect(),
            campaigns,
        }
    }

    /// Background campaign `i` (0-based): its customer, and the campaign.
    fn background(&self, i: u64, per_customer: u64) -> (String, FakeCampaign) {
        let customer = self.customers[((i + 2) / per_customer) as usize].clone();
        let team = &self.teams[(i / TEAM_SIZE) as usize].0;
        (
            customer,
            labelled_campaign(FIRST_BACKGROUND + i as i64, team, i),
        )
    }
}

/// Campaign `id` of `team`, the `i`-th of its kind, labelled so that every example rule's
/// scope holds some: `team:<team>`, and in turn `capacity-gated` (1 in 2), `paced` (1 in 3)
/// and `business-hours` (1 in 4). What `bench react --campaigns` and `bench agency` fill the
/// fake's accounts with.
pub(crate) fn labelled_campaign(id: i64, team: &str, i: u64) -> FakeCampaign {
    let mut c = FakeCampaign::new(id, &format!("{team} campaign {id}"));
    c.labels = vec![format!("team:{team}")];
    if i.is_multiple_of(2) {
        c.labels.push("capacity-gated".into());
    }
    if i.is_multiple_of(3) {
        c.labels.push("paced".into());
    }
    if i % 4 == 1 {
        c.labels.push("business-hours".into());
    }
    c
}

/// The fakes: customer `CUSTOMER` with the gated and the ungated campaign of `TEAM`, and the
/// background campaigns of `layout` in its customers.
async fn fakes(layout: &Layout, per_customer: u64) -> (FakeOAuth, FakeGoogleAds) {
    let oauth = FakeOAuth::start().await;
    let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
    for c in &layout.customers {
        ads.add_customer(c, None);
    }
    // Its team comes from `[facts] campaign_teams` (no `team:` label: team_routing would
    // follow the team's capacity for it too).
    let ungated = FakeCampaign::new(UNGATED, "NL Generic");
    ads.add_campaign(CUSTOMER, ungated);
    for i in 0..layout.campaigns - 2 {
        let (customer, campaign) = layout.background(i, per_customer);
        ads.add_campaign(&customer, campaign);
    }
    let mut gated = FakeCampaign::new(GATED, "NL Gated");
    gated.labels = vec!["capacity-gated".into(), format!("team:{TEAM}")];
    ads.add_campaign(CUSTOMER, gated);
    (oauth, ads)
}

/// `[google]` as an operator would write it for these fakes.
fn google_settings(oauth: &FakeOAuth, ads: &FakeGoogleAds, layout: &Layout) -> GoogleSettings {
    GoogleSettings {
        account: ACCOUNT.into(),
        customers: layout.customers.clone(),
        base_url: Some(ads.base_url()),
        client_id: Some(oauth.client_id().to_string()),
        client_secret: Some(oauth.client_secret().to_string()),
        token_url: Some(oauth.token_url()),
        auth_url: Some(oauth.auth_url()),
        revoke_url: Some(oauth.revoke_url()),
        ..GoogleSettings::default()
    }
}

/// `leadorch google connect` with the bench as the browser: the fake user consents at once,
/// the consent page redirects to the flow's loopback listener, the code is exchanged and the
/// grant stored and recorded.
pub(crate) async fn connect(
    engine: &Engine,
    settings: &GoogleSettings,
    expect: &str,
) -> Result<()> {
    let consent = PendingConsent::start(settings, ACCOUNT, None)?;
    let page = consent.consent_page().to_string();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;
    let browse = tokio::spawn(async move {
        let answer = browser
            .get(&page)
            .send()
            .await
            .context("the consent page")?;
        if answer.status() != reqwest::StatusCode::FOUND {
            bail!("the consent page answered {}", answer.status());
        }
        let back = answer
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .context("the consent page's redirect has no location")?
            .to_string();
        let landed = browser.get(&back).send().await.context("the redirect")?;
        if !landed.status().is_success() {
            bail!("the loopback redirect answered {}", landed.status());
        }
        anyhow::Ok(())
    });
    let connected = consent
        .finish(engine, Duration::from_secs(30), "bench")
        .await
        .context("connecting Google account ops to the fake")?;
    browse.await.context("the browser task")??;
    if !connected.customers.iter().any(|c| c == expect) {
        bail!(
            "the grant reaches customers {:?}, not {expect}",
            connected.customers
        );
    }
    Ok(())
}

/// The daemon's Google adapter as `leadorch daemon --adapter google` makes it: the account's
/// stored grant, the client's shipped settings from `[google]`.
pub(crate) async fn google_adapter(engine: &Engine, config: &Config) -> Result<Arc<GoogleAdapter>> {
    let s = &config.google;
    let notify: accounts::Notifier = Arc::new(|account: &str, reason: &str| {
        eprintln!("Google account {account} needs consent again ({reason})");
    });
    let tokens =
        AccountTokens::load(engine, accounts::oauth_config(s)?, &s.account, notify).await?;
    let client = GoogleAdsClient::new(accounts::ads_config(s)?, Arc::new(tokens.clone()))?;
    let timezone: chrono_tz::Tz = config
        .facts
        .timezone
        .parse()
        .map_err(|_| anyhow!("time zone {:?}", config.facts.timezone))?;
    let adapter = GoogleAdapter::new(client, &s.account, &s.customers, s.validate_only)
        .map_err(|e| anyhow!("[google] {e}"))?
        .with_timezone(timezone)
        .with_grant(tokens);
    Ok(Arc::new(adapter))
}

pub(crate) async fn open_engine(fresh: &Fresh) -> Result<(Db, Engine)> {
    let db = Db::connect(&fresh.url).await?;
    let store =
        Store::with_master_key(db.clone(), MasterKey::random(), RetentionPolicy::default()).await?;
    Ok((db, Engine { store }))
}

async fn measure(
    fresh: &Fresh,
    args: &ReactArgs,
    rules: &[(String, String)],
) -> Result<(Vec<Push>, Notes)> {
    let (db, engine) = open_engine(fresh).await?;
    let result = measure_on(&engine, args, rules).await;
    drop(engine);
    db.close().await;
    result
}

/// Business hours every day, all day: the shipped configuration has no `default` calendar,
/// so `rules/business_hours.rhai` would pause its campaigns whenever the bench runs.
pub fn always_open() -> leadorch_rules::Calendar {
    leadorch_rules::Calendar {
        weekly: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| {
                (
                    d.to_string(),
                    vec![["00:00".to_string(), "24:00".to_string()]],
                )
            })
            .collect(),
        holidays: Vec::new(),
        timezone: None,
    }
}

/// Records each background team's reading (20–50 % of `BACKGROUND_MAX`), as its CRM would.
pub async fn seed_teams(engine: &Engine, teams: &[(String, u32)]) -> Result<()> {
    let metadata = leadorch_store::Metadata::actor("bench");
    for (team, open) in teams {
        let command = CapacityCommand::Record {
            team: team.clone(),
            agents_available: 3,
            open_leads: *open,
            max_open_leads: BACKGROUND_MAX,
            source: "crm".into(),
            max_age_secs: None,
            at: Utc::now(),
        };
        engine
            .execute::<CapacitySnapshot>(team, command, &metadata)
            .await
            .with_context(|| format!("recording team {team}'s capacity"))?;
    }
    Ok(())
}

async fn measure_on(
    engine: &Engine,
    args: &ReactArgs,
    rules: &[(String, String)],
) -> Result<(Vec<Push>, Notes)> {
    let layout = Layout::new(args.campaigns, args.campaigns_per_customer);
    eprintln!(
        "starting the fake Google ({} campaigns in {} customers, {} background teams), connecting account {ACCOUNT} through its consent flow …",
        thousands(layout.campaigns),
        layout.customers.len(),
        layout.teams.len()
    );
    let (oauth, ads) = fakes(&layout, args.campaigns_per_customer).await;
    let mut config = Config {
        google: google_settings(&oauth, &ads, &layout),
        rules_lib: Some(args.rules_dir.join("lib")),
        ..Config::default()
    };
    // The one setting changed from the shipped ones: a status change may follow another at
    // once (shipped: 15 minutes), so every push can be acted on.
    config.policy.min_dwell = "0m".into();
    // Not settings of the daemon's behaviour: the ungated campaign's team (it has no
    // `team:` label), and a default calendar open at any hour (the shipped configuration
    // names none, and business_hours.rhai would then pause its campaigns).
    config.facts.campaign_teams.insert(
        Campaign::aggregate_id(CUSTOMER, &UNGATED.to_string()),
        TEAM.into(),
    );
    config
        .facts
        .calendars
        .insert("default".into(), always_open());
    config
        .validate()
        .map_err(|e| anyhow!("the bench's configuration: {e}"))?;
    connect(engine, &config.google, CUSTOMER).await?;

    let host = Arc::new(
        RuleHost::new(Some(&args.rules_dir.join("lib")), config.limits())
            .context("loading the rules library")?,
    );
    for (id, source) in rules {
        save_rule(engine, &host, id, source, true, Utc::now(), "bench")
            .await
            .with_context(|| format!("saving rules/{id}.rhai"))?;
    }
    seed_teams(engine, &layout.teams).await?;
    let adapter = google_adapter(engine, &config).await?;

    // The API, as `leadorch daemon` serves it.
    let mut settings = leadorch_api::Settings::from_config(&config)?;
    settings.rules_lib = config.rules_lib.clone();
    let (api, access) = leadorch_api::Api::with_settings(engine.clone(), settings);
    let served = Served::start(api, access, "default", "crm", vec![Scope::Capacity]).await?;

    // The daemon.
    let (stop_daemon, stop_rx) = watch::channel(false);
    let (said_tx, mut said) = mpsc::unbounded_channel::<Said>();
    let daemon = {
        let (engine, host, config) = (engine.clone(), host.clone(), config.clone());
        let adapter: Arc<dyn leadorch_daemon::adapter::AdsAdapter> = adapter.clone();
        tokio::spawn(async move {
            let mut notify = move |n: Notice<'_>| {
                let s = match n {
                    Notice::Leading => Said::Leading,
                    Notice::Step(_, report) => Said::Step {
                        applied: report
                            .executed
                            .iter()
                            .filter(|x| x.result == ExecResult::Applied)
                            .map(|x| x.campaign.clone())
                            .collect(),
                        failed: report
                            .executed
                            .iter()
                            .filter_map(|x| match &x.result {
                                ExecResult::Failed { error, .. } => {
                                    Some(format!("{}: {error}", x.campaign))
                                }
                                _ => None,
                            })
                            .collect(),
                        paused: report.paused.clone(),
                        tick_us: report.evaluations.iter().map(|e| e.duration_us).sum(),
                        idle: report.evaluations.is_empty()
                            && report.executed.is_empty()
                            && report.drift.is_empty(),
                        rule_failures: report
                            .evaluations
                            .iter()
                            .flat_map(|e| &e.failures)
                            .map(|(rule, campaign, error)| format!("{rule} {campaign}: {error}"))
                            .collect(),
                    },
                    Notice::Away(why) => Said::Away(why.to_string()),
                    _ => return,
                };
                let _ = said_tx.send(s);
            };
            Daemon::run(engine, host, adapter, config, stop_rx, &mut notify).await
        })
    };

    let startup = startup_patience(layout.campaigns);
    let measured = pushes(
        engine,
        args,
        &ads,
        &served.key,
        &served.base,
        &mut said,
        startup,
    )
    .await;

    let _ = stop_daemon.send(true);
    let stopped = daemon.await.context("the daemon task failed")?;
    served.stop().await?;
    let Measured {
        pushes,
        started,
        first_step,
        rule_failures,
    } = measured?;
    stopped.context("the daemon")?;

    // Exactly one change per push, all of them at Google, none to the ungated campaign.
    let mutates: Vec<RecordedRequest> = ads
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("campaigns:mutate"))
        .collect();
    let n = pushes.len();
    if mutates.len() != n || ads.mutation_count() != n {
        bail!(
            "{n} pushes, {} campaigns:mutate requests, {} mutations applied at the fake: not one each",
            mutates.len(),
            ads.mutation_count()
        );
    }
    let ungated = ads
        .campaign(CUSTOMER, UNGATED)
        .context("the ungated campaign is gone")?;
    if ungated.status != CampaignStatus::Enabled
        || ads
            .mutations(CUSTOMER)
            .iter()
            .any(|m| m.resource_name.ends_with(&format!("/campaigns/{UNGATED}")))
    {
        bail!("the ungated campaign was changed");
    }
    let applied = count_events(engine, "ChangeApplied").await?;
    if applied != n {
        bail!("{n} pushes, {applied} ChangeApplied events: not one each");
    }
    // Requests to Google while the pushes ran (the startup's reads excluded), per change.
    let during = ads
        .requests()
        .iter()
        .filter(|r| r.received_at >= started)
        .count();
    Ok((
        pushes,
        Notes {
            requests_per_change: during as f64 / n as f64,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            layout,
            rules: rules.iter().map(|(id, _)| id.clone()).collect(),
            first_step,
            rule_failures,
        },
    ))
}

async fn count_events(engine: &Engine, event_type: &str) -> Result<usize> {
    Ok(engine
        .store
        .log
        .list(&EventFilter {
            event_type: Some(event_type.into()),
            limit: Some(1_000_000),
            ..EventFilter::default()
        })
        .await?
        .len())
}

/// How long the daemon's first steps may take: they observe every campaign (one durable
/// append each) and evaluate every rule over all of them.
fn startup_patience(campaigns: u64) -> Duration {
    PATIENCE + Duration::from_millis(campaigns.saturating_mul(30))
}

/// Waits for the next thing the daemon says, for at most `PATIENCE`.
async fn next_said(said: &mut mpsc::UnboundedReceiver<Said>, waiting_for: &str) -> Result<Said> {
    next_said_within(said, waiting_for, PATIENCE).await
}

/// Waits for the next thing the daemon says, for at most `patience`.
async fn next_said_within(
    said: &mut mpsc::UnboundedReceiver<Said>,
    waiting_for: &str,
    patience: Duration,
) -> Result<Said> {
    match tokio::time::timeout(patience, said.recv()).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => bail!("the daemon stopped while the bench waited for {waiting_for}"),
        Err(_) => bail!(
            "the daemon said nothing for {patience:?} while the bench waited for {waiting_for}"
        ),
    }
}

/// Checks one step's report: no failed change, rules not paused, the database there.
fn check_step(s: &Said) -> Result<()> {
    match s {
        Said::Step { failed, .. } if !failed.is_empty() => {
            bail!("changes failed at Google: {}", failed.join("; "))
        }
        Said::Step {
            paused: Some(why), ..
        } => bail!("the daemon's rules are paused: {why}"),
        Said::Away(why) => bail!("the database went away: {why}"),
        _ => Ok(()),
    }
}

/// The measured pushes, after the daemon leads and has read the campaigns.
async fn pushes(
    engine: &Engine,
    args: &ReactArgs,
    ads: &FakeGoogleAds,
    key: &str,
    base: &str,
    said: &mut mpsc::UnboundedReceiver<Said>,
    startup: Duration,
) -> Result<Measured> {
    // Leading, and one step done: campaigns read from Google, the rules' first run made.
    let mut leading = None;
    let first_step = loop {
        let s = next_said_within(said, "the daemon's first step", startup).await?;
        check_step(&s)?;
        match s {
            Said::Leading => leading = Some(Instant::now()),
            Said::Step { .. } => {
                if let Some(at) = leading {
                    break at.elapsed();
                }
            }
            _ => {}
        }
    };
    let gated_id = Campaign::aggregate_id(CUSTOMER, &GATED.to_string());
    let facts = leadorch_evaluate::facts::FactsView::load(engine).await?;
    if !facts.campaigns.contains_key(&gated_id) {
        bail!("the daemon did not record campaign {gated_id} from Google");
    }
    // At least 1 s (the client's rate limiter refills after the startup's reads), then until
    // a step of the daemon finds nothing to do (the steps its own events asked for are done;
    // it steps at least once a second).
    tokio::time::sleep(Duration::from_secs(1)).await;
    while let Ok(s) = said.try_recv() {
        check_step(&s)?;
    }
    loop {
        let s = next_said_within(said, "the daemon to be idle", startup).await?;
        check_step(&s)?;
        if matches!(s, Said::Step { idle: true, .. }) {
            break;
        }
    }
    let mut rule_failures: (usize, Option<String>) = (0, None);

    let client = reqwest::Client::builder()
        .http1_only()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(None)
        .timeout(PATIENCE)
        .build()?;
    // The keep-alive connection is opened before the first push.
    let health = client.get(format!("{base}/healthz")).send().await?;
    if !health.status().is_success() {
        bail!("GET /healthz answered {}", health.status());
    }
    health.bytes().await?;

    let url = format!("{base}/v1/capacity");
    let mut received = ads.watch_requests();
    let interval = Duration::from_millis(args.interval_ms);
    let resource = format!("customers/{CUSTOMER}/campaigns/{GATED}");
    let mut out = Vec::with_capacity(args.events as usize);
    let started = Instant::now();
    let mut next_start = started;
    eprintln!(
        "{} capacity pushes over HTTP, each until Google has the change …",
        thousands(args.events)
    );
    for i in 0..args.events {
        let fill = i % 2 == 0;
        let (open, status) = if fill {
            (FULL_OPEN, "PAUSED")
        } else {
            (FREE_OPEN, "ENABLED")
        };
        tokio::time::sleep_until(next_start.into()).await;
        let seen = *received.borrow_and_update();
        let body = serde_json::json!({
            "team": TEAM, "agents_available": 3, "open_leads": open, "max_open_leads": MAX_OPEN
        });
        let sent = Instant::now();
        next_start = sent + interval;
        let answer = client
            .post(&url)
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .context("POST /v1/capacity")?;
        let answered = sent.elapsed();
        let code = answer.status();
        let text = answer.text().await?;
        if code != reqwest::StatusCode::CREATED {
            bail!("push {}: POST /v1/capacity answered {code}: {text}", i + 1);
        }
        // The mutate at Google.
        let deadline = tokio::time::Instant::from_std(sent + PATIENCE);
        let mutate = loop {
            let found = ads.requests_after(seen).into_iter().find(|r| {
                r.path.ends_with("campaigns:mutate")
                    && r.body["operations"][0]["update"]["resourceName"] == resource.as_str()
            });
            if let Some(r) = found {
                let got = r.body["operations"][0]["update"]["status"].as_str();
                if got != Some(status) {
                    bail!(
                        "push {}: the mutate set status {got:?}, expected {status}",
                        i + 1
                    );
                }
                break r;
            }
            match tokio::time::timeout_at(deadline, received.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("the fake Google stopped"),
                Err(_) => bail!(
                    "push {}: no campaigns:mutate at Google within {PATIENCE:?}",
                    i + 1
                ),
            }
        };
        // The daemon has recorded it applied before the next push.
        let (reported, tick) = loop {
            let s = next_said(said, "the change to be recorded as applied").await?;
            check_step(&s)?;
            if let Said::Step {
                applied,
                tick_us,
                rule_failures: failures,
                ..
            } = &s
            {
                rule_failures.0 += failures.len();
                if rule_failures.1.is_none() {
                    rule_failures.1 = failures.first().cloned();
                }
                if applied.contains(&gated_id) {
                    break (sent.elapsed(), Duration::from_micros(*tick_us));
                }
            }
        };
        let since = ads.requests_after(seen);
        let mutates = since
            .iter()
            .filter(|r| r.path.ends_with("campaigns:mutate"))
            .count();
        let first = since.first().map_or(mutate.received_at, |r| r.received_at);
        if mutates != 1 {
            bail!(
                "push {}: {mutates} campaigns:mutate requests, not one",
                i + 1
            );
        }
        out.push(Push {
            fill,
            answered,
            first_request: first.saturating_duration_since(sent),
            mutate: mutate.received_at.saturating_duration_since(sent),
            reported,
            tick,
        });
        if (i + 1) % 50 == 0 {
            eprintln!("  {} pushes", thousands(i + 1));
        }
    }
    Ok(Measured {
        pushes: out,
        started,
        first_step,
        rule_failures,
    })
}

/// What [`pushes`] measured.
struct Measured {
    pushes: Vec<Push>,
    /// When the first push started.
    started: Instant,
    /// From the daemon leading to its first step's report.
    first_step: Duration,
    /// Rule runs that failed or were stopped while the pushes ran, and the first one.
    rule_failures: (usize, Option<String>),
}

fn latencies(pushes: &[Push], f: impl Fn(&Push) -> Option<Duration>) -> Latencies {
    Latencies::new(
        pushes
            .iter()
            .filter_map(f)
            .map(|d| u32::try_from(d.as_micros()).unwrap_or(u32::MAX))
            .collect(),
    )
}

/// `p50 X ms, p99 Y ms, max Z ms`.
fn spread(l: &Latencies) -> String {
    let p = |q| l.percentile_ms(q).unwrap_or(f64::NAN);
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        p(50.0),
        p(99.0),
        p(100.0)
    )
}

fn report(args: &ReactArgs, pushes: &[Push], notes: &Notes) {
    let durability = match args.backend {
        Backend::Sqlite => "SQLite WAL, synchronous=FULL, busy_timeout=30 s",
        Backend::Postgres => "PostgreSQL synchronous_commit=on",
    };
    println!(
        "leadorch bench react --backend {}: {} capacity pushes over HTTP (POST /v1/capacity, each answered 201), alternately filling team {TEAM} ({FULL_OPEN} of {MAX_OPEN} open leads) and freeing it ({FREE_OPEN} of {MAX_OPEN}), one at least every {} ms; each waits for the fake Google Ads to receive the campaigns:mutate that pauses (resumes) the team's capacity-gated campaign",
        args.backend.name(),
        thousands(pushes.len() as u64),
        args.interval_ms,
    );
    println!(
        "database: a fresh one ({durability}), the product's store on it; one process, one tokio runtime of {} worker threads shared by the client, the API, the daemon and the fake Google",
        notes.threads
    );
    println!(
        "api: the real router (leadorch_api::router, rate limits as shipped: 100 requests/s per key), served by leadorch_api::serve on 127.0.0.1; a `capacity` key; one keep-alive HTTP/1.1 connection"
    );
    let rules: Vec<String> = notes
        .rules
        .iter()
        .map(|r| format!("rules/{r}.rhai"))
        .collect();
    println!(
        "daemon: Daemon::run (leadership, woken by the log's notifications) with {} as shipped, saved and enabled (capacity_gate: pause above 90 %, resume below 70 %: each push crosses the band, one change each) and the shipped settings (rule wall-clock budget, reuse of kept results, reconcile every 5m) but policy.min_dwell=0m (shipped 15m would hold every change after the first) and a default calendar open at all hours; the Google Ads REST client as shipped (5 requests/s per customer, retries) with account {ACCOUNT}'s grant from the OAuth consent flow (PKCE, loopback redirect) against the fake",
        rules.join(", ")
    );
    println!(
        "google: leadorch-fakes' FakeOAuth and FakeGoogleAds in this process; {:.1} requests per change (the executor reads back the campaigns it is about to change, campaign.id IN (…) per customer, then the mutate); every push led to exactly one mutate, applied and recorded; the ungated campaign was never touched",
        notes.requests_per_change
    );
    let l = &notes.layout;
    println!(
        "campaigns: {} in {} customer(s) of at most {} ({} teams of {TEAM_SIZE} besides {TEAM}, each 20-50 % full, labelled team:<name>, and capacity-gated / paced / business-hours in turn: no rule asks them for a change); the daemon's first step (observing them all, every rule over all) took {:.1} s",
        thousands(l.campaigns),
        l.customers.len(),
        thousands(args.campaigns_per_customer),
        l.teams.len(),
        notes.first_step.as_secs_f64()
    );
    match &notes.rule_failures {
        (0, _) => println!("rule runs failed or stopped while the pushes ran: none"),
        (n, first) => println!(
            "rule runs failed or stopped while the pushes ran: {n} (first: {})",
            first.as_deref().unwrap_or("")
        ),
    }
    let answered = latencies(pushes, |p| Some(p.answered));
    let all = latencies(pushes, |p| Some(p.mutate));
    let pauses = latencies(pushes, |p| p.fill.then_some(p.mutate));
    let resumes = latencies(pushes, |p| (!p.fill).then_some(p.mutate));
    let first = latencies(pushes, |p| Some(p.first_request));
    println!("push -> POST answered 201: {}", spread(&answered));
    println!(
        "push -> first request at Google (the change decided and recorded; the executor's read-back): {}",
        spread(&first)
    );
    println!("push -> Google mutate received: {}", spread(&all));
    println!("  filling -> pause: {}", spread(&pauses));
    println!("  freeing -> resume: {}", spread(&resumes));
    let reported = latencies(pushes, |p| Some(p.reported));
    println!(
        "push -> the daemon's step reported applied: {}",
        spread(&reported)
    );
    let part = |f: &dyn Fn(&Push) -> Duration| {
        let l = latencies(pushes, |p| Some(f(p)));
        format!(
            "{:.1} / {:.1} ms",
            l.percentile_ms(50.0).unwrap_or(f64::NAN),
            l.percentile_ms(99.0).unwrap_or(f64::NAN)
        )
    };
    println!(
        "where the time goes (p50 / p99 of each part): POST -> 201 {}; 201 -> first request at Google {} (of which the rule tick {}); the executor's read-back of the changed campaigns -> mutate {}; mutate -> step reported (recorded applied) {}",
        part(&|p| p.answered),
        part(&|p| p.first_request.saturating_sub(p.answered)),
        part(&|p| p.tick),
        part(&|p| p.mutate.saturating_sub(p.first_request)),
        part(&|p| p.reported.saturating_sub(p.mutate)),
    );
    let p99 = all.percentile_ms(99.0).unwrap_or(f64::INFINITY);
    println!(
        "goal capacity push -> Google mutate p99 <= 250 ms: {} (p99 {p99:.1} ms over {} pushes)",
        if p99 <= 250.0 { "met" } else { "missed" },
        pushes.len()
    );
}
