//! Personal data declarations.
//!
//! Events never know how they are stored. Each event type declares *which* of its serialized
//! fields hold personal data and *whose* data it is; the store encrypts exactly those fields
//! with the data subject's key for that purpose (crypto-shredding) and, once the key is gone,
//! hands them back as JSON `null`. That is why every personal field in an event is an
//! `Option<…>`: `None` means "not given, or erased", and aggregates must cope with both.

use serde::{Deserialize, Serialize};

/// What a subject key protects. Each purpose has its own key and its own retention window,
/// so that e.g. contact details can expire after 30 days while dedup fingerprints live 90.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPurpose {
    /// Lead payloads: name, email, phone, IP address, free text.
    Contact,
    /// One-way SHA-256 fingerprints of normalised contact details, kept for deduplication.
    Fingerprint,
    /// Consent evidence: IP address, user agent and certificate reference shown at consent.
    Consent,
    /// Google account identity and OAuth material of an operator.
    Account,
    /// Google Ads data read through an operator's Google account (campaign snapshots,
    /// metrics, and the facts excerpts built from them); subject = the account name.
    GoogleAds,
    /// Team members' identity: an employee's display name; subject = the member
    /// (`member:<id>`), kept until erased.
    Staff,
}

impl KeyPurpose {
    /// All purposes, in a stable order.
    pub const ALL: [KeyPurpose; 6] = [
        KeyPurpose::Contact,
        KeyPurpose::Fingerprint,
        KeyPurpose::Consent,
        KeyPurpose::Account,
        KeyPurpose::GoogleAds,
        KeyPurpose::Staff,
    ];

    /// Stable name used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Contact => "contact",
            KeyPurpose::Fingerprint => "fingerprint",
            KeyPurpose::Consent => "consent",
            KeyPurpose::Account => "account",
            KeyPurpose::GoogleAds => "google_ads",
            KeyPurpose::Staff => "staff",
        }
    }

    /// Parses a name produced by [`KeyPurpose::as_str`].
    pub fn parse(s: &str) -> Option<KeyPurpose> {
        KeyPurpose::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// One personal field of a serialized event: an RFC 6901 JSON pointer into the event's
/// serialized payload (events are externally tagged, so pointers start with the variant
/// name, e.g. `/LeadReceived/email`) and the key purpose that protects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PersonalField {
    /// JSON pointer into the serialized event.
    pub pointer: &'static str,
    /// Which of the subject's keys encrypts it.
    pub purpose: KeyPurpose,
}

/// Implemented by every event enum.
pub trait PersonalData {
    /// The data subject whose keys protect this event's personal fields, if it has any.
    fn data_subject(&self) -> Option<&str>;
    /// The personal fields of this event (empty when it has none).
    fn personal_fields(&self) -> &'static [PersonalField];
}

/// Deserializes a personal field for readers that do not decrypt: a plain value is kept, a
/// sealed one (the store's `{"$enc": …}` object) or `null` reads as `None`. Lets read models
/// decode stored bytes straight into events without opening, or even looking at, ciphertext.
pub fn sealed_as_none<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string, null, or a sealed personal field")
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            while m
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }
    d.deserialize_option(V)
}

/// The concrete JSON pointers a declared [`PersonalField::pointer`] names in `payload`: the
/// pointer itself when it resolves, or, for a pointer with `*` segments (e.g.
/// `/EvaluationRecorded/rules/*/run`), one per element of the arrays there, in order. Empty
/// when nothing is there.
pub fn locate(payload: &serde_json::Value, pointer: &str) -> Vec<String> {
    fn walk(v: &serde_json::Value, rest: &[&str], at: String, out: &mut Vec<String>) {
        match rest.split_first() {
            None => out.push(at),
            Some((&"*", tail)) => {
                for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                    walk(item, tail, format!("{at}/{i}"), out);
                }
            }
            Some((segment, tail)) => {
                let key = segment.replace("~1", "/").replace("~0", "~");
                let next = match v {
                    serde_json::Value::Object(m) => m.get(&key),
                    serde_json::Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => None,
                };
                if let Some(next) = next {
                    walk(next, tail, format!("{at}/{segment}"), out);
                }
            }
        }
    }
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    let mut out = Vec::new();
    walk(payload, &segments, String::new(), &mut out);
    out
}

/// Whether a stored JSON value is a sealed personal field (the store's `{"$enc": …}`).
pub fn is_sealed(v: &serde_json::Value) -> bool {
    v.as_object().is_some_and(|m| m.contains_key("$enc"))
}

/// [`sealed_as_none`] for any type: a plain value is deserialized as `T` (events stored
/// before the field was sealed, or decrypted ones), a sealed one or `null` reads as `None`.
pub fn sealed_or_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = serde_json::Value::deserialize(d)?;
    if v.is_null() || is_sealed(&v) {
        return Ok(None);
    }
    serde_json::from_value(v)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// For a JSON value field that may be sealed: a sealed value reads as `null`, anything else
/// as itself. Keeps ciphertext out of typed events (and so out of read models).
pub fn sealed_as_null<'de, D>(d: D) -> Result<serde_json::Value, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let v = serde_json::Value::deserialize(d)?;
    Ok(if is_sealed(&v) {
        serde_json::Value::Null
    } else {
        v
    })
}

#[cfg(test)]
mod sealed_tests {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct T {
        #[serde(default, deserialize_with = "super::sealed_as_none")]
        email: Option<String>,
    }

    #[test]
    fn sealed_and_null_fields_read_as_none_plain_ones_as_themselves() {
        let t: T = serde_json::from_str(r#"{"email":"a@b.c"}"#).unwrap();
        assert_eq!(t.email.as_deref(), Some("a@b.c"));
        let t: T = serde_json::from_str(r#"{"email":null}"#).unwrap();
        assert_eq!(t.email, None);
        let t: T =
            serde_json::from_str(r#"{"email":{"$enc":"AAAA","s":"x","p":"contact"}}"#).unwrap();
        assert_eq!(t.email, None);
        let t: T = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(t.email, None);
        assert!(serde_json::from_str::<T>(r#"{"email":5}"#).is_err());
    }

    #[test]
    fn wildcard_pointers_name_every_element() {
        let v = serde_json::json!({"E": {"rules": [{"run": 1}, {"run": 2}], "x": {"a/b": 3}}});
        assert_eq!(
            super::locate(&v, "/E/rules/*/run"),
            vec!["/E/rules/0/run", "/E/rules/1/run"]
        );
        assert_eq!(super::locate(&v, "/E/x/a~1b"), vec!["/E/x/a~1b"]);
        assert!(super::locate(&v, "/E/nope").is_empty());
        assert!(
            super::locate(&serde_json::json!({"E": {"rules": []}}), "/E/rules/*/run").is_empty()
        );
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Any {
        #[serde(default, deserialize_with = "super::sealed_or_none")]
        pair: Option<(u8, u8)>,
        #[serde(default, deserialize_with = "super::sealed_as_null")]
        facts: serde_json::Value,
    }

    #[test]
    fn sealed_values_of_any_type_read_as_none_or_null() {
        let t: Any = serde_json::from_str(r#"{"pair":[1,2],"facts":{"a":1}}"#).unwrap();
        assert_eq!(t.pair, Some((1, 2)));
        assert_eq!(t.facts, serde_json::json!({"a": 1}));
        let sealed = r#"{"$enc":"AAAA","s":"x","p":"google_ads"}"#;
        let t: Any =
            serde_json::from_str(&format!(r#"{{"pair":{sealed},"facts":{sealed}}}"#)).unwrap();
        assert_eq!(t.pair, None);
        assert_eq!(t.facts, serde_json::Value::Null);
        let t: Any = serde_json::from_str(r#"{"pair":null}"#).unwrap();
        assert_eq!(t.pair, None);
        assert!(serde_json::from_str::<Any>(r#"{"pair":"x"}"#).is_err());
    }
}
