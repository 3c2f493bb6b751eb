//! A PostgreSQL schema of its own for a test, on the server named by
//! `TENURE_TEST_POSTGRES`; a test without it says it skipped.

use std::io::Write as _;

/// The PostgreSQL server of the tests (`TENURE_TEST_POSTGRES`), if set.
pub const PG_ENV: &str = "TENURE_TEST_POSTGRES";

/// A schema of its own on the test server, dropped when this is dropped.
pub struct PgSchema {
    server: String,
    schema: String,
    /// The store URL for `--cache` or `TENURE_CACHE`: the server, with the
    /// schema as its search path.
    pub url: String,
}

impl std::ops::Deref for PgSchema {
    type Target = String;
    fn deref(&self) -> &String {
        &self.url
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema));
        }
    }
}

/// A fresh schema for `test` on the test server; `None`, having said so on
/// stderr past the harness's capture, when `TENURE_TEST_POSTGRES` is unset.
/// Panics when it is set but the server cannot be reached.
pub fn postgres_schema(test: &str) -> Option<PgSchema> {
    let Some(server) = std::env::var(PG_ENV).ok().filter(|url| !url.is_empty()) else {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {test}, a PostgreSQL test; set {PG_ENV}=postgresql://postgres@127.0.0.1:5432/test to run it"
        );
        return None;
    };
    let schema = format!("tenure_it_{:016x}", fastrand::u64(..));
    let mut admin = postgres::Client::connect(&server, postgres::NoTls)
        .unwrap_or_else(|err| panic!("{PG_ENV} is set but unreachable: {err}"));
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("the test user can create a schema");
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{separator}options=-csearch_path%3D{schema}");
    Some(PgSchema {
        server,
        schema,
        url,
    })
}
