//! The configured sources, built into connectors: one `match kind` line per connector.

use std::sync::Arc;

use leadorch_config::{Config, SourceSettings};

use crate::http_poll::{self, HttpPoll};
use crate::hubspot::{self, HubSpot};
use crate::salesforce::{self, Salesforce};
use crate::source::CapacitySource;

/// The connector kinds this build knows.
pub const KINDS: &[&str] = &[http_poll::KIND, hubspot::KIND, salesforce::KIND];

/// One configured source, ready to poll.
#[derive(Clone)]
pub struct Configured {
    /// Its generic settings (interval, max_age, teams).
    pub settings: SourceSettings,
    /// The connector.
    pub source: Arc<dyn CapacitySource>,
}

impl Configured {
    /// The source's name.
    pub fn name(&self) -> &str {
        self.source.name()
    }
}

impl std::fmt::Debug for Configured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Configured")
            .field("name", &self.source.name())
            .field("kind", &self.source.kind())
            .finish_non_exhaustive()
    }
}

/// Builds one source from its settings; errors name the key.
pub fn build_one(name: &str, settings: &SourceSettings) -> Result<Configured, String> {
    let source: Arc<dyn CapacitySource> = match settings.kind.as_str() {
        http_poll::KIND => Arc::new(HttpPoll::from_settings(name, &settings.settings)?),
        hubspot::KIND => Arc::new(HubSpot::from_settings(name, &settings.settings)?),
        salesforce::KIND => Arc::new(Salesforce::from_settings(name, &settings.settings)?),
        other => {
            return Err(format!(
                "capacity.sources.{name}.kind: unknown connector {other:?} (known: {})",
                KINDS.join(", ")
            ))
        }
    };
    Ok(Configured {
        settings: settings.clone(),
        source,
    })
}

/// Every `[capacity.sources.<name>]` of `config`, by name; the first bad one is the error.
pub fn build(config: &Config) -> Result<Vec<Configured>, String> {
    config
        .capacity
        .sources
        .iter()
        .map(|(name, settings)| build_one(name, settings))
        .collect()
}
