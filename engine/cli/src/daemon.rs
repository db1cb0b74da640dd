//! `leadorch daemon`: rules evaluated on their schedules and on events, decisions applied, on
//! the simulated account or the Google Ads customers of a connected account.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::Args;
use leadorch_accounts::{self as accounts, AccountTokens};
use leadorch_config::Config;
use leadorch_core::synthetic;
use leadorch_core::Engine;
use leadorch_daemon::adapter::{AdsAdapter, SimAdapter};
use leadorch_daemon::demo;
use leadorch_daemon::google::GoogleAdapter;
use leadorch_daemon::leader::Leadership;
use leadorch_daemon::{lines, world, Daemon, Notice};
use leadorch_google::GoogleAdsClient;
use leadorch_sim::{SimConfig, Simulator};
use leadorch_store::{db, Metadata};
use tokio::task::JoinHandle;

use crate::common::{host_near, library_line, load_config, open, Open};
use crate::listen_args::ListenArgs;
use crate::Global;

#[derive(Args, Debug)]
pub struct DaemonArgs {
    /// Configuration file (TOML); LEADORCH__SECTION__KEY variables override it
    #[arg(long, env = "LEADORCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Ads platform: `google` acts on the Google Ads customers of the [google] config section
    /// with the grant stored by `leadorch google connect`; `sim` runs the built-in simulated
    /// account beside the daemon, only on a simulated database (made by `demo`, `seed` or a
    /// first `daemon --adapter sim` on a new one), continuing the world it records. Without
    /// it: `google` when [google] account is configured, else an error
    #[arg(long, value_enum)]
    pub adapter: Option<AdapterKind>,
    /// The project to act for (its rules, its teams, its Google account `[google] account`,
    /// connected with `leadorch google connect --project NAME`); one daemon leads per project
    /// and database. Overrides `project` in the config file [default: default]
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Run one cycle and exit (serves no HTTP API)
    #[arg(long)]
    pub once: bool,
    /// Where the daemon serves the HTTP API (every daemon does, leader or waiting, unless
    /// --no-listen): the same flags as `leadorch serve`
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Serve no HTTP API
    #[arg(long)]
    pub no_listen: bool,
}

/// The ads platform the daemon acts on.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterKind {
    /// The Google Ads customers of [google]
    Google,
    /// The built-in simulated account (synthetic databases only)
    Sim,
}

pub async fn run(g: &Global, args: DaemonArgs) -> Result<ExitCode> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(project) = &args.project {
        leadorch_domain::project::check_name(project)
            .map_err(|e| anyhow::anyhow!("--project: {e}"))?;
        config.project.clone_from(project);
    }
    let kind = match args.adapter {
        Some(kind) => kind,
        None if !config.google.account.is_empty() => AdapterKind::Google,
        None => bail!(
            "no ads platform to act on: pass `--adapter sim` for the simulated account (on a database made by `leadorch demo`, `leadorch seed` or a new one), or set `[google] account` in the config file (or LEADORCH__GOOGLE__ACCOUNT) after `leadorch google connect --account NAME`"
        ),
    };
    if kind == AdapterKind::Sim && config.project != leadorch_domain::project::DEFAULT {
        bail!(
            "--adapter sim acts for the default project only (the simulated world is one company's): drop --project {} (and `project` in the config file), or act through the project's Google account with `--adapter google`",
            config.project
        );
    }
    let mut global = g.clone();
    if global.database_url.is_none() && !config.database_url.is_empty() {
        global.database_url = Some(config.database_url.clone());
    }
    let url = db::redact_url(
        &global
            .database_url
            .clone()
            .unwrap_or_else(db::default_database_url),
    );
    let engine = open(&global, Open::Create).await?;
    if let Some(actor) = &g.actor {
        // --actor / LEADORCH_ACTOR names who runs this daemon, over the configuration's.
        config.actor = actor.clone();
    }
    if config.actor.is_empty() {
        config.actor = "daemon".into();
    }
    let (host, library) = host_near(None, &config, None)?;
    let host = Arc::new(host);
    let library = library_line(&library);
    // The capacity sources, built now: a source that cannot work (a secret's variable unset,
    // a bad pointer) stops the daemon at start, naming the key. Polled only while leading.
    let sources = leadorch_connect::build(&config).map_err(|e| anyhow::anyhow!("config: {e}"))?;
    // The platform and what to call it. The simulated account is refused at once on a
    // database that is not simulated, and built only once this daemon leads, from the world
    // the log records then.
    let (google, platform) = match kind {
        AdapterKind::Google => {
            let platform = format!(
                "Google Ads account {} (customers {})",
                config.google.account,
                config.google.customers.join(", ")
            );
            let adapter: Arc<dyn AdsAdapter> = google_adapter(&engine, &config).await?;
            (Some(adapter), platform)
        }
        AdapterKind::Sim => {
            let marker =
                synthetic::mark_or_check(&engine, "daemon", world::DEFAULT_SEED, Utc::now())
                    .await
                    .with_context(|| format!("--adapter sim on {url}"))?;
            // The demo world's campaign -> team mapping and its teams' calendars (from their
            // shifts), where the configuration says nothing.
            let demo_world = SimConfig::demo(Utc::now(), 0);
            if config.facts.timezone == "UTC" {
                config.facts.timezone = demo_world.timezone.clone();
            }
            leadorch_daemon::demo::sim_facts(&mut config.facts, &demo_world);
            let platform = format!(
                "the simulated account (a synthetic database, marked by {} at position {})",
                marker.by, marker.position
            );
            (None, platform)
        }
    };
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    if args.once {
        // One cycle, as the leader: never beside a running daemon.
        let Some(_leadership) = Leadership::try_acquire(engine.store.db(), &config.project).await?
        else {
            bail!("another daemon leads {url}{}: --once runs only while no daemon of the project runs on the database (stop it, or let it act)", project_note(&config.project));
        };
        let (adapter, _) = platform_now(&engine, google, &url, None).await?;
        eprintln!("leadorch daemon: {library}");
        say_what_cannot_act(&engine, &config, &url).await?;
        for (name, outcome) in
            leadorch_connect::poll_all_once(&engine, &config.project, &sources, &config.actor).await
        {
            eprintln!("{}", poll_line(&name, &outcome));
        }
        let started = std::time::Instant::now();
        let mut d = Daemon::start(engine.clone(), host, adapter, config).await?;
        eprintln!(
            "{}",
            started_line(d.started_from_kept(), d.view.position, started.elapsed())
        );
        let report = d.step(Utc::now()).await?;
        // The next run starts from here instead of the first event (ADR 0048).
        d.keep_facts(true).await;
        for line in lines::step_lines(&d, &report) {
            eprintln!("{line}");
        }
        outln!("{}", serde_json::to_string(&report)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    // The API first: a port already taken is said before anything else happens.
    let api_settings = crate::common::api_settings(&config)?;
    let listening = match args.no_listen {
        true => None,
        false => Some(args.listen.open().await?),
    };
    tokio::spawn(async move {
        crate::common::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let api = listening.map(|listening| {
        eprintln!(
            "leadorch daemon: HTTP API on {} (every endpoint but GET /healthz needs a key: `leadorch keys create`)",
            listening.url()
        );
        if listening.ui.is_some() {
            eprintln!(
                "leadorch daemon: the operators' app at {}/",
                listening.url()
            );
        }
        let (api, access) = leadorch_api::Api::with_settings(engine.clone(), api_settings);
        let mut stop = stop_rx.clone();
        let closing = api.clone();
        let server = tokio::spawn(leadorch_api::serve_with(
            listening.listener,
            leadorch_api::router_with_ui(api, listening.ui),
            listening.tls,
            async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
                closing.close();
            },
        ));
        (server, access)
    });
    if api.is_some() {
        crate::serve::warn_without_keys(&engine, &config.project).await?;
    }
    eprintln!(
        "leadorch daemon: {url}{} with {platform}; times in {}; SIGTERM or Ctrl-C stops after the current step",
        project_note(&config.project),
        config.facts.timezone
    );
    eprintln!("leadorch daemon: {library}");
    say_what_cannot_act(&engine, &config, &url).await?;
    let mut said = Said::default();
    let mut notify = |n: Notice<'_>| said.notice(n);
    let Some(leadership) =
        Daemon::wait_to_lead(&engine, &config.project, &mut stop_rx, &mut notify).await?
    else {
        stop_api(api).await;
        eprintln!("leadorch daemon: stopped");
        return Ok(ExitCode::SUCCESS);
    };
    let (adapter, world) = platform_now(&engine, google, &url, Some(stop_rx.clone())).await?;
    for s in &sources {
        eprintln!(
            "leadorch daemon: polling capacity source {} ({}) every {}s; readings older than {}s are stale (`leadorch capacity sources`)",
            s.name(),
            s.source.kind(),
            s.settings.interval().num_seconds(),
            s.settings.max_age().num_seconds()
        );
    }
    let pollers = (!sources.is_empty()).then(|| {
        leadorch_connect::spawn(
            &engine,
            &config.project,
            sources,
            &config.actor,
            stop_rx.clone(),
        )
    });
    let webhooks = webhooks(&engine, &config, stop_rx.clone()).await?;
    let result = Daemon::lead(
        leadership,
        engine,
        host,
        adapter,
        config,
        stop_rx,
        &mut notify,
    )
    .await;
    if let Some(world) = world {
        world.abort();
    }
    if let Some(pollers) = pollers {
        pollers.abort();
    }
    if let Some(mut webhooks) = webhooks {
        // The worker stops between attempts: the one in flight is finished and recorded, so
        // a receiver that answered 2xx is not sent the same message again at the next start.
        // One still running after the grace (an attempt times out after 15 s) is cut short
        // and sent again later under the same webhook-id.
        if tokio::time::timeout(WEBHOOKS_GRACE, &mut webhooks)
            .await
            .is_err()
        {
            webhooks.abort();
        }
    }
    result?;
    stop_api(api).await;
    eprintln!("leadorch daemon: stopped");
    Ok(ExitCode::SUCCESS)
}

/// How the daemon's facts view was made, before its first step (ADR 0048).
fn started_line(kept: Option<u64>, position: u64, took: std::time::Duration) -> String {
    match kept {
        Some(kept) => format!(
            "leadorch daemon: facts from the kept view at position {kept}, {} events read after it, in {} ms",
            position.saturating_sub(kept),
            took.as_millis()
        ),
        None => format!(
            "leadorch daemon: facts folded from the log's {position} events in {} ms",
            took.as_millis()
        ),
    }
}

/// What `--once` says of one source's poll.
fn poll_line(name: &str, o: &leadorch_connect::PollOutcome) -> String {
    let mut line = match &o.error {
        Some(e) => format!("leadorch daemon: capacity source {name}: failed ({e})"),
        None if o.teams == 0 => format!(
            "leadorch daemon: capacity source {name}: no team takes its capacity from it (`leadorch teams set TEAM --capacity-source connector:{name}`)"
        ),
        None => format!(
            "leadorch daemon: capacity source {name}: {} teams, {} readings recorded, {} unchanged",
            o.teams, o.recorded, o.unchanged
        ),
    };
    for (team, e) in &o.team_errors {
        line.push_str(&format!("; team {team}: {e}"));
    }
    line
}

/// How long a stopping daemon lets the webhook worker finish the attempt in flight.
const WEBHOOKS_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// Starts the project's webhook deliveries (ADR 0033), on the leader only; they stop with
/// `stop`. A store that fails now is said and the daemon goes on without them.
async fn webhooks(
    engine: &Engine,
    config: &Config,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<JoinHandle<()>>> {
    let mut settings = leadorch_webhooks::worker::Settings::from_config(&config.webhooks)
        .map_err(|e| anyhow::anyhow!("[webhooks]: {e}"))?;
    settings.project = Some(config.project.clone());
    match leadorch_webhooks::worker::spawn(engine.store.clone(), settings, stop).await {
        Ok(task) => Ok(Some(task)),
        Err(e) => {
            eprintln!("leadorch daemon: webhooks not started: {e}");
            Ok(None)
        }
    }
}

/// Waits for the API to answer the requests in flight (the stop signal has fired), then for
/// its access log to be written.
async fn stop_api(api: Option<(JoinHandle<()>, leadorch_api::AccessWriter)>) {
    if let Some((server, access)) = api {
        let _ = server.await;
        access.finish().await;
    }
}

/// Says at start, one line each, every rule or campaign that can never act (the warnings of
/// `leadorch status`): no rules, rules covering no campaign, campaigns without a team, teams
/// without a capacity reading, accounts needing consent, Google's quota hold in force.
async fn say_what_cannot_act(engine: &Engine, config: &Config, url: &str) -> Result<()> {
    let status = crate::health::gather(engine, config, url.to_string(), Utc::now()).await?;
    // It is about to read the campaigns: that none is recorded yet is no warning here.
    for w in status
        .warnings
        .iter()
        .filter(|w| !w.starts_with(crate::health::NO_CAMPAIGNS))
    {
        eprintln!("leadorch daemon: warning: {w}");
    }
    Ok(())
}

/// The platform to act on now: the Google adapter, or the simulated account continuing the
/// world the log records (with, when `stop` is given, the world running beside the daemon).
async fn platform_now(
    engine: &Engine,
    google: Option<Arc<dyn AdsAdapter>>,
    url: &str,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> Result<(Arc<dyn AdsAdapter>, Option<JoinHandle<()>>)> {
    if let Some(adapter) = google {
        return Ok((adapter, None));
    }
    let (simulator, _) = world::simulated_account(engine, Utc::now())
        .await
        .with_context(|| format!("--adapter sim on {url}"))?;
    let sim = Arc::new(Mutex::new(simulator));
    let world = stop.map(|stop| sim_world(engine, &sim, stop));
    Ok((Arc::new(SimAdapter::new(sim)), world))
}

/// What the running daemon prints on stderr (plain lines, whatever `LEADORCH_LOG` says):
/// waiting for and taking the leadership, every decision, change applied or failed and
/// change made outside the engine ([`lines::step_lines`]), and — once each time they change —
/// why rules are paused (e.g. the account needs consent again) and which rules do not
/// compile.
#[derive(Default)]
struct Said {
    paused: Option<String>,
    broken: Vec<String>,
}

impl Said {
    fn notice(&mut self, n: Notice<'_>) {
        match n {
            Notice::Waiting => eprintln!(
                "leadorch daemon: another daemon leads this database; waiting to take over when it stops"
            ),
            Notice::Leading => eprintln!("leadorch daemon: leading; acting on this database"),
            Notice::Started {
                kept,
                position,
                took,
            } => eprintln!("{}", started_line(kept, position, took)),
            Notice::Away(why) => eprintln!(
                "leadorch daemon: the database is away ({why}); acting on nothing, waiting for it with backoff"
            ),
            Notice::Back => eprintln!("leadorch daemon: the database answers again"),
            Notice::LostLeadership => eprintln!(
                "leadorch daemon: lost the leadership with the database connection; acting on nothing until it leads again"
            ),
            Notice::Step(d, report) => {
                let now = lines::clock(report.at, lines::zone(d));
                if report.paused != self.paused {
                    match &report.paused {
                        Some(why) => eprintln!("{now}  rules paused: {why}"),
                        None => eprintln!("{now}  rules act again"),
                    }
                    self.paused.clone_from(&report.paused);
                }
                if report.broken_rules != self.broken {
                    for b in report.broken_rules.iter().filter(|b| !self.broken.contains(b)) {
                        eprintln!("{now}  rule does not compile, skipped: {b}");
                    }
                    self.broken.clone_from(&report.broken_rules);
                }
                for line in lines::step_lines(d, report) {
                    eprintln!("{line}");
                }
            }
        }
    }
}

/// Advances the simulated account one minute per minute and records what happens in it,
/// until `stop` fires.
fn sim_world(
    engine: &Engine,
    sim: &Arc<Mutex<Simulator>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> JoinHandle<()> {
    let engine = engine.clone();
    let sim = sim.clone();
    tokio::spawn(async move {
        let ingest = Metadata::actor("sim");
        loop {
            tokio::select! {
                _ = tokio::time::sleep(StdDuration::from_secs(60)) => {}
                _ = stop.changed() => return,
            }
            let events = match sim.lock() {
                Ok(mut s) => s.advance(1),
                Err(_) => return,
            };
            for e in events {
                if let Err(e) = demo::ingest_event(&engine, &ingest, e).await {
                    tracing::warn!(error = %e, "recording a simulator event failed");
                }
            }
        }
    })
}

/// The Google Ads adapter for the daemon, from `[google]`: the account's stored grant, its
/// customers; a grant Google refuses is recorded and reported at once.
async fn google_adapter(
    engine: &leadorch_core::Engine,
    config: &Config,
) -> Result<Arc<GoogleAdapter>> {
    let s = &config.google;
    if s.account.is_empty() {
        bail!("--adapter google needs [google] account in the config file (LEADORCH__GOOGLE__ACCOUNT)");
    }
    if s.account.contains('/') {
        bail!("[google] account {:?}: name the account as `leadorch google connect --account` did, without a project (the daemon's project is --project or `project` in the config file)", s.account);
    }
    // The project's account is stored as `<project>/<account>` (ADR 0030).
    let stored = leadorch_domain::project::scoped(&config.project, &s.account);
    // Said at once, in the time zone of the daemon's other lines.
    let lines_zone: chrono_tz::Tz = config.facts.timezone.parse().unwrap_or(chrono_tz::UTC);
    let notify: accounts::Notifier = Arc::new(move |account: &str, reason: &str| {
        tracing::info!(%account, %reason, "Google refused the grant: rules for this account pause until `leadorch google connect --account` is run again");
        eprintln!(
            "{}  Google account {account} needs consent again ({reason}): its rules pause; run `{}`",
            lines::clock(Utc::now(), lines_zone),
            accounts::connect_command(account)
        );
    });
    let tokens = AccountTokens::load(engine, accounts::oauth_config(s)?, &stored, notify).await?;
    let client = GoogleAdsClient::new(accounts::ads_config(s)?, Arc::new(tokens.clone()))?;
    let (key, zone) = match &s.timezone {
        Some(z) => ("google.timezone", z),
        None => ("facts.timezone", &config.facts.timezone),
    };
    let timezone = zone.parse::<chrono_tz::Tz>().map_err(|_| {
        anyhow::anyhow!("{key}: {zone:?} is not a time zone (e.g. Europe/Amsterdam)")
    })?;
    let adapter = GoogleAdapter::new(client, &stored, &s.customers, s.validate_only)
        .map_err(|e| anyhow::anyhow!("[google] {e}"))?
        .with_timezone(timezone)
        .with_grant(tokens);
    Ok(Arc::new(adapter))
}

/// ` (project NAME)` for a project other than the default one, for the daemon's lines.
fn project_note(project: &str) -> String {
    if project == leadorch_domain::project::DEFAULT {
        String::new()
    } else {
        format!(" (project {project})")
    }
}
