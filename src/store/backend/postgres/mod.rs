//! The PostgreSQL variant: a server, so that runs on different hosts and in
//! short-lived containers share one store.
//!
//! Through the synchronous `postgres` client, TLS over rustls (`tls`). The
//! tables live in the connection's schema (the URL's `options=-c
//! search_path=…` chooses another). The store's clock is the server's
//! `clock_timestamp()`. Heartbeats and reservations of a rate group are
//! serialised by a transaction-scoped advisory lock on the group; a claim by
//! one on the number. Statements are prepared once per connection, and a
//! batch look-up is one round trip (`number = ANY($2)`).

mod answers;
mod import;
mod runs;
mod schema;
mod tend;
mod tls;

pub(crate) use schema::{exists, prepare};

use super::{Backend, Connection, Purpose};
use crate::store::error::DbError;
use crate::store::location::PgUrl;
use postgres::{Client, GenericClient, Row, Statement};
use std::collections::HashMap;
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The store's clock, in unix ms.
pub(super) const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens connections to one PostgreSQL database.
pub(crate) struct Postgres {
    config: postgres::Config,
    tls: MakeRustlsConnect,
}

impl Postgres {
    pub(crate) fn new(url: &PgUrl) -> Result<Postgres, crate::store::StoreError> {
        let mut config = url.config()?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let tls = tls::connector(url.ssl, url.root_cert.as_deref())
            .map_err(|error| error.named(&url.to_string()))?;
        Ok(Postgres { config, tls })
    }

    pub(crate) fn client(&self) -> Result<Client, DbError> {
        self.config
            .connect(self.tls.clone())
            .map_err(|error| DbError::Unreachable(describe(&error)))
    }
}

impl Backend for Postgres {
    fn connect(&self, purpose: Purpose) -> Result<Box<dyn Connection>, DbError> {
        let mut client = self.client()?;
        if purpose == Purpose::Lease {
            client
                .batch_execute("SET synchronous_commit TO off")
                .map_err(db)?;
        }
        Ok(Box::new(PgConnection {
            client,
            statements: HashMap::new(),
        }))
    }
}

/// The error's message with its cause: `postgres::Error`'s `Display` alone
/// often says only "db error". Never holds the password (the client does
/// not quote its config) nor a bound value.
fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

pub(crate) fn db(error: postgres::Error) -> DbError {
    if error.is_closed() || error.as_db_error().is_none() {
        DbError::Unreachable(describe(&error))
    } else {
        DbError::Other(describe(&error))
    }
}

pub(super) struct PgConnection {
    client: Client,
    /// Statements prepared on this connection, by their SQL.
    statements: HashMap<&'static str, Statement>,
}

/// Prepares `sql` once per connection.
pub(super) fn prepared(
    statements: &mut HashMap<&'static str, Statement>,
    client: &mut impl GenericClient,
    sql: &'static str,
) -> Result<Statement, DbError> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql).map_err(db)?;
    statements.insert(sql, statement.clone());
    Ok(statement)
}

pub(super) fn count(row: &Row, i: usize) -> Result<u64, DbError> {
    row.try_get::<_, i64>(i)
        .map_err(db)
        .map(|n| u64::try_from(n).unwrap_or(0))
}
