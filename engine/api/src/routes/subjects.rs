//! Data subjects over HTTP (ADR 0026): find the person behind leads, give them their data
//! (GDPR Art. 15/20), erase them by crypto-shredding (Art. 17), withdraw their consent
//! (Art. 7(3)); and `GET /v1/leads/{id}`, a lead without its personal fields, which is how a
//! person is found once their fingerprints have expired.
//!
//! - `POST /v1/subjects/lookup` (scope `admin`): an email and/or phone, checked and normalised
//!   as `POST /v1/leads` does, fingerprinted with the project's key and looked up. Fingerprints
//!   live only for the dedup window (`[intake] dedup_window`, 90 days by default); an older
//!   person is found by a lead id instead. The values travel in the body, never in the URL,
//!   so they reach no access log.
//! - `GET /v1/leads/{id}` (scope `read`): the lead's funnel facts and its `subject_id`.
//! - `GET /v1/subjects/{subject_id}/export` (scope `admin`): everything held about the
//!   subject, personal fields opened, as a JSON attachment; the request is recorded.
//! - `DELETE /v1/subjects/{subject_id}` (scope `admin`): the subject's keys destroyed and
//!   their fingerprints deleted; erasing again answers what is left to do (nothing).
//! - `POST /v1/subjects/{subject_id}/consent/withdraw` (scope `ingest`, or `admin`): every
//!   consent of the subject not yet withdrawn is withdrawn.
//!
//! A subject belongs to a project through its leads: one whose lead streams are not all the
//! caller's project's, or that has no lead, is `404`, the same answer as for a subject that
//! does not exist, so another project's subjects are never confirmed. Every recorded event
//! names the caller's actor (`api-key:<key id>`, or the local operator's) and the request's
//! trace id. No email, phone or other personal value is ever logged or quoted in a problem.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use leadorch_core::projection::Projections;
use leadorch_core::subjects;
use leadorch_domain::lead::{BlockedLead, LeadEvent};
use leadorch_domain::{stream_id, AnyEvent, Consent, ConsentCommand};
use leadorch_intake::{Email, E164};
use leadorch_store::fingerprints::FingerprintKind;
use leadorch_store::{Metadata, Reveal};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use utoipa::ToSchema;

use crate::auth::{scope, Caller, Scoped};
use crate::body::{Body, OptionalBody};
use crate::ids::{bare, check_client_id, scoped};
use crate::problem::{from_engine, FieldIssue};
use crate::routes::leads::{load_lead, recorded, LEAD};
use crate::{Api, Problem};

/// Who to look for: an email address, a phone number, or both.
#[derive(Debug, Default, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// Personal: an email address, in any letter case (as `POST /v1/leads` takes it).
    #[schema(value_type = Option<String>, example = "ann@example.org")]
    pub email: Option<Value>,
    /// Personal: a phone number, `+` and country code, or in `[intake] default_region`,
    /// written any way `POST /v1/leads` takes it.
    #[schema(value_type = Option<String>, example = "+31 20 123 4567")]
    pub phone: Option<Value>,
}

/// One data subject a lookup found.
#[derive(Debug, Serialize, Deserialize, ToSchema, TS)]
pub struct SubjectMatch {
    /// The data subject: what export, erasure and consent withdrawal take.
    #[schema(example = "0193b0c4-6f1e-4a53-9d57-2f0b3c8e7a10")]
    pub subject_id: String,
    /// The person's first lead in the dedup window (the one whose fingerprints matched).
    #[schema(example = "f-1029")]
    pub lead_id: String,
    /// What matched: `email`, `phone` or both.
    pub matched: Vec<String>,
}

/// What a lookup found.
#[derive(Debug, Serialize, Deserialize, ToSchema, TS)]
pub struct LookupAnswer {
    /// The subjects found (two when the email is one person's and the phone another's).
    pub subjects: Vec<SubjectMatch>,
}

/// Finds the data subject behind an email address or phone number.
///
/// The values are checked and normalised as `POST /v1/leads` does (the email in any letter
/// case, the phone written any way), fingerprinted with the project's key and looked up among
/// the live fingerprints. Fingerprints live only for the dedup window (`[intake]
/// dedup_window`, 90 days by default): a person whose leads are all older is not found here,
/// but by a lead id (`GET /v1/leads/{id}` gives its `subject_id`). An erased person is not
/// found either: erasure deletes their fingerprints.
#[utoipa::path(post, path = "/v1/subjects/lookup", tag = "subjects",
    request_body = LookupRequest,
    responses(
        (status = 200, description = "The subjects found", body = LookupAnswer),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No lead of this project within the dedup window has this email or phone", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither email nor phone, or one is not valid (every field at fault in errors)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn lookup(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Body(request): Body<LookupRequest>,
) -> Result<Json<LookupAnswer>, Problem> {
    let (email, phone) = check_lookup(&api, &request)?;
    let fingerprinter = api
        .fingerprinter(&caller.project)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    let mut fps = Vec::new();
    if let Some(e) = &email {
        fps.push((FingerprintKind::Email, *fingerprinter.email(e).as_bytes()));
    }
    if let Some(p) = &phone {
        fps.push((FingerprintKind::Phone, *fingerprinter.phone(p).as_bytes()));
    }
    let matches = api
        .engine
        .store
        .fingerprints()
        .lookup(&caller.project, &fps, Utc::now().timestamp_micros())
        .await
        .map_err(|e| Problem::from_store(&e))?;
    let mut subjects: Vec<SubjectMatch> = Vec::new();
    for m in matches {
        // A claim whose lead is not in the log is a lead being recorded now (or one whose
        // process stopped before recording it): there is nothing of that person to find yet.
        if !recorded(&api, &stream_id(LEAD, &m.lead_id)).await? {
            continue;
        }
        let lead_id = bare(&caller.project, &m.lead_id);
        let kind = m.kind.as_str().to_string();
        match subjects
            .iter_mut()
            .find(|s| s.subject_id == bare(&caller.project, &m.subject_id) && s.lead_id == lead_id)
        {
            Some(found) => found.matched.push(kind),
            None => subjects.push(SubjectMatch {
                subject_id: bare(&caller.project, &m.subject_id),
                lead_id,
                matched: vec![kind],
            }),
        }
    }
    if subjects.is_empty() {
        return Err(Problem::not_found(format!(
            "no lead of this project received in the last {} (the dedup window, which is how long fingerprints are kept) has this {}; a person whose leads are older, or who was erased, is not found this way: GET /v1/leads/{{id}} gives a lead's subject_id",
            window_text(api.settings.intake.dedup_window),
            match (&email, &phone) {
                (Some(_), Some(_)) => "email or phone",
                (Some(_), None) => "email",
                _ => "phone",
            }
        )));
    }
    Ok(Json(LookupAnswer { subjects }))
}

/// The lookup's email and phone, checked and normalised; a `422` naming every field at fault
/// (never quoting a value).
fn check_lookup(
    api: &Api,
    request: &LookupRequest,
) -> Result<(Option<Email>, Option<E164>), Problem> {
    let mut errors = Vec::new();
    let mut text = |field: &str, v: &Option<Value>| -> Option<String> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                errors.push(FieldIssue {
                    field: field.to_string(),
                    problem: "must be a string".into(),
                });
                None
            }
        }
    };
    let email_text = text("email", &request.email);
    let phone_text = text("phone", &request.phone);
    let given = email_text.is_some() || phone_text.is_some();
    let email = email_text.and_then(|e| match Email::parse(&e) {
        Ok(e) => Some(e),
        Err(problem) => {
            errors.push(FieldIssue {
                field: "email".into(),
                problem,
            });
            None
        }
    });
    let phone =
        phone_text.and_then(
            |p| match E164::parse(&p, api.settings.intake.default_region) {
                Ok(p) => Some(p),
                Err(problem) => {
                    errors.push(FieldIssue {
                        field: "phone".into(),
                        problem,
                    });
                    None
                }
            },
        );
    if !given && errors.is_empty() {
        errors.push(FieldIssue {
            field: "email".into(),
            problem: "is required when there is no phone: give an email, a phone number or both"
                .into(),
        });
    }
    if errors.is_empty() {
        Ok((email, phone))
    } else {
        Err(invalid_fields(errors))
    }
}

fn invalid_fields(errors: Vec<FieldIssue>) -> Problem {
    let detail = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.problem))
        .collect::<Vec<_>>()
        .join("; ");
    let mut p = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
        "Invalid field",
        detail,
    );
    if let Some(first) = errors.first() {
        p = p.field(first.field.clone());
    }
    p.errors = Box::new(errors);
    p
}

/// `90 days`, `36 hours`, `45 minutes`.
fn window_text(window: chrono::Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if window.num_days() > 0 && window == chrono::Duration::days(window.num_days()) {
        plural(window.num_days(), "day")
    } else if window.num_hours() > 0 && window == chrono::Duration::hours(window.num_hours()) {
        plural(window.num_hours(), "hour")
    } else {
        plural(window.num_minutes().max(1), "minute")
    }
}

/// A lead as `GET /v1/leads/{id}` shows it: its funnel facts, never its personal fields.
#[derive(Debug, Serialize, Deserialize, ToSchema, TS)]
pub struct LeadView {
    /// The client's lead id.
    #[schema(example = "f-1029")]
    pub lead_id: String,
    /// The form it came from.
    pub form_id: Option<String>,
    /// The team it went (or would have gone) to.
    pub team: Option<String>,
    /// `accepted`, `duplicate` or `blocked`.
    #[schema(example = "accepted")]
    pub outcome: String,
    /// Why, for a duplicate or a blocked lead; `null` when accepted.
    pub reason: Option<String>,
    /// For a duplicate: the first lead's id.
    pub duplicate_of: Option<String>,
    /// For a blocked lead: `disposable_email`, `consent_missing` or `team_not_accepting`.
    pub blocked: Option<String>,
    /// Its funnel status (`new`, `contacted`, `qualified`, `won`, `lost`); `null` for a
    /// duplicate or a blocked lead, which are not in the funnel.
    pub status: Option<String>,
    /// The person behind it: what export, erasure and consent withdrawal take.
    pub subject_id: Option<String>,
    /// The consent recorded with it, if any.
    pub consent_id: Option<String>,
    /// When it arrived.
    pub received_at: Option<DateTime<Utc>>,
    /// When it last changed (arrival or status change).
    pub updated_at: Option<DateTime<Utc>>,
}

/// A lead of the caller's project, without its personal fields.
///
/// Gives the lead's `subject_id`: how a person is found whose leads are older than the dedup
/// window (`POST /v1/subjects/lookup` no longer finds them).
#[utoipa::path(get, path = "/v1/leads/{id}", tag = "leads",
    params(("id" = String, Path, description = "The client's lead id", pattern = "^[A-Za-z0-9._-]{1,128}$")),
    responses(
        (status = 200, description = "The lead", body = LeadView),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lead in this project", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The id is not a lead id", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn lead(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Path(id): Path<String>,
) -> Result<Json<LeadView>, Problem> {
    check_client_id("id", &id)?;
    let project = &caller.project;
    let lead_key = scoped(project, &id);
    let state = load_lead(&api, &lead_key, &id).await?;
    let duplicate_of = state.duplicate_of().map(|of| bare(project, of));
    let blocked = state.blocked();
    let (outcome, reason) = match (&duplicate_of, blocked) {
        (Some(of), _) => (
            "duplicate",
            Some(format!(
                "duplicate of lead {of}: the same email or phone within the dedup window"
            )),
        ),
        (None, Some(_)) => ("blocked", blocked_detail(&api, &lead_key).await?),
        (None, None) => ("accepted", None),
    };
    Ok(Json(LeadView {
        lead_id: id,
        form_id: state.form_id().map(str::to_string),
        team: state.team().map(|t| bare(project, t)),
        outcome: outcome.into(),
        reason,
        duplicate_of,
        blocked: blocked.map(|b| b.as_str().to_string()),
        status: state.status().map(|s| s.as_str().to_string()),
        subject_id: state.subject_id().map(|id| bare(&caller.project, id)),
        consent_id: state.consent_id().map(str::to_string),
        received_at: state.received_at(),
        updated_at: state.updated_at(),
    }))
}

/// The recorded why of a blocked lead (in clear in its `LeadBlocked` event, never quoting
/// the lead's personal fields).
async fn blocked_detail(api: &Api, lead_key: &str) -> Result<Option<String>, Problem> {
    let store = &api.engine.store;
    let mut decoder = store.codec.decoder(Reveal::Redact);
    let records = store
        .log
        .read_stream(&stream_id(LEAD, lead_key))
        .await
        .map_err(|e| Problem::from_store(&e))?;
    for rec in &records {
        let event = leadorch_core::projection::decode(&mut decoder, rec)
            .await
            .map_err(|e| from_engine(&e))?;
        if let AnyEvent::Lead(LeadEvent::LeadBlocked(BlockedLead { detail, .. })) = event {
            return Ok(Some(detail));
        }
    }
    Ok(None)
}

/// A subject's export as `GET /v1/subjects/{subject_id}/export` answers it: the document
/// `leadorch subjects export` writes (`format` `leadorch.subject-export.v1`), and the trace id
/// of the request.
#[derive(Debug, Serialize, Deserialize, ToSchema, TS)]
pub struct ExportAnswer {
    /// Format marker for machine readers: `leadorch.subject-export.v1`.
    #[schema(example = "leadorch.subject-export.v1")]
    pub format: String,
    /// The subject.
    pub subject_id: String,
    /// When the export was made (RFC 3339).
    pub exported_at: String,
    /// Whether the subject was erased on request (their personal fields are then `null`).
    pub erased: bool,
    /// Purposes whose keys still open personal data (`contact`, `consent`, …).
    pub readable_purposes: Vec<String>,
    /// The subject's events, in log order, personal fields opened.
    pub events: Vec<ExportedEvent>,
    /// This request's trace id (also in the recorded `ExportRequested` event's metadata).
    pub trace_id: String,
}

/// One event of an export.
#[derive(Debug, Serialize, Deserialize, ToSchema, TS)]
pub struct ExportedEvent {
    /// Global position in the log.
    pub position: u64,
    /// Its stream (`lead:f-1029`, `consent:…`).
    pub stream: String,
    /// Its type (`LeadReceived`, `ConsentGranted`, …).
    pub event_type: String,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// The event, personal fields opened (`null` where erased or expired).
    #[schema(value_type = Object)]
    pub data: Value,
}

/// Everything held about a data subject, personal fields opened: the answer to an access or
/// portability request (GDPR Art. 15/20).
///
/// Sent as a JSON attachment (`Content-Disposition: attachment`, `Cache-Control: no-store`);
/// the request is recorded (`ExportRequested`). Only a subject whose leads are this project's
/// is exported; any other is `404`.
#[utoipa::path(get, path = "/v1/subjects/{subject_id}/export", tag = "subjects",
    params(("subject_id" = String, Path, description = "The data subject (from a lookup or a lead)", pattern = "^[A-Za-z0-9._:-]{1,128}$")),
    responses(
        (status = 200, description = "The subject's data, as an attachment", body = ExportAnswer),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subject in this project", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The subject id is not one", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn export(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path(subject_id): Path<String>,
) -> Result<Response, Problem> {
    check_subject_id(&subject_id)?;
    // Another project's subjects carry its prefix, like its leads; callers name them bare.
    let stored = scoped(&caller.project, &subject_id);
    let _one_at_a_time = api.subjects.lock().await;
    owned(&api, &caller.project, &stored).await?;
    let (trace_id, metadata) = traced(&caller);
    let export = subjects::export_as(&api.engine, &stored, &metadata, Utc::now())
        .await
        .map_err(|e| core_problem(&e, &subject_id))?;
    let answer = ExportAnswer {
        format: export.format.to_string(),
        subject_id: bare(&caller.project, &export.subject_id),
        exported_at: export.exported_at,
        erased: export.erased,
        readable_purposes: export
            .readable_purposes
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        events: export
            .events
            .into_iter()
            .map(|e| ExportedEvent {
                position: e.position,
                stream: e.stream,
                event_type: e.event_type,
                recorded_at: e.recorded_at,
                data: e.data,
            })
            .collect(),
        trace_id,
    };
    let body = serde_json::to_vec_pretty(&answer).map_err(|e| {
        tracing::error!("writing a subject export: {e}");
        Problem::internal()
    })?;
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // The subject id is checked to `[A-Za-z0-9._:-]`, which a quoted filename takes as is.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"subject-{}.json\"",
        subject_id.replace(':', "_")
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// What an erasure did.
#[derive(Debug, Serialize, Deserialize, ToSchema, TS)]
pub struct ErasureAnswer {
    /// The subject.
    pub subject_id: String,
    /// Keys destroyed by this request (`contact`, `consent`, …); empty when erased before.
    pub keys_destroyed: Vec<String>,
    /// Events whose personal fields are now unreadable.
    pub events_affected: usize,
    /// Whether the subject had been erased before (nothing more is recorded then).
    pub already_erased: bool,
    /// Dedup fingerprints of the subject deleted by this request: a later lead of theirs is
    /// new, no duplicate, and a lookup no longer finds them.
    pub fingerprints_deleted: u64,
    /// This request's trace id (also in the recorded `SubjectErased` event's metadata).
    pub trace_id: String,
}

/// Erases a data subject by crypto-shredding (GDPR Art. 17).
///
/// Their keys are destroyed, so every personal field of theirs in the log is unreadable for
/// good while the log's hash chain stays whole; their dedup fingerprints are deleted; the
/// erasure is recorded (`SubjectErased`). Erasing an erased subject again is `200` with
/// `already_erased: true` (and destroys any key made since). Only a subject whose leads are
/// this project's is erased; any other is `404`.
#[utoipa::path(delete, path = "/v1/subjects/{subject_id}", tag = "subjects",
    params(("subject_id" = String, Path, description = "The data subject (from a lookup or a lead)", pattern = "^[A-Za-z0-9._:-]{1,128}$")),
    responses(
        (status = 200, description = "Erased (now or before)", body = ErasureAnswer),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subject in this project", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The subject id is not one", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn erase(
    State(api): State<Api>,
    caller: Scoped<scope::Admin>,
    Path(subject_id): Path<String>,
) -> Result<Json<ErasureAnswer>, Problem> {
    check_subject_id(&subject_id)?;
    // Another project's subjects carry its prefix, like its leads; callers name them bare.
    let stored = scoped(&caller.project, &subject_id);
    let _one_at_a_time = api.subjects.lock().await;
    owned(&api, &caller.project, &stored).await?;
    let (trace_id, metadata) = traced(&caller);
    let report = subjects::erase_as(&api.engine, &stored, &metadata, Utc::now())
        .await
        .map_err(|e| core_problem(&e, &subject_id))?;
    Ok(Json(ErasureAnswer {
        subject_id: bare(&caller.project, &report.subject_id),
        keys_destroyed: report
            .keys_destroyed
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        events_affected: report.events_affected,
        already_erased: report.already_erased,
        fingerprints_deleted: report.fingerprints_deleted,
        trace_id,
    }))
}

/// Why consent is withdrawn (the body may be left out).
#[derive(Debug, Default, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// Why, if the person said so: at most 500 characters, stored **in clear** with the
    /// withdrawal, so a category (`unsubscribed by email`), never personal details.
    #[schema(example = "unsubscribed by email")]
    pub reason: Option<String>,
}

/// Which consents a withdrawal withdrew.
#[derive(Debug, Serialize, Deserialize, ToSchema, TS)]
pub struct WithdrawAnswer {
    /// The subject.
    pub subject_id: String,
    /// Consents withdrawn by this request (`ConsentWithdrawn` recorded for each).
    pub withdrawn: Vec<String>,
    /// Consents of the subject that were withdrawn before.
    pub already_withdrawn: Vec<String>,
    /// This request's trace id (also in the recorded events' metadata).
    pub trace_id: String,
}

/// Most characters of a withdrawal's reason.
const MAX_REASON: usize = 500;

/// Withdraws every consent of a data subject that is not withdrawn yet (GDPR Art. 7(3)).
///
/// Each consent the subject gave (with any of their leads) gets a `ConsentWithdrawn`; the
/// evidence of the consent itself stays, as Art. 7(1) asks. Withdrawing again withdraws
/// nothing (`withdrawn` empty, the consents in `already_withdrawn`). Needs the `ingest` scope
/// (the systems that hear an opt-out are the ones that send leads) or `admin`. Only a subject
/// whose leads are this project's; any other is `404`.
#[utoipa::path(post, path = "/v1/subjects/{subject_id}/consent/withdraw", tag = "subjects",
    params(("subject_id" = String, Path, description = "The data subject (from a lookup or a lead)", pattern = "^[A-Za-z0-9._:-]{1,128}$")),
    request_body(content = Option<WithdrawRequest>, description = "May be left out"),
    responses(
        (status = 200, description = "What was withdrawn", body = WithdrawAnswer),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key holds neither ingest nor admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subject in this project", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn withdraw_consent(
    State(api): State<Api>,
    caller: Scoped<scope::Ingest>,
    Path(subject_id): Path<String>,
    OptionalBody(request): OptionalBody<WithdrawRequest>,
) -> Result<Json<WithdrawAnswer>, Problem> {
    check_subject_id(&subject_id)?;
    // Another project's subjects carry its prefix, like its leads; callers name them bare.
    let stored = scoped(&caller.project, &subject_id);
    let reason = match request.reason.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r) if r.chars().count() > MAX_REASON || r.chars().any(char::is_control) => {
            return Err(Problem::invalid(
                "reason",
                format!("reason is at most {MAX_REASON} characters, no control characters"),
            ))
        }
        Some(r) => Some(r.to_string()),
    };
    let _one_at_a_time = api.subjects.lock().await;
    let views = owned(&api, &caller.project, &stored).await?;
    let consents: Vec<String> = views
        .subject_index
        .get(&stored)
        .map(|doc| doc.ids_of(CONSENT).map(str::to_string).collect())
        .unwrap_or_default();
    let (trace_id, metadata) = traced(&caller);
    let now = Utc::now();
    let mut withdrawn = Vec::new();
    let mut already_withdrawn = Vec::new();
    for consent_id in consents {
        let state = views.consents.get(&consent_id).map(|d| &d.state);
        if state.is_some_and(|c| c.withdrawn_at().is_some()) {
            already_withdrawn.push(consent_id);
            continue;
        }
        if !state.is_some_and(Consent::is_active) {
            continue;
        }
        let done = api
            .engine
            .execute::<Consent>(
                &consent_id,
                ConsentCommand::WithdrawConsent {
                    reason: reason.clone(),
                    at: now,
                },
                &metadata,
            )
            .await;
        match done {
            Ok(()) => withdrawn.push(consent_id),
            // Withdrawn in between (by another process): as asked.
            Err(leadorch_core::Error::Rejected { message, .. })
                if message.contains("withdrawn") =>
            {
                already_withdrawn.push(consent_id)
            }
            Err(e) => return Err(from_engine(&e)),
        }
    }
    Ok(Json(WithdrawAnswer {
        subject_id,
        withdrawn,
        already_withdrawn,
        trace_id,
    }))
}

pub(crate) const CONSENT: &str = "consent";

/// A subject id as it may appear in a path: 1–128 of `A-Z a-z 0-9 . _ - :` (the API's are
/// UUIDs; `member:<id>` and ids of seeded data have the others).
fn check_subject_id(id: &str) -> Result<(), Problem> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
    if ok {
        Ok(())
    } else {
        Err(Problem::invalid(
            "subject_id",
            "a subject id is 1 to 128 of A-Z, a-z, 0-9, '.', '_', '-' and ':' (take it from a lookup or a lead)",
        ))
    }
}

/// The ids of a subject's streams of one aggregate type.
/// The read models caught up, when `subject_id` is a subject of `project`
/// ([`subjects::owned_by`]). Anything else is the same `404` as a subject that does not exist.
async fn owned(api: &Api, project: &str, subject_id: &str) -> Result<Projections, Problem> {
    subjects::owned_by(&api.engine, project, subject_id)
        .await
        .map_err(|e| from_engine(&e))?
        .ok_or_else(|| not_found(subject_id))
}

fn not_found(subject_id: &str) -> Problem {
    Problem::not_found(format!(
        "no data subject {subject_id} in this project (a subject is found with POST /v1/subjects/lookup, or as a lead's subject_id)"
    ))
}

/// A new trace id, and the metadata of the events this request records.
fn traced(caller: &Caller) -> (String, Metadata) {
    let trace_id = uuid::Uuid::now_v7().to_string();
    let metadata = Metadata {
        actor: caller.actor.clone(),
        trace_id: Some(trace_id.clone()),
        ..Default::default()
    };
    (trace_id, metadata)
}

/// The problem for an error of core's export or erasure.
fn core_problem(e: &leadorch_core::Error, subject_id: &str) -> Problem {
    match e {
        leadorch_core::Error::NotFound(_) => not_found(subject_id),
        other => from_engine(other),
    }
}
