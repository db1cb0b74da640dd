//! `leadorch teams …` through the binary: defining and changing a team, members, the list
//! and show outputs (tables and JSON), clear one-line errors, nothing created by a command
//! that needs an existing database, and `teams import-config` recording once.

use std::path::Path;

mod common;
use common::{leadorch, ok, stderr, stdout};

/// Runs a command that must fail with exit code `code` and one `error: …` line; returns it.
fn fails_with(home: &Path, args: &[&str], code: i32) -> String {
    let o = leadorch(home, args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{args:?}: {}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(stdout(&o).is_empty(), "{args:?}: {}", stdout(&o));
    stderr(&o)
}

fn fails(home: &Path, args: &[&str]) -> String {
    let err = fails_with(home, args, 1);
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

/// How many events the home's database holds.
fn events(home: &Path) -> usize {
    ok(home, &["events", "list", "--json"]).lines().count()
}

#[test]
fn a_team_is_set_shown_listed_and_given_members() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();

    let out = ok(
        home,
        &[
            "teams",
            "set",
            "sales-nl",
            "--time-zone",
            "Europe/Amsterdam",
            "--hours",
            "mon-fri 09:00-17:00",
            "--hours",
            "sat 10:00-14:00",
            "--holiday",
            "2026-12-25",
            "--holiday",
            "2026-12-26",
        ],
    );
    assert_eq!(
        out,
        "sales-nl: defined with time_zone, hours, holidays (capacity source pushed)\n"
    );
    let recorded = events(home);
    assert_eq!(recorded, 4);
    // The same again changes nothing and records nothing.
    let out = ok(
        home,
        &[
            "teams",
            "set",
            "sales-nl",
            "--time-zone",
            "Europe/Amsterdam",
        ],
    );
    assert_eq!(out, "sales-nl: unchanged\n");
    assert_eq!(events(home), recorded);
    let out = ok(
        home,
        &[
            "teams",
            "set",
            "sales-nl",
            "--max-open-leads",
            "40",
            "--capacity-source",
            "connector:hubspot",
        ],
    );
    assert_eq!(out, "sales-nl: changed capacity_source, max_open_leads\n");

    let out = ok(
        home,
        &[
            "teams",
            "member",
            "add",
            "sales-nl",
            "--id",
            "owner-17",
            "--name",
            "Ada Lovelace",
            "--max-open-leads",
            "12",
        ],
    );
    assert_eq!(out, "sales-nl: added member owner-17 (1 member)\n");
    ok(
        home,
        &["teams", "member", "add", "sales-nl", "--id", "owner-18"],
    );

    let show = ok(home, &["teams", "show", "sales-nl"]);
    let lines: Vec<&str> = show.lines().collect();
    assert_eq!(lines[0], "team             sales-nl");
    assert_eq!(lines[1], "time zone        Europe/Amsterdam");
    assert_eq!(lines[2], "hours            mon-fri 09:00-17:00");
    assert_eq!(lines[3], "                 sat 10:00-14:00");
    assert_eq!(lines[4], "holidays         2026-12-25, 2026-12-26");
    assert_eq!(lines[5], "max open leads   40");
    assert_eq!(lines[6], "capacity source  connector:hubspot");
    assert!(
        show.contains("MEMBER    NAME          MAX OPEN LEADS  ADDED"),
        "{show}"
    );
    assert!(show.contains("owner-17  Ada Lovelace  12"), "{show}");
    assert!(show.contains("owner-18  -             -"), "{show}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(home, &["teams", "show", "sales-nl", "--json"])).unwrap();
    assert_eq!(json["capacity_source"], "connector:hubspot");
    assert_eq!(json["max_open_leads_from"], "team");
    assert_eq!(json["members"][0]["name"], "Ada Lovelace");
    assert_eq!(json["hours"][1], "sat 10:00-14:00");

    ok(
        home,
        &["teams", "set", "sales-be", "--max-open-leads", "members"],
    );
    let list = ok(home, &["teams", "list"]);
    let rows: Vec<&str> = list.lines().collect();
    assert_eq!(rows.len(), 3, "{list}");
    assert!(rows[0].starts_with("TEAM      TIME ZONE"), "{list}");
    assert!(rows[1].starts_with("sales-be  -"), "{list}");
    assert!(
        rows[2].contains("mon-fri 09:00-17:00; sat 10:00-14:00"),
        "{list}"
    );
    let json = ok(home, &["teams", "list", "--json"]);
    assert_eq!(json.lines().count(), 2);

    let out = ok(
        home,
        &["teams", "member", "remove", "sales-nl", "--id", "owner-17"],
    );
    assert_eq!(out, "sales-nl: removed member owner-17 (1 member)\n");
    // Members' names are sealed in the log.
    let raw = ok(home, &["events", "list", "--type", "MemberAdded", "--json"]);
    assert!(!raw.contains("Ada Lovelace"), "{raw}");
}

#[test]
fn bad_input_gets_one_line_naming_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let err = fails(
        home,
        &[
            "teams",
            "set",
            "sales-nl",
            "--time-zone",
            "Europe/Amsterdam",
            "--hours",
            "mon-fri 17:00-09:00",
        ],
    );
    assert!(
        err.contains(
            "team sales-nl: hours \"mon-fri 17:00-09:00\": 17:00-09:00 ends before it starts"
        ),
        "{err}"
    );
    let err = fails(
        home,
        &["teams", "set", "sales-nl", "--hours", "mon 09:00-17:00"],
    );
    assert!(err.contains("need the team's time zone"), "{err}");
    let err = fails(
        home,
        &["teams", "set", "sales-nl", "--time-zone", "Mars/Olympus"],
    );
    assert!(err.contains("unknown time zone \"Mars/Olympus\""), "{err}");
    let err = fails(
        home,
        &["teams", "set", "sales-nl", "--max-open-leads", "-3"],
    );
    assert!(
        err.contains("max_open_leads must not be negative (got -3)"),
        "{err}"
    );
    let err = fails(
        home,
        &["teams", "set", "sales-nl", "--max-open-leads", "lots"],
    );
    assert!(err.contains("--max-open-leads \"lots\""), "{err}");
    let err = fails(
        home,
        &["teams", "set", "sales-nl", "--capacity-source", "hubspot"],
    );
    assert!(
        err.contains("capacity source \"hubspot\" is not one of"),
        "{err}"
    );
    let err = fails_with(home, &["teams", "set", "sales-nl", "--holiday", "25/12"], 2);
    assert!(
        err.contains("\"25/12\" is not a date: use YYYY-MM-DD"),
        "{err}"
    );
    assert_eq!(events(home), 0, "nothing recorded");

    let err = fails(home, &["teams", "show", "sales-nl"]);
    assert!(err.contains("no team \"sales-nl\""), "{err}");
    ok(home, &["teams", "set", "sales-nl"]);
    ok(home, &["teams", "member", "add", "sales-nl", "--id", "o-1"]);
    let err = fails(home, &["teams", "member", "add", "sales-nl", "--id", "o-1"]);
    assert!(
        err.contains("member \"o-1\" is already in the team"),
        "{err}"
    );
    let err = fails(
        home,
        &["teams", "member", "remove", "sales-nl", "--id", "o-2"],
    );
    assert!(err.contains("member \"o-2\" is not in the team"), "{err}");
    let err = fails(home, &["teams", "member", "add", "sales-be", "--id", "o-1"]);
    assert!(err.contains("no team \"sales-be\""), "{err}");

    // Reading commands record nothing anyone did.
    let err = fails(home, &["--actor", "x", "teams", "list"]);
    assert!(
        err.contains("--actor does nothing for `leadorch teams list`"),
        "{err}"
    );
}

#[test]
fn commands_on_existing_teams_create_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let db = home.join("elsewhere.db");
    let url = format!("sqlite://{}", db.display());
    for args in [
        vec!["teams", "member", "add", "sales-nl", "--id", "o-1"],
        vec!["teams", "member", "remove", "sales-nl", "--id", "o-1"],
        vec!["teams", "list"],
        vec!["teams", "show", "sales-nl"],
    ] {
        let mut full = vec!["--database-url", url.as_str()];
        full.extend(args.iter().copied());
        let err = fails(home, &full);
        assert!(err.contains("elsewhere.db"), "{err}");
        assert!(!db.exists(), "{args:?} created the database");
    }
    // Defining a team writes new history, like `rules save`: it creates the database.
    ok(home, &["--database-url", &url, "teams", "set", "sales-nl"]);
    assert!(db.exists());
}

#[test]
fn the_configuration_s_teams_are_imported_once() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let config = home.join("leadorch.toml");
    std::fs::write(
        &config,
        r#"
[facts]
timezone = "Europe/Amsterdam"
default_team = "sales-nl"

[facts.campaign_teams]
"123-456-7890/1004" = "sales-be"

[facts.calendars.default]
weekly = { mon = [["08:00", "18:00"]] }
holidays = []

[facts.calendars.sales-nl]
weekly = { mon = [["09:00", "17:00"]], tue = [["09:00", "17:00"]] }
holidays = ["2026-12-25"]
"#,
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let out = ok(home, &["teams", "import-config", "--config", c]);
    assert_eq!(
        out,
        "sales-be: defined\n\
         sales-nl: defined with time_zone, hours, holidays\n\
         calendars not named after a team stay in the configuration: default\n"
    );
    let show = ok(home, &["teams", "show", "sales-nl"]);
    assert!(
        show.contains("hours            mon,tue 09:00-17:00"),
        "{show}"
    );
    assert!(show.contains("time zone        Europe/Amsterdam"), "{show}");
    let before = events(home);
    let out = ok(home, &["teams", "import-config", "--config", c]);
    assert_eq!(
        out,
        "sales-be: unchanged\n\
         sales-nl: unchanged\n\
         calendars not named after a team stay in the configuration: default\n"
    );
    assert_eq!(events(home), before, "a second run records nothing");
}

#[test]
fn another_projects_teams_are_kept_apart_and_shown_bare() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let out = ok(
        home,
        &[
            "teams",
            "set",
            "sales-nl",
            "--project",
            "acme",
            "--max-open-leads",
            "5",
        ],
    );
    assert!(out.starts_with("sales-nl: defined"), "{out}");
    ok(
        home,
        &[
            "teams",
            "member",
            "add",
            "sales-nl",
            "--id",
            "o-1",
            "--project",
            "acme",
        ],
    );
    let shown = ok(
        home,
        &["teams", "show", "sales-nl", "--project", "acme", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["name"], "sales-nl");
    assert_eq!(v["max_open_leads"], 5);
    assert_eq!(v["members"][0]["id"], "o-1", "{v}");
    // The default project has no such team; its list leaves acme's out.
    fails(home, &["teams", "show", "sales-nl"]);
    assert_eq!(ok(home, &["teams", "list", "--json"]), "");
    let theirs = ok(home, &["teams", "list", "--project", "acme", "--json"]);
    assert_eq!(theirs.lines().count(), 1, "{theirs}");
    // The events name the project.
    let log = ok(home, &["events", "list", "--json"]);
    assert!(log.contains(r#""stream":"team:acme/sales-nl""#), "{log}");
    let err = fails(home, &["teams", "list", "--project", "Not A Project"]);
    assert!(err.contains("--project"), "{err}");
}
