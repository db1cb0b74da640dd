//! The configuration file of Lead Orchestrator (the daemon's, also read by the CLI and the
//! desktop): a TOML file (see `docs/leadorch.example.toml`), then environment overrides.
//!
//! Any setting can be overridden with `LEADORCH__<SECTION>__<KEY>=<value>` (double
//! underscores separate the path; the value is read as TOML, and as a string when it is not
//! valid TOML): `LEADORCH__POLICY__MIN_DWELL=30m`, `LEADORCH__FACTS__TIMEZONE=Europe/Berlin`.
//! `DATABASE_URL` sets `database_url` when the file does not.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use leadorch_rules::Calendar;
use serde::{Deserialize, Serialize};

pub mod capacity;
pub use capacity::{CapacitySettings, SourceSettings};
mod webhooks;
pub use webhooks::WebhookSettings;

/// Why a configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file (or an override) is not valid.
    #[error("config {origin}: {message}")]
    Invalid {
        /// The file, or the environment variable.
        origin: String,
        /// What is wrong, with line and column when TOML knows them.
        message: String,
    },
}

/// The whole configuration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`; empty means the default SQLite file.
    pub database_url: String,
    /// Folder of shared rule modules (`import "name"`).
    pub rules_lib: Option<PathBuf>,
    /// Actor recorded on the daemon's events.
    pub actor: String,
    /// The project the daemon acts for (ADR 0030): its rules, its teams, and the campaigns
    /// of its Google account (`[google] account` names the project's account). `default`
    /// keeps bare ids; `leadorch daemon --project NAME` overrides it.
    pub project: String,
    /// What rules see.
    pub facts: FactSettings,
    /// Flapping and fighting.
    pub policy: PolicySettings,
    /// Sandbox limits per rule run.
    pub limits: LimitSettings,
    /// How the daemon evaluates rules.
    pub evaluation: EvaluationSettings,
    /// The action executor.
    pub executor: ExecutorSettings,
    /// Reading the actual campaign state back (drift).
    pub reconcile: ReconcileSettings,
    /// The Google Ads account the daemon acts on (`--adapter google`).
    pub google: GoogleSettings,
    /// Leads received over the HTTP API: phone region, dedup window, disposable domains.
    pub intake: IntakeSettings,
    /// The HTTP API's limits.
    pub api: ApiSettings,
    /// The capacity sources the daemon polls (`[capacity.sources.<name>]`).
    pub capacity: CapacitySettings,
    /// Where signed webhooks may go, and their retry schedule.
    pub webhooks: WebhookSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: String::new(),
            rules_lib: None,
            actor: "daemon".into(),
            project: leadorch_domain::project::DEFAULT.into(),
            facts: FactSettings::default(),
            policy: PolicySettings::default(),
            limits: LimitSettings::default(),
            evaluation: EvaluationSettings::default(),
            executor: ExecutorSettings::default(),
            reconcile: ReconcileSettings::default(),
            google: GoogleSettings::default(),
            intake: IntakeSettings::default(),
            api: ApiSettings::default(),
            capacity: CapacitySettings::default(),
            webhooks: WebhookSettings::default(),
        }
    }
}

/// What rules see.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FactSettings {
    /// IANA time zone of the account (local time, business hours, "today").
    pub timezone: String,
    /// Length of the "recent" window for metrics and lead flow, minutes.
    pub window_minutes: u32,
    /// Team of campaigns that have no `team:<name>` label and no mapping.
    pub default_team: Option<String>,
    /// Campaign id (`<customer>/<campaign>`) → team.
    pub campaign_teams: BTreeMap<String, String>,
    /// Business-hours calendars; `default` drives `now.business_hours`.
    pub calendars: BTreeMap<String, Calendar>,
}

impl Default for FactSettings {
    fn default() -> Self {
        FactSettings {
            timezone: "UTC".into(),
            window_minutes: 60,
            default_team: None,
            campaign_teams: BTreeMap::new(),
            calendars: BTreeMap::new(),
        }
    }
}

/// Flapping and fighting.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    /// After a status change, no other status change before this (`20m`).
    pub min_dwell: String,
    /// After a budget, bidding or schedule change, no other change of that field before this.
    pub cooldown: String,
    /// How long a change made outside the engine is respected.
    pub manual_hold: String,
    /// Schedule of rules whose header names neither a schedule nor triggers.
    pub default_every: String,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            min_dwell: "15m".into(),
            cooldown: "30m".into(),
            manual_hold: "4h".into(),
            default_every: "5m".into(),
        }
    }
}

/// Sandbox limits.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Operations per campaign evaluation.
    pub max_operations: u64,
    /// Wall-clock budget of one rule run over all its campaigns, ms.
    pub wall_clock_ms: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        let d = leadorch_rules::Limits::default();
        LimitSettings {
            max_operations: d.max_operations,
            wall_clock_ms: d.wall_clock.as_millis() as u64,
        }
    }
}

/// How the daemon evaluates rules.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationSettings {
    /// Replay a rule's result for a campaign while the rule, the library and every fact
    /// value its script can read are unchanged, instead of running it again (ADR 0050). The
    /// decisions are the same either way; `false` runs every rule on every campaign.
    pub reuse: bool,
}

impl Default for EvaluationSettings {
    fn default() -> Self {
        EvaluationSettings { reuse: true }
    }
}

/// The action executor.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutorSettings {
    /// Attempts before a retryable failure is given up (recorded as a final failure).
    pub max_attempts: u32,
}

impl Default for ExecutorSettings {
    fn default() -> Self {
        ExecutorSettings { max_attempts: 5 }
    }
}

/// Reading campaigns back.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReconcileSettings {
    /// How often actual campaign state is read (`5m`).
    pub every: String,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings { every: "5m".into() }
    }
}

/// The Google Ads account the daemon acts on.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct GoogleSettings {
    /// The connected account (`leadorch google connect --account NAME`) whose stored grant
    /// the daemon uses.
    pub account: String,
    /// Customer ids to manage (`123-456-7890` or digits).
    pub customers: Vec<String>,
    /// Manager (MCC) account to act through, sent as `login-customer-id`.
    pub login_customer_id: Option<String>,
    /// Optional `developer-token` header (Google no longer requires it).
    pub developer_token: Option<String>,
    /// API base URL (default `https://googleads.googleapis.com`;
    /// `LEADORCH_GOOGLE_ADS_BASE_URL` overrides).
    pub base_url: Option<String>,
    /// API version (default `v26`).
    pub api_version: Option<String>,
    /// OAuth client id of the installed app (`LEADORCH_GOOGLE_CLIENT_ID` overrides).
    pub client_id: Option<String>,
    /// OAuth client secret of the installed app (`LEADORCH_GOOGLE_CLIENT_SECRET` overrides).
    pub client_secret: Option<String>,
    /// OAuth token endpoint (default Google's; `LEADORCH_GOOGLE_OAUTH_TOKEN_URL` overrides).
    pub token_url: Option<String>,
    /// OAuth consent page (default Google's; `LEADORCH_GOOGLE_OAUTH_AUTH_URL` overrides).
    #[serde(default)]
    pub auth_url: Option<String>,
    /// OAuth revocation endpoint (default Google's; `LEADORCH_GOOGLE_OAUTH_REVOKE_URL`
    /// overrides).
    #[serde(default)]
    pub revoke_url: Option<String>,
    /// Time zone of the Google Ads accounts (Google reports metrics by date and hour in it);
    /// default `facts.timezone`.
    pub timezone: Option<String>,
    /// Shadow mode: check every change with `validateOnly` and change nothing (each change is
    /// recorded as not applied, "validated by Google").
    pub validate_only: bool,
}

/// The HTTP API's limits and browser access (`[api]`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    /// Requests per second each API key may make, on average, to one server process; 0: no
    /// limit. Beyond it a request is answered `429` with `Retry-After`.
    pub requests_per_second: u32,
    /// How many requests a key may make at once above that rate (at least 1).
    pub burst: u32,
    /// Origins of the browser pages that may call the API (CORS), each as a browser sends it:
    /// `scheme://host[:port]`, lower case, no path (`http://localhost:1420`). Empty (the
    /// default): no CORS headers, so browsers keep pages of other origins from reading answers.
    pub cors_origins: Vec<String>,
    /// Keys with a limit of their own, by key id (`[api.key_limits.key_…]`, as `leadorch keys
    /// list` shows them): a busy integration may need more than the default, a public form's
    /// key less. A rate of 0 lifts that key's limit.
    pub key_limits: BTreeMap<String, KeyLimit>,
}

/// One key's own rate limit (`[api.key_limits.<key id>]`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeyLimit {
    /// Requests per second on average; 0: no limit for this key.
    pub requests_per_second: u32,
    /// Requests at once above that rate (at least 1 when the rate is set).
    pub burst: u32,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            requests_per_second: 100,
            burst: 200,
            cors_origins: Vec::new(),
            key_limits: BTreeMap::new(),
        }
    }
}

/// Leads received over the HTTP API (`leadorch-intake` resolves these).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IntakeSettings {
    /// Region of phone numbers written without `+` and a country code: an ISO 3166-1
    /// alpha-2 code (`NL`). None: such numbers are refused.
    pub default_region: Option<String>,
    /// How long a lead makes a later one with the same email or phone (in any letter case
    /// or way of writing) its duplicate (`90d`).
    pub dedup_window: String,
    /// A file of more disposable email domains (one per line, `#` comments), on top of the
    /// built-in list; a relative path is read from the working directory.
    pub disposable_domains_file: Option<PathBuf>,
    /// More disposable email domains, on top of the built-in list.
    pub extra_disposable_domains: Vec<String>,
    /// Whether a lead must come with consent evidence; one without is recorded as blocked
    /// (`consent_missing`).
    pub require_consent: bool,
    /// Form id → team, for leads that name no team.
    pub form_teams: BTreeMap<String, String>,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        IntakeSettings {
            default_region: None,
            dedup_window: "90d".into(),
            disposable_domains_file: None,
            extra_disposable_domains: Vec::new(),
            require_consent: true,
            form_teams: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Reads `path` (if given), then applies environment overrides from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (text, origin) = match path {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?,
                p.display().to_string(),
            ),
            None => (String::new(), "defaults".to_string()),
        };
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    origin: origin.clone(),
                    message: e.to_string().trim().to_string(),
                })?;
        let mut database_url_env = None;
        // Dotted path → the variable that set it, to name it when its value is bad.
        let mut overridden: Vec<(String, String)> = Vec::new();
        for (key, value) in env {
            if key == "DATABASE_URL" {
                database_url_env = Some(value);
                continue;
            }
            let Some(path) = key.strip_prefix("LEADORCH__") else {
                continue;
            };
            let parts: Vec<String> = path.split("__").map(|p| p.to_lowercase()).collect();
            if parts.iter().any(String::is_empty) {
                return Err(ConfigError::Invalid {
                    origin: key,
                    message: "empty path segment".into(),
                });
            }
            let parsed = format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(value));
            set_path(&mut table, &parts, parsed).map_err(|message| ConfigError::Invalid {
                origin: format!("environment variable {key}"),
                message,
            })?;
            overridden.push((parts.join("."), key));
        }
        // A bad value is reported against the variable that set it, else the file.
        let invalid = |message: String| {
            let origin = overridden
                .iter()
                .filter(|(path, _)| mentions(&message, path))
                .max_by_key(|(path, _)| path.len())
                .map(|(_, key)| format!("environment variable {key}"))
                .unwrap_or_else(|| origin.clone());
            ConfigError::Invalid { origin, message }
        };
        if let Some(url) = database_url_env {
            table
                .entry("database_url")
                .or_insert(toml::Value::String(url));
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.to_string().trim().to_string()))?;
        config.validate().map_err(invalid)?;
        Ok(config)
    }

    /// Checks values serde cannot: durations, time zone.
    pub fn validate(&self) -> Result<(), String> {
        leadorch_domain::project::check_name(&self.project).map_err(|e| format!("project: {e}"))?;
        self.webhooks.validate()?;
        for (name, value) in [
            ("policy.min_dwell", &self.policy.min_dwell),
            ("policy.cooldown", &self.policy.cooldown),
            ("policy.manual_hold", &self.policy.manual_hold),
            ("policy.default_every", &self.policy.default_every),
            ("reconcile.every", &self.reconcile.every),
            ("intake.dedup_window", &self.intake.dedup_window),
        ] {
            parse_duration(value).map_err(|e| format!("{name}: {e}"))?;
        }
        if parse_duration(&self.policy.default_every)? <= chrono::Duration::zero() {
            return Err("policy.default_every must be longer than 0".into());
        }
        self.facts.timezone.parse::<chrono_tz::Tz>().map_err(|_| {
            format!(
                "facts.timezone: unknown time zone {:?}",
                self.facts.timezone
            )
        })?;
        for (name, calendar) in &self.facts.calendars {
            if let Some(zone) = &calendar.timezone {
                zone.parse::<chrono_tz::Tz>().map_err(|_| {
                    format!("facts.calendars.{name}.timezone: unknown time zone {zone:?}")
                })?;
            }
        }
        if self.facts.window_minutes == 0 {
            return Err("facts.window_minutes must be at least 1".into());
        }
        if parse_duration(&self.intake.dedup_window)? <= chrono::Duration::zero() {
            return Err("intake.dedup_window must be longer than 0".into());
        }
        if self.api.requests_per_second > 0 && self.api.burst == 0 {
            return Err("api.burst must be at least 1 when api.requests_per_second is set".into());
        }
        for (id, limit) in &self.api.key_limits {
            if !id.starts_with("key_")
                || id.len() > 64
                || !id[4..].chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(format!(
                    "api.key_limits: {id:?} is not a key id (key_ and letters or digits, as `leadorch keys list` shows it)"
                ));
            }
            if limit.requests_per_second > 0 && limit.burst == 0 {
                return Err(format!(
                    "api.key_limits.{id}.burst must be at least 1 when its requests_per_second is set"
                ));
            }
        }
        for origin in &self.api.cors_origins {
            check_origin(origin).map_err(|e| format!("api.cors_origins: {origin:?} {e}"))?;
        }
        self.capacity.validate()?;
        if let Some(region) = &self.intake.default_region {
            if region.len() != 2 || !region.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(format!(
                    "intake.default_region: {region:?} is not a region code: use two letters of ISO 3166-1, like NL"
                ));
            }
        }
        Ok(())
    }

    /// The arbiter's policy.
    pub fn policy(&self) -> leadorch_rules::Policy {
        leadorch_rules::Policy {
            min_dwell: parse_duration(&self.policy.min_dwell).unwrap_or_default(),
            cooldown: parse_duration(&self.policy.cooldown).unwrap_or_default(),
        }
    }

    /// How long a manual change is respected.
    pub fn manual_hold(&self) -> chrono::Duration {
        parse_duration(&self.policy.manual_hold).unwrap_or_default()
    }

    /// Schedule of rules without one.
    pub fn default_every(&self) -> chrono::Duration {
        parse_duration(&self.policy.default_every).unwrap_or(chrono::Duration::minutes(5))
    }

    /// How often campaigns are read back.
    pub fn reconcile_every(&self) -> chrono::Duration {
        parse_duration(&self.reconcile.every).unwrap_or(chrono::Duration::minutes(5))
    }

    /// The sandbox limits.
    pub fn limits(&self) -> leadorch_rules::Limits {
        leadorch_rules::Limits {
            max_operations: self.limits.max_operations,
            wall_clock: std::time::Duration::from_millis(self.limits.wall_clock_ms),
            ..leadorch_rules::Limits::default()
        }
    }
}

/// Whether an error message is about the setting at dotted `path` (`policy.min_dwell`):
/// the path stands alone in it, not as part of a longer name.
fn mentions(message: &str, path: &str) -> bool {
    message.match_indices(path).any(|(i, _)| {
        let before = message[..i].chars().next_back();
        let after = message[i + path.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        !word(before) && !word(after)
    })
}

fn set_path(table: &mut toml::Table, parts: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = parts.split_last().ok_or("empty path")?;
    let mut t = table;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("{p} is not a section"))?;
    }
    t.insert(last.clone(), value);
    Ok(())
}

/// Parses `90s`, `15m`, `4h`, `2d` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<chrono::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (like 90s, 15m, 4h, 2d)"))?;
    let d = match unit.trim() {
        "" | "s" => chrono::Duration::try_seconds(n),
        "m" | "min" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        other => return Err(format!("{s:?}: unknown unit {other:?} (use s, m, h or d)")),
    };
    d.ok_or_else(|| format!("{s:?} is longer than any duration can be"))
}

/// Whether `origin` is written as a browser sends it in `Origin` (else it would never match).
fn check_origin(origin: &str) -> Result<(), String> {
    let form = "is not an origin as a browser sends it: write scheme://host[:port] in lower case, without a path or a trailing slash (http://localhost:1420)";
    if origin == "*" {
        return Err("allows every site: list the origins of the pages that call the API".into());
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err(form.into());
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c));
    // `[v6]:port`, `[v6]`, `host:port`, `host`.
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, p)) => (h, Some(p.strip_prefix(':').unwrap_or("-"))),
            None => ("", None),
        },
        None => match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        },
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-:".contains(c));
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if !scheme_ok || !host_ok || !port_ok {
        return Err(form.into());
    }
    if matches!(
        (scheme, port),
        ("http", Some("80")) | ("https", Some("443"))
    ) {
        return Err("names its scheme's default port, which browsers leave out: drop it".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_are_checked_as_browsers_send_them() {
        for good in [
            "http://localhost:1420",
            "https://app.example.org",
            "tauri://localhost",
            "http://[::1]:8080",
            "http://127.0.0.1:5173",
        ] {
            assert_eq!(check_origin(good), Ok(()), "{good}");
        }
        for bad in [
            "*",
            "localhost:1420",
            "http://localhost:1420/",
            "http://localhost/app",
            "HTTP://localhost",
            "http://LocalHost",
            "http://localhost:80",
            "https://example.org:443",
            "http://localhost:",
            "http://[::1",
            "http://",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
        let mut config = Config::default();
        config.api.cors_origins = vec!["http://localhost:1420/".into()];
        let e = config.validate().unwrap_err();
        assert!(e.starts_with("api.cors_origins:"), "{e}");
    }

    #[test]
    fn key_limits_name_key_ids_and_need_a_burst() {
        let mut config = Config::default();
        config.api.key_limits.insert(
            "key_0123456789".into(),
            KeyLimit {
                requests_per_second: 500,
                burst: 1000,
            },
        );
        assert_eq!(config.validate(), Ok(()));
        config.api.key_limits.insert(
            "crm".into(),
            KeyLimit {
                requests_per_second: 5,
                burst: 5,
            },
        );
        let e = config.validate().unwrap_err();
        assert!(e.contains("\"crm\" is not a key id"), "{e}");
        config.api.key_limits.remove("crm");
        config.api.key_limits.insert(
            "key_abc".into(),
            KeyLimit {
                requests_per_second: 5,
                burst: 0,
            },
        );
        let e = config.validate().unwrap_err();
        assert!(e.contains("api.key_limits.key_abc.burst"), "{e}");
        // Read from TOML.
        let parsed: Config =
            toml::from_str("[api.key_limits.key_x1]\nrequests_per_second = 0\nburst = 0\n")
                .expect("parses");
        assert_eq!(parsed.api.key_limits["key_x1"].requests_per_second, 0);
        assert_eq!(parsed.validate(), Ok(()));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m"), Ok(chrono::Duration::minutes(15)));
        assert_eq!(parse_duration("4h"), Ok(chrono::Duration::hours(4)));
        assert_eq!(parse_duration("90"), Ok(chrono::Duration::seconds(90)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5 weeks").is_err());
        assert_eq!(parse_duration("90d"), Ok(chrono::Duration::days(90)));
        let e = parse_duration("999999999999999d").unwrap_err();
        assert!(e.contains("longer than any duration"), "{e}");
    }

    #[test]
    fn intake_settings_default_and_are_checked() {
        let c = Config::load(None, vec![]).expect("defaults");
        assert_eq!(c.intake.dedup_window, "90d");
        assert_eq!(c.intake.default_region, None);
        let env = vec![(
            "LEADORCH__INTAKE__DEDUP_WINDOW".to_string(),
            "0d".to_string(),
        )];
        let e = Config::load(None, env).expect_err("zero window");
        assert!(
            e.to_string()
                .contains("intake.dedup_window must be longer than 0"),
            "{e}"
        );
        let env = vec![(
            "LEADORCH__INTAKE__DEFAULT_REGION".to_string(),
            "Netherlands".to_string(),
        )];
        let e = Config::load(None, env).expect_err("bad region");
        assert!(
            e.to_string().starts_with(
                "config environment variable LEADORCH__INTAKE__DEFAULT_REGION: intake.default_region: "
            ),
            "{e}"
        );
        let env = vec![(
            "LEADORCH__INTAKE__EXTRA_DISPOSABLE_DOMAINS".to_string(),
            "[\"burner.example\"]".to_string(),
        )];
        let c = Config::load(None, env).expect("a list from the environment");
        assert_eq!(c.intake.extra_disposable_domains, vec!["burner.example"]);
    }

    #[test]
    fn file_then_env_overrides() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("leadorch.toml");
        std::fs::write(
            &path,
            "[facts]\ntimezone = \"Europe/Amsterdam\"\n[policy]\nmin_dwell = \"20m\"\n",
        )
        .expect("write");
        let env = vec![
            ("LEADORCH__POLICY__MIN_DWELL".to_string(), "45m".to_string()),
            (
                "LEADORCH__FACTS__WINDOW_MINUTES".to_string(),
                "30".to_string(),
            ),
            ("DATABASE_URL".to_string(), "sqlite://x.db".to_string()),
            ("UNRELATED".to_string(), "1".to_string()),
        ];
        let c = Config::load(Some(&path), env).expect("loads");
        assert_eq!(c.facts.timezone, "Europe/Amsterdam");
        assert_eq!(c.policy.min_dwell, "45m");
        assert_eq!(c.facts.window_minutes, 30);
        assert_eq!(c.database_url, "sqlite://x.db");
    }

    #[test]
    fn bad_config_names_the_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[policy]\nmin_dwel = \"20m\"\n").expect("write");
        let e = Config::load(Some(&path), vec![]).expect_err("unknown key");
        assert!(e.to_string().contains("min_dwel"), "{e}");
        std::fs::write(&path, "[facts]\ntimezone = \"Mars/Olympus\"\n").expect("write");
        let e = Config::load(Some(&path), vec![]).expect_err("bad tz");
        assert!(e.to_string().contains("Mars/Olympus"), "{e}");
        std::fs::write(
            &path,
            "[facts.calendars.sales-ny]\nweekly = {}\nholidays = []\ntimezone = \"America/New_Yrok\"\n",
        )
        .expect("write");
        let e = Config::load(Some(&path), vec![]).expect_err("bad calendar tz");
        assert!(
            e.to_string().contains(
                "facts.calendars.sales-ny.timezone: unknown time zone \"America/New_Yrok\""
            ),
            "{e}"
        );
        let env = vec![("LEADORCH__POLICY__COOLDOWN".to_string(), "soon".to_string())];
        let e = Config::load(None, env).expect_err("bad duration");
        assert!(e.to_string().contains("policy.cooldown"), "{e}");
        assert!(
            e.to_string()
                .starts_with("config environment variable LEADORCH__POLICY__COOLDOWN: "),
            "{e}"
        );
        // A bad file value next to a good override names the file.
        std::fs::write(&path, "[policy]\ncooldown = \"soon\"\n").expect("write");
        let env = vec![("LEADORCH__POLICY__MIN_DWELL".to_string(), "5m".to_string())];
        let e = Config::load(Some(&path), env).expect_err("bad duration");
        assert!(
            e.to_string()
                .starts_with(&format!("config {}: policy.cooldown", path.display())),
            "{e}"
        );
        let env = vec![(
            "LEADORCH__FACTS__WINDOW_MINUTES".to_string(),
            "\"x\"".to_string(),
        )];
        let e = Config::load(None, env).expect_err("wrong type");
        assert!(
            e.to_string()
                .starts_with("config environment variable LEADORCH__FACTS__WINDOW_MINUTES: "),
            "{e}"
        );
    }

    #[test]
    fn the_example_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/leadorch.example.toml");
        Config::load(Some(&path), vec![]).expect("example config is valid");
    }
}
