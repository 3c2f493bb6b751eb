//! A file that appears only when complete: written at a temporary name
//! beside its path (`.NAME.<pid>.XXXXXX.partial`, private and locked while
//! written), then given its mode, synced, and renamed into place.
//!
//! Its mode is what any Unix tool gives: `0666 & ~umask` for a new file,
//! the old file's mode when it replaces one. A run killed with `kill -9`
//! cannot remove its temporary file, which holds personal data, so the next
//! run for the same path removes those whose process is gone
//! ([`remove_leftovers`]).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::folder_of;
use crate::exit::Error;
use crate::usage;

/// The end of a temporary file's name.
const PARTIAL: &str = ".partial";

/// A file being written at a temporary name, for `path`.
pub(crate) struct Staged {
    temp: tempfile::TempPath,
    path: PathBuf,
    /// What the file is, in messages: "the output".
    what: &'static str,
    /// The mode the file takes when it is renamed into place.
    mode: Option<u32>,
}

impl Staged {
    /// Creates the temporary file beside `path` (after removing the
    /// leftovers of dead runs for the same path). `what` names the file in
    /// messages ("the output").
    pub(crate) fn create(path: &Path, what: &'static str) -> Result<(Staged, File), Error> {
        if path.is_dir() {
            return Err(usage!(
                "{what} {} is a directory; give a file name",
                path.display()
            ));
        }
        let folder = folder_of(path);
        let name = path
            .file_name()
            .ok_or_else(|| usage!("{what} {} is not a file name", path.display()))?;
        let prefix = format!(".{}.", name.to_string_lossy());
        remove_leftovers(folder, &prefix);
        let own_prefix = format!("{prefix}{}.", std::process::id());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&own_prefix).suffix(PARTIAL);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Created as any tool creates a file, so that the mode it gets
            // tells the umask; made private below until it is complete.
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let temp = builder
            .tempfile_in(folder)
            .map_err(|err| usage!("cannot write {what} in {}: {err}", folder.display()))?;
        let (file, temp) = temp.into_parts();
        let mode = final_mode(path, &file)
            .map_err(|err| usage!("cannot write {what} in {}: {err}", folder.display()))?;
        // Held while the file is open: a run that finds the file locked
        // leaves it alone whatever its pid says (another pid namespace, a
        // reused pid).
        let _ = file.try_lock();
        let staged = Staged {
            temp,
            path: path.to_owned(),
            what,
            mode,
        };
        Ok((staged, file))
    }

    /// The temporary file's path.
    pub(crate) fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Gives `file` (this staged file, written) its mode, puts it on disk,
    /// and renames it into place: after a crash the path holds the old
    /// file or the whole new one, never a short one.
    pub(crate) fn commit(self, file: File) -> Result<(), Error> {
        let what = self.what;
        // The machine's failure (a full disk), not a bug: exit 5.
        let written = |err: io::Error| Error::Environment(format!("writing {what} failed: {err}"));
        #[cfg(unix)]
        if let Some(mode) = self.mode {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(written)?;
        }
        file.sync_all().map_err(written)?;
        drop(file);
        self.temp.persist(&self.path).map_err(|err| {
            Error::Environment(format!(
                "cannot move {what} into place at {}: {}",
                self.path.display(),
                err.error
            ))
        })?;
        Ok(())
    }
}

/// The mode `path` gets when the new file replaces it: the old file's, or
/// for a new file what `file` was created with (`0666 & ~umask`). Leaves
/// `file` private (0600) meanwhile.
#[cfg(unix)]
fn final_mode(path: &Path, file: &File) -> io::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let created = file.metadata()?.permissions().mode() & 0o777;
    let mode = match std::fs::metadata(path) {
        Ok(old) => old.permissions().mode() & 0o777,
        Err(_) => created,
    };
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(Some(mode))
}

#[cfg(not(unix))]
fn final_mode(_: &Path, _: &File) -> io::Result<Option<u32>> {
    Ok(None)
}

/// Removes the temporary files (`PREFIX<pid>.XXXXXX.partial`) that runs
/// which died left in `folder`. Best effort, and careful: a file whose
/// process is alive (or cannot be known to be dead), or that someone holds
/// a lock on, stays.
fn remove_leftovers(folder: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|name| leftover_pid(name, prefix)) else {
            continue;
        };
        if pid == std::process::id() || !is_dead(pid) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if file.try_lock().is_ok() && std::fs::remove_file(&path).is_ok() {
            eprintln!(
                "tenure: removed {}, the unfinished output of an earlier run that died \
                 (pid {pid})",
                path.display()
            );
        }
    }
}

/// The pid in the name of a temporary file, `PREFIX<pid>.XXXXXX.partial`.
fn leftover_pid(name: &str, prefix: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?.strip_suffix(PARTIAL)?;
    let (pid, random) = rest.split_once('.')?;
    let alphanumeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if !alphanumeric(random) || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` is known to be gone: on Linux, `/proc` tells;
/// elsewhere nothing is known, so nothing is removed.
fn is_dead(pid: u32) -> bool {
    let proc = Path::new("/proc");
    cfg!(target_os = "linux") && proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_temporary_files_of_this_name_are_leftovers() {
        let prefix = ".out.csv.";
        assert_eq!(
            leftover_pid(".out.csv.123.aB9xYz.partial", prefix),
            Some(123)
        );
        for other in [
            // Another output's, whose name only starts like this one's.
            ".out.csv.5.123.aB9xYz.partial",
            ".out.csv.bak.123.aB9xYz.partial",
            // The names of earlier versions, with no pid.
            ".out.csv.aB9xYz.partial",
            ".out.csv.123456.partial",
            ".out.csv.+12.aB9xYz.partial",
            ".out.csv.123..partial",
            "out.csv.123.aB9xYz.partial",
            ".out.csv.123.aB9xYz",
        ] {
            assert_eq!(leftover_pid(other, prefix), None, "{other}");
        }
    }

    #[test]
    fn this_process_is_alive_and_an_impossible_pid_is_dead() {
        assert!(!is_dead(std::process::id()));
        if cfg!(target_os = "linux") {
            // Above the kernel's largest pid_max (2^22).
            assert!(is_dead(4_000_000_000));
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_file_is_private_while_written_and_takes_its_mode_when_complete() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mode = |path: &Path| {
            std::fs::metadata(path)
                .expect("the file exists")
                .permissions()
                .mode()
                & 0o777
        };
        let old = dir.path().join("old.csv");
        std::fs::write(&old, "old").expect("writable");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o664)).expect("chmod");
        let (staged, file) = Staged::create(&old, "the output").expect("staged");
        assert_eq!(mode(staged.temp_path()), 0o600, "private while written");
        staged.commit(file).expect("renamed into place");
        assert_eq!(mode(&old), 0o664, "an existing file keeps its mode");
        assert_eq!(std::fs::read(&old).expect("readable"), b"");
    }
}
