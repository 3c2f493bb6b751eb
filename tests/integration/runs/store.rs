//! The store the runs of one test share, on either backend, and what a test
//! reads back from it from outside (claims, heartbeats, answer times, the
//! ledger, every value of every table).
//!
//! PostgreSQL: the server named by `TENURE_TEST_POSTGRES`, a schema of the
//! test's own (dropped after), reached by the runs through libpq's
//! `options=-csearch_path=…`. Unset, the test says once that it skipped
//! (past the harness's capture, so that a plain `cargo test` shows it, and
//! `.ci/run`, which sets it, fails on it); set but unreachable, it fails.

use std::collections::BTreeMap;
use std::path::PathBuf;

const PG_ENV: &str = "TENURE_TEST_POSTGRES";

/// One store for every run of a test.
pub struct TeamStore {
    /// What the runs get as `--cache`.
    cache: String,
    backend: Backend,
}

enum Backend {
    Sqlite {
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
    Postgres {
        server: String,
        schema: String,
    },
}

/// A row read from outside, every column cast to text.
type TextRow = Vec<Option<String>>;

impl TeamStore {
    /// An SQLite file in a temporary folder of its own (not there yet: the
    /// first run creates it).
    pub fn sqlite() -> TeamStore {
        let dir = tempfile::tempdir().expect("the system temporary folder is writable");
        let path = dir.path().join("team.sqlite");
        TeamStore {
            cache: path.to_str().expect("temporary paths are UTF-8").to_owned(),
            backend: Backend::Sqlite { path, _dir: dir },
        }
    }

    /// A fresh schema on the test server for the test named `test`;
    /// `None`, having said so, when `TENURE_TEST_POSTGRES` is unset. Panics
    /// when set but unreachable.
    pub fn postgres(test: &str) -> Option<TeamStore> {
        let Some(server) = std::env::var(PG_ENV).ok().filter(|url| !url.is_empty()) else {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped: the concurrent runs' PostgreSQL tests ({} and the \
                     others); set {PG_ENV}=postgresql://... to run them (e.g. \
                     postgresql://postgres@127.0.0.1:5432/test)",
                    test.trim_start_matches("integration::")
                );
            });
            return None;
        };
        let schema = format!("tenure_runs_{:016x}", fastrand::u64(..));
        connect(&server)
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("the test server lets us create a schema");
        let separator = if server.contains('?') { '&' } else { '?' };
        Some(TeamStore {
            cache: format!("{server}{separator}options=-csearch_path%3D{schema}"),
            backend: Backend::Postgres { server, schema },
        })
    }

    /// `sqlite` or `postgres`, for messages.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// The `--cache` value of the runs.
    pub fn arg(&self) -> &str {
        &self.cache
    }

    /// The `--cache` value of a run that a test will kill: on PostgreSQL its
    /// connections carry `name` (libpq's `application_name`), so that
    /// [`TeamStore::wait_until_gone`] can tell when they are closed.
    pub fn arg_named(&self, name: &str) -> String {
        match self.backend {
            Backend::Sqlite { .. } => self.cache.clone(),
            Backend::Postgres { .. } => format!("{}&application_name={name}", self.cache),
        }
    }

    /// Waits until the server has closed every connection named `name`
    /// (see [`TeamStore::arg_named`]). A killed client's statements may
    /// still be running, and commit, until its backends see the closed
    /// socket; only then is what it left in the store final. On SQLite a
    /// reaped process has left it final already.
    pub fn wait_until_gone(&self, name: &str) {
        if let Backend::Postgres { .. } = self.backend {
            let sql = format!(
                "SELECT CAST(count(*) AS TEXT) FROM pg_stat_activity WHERE application_name = '{name}'"
            );
            let started = std::time::Instant::now();
            while self.rows(&sql)[0][0].as_deref() != Some("0") {
                assert!(
                    started.elapsed() < super::HANG,
                    "the server kept the connections of a killed run for {:?}",
                    super::HANG
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }

    /// Whether a run has created the store's tables yet.
    pub fn ready(&self) -> bool {
        let sql = match &self.backend {
            Backend::Sqlite { path, .. } if !path.exists() => return false,
            Backend::Sqlite { .. } => {
                "SELECT CAST(count(*) AS TEXT) FROM sqlite_master WHERE name = 'tenure_runs'"
            }
            Backend::Postgres { .. } => {
                "SELECT CAST(count(*) AS TEXT) FROM pg_tables
                 WHERE schemaname = current_schema() AND tablename = 'tenure_runs'"
            }
        };
        self.rows(sql)[0][0].as_deref() == Some("1")
    }

    /// The claims of numbers with no answer in the store: (number, run).
    /// One statement, so one snapshot of both tables: a claim taken a
    /// moment before its number's answer was found is not counted.
    pub fn open_claims(&self) -> Vec<(String, String)> {
        self.rows(
            "SELECT c.number, c.run FROM tenure_claims c WHERE NOT EXISTS (
                 SELECT 1 FROM tenure_answers a WHERE a.number = c.number AND a.source = c.source)",
        )
        .into_iter()
        .map(|row| (text(&row[0]), text(&row[1])))
        .collect()
    }

    /// Every run's id and last heartbeat (the store's clock, unix ms).
    pub fn heartbeats(&self) -> BTreeMap<String, i64> {
        self.rows("SELECT id, CAST(heartbeat AS TEXT) FROM tenure_runs")
            .into_iter()
            .map(|row| (text(&row[0]), millis(&row[1])))
            .collect()
    }

    /// When each number's stored answer arrived (unix ms).
    pub fn answered_at(&self) -> BTreeMap<String, i64> {
        self.rows("SELECT number, CAST(answered_at AS TEXT) FROM tenure_answers")
            .into_iter()
            .map(|row| (text(&row[0]), millis(&row[1])))
            .collect()
    }

    /// Every request in the ledger: (run, at in unix ms, outcome).
    pub fn ledger(&self) -> Vec<(String, i64, String)> {
        self.rows("SELECT run, CAST(at AS TEXT), outcome FROM tenure_ledger")
            .into_iter()
            .map(|row| (text(&row[0]), millis(&row[1]), text(&row[2])))
            .collect()
    }

    /// Every value of every column of every `tenure_` table, as text, each
    /// with where it was (`table.column`). The tables are found in the
    /// database's own catalogue, so a table or column added later is
    /// dumped too.
    pub fn dump(&self) -> Vec<(String, String)> {
        let catalogue = match &self.backend {
            Backend::Sqlite { .. } => {
                "SELECT t.name, c.name FROM sqlite_master t, pragma_table_info(t.name) c
                 WHERE t.type = 'table' AND t.name LIKE 'tenure\\_%' ESCAPE '\\'"
                    .to_owned()
            }
            Backend::Postgres { schema, .. } => format!(
                "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT)
                 FROM information_schema.columns
                 WHERE table_schema = '{schema}' AND table_name LIKE 'tenure\\_%'"
            ),
        };
        let columns: Vec<(String, String)> = self
            .rows(&catalogue)
            .into_iter()
            .map(|row| (text(&row[0]), text(&row[1])))
            .collect();
        assert!(
            columns.iter().any(|(table, _)| table == "tenure_answers"),
            "the catalogue lists the store's tables: {columns:?}"
        );
        let mut values = Vec::new();
        for (table, column) in columns {
            let sql = format!("SELECT CAST(\"{column}\" AS TEXT) FROM \"{table}\"");
            for row in self.rows(&sql) {
                if let Some(value) = &row[0] {
                    values.push((format!("{table}.{column}"), value.clone()));
                }
            }
        }
        values
    }

    /// Runs a query whose columns are all text (or NULL).
    fn rows(&self, sql: &str) -> Vec<TextRow> {
        match &self.backend {
            Backend::Sqlite { path, .. } => {
                // Never created here: the runs create it, private.
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = rusqlite::Connection::open_with_flags(path, flags)
                    .unwrap_or_else(|err| panic!("{} opens: {err}", path.display()));
                conn.busy_timeout(std::time::Duration::from_secs(30))
                    .expect("a busy timeout can be set");
                let mut statement = conn
                    .prepare(sql)
                    .unwrap_or_else(|err| panic!("{sql}: {err}"));
                let width = statement.column_count();
                statement
                    .query_map([], |row| {
                        (0..width)
                            .map(|i| row.get::<_, Option<String>>(i))
                            .collect()
                    })
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<TextRow>>>())
                    .unwrap_or_else(|err| panic!("{sql}: {err}"))
            }
            Backend::Postgres { server, schema } => {
                let mut client = connect(server);
                client
                    .batch_execute(&format!("SET search_path TO {schema}"))
                    .expect("the test's schema can be chosen");
                client
                    .query(sql, &[])
                    .unwrap_or_else(|err| panic!("{sql}: {err}"))
                    .iter()
                    .map(|row| (0..row.len()).map(|i| row.get(i)).collect())
                    .collect()
            }
        }
    }
}

impl Drop for TeamStore {
    fn drop(&mut self) {
        if let Backend::Postgres { server, schema } = &self.backend {
            // A failure here leaves a schema behind; it must not hide the
            // test's own outcome.
            if let Ok(mut client) = postgres::Client::connect(server, postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

fn connect(server: &str) -> postgres::Client {
    postgres::Client::connect(server, postgres::NoTls)
        .unwrap_or_else(|err| panic!("{PG_ENV} is set but unreachable: {err}"))
}

fn text(value: &Option<String>) -> String {
    value.clone().expect("the column is NOT NULL")
}

fn millis(value: &Option<String>) -> i64 {
    text(value).parse().expect("a time in unix ms")
}
