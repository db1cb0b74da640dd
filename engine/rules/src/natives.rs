//! The decision functions rules call (`pause(reason)`, …) and the reading of what a rule
//! returned back into [`Decision`]s.

use leadorch_domain::campaign::{AdScheduleSlot, Bidding};
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, FLOAT, INT};

use crate::decision::{Action, Decision};
use crate::view::{parse_day, parse_hhmm};

type NativeResult = Result<Map, Box<EvalAltResult>>;

fn decision(action: &str, reason: ImmutableString) -> Map {
    let mut m = Map::new();
    m.insert("action".into(), action.into());
    m.insert("reason".into(), reason.into());
    m
}

fn micros(what: &str, units: FLOAT) -> Result<INT, Box<EvalAltResult>> {
    let v = (units * 1_000_000.0).round();
    if v.is_finite() && v.abs() < 9.0e18 {
        Ok(v as INT)
    } else {
        Err(format!("{what}: {units} is not a usable amount").into())
    }
}

fn finite(what: &str, v: FLOAT) -> Result<FLOAT, Box<EvalAltResult>> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{what}: {v} is not a usable number").into())
    }
}

fn budget(daily_budget_micros: INT, reason: ImmutableString) -> Map {
    let mut m = decision("set_budget", reason);
    m.insert("daily_budget_micros".into(), daily_budget_micros.into());
    m
}

fn bid(strategy: &str, reason: ImmutableString) -> Map {
    let mut m = decision("set_bid_target", reason);
    m.insert("strategy".into(), strategy.into());
    m
}

fn target_cpa(micros: INT, reason: ImmutableString) -> Map {
    let mut m = bid("target_cpa", reason);
    m.insert("target_cpa_micros".into(), micros.into());
    m
}

fn target_roas(roas: FLOAT, reason: ImmutableString) -> Map {
    let mut m = bid("target_roas", reason);
    m.insert("target_roas".into(), roas.into());
    m
}

/// Registers the decision functions.
pub(crate) fn register(engine: &mut Engine) {
    engine.register_fn("pause", |reason: ImmutableString| decision("pause", reason));
    engine.register_fn("resume", |reason: ImmutableString| {
        decision("resume", reason)
    });
    engine.register_fn(
        "set_budget",
        |units: FLOAT, reason: ImmutableString| -> NativeResult {
            Ok(budget(micros("set_budget", units)?, reason))
        },
    );
    engine.register_fn(
        "set_budget",
        |units: INT, reason: ImmutableString| -> NativeResult {
            Ok(budget(micros("set_budget", units as FLOAT)?, reason))
        },
    );
    engine.register_fn(
        "set_budget_micros",
        |micros: INT, reason: ImmutableString| budget(micros, reason),
    );
    engine.register_fn(
        "set_target_cpa",
        |units: FLOAT, reason: ImmutableString| -> NativeResult {
            Ok(target_cpa(micros("set_target_cpa", units)?, reason))
        },
    );
    engine.register_fn(
        "set_target_cpa",
        |units: INT, reason: ImmutableString| -> NativeResult {
            Ok(target_cpa(
                micros("set_target_cpa", units as FLOAT)?,
                reason,
            ))
        },
    );
    engine.register_fn(
        "set_target_roas",
        |roas: FLOAT, reason: ImmutableString| -> NativeResult {
            Ok(target_roas(finite("set_target_roas", roas)?, reason))
        },
    );
    engine.register_fn("set_target_roas", |roas: INT, reason: ImmutableString| {
        target_roas(roas as FLOAT, reason)
    });
    engine.register_fn("maximize_conversions", |reason: ImmutableString| {
        bid("maximize_conversions", reason)
    });
    engine.register_fn("manual_cpc", |reason: ImmutableString| {
        bid("manual_cpc", reason)
    });
    engine.register_fn(
        "set_ad_schedule",
        |slots: Array, reason: ImmutableString| {
            let mut m = decision("set_ad_schedule", reason);
            m.insert("slots".into(), Dynamic::from_array(slots));
            m
        },
    );
    engine.register_fn("notify", |message: ImmutableString| {
        let mut m = decision("notify", message.clone());
        m.insert("message".into(), message.into());
        m
    });
}

/// A short description of a returned value for error messages: its type and a preview.
pub(crate) fn describe(value: &Dynamic) -> String {
    let kind = if value.is_unit() {
        return "()".to_string();
    } else if value.is_int() {
        "integer"
    } else if value.is_float() {
        "float"
    } else if value.is_bool() {
        "bool"
    } else if value.is_string() {
        "string"
    } else if value.is_map() {
        "map"
    } else if value.is_array() {
        "array"
    } else if value.is_char() {
        "char"
    } else {
        value.type_name()
    };
    let mut preview = if value.is_string() {
        format!("{:?}", value.to_string())
    } else {
        value.to_string()
    };
    if preview.chars().count() > 120 {
        preview = preview.chars().take(117).collect::<String>() + "...";
    }
    format!("{kind} {preview}")
}

const EXPECTED: &str =
    "expected (), a decision map such as pause(\"why\"), or an array of decision maps";

/// Reads what a rule returned. `Err` names what came back and what was expected.
pub(crate) fn decisions_from(value: Dynamic) -> Result<Vec<Decision>, String> {
    if value.is_unit() {
        return Ok(Vec::new());
    }
    let mut out: Vec<Decision> = Vec::new();
    if value.is_map() {
        let map = value.cast::<Map>();
        out.push(decision_from_map(&map)?);
    } else if value.is_array() {
        let array = value.cast::<Array>();
        for (i, item) in array.into_iter().enumerate() {
            if item.is_unit() {
                continue;
            }
            if !item.is_map() {
                return Err(format!(
                    "element {i} of the returned array is {}; {EXPECTED}",
                    describe(&item)
                ));
            }
            let map = item.cast::<Map>();
            let d = decision_from_map(&map).map_err(|e| format!("element {i}: {e}"))?;
            out.push(d);
        }
    } else {
        return Err(format!("returned {}; {EXPECTED}", describe(&value)));
    }
    dedupe(out)
}

/// Drops repeated identical decisions; refuses two different decisions on one field.
fn dedupe(decisions: Vec<Decision>) -> Result<Vec<Decision>, String> {
    let mut out: Vec<Decision> = Vec::with_capacity(decisions.len());
    for d in decisions {
        if out.iter().any(|o| o.action == d.action) {
            continue;
        }
        if let Some(field) = d.action.field() {
            if let Some(other) = out.iter().find(|o| o.action.field() == Some(field)) {
                return Err(format!(
                    "returned two different decisions for `{field}`: {} and {}",
                    other.action.describe(),
                    d.action.describe()
                ));
            }
        }
        out.push(d);
    }
    Ok(out)
}

fn get_str(map: &Map, key: &str) -> Option<ImmutableString> {
    map.get(key)
        .and_then(|v| v.clone().into_immutable_string().ok())
}

fn get_int(map: &Map, action: &str, key: &str) -> Result<INT, String> {
    match map.get(key) {
        Some(v) if v.is_int() => v.as_int().map_err(|t| format!("`{key}` is {t}")),
        Some(v) => Err(format!(
            "decision `{action}` needs an integer `{key}`, got {}",
            describe(v)
        )),
        None => Err(format!("decision `{action}` needs an integer `{key}`")),
    }
}

fn get_number(map: &Map, action: &str, key: &str) -> Result<FLOAT, String> {
    match map.get(key) {
        Some(v) if v.is_float() => v.as_float().map_err(|t| format!("`{key}` is {t}")),
        Some(v) if v.is_int() => v
            .as_int()
            .map(|i| i as FLOAT)
            .map_err(|t| format!("`{key}` is {t}")),
        Some(v) => Err(format!(
            "decision `{action}` needs a number `{key}`, got {}",
            describe(v)
        )),
        None => Err(format!("decision `{action}` needs a number `{key}`")),
    }
}

const ACTIONS: &str = "pause, resume, set_budget, set_bid_target, set_ad_schedule or notify";

fn decision_from_map(map: &Map) -> Result<Decision, String> {
    let preview = || describe(&Dynamic::from_map(map.clone()));
    let action_name = match map.get("action") {
        None => {
            return Err(format!(
                "returned a map without `action` ({}); use pause(reason), resume(reason), … \
                 or a map with `action` and `reason`",
                preview()
            ))
        }
        Some(v) => match v.clone().into_immutable_string() {
            Ok(s) => s,
            Err(_) => {
                return Err(format!(
                    "returned a map whose `action` is {}, not a string",
                    describe(v)
                ))
            }
        },
    };
    let action_name = action_name.as_str();
    let action = match action_name {
        "pause" => Action::Pause,
        "resume" => Action::Resume,
        "set_budget" => Action::SetBudget {
            daily_budget_micros: get_int(map, action_name, "daily_budget_micros")?,
        },
        "set_bid_target" => {
            let strategy = get_str(map, "strategy").ok_or_else(|| {
                "decision `set_bid_target` needs a string `strategy` \
                 (manual_cpc, maximize_conversions, target_cpa or target_roas)"
                    .to_string()
            })?;
            let bidding = match strategy.as_str() {
                "manual_cpc" => Bidding::ManualCpc,
                "maximize_conversions" => Bidding::MaximizeConversions,
                "target_cpa" => Bidding::TargetCpa {
                    target_cpa_micros: get_int(map, action_name, "target_cpa_micros")?,
                },
                "target_roas" => Bidding::TargetRoas {
                    target_roas: get_number(map, action_name, "target_roas")?,
                },
                other => {
                    return Err(format!(
                        "decision `set_bid_target` has unknown strategy {other:?} \
                         (manual_cpc, maximize_conversions, target_cpa or target_roas)"
                    ))
                }
            };
            Action::SetBidTarget { bidding }
        }
        "set_ad_schedule" => {
            let slots = match map.get("slots") {
                Some(v) if v.is_array() => v.clone().cast::<Array>(),
                Some(v) => {
                    return Err(format!(
                        "decision `set_ad_schedule` needs an array `slots`, got {}",
                        describe(v)
                    ))
                }
                None => return Err("decision `set_ad_schedule` needs an array `slots`".into()),
            };
            let mut parsed = Vec::with_capacity(slots.len());
            for (i, slot) in slots.iter().enumerate() {
                parsed.push(slot_from(slot).map_err(|e| format!("slot {i}: {e}"))?);
            }
            Action::SetAdSchedule { slots: parsed }
        }
        "notify" => {
            let message = get_str(map, "message")
                .or_else(|| get_str(map, "reason"))
                .map(|m| m.trim().to_string())
                .unwrap_or_default();
            if message.is_empty() {
                return Err("decision `notify` has an empty message".to_string());
            }
            return Ok(Decision {
                action: Action::Notify {
                    message: message.clone(),
                },
                reason: get_str(map, "reason")
                    .map(|r| r.trim().to_string())
                    .filter(|r| !r.is_empty())
                    .unwrap_or(message),
            });
        }
        other => return Err(format!("unknown action {other:?} (expected {ACTIONS})")),
    };
    let reason = match map.get("reason") {
        None => return Err(format!("decision `{action_name}` has no `reason`")),
        Some(v) => match v.clone().into_immutable_string() {
            Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
            Ok(_) => return Err(format!("decision `{action_name}` has an empty reason")),
            Err(_) => {
                return Err(format!(
                    "decision `{action_name}` has a reason that is {}, not a string",
                    describe(v)
                ))
            }
        },
    };
    if let Some(change) = action.to_change() {
        change
            .validate()
            .map_err(|e| format!("decision `{}` is invalid: {e}", action.describe()))?;
    }
    Ok(Decision { action, reason })
}

fn slot_from(value: &Dynamic) -> Result<AdScheduleSlot, String> {
    if !value.is_map() {
        return Err(format!(
            "expected a map #{{day, start, end, bid_modifier}}, got {}",
            describe(value)
        ));
    }
    let map = value.clone().cast::<Map>();
    let day = get_str(&map, "day")
        .and_then(|d| parse_day(&d))
        .ok_or("`day` must be a weekday name such as \"monday\" or \"mon\"")?;
    let time = |key: &str| {
        get_str(&map, key)
            .and_then(|t| parse_hhmm(&t))
            .ok_or(format!("`{key}` must be a time \"HH:MM\""))
    };
    let start = time("start")?;
    let end = time("end")?;
    let bid_modifier = match map.get("bid_modifier") {
        None => None,
        Some(v) if v.is_unit() => None,
        Some(_) => Some(get_number(&map, "set_ad_schedule", "bid_modifier")?),
    };
    let byte = |v: u32| u8::try_from(v).map_err(|_| "time out of range".to_string());
    Ok(AdScheduleSlot {
        day_of_week: day,
        start_hour: byte(start / 60)?,
        start_minute: byte(start % 60)?,
        end_hour: byte(end / 60)?,
        end_minute: byte(end % 60)?,
        bid_modifier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Dynamic)]) -> Dynamic {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.insert((*k).into(), v.clone());
        }
        m.into()
    }

    #[test]
    fn unit_is_no_decision() {
        assert_eq!(decisions_from(Dynamic::UNIT), Ok(vec![]));
    }

    #[test]
    fn bad_shapes_name_what_came_back() {
        let e = decisions_from(Dynamic::from_int(42)).expect_err("number");
        assert!(e.contains("integer 42"), "{e}");
        let e = decisions_from(map(&[("action", "pause".into())])).expect_err("no reason");
        assert!(e.contains("no `reason`"), "{e}");
        let e = decisions_from(map(&[("action", "explode".into()), ("reason", "x".into())]))
            .expect_err("unknown");
        assert!(e.contains("unknown action \"explode\""), "{e}");
        let e = decisions_from(map(&[
            ("action", "set_budget".into()),
            ("daily_budget_micros", Dynamic::from_int(-1)),
            ("reason", "x".into()),
        ]))
        .expect_err("negative");
        assert!(e.contains("invalid"), "{e}");
    }

    #[test]
    fn two_decisions_on_one_field_are_refused() {
        let arr: Array = vec![
            map(&[("action", "pause".into()), ("reason", "a".into())]),
            map(&[("action", "resume".into()), ("reason", "b".into())]),
        ];
        let e = decisions_from(arr.into()).expect_err("conflict");
        assert!(e.contains("`status`"), "{e}");
    }

    #[test]
    fn schedules_parse() {
        let slot = map(&[
            ("day", "mon".into()),
            ("start", "09:00".into()),
            ("end", "17:30".into()),
        ]);
        let d = decisions_from(map(&[
            ("action", "set_ad_schedule".into()),
            ("slots", Dynamic::from_array(vec![slot])),
            ("reason", "hours".into()),
        ]))
        .expect("valid");
        match &d[0].action {
            Action::SetAdSchedule { slots } => {
                assert_eq!(slots[0].end_hour, 17);
                assert_eq!(slots[0].end_minute, 30);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
