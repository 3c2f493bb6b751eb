//! A PostgreSQL store's libpq URL: the password and the TLS settings
//! taken out of it, and the URL shown without the password.

use super::super::StoreError;
use std::fmt;
use std::path::PathBuf;

/// A PostgreSQL URL, split into what `tokio-postgres` parses itself and
/// the TLS settings it does not know (`verify-full`, `sslrootcert`).
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// The URL without `sslmode`, `sslrootcert` and the password.
    pub(in crate::store) url: url::Url,
    /// From the URL, else from `PGPASSWORD` at parse time.
    pub(in crate::store) password: Option<String>,
    pub(in crate::store) ssl: SslMode,
    /// `sslrootcert=FILE`: the CA certificates to verify against.
    pub(in crate::store) root_cert: Option<PathBuf>,
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

impl PgUrl {
    pub(super) fn parse(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<PgUrl, StoreError> {
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
    pub(in crate::store) fn config(&self) -> Result<postgres::Config, StoreError> {
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

/// What a query's keys and values keep percent-encoded: everything but
/// RFC 3986's unreserved characters, so that `sslmode=verify-full` and
/// `connect_timeout` read as themselves in a message.
const ENCODED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Sets the query to `pairs`, percent-encoded as libpq and tokio-postgres
/// decode them: a space is `%20`, never `+` (which they keep as a plus).
fn set_query(url: &mut url::Url, pairs: &[(String, String)]) {
    let encode = |text: &str| percent_encoding::utf8_percent_encode(text, ENCODED).to_string();
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

impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut url = self.url.clone();
        if self.ssl != SslMode::Prefer {
            append_pair(&mut url, "sslmode", self.ssl.as_str());
        }
        f.write_str(url.as_str())
    }
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::super::Location;
    use super::*;
    use std::ffi::OsStr;
    use std::path::Path;

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
        // Shown as typed: unreserved characters stay, a space and `=` are
        // encoded so that the value decodes as it was.
        let shown = Location::Postgres(url).to_string();
        assert!(
            shown.ends_with("?options=-c%20search_path%3Dt1&sslmode=verify-full"),
            "{shown}"
        );
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
}
