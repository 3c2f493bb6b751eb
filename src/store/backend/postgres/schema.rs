//! The PostgreSQL tables of schema version 2, created on first use in the
//! connection's schema, and the version check.

use super::super::SCHEMA_VERSION;
use super::db;
use crate::store::error::DbError;
use postgres::Client;

/// Numbers and sources compare as bytes (`COLLATE "C"`), as in SQLite: the
/// keys sort the same on both backends, and a look-up compares with
/// `memcmp`, not the database's locale (a tenth faster on a million
/// numbers).
const CREATE: &str = "
    CREATE TABLE tenure_meta (
        key TEXT PRIMARY KEY,
        value BIGINT NOT NULL
    );
    INSERT INTO tenure_meta (key, value) VALUES ('schema_version', 2);
    CREATE TABLE tenure_answers (
        number TEXT COLLATE \"C\" NOT NULL,
        source TEXT COLLATE \"C\" NOT NULL,
        kind BIGINT NOT NULL,
        code TEXT NOT NULL,
        description TEXT NOT NULL,
        province TEXT NOT NULL,
        city TEXT NOT NULL,
        isp TEXT NOT NULL,
        reason TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        answered_at BIGINT NOT NULL,
        change TEXT,
        orderid TEXT,
        PRIMARY KEY (number, source)
    );
    CREATE TABLE tenure_history (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        number TEXT COLLATE \"C\" NOT NULL,
        source TEXT COLLATE \"C\" NOT NULL,
        kind BIGINT NOT NULL,
        code TEXT NOT NULL,
        description TEXT NOT NULL,
        province TEXT NOT NULL,
        city TEXT NOT NULL,
        isp TEXT NOT NULL,
        reason TEXT NOT NULL,
        first_seen BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        change TEXT
    );
    CREATE INDEX tenure_history_number ON tenure_history (number, source, first_seen);
    CREATE INDEX tenure_history_first_seen ON tenure_history (first_seen);
    CREATE TABLE tenure_ledger (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at BIGINT NOT NULL,
        run TEXT NOT NULL,
        grp TEXT,
        source TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        outcome TEXT NOT NULL,
        code TEXT,
        orderid TEXT
    );
    CREATE INDEX tenure_ledger_at ON tenure_ledger (at);
    CREATE INDEX tenure_ledger_grp ON tenure_ledger (grp, at);
    CREATE TABLE tenure_runs (
        id TEXT PRIMARY KEY,
        grp TEXT,
        qps BIGINT NOT NULL,
        demand DOUBLE PRECISION NOT NULL,
        granted BIGINT NOT NULL,
        held BIGINT NOT NULL,
        held_until BIGINT NOT NULL,
        heartbeat BIGINT NOT NULL,
        reserved BIGINT NOT NULL,
        ended BOOLEAN NOT NULL,
        sandbox BOOLEAN NOT NULL,
        started_at BIGINT NOT NULL
    );
    CREATE INDEX tenure_runs_grp ON tenure_runs (grp, heartbeat);
    CREATE TABLE tenure_claims (
        number TEXT COLLATE \"C\" NOT NULL,
        source TEXT COLLATE \"C\" NOT NULL,
        run TEXT NOT NULL,
        claimed_at BIGINT NOT NULL,
        PRIMARY KEY (number, source)
    );
    CREATE INDEX tenure_claims_run ON tenure_claims (run);
";

/// Creates the tables on first use and checks the version of existing
/// ones. Two runs preparing one database at once take turns on an advisory
/// lock.
pub(crate) fn prepare(client: &mut Client) -> Result<(), DbError> {
    let mut tx = client.transaction().map_err(db)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('tenure-schema', 0))",
        &[],
    )
    .map_err(db)?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('tenure_meta') IS NOT NULL", &[])
        .and_then(|row| row.try_get(0))
        .map_err(db)?;
    if exists {
        check(&mut tx)?;
    } else {
        tx.batch_execute(CREATE).map_err(db)?;
    }
    tx.commit().map_err(db)
}

/// Checks the schema version of existing tables.
pub(crate) fn check(client: &mut impl postgres::GenericClient) -> Result<(), DbError> {
    let found: Option<i64> = client
        .query_opt(
            "SELECT value FROM tenure_meta WHERE key = 'schema_version'",
            &[],
        )
        .map_err(db)?
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(db)?;
    match found {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(found) => Err(DbError::UnknownSchema(found)),
        None => Err(DbError::Corrupt(
            "tenure_meta holds no schema version".to_owned(),
        )),
    }
}

/// Whether the store's tables exist, their version checked if so.
pub(crate) fn exists(client: &mut Client) -> Result<bool, DbError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('tenure_meta') IS NOT NULL", &[])
        .and_then(|row| row.try_get(0))
        .map_err(db)?;
    if exists {
        check(client)?;
    }
    Ok(exists)
}
