//! `POST /v1/leads` and `POST /v1/leads/{id}/status` (scope `ingest`): leads from the
//! client's forms and their progress through the funnel (ADR 0022 step 3, ADR 0025).
//!
//! A lead is checked field by field ([`leadorch_intake`]); a request with a wrong field is a
//! `422` listing every field at fault, and stores nothing. A valid lead is always recorded —
//! accepted into the funnel, or as a duplicate of an earlier lead of the same person, or
//! blocked with a reason — so every answer can be explained later; its personal fields are
//! sealed under its subject's keys.
//!
//! How a lead is decided, in order:
//! 1. its keyed fingerprints (email, phone) are looked up: a live claim of another lead within
//!    the dedup window makes it a **duplicate** of that lead, under the same subject (so
//!    erasing the person covers both);
//! 2. no consent where consent is required, a disposable email domain, or a team whose
//!    maximum of open leads is 0, make it **blocked**;
//! 3. otherwise its fingerprints are claimed (a lead claiming at the same moment loses the
//!    race and becomes a duplicate) and it is **accepted**.
//!
//! Its consent evidence is recorded first (a `Consent` stream of its own), then the lead. A
//! lead that fails to be appended lets go of its claims. `Idempotency-Key` works as Stripe
//! defines it: the same key and body get the first answer again, the same key with another
//! body is a `422`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use leadorch_domain::lead::{Attribution, BlockReason, LeadArrival, LeadOutcome};
use leadorch_domain::{
    stream_id, AnyEvent, Campaign, CampaignEvent, Consent, ConsentCommand, Lead, LeadCommand,
    LeadStatus, Team,
};
use leadorch_intake::{LeadRequest, ValidLead};
use leadorch_store::atomic::{IdempotencyRow, OwnedClaim};
use leadorch_store::codec::Pending;
use leadorch_store::fingerprints::FingerprintKind;
use leadorch_store::{
    AtomicAppend, ExpectedVersion, IdempotencyKey, IdempotencyRecord, Metadata, Refusal, SideRow,
    StoreError, StreamPart,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::auth::{scope, Caller, Scoped};
use crate::body::{Body, JsonBytes};
use crate::ids::{bare, check_client_id, scoped, DEFAULT_PROJECT};
use crate::problem::{from_engine, FieldIssue};
use crate::{Api, Problem};

/// The team of a lead that nothing routes (no team in the request, no form mapping, no
/// campaign team, no default team): recorded, never lost, and visible as this team.
pub const UNASSIGNED: &str = "unassigned";

/// A claim older than this whose lead is not in the log was left by a process that stopped
/// between claiming and appending; it is let go. A younger one is a lead being recorded now.
const STALE_CLAIM: chrono::Duration = chrono::Duration::minutes(5);

/// A lead as a client sends it (the body of `POST /v1/leads`). Every field but `lead_id`,
/// `form_id` and one of `email`/`phone` may be left out; unknown fields are refused by name.
#[derive(Debug, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[allow(dead_code)] // documents the body; the handler reads it as a `LeadRequest`
pub struct LeadBody {
    /// The client's id of the lead, `[A-Za-z0-9._-]{1,128}`.
    #[schema(example = "f-1029", pattern = "^[A-Za-z0-9._-]{1,128}$")]
    lead_id: String,
    /// The form or landing page it came from, same format.
    #[schema(example = "contact", pattern = "^[A-Za-z0-9._-]{1,128}$")]
    form_id: String,
    /// The team to route it to, when the client knows (same format).
    #[schema(pattern = "^[A-Za-z0-9._-]{1,128}$")]
    team: Option<String>,
    /// The Google Ads campaign id (digits), when known.
    campaign_id: Option<String>,
    /// The Google Ads customer id of that campaign (`123-456-7890` or ten digits).
    customer_id: Option<String>,
    /// `gclid`, `gbraid`, `wbraid` and `utm_*` parameters.
    attribution: Option<BTreeMap<String, String>>,
    /// Personal: the person's name.
    name: Option<String>,
    /// Personal: email address (RFC 5322 `addr-spec`).
    #[schema(example = "ann@example.org")]
    email: Option<String>,
    /// Personal: phone number, `+` and country code, or in `[intake] default_region`.
    #[schema(example = "+31 20 123 4567")]
    phone: Option<String>,
    /// Personal: the IP address the form was sent from.
    ip: Option<String>,
    /// Personal: the browser's user agent.
    user_agent: Option<String>,
    /// Free data of the client's: a JSON object (at most 8 KiB), sealed with the lead.
    metadata: Option<Map<String, Value>>,
    /// The consent evidence. Without it, a lead is blocked (`consent_missing`) unless
    /// `[intake] require_consent = false`.
    consent: Option<ConsentBody>,
}

/// Consent evidence as sent.
#[derive(Debug, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[allow(dead_code)] // documents the body
pub struct ConsentBody {
    /// The exact text shown to the person (at most 4 KiB).
    #[schema(example = "I agree to be called about my request")]
    text: String,
    /// When they agreed (RFC 3339).
    #[schema(example = "2026-12-01T10:00:00Z")]
    at: String,
    /// The page they agreed on (`http`/`https`).
    #[schema(example = "https://example.org/contact")]
    url: String,
    /// A TrustedForm certificate, `https://cert.trustedform.com/…`.
    trustedform_cert_url: Option<String>,
    /// A Jornaya LeadiD token.
    jornaya_token: Option<String>,
}

/// What became of a lead.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, TS)]
pub struct LeadAnswer {
    /// This request's trace id (also in the recorded events' metadata).
    pub trace_id: String,
    /// The client's lead id.
    pub lead_id: String,
    /// `accepted`, `duplicate` or `blocked`.
    #[schema(example = "accepted")]
    pub outcome: String,
    /// Why, for a duplicate (naming the first lead's id) or a blocked lead; `null` when
    /// accepted.
    pub reason: Option<String>,
    /// For a duplicate: the first lead's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// For a blocked lead: `disposable_email`, `consent_missing` or `team_not_accepting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
    /// The team it went (or would have gone) to; `unassigned` when nothing routes it.
    pub team: String,
}

/// Records a lead: accepted, a duplicate of an earlier lead of the same person, or blocked.
#[utoipa::path(post, path = "/v1/leads", tag = "leads",
    request_body = LeadBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer again (kept at least 24 hours); the same key with another body is 422")),
    responses(
        (status = 201, description = "Recorded: accepted, duplicate or blocked", body = LeadAnswer),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the ingest scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A lead with this id was already recorded (field lead_id)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (Content-Type)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields are wrong (every one listed in errors), or the Idempotency-Key was used with another body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn receive(
    State(api): State<Api>,
    caller: Scoped<scope::Ingest>,
    headers: HeaderMap,
    JsonBytes(body): JsonBytes,
) -> Result<Response, Problem> {
    let request = LeadRequest::from_json(&body).map_err(|e| {
        if e.field.is_empty() {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "Malformed JSON",
                format!("the body is not a lead: {}", e.problem),
            )
        } else {
            invalid_fields(vec![FieldIssue {
                field: e.field,
                problem: e.problem,
            }])
        }
    })?;
    let idempotency = idempotency_key(&headers)?;
    // Only a request with an Idempotency-Key is ever compared with another (the hash is
    // stored with its answer); without one, no second parse of the body.
    let request_hash = match &idempotency {
        Some(_) => canonical_hash(&body),
        None => [0; 32],
    };
    if let Some(key) = &idempotency {
        if let Some(answer) = replay(&api, &caller, key, &request_hash).await? {
            return Ok(answer);
        }
    }
    let lead = request.validate(&api.settings.intake).map_err(|errors| {
        invalid_fields(
            errors
                .into_iter()
                .map(|e| FieldIssue {
                    field: e.field,
                    problem: e.problem,
                })
                .collect(),
        )
    })?;
    let trace_id = uuid::Uuid::now_v7().to_string();
    let lead_key = scoped(&caller.project, &lead.lead_id);
    let now = Utc::now();
    let team = route(&api, &caller.project, &lead).await?;
    let defined = leadorch_evaluate::teams::load_team(&api.engine, &team)
        .await
        .map_err(|e| evaluate_problem(&e))?;
    let fps = fingerprints(&api, &caller.project, &lead).await?;
    let metadata = Metadata {
        actor: caller.actor.clone(),
        trace_id: Some(trace_id.clone()),
        ..Default::default()
    };
    // Decided, then written in one atomic append: its consent, the lead, the claims on its
    // fingerprints, its subject's keys and the answer to its Idempotency-Key commit together
    // or not at all (ADR 0029). A lead of the same person that claimed in between makes
    // the writer refuse the claim: decided again, it is that lead's duplicate.
    let mut attempt = 0;
    let (decided, body) = loop {
        attempt += 1;
        let decided = decide(&api, &caller.project, &lead, (&team, &defined), &fps, now).await?;
        if matches!(&decided.outcome, LeadOutcome::Duplicate { of } if *of == lead_key) {
            // Its own claim: claims commit with their lead, so this lead is recorded.
            return already_recorded(&api, &caller, idempotency.as_deref(), &request_hash, &lead)
                .await;
        }
        let answer = LeadAnswer {
            trace_id: trace_id.clone(),
            lead_id: lead.lead_id.clone(),
            outcome: decided.outcome.as_str().to_string(),
            reason: decided.reason(&caller.project),
            duplicate_of: match &decided.outcome {
                LeadOutcome::Duplicate { of } => Some(bare(&caller.project, of)),
                _ => None,
            },
            blocked: match &decided.outcome {
                LeadOutcome::Blocked { reason, .. } => Some(reason.as_str().to_string()),
                _ => None,
            },
            team: bare(&caller.project, &team),
        };
        let body = serde_json::to_string(&answer).map_err(|e| {
            tracing::error!("writing a lead answer: {e}");
            Problem::internal()
        })?;
        let answered = idempotency.as_ref().map(|key| IdempotencyRow {
            project: caller.project.clone(),
            api_key_id: caller.key_id.clone(),
            key: key.clone(),
            record: IdempotencyRecord {
                request_hash: request_hash.to_vec(),
                status: 201,
                body: body.clone(),
                created_at: now.timestamp_micros(),
            },
        });
        let append = prepare(
            &api,
            &Prepared {
                project: &caller.project,
                lead: &lead,
                lead_key: &lead_key,
                team: &team,
                fps: &fps,
                now,
                metadata: &metadata,
            },
            &decided,
            answered,
        )
        .await?;
        // The same append again while the database is away, as commands do (ADR 0028).
        let log = &api.engine.store.log;
        match leadorch_store::cqrs::resend_while_away(|| log.append_atomic(append.clone())).await {
            Ok(_) => break (decided, body),
            Err(StoreError::Refused(refusal)) => match *refusal {
                Refusal::Answered(record) => {
                    // The same key, sent again while the first request was being recorded.
                    return answer_of(record, &request_hash);
                }
                Refusal::Claimed(_) | Refusal::KeyChanged { .. } if attempt < 3 => continue,
                Refusal::Claimed(_) | Refusal::KeyChanged { .. } => {
                    tracing::error!(
                        "a lead's fingerprints or keys kept changing hands while it was recorded"
                    );
                    return Err(Problem::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "busy",
                        "Busy",
                        "leads of the same person arrived at the same moment; nothing was stored; retry",
                    )
                    .header(axum::http::header::RETRY_AFTER, "1"));
                }
            },
            Err(StoreError::Conflict { stream, .. }) if stream == stream_id(LEAD, &lead_key) => {
                // Another request recorded this lead id first.
                return already_recorded(
                    &api,
                    &caller,
                    idempotency.as_deref(),
                    &request_hash,
                    &lead,
                )
                .await;
            }
            Err(e) => return Err(Problem::from_store(&e)),
        }
    };
    api.metrics.lead(decided.outcome.as_str());
    if decided.outcome == LeadOutcome::Accepted {
        crate::backlog::lead_changed_in(&api, &team, &defined).await;
    }
    Ok(json_answer(StatusCode::CREATED, body, false))
}

pub(crate) const LEAD: &str = "lead";

/// The answer to a lead whose id is already recorded: the first answer again when this is a
/// retry with its `Idempotency-Key` (stored with the lead), else a `409`.
async fn already_recorded(
    api: &Api,
    caller: &Caller,
    idempotency: Option<&str>,
    request_hash: &[u8],
    lead: &ValidLead,
) -> Result<Response, Problem> {
    if let Some(key) = idempotency {
        if let Some(answer) = replay(api, caller, key, request_hash).await? {
            return Ok(answer);
        }
    }
    Err(Problem::new(
        StatusCode::CONFLICT,
        "already-recorded",
        "Already recorded",
        format!(
            "lead {} was already recorded; a retry that should get the first answer again must send the same Idempotency-Key",
            lead.lead_id
        ),
    )
    .field("lead_id"))
}

fn json_answer(status: StatusCode, body: String, replayed: bool) -> Response {
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn invalid_fields(errors: Vec<FieldIssue>) -> Problem {
    let detail = errors
        .iter()
        .map(|e| {
            if e.field.is_empty() {
                e.problem.clone()
            } else {
                format!("{}: {}", e.field, e.problem)
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut p = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
        "Invalid field",
        detail,
    );
    if let Some(first) = errors.first().filter(|e| !e.field.is_empty()) {
        p = p.field(first.field.clone());
    }
    p.errors = Box::new(errors);
    p
}

/// The request's `Idempotency-Key`, checked.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        Problem::invalid(
            "Idempotency-Key",
            format!(
                "an Idempotency-Key is 1 to {} printable ASCII characters (a UUID is a good one)",
                leadorch_store::idempotency::MAX_KEY
            ),
        )
    };
    let text = value.to_str().map_err(|_| bad())?;
    if text.is_empty()
        || text.len() > leadorch_store::idempotency::MAX_KEY
        || !text.bytes().all(|b| (0x20..=0x7e).contains(&b))
    {
        return Err(bad());
    }
    Ok(Some(text.to_string()))
}

/// SHA-256 of the body as JSON with every object's keys sorted, so a retry that writes the
/// same lead with other spacing or key order is the same request.
fn canonical_hash(body: &[u8]) -> [u8; 32] {
    fn write(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push(b'{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend(serde_json::to_vec(k).unwrap_or_default());
                    out.push(b':');
                    write(&map[k], out);
                }
                out.push(b'}');
            }
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(item, out);
                }
                out.push(b']');
            }
            other => out.extend(serde_json::to_vec(other).unwrap_or_default()),
        }
    }
    let mut canonical = Vec::with_capacity(body.len());
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => write(&v, &mut canonical),
        Err(_) => canonical.extend_from_slice(body),
    }
    Sha256::digest(&canonical).into()
}

/// The first answer to `key`, when it was for this request; a `422` when it was for another.
async fn replay(
    api: &Api,
    caller: &Caller,
    key: &str,
    request_hash: &[u8],
) -> Result<Option<Response>, Problem> {
    let stored = api
        .engine
        .store
        .idempotency()
        .get(&IdempotencyKey {
            project: &caller.project,
            api_key_id: &caller.key_id,
            key,
        })
        .await
        .map_err(|e| Problem::from_store(&e))?;
    stored
        .map(|record| answer_of(record, request_hash))
        .transpose()
}

/// The first answer to a key, again, when it was for this request; a `422` when it was for
/// another.
fn answer_of(record: IdempotencyRecord, request_hash: &[u8]) -> Result<Response, Problem> {
    if record.is_for(request_hash) {
        let status = StatusCode::from_u16(record.status).unwrap_or(StatusCode::CREATED);
        return Ok(json_answer(status, record.body, true));
    }
    Err(Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        "Idempotency-Key reused",
        "this Idempotency-Key was first used with another request body; use a new key for a new request",
    )
    .field("Idempotency-Key"))
}

/// Whether a stream has events.
pub(crate) async fn recorded(api: &Api, stream: &str) -> Result<bool, Problem> {
    Ok(api
        .engine
        .store
        .log
        .stream_version(stream)
        .await
        .map_err(|e| Problem::from_store(&e))?
        > 0)
}

/// The team a lead goes to (stored form): the request's, the form's, the campaign's, the
/// default team, else [`UNASSIGNED`].
async fn route(api: &Api, project: &str, lead: &ValidLead) -> Result<String, Problem> {
    let settings = &api.settings;
    if let Some(team) = &lead.team {
        return Ok(scoped(project, team));
    }
    if let Some(team) = settings.intake.form_teams.get(&lead.form_id) {
        return Ok(scoped(project, team));
    }
    if let Some(campaign) = &lead.campaign_id {
        if let Some(team) =
            campaign_team(api, project, lead.customer_id.as_deref(), campaign).await?
        {
            return Ok(scoped(project, &team));
        }
    }
    Ok(scoped(
        project,
        settings.default_team.as_deref().unwrap_or(UNASSIGNED),
    ))
}

/// A campaign's team, when the campaign is `project`'s (ADR 0030: the project of the Google
/// account it was last read through; another project's campaign routes nothing): its
/// `team:<name>` label, else the configured mapping (by `<customer>/<campaign>`, or by
/// campaign id alone when the customer is not known, for the default project, whose
/// configuration file it is).
async fn campaign_team(
    api: &Api,
    project: &str,
    customer: Option<&str>,
    campaign: &str,
) -> Result<Option<String>, Problem> {
    let map = &api.settings.campaign_teams;
    let Some(customer) = customer else {
        let suffix = format!("/{campaign}");
        return Ok(map
            .iter()
            .find(|(id, _)| id.ends_with(&suffix))
            .filter(|_| project == DEFAULT_PROJECT)
            .map(|(_, team)| team.clone()));
    };
    let id = Campaign::aggregate_id(customer, campaign);
    let account: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let state: Campaign = api
        .engine
        .load_state(&id, |e| match e {
            AnyEvent::Campaign(e) => {
                if let CampaignEvent::CampaignObserved { google_account, .. } = &e {
                    if let Ok(mut account) = account.lock() {
                        account.clone_from(google_account);
                    }
                }
                Some(e)
            }
            _ => None,
        })
        .await
        .map_err(|e| from_engine(&e))?;
    let ours = match account.into_inner().unwrap_or_default() {
        Some(account) => leadorch_domain::project::of(&account) == project,
        None => project == DEFAULT_PROJECT,
    };
    if !ours {
        return Ok(None);
    }
    let labelled = state.snapshot().and_then(|s| {
        s.labels
            .iter()
            .find_map(|l| l.strip_prefix("team:").map(str::to_string))
    });
    Ok(labelled.or_else(|| map.get(&id).cloned()))
}

/// What was decided about a lead.
struct Decided {
    outcome: LeadOutcome,
    subject_id: String,
    /// Whether the subject was made for this lead (no key of it can exist yet).
    new_subject: bool,
}

impl Decided {
    /// The answer's `reason`.
    fn reason(&self, project: &str) -> Option<String> {
        match &self.outcome {
            LeadOutcome::Accepted => None,
            LeadOutcome::Duplicate { of } => Some(format!(
                "duplicate of lead {}: the same email or phone within the dedup window",
                bare(project, of)
            )),
            LeadOutcome::Blocked { detail, .. } => Some(detail.clone()),
        }
    }
}

/// A lead's keyed fingerprints (email, phone).
async fn fingerprints(
    api: &Api,
    project: &str,
    lead: &ValidLead,
) -> Result<Vec<(FingerprintKind, [u8; 32])>, Problem> {
    let fingerprinter = api
        .fingerprinter(project)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    let prints = lead.fingerprints(&fingerprinter);
    let mut fps = Vec::new();
    if let Some(e) = prints.email {
        fps.push((FingerprintKind::Email, *e.as_bytes()));
    }
    if let Some(p) = prints.phone {
        fps.push((FingerprintKind::Phone, *p.as_bytes()));
    }
    Ok(fps)
}

/// Decides a lead: a duplicate of the lead holding one of its fingerprints, blocked, or
/// accepted (its claim on the fingerprints is written with it, see [`prepare`]).
async fn decide(
    api: &Api,
    project: &str,
    lead: &ValidLead,
    team: (&str, &Team),
    fps: &[(FingerprintKind, [u8; 32])],
    now: DateTime<Utc>,
) -> Result<Decided, Problem> {
    let store = &api.engine.store;
    let micros = now.timestamp_micros();
    let window = api.settings.intake.dedup_window;
    let matches = store
        .fingerprints()
        .lookup(project, fps, micros)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    for m in matches {
        // A claim commits with its lead (ADR 0029). One whose lead is not in the log was
        // left by an earlier version that claimed first and appended after, by a process
        // that stopped in between: let go once it is old.
        if !recorded(api, &stream_id(LEAD, &m.lead_id)).await? {
            let claimed_at = m.expires_at - window.num_microseconds().unwrap_or(i64::MAX);
            if micros - claimed_at > STALE_CLAIM.num_microseconds().unwrap_or(i64::MAX) {
                store
                    .fingerprints()
                    .release_lead(project, &m.lead_id)
                    .await
                    .map_err(|e| Problem::from_store(&e))?;
                continue;
            }
        }
        return Ok(Decided {
            outcome: LeadOutcome::Duplicate { of: m.lead_id },
            subject_id: m.subject_id,
            new_subject: false,
        });
    }
    // Another project's subjects (and consents) carry its prefix, like its leads, so every
    // stream a project writes says whose it is. Time-ordered ids (UUIDv7): a new subject's
    // key rows and fingerprints' subject index, and a new consent's stream, land at the end
    // of their B-trees instead of on a random page each.
    let subject_id = scoped(project, &uuid::Uuid::now_v7().to_string());
    let outcome = blocked(api, project, lead, team)
        .await?
        .unwrap_or(LeadOutcome::Accepted);
    Ok(Decided {
        outcome,
        subject_id,
        new_subject: true,
    })
}

/// Why a lead that is no duplicate is blocked, if it is.
async fn blocked(
    api: &Api,
    project: &str,
    lead: &ValidLead,
    (team, defined): (&str, &Team),
) -> Result<Option<LeadOutcome>, Problem> {
    if lead.consent.is_none() && api.settings.intake.require_consent {
        return Ok(Some(LeadOutcome::Blocked {
            reason: BlockReason::ConsentMissing,
            detail: "no consent evidence came with the lead, and this server requires it ([intake] require_consent)".into(),
        }));
    }
    if let Some(leadorch_intake::BlockReason::DisposableEmail { domain }) = &lead.blocked {
        return Ok(Some(LeadOutcome::Blocked {
            reason: BlockReason::DisposableEmail,
            detail: format!("{domain} is on the disposable-domain list"),
        }));
    }
    if defined.is_defined() && defined.max_open_leads() == Some(0) {
        return Ok(Some(LeadOutcome::Blocked {
            reason: BlockReason::TeamNotAccepting,
            detail: format!(
                "team {} takes no leads: its maximum of open leads is 0",
                bare(project, team)
            ),
        }));
    }
    Ok(None)
}

pub(crate) fn evaluate_problem(e: &leadorch_evaluate::Error) -> Problem {
    match e {
        leadorch_evaluate::Error::Engine(e) => from_engine(e),
        leadorch_evaluate::Error::Store(e) => Problem::from_store(e),
        other => {
            tracing::error!("internal error answering a request: {other}");
            Problem::internal()
        }
    }
}

/// What [`prepare`] needs of a lead beside the decision.
struct Prepared<'a> {
    project: &'a str,
    lead: &'a ValidLead,
    lead_key: &'a str,
    team: &'a str,
    fps: &'a [(FingerprintKind, [u8; 32])],
    now: DateTime<Utc>,
    metadata: &'a Metadata,
}

/// The lead's atomic append: its consent (when it has one) and the lead, sealed, with the
/// claim on its fingerprints (when accepted), its subject's keys and the answer to its
/// `Idempotency-Key`.
async fn prepare(
    api: &Api,
    p: &Prepared<'_>,
    decided: &Decided,
    answered: Option<IdempotencyRow>,
) -> Result<AtomicAppend, Problem> {
    let (project, lead, lead_key, team, now) = (p.project, p.lead, p.lead_key, p.team, p.now);
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        tracing::error!("making a lead's events ({what}): {e}");
        Problem::internal()
    };
    let mut pending = Vec::with_capacity(2);
    let mut consent_stream = None;
    let consent_id = match &lead.consent {
        Some(c) => {
            let consent_id = scoped(project, &uuid::Uuid::now_v7().to_string());
            let source_url = c.url.split(['?', '#']).next().unwrap_or(&c.url).to_string();
            let events = Consent::default()
                .decide(ConsentCommand::GrantConsent {
                    consent_id: consent_id.clone(),
                    subject_id: decided.subject_id.clone(),
                    lead_id: Some(lead_key.to_string()),
                    text: c.text.clone(),
                    source_url,
                    page_url: Some(c.url.clone()),
                    ip: lead.ip.map(|ip| ip.to_string()),
                    user_agent: lead.user_agent.clone(),
                    trustedform_cert_url: c.trustedform_cert_url.clone(),
                    jornaya_token: c.jornaya_token.clone(),
                    at: c.at,
                })
                .map_err(|e| internal("consent", &e))?;
            for e in &events {
                pending.push(Pending::of(e, now).map_err(|e| internal("consent", &e))?);
            }
            consent_stream = Some((
                stream_id(crate::routes::subjects::CONSENT, &consent_id),
                events.len(),
            ));
            Some(consent_id)
        }
        None => None,
    };
    let mut attribution = Attribution {
        gclid: lead.attribution.gclid.clone(),
        gbraid: lead.attribution.gbraid.clone(),
        wbraid: lead.attribution.wbraid.clone(),
        ..Attribution::default()
    };
    let mut metadata_map = lead.metadata.clone();
    for (name, value) in &lead.attribution.utm {
        let slot = match name.as_str() {
            "utm_source" => &mut attribution.utm_source,
            "utm_medium" => &mut attribution.utm_medium,
            "utm_campaign" => &mut attribution.utm_campaign,
            "utm_term" => &mut attribution.utm_term,
            "utm_content" => &mut attribution.utm_content,
            // Other `utm_*` parameters are kept with the client's data.
            _ => {
                metadata_map
                    .entry(name.clone())
                    .or_insert_with(|| Value::String(value.clone()));
                continue;
            }
        };
        *slot = Some(value.clone());
    }
    let arrival = LeadArrival {
        lead_id: lead_key.to_string(),
        subject_id: decided.subject_id.clone(),
        team: team.to_string(),
        campaign_id: lead.campaign_id.clone(),
        customer_id: lead.customer_id.clone(),
        source: "api".into(),
        form_id: Some(lead.form_id.clone()),
        name: lead.name.clone(),
        email: lead.email.as_ref().map(|e| e.as_str().to_string()),
        phone: lead.phone.as_ref().map(|p| p.as_str().to_string()),
        ip: lead.ip.map(|ip| ip.to_string()),
        user_agent: lead.user_agent.clone(),
        attribution,
        metadata: (!metadata_map.is_empty()).then_some(metadata_map),
        consent_id,
        at: now,
        ..LeadArrival::default()
    };
    let events = Lead::default()
        .decide(LeadCommand::ReceiveLead {
            arrival,
            outcome: decided.outcome.clone(),
        })
        .map_err(|e| internal("lead", &e))?;
    for e in &events {
        pending.push(Pending::of(e, now).map_err(|e| internal("lead", &e))?);
    }
    let new_subjects: &[&str] = if decided.new_subject {
        &[decided.subject_id.as_str()]
    } else {
        &[]
    };
    let (mut sealed, keys) = api
        .engine
        .store
        .codec
        .encode_atomic(pending, p.metadata, new_subjects)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    let mut parts = Vec::with_capacity(2);
    if let Some((stream, n)) = consent_stream {
        parts.push(StreamPart {
            stream_id: stream,
            expected: ExpectedVersion::NoStream,
            events: sealed.drain(..n).collect(),
        });
    }
    parts.push(StreamPart {
        stream_id: stream_id(LEAD, lead_key),
        expected: ExpectedVersion::NoStream,
        events: sealed,
    });
    let mut side = Vec::with_capacity(keys.len() + 2);
    if decided.outcome == LeadOutcome::Accepted && !p.fps.is_empty() {
        let micros = now.timestamp_micros();
        side.push(SideRow::Claim(OwnedClaim {
            project: project.to_string(),
            fingerprints: p.fps.to_vec(),
            lead_id: lead_key.to_string(),
            subject_id: decided.subject_id.clone(),
            expires_at: api.settings.intake.dedup_until(now).timestamp_micros(),
            now: micros,
        }));
    }
    side.extend(keys);
    side.extend(answered.map(SideRow::Idempotency));
    Ok(AtomicAppend { parts, side })
}

/// The lead stored as `lead_key` (the caller's `id`); `404` when it was never received.
pub(crate) async fn load_lead(api: &Api, lead_key: &str, id: &str) -> Result<Lead, Problem> {
    let state: Lead = api
        .engine
        .load_state(lead_key, |e| match e {
            AnyEvent::Lead(e) => Some(e),
            _ => None,
        })
        .await
        .map_err(|e| from_engine(&e))?;
    if !state.is_received() {
        return Err(Problem::not_found(format!("no lead {id} in this project")));
    }
    Ok(state)
}

/// A lead's move through the funnel.
#[derive(Debug, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `new`, `contacted`, `qualified`, `won` or `lost`.
    #[schema(
        example = "contacted",
        pattern = "^(new|contacted|qualified|won|lost)$"
    )]
    pub status: String,
    /// Personal: the CRM id of the agent who owns the lead now (sealed with the lead): 1 to
    /// 256 characters, not only spaces, no control characters.
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    pub owner: Option<String>,
    /// When it changed (RFC 3339) [default: now].
    pub at: Option<DateTime<Utc>>,
}

/// A lead's status, after a change.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct StatusAnswer {
    /// The client's lead id.
    pub lead_id: String,
    /// Its status now.
    pub status: String,
    /// Whether this request changed it (`false`: it already had this status).
    pub changed: bool,
    /// This request's trace id.
    pub trace_id: String,
}

/// Moves a lead to another funnel status, naming its owner.
#[utoipa::path(post, path = "/v1/leads/{id}/status", tag = "leads",
    params(("id" = String, Path, description = "The client's lead id", pattern = "^[A-Za-z0-9._-]{1,128}$")),
    request_body = StatusChange,
    responses(
        (status = 200, description = "The lead's status now", body = StatusAnswer),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the ingest scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lead in this project", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The lead cannot move there (closed, a duplicate, blocked, or backwards)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong (an unknown status lists the allowed ones)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn change_status(
    State(api): State<Api>,
    caller: Scoped<scope::Ingest>,
    Path(id): Path<String>,
    Body(change): Body<StatusChange>,
) -> Result<Json<StatusAnswer>, Problem> {
    check_client_id("id", &id)?;
    let status: LeadStatus =
        change
            .status
            .parse()
            .map_err(|e: leadorch_domain::lead::UnknownStatus| {
                Problem::invalid("status", e.to_string())
            })?;
    if let Some(owner) = &change.owner {
        if owner.trim().is_empty()
            || owner.chars().count() > 256
            || owner.chars().any(char::is_control)
        {
            return Err(Problem::invalid(
                "owner",
                "owner is the CRM's id of the agent: 1 to 256 characters, no control characters",
            ));
        }
    }
    let now = Utc::now();
    let at = change.at.unwrap_or(now);
    if at > now + crate::routes::capacity::MAX_SKEW {
        return Err(Problem::invalid(
            "at",
            format!("at {at} is more than 5 minutes ahead of this server's clock ({now})"),
        ));
    }
    let lead_key = scoped(&caller.project, &id);
    let state = load_lead(&api, &lead_key, &id).await?;
    let trace_id = uuid::Uuid::now_v7().to_string();
    if state.status() == Some(status) {
        return Ok(Json(StatusAnswer {
            lead_id: id,
            status: status.as_str().into(),
            changed: false,
            trace_id,
        }));
    }
    let command = LeadCommand::ChangeStatus {
        status,
        owner: change.owner.clone(),
        at,
    };
    if let Err(e) = state.decide(command.clone()) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "status-refused",
            "Status change refused",
            format!("lead {id}: {e}"),
        )
        .field("status"));
    }
    let metadata = Metadata {
        actor: caller.actor.clone(),
        trace_id: Some(trace_id.clone()),
        ..Default::default()
    };
    api.engine
        .execute::<Lead>(&lead_key, command, &metadata)
        .await
        .map_err(|e| match e {
            leadorch_core::Error::Rejected { message, .. } => Problem::new(
                StatusCode::CONFLICT,
                "status-refused",
                "Status change refused",
                format!("lead {id}: {message}"),
            )
            .field("status"),
            other => from_engine(&other),
        })?;
    if let Some(team) = state.team() {
        crate::backlog::lead_changed(&api, team).await;
    }
    Ok(Json(StatusAnswer {
        lead_id: id,
        status: status.as_str().into(),
        changed: true,
        trace_id,
    }))
}
