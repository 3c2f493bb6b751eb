//! Where a store lives (DESIGN §4): an SQLite file, or a PostgreSQL database
//! named by a libpq URL; and the user's default store.
//!
//! Owns parsing and showing a location. Its `Display` never shows a
//! password: a location is named in errors, logs and the summary JSON. It
//! opens nothing (the backends do).

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

/// A PostgreSQL URL, split into what `tokio-postgres` parses itself and
/// the TLS settings it does not know (`verify-full`, `sslrootcert`).
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// The URL without `sslmode`, `sslrootcert` and the password.
    pub(super) url: url::Url,
    /// From the URL, else from `PGPASSWORD` at parse time.
    pub(super) password: Option<String>,
    pub(super) ssl: SslMode,
    /// `sslrootcert=FILE`: the CA certificates to verify against.
    pub(super) root_cert: Option<PathBuf>,
}

/// libpq's `sslmode`, as far as tenure supports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    /// TLS if the server offers it, unverified; libpq's default.
    Prefer,
    /// TLS, encrypted but not verified (as libpq does without a root
    /// certificate).
    Require,
    /// TLS, the certificate verified against the system's roots (or
    /// `sslrootcert`) and the host name checked.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Option<SslMode> {
        match text {
            "disable" => Some(SslMode::Disable),
            "prefer" => Some(SslMode::Prefer),
            "require" => Some(SslMode::Require),
            "verify-full" => Some(SslMode::VerifyFull),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyFull => "verify-full",
        }
    }
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

impl PgUrl {
    fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<PgUrl, StoreError> {
        let bad = |detail: String| StoreError::BadLocation {
            // The text may hold a password: name the scheme only.
            store: "the PostgreSQL URL".to_owned(),
            detail,
        };
        let mut url = url::Url::parse(text).map_err(|error| bad(error.to_string()))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("it names no host".to_owned()));
        }
        let mut password = url
            .password()
            .map(|p| percent_decode(p).map_err(bad))
            .transpose()?;
        let _ = url.set_password(None);
        let mut ssl = SslMode::Prefer;
        let mut root_cert = None;
        let mut kept = Vec::new();
        for (key, value) in query_pairs(&url).map_err(bad)? {
            match &*key {
                "sslmode" => {
                    ssl = SslMode::parse(&value).ok_or_else(|| {
                        bad(format!(
                            "sslmode={value} is not one of disable, prefer, require, verify-full"
                        ))
                    })?;
                }
                "sslrootcert" => root_cert = Some(PathBuf::from(&value)),
                "password" => password = Some(value),
                _ => kept.push((key, value)),
            }
        }
        set_query(&mut url, &kept);
        if password.is_none() {
            password = env("PGPASSWORD").filter(|p| !p.is_empty());
        }
        Ok(PgUrl {
            url,
            password,
            ssl,
            root_cert,
        })
    }

    /// The `tokio-postgres` configuration: everything but TLS.
    pub(super) fn config(&self) -> Result<postgres::Config, StoreError> {
        let mut url = self.url.clone();
        // tokio-postgres knows no `verify-full`: TLS is decided by the
        // connector, and the config only says whether to use it.
        let mode = match self.ssl {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require | SslMode::VerifyFull => "require",
        };
        append_pair(&mut url, "sslmode", mode);
        let mut config: postgres::Config =
            url.as_str()
                .parse()
                .map_err(|error: postgres::Error| StoreError::BadLocation {
                    store: self.to_string(),
                    detail: error.to_string(),
                })?;
        if let Some(password) = &self.password {
            config.password(password);
        }
        Ok(config)
    }
}

/// Sets the query to `pairs`, percent-encoded as libpq and tokio-postgres
/// decode them: a space is `%20`, never `+` (which they keep as a plus).
fn set_query(url: &mut url::Url, pairs: &[(String, String)]) {
    let encode = |text: &str| {
        percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let query: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect();
    url.set_query((!query.is_empty()).then(|| query.join("&")).as_deref());
}

/// Appends one pair to the query, encoded as [`set_query`] does.
fn append_pair(url: &mut url::Url, key: &str, value: &str) {
    // Invariant: every query this module builds decodes (set_query encodes).
    let mut pairs = query_pairs(url).expect("a query set_query made decodes");
    pairs.push((key.to_owned(), value.to_owned()));
    set_query(url, &pairs);
}

/// The query's pairs, percent-decoded as libpq does (a `+` stays a plus).
fn query_pairs(url: &url::Url) -> Result<Vec<(String, String)>, String> {
    url.query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(key)?, percent_decode(value)?))
        })
        .collect()
}

fn percent_decode(text: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| "a part of it is not UTF-8".to_owned())
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

impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut url = self.url.clone();
        if self.ssl != SslMode::Prefer {
            append_pair(&mut url, "sslmode", self.ssl.as_str());
        }
        f.write_str(url.as_str())
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn pg(text: &str, env: &dyn Fn(&str) -> Option<String>) -> PgUrl {
        match Location::parse_with(OsStr::new(text), env).unwrap() {
            Location::Postgres(url) => url,
            other => panic!("{other:?} is not PostgreSQL"),
        }
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
    fn the_password_is_never_shown() {
        let url = pg(
            "postgresql://tenure:s3cr%40t@db.example:5432/risk?sslmode=require&application_name=x",
            &no_env,
        );
        assert_eq!(url.password.as_deref(), Some("s3cr@t"));
        assert_eq!(url.ssl, SslMode::Require);
        let shown = Location::Postgres(url.clone()).to_string();
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(shown.contains("db.example"), "{shown}");
        assert!(shown.contains("sslmode=require"), "{shown}");
        assert!(!format!("{url:?}").contains("s3cr"));
        let config = url.config().unwrap();
        assert_eq!(config.get_password(), Some(&b"s3cr@t"[..]));
        assert_eq!(config.get_ssl_mode(), postgres::config::SslMode::Require);

        let url = pg("postgres://u@h/db?password=hunter2", &no_env);
        assert_eq!(url.password.as_deref(), Some("hunter2"));
        assert!(!url.to_string().contains("hunter2"));
    }

    #[test]
    fn pgpassword_fills_a_missing_password_only() {
        let env = |name: &str| (name == "PGPASSWORD").then(|| "fromenv".to_owned());
        assert_eq!(
            pg("postgres://u@h/db", &env).password.as_deref(),
            Some("fromenv")
        );
        assert_eq!(
            pg("postgres://u:mine@h/db", &env).password.as_deref(),
            Some("mine")
        );
    }

    #[test]
    fn ssl_modes_and_options() {
        let url = pg(
            "postgresql://u@h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem&options=-c%20search_path%3Dt1",
            &no_env,
        );
        assert_eq!(url.ssl, SslMode::VerifyFull);
        assert_eq!(url.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        let config = url.config().unwrap();
        assert_eq!(config.get_options(), Some("-c search_path=t1"));
        assert_eq!(pg("postgres://u@h/db", &no_env).ssl, SslMode::Prefer);
        assert_eq!(
            pg("postgres://u@h/db?sslmode=disable", &no_env).ssl,
            SslMode::Disable
        );
        let error = Location::parse_with(OsStr::new("postgres://u:pw@h/db?sslmode=allow"), &no_env)
            .unwrap_err();
        assert!(error.to_string().contains("sslmode=allow"), "{error}");
        assert!(!error.to_string().contains("pw@"), "{error}");
        assert!(Location::parse_with(OsStr::new("postgres:///db"), &no_env).is_err());
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
