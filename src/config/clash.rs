//! Paths that must not be the same file: the input, the output, the
//! summary and the store. Writing one over another destroys it silently
//! (the input replaced by its own output, the store by a CSV), so such a
//! command line is refused before anything is written. Paths are compared
//! by what they resolve to (symbolic links, `..`, hard links), not by how
//! they are spelled.

use std::path::{Path, PathBuf};

/// One of the files a run reads or writes, with the flag that named it.
#[derive(Clone, Copy, Debug)]
pub struct Named<'a> {
    pub what: &'a str,
    pub path: &'a Path,
}

/// The first two of `files` that are the same file, if any.
pub fn first_clash<'a>(files: &[Named<'a>]) -> Option<(Named<'a>, Named<'a>)> {
    for (i, a) in files.iter().enumerate() {
        for b in &files[i + 1..] {
            if same_file(a.path, b.path) {
                return Some((*a, *b));
            }
        }
    }
    None
}

/// Whether two paths name one file, existing or to be created.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        use std::os::unix::fs::MetadataExt;
        return (ma.dev(), ma.ino()) == (mb.dev(), mb.ino());
    }
    match (resolved(a), resolved(b)) {
        (Some(ra), Some(rb)) => ra == rb,
        _ => false,
    }
}

/// Where a path leads: the file itself when it exists, else its folder
/// resolved and its name.
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(real) = std::fs::canonicalize(path) {
        return Some(real);
    }
    let name = path.file_name()?;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(folder).ok()?.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named<'a>(what: &'a str, path: &'a Path) -> Named<'a> {
        Named { what, path }
    }

    #[test]
    fn spellings_of_one_file_clash() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "mobile\n").expect("writable");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("a folder");
        let dotted = sub.join("..").join("in.csv");
        let (a, b) = first_clash(&[named("the input", &input), named("-o", &dotted)])
            .expect("the same file through ..");
        assert_eq!((a.what, b.what), ("the input", "-o"));
        #[cfg(unix)]
        {
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&input, &link).expect("a symlink");
            assert!(first_clash(&[named("a", &input), named("b", &link)]).is_some());
        }
        let new = dir.path().join("new.csv");
        let new_dotted = sub.join("..").join("new.csv");
        assert!(
            first_clash(&[named("-o", &new), named("--summary-json", &new_dotted)]).is_some(),
            "two spellings of a file not yet made"
        );
        let other = dir.path().join("other.csv");
        assert!(first_clash(&[named("a", &input), named("b", &other)]).is_none());
    }
}
