//! The generic HTTP poll: `GET` a URL (per team when it holds `{team}`, else once for all
//! teams), with an optional auth header whose value comes from an environment variable or a
//! file, and read the figures at RFC 6901 JSON pointers.
//!
//! ```toml
//! [capacity.sources.crm]
//! kind = "http_poll"
//! url = "https://crm.example.com/capacity/{team}"
//! auth_header = "Authorization"          # default
//! auth_value_env = "CRM_CAPACITY_AUTH"   # or auth_value_file = "/run/secrets/crm"
//! agents_available = "/agents/available"
//! open_leads = "/leads/open"
//! max_open_leads = "/leads/max"          # optional: else the team's own maximum
//! timeout = "10s"                        # default
//! ```
//!
//! A pointer may hold `{team}` too (escaped as RFC 6901 says), for one answer that lists every
//! team: `url = "https://crm.example.com/capacity"`, `open_leads = "/teams/{team}/open"`.
//!
//! The secret is read when the source is built (so a missing one stops the daemon at start
//! with the variable or file named) and again before each poll (so a rotated file is picked
//! up); it is sent as a sensitive header and never logged, stored or put in an error.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use crate::secret::SecretFrom;
use crate::source::{CapacitySource, Figures, Poll, SourceError, TeamTarget};

/// The connector's kind in the configuration.
pub const KIND: &str = "http_poll";

/// `[capacity.sources.<name>]`'s own keys for `kind = "http_poll"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    url: String,
    #[serde(default)]
    auth_header: Option<String>,
    #[serde(default)]
    auth_value_env: Option<String>,
    #[serde(default)]
    auth_value_file: Option<PathBuf>,
    agents_available: String,
    open_leads: String,
    #[serde(default)]
    max_open_leads: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
}

/// One JSON pointer, maybe with `{team}`.
#[derive(Clone, Debug)]
struct Pointer {
    key: &'static str,
    text: String,
}

impl Pointer {
    fn new(key: &'static str, text: String, source_key: &str) -> Result<Pointer, String> {
        if !text.is_empty() && !text.starts_with('/') {
            return Err(format!(
                "{source_key}.{key}: {text:?} is not a JSON pointer (RFC 6901: empty for the whole answer, else starting with /, like \"/leads/open\")"
            ));
        }
        Ok(Pointer { key, text })
    }

    /// The pointer with `{team}` replaced by `team`, escaped (`~` → `~0`, `/` → `~1`).
    fn for_team(&self, team: &str) -> String {
        self.text
            .replace("{team}", &team.replace('~', "~0").replace('/', "~1"))
    }

    /// The whole number at the pointer in `answer`.
    fn read(&self, answer: &Value, team: &str) -> Result<u32, SourceError> {
        let pointer = self.for_team(team);
        let value = answer.pointer(&pointer).ok_or_else(|| {
            SourceError::Response(format!("{} ({pointer}) is not in the answer", self.key))
        })?;
        let number = match value {
            Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        number.and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
            SourceError::Response(format!(
                "{} ({pointer}) is not a whole number from 0 to 4294967295",
                self.key
            ))
        })
    }
}

/// The generic HTTP poll source.
pub struct HttpPoll {
    name: String,
    url: String,
    auth: Option<(HeaderName, SecretFrom)>,
    agents_available: Pointer,
    open_leads: Pointer,
    max_open_leads: Option<Pointer>,
    client: reqwest::Client,
}

impl std::fmt::Debug for HttpPoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret: only where it comes from is configuration, and even that is left out.
        f.debug_struct("HttpPoll")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl HttpPoll {
    /// Builds the source from its configuration's own keys; every error names the key
    /// (`capacity.sources.<name>.<key>`).
    pub fn from_settings(name: &str, settings: &toml::Table) -> Result<HttpPoll, String> {
        let key = format!("capacity.sources.{name}");
        let s: Settings = toml::Value::Table(settings.clone())
            .try_into()
            .map_err(|e: toml::de::Error| format!("{key}: {}", e.message().trim()))?;
        let parsed = reqwest::Url::parse(&s.url.replace("{team}", "team"))
            .map_err(|e| format!("{key}.url: {:?} is not a URL ({e})", s.url))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "{key}.url: {:?} is not an http or https URL",
                s.url
            ));
        }
        let from =
            SecretFrom::from_settings(&key, "auth_value", s.auth_value_env, s.auth_value_file)?;
        let auth = match (from, s.auth_header) {
            (Some(from), header) => {
                let header = header.unwrap_or_else(|| "Authorization".into());
                let header = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
                    format!("{key}.auth_header: {header:?} is not an HTTP header name")
                })?;
                // Read now: a missing secret stops the daemon at start, naming where.
                let value = from.read().map_err(|e| format!("{key}: {e}"))?;
                HeaderValue::from_str(&value).map_err(|_| {
                    format!("{key}: the auth value holds characters an HTTP header cannot carry")
                })?;
                Some((header, from))
            }
            (None, Some(_)) => {
                return Err(format!(
                    "{key}.auth_header is set but no value: add auth_value_env (an environment variable) or auth_value_file (never the secret itself in this file)"
                ))
            }
            (None, None) => None,
        };
        let client = crate::client::builder(crate::client::timeout(&key, s.timeout.as_deref())?)
            .build()
            .map_err(|e| format!("{key}: cannot make an HTTP client: {e}"))?;
        Ok(HttpPoll {
            name: name.to_string(),
            url: s.url,
            auth,
            agents_available: Pointer::new("agents_available", s.agents_available, &key)?,
            open_leads: Pointer::new("open_leads", s.open_leads, &key)?,
            max_open_leads: s
                .max_open_leads
                .map(|p| Pointer::new("max_open_leads", p, &key))
                .transpose()?,
            client,
        })
    }

    fn per_team_url(&self) -> bool {
        self.url.contains("{team}")
    }

    fn pointers_name_the_team(&self) -> bool {
        [&self.agents_available, &self.open_leads]
            .into_iter()
            .chain(self.max_open_leads.as_ref())
            .any(|p| p.text.contains("{team}"))
    }

    /// One `GET`, its answer as JSON.
    async fn fetch(&self, url: &str) -> Result<Value, SourceError> {
        let mut request = self.client.get(url).header("Accept", "application/json");
        if let Some((header, from)) = &self.auth {
            let mut value = HeaderValue::from_str(&from.read()?).map_err(|_| {
                SourceError::Config(
                    "the auth value holds characters an HTTP header cannot carry".into(),
                )
            })?;
            value.set_sensitive(true);
            request = request.header(header.clone(), value);
        }
        // reqwest's errors name the URL, which may carry a query the operator considers
        // private: left out.
        let response = request
            .send()
            .await
            .map_err(|e| SourceError::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(SourceError::Auth(format!(
                "{status}: the source refused the credential"
            )));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            return Err(SourceError::RateLimited {
                retry_after,
                detail: status.to_string(),
            });
        }
        if status.is_server_error() {
            return Err(SourceError::Unavailable(status.to_string()));
        }
        if !status.is_success() {
            return Err(SourceError::Response(status.to_string()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| SourceError::Unavailable(e.without_url().to_string()))?;
        serde_json::from_slice(&body)
            .map_err(|e| SourceError::Response(format!("the answer is not JSON ({e})")))
    }

    fn figures(&self, answer: &Value, target: &TeamTarget) -> Result<Figures, SourceError> {
        let team = &target.crm_team;
        let max_open_leads = match &self.max_open_leads {
            Some(p) => p.read(answer, team)?,
            None => target.max_open_leads.ok_or_else(|| {
                SourceError::Config(format!(
                    "no max_open_leads pointer, and team {} has no maximum of its own (`leadorch teams set {} --max-open-leads N`)",
                    target.team, target.team
                ))
            })?,
        };
        Ok(Figures {
            agents_available: self.agents_available.read(answer, team)?,
            open_leads: self.open_leads.read(answer, team)?,
            max_open_leads,
        })
    }
}

/// `Retry-After`: delay-seconds, or an HTTP date (taken as the time from now).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// Percent-encodes `id` for a URL path segment or query value (unreserved characters kept).
fn encode(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl CapacitySource for HttpPoll {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    async fn poll(&self, teams: &[TeamTarget]) -> Result<Poll, SourceError> {
        let mut poll = Poll::default();
        if !self.per_team_url() {
            if teams.len() > 1 && !self.pointers_name_the_team() {
                return Err(SourceError::Config(format!(
                    "{} teams take their capacity from this source, but neither its url nor its pointers hold {{team}}: every team would get the same figures",
                    teams.len()
                )));
            }
            let answer = self.fetch(&self.url).await?;
            for target in teams {
                match self.figures(&answer, target) {
                    Ok(f) => poll.readings.push((target.team.clone(), f)),
                    Err(e) => poll.team_errors.push((target.team.clone(), e)),
                }
            }
        } else {
            for target in teams {
                let url = self.url.replace("{team}", &encode(&target.crm_team));
                // A refused credential or a rate limit is the whole source's: stop here
                // (keeping the teams already read when told to slow down).
                let answer = match self.fetch(&url).await {
                    Ok(answer) => answer,
                    Err(SourceError::RateLimited {
                        retry_after,
                        detail,
                    }) if !poll.readings.is_empty() => {
                        let left = teams.iter().skip_while(|t| t.team != target.team).map(|t| {
                            let e = SourceError::RateLimited {
                                retry_after,
                                detail: detail.clone(),
                            };
                            (t.team.clone(), e)
                        });
                        poll.team_errors.extend(left);
                        poll.retry_after = Some(retry_after.unwrap_or_default());
                        break;
                    }
                    Err(e @ (SourceError::Auth(_) | SourceError::RateLimited { .. })) => {
                        return Err(e)
                    }
                    Err(e) => {
                        poll.team_errors.push((target.team.clone(), e));
                        continue;
                    }
                };
                match self.figures(&answer, target) {
                    Ok(f) => poll.readings.push((target.team.clone(), f)),
                    Err(e) => poll.team_errors.push((target.team.clone(), e)),
                }
            }
        }
        if poll.readings.is_empty() {
            // Nothing worked: the source fails, with the first team's reason.
            if let Some((team, e)) = poll.team_errors.first() {
                return Err(match e.clone() {
                    SourceError::Response(m) => SourceError::Response(format!("team {team}: {m}")),
                    SourceError::Config(m) => SourceError::Config(format!("team {team}: {m}")),
                    other => other,
                });
            }
        }
        Ok(poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> toml::Table {
        text.parse().expect("valid TOML")
    }

    #[test]
    fn bad_settings_are_named_by_their_key() {
        for (text, wanted) in [
            ("agents_available = \"/a\"\nopen_leads = \"/o\"", "capacity.sources.crm: missing field `url`"),
            (
                "url = \"ftp://x/{team}\"\nagents_available = \"/a\"\nopen_leads = \"/o\"",
                "capacity.sources.crm.url: \"ftp://x/{team}\" is not an http or https URL",
            ),
            (
                "url = \"http://x/{team}\"\nagents_available = \"a\"\nopen_leads = \"/o\"",
                "capacity.sources.crm.agents_available: \"a\" is not a JSON pointer",
            ),
            (
                "url = \"http://x/\"\nagents_available = \"/a\"\nopen_leads = \"/o\"\ntoken = \"s3cret\"",
                "unknown field `token`",
            ),
            (
                "url = \"http://x/\"\nagents_available = \"/a\"\nopen_leads = \"/o\"\nauth_header = \"X-Key\"",
                "capacity.sources.crm.auth_header is set but no value",
            ),
            (
                "url = \"http://x/\"\nagents_available = \"/a\"\nopen_leads = \"/o\"\nauth_value_env = \"LEADORCH_TEST_SURELY_UNSET_VARIABLE\"",
                "the environment variable LEADORCH_TEST_SURELY_UNSET_VARIABLE (auth_value_env) is not set",
            ),
            (
                "url = \"http://x/\"\nagents_available = \"/a\"\nopen_leads = \"/o\"\nauth_value_file = \"/nonexistent/leadorch-secret\"",
                "cannot read auth_value_file /nonexistent/leadorch-secret",
            ),
            (
                "url = \"http://x/\"\nagents_available = \"/a\"\nopen_leads = \"/o\"\ntimeout = \"0s\"",
                "capacity.sources.crm.timeout",
            ),
        ] {
            let err = HttpPoll::from_settings("crm", &settings(text)).expect_err(text);
            assert!(err.contains(wanted), "{text}\n=> {err}");
        }
    }

    #[test]
    fn pointers_read_whole_numbers_for_a_team() {
        let answer = serde_json::json!({"teams": {"nl": {"open": 12, "max": "40", "half": 1.5, "neg": -1}, "a/b": {"open": 3}}});
        let p = |text: &str| Pointer::new("open_leads", text.into(), "k").expect("pointer");
        assert_eq!(p("/teams/{team}/open").read(&answer, "nl"), Ok(12));
        assert_eq!(p("/teams/{team}/max").read(&answer, "nl"), Ok(40));
        assert_eq!(
            p("/teams/{team}/open").read(&answer, "a/b"),
            Ok(3),
            "escaped"
        );
        for bad in ["/teams/{team}/half", "/teams/{team}/neg", "/teams/{team}"] {
            let e = p(bad).read(&answer, "nl").expect_err(bad);
            assert!(matches!(e, SourceError::Response(_)), "{e}");
        }
        let e = p("/teams/{team}/open")
            .read(&answer, "be")
            .expect_err("absent");
        assert_eq!(
            e.to_string(),
            "unexpected answer: open_leads (/teams/be/open) is not in the answer"
        );
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO),
            "a date in the past: at once"
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(encode("nl west/2"), "nl%20west%2F2");
    }
}
