//! `[capacity]`: the capacity sources the daemon polls (ADR 0032).
//!
//! ```toml
//! [capacity.sources.crm]            # the source's name: `leadorch teams set T --capacity-source connector:crm`
//! kind = "http_poll"                # the connector: http_poll, hubspot or salesforce
//! interval = "1m"                   # how often it is polled [default: 1m]
//! max_age = "3m"                    # a reading older than this is stale [default: 3 x interval]
//! teams = { sales-nl = "nl" }       # leadorch team -> the source's id of it [default: its name]
//! # the connector's own keys follow (http_poll: url, auth_header, auth_value_env, …)
//! ```
//!
//! This module checks the keys every source has. A connector's own keys are kept as a table
//! ([`SourceSettings::settings`]) and read, with unknown keys refused, by the connector in
//! `leadorch-connect` when the daemon starts, so a new connector never changes this crate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::parse_duration;

/// The shortest poll interval.
pub const MIN_INTERVAL: chrono::Duration = chrono::Duration::seconds(1);

/// `[capacity]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CapacitySettings {
    /// The sources, by name.
    pub sources: BTreeMap<String, SourceSettings>,
}

/// `[capacity.sources.<name>]`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SourceSettings {
    /// The connector: `http_poll`, `hubspot` or `salesforce`.
    pub kind: String,
    /// How often the source is polled, like `30s` or `1m` [default: 1m].
    #[serde(default = "one_minute")]
    pub interval: String,
    /// A reading older than this reaches rules as `team.stale` [default: 3 x interval].
    #[serde(default)]
    pub max_age: Option<String>,
    /// Leadorch team name -> the source's id for it (the `{team}` of an HTTP poll, a CRM team
    /// id). A team bound to the source with `--capacity-source connector:<name>` and not
    /// listed here is asked for by its own name.
    #[serde(default)]
    pub teams: BTreeMap<String, String>,
    /// The connector's own keys, read and checked by the connector.
    #[serde(flatten)]
    pub settings: toml::Table,
}

fn one_minute() -> String {
    "1m".into()
}

impl SourceSettings {
    /// The poll interval (checked by [`CapacitySettings::validate`]).
    pub fn interval(&self) -> chrono::Duration {
        parse_duration(&self.interval).unwrap_or(chrono::Duration::minutes(1))
    }

    /// How old a reading may be before it is stale: `max_age`, else three intervals.
    pub fn max_age(&self) -> chrono::Duration {
        self.max_age
            .as_deref()
            .and_then(|m| parse_duration(m).ok())
            .unwrap_or_else(|| self.interval() * 3)
    }
}

/// Whether `name` may name a source or a team: 1 to 64 of `A-Z a-z 0-9 _ -`.
fn plain_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl CapacitySettings {
    /// Checks what serde cannot, naming the key: names, durations, team names.
    pub fn validate(&self) -> Result<(), String> {
        for (name, source) in &self.sources {
            let key = format!("capacity.sources.{name}");
            if !plain_name(name) {
                return Err(format!(
                    "{key}: a source's name is 1 to 64 of A-Z a-z 0-9 _ - (it is written connector:<name> on a team)"
                ));
            }
            if source.kind.trim().is_empty() {
                return Err(format!(
                    "{key}.kind must name the connector, like \"http_poll\""
                ));
            }
            let interval =
                parse_duration(&source.interval).map_err(|e| format!("{key}.interval: {e}"))?;
            if interval < MIN_INTERVAL {
                return Err(format!("{key}.interval must be at least 1s"));
            }
            if let Some(max_age) = &source.max_age {
                let max_age = parse_duration(max_age).map_err(|e| format!("{key}.max_age: {e}"))?;
                if max_age < interval {
                    return Err(format!(
                        "{key}.max_age ({}) is shorter than {key}.interval ({}): every reading would go stale before the next poll",
                        source.max_age.as_deref().unwrap_or_default(),
                        source.interval
                    ));
                }
            }
            for (team, id) in &source.teams {
                let team_name = (1..=128).contains(&team.len())
                    && team
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
                if !team_name {
                    return Err(format!(
                        "{key}.teams: {team:?} is not a team name (1 to 128 of A-Z a-z 0-9 . _ -)"
                    ));
                }
                if id.trim().is_empty() {
                    return Err(format!(
                        "{key}.teams.{team}: give the source's id of the team, not an empty text"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CapacitySettings, String> {
        let settings: CapacitySettings = toml::from_str(text).map_err(|e| e.to_string())?;
        settings.validate()?;
        Ok(settings)
    }

    #[test]
    fn a_source_s_generic_keys_and_its_connector_s_own() {
        let s = parse(
            r#"
            [sources.crm]
            kind = "http_poll"
            interval = "30s"
            teams = { sales-nl = "nl" }
            url = "http://127.0.0.1:9/{team}"
            "#,
        )
        .expect("valid");
        let crm = &s.sources["crm"];
        assert_eq!(crm.interval(), chrono::Duration::seconds(30));
        assert_eq!(crm.max_age(), chrono::Duration::seconds(90), "3 x interval");
        assert_eq!(crm.teams["sales-nl"], "nl");
        assert_eq!(
            crm.settings.get("url").and_then(toml::Value::as_str),
            Some("http://127.0.0.1:9/{team}")
        );
        assert!(!crm.settings.contains_key("kind"));
        let s = parse("[sources.crm]\nkind = \"x\"\nmax_age = \"10m\"").expect("valid");
        assert_eq!(s.sources["crm"].interval(), chrono::Duration::minutes(1));
        assert_eq!(s.sources["crm"].max_age(), chrono::Duration::minutes(10));
    }

    #[test]
    fn bad_values_are_named_by_their_key() {
        for (text, wanted) in [
            ("[sources.crm]\nkind = \"\"", "capacity.sources.crm.kind"),
            (
                "[sources.crm]\nkind = \"x\"\ninterval = \"soon\"",
                "capacity.sources.crm.interval: \"soon\" is not a duration",
            ),
            (
                "[sources.crm]\nkind = \"x\"\ninterval = \"0s\"",
                "capacity.sources.crm.interval must be at least 1s",
            ),
            (
                "[sources.crm]\nkind = \"x\"\ninterval = \"5m\"\nmax_age = \"1m\"",
                "capacity.sources.crm.max_age (1m) is shorter than capacity.sources.crm.interval (5m)",
            ),
            (
                "[sources.\"a b\"]\nkind = \"x\"",
                "capacity.sources.a b: a source's name",
            ),
            (
                "[sources.crm]\nkind = \"x\"\nteams = { sales = \" \" }",
                "capacity.sources.crm.teams.sales",
            ),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(wanted), "{text}: {err}");
        }
        let err = parse("[sources.crm]\ninterval = \"1m\"").expect_err("kind is required");
        assert!(err.contains("kind"), "{err}");
    }
}
