//! `campaigns:mutate`, `campaignBudgets:mutate` and `campaignCriteria:mutate`: strict checks of
//! the JSON body (the REST surface: lowerCamelCase keys, int64 as strings, enum names), then
//! Google's semantics (update masks, validate-only, partial failure, ad schedule limits).
//!
//! Test infrastructure, never shipped. One job, the three mutate methods: each checks its
//! body as strictly as Google does, which is most of the file, and they share the operation
//! and partial-failure machinery.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::errors::{failure_detail, AdsErr, ApiFailure};
use super::model::{
    AdScheduleSlot, AppliedMutation, Bidding, CampaignStatus, Customer, DayOfWeek, FakeCampaign,
    MinuteOfHour, Route,
};

/// The shape a JSON value must have.
#[derive(Debug)]
enum S {
    Obj(&'static [(&'static str, &'static S)]),
    Str,
    Int64,
    Int32,
    Double,
    Bool,
    Enum(&'static [&'static str]),
    Ops(&'static S),
}

static STR: S = S::Str;
static INT64: S = S::Int64;
static INT32: S = S::Int32;
static DOUBLE: S = S::Double;
static BOOL: S = S::Bool;
static STATUS: S = S::Enum(&["ENABLED", "PAUSED", "REMOVED"]);
static DAY: S = S::Enum(&[
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
]);
static MINUTE: S = S::Enum(&["ZERO", "FIFTEEN", "THIRTY", "FORTY_FIVE"]);
static CONTENT_TYPE: S = S::Enum(&["RESOURCE_NAME_ONLY", "MUTABLE_RESOURCE"]);
static EMPTY: S = S::Obj(&[]);
static TARGET_CPA: S = S::Obj(&[("targetCpaMicros", &INT64)]);
static TARGET_ROAS: S = S::Obj(&[("targetRoas", &DOUBLE)]);
static CAMPAIGN: S = S::Obj(&[
    ("resourceName", &STR),
    ("id", &INT64),
    ("name", &STR),
    ("status", &STATUS),
    ("campaignBudget", &STR),
    ("targetCpa", &TARGET_CPA),
    ("targetRoas", &TARGET_ROAS),
    ("manualCpc", &EMPTY),
    ("maximizeConversions", &EMPTY),
]);
static BUDGET: S = S::Obj(&[
    ("resourceName", &STR),
    ("id", &INT64),
    ("amountMicros", &INT64),
]);
static AD_SCHEDULE: S = S::Obj(&[
    ("dayOfWeek", &DAY),
    ("startHour", &INT32),
    ("startMinute", &MINUTE),
    ("endHour", &INT32),
    ("endMinute", &MINUTE),
]);
static CRITERION: S = S::Obj(&[
    ("resourceName", &STR),
    ("campaign", &STR),
    ("criterionId", &INT64),
    ("bidModifier", &DOUBLE),
    ("adSchedule", &AD_SCHEDULE),
]);
static CAMPAIGN_OP: S = S::Obj(&[
    ("updateMask", &STR),
    ("create", &CAMPAIGN),
    ("update", &CAMPAIGN),
    ("remove", &STR),
]);
static BUDGET_OP: S = S::Obj(&[
    ("updateMask", &STR),
    ("create", &BUDGET),
    ("update", &BUDGET),
    ("remove", &STR),
]);
static CRITERION_OP: S = S::Obj(&[
    ("updateMask", &STR),
    ("create", &CRITERION),
    ("update", &CRITERION),
    ("remove", &STR),
]);
static CAMPAIGN_OPS: S = S::Ops(&CAMPAIGN_OP);
static BUDGET_OPS: S = S::Ops(&BUDGET_OP);
static CRITERION_OPS: S = S::Ops(&CRITERION_OP);

/// The update-mask paths the fake applies, per resource.
const CAMPAIGN_MASK: &[&str] = &[
    "status",
    "name",
    "targetCpa.targetCpaMicros",
    "targetRoas.targetRoas",
    "manualCpc",
    "maximizeConversions",
];
const BUDGET_MASK: &[&str] = &["amountMicros"];
const CRITERION_MASK: &[&str] = &["bidModifier"];
const CRITERION_IMMUTABLE: &[&str] = &[
    "campaign",
    "adSchedule",
    "adSchedule.dayOfWeek",
    "adSchedule.startHour",
    "adSchedule.startMinute",
    "adSchedule.endHour",
    "adSchedule.endMinute",
];

/// Ad schedules per campaign and day Google allows.
pub const MAX_SCHEDULES_PER_DAY: usize = 6;

fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn looks_camel(key: &str) -> bool {
    key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Location path as `(proto field name, index)`.
type Path = Vec<(String, Option<usize>)>;

fn located(mut e: AdsErr, path: &Path) -> AdsErr {
    for (name, index) in path {
        e = e.at(name, *index);
    }
    e
}

fn dotted(path: &Path) -> String {
    path.iter()
        .map(|(n, i)| match i {
            Some(i) => format!("{n}[{i}]"),
            None => n.clone(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Checks `v` against `s`; every problem found is pushed to `errs`.
fn check(v: &Value, s: &S, path: &mut Path, errs: &mut Vec<AdsErr>) {
    let type_err = |what: &str, path: &Path| {
        located(
            AdsErr::new(
                "fieldError",
                "INVALID_VALUE",
                format!("Invalid value at '{}' ({what}): {v}", dotted(path)),
            ),
            path,
        )
    };
    match s {
        S::Obj(fields) => {
            let Some(obj) = v.as_object() else {
                errs.push(type_err("an object", path));
                return;
            };
            for (key, value) in obj {
                match fields.iter().find(|(k, _)| k == key) {
                    Some((_, inner)) => {
                        path.push((snake(key), None));
                        check(value, inner, path, errs);
                        path.pop();
                    }
                    None => {
                        let hint = if looks_camel(key) {
                            String::new()
                        } else {
                            " (JSON field names are lowerCamelCase)".to_owned()
                        };
                        let at = if path.is_empty() {
                            String::new()
                        } else {
                            format!(" at '{}'", dotted(path))
                        };
                        path.push((key.clone(), None));
                        errs.push(located(
                            AdsErr::new(
                                "fieldError",
                                "INVALID_VALUE",
                                format!(
                                    "Invalid JSON payload received. Unknown name \"{key}\"{at}: \
                                     Cannot find field.{hint}"
                                ),
                            ),
                            path,
                        ));
                        path.pop();
                    }
                }
            }
        }
        S::Str if !v.is_string() => errs.push(type_err("TYPE_STRING", path)),
        S::Bool if !v.is_boolean() => errs.push(type_err("TYPE_BOOL", path)),
        S::Double if !v.is_number() => errs.push(type_err("TYPE_DOUBLE", path)),
        S::Int32 if !(v.is_i64() && v.as_i64().is_some_and(|i| i32::try_from(i).is_ok())) => {
            errs.push(type_err("TYPE_INT32", path))
        }
        S::Int64 => match v.as_str().map(str::parse::<i64>) {
            Some(Ok(_)) => {}
            Some(Err(_)) => errs.push(type_err("TYPE_INT64", path)),
            None => errs.push(located(
                AdsErr::new(
                    "fieldError",
                    "INVALID_VALUE",
                    format!(
                        "Invalid value at '{}' (TYPE_INT64): 64-bit integers travel as JSON \
                         strings, found {v}",
                        dotted(path)
                    ),
                ),
                path,
            )),
        },
        S::Enum(values) if !v.as_str().is_some_and(|s| values.contains(&s)) => {
            errs.push(located(
                AdsErr::new(
                    "requestError",
                    "INVALID_ENUM_VALUE",
                    format!(
                        "Invalid value at '{}': {v} is not one of {}",
                        dotted(path),
                        values.join(", ")
                    ),
                ),
                path,
            ));
        }
        _ => {}
    }
}

/// The kind of mutate request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Campaigns,
    Budgets,
    Criteria,
}

impl Service {
    pub(crate) fn route(self) -> Route {
        match self {
            Service::Campaigns => Route::MutateCampaigns,
            Service::Budgets => Route::MutateCampaignBudgets,
            Service::Criteria => Route::MutateCampaignCriteria,
        }
    }

    fn ops_schema(self) -> &'static S {
        match self {
            Service::Campaigns => &CAMPAIGN_OPS,
            Service::Budgets => &BUDGET_OPS,
            Service::Criteria => &CRITERION_OPS,
        }
    }

    fn result_key(self) -> &'static str {
        match self {
            Service::Campaigns => "campaign",
            Service::Budgets => "campaignBudget",
            Service::Criteria => "campaignCriterion",
        }
    }
}

/// A successful mutate: the response body, and the new state unless validate-only.
pub(crate) struct Outcome {
    pub(crate) response: Value,
    pub(crate) applied: Vec<AppliedMutation>,
    pub(crate) new_state: Option<Customer>,
}

/// What one operation did to the working copy.
enum Done {
    Campaign(i64),
    Budget(i64),
    Criterion(i64, i64),
    Removed(String),
}

/// Runs one mutate request against a copy of `customer`.
pub(crate) fn mutate(
    service: Service,
    customer_id: &str,
    customer: &Customer,
    body: &Value,
    request_id: &str,
) -> Result<Outcome, ApiFailure> {
    let Some(obj) = body.as_object() else {
        return Err(ApiFailure::invalid(vec![AdsErr::new(
            "fieldError",
            "INVALID_VALUE",
            "Invalid JSON payload received: the body must be a JSON object.",
        )]));
    };
    let mut errs = Vec::new();
    for (key, value) in obj {
        let mut path: Path = vec![(snake(key), None)];
        match key.as_str() {
            "operations" => {
                if !value.is_array() {
                    errs.push(located(
                        AdsErr::new("fieldError", "INVALID_VALUE", "operations must be a list"),
                        &path,
                    ));
                }
            }
            "partialFailure" | "validateOnly" => check(value, &BOOL, &mut path, &mut errs),
            "responseContentType" => check(value, &CONTENT_TYPE, &mut path, &mut errs),
            "customerId" | "customer_id" => errs.push(AdsErr::new(
                "requestError",
                "INVALID_CUSTOMER_ID",
                format!("'{key}' must not be in the body: the customer id travels in the URL path only."),
            ).at(key, None)),
            _ => {
                path[0].0 = key.clone();
                let hint = if looks_camel(key) { "" } else { " (JSON field names are lowerCamelCase)" };
                errs.push(located(
                    AdsErr::new(
                        "fieldError",
                        "INVALID_VALUE",
                        format!("Invalid JSON payload received. Unknown name \"{key}\": Cannot find field.{hint}"),
                    ),
                    &path,
                ));
            }
        }
    }
    if !errs.is_empty() {
        return Err(ApiFailure::invalid(errs));
    }
    let ops = obj
        .get("operations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if ops.is_empty() {
        return Err(ApiFailure::invalid(vec![AdsErr::new(
            "requestError",
            "OPERATION_REQUIRED",
            "At least one operation is required.",
        )]));
    }
    if ops.len() > 10_000 {
        return Err(ApiFailure::invalid(vec![AdsErr::new(
            "requestError",
            "TOO_MANY_MUTATE_OPERATIONS",
            "Too many operations in one request (10,000 at most).",
        )]));
    }
    let flag = |k: &str| obj.get(k).and_then(Value::as_bool).unwrap_or(false);
    let partial = flag("partialFailure");
    let validate_only = flag("validateOnly");
    let full_resource =
        obj.get("responseContentType").and_then(Value::as_str) == Some("MUTABLE_RESOURCE");

    let S::Ops(op_schema) = service.ops_schema() else {
        unreachable!("ops schemas are S::Ops")
    };
    let mut work = customer.clone();
    let mut failed: BTreeMap<usize, Vec<AdsErr>> = BTreeMap::new();
    let mut done: BTreeMap<usize, Done> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        let mut schema_errs = Vec::new();
        check(op, op_schema, &mut Vec::new(), &mut schema_errs);
        let result = if schema_errs.is_empty() {
            apply(service, customer_id, &mut work, op).map_err(|e| vec![e])
        } else {
            Err(schema_errs)
        };
        match result {
            Ok(d) => {
                done.insert(i, d);
            }
            Err(es) => {
                failed.insert(i, es.into_iter().map(|e| e.in_operation(i)).collect());
            }
        }
    }
    if service == Service::Criteria {
        check_schedules(customer, &mut work, &mut done, &mut failed);
    }

    let failures: Vec<AdsErr> = failed.values().flatten().cloned().collect();
    if !failures.is_empty() && !partial {
        return Err(ApiFailure::invalid(failures));
    }
    let mut response = Map::new();
    if !validate_only {
        let results: Vec<Value> = (0..ops.len())
            .map(|i| match done.get(&i) {
                Some(d) => result_json(service, customer_id, &work, d, full_resource),
                None => json!({}),
            })
            .collect();
        response.insert("results".to_owned(), Value::Array(results));
    }
    if !failures.is_empty() {
        response.insert(
            "partialFailureError".to_owned(),
            json!({
                "code": 3,
                "message": format!(
                    "Multiple errors in ‘details’. First error: {}",
                    failures[0].to_json()["message"].as_str().unwrap_or_default()
                ),
                "details": [failure_detail(&failures, request_id)],
            }),
        );
    }
    let applied = if validate_only {
        Vec::new()
    } else {
        done.iter()
            .map(|(&i, d)| {
                let op = &ops[i];
                let kind = ["create", "update", "remove"]
                    .into_iter()
                    .find(|k| op.get(*k).is_some())
                    .unwrap_or("update");
                AppliedMutation {
                    route: service.route(),
                    customer_id: customer_id.to_owned(),
                    operation: kind.to_owned(),
                    resource_name: resource_name(service, customer_id, d),
                    update_mask: op
                        .get("updateMask")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    body: op.clone(),
                }
            })
            .collect()
    };
    Ok(Outcome {
        response: Value::Object(response),
        applied,
        new_state: (!validate_only).then_some(work),
    })
}

fn resource_name(service: Service, cid: &str, d: &Done) -> String {
    match (service, d) {
        (_, Done::Removed(rn)) => rn.clone(),
        (_, Done::Campaign(id)) => format!("customers/{cid}/campaigns/{id}"),
        (_, Done::Budget(id)) => format!("customers/{cid}/campaignBudgets/{id}"),
        (_, Done::Criterion(c, k)) => format!("customers/{cid}/campaignCriteria/{c}~{k}"),
    }
}

fn result_json(service: Service, cid: &str, work: &Customer, d: &Done, full: bool) -> Value {
    let rn = resource_name(service, cid, d);
    let mut out = json!({ "resourceName": rn });
    if !full {
        return out;
    }
    let resource = match d {
        Done::Campaign(id) => work.campaigns.get(id).map(|c| campaign_json(cid, c)),
        Done::Budget(id) => work
            .campaigns
            .values()
            .find(|c| c.budget_id == *id)
            .map(|c| {
                json!({
                    "resourceName": c.budget_resource_name(cid),
                    "id": c.budget_id.to_string(),
                    "amountMicros": c.budget_amount_micros.to_string(),
                })
            }),
        Done::Criterion(campaign, criterion) => work.campaigns.get(campaign).and_then(|c| {
            c.ad_schedule
                .iter()
                .find(|s| s.criterion_id == *criterion)
                .map(|s| criterion_json(cid, c, s))
        }),
        Done::Removed(_) => None,
    };
    if let Some(r) = resource {
        out[service.result_key()] = r;
    }
    out
}

/// A campaign as the API shows it.
pub(crate) fn campaign_json(cid: &str, c: &FakeCampaign) -> Value {
    let mut v = json!({
        "resourceName": c.resource_name(cid),
        "id": c.id.to_string(),
        "name": c.name,
        "status": c.status.as_str(),
        "campaignBudget": c.budget_resource_name(cid),
        "biddingStrategyType": c.bidding.strategy_type(),
    });
    match c.bidding {
        Bidding::ManualCpc => v["manualCpc"] = json!({}),
        Bidding::MaximizeConversions => v["maximizeConversions"] = json!({}),
        Bidding::TargetCpa { target_cpa_micros } => {
            v["targetCpa"] = json!({"targetCpaMicros": target_cpa_micros.to_string()})
        }
        Bidding::TargetRoas { target_roas } => v["targetRoas"] = json!({"targetRoas": target_roas}),
    }
    v
}

fn criterion_json(cid: &str, c: &FakeCampaign, s: &AdScheduleSlot) -> Value {
    let mut v = json!({
        "resourceName": format!("customers/{cid}/campaignCriteria/{}~{}", c.id, s.criterion_id),
        "campaign": c.resource_name(cid),
        "criterionId": s.criterion_id.to_string(),
        "type": "AD_SCHEDULE",
        "adSchedule": {
            "dayOfWeek": s.day.as_str(),
            "startHour": s.start_hour,
            "startMinute": s.start_minute.as_str(),
            "endHour": s.end_hour,
            "endMinute": s.end_minute.as_str(),
        },
    });
    if let Some(m) = s.bid_modifier {
        v["bidModifier"] = json!(m);
    }
    v
}

fn req_err(code: &'static str, msg: impl Into<String>) -> AdsErr {
    AdsErr::new("requestError", code, msg)
}

/// Parses `customers/{cid}/{collection}/{id}` (id may be `a~b`), checking the customer.
fn parse_name<'a>(
    rn: &'a str,
    cid: &str,
    collection: &str,
    field: &str,
) -> Result<&'a str, AdsErr> {
    let malformed = || {
        req_err(
            "RESOURCE_NAME_MALFORMED",
            format!("Resource name '{rn}' is malformed: expected customers/{{customer_id}}/{collection}/{{id}}."),
        )
        .at(field, None)
    };
    let parts: Vec<&str> = rn.split('/').collect();
    let [customers, customer, coll, id] = parts.as_slice() else {
        return Err(malformed());
    };
    if *customers != "customers"
        || *coll != collection
        || customer.is_empty()
        || !customer.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(malformed());
    }
    if id.is_empty()
        || !id
            .split('~')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(malformed());
    }
    if *customer != cid {
        return Err(req_err(
            "INVALID_CUSTOMER_ID",
            format!("Resource name '{rn}' belongs to customer {customer}, but the request is for customer {cid}."),
        )
        .at(field, None));
    }
    Ok(id)
}

fn parse_i64(s: &str) -> i64 {
    s.parse().unwrap_or_default()
}

fn not_found(rn: &str, field: &str) -> AdsErr {
    AdsErr::new(
        "mutateError",
        "RESOURCE_NOT_FOUND",
        format!("Resource was not found: {rn}"),
    )
    .at(field, None)
}

/// The value at a dotted camelCase path of a JSON object.
fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

/// Checks an update mask against the paths the fake applies and the update's content.
fn mask_paths(op: &Value, allowed: &[&str], immutable: &[&str]) -> Result<Vec<String>, AdsErr> {
    let update = &op["update"];
    let mask = op.get("updateMask").and_then(Value::as_str).unwrap_or("");
    let paths: Vec<String> = mask
        .split(',')
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if paths.is_empty() {
        return Err(AdsErr::new(
            "fieldMaskError",
            "FIELD_MASK_MISSING",
            "The update mask is missing or empty.",
        )
        .at("update_mask", None));
    }
    for p in &paths {
        if immutable.contains(&p.as_str()) {
            return Err(AdsErr::new("fieldError", "IMMUTABLE_FIELD", format!("'{p}' cannot be modified once created; remove the criterion and create a new one.")).at("update", None).at(&snake(p), None));
        }
        if !allowed.contains(&p.as_str()) {
            return Err(AdsErr::new(
                "fieldMaskError",
                "FIELD_NOT_FOUND",
                format!(
                    "The field mask path '{p}' does not name a field the fake can update ({}).",
                    allowed.join(", ")
                ),
            )
            .at("update_mask", None));
        }
        if lookup(update, p).is_none() {
            return Err(AdsErr::new(
                "fieldError",
                "REQUIRED",
                format!("The update mask names '{p}' but the update does not set it."),
            )
            .at("update", None)
            .at(&snake(p), None));
        }
    }
    Ok(paths)
}

/// Exactly one of create / update / remove; the mask only with update.
fn operation_kind(op: &Value) -> Result<&'static str, AdsErr> {
    let present: Vec<&'static str> = ["create", "update", "remove"]
        .into_iter()
        .filter(|k| op.get(*k).is_some())
        .collect();
    match present.as_slice() {
        [] => Err(req_err(
            "OPERATION_REQUIRED",
            "The operation sets none of create, update, remove.",
        )),
        [one] => {
            if *one != "update" && op.get("updateMask").is_some() {
                return Err(AdsErr::new(
                    "fieldMaskError",
                    "FIELD_MASK_NOT_ALLOWED",
                    format!("updateMask is only allowed with update, not {one}."),
                )
                .at("update_mask", None));
            }
            Ok(one)
        }
        _ => Err(AdsErr::new(
            "fieldError",
            "VALUE_MUST_BE_UNSET",
            "Only one of create, update, remove may be set.",
        )),
    }
}

fn apply(service: Service, cid: &str, work: &mut Customer, op: &Value) -> Result<Done, AdsErr> {
    let kind = operation_kind(op)?;
    match service {
        Service::Campaigns => apply_campaign(cid, work, op, kind),
        Service::Budgets => apply_budget(cid, work, op, kind),
        Service::Criteria => apply_criterion(cid, work, op, kind),
    }
}

fn required_name<'a>(v: &'a Value, field: &str) -> Result<&'a str, AdsErr> {
    v.as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
        req_err("RESOURCE_NAME_MISSING", "The resource name is missing.").at(field, None)
    })
}

fn apply_campaign(cid: &str, work: &mut Customer, op: &Value, kind: &str) -> Result<Done, AdsErr> {
    match kind {
        "create" => Err(AdsErr::new(
            "mutateError",
            "MUTATE_NOT_ALLOWED",
            "The fake does not create campaigns; add them with FakeGoogleAds::add_campaign.",
        )
        .at("create", None)),
        "remove" => {
            let rn = required_name(&op["remove"], "remove")?;
            let id = parse_i64(parse_name(rn, cid, "campaigns", "remove")?);
            let c = work
                .campaigns
                .get_mut(&id)
                .ok_or_else(|| not_found(rn, "remove"))?;
            if c.status == CampaignStatus::Removed {
                return Err(AdsErr::new(
                    "operationAccessDeniedError",
                    "OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE",
                    format!("{rn} is already removed."),
                )
                .at("remove", None));
            }
            c.status = CampaignStatus::Removed;
            Ok(Done::Removed(rn.to_owned()))
        }
        _ => {
            let update = &op["update"];
            let rn = required_name(&update["resourceName"], "update")?;
            let id = parse_i64(parse_name(rn, cid, "campaigns", "update")?);
            let paths = mask_paths(op, CAMPAIGN_MASK, &[])?;
            let mut c = work
                .campaigns
                .get(&id)
                .cloned()
                .ok_or_else(|| not_found(rn, "update"))?;
            if c.status == CampaignStatus::Removed {
                return Err(AdsErr::new(
                    "operationAccessDeniedError",
                    "OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE",
                    format!("{rn} is removed and cannot be updated."),
                )
                .at("update", None));
            }
            for p in &paths {
                let v = lookup(update, p).expect("mask_paths checked presence");
                let at = |e: AdsErr| e.at("update", None).at(&snake(p), None);
                match p.as_str() {
                    "status" => {
                        c.status = CampaignStatus::parse(v.as_str().unwrap_or(""))
                            .expect("schema checked the enum")
                    }
                    "name" => {
                        let name = v.as_str().unwrap_or("");
                        if name.trim().is_empty() {
                            return Err(at(AdsErr::new(
                                "fieldError",
                                "REQUIRED",
                                "The campaign name cannot be empty.",
                            )));
                        }
                        c.name = name.to_owned();
                    }
                    "targetCpa.targetCpaMicros" => {
                        let micros = parse_i64(v.as_str().unwrap_or(""));
                        if micros <= 0 {
                            return Err(at(AdsErr::new(
                                "rangeError",
                                "TOO_LOW",
                                "targetCpaMicros must be positive.",
                            )));
                        }
                        let unit = work.unit_micros();
                        if micros % unit != 0 {
                            return Err(at(AdsErr::new(
                                "biddingError",
                                "BID_TOO_MANY_FRACTIONAL_DIGITS",
                                format!(
                                    "targetCpaMicros must be a multiple of the {} minimum unit ({unit} micros).",
                                    work.currency
                                ),
                            )));
                        }
                        c.bidding = Bidding::TargetCpa {
                            target_cpa_micros: micros,
                        };
                    }
                    "targetRoas.targetRoas" => {
                        let roas = v.as_f64().unwrap_or(0.0);
                        if roas < 0.01 {
                            return Err(at(AdsErr::new(
                                "rangeError",
                                "TOO_LOW",
                                "targetRoas must be at least 0.01.",
                            )));
                        }
                        if roas > 1000.0 {
                            return Err(at(AdsErr::new(
                                "rangeError",
                                "TOO_HIGH",
                                "targetRoas must be at most 1000.",
                            )));
                        }
                        c.bidding = Bidding::TargetRoas { target_roas: roas };
                    }
                    "manualCpc" => c.bidding = Bidding::ManualCpc,
                    _ => c.bidding = Bidding::MaximizeConversions,
                }
            }
            work.campaigns.insert(id, c);
            Ok(Done::Campaign(id))
        }
    }
}

fn apply_budget(cid: &str, work: &mut Customer, op: &Value, kind: &str) -> Result<Done, AdsErr> {
    if kind != "update" {
        return Err(AdsErr::new(
            "mutateError",
            "MUTATE_NOT_ALLOWED",
            format!("The fake only updates campaign budgets ({kind} is not supported)."),
        )
        .at(kind, None));
    }
    let update = &op["update"];
    let rn = required_name(&update["resourceName"], "update")?;
    let id = parse_i64(parse_name(rn, cid, "campaignBudgets", "update")?);
    mask_paths(op, BUDGET_MASK, &[])?;
    if !work.campaigns.values().any(|c| c.budget_id == id) {
        return Err(not_found(rn, "update"));
    }
    let micros = parse_i64(update["amountMicros"].as_str().unwrap_or(""));
    let at = |e: AdsErr| e.at("update", None).at("amount_micros", None);
    if micros < 0 {
        return Err(at(AdsErr::new(
            "campaignBudgetError",
            "NEGATIVE_MONEY_AMOUNT",
            "amountMicros cannot be negative.",
        )));
    }
    let unit = work.unit_micros();
    if micros < unit {
        return Err(at(AdsErr::new(
            "campaignBudgetError",
            "MONEY_AMOUNT_LESS_THAN_CURRENCY_MINIMUM_CPC",
            format!(
                "amountMicros is below the {} minimum ({unit} micros).",
                work.currency
            ),
        )));
    }
    if micros % unit != 0 {
        return Err(at(AdsErr::new(
            "campaignBudgetError",
            "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT",
            format!(
                "amountMicros must be a multiple of the {} minimum unit ({unit} micros).",
                work.currency
            ),
        )));
    }
    for c in work.campaigns.values_mut().filter(|c| c.budget_id == id) {
        c.budget_amount_micros = micros;
    }
    Ok(Done::Budget(id))
}

fn bid_modifier(v: &Value, at: impl Fn(AdsErr) -> AdsErr) -> Result<Option<f64>, AdsErr> {
    let Some(m) = v.as_f64() else { return Ok(None) };
    if m < 0.1 {
        return Err(at(AdsErr::new(
            "rangeError",
            "TOO_LOW",
            "bidModifier must be at least 0.1.",
        )));
    }
    if m > 10.0 {
        return Err(at(AdsErr::new(
            "rangeError",
            "TOO_HIGH",
            "bidModifier must be at most 10.",
        )));
    }
    Ok(Some(m))
}

fn criterion_ids(rn: &str, cid: &str, field: &str) -> Result<(i64, i64), AdsErr> {
    let id = parse_name(rn, cid, "campaignCriteria", field)?;
    match id.split_once('~') {
        Some((c, k)) => Ok((parse_i64(c), parse_i64(k))),
        None => Err(req_err("RESOURCE_NAME_MALFORMED", format!("Resource name '{rn}' is malformed: expected customers/{{customer_id}}/campaignCriteria/{{campaign_id}}~{{criterion_id}}.")).at(field, None)),
    }
}

fn apply_criterion(cid: &str, work: &mut Customer, op: &Value, kind: &str) -> Result<Done, AdsErr> {
    match kind {
        "remove" => {
            let rn = required_name(&op["remove"], "remove")?;
            let (campaign, criterion) = criterion_ids(rn, cid, "remove")?;
            let c = work
                .campaigns
                .get_mut(&campaign)
                .ok_or_else(|| not_found(rn, "remove"))?;
            let before = c.ad_schedule.len();
            c.ad_schedule.retain(|s| s.criterion_id != criterion);
            if c.ad_schedule.len() == before {
                return Err(not_found(rn, "remove"));
            }
            Ok(Done::Removed(rn.to_owned()))
        }
        "update" => {
            let update = &op["update"];
            let rn = required_name(&update["resourceName"], "update")?;
            let (campaign, criterion) = criterion_ids(rn, cid, "update")?;
            mask_paths(op, CRITERION_MASK, CRITERION_IMMUTABLE)?;
            let modifier = bid_modifier(&update["bidModifier"], |e| {
                e.at("update", None).at("bid_modifier", None)
            })?;
            let slot = work
                .campaigns
                .get_mut(&campaign)
                .and_then(|c| {
                    c.ad_schedule
                        .iter_mut()
                        .find(|s| s.criterion_id == criterion)
                })
                .ok_or_else(|| not_found(rn, "update"))?;
            slot.bid_modifier = modifier;
            Ok(Done::Criterion(campaign, criterion))
        }
        _ => {
            let create = &op["create"];
            let at = |f: &'static str| move |e: AdsErr| e.at("create", None).at(f, None);
            if create.get("resourceName").is_some() || create.get("criterionId").is_some() {
                return Err(AdsErr::new(
                    "fieldError",
                    "VALUE_MUST_BE_UNSET",
                    "resourceName and criterionId are assigned by the server on create.",
                )
                .at("create", None));
            }
            let campaign_rn = create["campaign"]
                .as_str()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    at("campaign")(AdsErr::new(
                        "fieldError",
                        "REQUIRED",
                        "campaign is required.",
                    ))
                })?;
            let campaign = parse_i64(
                parse_name(campaign_rn, cid, "campaigns", "create")
                    .map_err(|e| e.at("campaign", None))?,
            );
            if !work.campaigns.contains_key(&campaign) {
                return Err(at("campaign")(not_found(campaign_rn, "create")));
            }
            let Some(sched) = create.get("adSchedule") else {
                return Err(AdsErr::new(
                    "campaignCriterionError",
                    "CONCRETE_TYPE_REQUIRED",
                    "The fake creates ad schedule criteria only: adSchedule is required.",
                )
                .at("create", None));
            };
            let field = |name: &str| {
                sched.get(name).ok_or_else(|| {
                    AdsErr::new(
                        "fieldError",
                        "REQUIRED",
                        format!("adSchedule.{name} is required."),
                    )
                    .at("create", None)
                    .at("ad_schedule", None)
                    .at(&snake(name), None)
                })
            };
            let day = DayOfWeek::parse(field("dayOfWeek")?.as_str().unwrap_or(""))
                .expect("schema checked the enum");
            let start_hour = field("startHour")?.as_i64().unwrap_or(-1);
            let start_minute = MinuteOfHour::parse(field("startMinute")?.as_str().unwrap_or(""))
                .expect("schema checked the enum");
            let end_hour = field("endHour")?.as_i64().unwrap_or(-1);
            let end_minute = MinuteOfHour::parse(field("endMinute")?.as_str().unwrap_or(""))
                .expect("schema checked the enum");
            let interval = |msg: &str| {
                AdsErr::new(
                    "criterionError",
                    "AD_SCHEDULE_INVALID_TIME_INTERVAL",
                    msg.to_owned(),
                )
                .at("create", None)
                .at("ad_schedule", None)
            };
            if !(0..=23).contains(&start_hour) || !(0..=24).contains(&end_hour) {
                return Err(interval("startHour must be 0–23 and endHour 0–24."));
            }
            if end_hour == 24 && end_minute != MinuteOfHour::Zero {
                return Err(interval(
                    "An interval ending at hour 24 must end at minute ZERO.",
                ));
            }
            let slot = AdScheduleSlot {
                criterion_id: 0,
                day,
                start_hour: start_hour as u32,
                start_minute,
                end_hour: end_hour as u32,
                end_minute,
                bid_modifier: bid_modifier(&create["bidModifier"], at("bid_modifier"))?,
            };
            if slot.start() >= slot.end() {
                return Err(interval(
                    "The start of an ad schedule must be before its end.",
                ));
            }
            let criterion = work.allocate_id();
            let c = work.campaigns.get_mut(&campaign).expect("checked above");
            c.ad_schedule.push(AdScheduleSlot {
                criterion_id: criterion,
                ..slot
            });
            Ok(Done::Criterion(campaign, criterion))
        }
    }
}

/// After all operations: at most 6 intervals per campaign and day, none overlapping. The
/// creates of this request that break a rule fail; their slots leave the working copy.
fn check_schedules(
    before: &Customer,
    work: &mut Customer,
    done: &mut BTreeMap<usize, Done>,
    failed: &mut BTreeMap<usize, Vec<AdsErr>>,
) {
    let created: BTreeMap<(i64, i64), usize> =
        done.iter()
            .filter_map(|(&i, d)| match d {
                Done::Criterion(c, k)
                    if !before.campaigns.get(c).is_some_and(|camp| {
                        camp.ad_schedule.iter().any(|s| s.criterion_id == *k)
                    }) =>
                {
                    Some(((*c, *k), i))
                }
                _ => None,
            })
            .collect();
    let mut blamed: BTreeMap<usize, AdsErr> = BTreeMap::new();
    for c in work.campaigns.values() {
        for day in DayOfWeek::ALL {
            let slots: Vec<&AdScheduleSlot> =
                c.ad_schedule.iter().filter(|s| s.day == day).collect();
            let new_ops: Vec<usize> = slots
                .iter()
                .filter_map(|s| created.get(&(c.id, s.criterion_id)).copied())
                .collect();
            if slots.len() > MAX_SCHEDULES_PER_DAY {
                for &i in &new_ops {
                    blamed.entry(i).or_insert_with(|| {
                        AdsErr::new(
                            "criterionError",
                            "AD_SCHEDULE_EXCEEDED_INTERVALS_PER_DAY_LIMIT",
                            format!("Campaign {} would have {} ad schedules on {}; at most {MAX_SCHEDULES_PER_DAY} are allowed.", c.id, slots.len(), day.as_str()),
                        )
                        .at("create", None)
                    });
                }
            }
            for (a_idx, a) in slots.iter().enumerate() {
                for b in &slots[a_idx + 1..] {
                    if a.start() < b.end() && b.start() < a.end() {
                        for s in [a, b] {
                            if let Some(&i) = created.get(&(c.id, s.criterion_id)) {
                                blamed.entry(i).or_insert_with(|| {
                                    AdsErr::new(
                                        "criterionError",
                                        "AD_SCHEDULE_TIME_INTERVALS_OVERLAP",
                                        format!(
                                            "Ad schedules of campaign {} overlap on {}.",
                                            c.id,
                                            day.as_str()
                                        ),
                                    )
                                    .at("create", None)
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    let drop: BTreeSet<(i64, i64)> = created
        .iter()
        .filter(|(_, i)| blamed.contains_key(i))
        .map(|(k, _)| *k)
        .collect();
    for c in work.campaigns.values_mut() {
        c.ad_schedule
            .retain(|s| !drop.contains(&(c.id, s.criterion_id)));
    }
    for (i, e) in blamed {
        done.remove(&i);
        failed.entry(i).or_default().push(e.in_operation(i));
    }
}
