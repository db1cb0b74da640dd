//! API keys: what one looks like, how it is made and checked (ADR 0022, decision 11).
//!
//! A key reads `lo_<project>_<32 random base62><6 base62 checksum>`, e.g.
//! `lo_default_3kT9xQ2mWb…`. The recognisable `lo_` prefix and the CRC32 checksum (over
//! everything before it, as GitHub's tokens do) let a scanner spot a leaked key offline and let
//! the server refuse a mistyped one without a lookup. 32 base62 characters are 190 random bits,
//! so the key is stored as a plain SHA-256 — no slow hash is needed for that much entropy — and
//! that hash is also how a request's key is found.

use std::fmt;
use std::str::FromStr;

use rand::rngs::OsRng;
use rand::Rng;
use sha2::{Digest, Sha256};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;

/// What a key may do. `admin` may do everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Send leads and their status changes.
    Ingest,
    /// Push capacity readings.
    Capacity,
    /// Read campaigns, teams, events, decisions, rules, audits.
    Read,
    /// Change rules.
    Rules,
    /// Keys, Google accounts, teams, subjects (GDPR), the access log.
    Admin,
}

impl Scope {
    /// Every scope, in the order lists print them.
    pub const ALL: [Scope; 5] = [
        Scope::Ingest,
        Scope::Capacity,
        Scope::Read,
        Scope::Rules,
        Scope::Admin,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Capacity => "capacity",
            Scope::Read => "read",
            Scope::Rules => "rules",
            Scope::Admin => "admin",
        }
    }

    /// Whether a key holding `held` may do what needs `self`.
    pub fn granted_by(self, held: &[Scope]) -> bool {
        held.contains(&self) || held.contains(&Scope::Admin)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Scope, String> {
        Scope::ALL
            .into_iter()
            .find(|c| c.name() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown scope {s:?}: the scopes are {}",
                    Scope::ALL.map(Scope::name).join(", ")
                )
            })
    }
}

/// Parses `ingest,capacity`: at least one scope, no unknown one, duplicates dropped, sorted.
pub fn parse_scopes(text: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Scope::from_str)
        .collect::<Result<Vec<_>, _>>()?;
    if scopes.is_empty() {
        return Err(format!(
            "no scope given: name at least one of {}",
            Scope::ALL.map(Scope::name).join(", ")
        ));
    }
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

/// Whether `name` may name a project: 1–32 of `a-z 0-9 -`, starting with a letter or digit
/// (no `_`, which separates the project from the rest of a key).
pub use leadorch_domain::project::check_name as check_project;

fn base62(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).expect("base62 is ASCII")
}

fn random_base62(len: usize) -> String {
    let mut rng = OsRng;
    (0..len)
        .map(|_| BASE62[rng.gen_range(0..62)] as char)
        .collect()
}

fn checksum(body: &str) -> String {
    base62(u64::from(crc32fast::hash(body.as_bytes())), CHECKSUM_LEN)
}

/// A new key: its text (shown once), its public id, and what is stored.
#[derive(Debug)]
pub struct NewKey {
    /// The whole key. Shown once, never stored.
    pub text: zeroize::Zeroizing<String>,
    /// Public id (`key_…`), safe to print and log.
    pub key_id: String,
    /// The first characters, to recognise the key in lists (`lo_default_3kT9…`).
    pub prefix: String,
    /// SHA-256 of the text.
    pub hash: Vec<u8>,
}

/// Makes a key for `project` (which must pass [`check_project`]).
pub fn generate(project: &str) -> NewKey {
    let body = format!("lo_{project}_{}", random_base62(RANDOM_LEN));
    let text = format!("{body}{}", checksum(&body));
    let prefix = format!("lo_{project}_{}", &body[body.len() - RANDOM_LEN..][..4]);
    NewKey {
        hash: hash(&text),
        key_id: format!("key_{}", random_base62(10)),
        prefix,
        text: zeroize::Zeroizing::new(text),
    }
}

/// SHA-256 of a key's text: what is stored and looked up.
pub fn hash(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

/// Why a presented key is not even worth looking up.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    /// Not `lo_<project>_…`.
    #[error("the key does not look like a leadorch API key (lo_<project>_…)")]
    Shape,
    /// The checksum does not match: mistyped or truncated.
    #[error("the key's checksum does not match: it is mistyped or cut short")]
    Checksum,
}

/// Checks a presented key's shape and checksum; returns its project.
pub fn check_format(text: &str) -> Result<&str, KeyFormatError> {
    let rest = text.strip_prefix("lo_").ok_or(KeyFormatError::Shape)?;
    let (project, tail) = rest.rsplit_once('_').ok_or(KeyFormatError::Shape)?;
    if check_project(project).is_err()
        || tail.len() != RANDOM_LEN + CHECKSUM_LEN
        || !tail.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(KeyFormatError::Shape);
    }
    let (body, sum) = text.split_at(text.len() - CHECKSUM_LEN);
    if checksum(body) != sum {
        return Err(KeyFormatError::Checksum);
    }
    Ok(project)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_passes_its_own_check_and_names_its_project() {
        let key = generate("acme-nl");
        assert!(key.text.starts_with("lo_acme-nl_"));
        assert_eq!(key.text.len(), "lo_acme-nl_".len() + 38);
        assert_eq!(check_format(&key.text), Ok("acme-nl"));
        assert!(key.text.starts_with(&key.prefix));
        assert_eq!(key.hash, hash(&key.text));
        assert!(key.key_id.starts_with("key_") && key.key_id.len() == 14);
    }

    #[test]
    fn one_changed_character_fails_the_checksum() {
        let key = generate("default");
        let mut bytes = key.text.as_bytes().to_vec();
        let i = "lo_default_".len() + 5;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(bytes).unwrap();
        assert_eq!(check_format(&typo), Err(KeyFormatError::Checksum));
        assert_eq!(
            check_format(&key.text[..key.text.len() - 1]),
            Err(KeyFormatError::Shape)
        );
        assert_eq!(check_format("Bearer x"), Err(KeyFormatError::Shape));
        assert_eq!(check_format("sk_live_abc"), Err(KeyFormatError::Shape));
    }

    #[test]
    fn scopes_parse_strictly_and_admin_grants_all() {
        assert_eq!(
            parse_scopes("read, ingest,read").unwrap(),
            vec![Scope::Ingest, Scope::Read]
        );
        assert!(parse_scopes("read,write")
            .unwrap_err()
            .contains("\"write\""));
        assert!(parse_scopes("").is_err());
        assert!(Scope::Rules.granted_by(&[Scope::Admin]));
        assert!(!Scope::Rules.granted_by(&[Scope::Read]));
    }

    #[test]
    fn project_names_exclude_the_separator() {
        assert!(check_project("default").is_ok());
        assert!(check_project("client-7").is_ok());
        assert!(check_project("a_b").is_err());
        assert!(check_project("").is_err());
        assert!(check_project("Upper").is_err());
    }
}

/// What a new key is to be.
#[derive(Clone, Debug)]
pub struct KeySpec {
    /// The project it belongs to.
    pub project: String,
    /// Its name (unique among the project's working keys).
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Addresses or networks it may be used from (`10.0.0.0/8`, `192.0.2.7`); empty: any.
    pub allow_ips: Vec<String>,
}

/// Why a key could not be made; each names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// A field is wrong.
    #[error("{field}: {problem}")]
    Invalid {
        /// Which (`name`, `scopes`, `allow_ips[1]`, `project`).
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The store failed (or the name is taken: see [`leadorch_store::StoreError::InvalidAppend`]).
    #[error(transparent)]
    Store(#[from] leadorch_store::StoreError),
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> CreateError {
    CreateError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

/// Parses an allowlist entry into its normal form (`10.0.0.0/8`, or `192.0.2.7/32`).
pub fn parse_allow(entry: &str) -> Result<String, String> {
    let entry = entry.trim();
    if let Ok(net) = entry.parse::<ipnet::IpNet>() {
        return Ok(net.trunc().to_string());
    }
    if let Ok(ip) = entry.parse::<std::net::IpAddr>() {
        return Ok(ipnet::IpNet::from(ip).to_string());
    }
    Err(format!(
        "{entry:?} is not an address or network: give e.g. 203.0.113.0/24, 192.0.2.7 or 2001:db8::/32"
    ))
}

/// Makes and stores a key; returns it (the text is shown once) and its row.
pub async fn create(
    keys: &leadorch_store::ApiKeys,
    spec: &KeySpec,
    actor: &str,
    now: i64,
) -> Result<(NewKey, leadorch_store::KeyRow), CreateError> {
    check_project(&spec.project).map_err(|p| invalid("project", p))?;
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            "a key's name is 1 to 64 printable characters, e.g. hubspot-prod",
        ));
    }
    if spec.scopes.is_empty() {
        return Err(invalid(
            "scopes",
            format!(
                "no scope given: name at least one of {}",
                Scope::ALL.map(Scope::name).join(", ")
            ),
        ));
    }
    let mut allow = Vec::with_capacity(spec.allow_ips.len());
    for (i, entry) in spec.allow_ips.iter().enumerate() {
        allow.push(parse_allow(entry).map_err(|p| invalid(format!("allow_ips[{i}]"), p))?);
    }
    let mut scopes = spec.scopes.clone();
    scopes.sort();
    scopes.dedup();
    let key = generate(&spec.project);
    let row = leadorch_store::KeyRow {
        key_id: key.key_id.clone(),
        project: spec.project.clone(),
        name: name.to_string(),
        hash: key.hash.clone(),
        prefix: key.prefix.clone(),
        scopes: scopes.iter().map(|s| s.name().to_string()).collect(),
        allow_ips: allow,
        created_at: now,
        created_by: actor.to_string(),
        revoked_at: None,
    };
    keys.insert(&row).await?;
    Ok((key, row))
}
