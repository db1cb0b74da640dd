//! Email addresses: an RFC 5322-ish check and one normal form.
//!
//! What is accepted is the `addr-spec` people type: a dot-atom local part (RFC 5322 §3.2.3:
//! letters, digits and ``!#$%&'*+-/=?^_`{|}~``, dots only between them), `@`, and a domain
//! name of at least two labels (letters, digits, inner hyphens; an internationalised name is
//! turned into its ASCII `xn--` form). Quoted local parts, comments, domain literals
//! (`[192.0.2.1]`) and non-ASCII local parts are refused: real forms do not produce them, and
//! mail systems that would accept them are rare. Lengths follow RFC 5321: at most 64 octets
//! before the `@`, 254 in all.
//!
//! The normal form is the address trimmed, with its domain in lower case; the local part
//! keeps its letter case (RFC 5321 lets the receiving system tell cases apart, so the address
//! stored for contacting is the one given). The fingerprint form ([`Email::fingerprint_form`])
//! lower-cases the whole address: every mail system in practice ignores case, so `Ann@x.org`
//! and `ann@x.org` are one person for dedup. Nothing else is folded: no removal of dots or
//! `+tags` (Gmail ignores them, most providers do not, and merging two real people's leads is
//! worse than keeping one person's duplicate).

use std::fmt;

/// Most octets before the `@` (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL: usize = 64;
/// Most octets in an address (RFC 5321's 256-octet path, less the angle brackets).
pub const MAX_ADDRESS: usize = 254;
/// Most octets in a domain name (RFC 1035, without the root's dot).
pub const MAX_DOMAIN: usize = 253;
/// Most octets in one label of a domain name (RFC 1035).
pub const MAX_LABEL: usize = 63;

/// A checked, normalised email address. Its `Debug` output hides the address.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email {
    address: String,
    at: usize,
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(…)")
    }
}

impl Email {
    /// Checks and normalises `input`. The error says what is wrong without quoting the
    /// address (it is personal data, and errors end up in logs).
    pub fn parse(input: &str) -> Result<Email, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("is empty".into());
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err("is not an email address: it has no @".into());
        };
        check_local(local)?;
        let domain = normalise_domain(domain)?;
        let address = format!("{local}@{domain}");
        if address.len() > MAX_ADDRESS {
            return Err(format!(
                "is longer than {MAX_ADDRESS} characters ({})",
                address.len()
            ));
        }
        Ok(Email {
            at: local.len(),
            address,
        })
    }

    /// The normalised address (domain in lower case).
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The part before the `@`, as given.
    pub fn local(&self) -> &str {
        &self.address[..self.at]
    }

    /// The domain: lower case, ASCII (`xn--` for internationalised names).
    pub fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }

    /// The form fingerprints are made of: the whole address in lower case.
    pub fn fingerprint_form(&self) -> String {
        self.address.to_ascii_lowercase()
    }
}

/// RFC 5322 `atext`: what a dot-atom's atoms are made of.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn check_local(local: &str) -> Result<(), String> {
    if local.is_empty() {
        return Err("is not an email address: nothing before the @".into());
    }
    if local.len() > MAX_LOCAL {
        return Err(format!(
            "has more than {MAX_LOCAL} characters before the @ ({})",
            local.len()
        ));
    }
    if local.starts_with('"') {
        return Err("has a quoted part before the @, which is not accepted".into());
    }
    if let Some(c) = local.chars().find(|c| *c != '.' && !is_atext(*c)) {
        return Err(format!(
            "has a character not allowed before the @ ({})",
            describe(c)
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(
            "has a dot at the start or end of the part before the @, or two in a row".into(),
        );
    }
    Ok(())
}

/// A character named for an error message (spaces and control characters by name).
fn describe(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '@' => "a second @".into(),
        c if c.is_control() => format!("control character U+{:04X}", c as u32),
        c if !c.is_ascii() => format!("non-ASCII {c:?}"),
        c => format!("{c:?}"),
    }
}

/// A domain name checked and put in its normal form: ASCII (internationalised names turned
/// into `xn--` labels), lower case, at least two labels, the last one not all digits.
pub fn normalise_domain(domain: &str) -> Result<String, String> {
    if domain.is_empty() {
        return Err("has no domain after the @".into());
    }
    if domain.starts_with('[') {
        return Err("has an address literal ([…]) as its domain, which is not accepted".into());
    }
    let ascii = if domain.is_ascii() {
        domain.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(domain)
            .map_err(|_| "has a domain that is not a valid internationalised domain name")?
    };
    if ascii.len() > MAX_DOMAIN {
        return Err(format!(
            "has a domain longer than {MAX_DOMAIN} characters ({})",
            ascii.len()
        ));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err("has a domain without a dot".into());
    }
    for label in &labels {
        if label.is_empty() {
            return Err(
                "has a domain with an empty label (a dot at its start or end, or two in a row)"
                    .into(),
            );
        }
        if label.len() > MAX_LABEL {
            return Err(format!(
                "has a domain label longer than {MAX_LABEL} characters"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
        {
            return Err(format!(
                "has a character not allowed in a domain ({})",
                describe(c)
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("has a domain label that starts or ends with a hyphen".into());
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("has a domain whose last label is all digits".into());
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_form_lowers_the_domain_only() {
        let e = Email::parse("  Ann.Smith+quote@Example.ORG ").unwrap();
        assert_eq!(e.as_str(), "Ann.Smith+quote@example.org");
        assert_eq!(e.local(), "Ann.Smith+quote");
        assert_eq!(e.domain(), "example.org");
        assert_eq!(e.fingerprint_form(), "ann.smith+quote@example.org");
        assert_eq!(format!("{e:?}"), "Email(…)", "Debug hides the address");
    }

    #[test]
    fn dots_and_tags_are_kept() {
        let a = Email::parse("a.nn@gmail.com").unwrap();
        let b = Email::parse("ann@gmail.com").unwrap();
        assert_ne!(a.fingerprint_form(), b.fingerprint_form());
    }

    #[test]
    fn every_atext_character_is_accepted() {
        let e = Email::parse("!#$%&'*+-/=?^_`{|}~09az@x.io").unwrap();
        assert_eq!(e.local(), "!#$%&'*+-/=?^_`{|}~09az");
    }

    #[test]
    fn internationalised_domains_become_ascii() {
        let e = Email::parse("jan@Bücher.example").unwrap();
        assert_eq!(e.domain(), "xn--bcher-kva.example");
    }

    #[test]
    fn bad_addresses_say_what_is_wrong_without_quoting_them() {
        for (input, why) in [
            ("", "is empty"),
            ("ann.example.org", "no @"),
            ("@example.org", "nothing before the @"),
            ("ann@", "no domain"),
            ("ann@localhost", "without a dot"),
            ("ann@example..org", "empty label"),
            ("ann@example.org.", "empty label"),
            ("ann@-example.org", "hyphen"),
            ("ann@exa_mple.org", "not allowed in a domain ('_')"),
            ("ann@192.168.1.1", "all digits"),
            ("ann@[192.168.1.1]", "address literal"),
            ("\"ann smith\"@example.org", "quoted"),
            ("ann smith@example.org", "a space"),
            ("ann@@example.org", "a second @"),
            (".ann@example.org", "dot at the start"),
            ("ann.@example.org", "dot at the start or end"),
            ("an..n@example.org", "two in a row"),
            ("jöran@example.org", "non-ASCII"),
        ] {
            let e = Email::parse(input).expect_err(input);
            assert!(e.contains(why), "{input:?}: {e}");
            if input.len() > 4 {
                assert!(!e.contains(input.trim()), "{input:?} quoted in {e}");
            }
        }
    }

    #[test]
    fn lengths_are_limited() {
        let local = "a".repeat(MAX_LOCAL);
        assert!(Email::parse(&format!("{local}@example.org")).is_ok());
        let e = Email::parse(&format!("{local}a@example.org")).unwrap_err();
        assert!(e.contains("more than 64"), "{e}");
        let label = "b".repeat(MAX_LABEL);
        let long = format!("{local}@{label}.{label}.{label}.example.org");
        assert!(long.len() > MAX_ADDRESS);
        let e = Email::parse(&long).unwrap_err();
        assert!(e.contains("longer than 254"), "{e}");
        let e = Email::parse(&format!("a@{}b.org", "b".repeat(MAX_LABEL))).unwrap_err();
        assert!(e.contains("label longer than 63"), "{e}");
    }
}
