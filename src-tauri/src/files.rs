//! Files the window saves (`Backend.saveFile`): a data subject's export, which holds personal
//! data. The window names the file; where it goes is the user's choice in the system's save
//! dialog, or the folder in `LEADORCH_SAVE_DIR` when that is set (scripted use and the
//! end-to-end tests, which cannot drive a native dialog). The file is written readable by its
//! owner only, and nothing of it is logged.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::UiError;

/// The variable naming a folder to save into without asking.
pub const SAVE_DIR_VAR: &str = "LEADORCH_SAVE_DIR";

/// Most bytes of a file name.
const MAX_NAME: usize = 200;

/// `name` when it is a plain file name (no folder, not hidden, no control characters), else
/// an `input` error saying why.
pub fn checked_name(name: &str) -> Result<&str, UiError> {
    let bad = |why: &str| UiError::new("input", format!("cannot save as {name:?}: {why}"));
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(bad("a file name is 1 to 200 bytes"));
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(bad("give a file name, not a path"));
    }
    if name.starts_with('.') {
        return Err(bad("a file name may not start with a dot"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("a file name may not hold control characters"));
    }
    Ok(name)
}

/// Where to save `name` without asking: in [`SAVE_DIR_VAR`]'s folder, when it is set.
pub fn preset_target(save_dir: Option<&std::ffi::OsStr>, name: &str) -> Option<PathBuf> {
    save_dir
        .filter(|d| !d.is_empty())
        .map(|dir| Path::new(dir).join(name))
}

/// Writes `contents` to `path` (created or replaced), readable and writable by its owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), UiError> {
    let failed = |e: std::io::Error| {
        UiError::new("input", format!("could not save {}: {e}", path.display()))
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(failed)?;
    // An existing file keeps its mode on open: make it the owner's alone before writing.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(failed)?;
    file.write_all(contents).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_file_names() {
        assert_eq!(checked_name("subject-42.json").unwrap(), "subject-42.json");
        for bad in ["", "../x.json", "a/b.json", ".hidden", "x\n.json", ".."] {
            let e = checked_name(bad).unwrap_err();
            assert_eq!(e.code, "input", "{bad:?}");
        }
        assert!(checked_name(&"a".repeat(201)).is_err());
    }

    #[test]
    fn a_preset_folder_is_used_only_when_set() {
        assert_eq!(preset_target(None, "x.json"), None);
        assert_eq!(preset_target(Some("".as_ref()), "x.json"), None);
        assert_eq!(
            preset_target(Some("/tmp/out".as_ref()), "x.json"),
            Some(PathBuf::from("/tmp/out/x.json"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_its_owners_alone_even_when_it_existed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.json");
        std::fs::write(&path, "old, longer contents").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"{\"a\":1}").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let e = write_private(&dir.path().join("no/such/dir.json"), b"x").unwrap_err();
        assert!(e.message.contains("could not save"), "{}", e.message);
    }
}
