//! The private folders of temporary stores (`--no-cache`), and the removal
//! of those that dead processes left behind.
//!
//! A folder is named `tenure-store-<pid>-XXXXXX` (made by `tempfile`, mode
//! 0700) under the system's temporary folder and removed when its store is
//! dropped. A `kill -9` leaves it; [`clean_leftovers`] removes the folders
//! whose process is gone.

use super::StoreError;
use std::path::Path;

const PREFIX: &str = "tenure-store-";

/// A new private folder for a temporary store of this process.
pub(super) fn folder() -> Result<tempfile::TempDir, StoreError> {
    let prefix = format!("{PREFIX}{}-", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    builder
        .tempdir()
        .map_err(|error| StoreError::io(&std::env::temp_dir(), &error, true))
}

/// Removes the temporary store folders left by processes that are no longer
/// alive (best effort: what cannot be read or removed is left). Returns how
/// many it removed. Only where a process can be looked up (`/proc`);
/// elsewhere it removes nothing.
pub fn clean_leftovers() -> usize {
    clean_in(&std::env::temp_dir(), &|pid| {
        Path::new("/proc").join(pid.to_string()).exists()
    })
}

/// [`clean_leftovers`] in `base`, with `alive` telling live processes.
pub(super) fn clean_in(base: &Path, alive: &dyn Fn(u32) -> bool) -> usize {
    if !Path::new("/proc/self").exists() {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(base) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = entry
            .file_type()
            .is_ok_and(|kind| kind.is_dir() && !kind.is_symlink());
        if is_dir && !alive(pid) && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}
