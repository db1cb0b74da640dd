#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Declares one aggregate's event types once, in its own module: `EVENT_TYPES` (each event
/// type with the schema version this build writes, which [`event_types`] serves) and the
/// `DomainEvent` impl that names and versions every event from the same list, so a new event
/// or version is written in one place.
macro_rules! event_table {
    ($event:ident { $($variant:ident => $version:literal),+ $(,)? }) => {
        /// Event types of this aggregate with their current schema versions.
        pub const EVENT_TYPES: &[(&str, &str)] = &[$((stringify!($variant), $version)),+];

        impl cqrs_es::DomainEvent for $event {
            fn event_type(&self) -> String {
                match self {
                    $($event::$variant { .. } => stringify!($variant),)+
                }
                .to_owned()
            }

            fn event_version(&self) -> String {
                match self {
                    $($event::$variant { .. } => $version,)+
                }
                .to_owned()
            }
        }
    };
}
pub(crate) use event_table;

pub mod campaign;
pub mod capacity;
pub mod capacity_source;
pub mod consent;
pub mod evaluation;
pub mod google_account;
pub mod lead;
mod occurred;
pub mod personal;
pub mod project;
pub mod rule;
pub mod subject;
pub mod team;
pub mod time;
pub mod upcast;
pub mod world;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::Value;

pub use campaign::{Campaign, CampaignCommand, CampaignError, CampaignEvent};
pub use capacity::{CapacityCommand, CapacityError, CapacityEvent, CapacitySnapshot};
pub use capacity_source::{
    CapacitySourceCommand, CapacitySourceError, CapacitySourceEvent, CapacitySourceHealth,
};
pub use consent::{Consent, ConsentCommand, ConsentError, ConsentEvent};
pub use evaluation::{
    Evaluation, EvaluationCommand, EvaluationError, EvaluationEvent, EvaluationRecord,
};
pub use google_account::{
    GoogleAccount, GoogleAccountCommand, GoogleAccountError, GoogleAccountEvent,
};
pub use lead::{Lead, LeadCommand, LeadError, LeadEvent, LeadOutcome, LeadStatus};
pub use personal::{KeyPurpose, PersonalData, PersonalField};
pub use rule::{Rule, RuleCommand, RuleError, RuleEvent};
pub use subject::{DataSubject, SubjectCommand, SubjectError, SubjectEvent};
pub use team::{Team, TeamCommand, TeamError, TeamEvent};
pub use world::{World, WorldCommand, WorldError, WorldEvent};

/// The domain's aggregates, listed once: calls `$callback! { … }` with one entry per aggregate,
/// in a stable order (the order of [`AGGREGATE_TYPES`]).
///
/// Everything that names every aggregate is generated from this list: [`AGGREGATE_TYPES`],
/// [`event_types`], [`AnyEvent`] and its methods and `From` impls, and each aggregate's
/// `cqrs_es::Aggregate` impl (its `handle` runs the aggregate's own `decide` and writes the
/// events; its `apply` calls the aggregate's own `evolve`). Code outside the crate that needs
/// every aggregate (the replay benchmark) passes its own `macro_rules!` callback. Each entry
/// reads:
///
/// ```text
/// { variant: Lead, aggregate: $crate::Lead, type_name: "lead", module: lead,
///   command: $crate::LeadCommand, event: $crate::LeadEvent, error: $crate::LeadError,
///   doc: "An event of a [`Lead`]." }
/// ```
///
/// `variant` is the [`AnyEvent`] variant, `type_name` the aggregate type (`Aggregate::TYPE`,
/// the prefix of its stream ids), `module` the module that holds the aggregate (with its
/// `EVENT_TYPES`). A callback that needs only some of it matches the rest with `$($rest:tt)*`:
///
/// ```
/// macro_rules! type_names {
///     ($({ variant: $variant:ident, aggregate: $aggregate:ty, $($rest:tt)* })*) => {
///         [$(<$aggregate as cqrs_es::Aggregate>::TYPE),*]
///     };
/// }
/// assert_eq!(
///     leadorch_domain::for_each_aggregate!(type_names),
///     leadorch_domain::AGGREGATE_TYPES
/// );
/// ```
#[macro_export]
macro_rules! for_each_aggregate {
    ($callback:ident) => {
        $callback! {
            {
                variant: Lead, aggregate: $crate::Lead, type_name: "lead", module: lead,
                command: $crate::LeadCommand, event: $crate::LeadEvent,
                error: $crate::LeadError, doc: "An event of a [`Lead`].",
            }
            {
                variant: Consent, aggregate: $crate::Consent, type_name: "consent",
                module: consent, command: $crate::ConsentCommand,
                event: $crate::ConsentEvent, error: $crate::ConsentError,
                doc: "An event of a [`Consent`].",
            }
            {
                variant: DataSubject, aggregate: $crate::DataSubject,
                type_name: "data_subject", module: subject, command: $crate::SubjectCommand,
                event: $crate::SubjectEvent, error: $crate::SubjectError,
                doc: "An event of a [`DataSubject`].",
            }
            {
                variant: Campaign, aggregate: $crate::Campaign, type_name: "campaign",
                module: campaign, command: $crate::CampaignCommand,
                event: $crate::CampaignEvent, error: $crate::CampaignError,
                doc: "An event of a [`Campaign`].",
            }
            {
                variant: Capacity, aggregate: $crate::CapacitySnapshot,
                type_name: "capacity", module: capacity, command: $crate::CapacityCommand,
                event: $crate::CapacityEvent, error: $crate::CapacityError,
                doc: "An event of a [`CapacitySnapshot`].",
            }
            {
                variant: Rule, aggregate: $crate::Rule, type_name: "rule", module: rule,
                command: $crate::RuleCommand, event: $crate::RuleEvent,
                error: $crate::RuleError, doc: "An event of a [`Rule`].",
            }
            {
                variant: GoogleAccount, aggregate: $crate::GoogleAccount,
                type_name: "google_account", module: google_account,
                command: $crate::GoogleAccountCommand, event: $crate::GoogleAccountEvent,
                error: $crate::GoogleAccountError, doc: "An event of a [`GoogleAccount`].",
            }
            {
                variant: Evaluation, aggregate: $crate::Evaluation,
                type_name: "evaluation", module: evaluation,
                command: $crate::EvaluationCommand, event: $crate::EvaluationEvent,
                error: $crate::EvaluationError, doc: "An event of an [`Evaluation`].",
            }
            {
                variant: World, aggregate: $crate::World, type_name: "world", module: world,
                command: $crate::WorldCommand, event: $crate::WorldEvent,
                error: $crate::WorldError, doc: "An event of the [`World`].",
            }
            {
                variant: Team, aggregate: $crate::Team, type_name: "team", module: team,
                command: $crate::TeamCommand, event: $crate::TeamEvent,
                error: $crate::TeamError, doc: "An event of a [`Team`].",
            }
            {
                variant: CapacitySource, aggregate: $crate::CapacitySourceHealth,
                type_name: "capacity_source", module: capacity_source,
                command: $crate::CapacitySourceCommand, event: $crate::CapacitySourceEvent,
                error: $crate::CapacitySourceError,
                doc: "An event of a [`CapacitySourceHealth`].",
            }
        }
    };
}

/// What [`for_each_aggregate!`] generates inside this crate.
macro_rules! domain {
    ($({
        variant: $variant:ident, aggregate: $aggregate:ty, type_name: $type_name:literal,
        module: $module:ident, command: $command:ty, event: $event:ty, error: $error:ty,
        doc: $doc:literal $(,)?
    })*) => {
        /// Every aggregate type (`Aggregate::TYPE`) of the domain, in a stable order.
        pub const AGGREGATE_TYPES: &[&str] = &[$($type_name),*];

        /// The event types of one aggregate type with their current schema versions
        /// (`"MAJOR.MINOR"`), or `None` for an unknown aggregate type.
        pub fn event_types(
            aggregate_type: &str,
        ) -> Option<&'static [(&'static str, &'static str)]> {
            match aggregate_type {
                $($type_name => Some($module::EVENT_TYPES),)*
                _ => None,
            }
        }

        $(impl Aggregate for $aggregate {
            const TYPE: &'static str = $type_name;
            type Command = $command;
            type Event = $event;
            type Error = $error;
            type Services = ();

            async fn handle(
                &mut self,
                command: Self::Command,
                _service: &Self::Services,
                sink: &EventSink<Self>,
            ) -> Result<(), Self::Error> {
                for event in self.decide(command)? {
                    sink.write(event, self).await;
                }
                Ok(())
            }

            fn apply(&mut self, event: Self::Event) {
                self.evolve(event)
            }
        })*

        /// An event of any aggregate, for code that reads streams of mixed types (export,
        /// replay, crypto-shredding, audit).
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant)] // short-lived values; boxing buys nothing
        pub enum AnyEvent {
            $(#[doc = $doc] $variant($event),)*
        }

        impl AnyEvent {
            /// Deserializes an event of `aggregate_type` as serialized by serde (externally
            /// tagged), without upcasting or checking version and tag (see
            /// [`AnyEvent::decode`]); `None` for an unknown aggregate type.
            pub fn from_deserializer<'de, D: serde::Deserializer<'de>>(
                aggregate_type: &str,
                deserializer: D,
            ) -> Option<Result<AnyEvent, D::Error>> {
                Some(match aggregate_type {
                    $($type_name => {
                        <$event as serde::Deserialize>::deserialize(deserializer)
                            .map(AnyEvent::$variant)
                    })*
                    _ => return None,
                })
            }

            /// The aggregate type (`Aggregate::TYPE`) this event belongs to.
            pub fn aggregate_type(&self) -> &'static str {
                match self {
                    $(AnyEvent::$variant(_) => $type_name,)*
                }
            }

            /// The event type (the variant name of the inner event).
            pub fn event_type(&self) -> String {
                match self {
                    $(AnyEvent::$variant(e) => e.event_type(),)*
                }
            }

            /// The schema version the inner event is written at.
            pub fn event_version(&self) -> String {
                match self {
                    $(AnyEvent::$variant(e) => e.event_version(),)*
                }
            }

            /// Serializes the inner event exactly as its aggregate's event store does
            /// (externally tagged), so that [`AnyEvent::decode`] reads it back.
            pub fn to_payload(&self) -> Result<Value, serde_json::Error> {
                match self {
                    $(AnyEvent::$variant(e) => serde_json::to_value(e),)*
                }
            }

            fn inner(&self) -> &dyn PersonalData {
                match self {
                    $(AnyEvent::$variant(e) => e,)*
                }
            }
        }

        $(impl From<$event> for AnyEvent {
            fn from(event: $event) -> Self {
                AnyEvent::$variant(event)
            }
        })*

        /// One sample of every event of every aggregate.
        #[cfg(test)]
        pub(crate) fn all_samples() -> Vec<AnyEvent> {
            let mut all: Vec<AnyEvent> = Vec::new();
            $(all.extend($module::samples().into_iter().map(AnyEvent::from));)*
            all
        }
    };
}

for_each_aggregate!(domain);

/// The current schema version of an event type, or `None` if the pair is unknown.
pub fn current_version(aggregate_type: &str, event_type: &str) -> Option<&'static str> {
    event_types(aggregate_type)?
        .iter()
        .find(|(t, _)| *t == event_type)
        .map(|(_, v)| *v)
}

/// The id of one aggregate instance's event stream: `"<aggregate_type>:<aggregate_id>"`,
/// e.g. `"campaign:1234567890/987"`.
pub fn stream_id(aggregate_type: &str, aggregate_id: &str) -> String {
    format!("{aggregate_type}:{aggregate_id}")
}

/// Splits a [`stream_id`] into `(aggregate_type, aggregate_id)` at the first `:`.
///
/// Aggregate types never contain `:`, aggregate ids may. Returns `None` when there is no
/// `:` or either side is empty. The aggregate type is not checked against
/// [`AGGREGATE_TYPES`].
pub fn split_stream_id(stream_id: &str) -> Option<(&str, &str)> {
    let (aggregate_type, aggregate_id) = stream_id.split_once(':')?;
    if aggregate_type.is_empty() || aggregate_id.is_empty() {
        return None;
    }
    Some((aggregate_type, aggregate_id))
}

/// Why a stored event could not be decoded. Every variant means the stored data and this
/// build disagree; callers should treat it as an internal error (HTTP 500), never as a
/// client mistake.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The aggregate type is not one of [`AGGREGATE_TYPES`].
    #[error("unknown aggregate type {0:?}")]
    UnknownAggregateType(String),
    /// The aggregate type has no event of that type.
    #[error("aggregate type {aggregate_type:?} has no event type {event_type:?}")]
    UnknownEventType {
        /// The aggregate type given.
        aggregate_type: String,
        /// The event type given.
        event_type: String,
    },
    /// The schema version is not `"MAJOR.MINOR"` (or `"MAJOR.MINOR.PATCH"`).
    #[error("event {event_type} has an unreadable schema version {version:?}")]
    InvalidVersion {
        /// The event type.
        event_type: String,
        /// The version as stored.
        version: String,
    },
    /// The payload's schema version (after upcasting) cannot be read by this build: another
    /// major version, or an older minor version for which no upcaster exists.
    #[error("event {event_type} at schema version {version} is not readable (current {current})")]
    UnsupportedVersion {
        /// The event type.
        event_type: String,
        /// The version after upcasting.
        version: String,
        /// The version this build writes.
        current: &'static str,
    },
    /// The payload is not an externally tagged object whose only key is the event type.
    #[error("payload of {event_type} is not tagged with its event type")]
    NotTagged {
        /// The event type given.
        event_type: String,
    },
    /// The payload does not deserialize into the event.
    #[error("payload of {event_type} does not match its schema: {source}")]
    Payload {
        /// The event type given.
        event_type: String,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },
}

impl AnyEvent {
    /// Decodes a stored event: upcasts the payload from `schema_version` to the current
    /// schema (see [`upcast`]), checks the version and the tag, then deserializes it.
    ///
    /// `payload` is the event as serialized by serde (externally tagged, e.g.
    /// `{"LeadReceived": {…}}`); personal fields may be JSON `null` after crypto-shredding.
    /// A newer *minor* version than this build knows is accepted (minor versions only add
    /// fields, which are ignored); another major version is not.
    pub fn decode(
        aggregate_type: &str,
        event_type: &str,
        schema_version: &str,
        payload: &Value,
    ) -> Result<AnyEvent, DecodeError> {
        if event_types(aggregate_type).is_none() {
            return Err(DecodeError::UnknownAggregateType(aggregate_type.to_owned()));
        }
        let current = current_version(aggregate_type, event_type).ok_or_else(|| {
            DecodeError::UnknownEventType {
                aggregate_type: aggregate_type.to_owned(),
                event_type: event_type.to_owned(),
            }
        })?;
        let (version, payload) =
            upcast::upcast(aggregate_type, event_type, schema_version, payload.clone());
        check_version(event_type, &version, current)?;
        let tagged = payload
            .as_object()
            .is_some_and(|map| map.len() == 1 && map.contains_key(event_type));
        if !tagged {
            return Err(DecodeError::NotTagged {
                event_type: event_type.to_owned(),
            });
        }
        let payload_error = |source| DecodeError::Payload {
            event_type: event_type.to_owned(),
            source,
        };
        match AnyEvent::from_deserializer(aggregate_type, payload) {
            Some(event) => event.map_err(payload_error),
            None => Err(DecodeError::UnknownAggregateType(aggregate_type.to_owned())),
        }
    }
}

impl PersonalData for AnyEvent {
    fn data_subject(&self) -> Option<&str> {
        self.inner().data_subject()
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        self.inner().personal_fields()
    }
}

/// Parses `"MAJOR.MINOR"` or `"MAJOR.MINOR.PATCH"` (a bare `"MAJOR"` means `MAJOR.0`).
pub(crate) fn parse_version(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = match parts.next() {
        Some(minor) => minor.parse().ok()?,
        None => 0,
    };
    if let Some(patch) = parts.next() {
        patch.parse::<u32>().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor))
}

fn check_version(
    event_type: &str,
    version: &str,
    current: &'static str,
) -> Result<(), DecodeError> {
    let invalid = || DecodeError::InvalidVersion {
        event_type: event_type.to_owned(),
        version: version.to_owned(),
    };
    let (major, minor) = parse_version(version).ok_or_else(invalid)?;
    let (current_major, current_minor) = parse_version(current).ok_or_else(invalid)?;
    if major != current_major || minor < current_minor {
        return Err(DecodeError::UnsupportedVersion {
            event_type: event_type.to_owned(),
            version: version.to_owned(),
            current,
        });
    }
    Ok(())
}

/// Whether `s` is an id a client may give (a team, a member, a connector): 1 to 128 of
/// `A-Z a-z 0-9 . _ -` (ADR 0022, decision 12).
pub fn valid_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Whether `s` is an id as stored: a client's id ([`valid_id`]), bare for the `default`
/// project, or prefixed with another project's name, `<project>/<id>` (the project 1 to 32
/// of `a-z 0-9 -`, not starting with `-`; ADR 0022, decision 12).
pub fn valid_scoped_id(s: &str) -> bool {
    match s.split_once('/') {
        None => valid_id(s),
        Some((project, id)) => {
            (1..=32).contains(&project.len())
                && !project.starts_with('-')
                && project
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && valid_id(id)
        }
    }
}

/// True when `s` is empty or only whitespace.
pub(crate) fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

#[cfg(test)]
pub(crate) mod testutil {
    use chrono::{DateTime, Utc};

    /// A fixed instant plus `minutes`, so that tests never read the clock.
    pub fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_760_000_000 + minutes * 60, 0).expect("valid test timestamp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn samples_cover_every_event_type_of_every_aggregate() {
        let sampled: BTreeSet<(&str, String)> = all_samples()
            .iter()
            .map(|e| (e.aggregate_type(), e.event_type()))
            .collect();
        let declared: BTreeSet<(&str, String)> = AGGREGATE_TYPES
            .iter()
            .flat_map(|a| {
                event_types(a)
                    .unwrap_or_default()
                    .iter()
                    .map(move |(t, _)| (*a, (*t).to_owned()))
            })
            .collect();
        assert_eq!(sampled, declared);
    }

    #[test]
    fn every_personal_field_pointer_resolves_in_a_sample_of_its_event() {
        let mut purposes = BTreeSet::new();
        for event in all_samples() {
            let payload = event.to_payload().expect("serializes");
            let tag = event.event_type();
            for field in event.personal_fields() {
                assert!(
                    field.pointer.starts_with(&format!("/{tag}/")),
                    "{} does not point into {tag}",
                    field.pointer
                );
                let found = personal::locate(&payload, field.pointer);
                assert!(
                    !found.is_empty(),
                    "{} does not resolve in {payload}",
                    field.pointer
                );
                for at in found {
                    let value = payload.pointer(&at).expect("located");
                    // Google Ads data is sealed as whole values (a snapshot, metrics, facts),
                    // and so is a lead's free metadata (an object); the rest are strings.
                    let filled = if field.purpose == KeyPurpose::GoogleAds {
                        !value.is_null()
                    } else {
                        value.is_string() || (value.is_object() && at.ends_with("/metadata"))
                    };
                    assert!(
                        filled,
                        "sample of {tag} must fill {at} with a value, got {value}"
                    );
                }
                purposes.insert(field.purpose);
            }
            if !event.personal_fields().is_empty() {
                assert!(
                    event.data_subject().is_some_and(|s| !s.is_empty()),
                    "{tag} has personal fields but no data subject"
                );
            }
        }
        // Every key purpose protects at least one field somewhere.
        assert_eq!(
            purposes.into_iter().collect::<Vec<_>>(),
            KeyPurpose::ALL.to_vec()
        );
    }

    #[test]
    fn every_sample_round_trips_through_decode_even_after_crypto_shredding() {
        for event in all_samples() {
            let payload = event.to_payload().expect("serializes");
            let decoded = AnyEvent::decode(
                event.aggregate_type(),
                &event.event_type(),
                &event.event_version(),
                &payload,
            )
            .expect("decodes");
            assert_eq!(decoded, event);

            // What the store hands back once the subject's keys are destroyed.
            let mut shredded = payload.clone();
            for field in event.personal_fields() {
                for at in personal::locate(&payload, field.pointer) {
                    if let Some(value) = shredded.pointer_mut(&at) {
                        *value = Value::Null;
                    }
                }
            }
            let decoded = AnyEvent::decode(
                event.aggregate_type(),
                &event.event_type(),
                &event.event_version(),
                &shredded,
            )
            .unwrap_or_else(|e| panic!("shredded {} does not decode: {e}", event.event_type()));
            assert_eq!(decoded.personal_fields(), event.personal_fields());
            assert_eq!(decoded.data_subject(), event.data_subject());
            for field in decoded.personal_fields() {
                let reserialized = decoded.to_payload().expect("serializes");
                for at in personal::locate(&payload, field.pointer) {
                    assert_eq!(reserialized.pointer(&at), Some(&Value::Null), "{at}");
                }
            }
        }
    }

    #[test]
    fn event_versions_match_the_declared_tables() {
        for event in all_samples() {
            assert_eq!(
                current_version(event.aggregate_type(), &event.event_type()),
                Some(event.event_version().as_str()),
            );
            assert!(parse_version(&event.event_version()).is_some());
        }
        assert_eq!(current_version("capacity", "CapacityRecorded"), Some("1.2"));
        assert_eq!(current_version("lead", "LeadReceived"), Some("1.1"));
        assert_eq!(current_version("lead", "LeadBlocked"), Some("1.0"));
    }

    #[test]
    fn aggregate_types_are_unique_and_have_event_tables() {
        let unique: BTreeSet<&str> = AGGREGATE_TYPES.iter().copied().collect();
        assert_eq!(unique.len(), AGGREGATE_TYPES.len());
        assert_eq!(AGGREGATE_TYPES.len(), 11);
        for t in AGGREGATE_TYPES {
            assert!(!t.contains(':'));
            assert!(event_types(t).is_some_and(|e| !e.is_empty()));
        }
        assert!(AGGREGATE_TYPES.contains(&"data_subject"));
        assert!(AGGREGATE_TYPES.contains(&"google_account"));
    }

    #[test]
    fn stream_ids_round_trip() {
        let id = stream_id("campaign", "123-456-7890/42");
        assert_eq!(id, "campaign:123-456-7890/42");
        assert_eq!(split_stream_id(&id), Some(("campaign", "123-456-7890/42")));
        assert_eq!(split_stream_id("rule:a:b"), Some(("rule", "a:b")));
        assert_eq!(split_stream_id("rule"), None);
        assert_eq!(split_stream_id(":x"), None);
        assert_eq!(split_stream_id("rule:"), None);
    }

    #[test]
    fn decode_rejects_unknown_types_versions_and_bad_payloads() {
        let payload = serde_json::json!({"RuleDeleted": {"at": "2025-10-09T08:53:20Z"}});
        assert!(AnyEvent::decode("rule", "RuleDeleted", "1.0", &payload).is_ok());
        assert!(matches!(
            AnyEvent::decode("nope", "RuleDeleted", "1.0", &payload),
            Err(DecodeError::UnknownAggregateType(t)) if t == "nope"
        ));
        assert!(matches!(
            AnyEvent::decode("lead", "RuleDeleted", "1.0", &payload),
            Err(DecodeError::UnknownEventType { .. })
        ));
        assert!(matches!(
            AnyEvent::decode("rule", "RuleDeleted", "x.y", &payload),
            Err(DecodeError::InvalidVersion { .. })
        ));
        assert!(matches!(
            AnyEvent::decode("rule", "RuleDeleted", "2.0", &payload),
            Err(DecodeError::UnsupportedVersion { current: "1.0", .. })
        ));
        // A newer minor version only adds fields; unknown fields are ignored.
        let newer = serde_json::json!({"RuleDeleted": {"at": "2025-10-09T08:53:20Z", "by": "x"}});
        assert!(AnyEvent::decode("rule", "RuleDeleted", "1.3", &newer).is_ok());
        assert!(matches!(
            AnyEvent::decode("rule", "RuleEnabled", "1.0", &payload),
            Err(DecodeError::NotTagged { .. })
        ));
        let untagged = serde_json::json!({"at": "2025-10-09T08:53:20Z"});
        assert!(matches!(
            AnyEvent::decode("rule", "RuleDeleted", "1.0", &untagged),
            Err(DecodeError::NotTagged { .. })
        ));
        let wrong = serde_json::json!({"RuleDeleted": {"at": 5}});
        assert!(matches!(
            AnyEvent::decode("rule", "RuleDeleted", "1.0", &wrong),
            Err(DecodeError::Payload { .. })
        ));
    }

    #[test]
    fn same_event_type_name_in_two_aggregates_decodes_by_aggregate_type() {
        // `ConsentGranted` exists in both `consent` and `google_account`.
        let google = google_account::samples()
            .into_iter()
            .find(|e| e.event_type() == "ConsentGranted")
            .expect("sample");
        let payload = serde_json::to_value(&google).expect("serializes");
        let decoded =
            AnyEvent::decode("google_account", "ConsentGranted", "1.0", &payload).expect("decodes");
        assert_eq!(decoded, AnyEvent::GoogleAccount(google));
        assert!(matches!(
            AnyEvent::decode("consent", "ConsentGranted", "1.0", &payload),
            Err(DecodeError::Payload { .. })
        ));
    }

    #[test]
    fn client_ids_are_short_plain_words() {
        for ok in ["sales-nl", "a", "owner_17", "x.y", &"a".repeat(128)] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", "sales nl", "a/b", "a:b", "ü", &"a".repeat(129)] {
            assert!(!valid_id(bad), "{bad}");
        }
        for ok in [
            "sales-nl",
            "acme/sales-nl",
            "client-7/o.17",
            &format!("{}/a", "p".repeat(32)),
        ] {
            assert!(valid_scoped_id(ok), "{ok}");
        }
        for bad in [
            "",
            "/sales",
            "acme/",
            "Acme/sales",
            "-acme/sales",
            "a_b/sales",
            "acme/b/c",
            "acme/sales nl",
            &format!("{}/a", "p".repeat(33)),
        ] {
            assert!(!valid_scoped_id(bad), "{bad}");
        }
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("1.0"), Some((1, 0)));
        assert_eq!(parse_version("1.1.0"), Some((1, 1)));
        assert_eq!(parse_version("2"), Some((2, 0)));
        assert_eq!(parse_version("1."), None);
        assert_eq!(parse_version("1.0.0.0"), None);
        assert_eq!(parse_version(""), None);
    }
}
