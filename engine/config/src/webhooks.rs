//! `[webhooks]`: where signed webhooks may go, and their retry schedule (ADR 0033).

use serde::{Deserialize, Serialize};

use crate::parse_duration;

/// Where signed webhooks may go and how they are retried (`[webhooks]`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Let webhooks reach loopback and private addresses (receivers inside the network, tests).
    /// Off by default: a webhook URL is typed by whoever holds an admin key, and must not reach
    /// what only the daemon's network can.
    pub allow_private: bool,
    /// Host names, addresses and networks (CIDR, `10.1.0.0/16`) webhooks may reach although
    /// they are private.
    pub allow_hosts: Vec<String>,
    /// The delay before each attempt, the first's included (`["0s", "5s", "5m", …]`); empty
    /// (the default): the Standard Webhooks schedule, immediately, 5 s, 5 min, 30 min, 2 h,
    /// 5 h, 10 h, 14 h, 20 h and 24 h. Shortened by tests.
    pub retry_schedule: Vec<String>,
}

impl WebhookSettings {
    /// The delays of `retry_schedule`, read.
    pub fn retry_delays(&self) -> Result<Vec<std::time::Duration>, String> {
        self.retry_schedule
            .iter()
            .enumerate()
            .map(|(i, text)| {
                parse_duration(text)
                    .and_then(|d| d.to_std().map_err(|_| "a delay cannot be negative".into()))
                    .map_err(|e| format!("webhooks.retry_schedule[{i}] ({text:?}): {e}"))
            })
            .collect()
    }

    /// Checks the section, naming what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        self.retry_delays()?;
        for (i, host) in self.allow_hosts.iter().enumerate() {
            let h = host.trim();
            if h.is_empty()
                || h.contains("://")
                || !h
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '/'))
            {
                return Err(format!(
                    "webhooks.allow_hosts[{i}] ({host:?}): not a host name, an address or a network"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_entries_are_named() {
        let mut s = WebhookSettings {
            retry_schedule: vec!["0s".into(), "5s".into(), "soon".into()],
            ..WebhookSettings::default()
        };
        let e = s.validate().unwrap_err();
        assert!(
            e.starts_with("webhooks.retry_schedule[2] (\"soon\")"),
            "{e}"
        );
        s.retry_schedule = vec!["0s".into(), "1s".into()];
        s.allow_hosts = vec!["10.0.0.0/8".into(), "http://x".into()];
        let e = s.validate().unwrap_err();
        assert!(e.starts_with("webhooks.allow_hosts[1]"), "{e}");
        s.allow_hosts.pop();
        s.validate().unwrap();
    }
}
