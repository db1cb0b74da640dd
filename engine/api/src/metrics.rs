//! `GET /metrics`: this server process's counters in the Prometheus text exposition format
//! (0.0.4), for a Prometheus scraping it with a key of scope `read` (ADR 0027).
//!
//! What is counted never names a person or a raw path: requests are labelled by their route
//! *template* (`/v1/leads/{id}`, `unmatched` for paths no route takes), a method from a fixed
//! list and the status code; leads by outcome; capacity readings by where they came from.
//! Key ids, team names, lead ids and addresses are left out on purpose (they are in the access
//! log, which only admin keys read).
//!
//! Everything is per process (like the rate limits): two servers behind a balancer are two
//! targets to scrape. The registry belongs to one [`crate::Api`], so servers in one process
//! (the tests) count apart.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::auth::{scope, Scoped};
use crate::{Api, Problem};

/// The route label of a request no route took (its path is never a label: it may hold
/// personal ids).
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the request duration buckets, seconds: a lead is answered in milliseconds,
/// the deadline is 30 s ([`crate::layers::REQUEST_TIMEOUT`]).
const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: &'static str,
}

/// Where a recorded capacity reading came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadingSource {
    /// `POST /v1/capacity`.
    Pushed,
    /// Counted from lead statuses (teams whose capacity source is `leads`).
    Leads,
}

/// What the log says, as of a scrape: taken from the facts view by [`metrics`] just before
/// the counters are encoded, so every server reading one log reports the same.
#[derive(Clone, Debug, Default)]
pub struct LogView {
    /// The engine's work recorded in the log.
    pub counts: leadorch_evaluate::facts::LogCounts,
    /// Per capacity source (`pushed`, `leads`, …): how many teams' latest reading came from it,
    /// and the age in seconds of the oldest of those latest readings.
    pub sources: std::collections::BTreeMap<String, (i64, i64)>,
    /// The polled capacity sources' health (`capacity_sources`, every project's), as their
    /// daemons last wrote it.
    pub polled: Vec<leadorch_store::SourceHealthRow>,
    /// Webhook deliveries stored, per project and state (every state of a project that has
    /// endpoints or deliveries, zeros included).
    pub webhook_deliveries: Vec<(String, &'static str, i64)>,
    /// Webhook endpoints per project: how many, and how many are disabled.
    pub webhook_endpoints: Vec<(String, i64, i64)>,
}

impl LogView {
    /// Adds the webhook tables' figures (two grouped counts).
    pub async fn read_webhooks(
        &mut self,
        hooks: &leadorch_store::Webhooks,
    ) -> Result<(), leadorch_store::StoreError> {
        use leadorch_store::DeliveryState as S;
        let states = hooks.state_counts().await?;
        self.webhook_endpoints = hooks.endpoint_counts().await?;
        let mut projects: std::collections::BTreeSet<String> =
            self.webhook_endpoints.iter().map(|e| e.0.clone()).collect();
        projects.extend(states.iter().map(|s| s.0.clone()));
        self.webhook_deliveries = projects
            .iter()
            .flat_map(|p| {
                [S::Pending, S::Delivered, S::GivenUp, S::Disabled].map(|state| {
                    let n = states
                        .iter()
                        .find(|(q, s, _)| q == p && *s == state)
                        .map_or(0, |x| x.2);
                    (p.clone(), state.as_str(), n)
                })
            })
            .collect();
        Ok(())
    }
}

impl LogView {
    /// Reads it off the facts view at `now`.
    pub fn of(
        view: &leadorch_evaluate::facts::FactsView,
        now: chrono::DateTime<chrono::Utc>,
    ) -> LogView {
        let mut sources: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        for (name, team) in &view.teams {
            let (Some(source), Some(at)) = (team.capacity.source(), team.capacity.recorded_at())
            else {
                continue;
            };
            // The kind of source (the team's configured one; else `leads` for readings counted
            // from leads, `pushed` for the rest), never the reading's free-form source name:
            // that names another project's keys.
            let kind = match view.definitions.get(name).filter(|t| t.is_defined()) {
                Some(t) => t.capacity_source().to_string(),
                None if source == crate::backlog::SOURCE => crate::backlog::SOURCE.to_string(),
                None => "pushed".to_string(),
            };
            let age = (now - at).num_seconds().max(0);
            let slot = sources.entry(kind).or_insert((0, 0));
            slot.0 += 1;
            slot.1 = slot.1.max(age);
        }
        LogView {
            counts: view.counts,
            sources,
            polled: Vec::new(),
            webhook_deliveries: Vec::new(),
            webhook_endpoints: Vec::new(),
        }
    }
}

/// Encodes the last [`LogView`] at each scrape.
#[derive(Debug, Default)]
struct ViewCollector(Arc<std::sync::Mutex<LogView>>);

impl Collector for ViewCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let view = self.0.lock().map(|v| v.clone()).unwrap_or_default();
        let c = view.counts;
        for (name, help, value) in [
            (
                "leadorch_evaluations_recorded",
                "Rule evaluations recorded in the log (by any process)",
                c.evaluations,
            ),
            (
                "leadorch_changes_requested",
                "Campaign changes requested in the log (rules and operators)",
                c.changes_requested,
            ),
            (
                "leadorch_changes_applied",
                "Campaign changes the ads platform applied, as recorded in the log",
                c.changes_applied,
            ),
            (
                "leadorch_changes_failed",
                "Campaign changes that failed, as recorded in the log",
                c.changes_failed,
            ),
        ] {
            let counter = ConstCounter::new(value);
            let e = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(e)?;
        }
        type Pick = fn(&(i64, i64)) -> i64;
        let gauges: [(&str, &str, Pick); 2] = [
            (
                "leadorch_capacity_source_teams",
                "Teams whose latest capacity reading came from this source",
                |(teams, _)| *teams,
            ),
            (
                "leadorch_capacity_source_oldest_reading_age_seconds",
                "Age of the oldest latest reading among the teams of this capacity source (a source that stopped sending grows old)",
                |(_, age)| *age,
            ),
        ];
        for (name, help, pick) in gauges {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for (source, figures) in &view.sources {
                let labels = [("source", source.as_str())];
                ConstGauge::new(pick(figures)).encode(family.encode_family(&labels)?)?;
            }
        }
        type Health = fn(&leadorch_store::SourceHealthRow) -> i64;
        let health: [(&str, &str, Health); 4] = [
            (
                "leadorch_capacity_source_failing",
                "1 when the capacity source's last poll failed, else 0 (by project, source name and connector kind)",
                |r| i64::from(r.state == "failing"),
            ),
            (
                "leadorch_capacity_source_consecutive_failures",
                "Failed polls of the capacity source since its last success",
                |r| r.consecutive_failures,
            ),
            (
                "leadorch_capacity_source_last_success_timestamp_seconds",
                "When a poll of the capacity source last succeeded, seconds since the Unix epoch (0: never)",
                |r| r.last_success_at.unwrap_or(0) / 1_000_000,
            ),
            (
                "leadorch_capacity_source_polled_teams",
                "Teams the capacity source's last poll asked for",
                |r| r.teams,
            ),
        ];
        for (name, help, pick) in health {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for row in &view.polled {
                let labels = [
                    ("project", row.project.as_str()),
                    ("source", row.name.as_str()),
                    ("kind", row.kind.as_str()),
                ];
                ConstGauge::new(pick(row)).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "leadorch_webhook_deliveries",
            "Webhook deliveries stored (finished ones are kept 30 days), by project and state (pending, delivered, given_up, disabled)",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (project, state, n) in &view.webhook_deliveries {
            let labels = [("project", project.as_str()), ("state", *state)];
            ConstGauge::new(*n).encode(family.encode_family(&labels)?)?;
        }
        type Endpoints = fn(&(String, i64, i64)) -> i64;
        let endpoints: [(&str, &str, Endpoints); 2] = [
            (
                "leadorch_webhook_endpoints",
                "Webhook endpoints registered, by project",
                |e| e.1,
            ),
            (
                "leadorch_webhook_endpoints_disabled",
                "Webhook endpoints disabled (410 Gone, or a retry schedule that failed), by project",
                |e| e.2,
            ),
        ];
        for (name, help, pick) in endpoints {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for e in &view.webhook_endpoints {
                let labels = [("project", e.0.as_str())];
                ConstGauge::new(pick(e)).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

/// The counters of one API.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    rate_limited: Counter,
    leads: Family<OutcomeLabels, Counter>,
    readings: Family<SourceLabels, Counter>,
    view: Arc<std::sync::Mutex<LogView>>,
}

/// Read at each scrape: the log's head and what this process appended.
#[derive(Debug)]
struct LogCollector {
    head: tokio::sync::watch::Receiver<u64>,
    log: leadorch_store::log::EventLog,
}

impl Collector for LogCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let head = ConstGauge::new(i64::try_from(*self.head.borrow()).unwrap_or(i64::MAX));
        let e = encoder.encode_descriptor(
            "leadorch_log_head_position",
            "Position of the last event of the log this process knows of (its own commits, and on PostgreSQL other processes' too).",
            None,
            head.metric_type(),
        )?;
        head.encode(e)?;
        let appended = ConstCounter::new(self.log.appended_here());
        let e = encoder.encode_descriptor(
            "leadorch_events_appended",
            "Events this process committed to the log since it started.",
            None,
            appended.metric_type(),
        )?;
        appended.encode(e)
    }
}

impl Metrics {
    /// The counters, with the log's readings taken from `log` at each scrape.
    pub fn new(log: &leadorch_store::log::EventLog) -> Metrics {
        // Help texts end without a period: the encoder adds one.
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "leadorch_http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(DURATION_BUCKETS)) as fn() -> Histogram,
        );
        registry.register(
            "leadorch_http_request_duration_seconds",
            "Time from a request's head to its answer's head, by route template and method (an event stream counts until it starts)",
            durations.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "leadorch_http_rate_limited",
            "Requests refused with 429 because their key went over its rate limit",
            rate_limited.clone(),
        );
        let leads = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "leadorch_leads",
            "Leads recorded by POST /v1/leads, by outcome (accepted, duplicate, blocked); replays of an Idempotency-Key are not counted again",
            leads.clone(),
        );
        for outcome in ["accepted", "duplicate", "blocked"] {
            drop(leads.get_or_create(&OutcomeLabels { outcome }));
        }
        let readings = Family::<SourceLabels, Counter>::default();
        registry.register(
            "leadorch_capacity_readings_recorded",
            "Capacity readings recorded, by source (pushed: POST /v1/capacity; leads: counted from lead statuses)",
            readings.clone(),
        );
        for source in ["pushed", "leads"] {
            drop(readings.get_or_create(&SourceLabels { source }));
        }
        registry.register_collector(Box::new(LogCollector {
            head: log.watch_head(),
            log: log.clone(),
        }));
        let view = Arc::new(std::sync::Mutex::new(LogView::default()));
        registry.register_collector(Box::new(ViewCollector(view.clone())));
        Metrics {
            registry,
            requests,
            durations,
            rate_limited,
            leads,
            readings,
            view,
        }
    }

    /// What the log says now, for the next [`Metrics::render`].
    pub fn set_view(&self, view: LogView) {
        if let Ok(mut v) = self.view.lock() {
            *v = view;
        }
    }

    /// A request refused by its key's rate limit.
    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// A lead recorded with this outcome (`accepted`, `duplicate`, `blocked`).
    pub fn lead(&self, outcome: &str) {
        let outcome = match outcome {
            "accepted" => "accepted",
            "duplicate" => "duplicate",
            _ => "blocked",
        };
        self.leads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// A capacity reading recorded.
    pub fn reading(&self, source: ReadingSource) {
        let source = match source {
            ReadingSource::Pushed => "pushed",
            ReadingSource::Leads => "leads",
        };
        self.readings.get_or_create(&SourceLabels { source }).inc();
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!("encoding the metrics: {e}");
        }
        out
    }
}

/// A method as a label: one of a fixed list, else `other` (a client may send any token).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The middleware that counts every request, whatever answers it (a route, the fallback, the
/// deadline, the panic guard, a refusal of its key).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| UNMATCHED.to_string());
    let method = method_label(req.method());
    let response = next.run(req).await;
    metrics
        .durations
        .get_or_create(&RouteLabels {
            route: route.clone(),
            method,
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// This process's counters, in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "The counters (Prometheus text exposition format 0.0.4): requests by route template, method and status, their durations, rate-limited requests, the log's head, events appended by this process, leads by outcome, capacity readings recorded; from the log (the same in every process): evaluations recorded, changes requested, applied and failed, and per capacity source the teams it feeds and the age of the oldest latest reading; per polled capacity source (project, name, kind) whether it fails, its failures in a row, its last success and the teams it polls; webhook deliveries by project and state, and endpoints (all, disabled) by project", body = String, content_type = "text/plain"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn metrics(
    State(api): State<Api>,
    _caller: Scoped<scope::Read>,
) -> Result<Response, Problem> {
    match api.facts().await {
        Ok(view) => {
            let mut log_view = LogView::of(&view, chrono::Utc::now());
            match leadorch_store::CapacitySources::new(api.engine.store.db().clone())
                .list(None)
                .await
            {
                Ok(rows) => log_view.polled = rows,
                Err(e) => tracing::warn!("reading the capacity sources for /metrics: {e}"),
            }
            let hooks = leadorch_store::Webhooks::new(api.engine.store.codec.keys().clone());
            if let Err(e) = log_view.read_webhooks(&hooks).await {
                tracing::warn!("reading the webhook tables for /metrics: {e}");
            }
            api.metrics.set_view(log_view);
        }
        // The request counters still answer; the log's figures stay as last read.
        Err(e) => tracing::warn!("reading the log for /metrics: {e}"),
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )],
        api.metrics.render(),
    )
        .into_response())
}
