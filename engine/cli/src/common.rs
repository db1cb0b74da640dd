//! What every command family shares: opening the engine from the global options, the actor,
//! the configuration file and the rules host, time parsing, progress bars and money.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use leadorch_config::Config;
use leadorch_core::time_travel::{self, AsOf, Point};
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
    // A database the desktop made keeps its key in the OS keyring, not in a file (ADR 0045).
    config.key_lookup = Some(std::sync::Arc::new(leadorch_secrets::OsKeyringLookup));
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

/// On a simulated database (one `demo`, `seed` or `daemon --adapter sim` made) with no
/// Google account configured, what `daemon --adapter sim` adds to the facts settings: the
/// demo world's campaign -> team mapping and its teams' calendars, where the configuration
/// says nothing. So `status`, `rules dry-run` and `rules backtest` see what the daemon sees.
pub async fn simulated_facts(engine: &Engine, config: &mut Config) -> Result<()> {
    if !config.google.account.is_empty()
        || leadorch_core::synthetic::marker(engine).await?.is_none()
    {
        return Ok(());
    }
    let world = leadorch_sim::SimConfig::demo(chrono::Utc::now(), 0);
    leadorch_daemon::demo::sim_facts(&mut config.facts, &world);
    Ok(())
}

/// The HTTP API's settings from the configuration, with the rules library found as the
/// daemon's rules host finds it ([`host`]: `rules_lib`, else `rules/lib` when it exists,
/// else the built-in library), so rules saved over HTTP compile against the modules the
/// daemon runs them with.
pub fn api_settings(config: &Config) -> Result<leadorch_api::Settings> {
    let mut settings = leadorch_api::Settings::from_config(config)?;
    settings.rules_lib = find_lib(None, config, None)?.dir;
    Ok(settings)
}

/// The rules host over `lib` (`--lib`), else the configured library (`rules_lib`,
/// `LEADORCH__RULES_LIB`), else `rules/lib` (when it exists), else the library built into
/// leadorch. A library folder that is given but is not a folder is an error, not an empty
/// library.
pub fn host(lib: Option<&Path>, config: &Config) -> Result<RuleHost> {
    Ok(host_near(lib, config, None)?.0)
}

/// [`host`], looking for the library near a rule file or folder first ([`find_lib`]); also
/// returns where the library was found, for [`lib_hint`].
pub fn host_near(
    lib: Option<&Path>,
    config: &Config,
    near: Option<&Path>,
) -> Result<(RuleHost, LibFound)> {
    let found = find_lib(lib, config, near)?;
    let host = host_over(found.dir.as_deref(), config)?;
    Ok((host, found))
}

/// Where the rules library is (or where it was looked for) and how to point at another,
/// for a rule that imports a module the library does not have.
pub fn lib_hint(found: &LibFound) -> String {
    match &found.dir {
        Some(dir) => format!(
            "the rules library is {} (found as {}); to use another, give {LIB_HINT}",
            dir.display(),
            found.looked.last().map_or("", String::as_str)
        ),
        None => format!(
            "no rules library folder found (looked for {}), so the library built into leadorch \
             ({}) was used; point at a folder with {LIB_HINT}",
            found.looked.join(", then "),
            built_in_modules()
        ),
    }
}

/// The names of the built-in library's modules, for messages ("calendar, hysteresis, …").
fn built_in_modules() -> String {
    leadorch_rules::BUILT_IN_LIBRARY
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which rules library a host uses, for the daemon's start lines: the folder, else the
/// built-in one.
pub fn library_line(found: &LibFound) -> String {
    match &found.dir {
        Some(dir) => format!("rules library {}", dir.display()),
        None => format!("rules library built into leadorch ({})", built_in_modules()),
    }
}

/// Adds [`lib_hint`] to an error about a module that could not be imported.
pub fn with_lib_hint(e: anyhow::Error, found: &LibFound) -> anyhow::Error {
    let text = format!("{e:#}");
    if text.contains("unknown module") {
        anyhow::anyhow!("{text} ({})", lib_hint(found))
    } else {
        e
    }
}

/// The rules host over the library folder `dir`, else over the library built into leadorch
/// (`leadorch_rules::BUILT_IN_LIBRARY`, ADR 0051).
pub fn host_over(dir: Option<&Path>, config: &Config) -> Result<RuleHost> {
    RuleHost::new_or_built_in(dir, config.limits()).with_context(|| match dir {
        Some(dir) => format!("loading the rules library {}", dir.display()),
        None => "building the rules host over the built-in library".to_string(),
    })
}

/// The rules library folder found by [`find_lib`], and where it was looked for.
pub struct LibFound {
    /// The folder, or none.
    pub dir: Option<PathBuf>,
    /// Where it was looked for, in order, for a message ("X (from --lib)", "lib/ in F and
    /// the folders above it", "rules/lib in C"); when found, the last is where.
    pub looked: Vec<String>,
}

/// How to point at the rules library, for messages.
pub const LIB_HINT: &str = "--lib DIR or LEADORCH__RULES_LIB=DIR (rules_lib in the configuration)";

/// Finds the rules library folder: `lib` (`--lib`), else the configured `rules_lib`, else
/// (for a rule file or folder `near`) a `lib/` folder holding `*.rhai` files in the rule
/// file's folder (the folder itself) or the nearest folder above it, else `rules/lib` in the
/// working directory. A folder given
/// by `--lib` or the configuration that is not a folder is an error.
pub fn find_lib(lib: Option<&Path>, config: &Config, near: Option<&Path>) -> Result<LibFound> {
    let given = match (lib, &config.rules_lib) {
        (Some(dir), _) => Some((dir.to_path_buf(), "--lib")),
        (None, Some(dir)) => Some((
            dir.clone(),
            "rules_lib in the configuration (LEADORCH__RULES_LIB)",
        )),
        (None, None) => None,
    };
    if let Some((dir, from)) = given {
        if !dir.is_dir() {
            bail!(
                "the rules library {} (from {from}) is not a folder: give the folder of shared \
                 modules, e.g. rules/lib",
                dir.display()
            );
        }
        return Ok(LibFound {
            looked: vec![format!("{} (from {from})", dir.display())],
            dir: Some(dir),
        });
    }
    let mut looked = Vec::new();
    if let Some(rule) = near {
        let absolute = std::path::absolute(rule).unwrap_or_else(|_| rule.to_path_buf());
        let folder = if absolute.is_dir() {
            Some(absolute)
        } else {
            absolute.parent().map(Path::to_path_buf)
        };
        if let Some(folder) = folder {
            looked.push(format!(
                "lib/ in {} and the folders above it",
                folder.display()
            ));
            for candidate in folder.ancestors().map(|a| a.join("lib")) {
                if holds_modules(&candidate) {
                    return Ok(LibFound {
                        dir: Some(candidate),
                        looked,
                    });
                }
            }
        }
    }
    let default = PathBuf::from("rules/lib");
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| ".".to_string());
    looked.push(format!("rules/lib in {cwd}"));
    Ok(LibFound {
        dir: default.is_dir().then_some(default),
        looked,
    })
}

/// Whether `dir` is a folder with at least one `*.rhai` file (so that `/lib` is no library).
fn holds_modules(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let path = e.path();
            path.extension().is_some_and(|x| x == "rhai") && path.is_file()
        })
    })
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
    bail!("{s:?} is not a time: use e.g. 2026-11-01 or 2026-11-01T12:00:00Z")
}

/// A time argument of `flag` that takes no position (`--known-at`, a backtest's window), read
/// as every command reads it ([`time_travel::parse_time`]).
pub fn time_arg(flag: &str, s: &str) -> Result<DateTime<Utc>> {
    time_travel::parse_time(flag, s).map_err(anyhow::Error::msg)
}

/// `--as-of TIME|POSITION` and `--known-at TIME`, read and resolved the same way by every
/// command that looks back (docs/time-travel.md): event time, a log position, recorded time.
pub async fn as_of(engine: &Engine, as_of: Option<&str>, known_at: Option<&str>) -> Result<AsOf> {
    let point = as_of
        .map(|s| Point::parse("--as-of", s))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let known = known_at.map(|s| time_arg("--known-at", s)).transpose()?;
    Ok(AsOf::resolve(&engine.store.log, point, known).await?)
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

/// Completes on SIGTERM or Ctrl-C (Ctrl-C alone where there are no Unix signals).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Left-aligned columns two spaces apart, as wide as their longest cell (in characters); the
/// last column is not padded.
pub fn print_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> Result<()> {
    print_columns(header, rows, false)
}

/// Like [`print_table`], with every column after the first right-aligned (figures); nothing
/// at all when there are no rows.
pub fn print_figures<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    print_columns(header, rows, true)
}

fn print_columns<const N: usize>(
    header: [&str; N],
    rows: &[[String; N]],
    figures: bool,
) -> Result<()> {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; N]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let width = widths[i];
            match (figures, i) {
                (false, i) if i + 1 == N => text.push_str(cell),
                (false, _) | (true, 0) => text.push_str(&format!("{cell:<width$}")),
                (true, _) => text.push_str(&format!("{cell:>width$}")),
            }
            if i + 1 < N {
                text.push_str("  ");
            }
        }
        text
    };
    outln!("{}", line(header))?;
    for row in rows {
        outln!("{}", line(row.each_ref().map(String::as_str)))?;
    }
    Ok(())
}

/// A campaign as people read it: `NL Generic (123-456-7890/1001)`, the id alone when its name
/// is unknown (or its Google data was deleted).
pub fn campaign_text(id: &str, name: &str) -> String {
    if name.is_empty() {
        id.to_string()
    } else {
        format!("{name} ({id})")
    }
}
