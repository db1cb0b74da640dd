//! The HTTP API (ADR 0022): the router `leadorch serve` and, later, `leadorch daemon --listen`
//! serve, and how it listens.
//!
//! - [`listen`]: where it may listen (loopback; elsewhere TLS or `--allow-plain-http`), binding.
//! - [`tls`]: the certificate and key from PEM files into a rustls configuration (*ring*).
//! - [`server`]: the accept loop for plain HTTP and TLS — handshake timeout, header read
//!   timeout, header size limit, `ConnectInfo<SocketAddr>`, graceful shutdown.
//! - [`layers`]: every request's deadline (`503`) and panic guard (`500`), both problems.
//! - [`problem`]: RFC 9457 problem details, the shape of every 4xx and 5xx.
//! - [`keys`]: API keys (format, checksum, scopes) and [`auth`]: checking them on each request.
//! - [`access`]: the access log's writer.
//! - [`body`]: JSON bodies and query parameters whose errors name the field.
//! - [`routes`]: the endpoints, each documented for `/openapi.json`.
//! - [`metrics`]: `GET /metrics` (Prometheus text, scope `read`) and the counting of every
//!   request by route template, method and status.
//! - [`cors`]: CORS for the browser pages of `[api] cors_origins` (none by default).
//! - [`local`]: the same routes called in process, by the desktop (ADR 0039).
//! - [`bindings`]: the TypeScript declarations of the request and response types (ts-rs).
//!
//! `GET /healthz` needs no key, nor does a CORS preflight from a listed origin; everything
//! else does (`401` without a working one, `403` without the scope). The API's description is generated from the handlers themselves
//! (utoipa), so `/openapi.json` cannot drift from what is served.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod auth;
pub mod backlog;
pub mod bindings;
pub mod body;
pub mod cors;
pub mod ids;
pub mod keys;
pub mod layers;
pub mod limits;
pub mod listen;
pub mod local;
pub mod metrics;
pub mod problem;
pub mod routes;
pub mod server;
pub mod tls;
pub mod ui;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{middleware, Json, Router};
use leadorch_core::Engine;
use leadorch_store::ApiKeys;
use serde_json::json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use access::{AccessSink, AccessWriter};
pub use layers::harden;
pub use listen::{check_listen, serve, ListenError};
pub use local::{Local, LocalResponse};
pub use problem::Problem;
pub use server::serve_with;
pub use tls::{load_tls, TlsError};

/// Largest request body accepted, bytes (a lead with its consent text is a few kilobytes).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What the configuration file tells the API: how leads are checked and routed, the rate
/// limits, the origins of browser pages that may call it, and what saving and dry-running
/// rules needs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `[intake]`: phone region, dedup window, disposable domains, consent, form → team.
    pub intake: leadorch_intake::IntakeConfig,
    /// `facts.default_team`: the team of a lead nothing else routes.
    pub default_team: Option<String>,
    /// `facts.campaign_teams`: campaign id (`<customer>/<campaign>`) → team.
    pub campaign_teams: std::collections::BTreeMap<String, String>,
    /// `[api]`: requests per second per key (0: no limit), burst, CORS origins.
    pub api: leadorch_config::ApiSettings,
    /// `[google]`: the OAuth client and the Ads API, for the Google accounts endpoints.
    pub google: leadorch_config::GoogleSettings,
    /// `rules_lib`: the folder of shared modules rules may `import`, which rules are compiled
    /// against when saved, rolled back or dry-run over HTTP (`None`: the library built into
    /// leadorch, `leadorch_rules::BUILT_IN_LIBRARY`). [`Settings::from_config`] takes the
    /// configured one; `leadorch serve` and `leadorch daemon` fall back to `rules/lib` in
    /// their working directory, as the daemon's own rules host does.
    pub rules_lib: Option<std::path::PathBuf>,
    /// `[limits]`: the sandbox limits of a rule run (compiling and dry runs).
    pub rule_limits: leadorch_rules::Limits,
    /// `[policy]`: the arbiter's minimum dwell and cooldown (dry runs, backtests).
    pub policy: leadorch_rules::Policy,
    /// `policy.default_every`: how often a rule without a schedule or triggers runs
    /// (backtests).
    pub default_every: chrono::Duration,
    /// `[webhooks]`: which private hosts a webhook URL may name.
    pub webhooks: leadorch_config::WebhookSettings,
    /// `[facts]`: time zone, recent window and calendars rules see (dry runs). Its
    /// `default_team` and `campaign_teams` are not read: the fields above are
    /// ([`Settings::facts`]).
    pub facts: leadorch_config::FactSettings,
}

impl Default for Settings {
    /// The configuration file's defaults.
    fn default() -> Self {
        let config = leadorch_config::Config::default();
        Settings {
            intake: Default::default(),
            default_team: None,
            campaign_teams: Default::default(),
            api: Default::default(),
            google: Default::default(),
            rules_lib: None,
            rule_limits: config.limits(),
            policy: config.policy(),
            default_every: config.default_every(),
            facts: config.facts,
            webhooks: Default::default(),
        }
    }
}

impl Settings {
    /// The API's part of the configuration file, resolved (the disposable-domains file read).
    pub fn from_config(
        config: &leadorch_config::Config,
    ) -> Result<Settings, leadorch_intake::IntakeConfigError> {
        Ok(Settings {
            intake: leadorch_intake::IntakeConfig::from_settings(&config.intake)?,
            default_team: config.facts.default_team.clone(),
            campaign_teams: config.facts.campaign_teams.clone(),
            api: config.api.clone(),
            google: config.google.clone(),
            rules_lib: config.rules_lib.clone(),
            rule_limits: config.limits(),
            policy: config.policy(),
            default_every: config.default_every(),
            facts: config.facts.clone(),
            webhooks: config.webhooks.clone(),
        })
    }

    /// What rules see of the configuration: [`Settings::facts`] with this API's
    /// `default_team` and `campaign_teams`.
    pub fn fact_settings(&self) -> leadorch_config::FactSettings {
        leadorch_config::FactSettings {
            default_team: self.default_team.clone(),
            campaign_teams: self.campaign_teams.clone(),
            ..self.facts.clone()
        }
    }

    /// A rules host over [`Settings::rules_lib`] (else the built-in library) with
    /// [`Settings::rule_limits`] (a folder is read from disk now, so an edited module counts
    /// from the next request on).
    pub fn rule_host(&self) -> Result<leadorch_rules::RuleHost, leadorch_rules::HostError> {
        leadorch_rules::RuleHost::new_or_built_in(
            self.rules_lib.as_deref(),
            self.rule_limits.clone(),
        )
    }
}

/// What every handler reaches: the engine, the tables beside the log and the settings.
#[derive(Clone, Debug)]
pub struct Api {
    /// The engine (its store, log and keys).
    pub engine: Engine,
    /// API keys and the access log.
    pub keys: ApiKeys,
    /// Where requests drop their access-log rows.
    pub access: AccessSink,
    /// What the configuration says.
    pub settings: std::sync::Arc<Settings>,
    /// Each project's fingerprinter, made from its secret once.
    fingerprinters: std::sync::Arc<
        tokio::sync::Mutex<std::collections::HashMap<String, leadorch_intake::Fingerprinter>>,
    >,
    /// Open leads per team, for teams whose capacity comes from their leads.
    backlog: std::sync::Arc<tokio::sync::Mutex<backlog::Counted>>,
    /// What rules see (campaigns with Google's data opened, teams, rules), kept in memory and
    /// caught up from the log on use.
    facts: std::sync::Arc<tokio::sync::Mutex<leadorch_evaluate::facts::FactsView>>,
    /// Each campaign's project, caught up from the log's `CampaignObserved` events alone (by
    /// the type index), so reading the log never waits for [`Api::facts`] to fold it all.
    owners: std::sync::Arc<tokio::sync::Mutex<OwnersView>>,
    /// Set when the server stops: answers that never end (event streams) end.
    closing: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    /// Each key's rate limit in this process (`None`: no limit).
    pub(crate) limits: Option<std::sync::Arc<limits::RateLimits>>,
    /// Held while a subject is exported, erased or has consent withdrawn: one such request at
    /// a time per process, so two erasures of one subject never both record it, and their
    /// read-model catch-ups never race each other.
    subjects: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// This process's counters (`GET /metrics`).
    pub(crate) metrics: std::sync::Arc<metrics::Metrics>,
    /// This process's verification of the chain (`/v1/audit/verify`): one at a time.
    pub verifier: routes::audit::Verifier,
    /// The long requests sent with a `Progress-Token`, while they run (`/v1/progress/{token}`).
    pub progress: routes::progress::Followed,
    /// The keys the Google data in [`Api::facts`] was opened with: when one changes (an
    /// account forgotten, by any process), the view is folded again (ADR 0043).
    facts_keys: std::sync::Arc<tokio::sync::Mutex<leadorch_evaluate::timeline::AccountKeys>>,
    /// Views of the log kept for replays (`/v1/replay`), made on the first one.
    timeline: std::sync::Arc<tokio::sync::Mutex<leadorch_evaluate::timeline::Timeline>>,
}

/// The event that names the Google account a campaign was read through.
const OBSERVED: &str = "CampaignObserved";

/// [`Api::campaign_owners`]' state: the owners as of `position`.
#[derive(Debug, Default)]
struct OwnersView {
    position: u64,
    owners: routes::events::CampaignOwners,
}

impl Api {
    /// The API over `engine` with default settings (see [`Api::with_settings`]).
    pub fn new(engine: Engine) -> (Api, AccessWriter) {
        Api::with_settings(engine, Settings::default())
    }

    /// The API over `engine`, with its access-log writer (call [`AccessWriter::finish`] after
    /// the server stops, once every clone of the [`Api`] is dropped, to flush it).
    pub fn with_settings(engine: Engine, settings: Settings) -> (Api, AccessWriter) {
        let keys = ApiKeys::new(engine.store.db().clone());
        let (access, writer) = access::start(keys.clone(), engine.store.log.clone());
        let limits = limits::RateLimits::from_settings(&settings.api).map(std::sync::Arc::new);
        let metrics = std::sync::Arc::new(metrics::Metrics::new(&engine.store.log));
        (
            Api {
                engine,
                keys,
                access,
                settings: std::sync::Arc::new(settings),
                fingerprinters: Default::default(),
                backlog: Default::default(),
                facts: Default::default(),
                facts_keys: Default::default(),
                owners: Default::default(),
                closing: std::sync::Arc::new(tokio::sync::watch::channel(false).0),
                limits,
                subjects: Default::default(),
                metrics,
                verifier: Default::default(),
                progress: Default::default(),
                timeline: Default::default(),
            },
            writer,
        )
    }

    /// The API with other rate limits than its settings' (`None`: no limit).
    pub fn with_rate_limits(mut self, limits: Option<limits::RateLimits>) -> Api {
        self.limits = limits.map(std::sync::Arc::new);
        self
    }

    /// Ends the answers that never end on their own (event streams), so a server stopping
    /// gracefully stops at once. Call it when the shutdown signal arrives.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Fires when [`Api::close`] was called.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// The facts view (campaigns with Google's data opened, teams' capacity, rules), caught
    /// up to the log's head. Holds a lock while the caller reads it: keep it short.
    pub async fn facts(
        &self,
    ) -> Result<
        tokio::sync::MutexGuard<'_, leadorch_evaluate::facts::FactsView>,
        leadorch_evaluate::Error,
    > {
        let mut view = self.facts.lock().await;
        let mut keys = self.facts_keys.lock().await;
        if view.position == 0 {
            // A long log: start from the kept view, if one is usable (ADR 0048).
            if let Ok(kept) = leadorch_evaluate::kept::load(&self.engine).await? {
                *view = kept.view;
                *keys = kept.keys;
            }
        }
        // Data opened with a key that is gone must not be shown again: it starts over.
        leadorch_evaluate::kept::catch_up(&self.engine, &mut view, &mut keys).await?;
        Ok(view)
    }

    /// The project of each campaign the log knows by its `CampaignObserved` events, as of the
    /// log's head (see [`routes::events::CampaignOwners`]). It reads only those events, so on
    /// a long log it answers long before [`Api::facts`] would have caught up.
    pub async fn campaign_owners(
        &self,
    ) -> Result<routes::events::CampaignOwners, leadorch_evaluate::Error> {
        use leadorch_domain::{AnyEvent, CampaignEvent};
        let mut view = self.owners.lock().await;
        // The account is no personal field: nothing needs opening.
        let mut decoder = self
            .engine
            .store
            .codec
            .decoder(leadorch_store::Reveal::Redact);
        loop {
            let page = self
                .engine
                .store
                .log
                .list(&leadorch_store::EventFilter {
                    event_type: Some(OBSERVED.to_string()),
                    after: view.position,
                    limit: Some(5_000),
                    ..Default::default()
                })
                .await?;
            let Some(last) = page.last() else {
                return Ok(view.owners.clone());
            };
            view.position = last.position;
            for rec in &page {
                let Some(("campaign", id)) = rec.stream_id.split_once(':') else {
                    continue;
                };
                let event = leadorch_core::projection::decode(&mut decoder, rec).await?;
                if let AnyEvent::Campaign(CampaignEvent::CampaignObserved {
                    google_account, ..
                }) = event
                {
                    let project = google_account
                        .as_deref()
                        .map_or(ids::DEFAULT_PROJECT, leadorch_domain::project::of);
                    view.owners.insert(id.to_string(), project.to_string());
                }
            }
        }
    }

    /// The fingerprinter of `project` (its secret made on first use).
    pub async fn fingerprinter(
        &self,
        project: &str,
    ) -> Result<leadorch_intake::Fingerprinter, leadorch_store::StoreError> {
        let mut cache = self.fingerprinters.lock().await;
        if let Some(f) = cache.get(project) {
            return Ok(f.clone());
        }
        let secret = self
            .engine
            .store
            .codec
            .keys()
            .project_secret(project)
            .await?;
        let f = leadorch_intake::Fingerprinter::new(*secret.expose());
        cache.insert(project.to_string(), f.clone());
        Ok(f)
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lead Orchestrator API",
        description = "Leads, capacity, teams, rules and GDPR requests for leadorch. Every endpoint but /healthz needs an API key: `Authorization: Bearer lo_…` (`leadorch keys create`). Errors are RFC 9457 problem details.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&BearerKey),
    tags(
        (name = "operations", description = "Health and readiness"),
        (name = "capacity", description = "Teams' capacity readings (scope capacity; reading them back and the capacity sources' health: scope read)"),
        (name = "leads", description = "Leads and their status changes (scope ingest); one lead without its personal fields (scope read)"),
        (name = "subjects", description = "GDPR requests about a data subject: find them by email or phone, export, erase, withdraw consent (scope admin; withdrawing consent also ingest)"),
        (name = "events", description = "The event log: windows forwards or backwards with filters, counts, one event (its personal fields revealed: scope admin), or the log as it grows (scope read)"),
        (name = "campaigns", description = "Campaigns and why they are as they are (scope read)"),
        (name = "audit", description = "The hash chain, verified in the background with progress and cancellation (scope read)"),
        (name = "teams", description = "Sales teams: time zone, business hours, holidays, maximum of open leads, capacity source, members (read: scope read, members' names for admin keys only; changes: scope admin)"),
        (name = "google", description = "The key's project's Google accounts: list, connect (consent), revoke, forget (scope admin)"),
        (name = "rules", description = "Saved rules: list, read any version, save (compiled first), enable, disable, history, diff, rollback, dry run, backtest, check and fixture tests (read, dry run, backtest, check and test: scope read; changes: scope rules). Each project has its own rules: a key sees and changes only its project's, by their bare ids (another project's rule is 404)."),
        (name = "admin", description = "API keys and the access log (scope admin)"),
        (name = "webhooks", description = "Signed webhook endpoints (Standard Webhooks): register (the secret is shown once), list, remove, rotate the secret, enable again, deliveries and their attempts (scope admin). Another project's endpoint is 404.")
    )
)]
struct ApiDoc;

struct BearerKey;

impl utoipa::Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("lo_<project>_<key>")
                    .description(Some("An API key made with `leadorch keys create`"))
                    .build(),
            ),
        );
    }
}

/// The documented routes (everything but `/healthz` and `/openapi.json`), and their description.
fn documented() -> (Router<Api>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(routes::ops::readyz))
        .routes(routes!(routes::progress::get))
        .routes(routes!(metrics::metrics))
        .routes(routes!(routes::keys::create, routes::keys::list))
        .routes(routes!(routes::keys::revoke))
        .routes(routes!(routes::access_log::list))
        .routes(routes!(routes::capacity::push))
        .routes(routes!(routes::leads::receive))
        .routes(routes!(routes::leads::change_status))
        .routes(routes!(routes::events::list))
        .routes(routes!(routes::events::count))
        .routes(routes!(routes::events::one))
        .routes(routes!(routes::events::stream))
        .routes(routes!(routes::campaigns::list))
        .routes(routes!(routes::campaigns::one))
        .routes(routes!(routes::campaigns::explain))
        .routes(routes!(
            routes::audit::start,
            routes::audit::status,
            routes::audit::cancel
        ))
        .routes(routes!(routes::capacity::history))
        .routes(routes!(routes::sources::list))
        .routes(routes!(routes::history::evaluations))
        .routes(routes!(routes::history::replay))
        .routes(routes!(routes::google::list))
        .routes(routes!(routes::google::consent))
        .routes(routes!(routes::google::revoke))
        .routes(routes!(routes::google::forget))
        .routes(routes!(routes::teams::list))
        .routes(routes!(routes::teams::show, routes::teams::set))
        .routes(routes!(
            routes::teams::put_member,
            routes::teams::remove_member
        ))
        .routes(routes!(routes::rules::list))
        .routes(routes!(routes::rules::show, routes::rules::save))
        .routes(routes!(routes::rules::enable))
        .routes(routes!(routes::rules::disable))
        .routes(routes!(routes::rules::history))
        .routes(routes!(routes::rules::diff))
        .routes(routes!(routes::rules::rollback))
        .routes(routes!(routes::rules::dry_run))
        .routes(routes!(routes::rules::check))
        .routes(routes!(routes::rules::backtest))
        .routes(routes!(routes::rules::test))
        .routes(routes!(routes::subjects::lead))
        .routes(routes!(routes::subjects::lookup))
        .routes(routes!(routes::subjects::export))
        .routes(routes!(routes::subjects::erase))
        .routes(routes!(routes::subjects::withdraw_consent))
        .routes(routes!(routes::webhooks::create, routes::webhooks::list))
        .routes(routes!(routes::webhooks::show, routes::webhooks::remove))
        .routes(routes!(routes::webhooks::rotate_secret))
        .routes(routes!(routes::webhooks::enable))
        .routes(routes!(routes::webhooks::deliveries))
        .split_for_parts()
}

/// Answers any operation of a kind may give, whatever its handler: added to each operation's
/// documented ones where missing, so the description lists every status a client can get.
///
/// - an operation that takes a key: `429` (its rate limit), `500` (the panic guard), `503`
///   (the deadline, or the database away);
/// - one that takes a JSON body: `400` (not JSON), `413` (too large), `415` (not
///   `application/json`);
/// - one with parameters: `422` (a parameter wrong, or an unknown query parameter).
fn common_answers(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let problem = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
    };
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            let mut add: Vec<(&str, &str)> = Vec::new();
            if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                add.push(("429", "Too many requests: this key went over its rate limit; nothing was done; Retry-After says when to come back"));
                add.push(("500", "Internal error (logged); a write may or may not have taken effect: retry it (with the same Idempotency-Key)"));
                add.push(("503", "The database cannot be reached, or the request took longer than 30 s: retry after Retry-After"));
            }
            if op.request_body.is_some() {
                add.push(("400", "The body is not JSON"));
                add.push(("413", "The body is larger than 256 KiB"));
                add.push((
                    "415",
                    "The body is not sent as Content-Type: application/json",
                ));
            }
            if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                add.push((
                    "422",
                    "A parameter is wrong, or a query parameter is unknown",
                ));
            }
            for (status, description) in add {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem(description).into());
            }
        }
    }
}

/// The `type` parameter of the event reads names one of the domain's event types: the list is
/// the domain's own, so it cannot drift.
fn event_type_names(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::RefOr;
    let mut names: Vec<String> = leadorch_domain::AGGREGATE_TYPES
        .iter()
        .filter_map(|a| leadorch_domain::event_types(a))
        .flat_map(|types| types.iter().map(|(name, _)| name.to_string()))
        .collect();
    names.sort();
    names.dedup();
    for path in ["/v1/events", "/v1/events/count", "/v1/events/stream"] {
        let Some(op) = doc.paths.paths.get_mut(path).and_then(|i| i.get.as_mut()) else {
            continue;
        };
        for param in op.parameters.iter_mut().flatten() {
            if let RefOr::T(p) = param {
                if p.name == "type" {
                    p.schema = Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(names.clone()))
                            .into(),
                    );
                }
            }
        }
    }
}

/// The API's description, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = documented().1;
    common_answers(&mut doc);
    event_type_names(&mut doc);
    doc.paths.paths.insert(
        "/healthz".to_string(),
        utoipa::openapi::PathItem::new(
            utoipa::openapi::HttpMethod::Get,
            utoipa::openapi::path::OperationBuilder::new()
                .tag("operations")
                .summary(Some("The process is alive (no key needed)"))
                .operation_id(Some("healthz"))
                .response(
                    "200",
                    utoipa::openapi::ResponseBuilder::new().description("Alive"),
                ),
        ),
    );
    doc
}

/// The API's routes over `api`. Anything else is a `404` problem; a wrong method a `405`; every
/// request is [`harden`]ed (deadline, panic guard), counted ([`metrics::track`], outermost, so
/// it sees every status) and, when origins are configured, given CORS headers ([`cors`]).
pub fn router(api: Api) -> Router {
    router_with_ui(api, None)
}

/// [`router`], also serving the operators' app's browser build at `/` when `ui` is given
/// ([`ui::Ui`]: its pages need no key; the API they call does).
pub fn router_with_ui(api: Api, ui: Option<ui::Ui>) -> Router {
    router_with(api, ui, layers::REQUEST_TIMEOUT)
}

/// [`router_with_ui`] with `deadline` per request instead of [`layers::REQUEST_TIMEOUT`].
pub(crate) fn router_with(api: Api, ui: Option<ui::Ui>, deadline: std::time::Duration) -> Router {
    let counters = api.metrics.clone();
    let cors = cors::Cors::new(&api.settings.api.cors_origins);
    let doc = openapi();
    let spec =
        std::sync::Arc::new(serde_json::to_vec(&doc).expect("the OpenAPI description serialises"));
    let (documented, _) = documented();
    let protected = documented
        .route(
            "/openapi.json",
            get(move |_caller: auth::Caller| {
                let spec = spec.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        spec.as_ref().clone(),
                    )
                }
            }),
        )
        .route_layer(middleware::from_fn_with_state(
            api.clone(),
            auth::authenticate,
        ));
    let open = protected.route("/healthz", get(healthz));
    let open = match ui {
        Some(ui) => ui.routes(open),
        None => open,
    };
    let app = layers::harden_with(
        open.fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(api),
        deadline,
    );
    let app = match cors {
        Some(cors) => app.layer(middleware::from_fn_with_state(cors, cors::apply)),
        None => app,
    };
    app.layer(middleware::from_fn_with_state(counters, metrics::track))
}

/// `GET /healthz`: the process is alive and answering (no key needed; says nothing about the
/// database — that is `/readyz`, which needs a key).
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no endpoint at {}", uri.path()),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{} does not take {method}", uri.path()),
    )
}
