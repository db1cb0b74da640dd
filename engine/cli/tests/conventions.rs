//! Command-line conventions through the binary: unknown event types refused, shell
//! completions, each option's default shown once in help, one way to name a Google account,
//! and `retention enforce` that counts by default and can dry-run.

use std::path::Path;

mod common;
use common::{leadorch, leadorch_with, ok, readable_lead, stderr, stdout};

#[test]
fn an_unknown_event_type_is_refused_with_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(home, &["seed", "--events", "200"]);

    let o = leadorch(home, &["events", "list", "--type", "Nonsense"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).is_empty(), "no table: {}", stdout(&o));
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("unknown event type \"Nonsense\""), "{err}");
    for known in ["LeadReceived", "CapacityRecorded", "CampaignObserved"] {
        assert!(err.contains(known), "lists {known}: {err}");
    }

    // A near miss in case is pointed at the right name.
    let o = leadorch(home, &["events", "list", "--type", "leadreceived"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("did you mean LeadReceived?"),
        "{}",
        stderr(&o)
    );

    // Known types work as before.
    let list = ok(
        home,
        &["events", "list", "--type", "LeadReceived", "--limit", "2"],
    );
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "header + 2: {list}");
    assert!(
        lines[1..].iter().all(|l| l.contains("LeadReceived")),
        "{list}"
    );
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(home, &["completions", shell]);
        assert!(script.len() > 1000, "{shell}: {script}");
        for word in ["leadorch", "events", "rules", "retention", "database-url"] {
            assert!(script.contains(word), "{shell} script names {word}");
        }
        assert!(
            !script.contains("debug-append-loop"),
            "{shell}: hidden commands are not offered"
        );
    }
    assert!(
        !home.join("leadorch.db").exists(),
        "completions need no database"
    );
    let o = leadorch(home, &["completions", "cmd.exe"]);
    assert_eq!(o.status.code(), Some(2), "clap refuses it");
    assert!(
        stderr(&o).contains("invalid value 'cmd.exe'"),
        "{}",
        stderr(&o)
    );
}

/// The help of `leadorch <path…>` with `flag` (`--help` or `-h`).
fn help(home: &Path, path: &[String], flag: &str) -> String {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push(flag);
    let o = leadorch(home, &args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

/// The subcommands a help text lists under `Commands:` (without clap's `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Each option's help (its line and the lines under it), by option.
fn options(help: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if (2..=6).contains(&indent) && t.starts_with('-') {
            out.push((
                t.split_whitespace().next().unwrap().to_string(),
                line.into(),
            ));
        } else if line.trim().is_empty() || !line.starts_with(' ') {
            out.push((String::new(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push('\n');
            text.push_str(line);
        }
    }
    out.retain(|(name, _)| !name.is_empty());
    out
}

#[test]
fn every_option_shows_its_default_once() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    let mut twice = Vec::new();
    while let Some(path) = todo.pop() {
        let long = help(home, &path, "--help");
        for flag_help in [long.clone(), help(home, &path, "-h")] {
            for (option, text) in options(&flag_help) {
                if text.matches("[default").count() > 1 {
                    twice.push(format!("leadorch {} {option}: {text}", path.join(" ")));
                }
            }
        }
        for sub in subcommands(&long) {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p);
        }
        seen += 1;
    }
    assert!(seen > 25, "walked only {seen} commands");
    assert!(twice.is_empty(), "{}", twice.join("\n"));
}

#[test]
fn a_google_account_is_named_by_account_or_by_position() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let env = [("LEADORCH_GOOGLE_CLIENT_ID", "test-client")];
    for cmd in ["revoke", "forget"] {
        let positional = leadorch_with(home, &["google", cmd, "nobody"], &env);
        let flag = leadorch_with(home, &["google", cmd, "--account", "nobody"], &env);
        for o in [&positional, &flag] {
            assert_eq!(o.status.code(), Some(1), "{cmd}: {}", stderr(o));
            assert!(
                stderr(o).starts_with("error: no Google account named \"nobody\""),
                "{cmd}: {}",
                stderr(o)
            );
        }
        assert_eq!(stderr(&positional), stderr(&flag), "{cmd}");

        // Both at once, or neither, is a usage error.
        let o = leadorch_with(home, &["google", cmd, "a", "--account", "b"], &env);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
        let o = leadorch_with(home, &["google", cmd], &env);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
    }
    // connect takes the same two forms: a bad name is refused before any browser opens.
    let positional = leadorch_with(home, &["google", "connect", "bad name"], &env);
    let flag = leadorch_with(home, &["google", "connect", "--account", "bad name"], &env);
    for o in [&positional, &flag] {
        assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
        assert!(stderr(o).contains("bad name"), "{}", stderr(o));
    }
    assert_eq!(stderr(&positional), stderr(&flag));
    let connect_help = stdout(&leadorch(home, &["google", "connect", "--help"]));
    assert!(
        connect_help.contains("--account <ACCOUNT>"),
        "{connect_help}"
    );
    assert!(connect_help.contains("[ACCOUNT]"), "{connect_help}");
}

#[test]
fn retention_counts_by_default_lists_on_request_and_can_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(home, &["seed", "--events", "2000"]);
    let (subject, email) = readable_lead(home);
    let later = "2100-01-01T00:00:00Z";

    // A dry run names what would go and destroys nothing.
    let dry = ok(
        home,
        &[
            "retention",
            "enforce",
            "--now",
            later,
            "--dry-run",
            "--list",
        ],
    );
    let first = dry.lines().next().unwrap();
    assert!(
        first.starts_with("retention (dry run): ")
            && first.ends_with(
                " key(s) past their window would be destroyed, 0 expired fingerprint(s), 0 idempotency record(s) and 0 finished webhook deliveries would be deleted; nothing changed"
            ),
        "{dry}"
    );
    let n: usize = first["retention (dry run): ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 1, "{dry}");
    assert_eq!(dry.lines().count(), n + 1, "{dry}");
    assert!(dry.contains(&subject), "{dry}");
    let export = ok(home, &["subjects", "export", &subject]);
    assert!(export.contains(&email), "a dry run keeps the data");
    let dry = ok(home, &["retention", "enforce", "--now", later, "--dry-run"]);
    assert_eq!(dry.lines().count(), 1, "a count by default: {dry}");

    // The real run: one line by default, then the data is gone.
    let done = ok(home, &["retention", "enforce", "--now", later]);
    assert_eq!(
        done.trim_end(),
        format!("retention: {n} key(s) past their window destroyed, 0 expired fingerprint(s), 0 idempotency record(s) and 0 finished webhook deliveries deleted"),
        "a count, not {n} ids"
    );
    let export = ok(home, &["subjects", "export", &subject]);
    assert!(!export.contains(&email), "the real run shreds");
    let again = ok(home, &["retention", "enforce", "--now", later, "--list"]);
    assert_eq!(
        again.trim_end(),
        "retention: 0 key(s) past their window destroyed, 0 expired fingerprint(s), 0 idempotency record(s) and 0 finished webhook deliveries deleted"
    );
}
