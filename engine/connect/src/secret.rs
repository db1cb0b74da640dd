//! Where a source's secret comes from, for every connector alike: `<name>_env` (an environment
//! variable) or `<name>_file` (a file holding it alone), never the configuration file itself.
//!
//! A connector reads it when it is built (so a missing one stops the daemon at start, naming
//! the variable or file) and again before each use (so a rotated file is picked up). Errors
//! name the key and where the value was looked for, never the value.

use std::path::PathBuf;

use crate::source::SourceError;

/// Where one secret is read from.
#[derive(Clone, Debug)]
pub(crate) struct SecretFrom {
    /// The settings' name for it: `token` for `token_env` / `token_file`.
    name: &'static str,
    place: Place,
}

#[derive(Clone, Debug)]
enum Place {
    Env(String),
    File(PathBuf),
}

impl SecretFrom {
    /// From a source's `<name>_env` and `<name>_file` settings; `key` is the source's key
    /// (`capacity.sources.crm`), for errors. `None` when neither is given.
    pub(crate) fn from_settings(
        key: &str,
        name: &'static str,
        env: Option<String>,
        file: Option<PathBuf>,
    ) -> Result<Option<SecretFrom>, String> {
        let place = match (env, file) {
            (Some(_), Some(_)) => {
                return Err(format!("{key}: give {name}_env or {name}_file, not both"))
            }
            (Some(var), None) if var.trim().is_empty() => {
                return Err(format!("{key}.{name}_env: name an environment variable"))
            }
            (Some(var), None) => Place::Env(var),
            (None, Some(path)) => Place::File(path),
            (None, None) => return Ok(None),
        };
        Ok(Some(SecretFrom { name, place }))
    }

    /// Where it is read, as errors say it: `the environment variable X (token_env)` or
    /// `token_file /run/secrets/x`.
    pub(crate) fn describe(&self) -> String {
        match &self.place {
            Place::Env(var) => format!("the environment variable {var} ({}_env)", self.name),
            Place::File(path) => format!("{}_file {}", self.name, path.display()),
        }
    }

    /// The value, without surrounding white space; a [`SourceError::Config`] naming where it
    /// was looked for when it is missing, unreadable or empty.
    pub(crate) fn read(&self) -> Result<String, SourceError> {
        let value = match &self.place {
            Place::Env(var) => std::env::var(var)
                .map_err(|_| SourceError::Config(format!("{} is not set", self.describe())))?,
            Place::File(path) => std::fs::read_to_string(path).map_err(|e| {
                SourceError::Config(format!(
                    "cannot read {}_file {}: {}",
                    self.name,
                    path.display(),
                    e.kind()
                ))
            })?,
        };
        let value = value.trim();
        if value.is_empty() {
            return Err(SourceError::Config(format!("{} is empty", self.describe())));
        }
        Ok(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_key_and_the_place_never_the_value() {
        let key = "capacity.sources.crm";
        assert_eq!(
            SecretFrom::from_settings(key, "token", Some("A".into()), Some("/f".into()))
                .unwrap_err(),
            "capacity.sources.crm: give token_env or token_file, not both"
        );
        assert_eq!(
            SecretFrom::from_settings(key, "token", Some(" ".into()), None).unwrap_err(),
            "capacity.sources.crm.token_env: name an environment variable"
        );
        assert!(SecretFrom::from_settings(key, "token", None, None)
            .unwrap()
            .is_none());
        let unset = SecretFrom::from_settings(
            key,
            "client_secret",
            Some("LEADORCH_TEST_SECRET_NEVER_SET".into()),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            unset.read().unwrap_err().to_string(),
            "misconfigured: the environment variable LEADORCH_TEST_SECRET_NEVER_SET (client_secret_env) is not set"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let from = SecretFrom::from_settings(key, "auth_value", None, Some(path.clone()))
            .unwrap()
            .unwrap();
        assert!(from
            .read()
            .unwrap_err()
            .to_string()
            .contains("cannot read auth_value_file"));
        std::fs::write(&path, "  \n").unwrap();
        assert_eq!(
            from.read().unwrap_err().to_string(),
            format!("misconfigured: auth_value_file {} is empty", path.display())
        );
        std::fs::write(&path, " s3cret\n").unwrap();
        assert_eq!(from.read().unwrap(), "s3cret");
    }
}
