//! Disposable email domains: a lead whose email is at one is recorded as blocked.
//!
//! The built-in list (`engine/intake/data/disposable-domains.txt`) is a small curated one;
//! `[intake] disposable_domains_file` adds a file in the same format and
//! `extra_disposable_domains` single domains. A listed domain covers its subdomains.

use std::collections::HashSet;

use crate::email::normalise_domain;

/// The built-in list, in the file format [`DisposableDomains::add_list`] reads.
pub const BUILTIN: &str = include_str!("../data/disposable-domains.txt");

/// A set of disposable email domains.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DisposableDomains {
    domains: HashSet<String>,
}

impl DisposableDomains {
    /// No domain at all.
    pub fn empty() -> DisposableDomains {
        DisposableDomains::default()
    }

    /// The built-in list.
    pub fn builtin() -> DisposableDomains {
        let mut d = DisposableDomains::empty();
        d.add_list(BUILTIN, "the built-in list")
            .unwrap_or_else(|e| unreachable!("the built-in list is checked by its test: {e}"));
        d
    }

    /// Adds one domain (any letter case; an internationalised name is stored in its ASCII
    /// form).
    pub fn add(&mut self, domain: &str) -> Result<(), String> {
        if domain.trim().is_empty() {
            return Err("an empty domain name".into());
        }
        let d = normalise_domain(domain.trim())
            .map_err(|e| format!("{:?} is not a domain name: it {e}", domain.trim()))?;
        self.domains.insert(d);
        Ok(())
    }

    /// Adds every domain of a list: one per line, `#` starts a comment, blank lines are
    /// skipped. An error names `origin` and the line.
    pub fn add_list(&mut self, text: &str, origin: &str) -> Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            self.add(entry)
                .map_err(|e| format!("{origin} line {}: {e}", i + 1))?;
        }
        Ok(())
    }

    /// Whether `domain` (the part of an email after the `@`) or any domain above it is
    /// listed: `eu.mailinator.com` is when `mailinator.com` is.
    pub fn is_disposable(&self, domain: &str) -> bool {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let mut rest = domain.as_str();
        loop {
            if self.domains.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => rest = parent,
                _ => return false,
            }
        }
    }

    /// How many domains are listed.
    pub fn len(&self) -> usize {
        self.domains.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_reads_and_holds_the_usual_suspects() {
        let mut d = DisposableDomains::empty();
        d.add_list(BUILTIN, "builtin")
            .expect("the built-in list is valid");
        assert_eq!(d, DisposableDomains::builtin());
        assert!(d.len() > 40, "{}", d.len());
        for listed in ["mailinator.com", "yopmail.com", "guerrillamail.com"] {
            assert!(d.is_disposable(listed), "{listed}");
        }
        for fine in ["example.org", "gmail.com", "outlook.com", "proton.me"] {
            assert!(!d.is_disposable(fine), "{fine}");
        }
    }

    #[test]
    fn subdomains_match_and_lookalikes_do_not() {
        let mut d = DisposableDomains::empty();
        d.add("Mailinator.COM").unwrap();
        assert!(d.is_disposable("mailinator.com"));
        assert!(d.is_disposable("EU.Mailinator.com"));
        assert!(d.is_disposable("a.b.mailinator.com."));
        assert!(!d.is_disposable("notmailinator.com"));
        assert!(!d.is_disposable("mailinator.com.example.org"));
        assert!(!d.is_disposable("com"));
    }

    #[test]
    fn a_bad_list_names_its_line() {
        let mut d = DisposableDomains::empty();
        let e = d
            .add_list("# mine\nthrowaway.example\n\nnot a domain\n", "extra.txt")
            .unwrap_err();
        assert!(
            e.starts_with("extra.txt line 4: \"not a domain\" is not a domain name"),
            "{e}"
        );
        assert!(
            d.is_disposable("throwaway.example"),
            "lines before the bad one were read"
        );
        assert!(d.add("localhost").is_err());
    }
}
