//! `leadorch bench react`: from a capacity push over HTTP to Google receiving the change.
//!
//! Everything runs in this process, as a team's installation would run it, except that Google
//! is the fake of `leadorch-fakes` (the Google Ads REST API and Google OAuth on 127.0.0.1):
//! - a fresh database (the bench's [`Databases`]), the product's store on it;
//! - Google account `ops` connected by the real consent flow against the fake OAuth server
//!   (`leadorch_accounts::PendingConsent`: PKCE, `state`, the loopback redirect; the bench plays
//!   the browser), so the daemon's tokens come from the stored, sealed refresh token;
//! - the example rule `rules/capacity_gate.rhai` as shipped, saved and enabled;
//! - the real daemon (`Daemon::run`: leadership, the log's notifications) acting through the
//!   Google Ads REST client (`leadorch_google`, its shipped settings: 5 requests per second
//!   per customer, retries) on customer 123-456-7890, which has the capacity-gated campaign of
//!   team `sales-nl` and an ungated one;
//! - the real API router (`leadorch_api::router`, rate limits as shipped) on 127.0.0.1 with a
//!   `capacity` key.
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
use leadorch_domain::Campaign;
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
const ACCOUNT: &str = "ops";
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
    /// Folder of the example rules (capacity_gate.rhai is used as shipped, with lib/)
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
    let rule_file = args.rules_dir.join("capacity_gate.rhai");
    let rule = std::fs::read_to_string(&rule_file).with_context(|| {
        format!(
            "reading the example rule {} (run from the repository root, or pass --rules-dir)",
            rule_file.display()
        )
    })?;
    let mut dbs = Databases::new(args.backend, &args.postgres_url).await?;
    let result = match dbs.create("react").await {
        Ok(fresh) => {
            let r = measure(&fresh, args, &rule).await;
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

/// Facts about the run, for the output.
struct Notes {
    requests_per_change: f64,
    threads: usize,
}

/// The fakes: customer `CUSTOMER` with the gated and the ungated campaign of `TEAM`.
async fn fakes() -> (FakeOAuth, FakeGoogleAds) {
    let oauth = FakeOAuth::start().await;
    let ads = FakeGoogleAds::start(Some(oauth.clone())).await;
    ads.add_customer(CUSTOMER, None);
    let mut ungated = FakeCampaign::new(UNGATED, "NL Generic");
    ungated.labels = vec![format!("team:{TEAM}")];
    ads.add_campaign(CUSTOMER, ungated);
    let mut gated = FakeCampaign::new(GATED, "NL Gated");
    gated.labels = vec!["capacity-gated".into(), format!("team:{TEAM}")];
    ads.add_campaign(CUSTOMER, gated);
    (oauth, ads)
}

/// `[google]` as an operator would write it for these fakes.
fn google_settings(oauth: &FakeOAuth, ads: &FakeGoogleAds) -> GoogleSettings {
    GoogleSettings {
        account: ACCOUNT.into(),
        customers: vec!["123-456-7890".into()],
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
async fn connect(engine: &Engine, settings: &GoogleSettings) -> Result<()> {
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
    if !connected.customers.iter().any(|c| c == CUSTOMER) {
        bail!(
            "the grant reaches customers {:?}, not {CUSTOMER}",
            connected.customers
        );
    }
    Ok(())
}

/// The daemon's Google adapter as `leadorch daemon --adapter google` makes it: the account's
/// stored grant, the client's shipped settings from `[google]`.
async fn google_adapter(engine: &Engine, config: &Config) -> Result<Arc<GoogleAdapter>> {
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

async fn open_engine(fresh: &Fresh) -> Result<(Db, Engine)> {
    let db = Db::connect(&fresh.url).await?;
    let store =
        Store::with_master_key(db.clone(), MasterKey::random(), RetentionPolicy::default()).await?;
    Ok((db, Engine { store }))
}

async fn measure(fresh: &Fresh, args: &ReactArgs, rule: &str) -> Result<(Vec<Push>, Notes)> {
    let (db, engine) = open_engine(fresh).await?;
    let result = measure_on(&engine, args, rule).await;
    drop(engine);
    db.close().await;
    result
}

async fn measure_on(engine: &Engine, args: &ReactArgs, rule: &str) -> Result<(Vec<Push>, Notes)> {
    eprintln!("starting the fake Google, connecting account {ACCOUNT} through its consent flow …");
    let (oauth, ads) = fakes().await;
    let mut config = Config {
        google: google_settings(&oauth, &ads),
        rules_lib: Some(args.rules_dir.join("lib")),
        ..Config::default()
    };
    // The one setting changed from the shipped ones: a status change may follow another at
    // once (shipped: 15 minutes), so every push can be acted on.
    config.policy.min_dwell = "0m".into();
    config
        .validate()
        .map_err(|e| anyhow!("the bench's configuration: {e}"))?;
    connect(engine, &config.google).await?;

    let host = Arc::new(
        RuleHost::new(Some(&args.rules_dir.join("lib")), config.limits())
            .context("loading the rules library")?,
    );
    save_rule(
        engine,
        &host,
        "capacity_gate",
        rule,
        true,
        Utc::now(),
        "bench",
    )
    .await
    .context("saving rules/capacity_gate.rhai")?;
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
                    },
                    Notice::Away(why) => Said::Away(why.to_string()),
                    _ => return,
                };
                let _ = said_tx.send(s);
            };
            Daemon::run(engine, host, adapter, config, stop_rx, &mut notify).await
        })
    };

    let measured = pushes(engine, args, &ads, &served.key, &served.base, &mut said).await;

    let _ = stop_daemon.send(true);
    let stopped = daemon.await.context("the daemon task failed")?;
    served.stop().await?;
    let (pushes, started) = measured?;
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

/// Waits for the next thing the daemon says, for at most `PATIENCE`.
async fn next_said(said: &mut mpsc::UnboundedReceiver<Said>, waiting_for: &str) -> Result<Said> {
    match tokio::time::timeout(PATIENCE, said.recv()).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => bail!("the daemon stopped while the bench waited for {waiting_for}"),
        Err(_) => bail!(
            "the daemon said nothing for {PATIENCE:?} while the bench waited for {waiting_for}"
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
) -> Result<(Vec<Push>, Instant)> {
    // Leading, and one step done: campaigns read from Google, the rule's first run made.
    let mut leading = false;
    loop {
        let s = next_said(said, "the daemon's first step").await?;
        check_step(&s)?;
        match s {
            Said::Leading => leading = true,
            Said::Step { .. } if leading => break,
            _ => {}
        }
    }
    let gated_id = Campaign::aggregate_id(CUSTOMER, &GATED.to_string());
    let facts = leadorch_evaluate::facts::FactsView::load(engine).await?;
    if !facts.campaigns.contains_key(&gated_id) {
        bail!("the daemon did not record campaign {gated_id} from Google");
    }
    // Let the client's rate limiter refill after the startup's reads.
    tokio::time::sleep(Duration::from_secs(1)).await;
    while let Ok(s) = said.try_recv() {
        check_step(&s)?;
    }

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
        loop {
            let s = next_said(said, "the change to be recorded as applied").await?;
            check_step(&s)?;
            if let Said::Step { applied, .. } = &s {
                if applied.contains(&gated_id) {
                    break;
                }
            }
        }
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
        });
        if (i + 1) % 50 == 0 {
            eprintln!("  {} pushes", thousands(i + 1));
        }
    }
    Ok((out, started))
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
    println!(
        "daemon: Daemon::run (leadership, woken by the log's notifications) with rules/capacity_gate.rhai as shipped (pause above 90 %, resume below 70 %: each push crosses the band, one change each) and the shipped settings but policy.min_dwell=0m (shipped 15m would hold every change after the first); the Google Ads REST client as shipped (5 requests/s per customer, retries) with account {ACCOUNT}'s grant from the OAuth consent flow (PKCE, loopback redirect) against the fake"
    );
    println!(
        "google: leadorch-fakes' FakeOAuth and FakeGoogleAds in this process; {:.1} requests per change (the executor reads the campaigns back, then the mutate); every push led to exactly one mutate, applied and recorded; the ungated campaign was never touched",
        notes.requests_per_change
    );
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
    let p99 = all.percentile_ms(99.0).unwrap_or(f64::INFINITY);
    println!(
        "goal capacity push -> Google mutate p99 <= 250 ms: {} (p99 {p99:.1} ms over {} pushes)",
        if p99 <= 250.0 { "met" } else { "missed" },
        pushes.len()
    );
}
