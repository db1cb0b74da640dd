//! What every command family shares: opening the engine from the global options, the actor,
//! the configuration file and the rules host, time parsing, progress bars and money.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use leadorch_config::Config;
use leadorch_core::Engine;
use leadorch_rules::RuleHost;
pub use leadorch_store::Open;
use leadorch_store::{db, StoreConfig};

use crate::Global;

/// Exit code for "the command ran and found a problem" (a broken chain).
pub const EXIT_FINDING: u8 = 3;

/// The store configuration the global options describe.
pub fn store_config(global: &Global) -> StoreConfig {
    let url = global
        .database_url
        .clone()
        .unwrap_or_else(db::default_database_url);
    let mut config = StoreConfig::new(url);
    config.master_key_file = global.master_key_file.clone();
    config
}

pub fn actor(global: &Global) -> String {
    global.actor.clone().unwrap_or_else(|| {
        format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )
    })
}

/// Opens the engine. A command that reads passes [`Open::Existing`]: a database named by
/// `--database-url`/`DATABASE_URL` must then exist with leadorch's schema and its master key,
/// and nothing is created. The default database (none named) is created on first use by any
/// command.
pub async fn open(global: &Global, mode: Open) -> Result<Engine> {
    let mut config = store_config(global);
    config.open = match global.database_url {
        Some(_) => mode,
        None => Open::Create,
    };
    Engine::open(&config).await.with_context(|| {
        format!(
            "opening the database {}",
            db::redact_url(&config.database_url)
        )
    })
}

/// The configuration file (when given) with `LEADORCH__…` overrides.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    Ok(Config::load(path, std::env::vars())?)
}

/// The rules host over `lib`, else the configured library, else `rules/lib` (when it exists).
pub fn host(lib: Option<&Path>, config: &Config) -> Result<RuleHost> {
    let lib = lib
        .map(Path::to_path_buf)
        .or_else(|| config.rules_lib.clone())
        .unwrap_or_else(|| PathBuf::from("rules/lib"));
    let dir = lib.is_dir().then_some(lib.as_path());
    RuleHost::new(dir, config.limits())
        .with_context(|| format!("loading the rules library {}", lib.display()))
}

pub fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    bail!(
        "{s:?} is neither a position nor a time: use e.g. 1200, 2026-11-01 or 2026-11-01T12:00:00Z"
    )
}

pub fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} {bar:40.cyan/blue} {pos}/{len} events ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_string());
    bar
}

/// Lower-case hex of a hash.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Micros as money with thousands separators: `-1,234.50`.
pub fn money(micros: i64) -> String {
    let units = micros as f64 / 1e6;
    let whole = units.trunc() as i64;
    let cents = ((units - whole as f64).abs() * 100.0).round() as i64;
    let digits = whole.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}.{cents:02}", if micros < 0 { "-" } else { "" })
}
