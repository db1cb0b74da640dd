//! A small subset of the Google Ads Query Language: `SELECT f, … FROM r [WHERE c AND …]
//! [ORDER BY f [ASC|DESC], …] [LIMIT n]`, over the fake's own state, answering rows shaped as
//! `GoogleAdsRow` JSON.
//!
//! Test infrastructure, never shipped. One job, the query language: its parser, filter,
//! ordering and the row shapes of its resources; splitting them would only scatter it.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::errors::AdsErr;
use super::model::{AdScheduleSlot, Customer, FakeCampaign, FakeCurrency, HourMetrics, CURRENCIES};

/// The resources the fake knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Res {
    Campaign,
    CampaignBudget,
    CampaignLabel,
    Label,
    CampaignCriterion,
    Metrics,
    Segments,
    Customer,
    CurrencyConstant,
}

impl Res {
    fn gaql(self) -> &'static str {
        match self {
            Res::Campaign => "campaign",
            Res::CampaignBudget => "campaign_budget",
            Res::CampaignLabel => "campaign_label",
            Res::Label => "label",
            Res::CampaignCriterion => "campaign_criterion",
            Res::Metrics => "metrics",
            Res::Segments => "segments",
            Res::Customer => "customer",
            Res::CurrencyConstant => "currency_constant",
        }
    }

    fn json_key(self) -> &'static str {
        match self {
            Res::Campaign => "campaign",
            Res::CampaignBudget => "campaignBudget",
            Res::CampaignLabel => "campaignLabel",
            Res::Label => "label",
            Res::CampaignCriterion => "campaignCriterion",
            Res::Metrics => "metrics",
            Res::Segments => "segments",
            Res::Customer => "customer",
            Res::CurrencyConstant => "currencyConstant",
        }
    }

    /// Resources that can follow FROM, and what may be selected with each.
    fn compatible(self) -> Option<&'static [Res]> {
        match self {
            Res::Campaign => Some(&[
                Res::Campaign,
                Res::CampaignBudget,
                Res::Metrics,
                Res::Segments,
            ]),
            Res::CampaignLabel => Some(&[Res::CampaignLabel, Res::Campaign, Res::Label]),
            Res::CampaignCriterion => Some(&[Res::CampaignCriterion, Res::Campaign]),
            Res::CampaignBudget => Some(&[Res::CampaignBudget]),
            Res::Customer => Some(&[Res::Customer]),
            Res::CurrencyConstant => Some(&[Res::CurrencyConstant]),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int64,
    Int32,
    Double,
    Str,
    Date,
    Enum(&'static [&'static str]),
}

const STATUS: &[&str] = &["UNSPECIFIED", "UNKNOWN", "ENABLED", "PAUSED", "REMOVED"];
const BIDDING: &[&str] = &[
    "UNSPECIFIED",
    "UNKNOWN",
    "MANUAL_CPC",
    "MAXIMIZE_CONVERSIONS",
    "TARGET_CPA",
    "TARGET_ROAS",
    "MAXIMIZE_CONVERSION_VALUE",
    "TARGET_SPEND",
    "MANUAL_CPM",
    "TARGET_IMPRESSION_SHARE",
];
/// `CampaignCriterionStatusEnum`.
const CRITERION_STATUS: &[&str] = &["UNSPECIFIED", "UNKNOWN", "ENABLED", "PAUSED", "REMOVED"];

const CRITERION_TYPE: &[&str] = &[
    "UNSPECIFIED",
    "UNKNOWN",
    "KEYWORD",
    "PLACEMENT",
    "DEVICE",
    "LOCATION",
    "AD_SCHEDULE",
    "AGE_RANGE",
    "GENDER",
    "LANGUAGE",
];
const DAYS: &[&str] = &[
    "UNSPECIFIED",
    "UNKNOWN",
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];
const MINUTES: &[&str] = &[
    "UNSPECIFIED",
    "UNKNOWN",
    "ZERO",
    "FIFTEEN",
    "THIRTY",
    "FORTY_FIVE",
];

/// One selectable field.
#[derive(Debug)]
pub(crate) struct FieldDef {
    name: &'static str,
    res: Res,
    kind: Kind,
}

const fn f(name: &'static str, res: Res, kind: Kind) -> FieldDef {
    FieldDef { name, res, kind }
}

static FIELDS: &[FieldDef] = &[
    f("campaign.resource_name", Res::Campaign, Kind::Str),
    f("campaign.id", Res::Campaign, Kind::Int64),
    f("campaign.name", Res::Campaign, Kind::Str),
    f("campaign.status", Res::Campaign, Kind::Enum(STATUS)),
    f(
        "campaign.bidding_strategy_type",
        Res::Campaign,
        Kind::Enum(BIDDING),
    ),
    f("campaign.campaign_budget", Res::Campaign, Kind::Str),
    f(
        "campaign.target_cpa.target_cpa_micros",
        Res::Campaign,
        Kind::Int64,
    ),
    f(
        "campaign.target_roas.target_roas",
        Res::Campaign,
        Kind::Double,
    ),
    f(
        "campaign_budget.resource_name",
        Res::CampaignBudget,
        Kind::Str,
    ),
    f("campaign_budget.id", Res::CampaignBudget, Kind::Int64),
    f(
        "campaign_budget.amount_micros",
        Res::CampaignBudget,
        Kind::Int64,
    ),
    f(
        "campaign_label.resource_name",
        Res::CampaignLabel,
        Kind::Str,
    ),
    f("campaign_label.campaign", Res::CampaignLabel, Kind::Str),
    f("campaign_label.label", Res::CampaignLabel, Kind::Str),
    f("label.resource_name", Res::Label, Kind::Str),
    f("label.id", Res::Label, Kind::Int64),
    f("label.name", Res::Label, Kind::Str),
    f(
        "campaign_criterion.resource_name",
        Res::CampaignCriterion,
        Kind::Str,
    ),
    f(
        "campaign_criterion.campaign",
        Res::CampaignCriterion,
        Kind::Str,
    ),
    f(
        "campaign_criterion.criterion_id",
        Res::CampaignCriterion,
        Kind::Int64,
    ),
    f(
        "campaign_criterion.type",
        Res::CampaignCriterion,
        Kind::Enum(CRITERION_TYPE),
    ),
    f(
        "campaign_criterion.bid_modifier",
        Res::CampaignCriterion,
        Kind::Double,
    ),
    f(
        "campaign_criterion.status",
        Res::CampaignCriterion,
        Kind::Enum(CRITERION_STATUS),
    ),
    f(
        "campaign_criterion.ad_schedule.day_of_week",
        Res::CampaignCriterion,
        Kind::Enum(DAYS),
    ),
    f(
        "campaign_criterion.ad_schedule.start_hour",
        Res::CampaignCriterion,
        Kind::Int32,
    ),
    f(
        "campaign_criterion.ad_schedule.start_minute",
        Res::CampaignCriterion,
        Kind::Enum(MINUTES),
    ),
    f(
        "campaign_criterion.ad_schedule.end_hour",
        Res::CampaignCriterion,
        Kind::Int32,
    ),
    f(
        "campaign_criterion.ad_schedule.end_minute",
        Res::CampaignCriterion,
        Kind::Enum(MINUTES),
    ),
    f("metrics.impressions", Res::Metrics, Kind::Int64),
    f("metrics.clicks", Res::Metrics, Kind::Int64),
    f("metrics.cost_micros", Res::Metrics, Kind::Int64),
    f("metrics.conversions", Res::Metrics, Kind::Double),
    f("segments.date", Res::Segments, Kind::Date),
    f("segments.hour", Res::Segments, Kind::Int32),
    f("customer.resource_name", Res::Customer, Kind::Str),
    f("customer.id", Res::Customer, Kind::Int64),
    f("customer.currency_code", Res::Customer, Kind::Str),
    f(
        "currency_constant.resource_name",
        Res::CurrencyConstant,
        Kind::Str,
    ),
    f("currency_constant.code", Res::CurrencyConstant, Kind::Str),
    f("currency_constant.name", Res::CurrencyConstant, Kind::Str),
    f("currency_constant.symbol", Res::CurrencyConstant, Kind::Str),
    f(
        "currency_constant.billable_unit_micros",
        Res::CurrencyConstant,
        Kind::Int64,
    ),
];

/// `snake_case.path` → `lowerCamelCase.path`.
pub(crate) fn camel_path(path: &str) -> String {
    path.split('.')
        .map(|seg| {
            let mut out = String::new();
            let mut upper = false;
            for c in seg.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn qerr(code: &'static str, message: impl Into<String>) -> AdsErr {
    AdsErr::new("queryError", code, message)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Sym(&'static str),
}

fn tokenize(q: &str) -> Result<Vec<Tok>, AdsErr> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.'))
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(qerr(
                            "STRING_NOT_TERMINATED",
                            "String literal is not terminated.",
                        ))
                    }
                    Some('\n') => {
                        return Err(qerr(
                            "PROHIBITED_NEWLINE_IN_STRING",
                            "Newline in a string literal.",
                        ))
                    }
                    Some('\\') => {
                        match chars.get(i + 1) {
                            Some(&e) if matches!(e, '\\' | '\'' | '"' | '%' | '_') => s.push(e),
                            _ => return Err(qerr("BAD_ESCAPE_SEQUENCE", "Bad escape sequence.")),
                        }
                        i += 2;
                    }
                    Some(&e) if e == c => {
                        i += 1;
                        break;
                    }
                    Some(&e) => {
                        s.push(e);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let sym = match two.as_str() {
                "!=" => Some("!="),
                "<=" => Some("<="),
                ">=" => Some(">="),
                _ => None,
            };
            if let Some(s) = sym {
                out.push(Tok::Sym(s));
                i += 2;
                continue;
            }
            let sym = match c {
                ',' => ",",
                '(' => "(",
                ')' => ")",
                '=' => "=",
                '<' => "<",
                '>' => ">",
                _ => return Err(qerr("BAD_SYMBOL", format!("Unexpected symbol '{c}'."))),
            };
            out.push(Tok::Sym(sym));
            i += 1;
        }
    }
    Ok(out)
}

/// A literal as written in the query, checked against the field it is compared with.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Num(f64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Cmp(&'static str, Lit),
    In(Vec<Lit>),
    NotIn(Vec<Lit>),
    Between(Lit, Lit),
}

#[derive(Debug)]
struct Cond {
    field: &'static FieldDef,
    op: Op,
}

/// A parsed query.
#[derive(Debug)]
pub(crate) struct Query {
    select: Vec<&'static FieldDef>,
    from: Res,
    conds: Vec<Cond>,
    order: Vec<(&'static FieldDef, bool)>,
    limit: Option<usize>,
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Result<Tok, AdsErr> {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or_else(|| qerr("UNEXPECTED_END_OF_QUERY", "Unexpected end of query."))?;
        self.pos += 1;
        Ok(t)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let yes = self.is_kw(kw);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        let yes = matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn field(&mut self) -> Result<&'static FieldDef, AdsErr> {
        match self.next()? {
            Tok::Ident(name) => FIELDS.iter().find(|f| f.name == name).ok_or_else(|| {
                qerr(
                    "UNRECOGNIZED_FIELD",
                    format!("Unrecognized field in the query: '{name}'."),
                )
            }),
            other => Err(qerr(
                "UNEXPECTED_INPUT",
                format!("Expected a field name, found {other:?}."),
            )),
        }
    }

    fn literal(&mut self, field: &FieldDef) -> Result<Lit, AdsErr> {
        let lit = match self.next()? {
            Tok::Num(n) => Lit::Num(
                n.parse()
                    .map_err(|_| qerr("BAD_NUMBER", format!("Bad number '{n}'.")))?,
            ),
            Tok::Str(s) => Lit::Text(s),
            Tok::Ident(s) => Lit::Text(s),
            Tok::Sym(s) => return Err(qerr("UNEXPECTED_INPUT", format!("Unexpected '{s}'."))),
        };
        match (field.kind, &lit) {
            (Kind::Int64 | Kind::Int32 | Kind::Double, Lit::Text(t)) => Err(qerr(
                "BAD_NUMBER",
                format!("'{t}' is not a number for {}.", field.name),
            )),
            (Kind::Date, Lit::Text(t)) if NaiveDate::parse_from_str(t, "%Y-%m-%d").is_err() => {
                Err(qerr(
                    "INVALID_DATE_FORMAT",
                    format!("'{t}' is not a date (YYYY-MM-DD)."),
                ))
            }
            (Kind::Enum(values), Lit::Text(t)) if !values.contains(&t.as_str()) => Err(qerr(
                "BAD_ENUM_CONSTANT",
                format!("'{t}' is not a value of {}.", field.name),
            )),
            (Kind::Str | Kind::Date | Kind::Enum(_), Lit::Num(n)) => Err(qerr(
                "BAD_VALUE",
                format!("{n} is not a valid value for {}.", field.name),
            )),
            _ => Ok(lit),
        }
    }

    fn list(&mut self, field: &FieldDef) -> Result<Vec<Lit>, AdsErr> {
        if !self.eat_sym("(") {
            return Err(qerr("EXPECTED_LIST", "Expected a list after IN."));
        }
        let mut items = Vec::new();
        if self.eat_sym(")") {
            return Err(qerr(
                "PROHIBITED_EMPTY_LIST_IN_CONDITION",
                "Empty list in a condition.",
            ));
        }
        loop {
            items.push(self.literal(field)?);
            if self.eat_sym(")") {
                return Ok(items);
            }
            if !self.eat_sym(",") {
                return Err(qerr("UNEXPECTED_INPUT", "Expected ',' or ')' in a list."));
            }
        }
    }

    fn condition(&mut self) -> Result<Cond, AdsErr> {
        let field = self.field()?;
        let op = match self.next()? {
            Tok::Sym(s @ ("=" | "!=" | "<" | "<=" | ">" | ">=")) => Op::Cmp(s, self.literal(field)?),
            Tok::Ident(k) if k.eq_ignore_ascii_case("IN") => Op::In(self.list(field)?),
            Tok::Ident(k) if k.eq_ignore_ascii_case("NOT") => {
                if !self.eat_kw("IN") {
                    return Err(qerr("BAD_OPERATOR", "The fake supports NOT only in NOT IN."));
                }
                Op::NotIn(self.list(field)?)
            }
            Tok::Ident(k) if k.eq_ignore_ascii_case("BETWEEN") => {
                let low = self.literal(field)?;
                if !self.eat_kw("AND") {
                    return Err(qerr(
                        "EXPECTED_VALUE_WITH_BETWEEN_OPERATOR",
                        "BETWEEN needs 'low AND high'.",
                    ));
                }
                Op::Between(low, self.literal(field)?)
            }
            other => {
                return Err(qerr(
                    "BAD_OPERATOR",
                    format!("Operator {other:?} is not supported by the fake (=, !=, <, <=, >, >=, IN, NOT IN, BETWEEN)."),
                ))
            }
        };
        Ok(Cond { field, op })
    }
}

/// Parses and checks a query.
pub(crate) fn parse(q: &str) -> Result<Query, AdsErr> {
    let mut p = Parser {
        toks: tokenize(q)?,
        pos: 0,
    };
    if !p.eat_kw("SELECT") {
        return Err(qerr("EXPECTED_SELECT", "The query must start with SELECT."));
    }
    let mut select = vec![p.field()?];
    while p.eat_sym(",") {
        select.push(p.field()?);
    }
    if !p.eat_kw("FROM") {
        return Err(qerr(
            "EXPECTED_FROM",
            "Expected FROM after the selected fields.",
        ));
    }
    let from = match p.next()? {
        Tok::Ident(name) => [
            Res::Campaign,
            Res::CampaignLabel,
            Res::CampaignCriterion,
            Res::CampaignBudget,
            Res::Customer,
            Res::CurrencyConstant,
        ]
        .into_iter()
        .find(|r| r.gaql() == name)
        .ok_or_else(|| {
            qerr(
                "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
                format!("Resource '{name}' is not supported in FROM by the fake."),
            )
        })?,
        other => {
            return Err(qerr(
                "UNEXPECTED_INPUT",
                format!("Expected a resource, found {other:?}."),
            ))
        }
    };
    let mut conds = Vec::new();
    if p.eat_kw("WHERE") {
        conds.push(p.condition()?);
        while p.eat_kw("AND") {
            conds.push(p.condition()?);
        }
    }
    let mut order = Vec::new();
    if p.eat_kw("ORDER") {
        if !p.eat_kw("BY") {
            return Err(qerr("EXPECTED_BY", "Expected BY after ORDER."));
        }
        loop {
            let field = p.field()?;
            let desc = if p.eat_kw("DESC") {
                true
            } else {
                p.eat_kw("ASC");
                false
            };
            order.push((field, desc));
            if !p.eat_sym(",") {
                break;
            }
        }
    }
    let mut limit = None;
    if p.eat_kw("LIMIT") {
        match p.next()? {
            Tok::Num(n) => match n.parse::<usize>() {
                Ok(0) => return Err(qerr("LIMIT_VALUE_TOO_LOW", "LIMIT must be at least 1.")),
                Ok(v) => limit = Some(v),
                Err(_) => return Err(qerr("BAD_LIMIT_VALUE", format!("Bad LIMIT '{n}'."))),
            },
            _ => return Err(qerr("BAD_LIMIT_VALUE", "LIMIT needs a number.")),
        }
    }
    if let Some(t) = p.peek() {
        return Err(qerr(
            "UNEXPECTED_INPUT",
            format!("Unexpected input at {t:?}."),
        ));
    }

    let allowed = from.compatible().unwrap_or(&[]);
    let used = select
        .iter()
        .copied()
        .chain(conds.iter().map(|c| c.field))
        .chain(order.iter().map(|(f, _)| *f));
    for field in used {
        if !allowed.contains(&field.res) {
            let code = match field.res {
                Res::Metrics => "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE",
                Res::Segments => "PROHIBITED_SEGMENT_IN_SELECT_OR_WHERE_CLAUSE",
                _ => "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
            };
            return Err(qerr(
                code,
                format!("'{}' cannot be used with FROM {}.", field.name, from.gaql()),
            ));
        }
    }
    let date_selected = select.iter().any(|f| f.name == "segments.date");
    let date_filtered = conds.iter().any(|c| {
        c.field.name == "segments.date" && !matches!(c.op, Op::NotIn(_) | Op::Cmp("!=", _))
    });
    if date_selected && !date_filtered {
        return Err(qerr(
            "EXPECTED_FILTERS_ON_DATE_RANGE",
            "segments.date in SELECT needs a finite date range in WHERE.",
        ));
    }
    Ok(Query {
        select,
        from,
        conds,
        order,
        limit,
    })
}

/// A typed value of a field in one row.
#[derive(Debug, Clone, PartialEq)]
enum V {
    I(i64),
    F(f64),
    S(String),
}

impl V {
    fn cmp_lit(&self, lit: &Lit) -> Option<Ordering> {
        match (self, lit) {
            (V::I(a), Lit::Num(b)) => (*a as f64).partial_cmp(b),
            (V::F(a), Lit::Num(b)) => a.partial_cmp(b),
            (V::S(a), Lit::Text(b)) => Some(a.as_str().cmp(b.as_str())),
            _ => None,
        }
    }

    fn cmp(&self, other: &V) -> Ordering {
        match (self, other) {
            (V::I(a), V::I(b)) => a.cmp(b),
            (V::F(a), V::F(b)) => a.total_cmp(b),
            (V::S(a), V::S(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }
}

/// One row before it becomes JSON.
#[derive(Debug, Clone)]
struct Row<'a> {
    customer: &'a str,
    /// The campaign of a campaign-based row; `None` for a customer or currency row.
    campaign: Option<&'a FakeCampaign>,
    /// The customer's own state, in a `FROM customer` row.
    account: Option<&'a Customer>,
    /// The currency of a `FROM currency_constant` row.
    currency: Option<&'static FakeCurrency>,
    label: Option<(&'a str, i64)>,
    criterion: Option<&'a AdScheduleSlot>,
    date: Option<NaiveDate>,
    hour: Option<u32>,
    metrics: Option<HourMetrics>,
}

impl Row<'_> {
    fn resource_name(&self, res: Res) -> Option<String> {
        let cu = self.customer;
        match res {
            Res::Customer => return self.account.map(|_| format!("customers/{cu}")),
            Res::CurrencyConstant => {
                return self
                    .currency
                    .map(|c| format!("currencyConstants/{}", c.code))
            }
            Res::Metrics | Res::Segments => return None,
            _ => {}
        }
        let ca = self.campaign?;
        match res {
            Res::Campaign => Some(ca.resource_name(cu)),
            Res::CampaignBudget => Some(ca.budget_resource_name(cu)),
            Res::CampaignLabel => self
                .label
                .map(|(_, id)| format!("customers/{cu}/campaignLabels/{}~{id}", ca.id)),
            Res::Label => self
                .label
                .map(|(_, id)| format!("customers/{cu}/labels/{id}")),
            Res::CampaignCriterion => self.criterion.map(|s| {
                format!(
                    "customers/{cu}/campaignCriteria/{}~{}",
                    ca.id, s.criterion_id
                )
            }),
            _ => None,
        }
    }

    fn value(&self, field: &FieldDef) -> Option<V> {
        match field.res {
            Res::Customer => {
                let account = self.account?;
                return Some(match field.name {
                    "customer.resource_name" => V::S(self.resource_name(Res::Customer)?),
                    "customer.id" => V::I(self.customer.parse().ok()?),
                    "customer.currency_code" => V::S(account.currency.to_owned()),
                    _ => return None,
                });
            }
            Res::CurrencyConstant => {
                let cur = self.currency?;
                return Some(match field.name {
                    "currency_constant.resource_name" => {
                        V::S(self.resource_name(Res::CurrencyConstant)?)
                    }
                    "currency_constant.code" => V::S(cur.code.to_owned()),
                    "currency_constant.name" => V::S(cur.name.to_owned()),
                    "currency_constant.symbol" => V::S(cur.symbol.to_owned()),
                    "currency_constant.billable_unit_micros" => V::I(cur.billable_unit_micros),
                    _ => return None,
                });
            }
            _ => {}
        }
        let c = self.campaign?;
        let m = self.metrics.unwrap_or_default();
        let s = self.criterion;
        let v = match field.name {
            "campaign.resource_name" => V::S(c.resource_name(self.customer)),
            "campaign.id" => V::I(c.id),
            "campaign.name" => V::S(c.name.clone()),
            "campaign.status" => V::S(c.status.as_str().to_owned()),
            "campaign.bidding_strategy_type" => V::S(c.bidding.strategy_type().to_owned()),
            "campaign.campaign_budget" | "campaign_budget.resource_name" => {
                V::S(c.budget_resource_name(self.customer))
            }
            "campaign.target_cpa.target_cpa_micros" => match c.bidding {
                super::model::Bidding::TargetCpa { target_cpa_micros } => V::I(target_cpa_micros),
                _ => return None,
            },
            "campaign.target_roas.target_roas" => match c.bidding {
                super::model::Bidding::TargetRoas { target_roas } => V::F(target_roas),
                _ => return None,
            },
            "campaign_budget.id" => V::I(c.budget_id),
            "campaign_budget.amount_micros" => V::I(c.budget_amount_micros),
            "campaign_label.resource_name" => V::S(self.resource_name(Res::CampaignLabel)?),
            "campaign_label.campaign" => V::S(c.resource_name(self.customer)),
            "campaign_label.label" | "label.resource_name" => V::S(self.resource_name(Res::Label)?),
            "label.id" => V::I(self.label?.1),
            "label.name" => V::S(self.label?.0.to_owned()),
            "campaign_criterion.resource_name" => V::S(self.resource_name(Res::CampaignCriterion)?),
            "campaign_criterion.campaign" => V::S(c.resource_name(self.customer)),
            "campaign_criterion.criterion_id" => V::I(s?.criterion_id),
            "campaign_criterion.type" => V::S("AD_SCHEDULE".to_owned()),
            // Removed criteria are gone from the fake's state; the rest serve.
            "campaign_criterion.status" => V::S("ENABLED".to_owned()),
            "campaign_criterion.bid_modifier" => V::F(s?.bid_modifier?),
            "campaign_criterion.ad_schedule.day_of_week" => V::S(s?.day.as_str().to_owned()),
            "campaign_criterion.ad_schedule.start_hour" => V::I(i64::from(s?.start_hour)),
            "campaign_criterion.ad_schedule.start_minute" => {
                V::S(s?.start_minute.as_str().to_owned())
            }
            "campaign_criterion.ad_schedule.end_hour" => V::I(i64::from(s?.end_hour)),
            "campaign_criterion.ad_schedule.end_minute" => V::S(s?.end_minute.as_str().to_owned()),
            "metrics.impressions" => V::I(m.impressions),
            "metrics.clicks" => V::I(m.clicks),
            "metrics.cost_micros" => V::I(m.cost_micros),
            "metrics.conversions" => V::F(m.conversions),
            "segments.date" => V::S(self.date?.format("%Y-%m-%d").to_string()),
            "segments.hour" => V::I(i64::from(self.hour?)),
            _ => return None,
        };
        Some(v)
    }

    fn matches(&self, cond: &Cond) -> bool {
        let Some(v) = self.value(cond.field) else {
            return false;
        };
        let cmp = |lit: &Lit| v.cmp_lit(lit);
        match &cond.op {
            Op::Cmp(op, lit) => {
                let Some(o) = cmp(lit) else { return false };
                match *op {
                    "=" => o == Ordering::Equal,
                    "!=" => o != Ordering::Equal,
                    "<" => o == Ordering::Less,
                    "<=" => o != Ordering::Greater,
                    ">" => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                }
            }
            Op::In(list) => list.iter().any(|l| cmp(l) == Some(Ordering::Equal)),
            Op::NotIn(list) => list.iter().all(|l| cmp(l) != Some(Ordering::Equal)),
            Op::Between(lo, hi) => {
                matches!(cmp(lo), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(cmp(hi), Some(Ordering::Less | Ordering::Equal))
            }
        }
    }

    fn to_json(&self, q: &Query) -> Value {
        let mut row = Map::new();
        let mut put = |res: Res, path: &str, value: Value| {
            let mut obj = row
                .entry(res.json_key())
                .or_insert_with(|| Value::Object(Map::new()));
            let parts: Vec<&str> = path.split('.').collect();
            for part in &parts[..parts.len() - 1] {
                obj = obj
                    .as_object_mut()
                    .expect("rows nest objects")
                    .entry(*part)
                    .or_insert_with(|| Value::Object(Map::new()));
            }
            obj.as_object_mut()
                .expect("rows nest objects")
                .insert(parts[parts.len() - 1].to_owned(), value);
        };
        let mut resources = vec![q.from];
        resources.extend(q.select.iter().map(|f| f.res));
        for res in resources {
            if let Some(name) = self.resource_name(res) {
                put(res, "resourceName", Value::String(name));
            }
        }
        for field in &q.select {
            let Some(v) = self.value(field) else { continue };
            let json = match (field.kind, v) {
                (Kind::Int64, V::I(i)) => Value::String(i.to_string()),
                (_, V::I(i)) => Value::from(i),
                (_, V::F(x)) => Value::from(x),
                (_, V::S(s)) => Value::String(s),
            };
            let path = camel_path(field.name.split_once('.').map_or("", |(_, p)| p));
            put(field.res, &path, json);
        }
        Value::Object(row)
    }
}

/// The `fieldMask` Google returns: the selected fields in lowerCamelCase.
pub(crate) fn field_mask(q: &Query) -> String {
    q.select
        .iter()
        .map(|f| {
            let (res, path) = f.name.split_once('.').unwrap_or((f.name, ""));
            format!("{}.{}", camel_path(res), camel_path(path))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs a query over one customer's state, returning `GoogleAdsRow` JSON objects.
pub(crate) fn run(q: &Query, customer_id: &str, customer: &Customer) -> Vec<Value> {
    let (metric_conds, other): (Vec<&Cond>, Vec<&Cond>) =
        q.conds.iter().partition(|c| c.field.res == Res::Metrics);
    let (segment_conds, resource_conds): (Vec<&Cond>, Vec<&Cond>) = other
        .into_iter()
        .partition(|c| c.field.res == Res::Segments);
    let base = |campaign| Row {
        customer: customer_id,
        campaign: Some(campaign),
        account: None,
        currency: None,
        label: None,
        criterion: None,
        date: None,
        hour: None,
        metrics: None,
    };
    let mut rows: Vec<Row<'_>> = Vec::new();
    let bare = Row {
        customer: customer_id,
        campaign: None,
        account: None,
        currency: None,
        label: None,
        criterion: None,
        date: None,
        hour: None,
        metrics: None,
    };
    match q.from {
        Res::Customer => rows.push(Row {
            account: Some(customer),
            ..bare
        }),
        Res::CurrencyConstant => {
            for c in CURRENCIES {
                rows.push(Row {
                    currency: Some(c),
                    ..bare.clone()
                });
            }
        }
        Res::CampaignLabel => {
            for c in customer.campaigns.values() {
                for name in &c.labels {
                    let id = customer.labels.get(name).copied().unwrap_or_default();
                    rows.push(Row {
                        label: Some((name.as_str(), id)),
                        ..base(c)
                    });
                }
            }
        }
        Res::CampaignCriterion => {
            for c in customer.campaigns.values() {
                for slot in &c.ad_schedule {
                    rows.push(Row {
                        criterion: Some(slot),
                        ..base(c)
                    });
                }
            }
        }
        Res::CampaignBudget => {
            let mut seen = Vec::new();
            for c in customer.campaigns.values() {
                if !seen.contains(&c.budget_id) {
                    seen.push(c.budget_id);
                    rows.push(base(c));
                }
            }
        }
        _ => {
            let with_date = q.select.iter().any(|f| f.name == "segments.date");
            let with_hour = q.select.iter().any(|f| f.name == "segments.hour");
            let with_metrics =
                q.select.iter().any(|f| f.res == Res::Metrics) || !metric_conds.is_empty();
            let segmented = with_date || with_hour;
            for c in customer.campaigns.values() {
                if !resource_conds.iter().all(|cond| base(c).matches(cond)) {
                    continue;
                }
                if !segmented && !with_metrics && segment_conds.is_empty() {
                    rows.push(base(c));
                    continue;
                }
                let mut groups: BTreeMap<(Option<NaiveDate>, Option<u32>), HourMetrics> =
                    BTreeMap::new();
                for (&(_, date, hour), m) in customer
                    .metrics
                    .range((c.id, NaiveDate::MIN, 0)..=(c.id, NaiveDate::MAX, u32::MAX))
                {
                    let seg = Row {
                        date: Some(date),
                        hour: Some(hour),
                        ..base(c)
                    };
                    if !segment_conds.iter().all(|cond| seg.matches(cond)) {
                        continue;
                    }
                    let key = (with_date.then_some(date), with_hour.then_some(hour));
                    groups.entry(key).or_default().add(m);
                }
                if !segmented && groups.is_empty() {
                    groups.insert((None, None), HourMetrics::default());
                }
                for ((date, hour), m) in groups {
                    rows.push(Row {
                        date,
                        hour,
                        metrics: Some(m),
                        ..base(c)
                    });
                }
            }
        }
    }
    let mut rows: Vec<Row<'_>> = rows
        .into_iter()
        .filter(|r| {
            q.conds.iter().all(|cond| match cond.field.res {
                Res::Segments if q.from == Res::Campaign => true,
                _ => r.matches(cond),
            })
        })
        .collect();
    if !q.order.is_empty() {
        rows.sort_by(|a, b| {
            for (field, desc) in &q.order {
                let o = match (a.value(field), b.value(field)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                };
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
    if let Some(limit) = q.limit {
        rows.truncate(limit);
    }
    rows.iter().map(|r| r.to_json(q)).collect()
}
