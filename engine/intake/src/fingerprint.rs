//! Keyed fingerprints of email addresses and phone numbers, for dedup and for finding a
//! subject by email without storing the email in clear.
//!
//! A plain hash of a phone number can be reversed by hashing every possible number (there are
//! only so many), and one of an email by hashing lists of known addresses. A fingerprint here
//! is HMAC-SHA256 under a secret of the project's (32 random bytes kept sealed with the master
//! key, `project_secrets` in the store): without the secret no one can test a guess. Each kind
//! of identifier is domain-separated by a prefix (`email:` / `phone:`), so an email and a
//! phone number never share a fingerprint. Inputs are the normal forms: the lower-cased
//! address ([`Email::fingerprint_form`]) and the E.164 number.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::email::Email;
use crate::phone::E164;

/// A 32-byte keyed fingerprint; shown as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// From stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Fingerprint {
        Fingerprint(bytes)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Makes fingerprints under one project's secret. Its `Debug` output hides the secret.
#[derive(Clone)]
pub struct Fingerprinter {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprinter(…)")
    }
}

impl Fingerprinter {
    /// A fingerprinter keyed with the project's secret.
    pub fn new(secret: [u8; 32]) -> Fingerprinter {
        let secret = Zeroizing::new(secret);
        Fingerprinter {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(secret.as_slice())
                .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length")),
        }
    }

    /// The fingerprint of an email address (of its lower-cased form).
    pub fn email(&self, email: &Email) -> Fingerprint {
        self.of(b"email:", email.fingerprint_form().as_bytes())
    }

    /// The fingerprint of a phone number (of its E.164 form).
    pub fn phone(&self, phone: &E164) -> Fingerprint {
        self.of(b"phone:", phone.as_str().as_bytes())
    }

    fn of(&self, kind: &[u8], value: &[u8]) -> Fingerprint {
        let mut mac = self.mac.clone();
        mac.update(kind);
        mac.update(value);
        Fingerprint(mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::Region;

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    #[test]
    fn the_same_person_written_differently_has_one_fingerprint() {
        let f = Fingerprinter::new([7; 32]);
        assert_eq!(
            f.email(&email("Ann@Example.org")),
            f.email(&email(" ann@example.ORG"))
        );
        let nl = Some(Region::parse("NL").unwrap());
        assert_eq!(
            f.phone(&E164::parse("+31 20 123 4567", nl).unwrap()),
            f.phone(&E164::parse("020-1234567", nl).unwrap())
        );
        assert_ne!(
            f.email(&email("ann@example.org")),
            f.email(&email("anne@example.org"))
        );
    }

    #[test]
    fn fingerprints_are_hmac_sha256_with_a_prefix_per_kind() {
        let secret = [0x0b; 32];
        let f = Fingerprinter::new(secret);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret).unwrap();
        mac.update(b"email:ann@example.org");
        let want: [u8; 32] = mac.finalize().into_bytes().into();
        let got = f.email(&email("Ann@example.org"));
        assert_eq!(got.as_bytes(), &want);
        assert_eq!(got.to_string(), hex::encode(want));
        assert_eq!(got.to_string().len(), 64);
        assert_eq!(Fingerprint::from_bytes(want), got);
    }

    #[test]
    fn another_secret_gives_other_fingerprints_and_a_plain_hash_is_not_one() {
        use sha2::Digest;
        let e = email("ann@example.org");
        let a = Fingerprinter::new([1; 32]).email(&e);
        let b = Fingerprinter::new([2; 32]).email(&e);
        assert_ne!(a, b);
        let plain: [u8; 32] = Sha256::digest(b"email:ann@example.org").into();
        assert_ne!(a.as_bytes(), &plain);
        assert_eq!(
            format!("{:?}", Fingerprinter::new([1; 32])),
            "Fingerprinter(…)"
        );
    }
}
