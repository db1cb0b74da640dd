//! The body of `POST /v1/leads`, as the handler reads it before anything is stored:
//! `LeadRequest::from_json` (serde with paths, the `without_strings` scrubbing of messages),
//! `LeadRequest::validate` (every field check: ids, campaign and customer ids, attribution,
//! name, email, phone, IP, user agent, metadata size and depth, consent text, time, URLs,
//! TrustedForm, Jornaya) and the fingerprints of a valid lead; then the same bytes, as text,
//! given to the public field parsers on their own: `Email::parse`, `email::normalise_domain`
//! (IDNA), `E164::parse` (phonenumber) with and without a default region, `Region::parse`,
//! `request::client_id`, `DisposableDomains::is_disposable`.
//!
//! The first input byte picks the intake configuration (default region none, NL or US;
//! consent required or not); the rest is the body.
//!
//! Besides "no panic": the normal forms are fixed points (an email or phone number in its
//! normal form parses to itself), a valid lead keeps the documented limits, and two equal
//! addresses but for letter case have the same fingerprint.
//!
//! Not reachable from here (private, or behind the database): the handler's `canonical_hash`
//! of the body and `idempotency_key` (private in `leadorch-api`), routing to a team, dedup and
//! the events written (`route`, `fingerprints`, `decide`, `prepare`: async, need the store).
#![cfg_attr(fuzzing, no_main)]

use std::sync::OnceLock;

use leadorch_intake::email::normalise_domain;
use leadorch_intake::request::{
    client_id, MAX_ATTRIBUTION, MAX_METADATA_BYTES, MAX_NAME, MAX_USER_AGENT,
};
use leadorch_intake::{
    DisposableDomains, Email, Fingerprinter, IntakeConfig, LeadRequest, Region, E164,
};

struct Setup {
    configs: Vec<IntakeConfig>,
    regions: Vec<Region>,
    fingerprinter: Fingerprinter,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let regions: Vec<Region> = ["NL", "us", "GB", "DE", "IN"]
            .iter()
            .map(|c| Region::parse(c).expect("a known region"))
            .collect();
        let mut configs = Vec::new();
        for region in [None, Some(regions[0]), Some(regions[1])] {
            for require_consent in [true, false] {
                configs.push(IntakeConfig {
                    default_region: region,
                    require_consent,
                    ..IntakeConfig::default()
                });
            }
        }
        Setup {
            configs,
            regions,
            fingerprinter: Fingerprinter::new([7; 32]),
        }
    })
}

/// The field parsers on their own, with the fixed-point checks.
fn fields(s: &str, setup: &Setup) {
    if let Ok(email) = Email::parse(s) {
        let again = Email::parse(email.as_str())
            .unwrap_or_else(|e| panic!("a normalised email does not parse again: {e}"));
        assert_eq!(
            again.as_str(),
            email.as_str(),
            "email normal form is not a fixed point"
        );
        assert!(email.as_str().len() <= leadorch_intake::email::MAX_ADDRESS);
        assert_eq!(
            format!("{}@{}", email.local(), email.domain()),
            email.as_str()
        );
        let upper = Email::parse(&email.as_str().to_ascii_uppercase());
        if let Ok(upper) = upper {
            assert_eq!(
                setup.fingerprinter.email(&upper),
                setup.fingerprinter.email(&email),
                "the fingerprint depends on letter case"
            );
        }
    }
    if let Ok(domain) = normalise_domain(s) {
        let again = normalise_domain(&domain)
            .unwrap_or_else(|e| panic!("a normalised domain does not parse again: {e}"));
        assert_eq!(again, domain, "domain normal form is not a fixed point");
    }
    let mut regions = vec![None];
    regions.extend(setup.regions.iter().copied().map(Some));
    for region in regions {
        if let Ok(phone) = E164::parse(s, region) {
            let e164 = phone.as_str();
            assert!(
                e164.starts_with('+') && e164[1..].bytes().all(|b| b.is_ascii_digit()),
                "not E.164: {e164}"
            );
            let again = E164::parse(e164, None)
                .unwrap_or_else(|e| panic!("E.164 {e164} does not parse again: {e}"));
            assert_eq!(again.as_str(), e164, "E.164 form is not a fixed point");
        }
    }
    if let Ok(region) = Region::parse(s) {
        let _ = region.code();
    }
    if let Ok(id) = client_id(s) {
        assert_eq!(id, s, "client ids are kept exactly as given");
    }
    let _ = setup.configs[0].disposable.is_disposable(s);
    let mut list = DisposableDomains::empty();
    let _ = list.add(s);
    let _ = list.add_list(s, "fuzz");
}

/// One input, checked. libFuzzer calls it under `cargo fuzz`; the test command calls it
/// over the kept inputs (`engine/api/tests/fuzz_replay.rs`).
pub fn run(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let setup = setup();
    let config = &setup.configs[usize::from(selector) % setup.configs.len()];

    match LeadRequest::from_json(body) {
        Ok(request) => {
            let _ = format!("{request:?}");
            match request.validate(config) {
                Ok(lead) => {
                    let _ = format!("{lead:?}");
                    let _ = lead.fingerprints(&setup.fingerprinter);
                    assert!(lead
                        .name
                        .as_ref()
                        .is_none_or(|n| n.chars().count() <= MAX_NAME));
                    assert!(lead
                        .user_agent
                        .as_ref()
                        .is_none_or(|u| u.chars().count() <= MAX_USER_AGENT));
                    assert!(lead.email.is_some() || lead.phone.is_some());
                    let metadata = serde_json::to_vec(&lead.metadata).expect("metadata is JSON");
                    assert!(metadata.len() <= MAX_METADATA_BYTES);
                    assert!(lead.attribution.utm.len() <= MAX_ATTRIBUTION);
                    if let Some(email) = &lead.email {
                        fields(email.as_str(), setup);
                    }
                    if let Some(phone) = &lead.phone {
                        fields(phone.as_str(), setup);
                    }
                    if let Some(consent) = &lead.consent {
                        serde_json::to_string(consent).expect("consent evidence serializes");
                    }
                }
                Err(errors) => {
                    assert!(!errors.is_empty(), "refused without a reason");
                    for e in errors {
                        let _ = e.to_string();
                    }
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }

    if let Ok(s) = std::str::from_utf8(body) {
        // Each line on its own, so a corpus of one field per line works as well as a body.
        for line in s.lines().take(8) {
            fields(line, setup);
        }
    }
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));

/// Built by plain cargo rather than cargo-fuzz: nothing to run.
#[cfg(not(any(fuzzing, test)))]
fn main() {}
