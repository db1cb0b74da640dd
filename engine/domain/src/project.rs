//! Projects keep one installation's companies apart (ADR 0022 decision 12, ADR 0030): the
//! `default` project keeps bare ids, so nothing changes for one company; any other project's
//! ids are stored as `<project>/<id>`. One vocabulary for every crate that scopes ids (the API,
//! facts, the daemon, Google accounts, the CLI).
//!
//! Campaign ids are Google's `<customer>/<campaign>` and carry no project: never pass one to
//! [`unscoped`], [`bare`] or [`of`]. A campaign belongs to the project of the Google account it
//! was read through.

/// The project of a single company, whose ids are stored bare.
pub const DEFAULT: &str = "default";

/// Checks a project name: 1 to 32 of `a-z 0-9 -`, not starting with `-`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "project {name:?} is not a project name: use 1 to 32 of a-z, 0-9 and -, not starting with -"
        ))
    }
}

/// The stored id of a project's `id`.
pub fn scoped(project: &str, id: &str) -> String {
    if project == DEFAULT {
        id.to_string()
    } else {
        format!("{project}/{id}")
    }
}

/// The project's own id of a stored one, when the stored id belongs to `project`.
pub fn unscoped<'a>(project: &str, stored: &'a str) -> Option<&'a str> {
    if project == DEFAULT {
        (!stored.contains('/')).then_some(stored)
    } else {
        stored
            .strip_prefix(project)
            .and_then(|rest| rest.strip_prefix('/'))
    }
}

/// The id a caller of `project` sees for a stored one: its prefix taken off (a stored id of no
/// project shown as it is).
pub fn bare(project: &str, stored: &str) -> String {
    unscoped(project, stored).unwrap_or(stored).to_string()
}

/// `--project` as a command a message suggests takes it: ` --project acme`, nothing for the
/// default project.
pub fn flag(project: &str) -> String {
    if project == DEFAULT {
        String::new()
    } else {
        format!(" --project {project}")
    }
}

/// The project a stored (scoped) id belongs to: the part before its `/`, else `default`.
pub fn of(stored: &str) -> &str {
    stored
        .split_once('/')
        .map_or(DEFAULT, |(project, _)| project)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_keep_their_ids_apart() {
        assert_eq!(scoped("default", "sales-nl"), "sales-nl");
        assert_eq!(scoped("acme", "sales-nl"), "acme/sales-nl");
        assert_eq!(unscoped("acme", "acme/sales-nl"), Some("sales-nl"));
        assert_eq!(unscoped("acme", "sales-nl"), None);
        assert_eq!(unscoped("default", "acme/sales-nl"), None);
        assert_eq!(unscoped("acme", "acmex/a"), None);
        assert_eq!(bare("acme", "acme/ops"), "ops");
        assert_eq!(of("acme/ops"), "acme");
        assert_eq!(of("ops"), "default");
        assert_eq!(flag("acme"), " --project acme");
        assert_eq!(flag("default"), "");
    }

    #[test]
    fn project_names_are_checked() {
        assert!(check_name("default").is_ok());
        assert!(check_name("client-7").is_ok());
        assert!(check_name("a_b").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("Upper").is_err());
        assert!(check_name("-a").is_err());
        assert!(check_name(&"a".repeat(33)).is_err());
    }
}
