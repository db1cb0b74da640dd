//! The intake's settings, resolved from the configuration file's `[intake]` section.

use std::path::PathBuf;

use leadorch_config::{parse_duration, IntakeSettings};

use crate::disposable::DisposableDomains;
use crate::phone::Region;

/// The default dedup window: 90 days.
pub const DEFAULT_DEDUP_WINDOW: chrono::Duration = chrono::Duration::days(90);

/// Why `[intake]` cannot be used; each names the setting.
#[derive(Debug, thiserror::Error)]
pub enum IntakeConfigError {
    /// A value is wrong.
    #[error("intake.{key}: {message}")]
    Invalid {
        /// The setting.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The disposable domains file cannot be read.
    #[error("intake.disposable_domains_file: cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// What validating a lead needs to know.
#[derive(Clone, Debug, PartialEq)]
pub struct IntakeConfig {
    /// Region of phone numbers written without `+` and a country code; with none, such
    /// numbers are refused.
    pub default_region: Option<Region>,
    /// How long a lead's fingerprints make a later lead with the same email or phone a
    /// duplicate of it.
    pub dedup_window: chrono::Duration,
    /// Email domains whose leads are blocked.
    pub disposable: DisposableDomains,
    /// Whether a lead without consent evidence is blocked (`consent_missing`).
    pub require_consent: bool,
    /// Form id → team, for leads that name no team.
    pub form_teams: std::collections::BTreeMap<String, String>,
}

impl Default for IntakeConfig {
    /// No default region, 90 days, the built-in disposable list.
    fn default() -> Self {
        IntakeConfig {
            default_region: None,
            dedup_window: DEFAULT_DEDUP_WINDOW,
            disposable: DisposableDomains::builtin(),
            require_consent: true,
            form_teams: std::collections::BTreeMap::new(),
        }
    }
}

impl IntakeConfig {
    /// Resolves `[intake]`: checks the region, parses the window, and reads the disposable
    /// domains file (a relative path is read from the working directory) on top of the
    /// built-in list and the extra domains.
    pub fn from_settings(s: &IntakeSettings) -> Result<IntakeConfig, IntakeConfigError> {
        let default_region = s
            .default_region
            .as_deref()
            .map(Region::parse)
            .transpose()
            .map_err(|message| IntakeConfigError::Invalid {
                key: "default_region",
                message,
            })?;
        let dedup_window =
            parse_duration(&s.dedup_window).map_err(|message| IntakeConfigError::Invalid {
                key: "dedup_window",
                message,
            })?;
        if dedup_window <= chrono::Duration::zero() {
            return Err(IntakeConfigError::Invalid {
                key: "dedup_window",
                message: "must be longer than 0".into(),
            });
        }
        let mut disposable = DisposableDomains::builtin();
        if let Some(path) = &s.disposable_domains_file {
            let text = std::fs::read_to_string(path).map_err(|source| IntakeConfigError::Read {
                path: path.clone(),
                source,
            })?;
            disposable
                .add_list(&text, &path.display().to_string())
                .map_err(|message| IntakeConfigError::Invalid {
                    key: "disposable_domains_file",
                    message,
                })?;
        }
        for d in &s.extra_disposable_domains {
            disposable
                .add(d)
                .map_err(|message| IntakeConfigError::Invalid {
                    key: "extra_disposable_domains",
                    message,
                })?;
        }
        for (form, team) in &s.form_teams {
            for (what, v) in [("form id", form), ("team", team)] {
                crate::request::client_id(v).map_err(|message| IntakeConfigError::Invalid {
                    key: "form_teams",
                    message: format!("{what} {v:?} {message}"),
                })?;
            }
        }
        Ok(IntakeConfig {
            default_region,
            dedup_window,
            disposable,
            require_consent: s.require_consent,
            form_teams: s.form_teams.clone(),
        })
    }

    /// When fingerprints of a lead received at `at` stop making duplicates.
    pub fn dedup_until(&self, at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        at.checked_add_signed(self.dedup_window)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_ninety_days_the_builtin_list_and_no_region() {
        let c = IntakeConfig::from_settings(&IntakeSettings::default()).unwrap();
        assert_eq!(c, IntakeConfig::default());
        assert_eq!(c.dedup_window, chrono::Duration::days(90));
        assert!(c.default_region.is_none());
        assert!(c.disposable.is_disposable("mailinator.com"));
    }

    #[test]
    fn settings_are_read_and_bad_ones_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("more.txt");
        std::fs::write(&file, "# ours\nthrowaway.example\n").unwrap();
        let s = IntakeSettings {
            default_region: Some("nl".into()),
            dedup_window: "30d".into(),
            disposable_domains_file: Some(file.clone()),
            extra_disposable_domains: vec!["Burner.Example".into()],
            require_consent: false,
            form_teams: [("contact".to_string(), "sales-nl".to_string())].into(),
        };
        let c = IntakeConfig::from_settings(&s).unwrap();
        assert_eq!(
            c.default_region.map(|r| r.code().to_string()).as_deref(),
            Some("NL")
        );
        assert_eq!(c.dedup_window, chrono::Duration::days(30));
        assert!(!c.require_consent);
        assert_eq!(c.form_teams["contact"], "sales-nl");
        assert!(c.disposable.is_disposable("throwaway.example"));
        assert!(c.disposable.is_disposable("x.burner.example"));
        assert!(
            c.disposable.is_disposable("yopmail.com"),
            "the built-in list stays"
        );

        let bad = |s: IntakeSettings| IntakeConfig::from_settings(&s).unwrap_err().to_string();
        let e = bad(IntakeSettings {
            default_region: Some("XX".into()),
            ..IntakeSettings::default()
        });
        assert!(e.starts_with("intake.default_region: "), "{e}");
        let e = bad(IntakeSettings {
            form_teams: [("contact".to_string(), "sales nl".to_string())].into(),
            ..IntakeSettings::default()
        });
        assert!(e.starts_with("intake.form_teams: team \"sales nl\""), "{e}");
        let e = bad(IntakeSettings {
            dedup_window: "0d".into(),
            ..IntakeSettings::default()
        });
        assert_eq!(e, "intake.dedup_window: must be longer than 0");
        let e = bad(IntakeSettings {
            extra_disposable_domains: vec!["no dots".into()],
            ..IntakeSettings::default()
        });
        assert!(
            e.starts_with("intake.extra_disposable_domains: \"no dots\""),
            "{e}"
        );
        let e = bad(IntakeSettings {
            disposable_domains_file: Some(dir.path().join("missing.txt")),
            ..IntakeSettings::default()
        });
        assert!(
            e.starts_with("intake.disposable_domains_file: cannot read "),
            "{e}"
        );
        std::fs::write(&file, "ok.example\nbad domain\n").unwrap();
        let e = bad(IntakeSettings {
            disposable_domains_file: Some(file.clone()),
            ..IntakeSettings::default()
        });
        assert!(e.contains("more.txt line 2: "), "{e}");
    }

    #[test]
    fn the_dedup_deadline_is_the_window_after_the_lead() {
        let c = IntakeConfig::default();
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(c.dedup_until(at).to_rfc3339(), "2027-03-01T10:00:00+00:00");
    }
}
