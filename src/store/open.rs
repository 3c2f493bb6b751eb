//! Opening a store (DESIGN §4): creating or migrating an SQLite file with
//! its permissions (0600, no symlinks) or the tables in a PostgreSQL
//! database, opening one read-only, or making a temporary one; then
//! starting its reader and writer connections.

use super::backend::postgres::Postgres;
use super::backend::sqlite::{self, Sqlite};
use super::backend::{self, Backend, Purpose};
use super::writer::Writer;
use super::{Location, Store, StoreError, Timing, now_ms, temporary};
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::{Arc, Mutex};

impl Store {
    /// Opens the store at `location`, creating it if needed: an SQLite file
    /// (mode 0600 at creation; an existing file keeps its mode; a symlink
    /// is refused), or the tables in a PostgreSQL database. A version-1
    /// SQLite file is migrated in place. `source` names where answers come
    /// from (`"sandbox"` or the endpoint's base URL): look-ups return only
    /// answers from the same source.
    ///
    /// Fails with [`StoreError::Corrupt`] for a file that is not a tenure
    /// store, [`StoreError::UnknownSchema`] for another schema version,
    /// [`StoreError::NotWritable`] when it cannot be written, and
    /// [`StoreError::Unreachable`] when the server cannot be reached.
    pub fn open(location: &Location, source: &str) -> Result<Store, StoreError> {
        Store::open_with(location, source, Timing::default())
    }

    /// [`Store::open`] with the protocol's durations given (for tests).
    pub fn open_with(
        location: &Location,
        source: &str,
        timing: Timing,
    ) -> Result<Store, StoreError> {
        let name = location.to_string();
        let backend: Arc<dyn Backend> = match location {
            Location::Sqlite(path) => {
                refuse_symlink(path)?;
                create_private(path)?;
                let mut conn = sqlite::open(path, true).map_err(|e| e.named(&name))?;
                sqlite::schema::prepare(&mut conn).map_err(|e| e.named(&name))?;
                drop(conn);
                Arc::new(Sqlite { path: path.clone() })
            }
            Location::Postgres(url) => {
                let backend = Postgres::new(url)?;
                let mut client = backend.client().map_err(|e| e.named(&name))?;
                backend::postgres::prepare(&mut client).map_err(|e| e.named(&name))?;
                Arc::new(backend)
            }
        };
        Store::start(location, source, backend, timing, true)
    }

    /// Opens an existing store read-only (for `tenure check` and the cache
    /// commands that only read). A missing store is [`StoreError::Missing`];
    /// writing through it is [`StoreError::ReadOnly`]. A version-1 file is
    /// refused: a read-write open migrates it.
    pub fn open_read_only(location: &Location, source: &str) -> Result<Store, StoreError> {
        let name = location.to_string();
        let backend: Arc<dyn Backend> = match location {
            Location::Sqlite(path) => {
                refuse_symlink(path)?;
                match std::fs::metadata(path) {
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                        return Err(StoreError::Missing { store: name });
                    }
                    Err(error) => return Err(StoreError::io(path, &error, false)),
                    Ok(_) => {}
                }
                let conn = sqlite::open(path, false).map_err(|e| e.named(&name))?;
                match sqlite::schema::check(&conn).map_err(|e| e.named(&name))? {
                    sqlite::schema::Found::Current => {}
                    sqlite::schema::Found::V1 => {
                        return Err(StoreError::Corrupt {
                            store: name,
                            detail: "a version-1 store: any `tenure enrich --cache` run on it \
                                     migrates it, or `tenure cache import` merges it"
                                .to_owned(),
                        });
                    }
                    sqlite::schema::Found::Empty => {
                        return Err(sqlite::schema::foreign().named(&name));
                    }
                }
                Arc::new(Sqlite { path: path.clone() })
            }
            Location::Postgres(url) => {
                let backend = Postgres::new(url)?;
                let mut client = backend.client().map_err(|e| e.named(&name))?;
                if !backend::postgres::exists(&mut client).map_err(|e| e.named(&name))? {
                    return Err(StoreError::Missing { store: name });
                }
                Arc::new(backend)
            }
        };
        Store::start(location, source, backend, Timing::default(), false)
    }

    /// A store in a private temporary folder, removed when the store is
    /// dropped. For `--no-cache`: duplicates within one run are still asked
    /// once, and memory does not grow with the input.
    pub fn temporary(source: &str) -> Result<Store, StoreError> {
        let folder = temporary::folder()?;
        let location = Location::Sqlite(folder.path().join("answers.sqlite"));
        let mut store = Store::open(&location, source)?;
        store.temporary = Some(folder);
        Ok(store)
    }

    fn start(
        location: &Location,
        source: &str,
        backend: Arc<dyn Backend>,
        timing: Timing,
        write: bool,
    ) -> Result<Store, StoreError> {
        let name = location.to_string();
        let writer = if write {
            let conn = backend
                .connect(Purpose::Write)
                .map_err(|e| e.named(&name))?;
            let writer = Writer::spawn(conn, source.to_owned()).map_err(|error| {
                StoreError::WriterFailed {
                    store: name.clone(),
                    message: error.to_string(),
                }
            })?;
            Some(writer)
        } else {
            None
        };
        let reader = backend.connect(Purpose::Read).map_err(|e| e.named(&name))?;
        Ok(Store {
            reader: Mutex::new(reader),
            helper: Mutex::new(None),
            writer,
            backend,
            source: source.to_owned(),
            location: location.clone(),
            name,
            timing,
            opened_ms: now_ms(),
            temporary: None,
        })
    }
}

/// Refuses a store path that is a symbolic link: following it could write
/// answers wherever the link points.
fn refuse_symlink(path: &Path) -> Result<(), StoreError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(StoreError::NotWritable {
            store: path.display().to_string(),
            detail: "it is a symbolic link, which tenure does not follow; pass the real path"
                .to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Creates the file with mode 0600 if it does not exist, so SQLite (which
/// would create it with 0644) finds it private; SQLite gives its `-wal` and
/// `-shm` files the same mode. An existing file keeps its mode. Opening for
/// writing also checks early that the file can be written.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|error| StoreError::io(path, &error, true))?;
    // Checked again: a link made between the first check and the open.
    refuse_symlink(path)
}
