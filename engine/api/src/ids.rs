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

pub use leadorch_domain::project::{bare, scoped, unscoped, DEFAULT as DEFAULT_PROJECT};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_checked() {
        assert!(check_client_id("team", "sales-nl.2_b").is_ok());
        assert!(check_client_id("team", "a/b").is_err());
        assert!(check_client_id("team", "").is_err());
        assert!(check_client_id("team", &"x".repeat(129)).is_err());
    }
}
