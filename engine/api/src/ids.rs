//! Ids a client sends, and how projects keep theirs apart (ADR 0022, decision 12): the
//! `default` project keeps bare ids, so nothing changes for one company; any other project's
//! ids are stored as `<project>/<id>`.

use crate::Problem;

/// Checks a client-supplied id: 1–128 of `A-Z a-z 0-9 . _ -`.
pub fn check_client_id(field: &str, id: &str) -> Result<(), Problem> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Problem::invalid(
            field,
            format!("{field} {id:?} is not an id: use 1 to 128 of A-Z, a-z, 0-9, '.', '_' and '-'"),
        ))
    }
}

/// The project of a single company, whose ids are stored bare.
pub const DEFAULT_PROJECT: &str = "default";

/// The stored id of a project's `id`.
pub fn scoped(project: &str, id: &str) -> String {
    if project == DEFAULT_PROJECT {
        id.to_string()
    } else {
        format!("{project}/{id}")
    }
}

/// The client's id of a stored one, when it belongs to `project`.
pub fn unscoped<'a>(project: &str, stored: &'a str) -> Option<&'a str> {
    if project == "default" {
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
        assert!(check_client_id("team", "sales-nl.2_b").is_ok());
        assert!(check_client_id("team", "a/b").is_err());
        assert!(check_client_id("team", "").is_err());
        assert!(check_client_id("team", &"x".repeat(129)).is_err());
    }
}
