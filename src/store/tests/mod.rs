//! Tests of the result store. One shared suite (`suite`) runs on both
//! backends: on SQLite files in temporary folders, and on PostgreSQL when
//! `TENURE_TEST_POSTGRES` names a server (each test in its own schema,
//! dropped after). Without it the PostgreSQL half says what it skipped and
//! passes; set but unreachable, it fails. `sqlite` and `postgres` hold what
//! only one backend has (files and modes; TLS).

mod postgres;
mod sqlite;
mod suite;

use super::*;
use crate::api::{Endpoint, Tenure};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub(super) const SANDBOX: &str = "sandbox";
pub(super) const JUHE: &str = "https://v.juhe.cn";
pub(super) const DAY: Duration = Duration::from_secs(86_400);

/// The environment variable that names the PostgreSQL server for tests.
pub(super) const PG_ENV: &str = "TENURE_TEST_POSTGRES";

pub(super) fn number(digits: &str) -> Number {
    crate::number::parse(digits).expect("test numbers are valid mainland mobiles")
}

pub(super) fn tenure_of(code: &str, isp: &str, city: &str) -> Tenure {
    Tenure {
        code: code.to_owned(),
        desc: crate::api::tenure_desc(code).unwrap_or("?").to_owned(),
        province: "广东".to_owned(),
        city: city.to_owned(),
        isp: isp.to_owned(),
    }
}

pub(super) fn tenure() -> Answer {
    Answer::Tenure(tenure_of("03", "移动", "深圳"))
}

pub(super) fn declined() -> Answer {
    Answer::Declined {
        code: 224801,
        reason: "查询无此记录".to_owned(),
    }
}

pub(super) fn refused() -> Answer {
    Answer::Declined {
        code: 224804,
        reason: "参数错误".to_owned(),
    }
}

/// The protocol's durations, short, for tests: a heartbeat every 50 ms.
pub(super) fn quick() -> Timing {
    Timing {
        heartbeat: Duration::from_millis(50),
        lease: Duration::from_millis(200),
        takeover: Duration::from_secs(30),
        hold: Duration::from_millis(100),
    }
}

pub(super) fn spec(group: Option<&str>) -> RunSpec {
    RunSpec {
        group: group.map(str::to_owned),
        qps: 10,
        endpoint: Endpoint::Plain,
        sandbox: false,
    }
}

/// A pace that records what the heartbeat told it.
#[derive(Default)]
pub(super) struct Recorder {
    pub shares: Mutex<Vec<u32>>,
    pub renewals: Mutex<Vec<Instant>>,
}

impl Pace for Recorder {
    fn set_share(&self, granted: u32) {
        lock(&self.shares).push(granted);
    }
    fn renewed(&self, valid_until: Instant) {
        lock(&self.renewals).push(valid_until);
    }
    fn demand(&self) -> f64 {
        f64::INFINITY
    }
}

pub(super) fn pace() -> Arc<Recorder> {
    Arc::new(Recorder::default())
}

/// Where a test's store lives, and a raw connection to it for setting up
/// and inspecting from outside the store.
pub(super) struct Fixture {
    pub location: Location,
    /// The SQLite file's folder.
    dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the server's URL and the test's schema.
    pg: Option<(String, String)>,
}

impl Fixture {
    pub fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().expect("the system temporary folder is writable");
        Fixture {
            location: Location::Sqlite(dir.path().join("cache.sqlite")),
            dir: Some(dir),
            pg: None,
        }
    }

    /// A fresh schema on the test server; `None` (having said so) when no
    /// server is configured. Panics when one is configured but unreachable.
    pub fn postgres(test: &str) -> Option<Fixture> {
        let Some(server) = std::env::var(PG_ENV).ok().filter(|url| !url.is_empty()) else {
            // Once per test binary, past the harness's capture, so that a
            // plain `cargo test` shows what it skipped.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped: the store's PostgreSQL tests ({test} and the others); set \
                     {PG_ENV}=postgresql://... to run them (e.g. \
                     postgresql://postgres@127.0.0.1:5432/test)"
                );
            });
            return None;
        };
        let schema = format!("tenure_test_{:016x}", fastrand::u64(..));
        let mut admin = ::postgres::Client::connect(&server, ::postgres::NoTls)
            .unwrap_or_else(|error| panic!("{PG_ENV} is set but unreachable: {error}"));
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("the test user can create a schema");
        Some(Fixture {
            location: Location::parse(std::ffi::OsStr::new(&with_schema(&server, &schema)))
                .expect("the test URL parses"),
            dir: None,
            pg: Some((server, schema)),
        })
    }

    pub fn open(&self, source: &str) -> Store {
        Store::open_with(&self.location, source, quick()).expect("the test store opens")
    }

    pub fn open_with(&self, source: &str, timing: Timing) -> Store {
        Store::open_with(&self.location, source, timing).expect("the test store opens")
    }

    /// The SQLite file's folder.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("an SQLite fixture").path()
    }

    /// Runs SQL on the store's database from outside the store.
    pub fn execute(&self, sql: &str) {
        match &self.pg {
            Some((server, schema)) => self
                .pg_client(server, schema)
                .batch_execute(sql)
                .expect("the test SQL runs"),
            None => rusqlite::Connection::open(self.location.path().expect("a file"))
                .and_then(|conn| conn.execute_batch(sql))
                .expect("the test SQL runs"),
        }
    }

    fn pg_client(&self, server: &str, schema: &str) -> ::postgres::Client {
        ::postgres::Client::connect(&with_schema(server, schema), ::postgres::NoTls)
            .expect("the test server is reachable")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some((server, schema)) = &self.pg
            && let Ok(mut admin) = ::postgres::Client::connect(server, ::postgres::NoTls)
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// The server URL with the connection's search path set to `schema`.
fn with_schema(server: &str, schema: &str) -> String {
    // `%20`, not the `+` of form encoding: libpq keeps a `+` as it is.
    let options = format!("options=-c%20search_path%3D{schema}");
    match server.contains('?') {
        true => format!("{server}&{options}"),
        false => format!("{server}?{options}"),
    }
}

/// Runs each named test of `suite` on both backends.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[test] fn $name() { super::suite::$name(&super::Fixture::sqlite()); })*
        }
        mod on_postgres {
            $(#[test] fn $name() {
                if let Some(fixture) = super::Fixture::postgres(stringify!($name)) {
                    super::suite::$name(&fixture);
                }
            })*
        }
    };
}

on_both!(
    both_kinds_of_answer_round_trip,
    a_large_batch_comes_back_whole_and_in_order,
    a_second_put_replaces_the_first,
    answers_older_than_max_age_are_not_returned,
    answers_from_another_source_are_not_returned,
    a_pending_answer_is_visible_before_its_commit,
    get_many_answers_in_order_from_pending_disk_and_nothing,
    a_refused_batch_is_never_reused_by_a_later_run,
    changes_are_computed_and_recorded_with_each_arrival,
    history_has_an_entry_per_distinct_answer,
    claims_give_one_run_each_number,
    a_claim_is_taken_over_when_the_lease_lapses,
    racing_claims_give_exactly_one_mine_per_number,
    finish_releases_claims_and_marks_the_run_ended,
    a_live_runs_claim_is_never_taken_over,
    the_heartbeat_renews_the_lease_and_tells_the_pace,
    a_failing_heartbeat_is_recorded_and_retried,
    the_budget_holds_across_runs_of_a_group,
    the_ledger_counts_usage_by_day_and_run,
    stats_export_purge_and_changes,
    export_csv_neutralises_formulas,
    import_merges_a_version_1_and_a_version_2_store,
    an_imported_earlier_answer_changes_what_later_ones_record,
    an_imported_answer_between_two_is_compared_with_its_neighbours,
    an_import_across_chunks_brings_the_whole_history,
    an_import_keeps_a_change_whose_earlier_success_was_purged,
    changes_lists_the_window_with_what_came_before,
    group_commit_heartbeat_and_claims_run_together,
    an_unknown_schema_version_is_refused,
    a_read_only_store_refuses_writes,
    a_writer_failure_reaches_put_flush_and_close,
);
