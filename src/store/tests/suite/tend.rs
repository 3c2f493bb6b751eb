//! The shared suite, tending: usage, stats, export, purge, changes, import,
//! and what the store holds.

use super::super::*;
use crate::change::Change;
use crate::store::backend::sqlite::schema::V1_SCHEMA;

pub fn the_ledger_counts_usage_by_day_and_run(f: &Fixture) {
    let store = f.open(JUHE);
    let a = store.join(spec(Some("g")), pace()).unwrap();
    let sandboxed = store
        .join(
            RunSpec {
                sandbox: true,
                ..spec(Some("g"))
            },
            pace(),
        )
        .unwrap();
    let request = |outcome, code: Option<&str>| Request {
        outcome,
        code: code.map(str::to_owned),
        orderid: None,
        reserved: false,
    };
    for _ in 0..3 {
        a.record(request(Outcome::Billed, None)).unwrap();
    }
    a.record(request(Outcome::Free, Some("224801"))).unwrap();
    a.record(request(Outcome::Unanswered, Some("timeout")))
        .unwrap();
    sandboxed.record(request(Outcome::Billed, None)).unwrap();
    let zone = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let today = jiff::Timestamp::now()
        .to_zoned(zone.clone())
        .date()
        .to_string();
    let by_day = store
        .usage(DAY, &UsageBy::Day(zone.clone()), false)
        .unwrap();
    assert_eq!(
        by_day,
        [UsageRow {
            key: today.clone(),
            billed: 3,
            requests: 5,
            unanswered: 1
        }]
    );
    let with_sandbox = store.usage(DAY, &UsageBy::Day(zone), true).unwrap();
    assert_eq!((with_sandbox[0].billed, with_sandbox[0].requests), (4, 6));
    let by_run = store.usage(DAY, &UsageBy::Run, true).unwrap();
    let mut expected = vec![(a.id().to_owned(), 3, 5), (sandboxed.id().to_owned(), 1, 1)];
    expected.sort();
    assert_eq!(
        by_run
            .iter()
            .map(|r| (r.key.clone(), r.billed, r.requests))
            .collect::<Vec<_>>(),
        expected
    );
    assert_eq!(store.stats().unwrap().ledger, 6);
    // The ledger survives purges.
    store.purge(&Purge::OlderThan(Duration::ZERO)).unwrap();
    assert_eq!(store.stats().unwrap().billed, 4);
}

pub fn stats_export_purge_and_changes(f: &Fixture) {
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    run.put(number("13800138000"), &tenure(), Some("JH1"))
        .unwrap();
    run.put(number("13900139000"), &declined(), None).unwrap();
    run.put(number("13700137000"), &refused(), None).unwrap();
    let stats = store.stats().unwrap();
    assert_eq!((stats.answers, stats.successes, stats.history), (3, 1, 3));
    assert!(stats.oldest_ms.is_some() && stats.oldest_ms <= stats.newest_ms);

    let mut csv = Vec::new();
    store.export(ExportFormat::Csv, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "number,source,code,tenure,province,city,isp,reason,endpoint,answered_at,change,orderid"
    );
    assert_eq!(lines.len(), 4);
    let first = lines.iter().find(|l| l.starts_with("13800138000")).unwrap();
    assert!(
        first.contains(",03,\"(0,3]\",广东,深圳,移动,,query,"),
        "{first}"
    );
    assert!(first.ends_with("Z,new,JH1"), "RFC 3339 UTC: {first}");
    let mut jsonl = Vec::new();
    store.export(ExportFormat::Jsonl, &mut jsonl).unwrap();
    let objects: Vec<serde_json::Value> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 3);
    let declined_row = objects
        .iter()
        .find(|o| o["number"] == "13900139000")
        .unwrap();
    assert_eq!(declined_row["code"], "224801");
    assert_eq!(declined_row["change"], serde_json::Value::Null);

    let removed = store.purge(&Purge::Code("224804".to_owned())).unwrap();
    assert_eq!(
        removed,
        Removed {
            answers: 1,
            history: 1
        }
    );
    let removed = store.purge(&Purge::OlderThan(DAY)).unwrap();
    assert_eq!(removed, Removed::default());
    let removed = store.purge(&Purge::OlderThan(Duration::ZERO)).unwrap();
    assert_eq!(
        removed,
        Removed {
            answers: 2,
            history: 2
        }
    );
    assert_eq!(store.stats().unwrap().answers, 0);
    assert_eq!(store.changes(DAY).unwrap(), vec![]);
}

/// A real version-1 file at `path`, made with the old schema's SQL: a
/// tenure for 13800138000 and a 224801 for 13900139000, both from `JUHE`,
/// five seconds before `now`.
fn version_1_file(path: &std::path::Path, now: i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(V1_SCHEMA).unwrap();
    let insert = "INSERT INTO answers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'query', ?10)";
    conn.execute(
        insert,
        rusqlite::params![
            "13800138000",
            JUHE,
            0,
            "3",
            "(24,+)",
            "广东",
            "深圳",
            "移动",
            None::<&str>,
            now - 5000
        ],
    )
    .unwrap();
    conn.execute(
        insert,
        rusqlite::params![
            "13900139000",
            JUHE,
            1,
            "224801",
            None::<&str>,
            None::<&str>,
            None::<&str>,
            None::<&str>,
            "查询无此记录",
            now - 5000
        ],
    )
    .unwrap();
}

/// A version-2 SQLite store with its own history: two answers for
/// 13700137000, closed.
fn version_2_store() -> Fixture {
    let v2 = Fixture::sqlite();
    let other = v2.open(JUHE);
    let other_run = other.join(spec(None), pace()).unwrap();
    other_run
        .put(number("13700137000"), &tenure(), Some("JH9"))
        .unwrap();
    other_run
        .put(
            number("13700137000"),
            &Answer::Tenure(tenure_of("3", "移动", "深圳")),
            None,
        )
        .unwrap();
    other_run.finish().unwrap();
    other.close().unwrap();
    v2
}

pub fn import_merges_a_version_1_and_a_version_2_store(f: &Fixture) {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.sqlite");
    version_1_file(&v1, now_ms());

    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    // The store already knows one number, newer and changed.
    let newer = Answer::Tenure(tenure_of("03", "联通", "深圳"));
    run.put(number("13900139000"), &newer, None).unwrap();
    let counts = store.import(&v1).unwrap();
    assert_eq!(
        counts,
        ImportCounts {
            answers_added: 1,
            answers_updated: 0,
            answers_kept: 1,
            history_added: 2
        }
    );
    let stored = store
        .get_many(&[number("13800138000"), number("13900139000")], DAY)
        .unwrap();
    assert_eq!(stored[0].as_ref().unwrap().change, Some(Change::New));
    assert_eq!(stored[1].as_ref().unwrap().answer, newer, "the newer wins");
    let again = store.import(&v1).unwrap();
    assert_eq!((again.answers_added, again.history_added), (0, 0));

    // A version-2 store with its own history.
    let v2 = version_2_store();
    let counts = store.import(v2.location.path().unwrap()).unwrap();
    assert_eq!((counts.answers_added, counts.history_added), (1, 2));
    let again = store.import(v2.location.path().unwrap()).unwrap();
    assert_eq!(
        (again.answers_kept, again.history_added),
        (1, 0),
        "nothing twice"
    );
    assert_eq!(
        store.get_many(&[number("13700137000")], DAY).unwrap()[0]
            .as_ref()
            .unwrap()
            .change,
        Some(Change::Same),
        "its 3 is compared with the 03 before it, imported too, as the other store did"
    );
    // A later version-1 file with a newer, different answer for a number
    // the store has: it replaces the answer, and records its change
    // against the success the store had.
    let later = dir.path().join("later.sqlite");
    let conn = rusqlite::Connection::open(&later).unwrap();
    conn.execute_batch(V1_SCHEMA).unwrap();
    conn.execute(
        "INSERT INTO answers VALUES (?1, ?2, 0, '3', '(24,+)', '广东', '深圳', '联通', NULL, \
         'query', ?3)",
        rusqlite::params!["13800138000", JUHE, now_ms() + 60_000],
    )
    .unwrap();
    drop(conn);
    let counts = store.import(&later).unwrap();
    assert_eq!(
        (
            counts.answers_updated,
            counts.answers_added,
            counts.history_added
        ),
        (1, 0, 1)
    );
    let stored = store.get_many(&[number("13800138000")], DAY).unwrap();
    let stored = stored[0].as_ref().unwrap();
    let before = tenure_of("3", "移动", "深圳");
    let Answer::Tenure(now) = &stored.answer else {
        panic!("a tenure: {:?}", stored.answer);
    };
    assert_eq!(now.isp, "联通", "the newer answer replaced the older");
    assert_eq!(stored.change, Some(Change::compare(Some(&before), now)));
    assert!(!matches!(stored.change, Some(Change::New | Change::Same)));

    let read_only = Store::open_read_only(&f.location, JUHE).unwrap();
    assert!(matches!(
        read_only.import(&v1),
        Err(StoreError::ReadOnly { .. })
    ));
}

/// An old cache's answer that arrived before the store's own comes first
/// in the history: the store's later answer is then compared with it. Here
/// a 3 from the old cache and last night's 03 are a reassignment, which
/// `changes` lists and the latest answer records.
pub fn an_imported_earlier_answer_changes_what_later_ones_record(f: &Fixture) {
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    let last_night = Answer::Tenure(tenure_of("03", "移动", "深圳"));
    run.put(number("13800138000"), &last_night, None).unwrap();
    run.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.sqlite");
    // A 3 for 13800138000, five seconds before the store's 03.
    version_1_file(&v1, now_ms());
    let counts = store.import(&v1).unwrap();
    assert_eq!((counts.answers_kept, counts.answers_added), (1, 1));

    let changes = store.changes(DAY).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let row = &changes[0];
    assert_eq!(row.number, "13800138000");
    assert_eq!(row.change.as_str(), "reassigned");
    assert_eq!(
        (row.before.code.as_str(), row.after.code.as_str()),
        ("3", "03")
    );
    let stored = store.get(&number("13800138000"), DAY).unwrap().unwrap();
    assert_eq!(stored.answer, last_night, "the newer answer stays");
    assert_eq!(stored.change.map(|c| c.as_str()), Some("reassigned"));
}

/// An imported answer that falls between two of the store's records its
/// change against the one before it, and the one after it against it: no
/// change lists the same answer before and after.
pub fn an_imported_answer_between_two_is_compared_with_its_neighbours(f: &Fixture) {
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    let n = number("13800138000");
    // 联通, then 移动 (an isp change); the old cache's 移动 comes between.
    run.put(n, &Answer::Tenure(tenure_of("3", "联通", "深圳")), None)
        .unwrap();
    store.flush().unwrap();
    let first = now_ms();
    std::thread::sleep(Duration::from_millis(20));
    let same_as_v1 = Answer::Tenure(tenure_of("3", "移动", "深圳"));
    run.put(n, &same_as_v1, None).unwrap();
    run.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.sqlite");
    // version_1_file dates its answers five seconds before `now`.
    version_1_file(&v1, first + 5 + 5000);
    store.import(&v1).unwrap();

    let changes = store.changes(DAY).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let row = &changes[0];
    assert_eq!(row.change.as_str(), "isp");
    assert_eq!(row.at_ms, first + 5, "the imported arrival is the change");
    assert_eq!(
        (row.before.isp.as_str(), row.after.isp.as_str()),
        ("联通", "移动")
    );
    let stored = store.get(&n, DAY).unwrap().unwrap();
    assert_eq!(stored.answer, same_as_v1);
    assert_eq!(stored.change.map(|c| c.as_str()), Some("same"));
}

/// The API's text that a spreadsheet would run is exported to CSV with a
/// `'` in front, as `enrich` writes it; JSON Lines keeps it as sent, and
/// quotes, commas and line breaks come back whole from both.
pub fn export_csv_neutralises_formulas(f: &Fixture) {
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    let hostile = Tenure {
        desc: "a \"quoted\", two-line\ntext".to_owned(),
        city: "=HYPERLINK(\"http://x\",\"y\")".to_owned(),
        ..tenure_of("3", "移动", "深圳")
    };
    run.put(
        number("13800138000"),
        &Answer::Tenure(hostile.clone()),
        Some("+JH1"),
    )
    .unwrap();
    let declined = Answer::Declined {
        code: 224801,
        reason: "@SUM(A1)".to_owned(),
    };
    run.put(number("13900139000"), &declined, None).unwrap();
    run.finish().unwrap();

    let mut csv = Vec::new();
    store.export(ExportFormat::Csv, &mut csv).unwrap();
    let mut reader = csv::Reader::from_reader(&csv[..]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let of = |number: &str| rows.iter().find(|row| &row[0] == number).unwrap().clone();
    let tenure = of("13800138000");
    assert_eq!(
        &tenure[3], hostile.desc,
        "quotes, commas and lines come back whole"
    );
    assert_eq!(&tenure[5], format!("'{}", hostile.city));
    assert_eq!(&tenure[11], "'+JH1");
    assert_eq!(&of("13900139000")[7], "'@SUM(A1)");

    let mut jsonl = Vec::new();
    store.export(ExportFormat::Jsonl, &mut jsonl).unwrap();
    let text = String::from_utf8(jsonl).unwrap();
    let objects: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tenure = objects
        .iter()
        .find(|o| o["number"] == "13800138000")
        .unwrap();
    assert_eq!(tenure["city"], hostile.city.as_str(), "JSON Lines as sent");
    assert_eq!(tenure["tenure"], hostile.desc.as_str());
}

/// An import read two rows at a time (so that a number's answer and its
/// history entries fall in different chunks) brings the other store whole:
/// the same answers, changes and history as there, and nothing twice when
/// done again.
pub fn an_import_across_chunks_brings_the_whole_history(f: &Fixture) {
    let source = Fixture::sqlite();
    let t = |code: &str, isp: &str| Answer::Tenure(tenure_of(code, isp, "深圳"));
    let sequences: [Vec<Answer>; 7] = [
        vec![t("3", "移动")],
        vec![t("3", "移动"), t("3", "联通")],
        vec![t("2", "移动"), t("99", "移动")],
        vec![t("1", "移动"), declined()],
        vec![t("3", "移动"), t("03", "联通"), t("3", "移动")],
        vec![declined()],
        vec![t("03", "电信"), t("3", "电信")],
    ];
    {
        let other = source.open(JUHE);
        let run = other.join(spec(None), pace()).unwrap();
        for (i, answers) in sequences.iter().enumerate() {
            for answer in answers {
                run.put(number(&format!("1380013800{i}")), answer, Some("JH7"))
                    .unwrap();
                // Arrivals a millisecond apart at least, as real ones are:
                // an import tells entries apart by first arrival and answer.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        run.finish().unwrap();
        other.close().unwrap();
    }
    let path = source.location.path().unwrap();
    let store = f.open(JUHE);
    let counts = store.import_in_chunks_of(path, 2).unwrap();
    let reference = source.open(JUHE);
    let history = reference.stats().unwrap().history;
    assert_eq!(history, 13, "one entry per arrival that differs");
    assert_eq!((counts.answers_added, counts.history_added), (7, history));

    let export = |store: &Store| {
        let mut out = Vec::new();
        store.export(ExportFormat::Jsonl, &mut out).unwrap();
        let mut lines: Vec<String> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(export(&store), export(&reference));
    let changes = store.changes(DAY).unwrap();
    assert_eq!(changes.len(), 4, "{changes:?}");
    assert_eq!(changes, reference.changes(DAY).unwrap());
    assert_eq!(store.stats().unwrap().history, history);

    let again = store.import_in_chunks_of(path, 2).unwrap();
    assert_eq!((again.answers_kept, again.history_added), (7, 0));
    assert_eq!(export(&store), export(&reference));
}

/// `changes` lists the changes that arrived within the window, each with
/// the success before it even when that one arrived before the window.
pub fn changes_lists_the_window_with_what_came_before(f: &Fixture) {
    let store = f.open(JUHE);
    let now = now_ms();
    let hour = 3_600_000;
    let entry = |number: &str, code: &str, isp: &str, at: i64, change: &str| {
        format!(
            "INSERT INTO tenure_history (number, source, kind, code, description, province, \
             city, isp, reason, first_seen, last_seen, change) VALUES ('{number}', '{JUHE}', 0, \
             '{code}', '', '广东', '深圳', '{isp}', '', {at}, {at}, '{change}');"
        )
    };
    f.execute(
        &[
            entry("13800138000", "3", "移动", now - 240 * hour, "new"),
            entry("13800138000", "03", "移动", now - hour, "reassigned"),
            entry("13900139000", "3", "移动", now - 480 * hour, "new"),
            entry("13900139000", "3", "联通", now - 48 * hour, "isp"),
        ]
        .concat(),
    );
    let changes = store.changes(DAY).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let row = &changes[0];
    assert_eq!(
        (row.number.as_str(), row.at_ms),
        ("13800138000", now - hour)
    );
    assert_eq!(row.change.as_str(), "reassigned");
    assert_eq!(row.before.code, "3", "the success before the window");
    assert_eq!(store.changes(3 * DAY).unwrap().len(), 2);
    assert_eq!(store.changes(Duration::ZERO).unwrap(), vec![]);
}

/// A change recorded at arrival survives a purge of the success it was
/// compared with, and an import that reads the number's history again.
pub fn an_import_keeps_a_change_whose_earlier_success_was_purged(f: &Fixture) {
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    let n = number("13800138000");
    run.put(n, &Answer::Tenure(tenure_of("3", "移动", "深圳")), None)
        .unwrap();
    store.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    run.put(n, &Answer::Tenure(tenure_of("03", "移动", "深圳")), None)
        .unwrap();
    run.finish().unwrap();
    let removed = store
        .purge(&Purge::OlderThan(Duration::from_millis(750)))
        .unwrap();
    assert_eq!((removed.answers, removed.history), (0, 1), "the 3 is gone");
    let stored = store.get(&n, DAY).unwrap().unwrap();
    assert_eq!(stored.change.map(|c| c.as_str()), Some("reassigned"));

    // A file holding that same 03 at the same time: it adds nothing, but
    // the import reads the number's history again.
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.sqlite");
    let conn = rusqlite::Connection::open(&v1).unwrap();
    conn.execute_batch(V1_SCHEMA).unwrap();
    conn.execute(
        "INSERT INTO answers VALUES (?1, ?2, 0, '03', '(0,3]', '广东', '深圳', '移动', NULL, \
         'query', ?3)",
        rusqlite::params![n.as_str(), JUHE, stored.answered_at_ms],
    )
    .unwrap();
    drop(conn);
    let counts = store.import(&v1).unwrap();
    assert_eq!((counts.answers_kept, counts.history_added), (1, 0));
    let stored = store.get(&n, DAY).unwrap().unwrap();
    assert_eq!(stored.change.map(|c| c.as_str()), Some("reassigned"));
}
