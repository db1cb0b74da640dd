//! The global options (`--database-url`, `--master-key-file`, `--actor`) against the
//! commands: each command either acts on a global option given on its command line or
//! refuses it with one line saying why — never silently ignores it (ADR 0020). Given
//! through the environment (`DATABASE_URL`, `LEADORCH_MASTER_KEY_FILE`, `LEADORCH_ACTOR`)
//! they are standing settings of the shell, used by the commands they apply to and left
//! alone by the others.
//!
//! The table is one exhaustive `match`: a new command does not compile until it says what
//! it does with them.

use anyhow::{bail, Result};

use crate::{
    audit, capacity, events, google, keys, retention, rules, subjects, teams, webhooks, Command,
    Global,
};

/// What a command does with the global options.
struct Uses {
    /// The command as typed, for messages (`rules check`).
    name: &'static str,
    /// It opens a database (`--database-url`, `--master-key-file`).
    database: bool,
    /// It records events with the actor (`--actor`).
    actor: bool,
}

fn uses(cmd: &Command) -> Uses {
    let u = |name, database, actor| Uses {
        name,
        database,
        actor,
    };
    match cmd {
        Command::Init => u("init", true, false),
        Command::Events(events::EventsCommand::List(_)) => u("events list", true, false),
        Command::Audit(audit::AuditCommand::Verify { .. }) => u("audit verify", true, false),
        Command::Replay(_) => u("replay", true, false),
        Command::Subjects(s) => match &s.cmd {
            subjects::SubjectsCommand::Export { .. } => u("subjects export", true, true),
            subjects::SubjectsCommand::Erase { .. } => u("subjects erase", true, true),
        },
        Command::Retention(retention::RetentionCommand::Enforce { dry_run: true, .. }) => {
            u("retention enforce --dry-run", true, false)
        }
        Command::Retention(retention::RetentionCommand::Enforce { .. }) => {
            u("retention enforce", true, true)
        }
        // The seed's events are synthetic and recorded as the actor "seed".
        Command::Seed(_) => u("seed", true, false),
        // Handed to leadorch-bench, which takes all three.
        Command::Bench(_) => u("bench", true, true),
        // The actor saves and enables the rules; the simulator records as "sim".
        Command::Demo(_) => u("demo", true, true),
        Command::Daemon(_) => u("daemon", true, true),
        Command::Rules(r) => match &r.cmd {
            rules::RulesCommand::Save { .. } => u("rules save", true, true),
            rules::RulesCommand::Rollback { .. } => u("rules rollback", true, true),
            rules::RulesCommand::Enable { .. } => u("rules enable", true, true),
            rules::RulesCommand::Disable { .. } => u("rules disable", true, true),
            rules::RulesCommand::List { .. } => u("rules list", true, false),
            rules::RulesCommand::History { .. } => u("rules history", true, false),
            rules::RulesCommand::Show { .. } => u("rules show", true, false),
            rules::RulesCommand::Diff { .. } => u("rules diff", true, false),
            rules::RulesCommand::DryRun(_) => u("rules dry-run", true, false),
            rules::RulesCommand::Backtest(_) => u("rules backtest", true, false),
            rules::RulesCommand::Check { .. } => u("rules check", false, false),
            rules::RulesCommand::Test { .. } => u("rules test", false, false),
        },
        Command::Teams(t) => match &t.cmd {
            teams::TeamsCommand::Set(_) => u("teams set", true, true),
            teams::TeamsCommand::Member(teams::MemberCommand::Add { .. }) => {
                u("teams member add", true, true)
            }
            teams::TeamsCommand::Member(teams::MemberCommand::Remove { .. }) => {
                u("teams member remove", true, true)
            }
            teams::TeamsCommand::List { .. } => u("teams list", true, false),
            teams::TeamsCommand::Show { .. } => u("teams show", true, false),
            teams::TeamsCommand::ImportConfig { .. } => u("teams import-config", true, true),
        },
        Command::Explain(_) => u("explain", true, false),
        Command::Capacity(c) => match &c.cmd {
            capacity::CapacityCommand::Sources(_) => u("capacity sources", true, false),
        },
        Command::Status(_) => u("status", true, false),
        // Records as each request's key (`api-key:key_…`), not as the actor.
        Command::Serve(_) => u("serve", true, false),
        Command::Keys(keys::KeysCommand::Create { .. }) => u("keys create", true, true),
        Command::Keys(keys::KeysCommand::List { .. }) => u("keys list", true, false),
        Command::Keys(keys::KeysCommand::Revoke { .. }) => u("keys revoke", true, false),
        Command::AccessLog(_) => u("access-log", true, false),
        Command::Google(g) => match &g.cmd {
            google::GoogleCommand::List { .. } => u("google list", true, false),
            google::GoogleCommand::Connect { .. } => u("google connect", true, true),
            google::GoogleCommand::Revoke { .. } => u("google revoke", true, true),
            google::GoogleCommand::Forget { .. } => u("google forget", true, true),
        },
        Command::Webhooks(w) => match &w.cmd {
            webhooks::WebhooksCommand::Add { .. } => u("webhooks add", true, true),
            webhooks::WebhooksCommand::List { .. } => u("webhooks list", true, false),
            webhooks::WebhooksCommand::Remove { .. } => u("webhooks remove", true, false),
            webhooks::WebhooksCommand::Deliveries { .. } => u("webhooks deliveries", true, false),
            webhooks::WebhooksCommand::RotateSecret { .. } => {
                u("webhooks rotate-secret", true, false)
            }
            webhooks::WebhooksCommand::Enable { .. } => u("webhooks enable", true, false),
        },
        Command::Completions { .. } => u("completions", false, false),
        Command::DebugAppendLoop { .. } => u("debug-append-loop", true, false),
    }
}

/// Refuses a global option given on the command line that `cmd` would not act on, and a
/// `rules --project` for a command that acts in no project.
pub fn check(cmd: &Command, g: &Global) -> Result<()> {
    let u = uses(cmd);
    // `rules check` and `rules test` read no saved rule: they compile files against the one
    // rules library every project shares, and fixtures bring their own facts. Another project
    // would change nothing, so it is refused rather than ignored.
    if let Command::Rules(r) = cmd {
        if !u.database && r.project != leadorch_domain::project::DEFAULT {
            bail!(
                "--project {} does nothing for `leadorch {}` (it opens no database: rule files compile and fixtures run the same in every project): leave it out",
                r.project,
                u.name
            );
        }
    }
    for flag in &g.on_command_line {
        let why = match *flag {
            "--database-url" | "--master-key-file" if !u.database => "it opens no database",
            "--actor" if !u.actor => match u.name {
                "seed" => "its events are synthetic, recorded as the actor \"seed\"",
                _ => "it records nothing anyone did",
            },
            _ => continue,
        };
        bail!(
            "{flag} does nothing for `leadorch {}` ({why}): leave it out",
            u.name
        );
    }
    Ok(())
}

/// The global options given on the command line (as opposed to the environment).
pub fn on_command_line(matches: &clap::ArgMatches) -> Vec<&'static str> {
    [
        ("database_url", "--database-url"),
        ("master_key_file", "--master-key-file"),
        ("actor", "--actor"),
    ]
    .into_iter()
    .filter(|(id, _)| given_here(matches, id))
    .map(|(_, flag)| flag)
    .collect()
}

/// Whether the argument `id` came from the command line, at this level or in a subcommand.
fn given_here(matches: &clap::ArgMatches, id: &str) -> bool {
    if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
        return true;
    }
    matches
        .subcommand()
        .is_some_and(|(_, sub)| given_here(sub, id))
}
