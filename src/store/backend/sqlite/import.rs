//! Reading another SQLite store (version 1 or 2) for an import, a chunk at
//! a time: answers in key order from after the last one read, then history
//! entries by id, all in one read transaction, so that the import sees one
//! state of the file and holds one chunk in memory, however large the file.

use super::super::encoding::answer;
use super::super::{HistoryRow, ImportChunks, Imported, ImportedAnswer};
use super::{db, open, schema};
use crate::api::Answer;
use crate::store::error::DbError;
use rusqlite::{Row, params};

/// Rows read per query: a few megabytes at most.
const CHUNK: i64 = 10_000;

/// Another store, opened read-only, and how far its rows have been read.
pub(crate) struct ImportReader {
    conn: rusqlite::Connection,
    /// The select of the answers, after a key, in key order; `None` for an
    /// empty file.
    answers: Option<String>,
    /// Whether the file has history entries of its own (version 2).
    history: bool,
    /// The key of the last answer read.
    after: (String, String),
    /// The id of the last history entry read.
    after_id: i64,
    answers_done: bool,
    /// Rows per query: [`CHUNK`], fewer in tests.
    chunk: i64,
}

impl ImportReader {
    /// Opens `path` and starts the read transaction every chunk is read in.
    pub(crate) fn open(path: &std::path::Path) -> Result<ImportReader, DbError> {
        let conn = open(path, false)?;
        let found = schema::check(&conn)?;
        let (table, desc, orderid) = match found {
            schema::Found::Empty => ("", "", ""),
            schema::Found::V1 => ("answers", "desc", "NULL"),
            schema::Found::Current => ("tenure_answers", "description", "orderid"),
        };
        let answers = (found != schema::Found::Empty).then(|| {
            format!(
                "SELECT number, source, kind, code, coalesce({desc}, ''),
                        coalesce(province, ''), coalesce(city, ''), coalesce(isp, ''),
                        coalesce(reason, ''), endpoint, answered_at, {orderid}
                 FROM {table} WHERE (number, source) > (?1, ?2)
                 ORDER BY number, source LIMIT ?3"
            )
        });
        conn.execute_batch("BEGIN").map_err(db)?;
        let history = found == schema::Found::Current
            && conn
                .query_row("SELECT EXISTS (SELECT 1 FROM tenure_history)", [], |row| {
                    row.get(0)
                })
                .map_err(db)?;
        Ok(ImportReader {
            conn,
            answers,
            history,
            after: (String::new(), String::new()),
            after_id: 0,
            answers_done: false,
            chunk: CHUNK,
        })
    }

    /// This many rows a query rather than [`CHUNK`], so that a test's
    /// small file crosses chunks.
    #[cfg(test)]
    pub(crate) fn in_chunks_of(mut self, chunk: i64) -> ImportReader {
        self.chunk = chunk;
        self
    }

    fn next_answers(&mut self, sql: &str) -> Result<Vec<ImportedAnswer>, DbError> {
        let mut select = self.conn.prepare_cached(sql).map_err(db)?;
        let (number, source) = &self.after;
        let answers = select
            .query_map(params![number, source, self.chunk], imported_answer)
            .map_err(db)?
            .map(|row| row.map_err(db).and_then(|row| row))
            .collect::<Result<Vec<_>, DbError>>()?;
        if let Some(last) = answers.last() {
            self.after = (last.number.clone(), last.source.clone());
        }
        Ok(answers)
    }

    fn next_history(&mut self) -> Result<Vec<HistoryRow>, DbError> {
        let mut select = self
            .conn
            .prepare_cached(
                "SELECT id, number, source, kind, code, description, province, city, isp,
                        reason, first_seen, last_seen, change
                 FROM tenure_history WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(db)?;
        let mut last = self.after_id;
        let history = select
            .query_map(params![self.after_id, self.chunk], |row| {
                last = row.get(0)?;
                history_row(row)
            })
            .map_err(db)?
            .map(|row| row.map_err(db).and_then(|row| row))
            .collect::<Result<Vec<_>, DbError>>()?;
        self.after_id = last;
        Ok(history)
    }
}

impl ImportChunks for ImportReader {
    fn answers_only(&self) -> bool {
        !self.history
    }

    fn next_chunk(&mut self) -> Result<Option<Imported>, DbError> {
        if !self.answers_done
            && let Some(sql) = self.answers.clone()
        {
            let answers = self.next_answers(&sql)?;
            if !answers.is_empty() {
                return Ok(Some(Imported {
                    answers,
                    history: Vec::new(),
                }));
            }
            self.answers_done = true;
        }
        if !self.history {
            return Ok(None);
        }
        let history = self.next_history()?;
        Ok((!history.is_empty()).then(|| Imported {
            answers: Vec::new(),
            history,
        }))
    }
}

/// An answer from the select of [`ImportReader::open`]: `Err` inside for
/// one of an unknown kind.
fn imported_answer(row: &Row<'_>) -> rusqlite::Result<Result<ImportedAnswer, DbError>> {
    let get = |i: usize| row.get::<_, String>(i);
    let answer = match answer_at(row, 2, "an answer")? {
        Ok(answer) => answer,
        Err(unknown) => return Ok(Err(unknown)),
    };
    Ok(Ok(ImportedAnswer {
        number: get(0)?,
        source: get(1)?,
        answer,
        endpoint: get(9)?,
        at_ms: row.get(10)?,
        orderid: row.get(11)?,
    }))
}

/// A history entry from the select of [`ImportReader::next_history`]:
/// `Err` inside for one of an unknown kind.
fn history_row(row: &Row<'_>) -> rusqlite::Result<Result<HistoryRow, DbError>> {
    let get = |i: usize| row.get::<_, String>(i);
    let answer = match answer_at(row, 3, "a history entry")? {
        Ok(answer) => answer,
        Err(unknown) => return Ok(Err(unknown)),
    };
    Ok(Ok(HistoryRow {
        number: get(1)?,
        source: get(2)?,
        answer,
        first_seen: row.get(10)?,
        last_seen: row.get(11)?,
        change: row.get(12)?,
    }))
}

/// The answer whose kind is column `kind_at`, its six values after it:
/// `Err` inside, naming `what`, for a kind this version does not know.
fn answer_at(
    row: &Row<'_>,
    kind_at: usize,
    what: &str,
) -> rusqlite::Result<Result<Answer, DbError>> {
    let kind: i64 = row.get(kind_at)?;
    let get = |i: usize| row.get::<_, String>(kind_at + i);
    Ok(
        answer(kind, get(1)?, get(2)?, get(3)?, get(4)?, get(5)?, get(6)?)
            .ok_or_else(|| DbError::Corrupt(format!("{what} of unknown kind {kind}"))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::backend::sqlite::answers::{INSERT_HISTORY, UPSERT_ANSWER};
    use crate::store::backend::sqlite::schema::{V1_SCHEMA, prepare};

    /// The numbers of a chunk's answers, and of its history entries.
    type Numbers = (Vec<String>, Vec<String>);

    /// Every chunk of `path`, `chunk` rows a query, and whether the file
    /// brings answers only.
    fn chunks(path: &std::path::Path, chunk: i64) -> (bool, Vec<Numbers>) {
        let mut reader = ImportReader::open(path).expect("the file opens");
        reader.chunk = chunk;
        let mut all = Vec::new();
        while let Some(read) = reader.next_chunk().expect("a chunk") {
            let answers = read.answers.iter().map(|a| a.number.clone()).collect();
            let history = read.history.iter().map(|h| h.number.clone()).collect();
            all.push((answers, history));
        }
        (reader.answers_only(), all)
    }

    fn numbers(range: std::ops::Range<u32>) -> Vec<String> {
        range.map(|i| format!("1380013800{i}")).collect()
    }

    #[test]
    fn a_version_1_file_is_read_a_chunk_at_a_time_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(V1_SCHEMA).unwrap();
        // Inserted out of order, read in key order.
        for number in numbers(0..7).iter().rev() {
            conn.execute(
                "INSERT INTO answers VALUES (?1, 'src', 0, '3', '(24,+)', '广东', '深圳', '移动',
                                             NULL, 'query', 1)",
                [number],
            )
            .unwrap();
        }
        drop(conn);
        let (answers_only, read) = chunks(&path, 3);
        assert!(answers_only, "a version-1 file has no history of its own");
        let expected = vec![
            (numbers(0..3), vec![]),
            (numbers(3..6), vec![]),
            (numbers(6..7), vec![]),
        ];
        assert_eq!(read, expected);
    }

    #[test]
    fn a_version_2_file_gives_its_answers_then_its_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.sqlite");
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        prepare(&mut conn).unwrap();
        for number in numbers(0..5) {
            conn.execute(
                UPSERT_ANSWER,
                params![
                    number,
                    "src",
                    0,
                    "3",
                    "(24,+)",
                    "广东",
                    "深圳",
                    "移动",
                    "",
                    "query",
                    1,
                    "new",
                    None::<String>
                ],
            )
            .unwrap();
            conn.execute(
                INSERT_HISTORY,
                params![
                    number, "src", 0, "3", "(24,+)", "广东", "深圳", "移动", "", 1, 1, "new"
                ],
            )
            .unwrap();
        }
        drop(conn);
        let (answers_only, read) = chunks(&path, 2);
        assert!(!answers_only, "a version-2 file brings its history");
        let expected = vec![
            (numbers(0..2), vec![]),
            (numbers(2..4), vec![]),
            (numbers(4..5), vec![]),
            (vec![], numbers(0..2)),
            (vec![], numbers(2..4)),
            (vec![], numbers(4..5)),
        ];
        assert_eq!(read, expected);
    }
}
