//! Where a store lives (DESIGN §4): an SQLite file, or a PostgreSQL database
//! named by a libpq URL (`pg_url`); and the user's default store.
//!
//! Owns parsing and showing a location. Its `Display` never shows a
//! password: a location is named in errors, logs and the summary JSON. It
//! opens nothing (the backends do).

mod pg_url;

pub use pg_url::{PgUrl, SslMode};

use super::StoreError;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PgUrl),
}

impl Location {
    /// A `postgres://` or `postgresql://` URL, or else an SQLite file path.
    /// A password comes from the URL, else from `PGPASSWORD`.
    pub fn parse(text: &OsStr) -> Result<Location, StoreError> {
        Location::parse_with(text, &|name| std::env::var(name).ok())
    }

    /// [`Location::parse`] with the environment given (for tests).
    pub fn parse_with(
        text: &OsStr,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Location, StoreError> {
        let Some(utf8) = text.to_str() else {
            return Ok(Location::Sqlite(PathBuf::from(text)));
        };
        let lower = utf8.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            PgUrl::parse(utf8, env).map(Location::Postgres)
        } else {
            Ok(Location::Sqlite(PathBuf::from(text)))
        }
    }

    /// The user's default store: `TENURE_CACHE` if set (a path or a URL),
    /// else `$XDG_DATA_HOME/tenure/answers.sqlite`, else
    /// `$HOME/.local/share/tenure/answers.sqlite`. Creates the folder (mode
    /// 0700) of a default file; a folder that cannot be made is
    /// [`StoreError::NotWritable`] naming it.
    pub fn user_default(env: &dyn Fn(&str) -> Option<String>) -> Result<Location, StoreError> {
        let set = |name: &str| env(name).filter(|value| !value.is_empty());
        if let Some(cache) = set("TENURE_CACHE") {
            return Location::parse_with(OsStr::new(&cache), env);
        }
        let data = match (set("XDG_DATA_HOME"), set("HOME")) {
            (Some(data), _) => PathBuf::from(data),
            (None, Some(home)) => Path::new(&home).join(".local").join("share"),
            (None, None) => {
                return Err(StoreError::NotWritable {
                    store: "the default store".to_owned(),
                    detail: "neither XDG_DATA_HOME nor HOME is set".to_owned(),
                });
            }
        };
        let folder = data.join("tenure");
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&folder)
            .map_err(|error| StoreError::io(&folder, &error, true))?;
        Ok(Location::Sqlite(folder.join("answers.sqlite")))
    }

    /// The SQLite file, if this is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }
}

/// The path, or the URL without its password (`sslmode` shown when set).
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => url.fmt(f),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn paths_and_urls_are_told_apart() {
        for path in [
            "answers.sqlite",
            "/tmp/x.sqlite",
            "postgres",
            "./postgres:/x",
        ] {
            assert_eq!(
                Location::parse_with(OsStr::new(path), &no_env).unwrap(),
                Location::Sqlite(PathBuf::from(path))
            );
        }
        for url in [
            "postgres://u@h/db",
            "postgresql://u@h:5433/db",
            "POSTGRESQL://u@h/db",
        ] {
            assert!(matches!(
                Location::parse_with(OsStr::new(url), &no_env).unwrap(),
                Location::Postgres(_)
            ));
        }
    }

    #[test]
    fn the_user_default() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap().to_owned();
        let cache = |value: &'static str| {
            move |name: &str| (name == "TENURE_CACHE").then(|| value.to_owned())
        };
        assert_eq!(
            Location::user_default(&cache("/x/a.sqlite")).unwrap(),
            Location::Sqlite(PathBuf::from("/x/a.sqlite"))
        );
        assert!(matches!(
            Location::user_default(&cache("postgres://u@h/db")).unwrap(),
            Location::Postgres(_)
        ));

        let xdg = format!("{root}/xdg");
        let env = |name: &str| match name {
            "XDG_DATA_HOME" => Some(xdg.clone()),
            "HOME" => Some(format!("{root}/home")),
            _ => None,
        };
        let location = Location::user_default(&env).unwrap();
        assert_eq!(
            location.path(),
            Some(Path::new(&format!("{xdg}/tenure/answers.sqlite")))
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(format!("{xdg}/tenure"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);

        let env = |name: &str| (name == "HOME").then(|| format!("{root}/home"));
        assert_eq!(
            Location::user_default(&env).unwrap().path(),
            Some(Path::new(&format!(
                "{root}/home/.local/share/tenure/answers.sqlite"
            )))
        );

        // A file where the folder should be: unwritable, named.
        std::fs::write(format!("{root}/blocked"), b"").unwrap();
        let env = |name: &str| (name == "XDG_DATA_HOME").then(|| format!("{root}/blocked"));
        let error = Location::user_default(&env).unwrap_err();
        assert!(matches!(error, StoreError::NotWritable { .. }), "{error:?}");
        assert!(error.to_string().contains("blocked/tenure"), "{error}");
        assert!(Location::user_default(&no_env).is_err());
    }
}
