#!/usr/bin/env python3
"""Checks captured Google Ads REST bodies against Google's own v26 schema.

Input: a JSON Lines file, one capture per line:
    {"rpc": "MutateCampaigns", "kind": "request" | "response" | "error", "body": <json>}
written by the client's capture hook (what leadorch sends and receives) and by the fake
server (what it answers), so neither side can drift from the real API.

Each body is parsed with the official protos of the `google-ads` PyPI package
(`json_format.Parse`, unknown fields rejected), and, because Parse is lenient where the
REST surface is not, also checked for:
  - lowerCamelCase keys only (Parse also accepts snake_case);
  - 64-bit integers as JSON strings (Parse also accepts numbers);
  - no `customerId` / `pageSize` in request bodies (the id travels in the path; page size
    is no longer supported);
  - update-mask paths valid for the mutated resource (`FieldMask.IsValidForDescriptor`);
  - error envelopes shaped like Google's, with every GoogleAdsFailure detail parsing.

Usage:
    google_ads.py CAPTURES.jsonl   exit 0 when every capture conforms, 1 otherwise
    google_ads.py --self-test      the checker's own known-good and known-bad bodies
"""

import json
import re
import sys

from google.ads.googleads.v26.errors.types import errors as errors_types
from google.ads.googleads.v26.resources.types import campaign as campaign_types
from google.ads.googleads.v26.resources.types import campaign_budget as budget_types
from google.ads.googleads.v26.resources.types import campaign_criterion as criterion_types
from google.ads.googleads.v26.services.types import campaign_budget_service
from google.ads.googleads.v26.services.types import campaign_criterion_service
from google.ads.googleads.v26.services.types import campaign_service
from google.ads.googleads.v26.services.types import customer_service
from google.ads.googleads.v26.services.types import google_ads_service
from google.protobuf import descriptor as pb_descriptor
from google.protobuf import json_format

API = "v26"
FAILURE_TYPE = f"type.googleapis.com/google.ads.googleads.{API}.errors.GoogleAdsFailure"

REQUESTS = {
    "Search": google_ads_service.SearchGoogleAdsRequest,
    "SearchStream": google_ads_service.SearchGoogleAdsStreamRequest,
    "MutateCampaigns": campaign_service.MutateCampaignsRequest,
    "MutateCampaignBudgets": campaign_budget_service.MutateCampaignBudgetsRequest,
    "MutateCampaignCriteria": campaign_criterion_service.MutateCampaignCriteriaRequest,
}
RESPONSES = {
    "ListAccessibleCustomers": customer_service.ListAccessibleCustomersResponse,
    "Search": google_ads_service.SearchGoogleAdsResponse,
    "SearchStream": google_ads_service.SearchGoogleAdsStreamResponse,
    "MutateCampaigns": campaign_service.MutateCampaignsResponse,
    "MutateCampaignBudgets": campaign_budget_service.MutateCampaignBudgetsResponse,
    "MutateCampaignCriteria": campaign_criterion_service.MutateCampaignCriteriaResponse,
}
# The resource an operation's updateMask applies to.
MUTATED = {
    "MutateCampaigns": campaign_types.Campaign,
    "MutateCampaignBudgets": budget_types.CampaignBudget,
    "MutateCampaignCriteria": criterion_types.CampaignCriterion,
}
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
INT64 = {
    pb_descriptor.FieldDescriptor.TYPE_INT64,
    pb_descriptor.FieldDescriptor.TYPE_UINT64,
    pb_descriptor.FieldDescriptor.TYPE_SINT64,
    pb_descriptor.FieldDescriptor.TYPE_FIXED64,
    pb_descriptor.FieldDescriptor.TYPE_SFIXED64,
}
# Well-known types whose JSON form is not an object of their fields.
SPECIAL = {"google.protobuf.FieldMask", "google.protobuf.Any", "google.protobuf.Struct",
           "google.protobuf.Value", "google.protobuf.Duration", "google.protobuf.Timestamp",
           "google.protobuf.ListValue"}


def is_repeated(field):
    flag = getattr(field, "is_repeated", None)  # protobuf >= 5.28
    if flag is not None:
        return flag
    return field.label == field.LABEL_REPEATED


def walk(value, descriptor, path, problems):
    """Checks keys and 64-bit integer encodings of `value` against a message descriptor."""
    if descriptor.full_name in SPECIAL:
        return
    if not isinstance(value, dict):
        problems.append(f"{path or '$'}: expected an object for {descriptor.full_name}")
        return
    by_json = {f.json_name: f for f in descriptor.fields}
    for key, v in value.items():
        where = f"{path}.{key}" if path else key
        if key == "@type":
            continue
        if not CAMEL.match(key):
            problems.append(f"{where}: key is not lowerCamelCase")
        field = by_json.get(key)
        if field is None:
            continue  # Parse reports unknown fields
        items = v if is_repeated(field) and isinstance(v, list) else [v]
        for i, item in enumerate(items):
            at = f"{where}[{i}]" if items is v else where
            if field.type in INT64 and not isinstance(item, str):
                problems.append(f"{at}: 64-bit integer must be a JSON string, found {item!r}")
            elif field.type == field.TYPE_ENUM and not isinstance(item, str):
                problems.append(f"{at}: enum must be given by name, found {item!r}")
            elif field.type == field.TYPE_MESSAGE and item is not None:
                walk(item, field.message_type, at, problems)


def parse(body, message_class, problems, where):
    pb = message_class.pb()()
    try:
        json_format.Parse(json.dumps(body), pb, ignore_unknown_fields=False)
    except json_format.ParseError as e:
        problems.append(f"{where}: {e}")
        return None
    walk(body, pb.DESCRIPTOR, "", problems)
    return pb


def check_request(rpc, body, problems):
    if rpc == "ListAccessibleCustomers":
        if body not in (None, {}):
            problems.append("ListAccessibleCustomers is a GET without a body")
        return
    cls = REQUESTS.get(rpc)
    if cls is None:
        problems.append(f"unknown rpc {rpc!r}")
        return
    if not isinstance(body, dict):
        problems.append("request body must be a JSON object")
        return
    for forbidden in ("customerId", "customer_id", "pageSize", "page_size"):
        if forbidden in body:
            problems.append(f"{forbidden} must not be in the body")
    pb = parse(body, cls, problems, "schema")
    if pb is None or rpc not in MUTATED:
        return
    resource = MUTATED[rpc].pb().DESCRIPTOR
    for i, op in enumerate(pb.operations):
        if op.HasField("update_mask") and not op.update_mask.IsValidForDescriptor(resource):
            problems.append(
                f"operations[{i}].updateMask {list(op.update_mask.paths)} is not valid for "
                f"{resource.name}")
        if op.HasField("update_mask") and not op.update_mask.paths:
            problems.append(f"operations[{i}].updateMask is empty")


def check_response(rpc, body, problems):
    cls = RESPONSES.get(rpc)
    if cls is None:
        problems.append(f"unknown rpc {rpc!r}")
        return
    if rpc == "SearchStream":
        if not isinstance(body, list):
            problems.append("searchStream answers a JSON array of chunks")
            return
        for i, chunk in enumerate(body):
            parse(chunk, cls, problems, f"chunk {i}")
        return
    parse(body, cls, problems, "schema")


def check_error(body, problems):
    if not isinstance(body, dict) or set(body) != {"error"}:
        problems.append('an error body is {"error": {...}} and nothing else')
        return
    err = body["error"]
    for key in ("code", "message", "status"):
        if key not in err:
            problems.append(f"error.{key} is missing")
    if not isinstance(err.get("code"), int):
        problems.append("error.code must be the HTTP status as a number")
    unknown = set(err) - {"code", "message", "status", "details"}
    if unknown:
        problems.append(f"unknown keys in error: {sorted(unknown)}")
    for i, detail in enumerate(err.get("details", [])):
        if detail.get("@type") != FAILURE_TYPE:
            continue
        failure = {k: v for k, v in detail.items() if k != "@type"}
        parse(failure, errors_types.GoogleAdsFailure, problems, f"details[{i}]")


def check(record):
    problems = []
    rpc, kind, body = record.get("rpc"), record.get("kind"), record.get("body")
    if kind == "request":
        check_request(rpc, body, problems)
    elif kind == "response":
        check_response(rpc, body, problems)
    elif kind == "error":
        check_error(body, problems)
    else:
        problems.append(f"unknown kind {kind!r}")
    return problems


def run(path):
    failures, total = 0, 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            total += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"{path}:{n}: not JSON: {e}")
                failures += 1
                continue
            for p in check(record):
                failures += 1
                print(f"{path}:{n}: {record.get('rpc')} {record.get('kind')}: {p}")
    if total == 0:
        print(f"{path}: no captures")
        return 1
    if failures:
        print(f"{failures} problem(s) in {total} captures")
        return 1
    print(f"{total} captures conform to the Google Ads API {API} schema")
    return 0


GOOD = [
    {"rpc": "MutateCampaigns", "kind": "request", "body": {
        "operations": [{"updateMask": "status", "update": {
            "resourceName": "customers/1234567890/campaigns/111", "status": "PAUSED"}}],
        "partialFailure": False, "validateOnly": False,
        "responseContentType": "MUTABLE_RESOURCE"}},
    {"rpc": "MutateCampaigns", "kind": "request", "body": {
        "operations": [{"updateMask": "targetCpa.targetCpaMicros", "update": {
            "resourceName": "customers/1/campaigns/2",
            "targetCpa": {"targetCpaMicros": "1500000"}}}]}},
    {"rpc": "MutateCampaignBudgets", "kind": "request", "body": {
        "operations": [{"updateMask": "amountMicros", "update": {
            "resourceName": "customers/1/campaignBudgets/9", "amountMicros": "50000000"}}]}},
    {"rpc": "MutateCampaignCriteria", "kind": "request", "body": {
        "operations": [
            {"remove": "customers/1/campaignCriteria/2~77"},
            {"create": {"campaign": "customers/1/campaigns/2", "adSchedule": {
                "dayOfWeek": "MONDAY", "startHour": 9, "startMinute": "ZERO",
                "endHour": 17, "endMinute": "THIRTY"}, "bidModifier": 1.2}}]}},
    {"rpc": "Search", "kind": "request", "body": {"query": "SELECT campaign.id FROM campaign"}},
    {"rpc": "Search", "kind": "response", "body": {"results": [{
        "campaign": {"resourceName": "customers/1234567890/campaigns/111", "id": "111",
                     "name": "Brand", "status": "ENABLED"},
        "metrics": {"impressions": "340", "clicks": "12", "costMicros": "3450000",
                    "conversions": 1.5}}], "nextPageToken": "abc"}},
    {"rpc": "SearchStream", "kind": "response", "body": [{"results": [], "fieldMask": "campaign.id",
                                                         "requestId": "r1"}]},
    {"rpc": "ListAccessibleCustomers", "kind": "response",
     "body": {"resourceNames": ["customers/1234567890"]}},
    {"rpc": "MutateCampaigns", "kind": "error", "body": {"error": {
        "code": 429, "message": "Too many requests", "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": FAILURE_TYPE, "errors": [{
            "errorCode": {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}, "message": "m",
            "details": {"quotaErrorDetails": {"rateScope": "ACCOUNT", "rateName": "x",
                                              "retryDelay": "30s"}}}],
            "requestId": "r2"}]}}},
]
BAD = [
    ("snake_case key", {"rpc": "MutateCampaigns", "kind": "request", "body": {"operations": [
        {"update_mask": "status", "update": {"resourceName": "customers/1/campaigns/2",
                                              "status": "PAUSED"}}]}}),
    ("customerId in body", {"rpc": "Search", "kind": "request",
                            "body": {"customerId": "1", "query": "SELECT campaign.id FROM campaign"}}),
    ("pageSize", {"rpc": "Search", "kind": "request",
                  "body": {"query": "SELECT campaign.id FROM campaign", "pageSize": 10}}),
    ("bad enum", {"rpc": "MutateCampaigns", "kind": "request", "body": {"operations": [
        {"updateMask": "status", "update": {"resourceName": "customers/1/campaigns/2",
                                             "status": "STOPPED"}}]}}),
    ("int64 as number", {"rpc": "MutateCampaignBudgets", "kind": "request", "body": {
        "operations": [{"updateMask": "amountMicros", "update": {
            "resourceName": "customers/1/campaignBudgets/9", "amountMicros": 50000000}}]}}),
    ("bad update mask", {"rpc": "MutateCampaigns", "kind": "request", "body": {"operations": [
        {"updateMask": "dailyBudget", "update": {"resourceName": "customers/1/campaigns/2"}}]}}),
    ("unknown field", {"rpc": "MutateCampaignCriteria", "kind": "request", "body": {
        "operations": [{"create": {"campaign": "customers/1/campaigns/2",
                                   "adSchedule": {"dayOfWeek": "MONDAY", "startMinute": "TEN"}}}]}}),
    ("error without envelope", {"rpc": "Search", "kind": "error", "body": {"code": 500}}),
    ("stream not an array", {"rpc": "SearchStream", "kind": "response", "body": {"results": []}}),
]


def self_test():
    bad = 0
    for record in GOOD:
        problems = check(record)
        if problems:
            bad += 1
            print(f"known-good {record['rpc']} {record['kind']} rejected: {problems}")
    for name, record in BAD:
        if not check(record):
            bad += 1
            print(f"known-bad body accepted: {name}")
    if bad:
        return 1
    print(f"self-test: {len(GOOD)} good bodies accepted, {len(BAD)} bad bodies rejected")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        sys.exit(self_test())
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(run(sys.argv[1]))
