//! What the operator does with endpoints, shared by `leadorch webhooks …` and `/v1/webhooks`:
//! an endpoint is registered only with a URL the configured [`Reach`] allows and known event
//! types; its secret is made here and shown once, to whoever registered it (and again only
//! when it is rotated).

use leadorch_store::{Endpoint, StoreError, Webhooks};
use url::Url;
use zeroize::Zeroizing;

use crate::events::EVENT_TYPES;
use crate::sign::Secret;
use crate::ssrf::Reach;

/// The longest URL accepted, characters.
pub const MAX_URL_LEN: usize = 2048;

/// The word `--events` (and the API's `events`) takes for every type there is now.
pub const ALL_EVENTS: &str = "all";

/// Why an endpoint was not registered.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// A field is wrong (API: `422` naming `field`; CLI: the flag's error).
    #[error("{field}: {problem}")]
    Invalid {
        /// `url` or `events` (`events[2]` for one of a list).
        field: String,
        /// What is wrong, and what would be right.
        problem: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> ManageError {
    ManageError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

/// The known event types, for error texts.
pub fn known_events() -> String {
    EVENT_TYPES.join(", ")
}

/// The event types asked for, checked, without repeats, in [`EVENT_TYPES`]' order. `all`
/// alone stands for every type there is now (an endpoint keeps that list: types added by a
/// later version are not added to it). Errors name the entry (`events[i]`).
pub fn parse_events(asked: &[String]) -> Result<Vec<String>, ManageError> {
    let asked: Vec<&str> = asked.iter().map(|s| s.trim()).collect();
    if asked.is_empty() || asked.iter().all(|s| s.is_empty()) {
        return Err(invalid(
            "events",
            format!(
                "name at least one event type ({ALL_EVENTS}, or any of {})",
                known_events()
            ),
        ));
    }
    if asked.contains(&ALL_EVENTS) {
        if asked.len() > 1 {
            return Err(invalid(
                "events",
                format!("'{ALL_EVENTS}' already names every event type: give it alone"),
            ));
        }
        return Ok(EVENT_TYPES.iter().map(|s| s.to_string()).collect());
    }
    for (i, name) in asked.iter().enumerate() {
        if !EVENT_TYPES.contains(name) {
            return Err(invalid(
                format!("events[{i}]"),
                format!(
                    "unknown event type {name:?}; the event types are {} (or {ALL_EVENTS})",
                    known_events()
                ),
            ));
        }
    }
    Ok(EVENT_TYPES
        .iter()
        .filter(|t| asked.contains(t))
        .map(|s| s.to_string())
        .collect())
}

/// The URL, checked: `https` (plain `http` only to a host the configuration allows beyond
/// public addresses), no credentials, not an address `reach` refuses.
pub fn check_url(text: &str, reach: &Reach) -> Result<Url, ManageError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid("url", "the webhook URL is empty"));
    }
    if text.len() > MAX_URL_LEN {
        return Err(invalid(
            "url",
            format!("the webhook URL is longer than {MAX_URL_LEN} characters"),
        ));
    }
    let url = Url::parse(text).map_err(|e| invalid("url", format!("not a URL: {e}")))?;
    reach
        .check_url(&url)
        .map_err(|e| invalid("url", e.to_string()))?;
    if url.scheme() == "http" && !reach.allows_plain_http(&url) {
        return Err(invalid(
            "url",
            format!(
                "a webhook to '{}' must use https; plain http is only for receivers inside your network that [webhooks] allow_private or allow_hosts allow",
                url.host_str().unwrap_or("")
            ),
        ));
    }
    Ok(url)
}

/// A new endpoint id, `we_` and a time-ordered UUID in hex.
pub fn endpoint_id() -> String {
    format!("we_{}", uuid::Uuid::now_v7().simple())
}

/// Registers an endpoint of `project` for `url` and `events` (checked here); returns it and
/// its secret's text, which is not shown again.
pub async fn add(
    hooks: &Webhooks,
    reach: &Reach,
    project: &str,
    url: &str,
    events: &[String],
    actor: &str,
    now: i64,
) -> Result<(Endpoint, Zeroizing<String>), ManageError> {
    let url = check_url(url, reach)?;
    let events = parse_events(events)?;
    let secret = Secret::generate();
    let endpoint = Endpoint {
        endpoint_id: endpoint_id(),
        project: project.to_string(),
        url: url.to_string(),
        events,
        created_at: now,
        created_by: actor.to_string(),
        disabled_at: None,
        disabled_reason: None,
    };
    let text = secret.expose();
    hooks.add(&endpoint, &text).await?;
    Ok((endpoint, text))
}

/// The endpoint `id` when it is `project`'s; another project's reads as unknown.
pub async fn find(
    hooks: &Webhooks,
    project: &str,
    id: &str,
) -> Result<Option<Endpoint>, StoreError> {
    Ok(hooks.endpoint(id).await?.filter(|e| e.project == project))
}

/// Gives `project`'s endpoint `id` a new secret; the previous one keeps signing beside it
/// until the next rotation. Returns the new secret's text (shown once), `None` for an
/// endpoint the project does not have.
pub async fn rotate(
    hooks: &Webhooks,
    project: &str,
    id: &str,
    now: i64,
) -> Result<Option<Zeroizing<String>>, StoreError> {
    if find(hooks, project, id).await?.is_none() {
        return Ok(None);
    }
    let text = Secret::generate().expose();
    Ok(hooks.rotate(id, &text, now).await?.then_some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn events_are_checked_and_ordered() {
        assert_eq!(
            parse_events(&list(&[
                "campaign.paused",
                "change.applied",
                "campaign.paused"
            ]))
            .unwrap(),
            list(&["change.applied", "campaign.paused"])
        );
        assert_eq!(
            parse_events(&list(&["all"])).unwrap().len(),
            EVENT_TYPES.len()
        );
        let e = parse_events(&list(&["change.applied", "change.done"])).unwrap_err();
        let ManageError::Invalid { field, problem } = e else {
            panic!()
        };
        assert_eq!(field, "events[1]");
        assert!(problem.contains("\"change.done\"") && problem.contains("rule.notify"));
        assert!(parse_events(&[]).is_err());
        assert!(parse_events(&list(&["all", "rule.notify"])).is_err());
    }

    #[test]
    fn urls_need_https_unless_the_host_is_allowed() {
        let public = Reach::public_only();
        assert!(check_url("https://hooks.example.com/x", &public).is_ok());
        let e = check_url("http://hooks.example.com/x", &public)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("url: ") && e.contains("https"), "{e}");
        let e = check_url("https://127.0.0.1:9/x", &public)
            .unwrap_err()
            .to_string();
        assert!(e.contains("loopback") && e.contains("allow_private"), "{e}");
        assert!(check_url("not a url", &public).is_err());
        assert!(check_url(&format!("https://a.example/{}", "x".repeat(3000)), &public).is_err());
        let inside = Reach::new(false, &["hooks.internal".into(), "10.1.0.0/16".into()]).unwrap();
        assert!(check_url("http://hooks.internal/x", &inside).is_ok());
        assert!(check_url("http://10.1.2.3/x", &inside).is_ok());
        assert!(check_url("http://hooks.example.com/x", &inside).is_err());
        assert!(check_url("http://127.0.0.1:9/x", &Reach::any()).is_ok());
    }
}
