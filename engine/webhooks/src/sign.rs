//! Standard Webhooks signatures.
//!
//! A secret is `whsec_` followed by the base64 of its key (32 random bytes when this module
//! makes it). The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the signature is
//! `v1,` and the base64 of its HMAC-SHA256 under the key. While a secret is rotated, an attempt
//! carries one signature per live secret, separated by spaces, and a receiver accepts a message
//! when any of them verifies.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// The prefix of every secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// The header naming the message (the same on every attempt of a delivery).
pub const HEADER_ID: &str = "webhook-id";
/// The header with the attempt's time, unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The header with the signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// How far a receiver lets a timestamp be from its own clock, by default (5 minutes).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// A signing secret. Its text is shown once, when an endpoint is made or its secret rotated;
/// `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(whsec_…)")
    }
}

/// Why a secret or a signed message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    /// The secret's text is not `whsec_` and base64.
    #[error("a webhook secret is 'whsec_' followed by base64: {0}")]
    BadSecret(&'static str),
    /// A header the receiver needs is missing or empty.
    #[error("the '{0}' header is missing")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a whole number of seconds.
    #[error("the 'webhook-timestamp' header is not unix seconds: '{0}'")]
    BadTimestamp(String),
    /// The timestamp is further from the receiver's clock than its tolerance.
    #[error("the 'webhook-timestamp' {timestamp} is more than {tolerance} s from now ({now})")]
    OutsideTolerance {
        /// The message's timestamp.
        timestamp: i64,
        /// The receiver's clock.
        now: i64,
        /// The tolerance, seconds.
        tolerance: i64,
    },
    /// No `v1` signature in the header matches.
    #[error("no signature in 'webhook-signature' matches the body")]
    NoMatch,
}

impl Secret {
    /// A new secret of 32 random bytes from the OS's generator.
    pub fn generate() -> Secret {
        let mut key = Zeroizing::new(vec![0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut key);
        Secret { key }
    }

    /// Reads `whsec_<base64>`. The key must be 24 to 64 bytes, as the spec asks.
    pub fn parse(text: &str) -> Result<Secret, SignError> {
        let Some(b64) = text.strip_prefix(SECRET_PREFIX) else {
            return Err(SignError::BadSecret("it does not start with 'whsec_'"));
        };
        let key = Zeroizing::new(
            STANDARD
                .decode(b64.trim())
                .map_err(|_| SignError::BadSecret("the part after 'whsec_' is not base64"))?,
        );
        if !(24..=64).contains(&key.len()) {
            return Err(SignError::BadSecret("the key is not 24 to 64 bytes"));
        }
        Ok(Secret { key })
    }

    /// The secret's text, `whsec_<base64>`: give it to the receiver, store it sealed.
    pub fn expose(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(&*self.key)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// One signature, `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }
}

/// The `webhook-signature` value: one signature per secret, space-separated (rotation).
pub fn signature_header(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A new message id, `msg_` and a time-ordered UUID in hex.
pub fn message_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

/// What a receiver does with a message: checks the timestamp against its own clock (`now`,
/// unix seconds) within `tolerance` seconds, then whether any `v1` signature in
/// `signature_header` is the HMAC of `{id}.{timestamp}.{body}` under `secret`, compared in
/// constant time. Signatures of other versions are skipped.
pub fn verify(
    secret: &Secret,
    id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<(), SignError> {
    if id.is_empty() {
        return Err(SignError::MissingHeader(HEADER_ID));
    }
    if timestamp.is_empty() {
        return Err(SignError::MissingHeader(HEADER_TIMESTAMP));
    }
    if signature_header.trim().is_empty() {
        return Err(SignError::MissingHeader(HEADER_SIGNATURE));
    }
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignError::BadTimestamp(timestamp.chars().take(32).collect()))?;
    if (now - ts).abs() > tolerance {
        return Err(SignError::OutsideTolerance {
            timestamp: ts,
            now,
            tolerance,
        });
    }
    for part in signature_header.split(' ') {
        let Some(b64) = part.strip_prefix("v1,") else {
            continue;
        };
        let Ok(tag) = STANDARD.decode(b64) else {
            continue;
        };
        if secret.mac(id, ts, body).verify_slice(&tag).is_ok() {
            return Ok(());
        }
    }
    Err(SignError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vector published with the Standard Webhooks reference libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_published_vector_is_reproduced() {
        let secret = Secret::parse(SECRET).unwrap();
        assert_eq!(secret.sign(ID, TS, BODY), EXPECTED);
        assert_eq!(secret.expose().as_str(), SECRET);
    }

    #[test]
    fn the_published_vector_verifies_and_a_changed_byte_does_not() {
        let secret = Secret::parse(SECRET).unwrap();
        verify(&secret, ID, "1614265330", EXPECTED, BODY, TS + 10, 300).unwrap();
        let other = br#"{"test": 2432232315}"#;
        assert_eq!(
            verify(&secret, ID, "1614265330", EXPECTED, other, TS, 300),
            Err(SignError::NoMatch)
        );
        assert_eq!(
            verify(&secret, "msg_other", "1614265330", EXPECTED, BODY, TS, 300),
            Err(SignError::NoMatch)
        );
        assert_eq!(
            verify(&secret, ID, "1614265331", EXPECTED, BODY, TS, 300),
            Err(SignError::NoMatch)
        );
    }

    #[test]
    fn an_old_or_future_timestamp_is_refused() {
        let secret = Secret::parse(SECRET).unwrap();
        assert!(matches!(
            verify(&secret, ID, "1614265330", EXPECTED, BODY, TS + 301, 300),
            Err(SignError::OutsideTolerance { .. })
        ));
        assert!(matches!(
            verify(&secret, ID, "1614265330", EXPECTED, BODY, TS - 301, 300),
            Err(SignError::OutsideTolerance { .. })
        ));
        assert_eq!(
            verify(&secret, ID, "soon", EXPECTED, BODY, TS, 300),
            Err(SignError::BadTimestamp("soon".into()))
        );
    }

    #[test]
    fn during_rotation_either_secret_verifies() {
        let old = Secret::generate();
        let new = Secret::generate();
        assert_ne!(old, new);
        let header = signature_header(&[old.clone(), new.clone()], ID, TS, BODY);
        assert_eq!(header.split(' ').count(), 2);
        verify(&old, ID, "1614265330", &header, BODY, TS, 300).unwrap();
        verify(&new, ID, "1614265330", &header, BODY, TS, 300).unwrap();
        let stranger = Secret::generate();
        assert_eq!(
            verify(&stranger, ID, "1614265330", &header, BODY, TS, 300),
            Err(SignError::NoMatch)
        );
        // Other versions and garbage are skipped, not fatal.
        let mixed = format!("v2,abc v1,!!notbase64 {}", old.sign(ID, TS, BODY));
        verify(&old, ID, "1614265330", &mixed, BODY, TS, 300).unwrap();
    }

    #[test]
    fn generated_secrets_read_back_and_bad_ones_are_named() {
        let s = Secret::generate();
        let text = s.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(Secret::parse(&text).unwrap(), s);
        assert!(!format!("{s:?}").contains(&text[6..]));
        assert_eq!(
            Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SignError::BadSecret("it does not start with 'whsec_'"))
        );
        assert_eq!(
            Secret::parse("whsec_***"),
            Err(SignError::BadSecret(
                "the part after 'whsec_' is not base64"
            ))
        );
        assert_eq!(
            Secret::parse("whsec_AAAA"),
            Err(SignError::BadSecret("the key is not 24 to 64 bytes"))
        );
        assert_eq!(
            verify(&s, "", "1", "v1,x", b"", 1, 300),
            Err(SignError::MissingHeader(HEADER_ID))
        );
        assert_eq!(
            verify(&s, "msg_1", "1", " ", b"", 1, 300),
            Err(SignError::MissingHeader(HEADER_SIGNATURE))
        );
    }

    #[test]
    fn message_ids_are_unique_and_prefixed() {
        let a = message_id();
        let b = message_id();
        assert!(a.starts_with("msg_") && a.len() == 36);
        assert_ne!(a, b);
    }
}
