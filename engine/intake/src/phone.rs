//! Phone numbers, checked against their country's numbering plan and written in E.164.
//!
//! Parsing and validation are the `phonenumber` crate's (a port of Google's libphonenumber,
//! with its metadata). A number written with `+` and its country code is read as such; one
//! without is read in the configured default region (`[intake] default_region`), and refused
//! when none is configured. Before the parser sees anything, the input is limited to
//! [`MAX_INPUT`] characters of digits and the separators people type (space, `-`, `.`, `/`,
//! parentheses, a leading `+`): no letters, so no extensions (`ext. 12`), vanity numbers or
//! RFC 3966 `tel:` forms, whose parameters are where the parser's past panics were.

use std::fmt;
use std::sync::Once;

use phonenumber::country;
use phonenumber::Mode;

/// Most characters of a phone number as given.
pub const MAX_INPUT: usize = 64;

/// Regular expressions of the numbering plans kept compiled. The metadata compiles its
/// patterns on first use into one shared least-recently-used cache of 100, fewer than one
/// parse and validation of a single country's number use, so every parse compiled some of
/// them again: 41 % of phone parsing's CPU, 8 % of a lead's, under load (docs/BENCHMARKS.md).
/// A workload's countries use a few hundred of the metadata's patterns; each stays compiled
/// once used, up to this many.
const COMPILED_PATTERNS: usize = 1_000;

/// Gives the metadata's shared cache room for [`COMPILED_PATTERNS`], once per process.
fn keep_patterns_compiled() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let cache = phonenumber::metadata::DATABASE.cache();
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        *cache = regex_cache::RegexCache::new(COMPILED_PATTERNS);
    });
}

/// A region for numbers written without a country code: an ISO 3166-1 alpha-2 code the
/// numbering-plan metadata knows (`NL`, `BE`, `US`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region(country::Id);

impl Region {
    /// Reads a region code (`NL`; lower case accepted).
    pub fn parse(code: &str) -> Result<Region, String> {
        let upper = code.trim().to_ascii_uppercase();
        if upper.len() != 2 || !upper.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "{code:?} is not a region code: use two letters of ISO 3166-1, like NL"
            ));
        }
        upper
            .parse::<country::Id>()
            .map(Region)
            .map_err(|_| format!("{code:?} is not a region with a numbering plan"))
    }

    /// The two-letter code.
    pub fn code(&self) -> &str {
        self.0.as_ref()
    }
}

/// A valid phone number in E.164 form (`+31201234567`). Its `Debug` output hides the number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct E164(String);

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("E164(…)")
    }
}

impl E164 {
    /// Checks `input` and writes it in E.164; `region` is used when it has no `+`. The error
    /// says what is wrong without quoting the number.
    pub fn parse(input: &str, region: Option<Region>) -> Result<E164, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("is empty".into());
        }
        let chars = s.chars().count();
        if chars > MAX_INPUT {
            return Err(format!("is longer than {MAX_INPUT} characters ({chars})"));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !c.is_ascii_digit() && !" +-./()".contains(*c))
        {
            return Err(format!(
                "may hold only digits, spaces and + - . / ( ), not {}",
                match c {
                    c if c.is_control() => format!("control character U+{:04X}", c as u32),
                    c => format!("{c:?}"),
                }
            ));
        }
        if s[1..].contains('+') {
            return Err("has a + that is not its first character".into());
        }
        let digits = s.chars().filter(char::is_ascii_digit).count();
        if digits < 3 {
            return Err("has too few digits to be a phone number".into());
        }
        let international = s.starts_with('+');
        if !international && region.is_none() {
            return Err(
                "must start with + and its country code (no default region is configured)".into(),
            );
        }
        let region = if international {
            None
        } else {
            region.map(|r| r.0)
        };
        keep_patterns_compiled();
        let number = phonenumber::parse(region, s).map_err(|_| match region {
            None => "is not a phone number".to_string(),
            Some(r) => format!(
                "is not a phone number (read in region {} as it has no +)",
                r.as_ref()
            ),
        })?;
        if !number.is_valid() {
            return Err(
                "is not a valid number in its country's numbering plan (a digit too many or too few?)"
                    .into(),
            );
        }
        Ok(E164(number.format().mode(Mode::E164).to_string()))
    }

    /// The number, `+` and digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nl() -> Option<Region> {
        Some(Region::parse("NL").unwrap())
    }

    #[test]
    fn numbers_written_differently_are_one_number() {
        let want = "+31201234567";
        for input in [
            "+31 20 123 4567",
            "+31201234567",
            "+31 (0)20 123 4567",
            "020-123 45 67",
            "(020) 1234567",
            "0031 20 123 4567",
            " 020.123.4567 ",
        ] {
            let n = E164::parse(input, nl()).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(n.as_str(), want, "{input:?}");
        }
        assert_eq!(format!("{:?}", E164::parse(want, None).unwrap()), "E164(…)");
    }

    #[test]
    fn the_region_applies_only_without_a_plus() {
        let be = Some(Region::parse("be").unwrap());
        assert_eq!(
            E164::parse("+31 20 123 4567", be).unwrap().as_str(),
            "+31201234567"
        );
        assert_eq!(
            E164::parse("02 555 12 12", be).unwrap().as_str(),
            "+3225551212"
        );
        let e = E164::parse("020 123 4567", None).unwrap_err();
        assert!(e.contains("no default region"), "{e}");
    }

    #[test]
    fn bad_numbers_say_why_without_quoting_them() {
        for (input, why) in [
            ("", "empty"),
            ("12", "too few digits"),
            ("+31 20 123 45678 9", "not a valid number"),
            ("+31 20 12", "not a valid number"),
            ("call me", "not 'c'"),
            ("+31 20 123 4567 ext. 12", "not 'e'"),
            ("tel:+31-20-123-4567", "not 't'"),
            ("+31 20 +123 4567", "not its first character"),
            ("020\u{0}1234567", "control character U+0000"),
            ("+999 1234 5678", "not a phone number"),
        ] {
            let e = E164::parse(input, nl()).expect_err(input);
            assert!(e.contains(why), "{input:?}: {e}");
        }
        let long = "1".repeat(MAX_INPUT + 1);
        assert!(E164::parse(&long, nl())
            .unwrap_err()
            .contains("longer than 64"));
    }

    #[test]
    fn crafted_inputs_of_the_parsers_advisories_are_refused_without_a_panic() {
        // RUSTSEC-2023-0082 and RUSTSEC-2024-0369: these panicked phonenumber before 0.3.6.
        for input in [
            ".;phone-context=",
            "+dwPAA;phone-context=AA",
            "+1;phone-context=99999999999999999999",
        ] {
            assert!(E164::parse(input, nl()).is_err(), "{input:?}");
        }
        // And reaching the parser itself, whatever the input's characters.
        assert!(phonenumber::parse(None, "+dwPAA;phone-context=AA").is_err());
    }

    #[test]
    fn regions_are_checked() {
        assert_eq!(Region::parse("nl").unwrap().code(), "NL");
        assert!(Region::parse("Netherlands")
            .unwrap_err()
            .contains("two letters"));
        assert!(Region::parse("QQ").unwrap_err().contains("numbering plan"));
    }
}
