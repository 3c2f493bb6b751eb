//! The background writer: one thread that owns the read-write connection
//! and commits answers in small groups, and the pending map that makes an
//! answer visible from the moment it is put until it is on disk.
//!
//! Group commit: the thread blocks for the first answer, then gathers what
//! else arrives within [`GROUP_WINDOW`] (20 ms), up to [`MAX_GROUP`] answers
//! or the first flush request, and commits them in one transaction. At
//! thousands of answers a second that is one commit and one wake-up of this
//! thread per window rather than per answer. A `kill -9` loses only answers
//! not yet committed: at most the last 20 ms or so, far under the 100 ms
//! budget.
//!
//! The queue is unbounded: it holds only what the writer has not caught up
//! with, and one commit of a group takes far less time than the API takes
//! to answer that many numbers. If a commit fails (a full disk, say), the
//! writer records why and stops; every later put and flush reports it, and
//! answers put are still found in the pending map for the rest of the run.
//!
//! It must not decide what is stored: the caller puts only final answers.

use super::schema;
use crate::api::{Answer, Endpoint};
use crate::number::Number;
use rusqlite::{Connection, TransactionBehavior};
use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The most answers committed in one transaction.
const MAX_GROUP: usize = 256;
/// How long a group gathers answers after its first: one commit (and one
/// wake-up of this thread) per window instead of per answer, at the cost of
/// at most this much more lost to a `kill -9`.
const GROUP_WINDOW: Duration = Duration::from_millis(20);

/// Answers put but not yet known to be committed.
#[derive(Default)]
struct Pending {
    /// The sequence number of the next put. The writer removes an entry
    /// only if its sequence number is the one it committed, so an answer put
    /// again meanwhile stays visible until its own commit.
    next_seq: u64,
    entries: HashMap<Number, Entry>,
}

struct Entry {
    seq: u64,
    answer: Answer,
    answered_at: i64,
}

/// One answer on its way to disk.
struct Row {
    seq: u64,
    number: Number,
    answer: Answer,
    endpoint: Endpoint,
    answered_at: i64,
}

enum Message {
    Put(Row),
    /// Answered once every answer queued before it is committed.
    Flush(SyncSender<Result<(), String>>),
}

/// The handle on the writer thread. Dropping it commits what is queued and
/// waits for the thread.
pub(super) struct Writer {
    /// `Some` until the writer is stopped (by `finish` or `drop`).
    queue: Option<Sender<Message>>,
    /// `Some` until the writer is stopped.
    thread: Option<JoinHandle<()>>,
    pending: Arc<Mutex<Pending>>,
    /// The writer's error, set before it stops listening.
    failure: Arc<Mutex<Option<String>>>,
}

impl Writer {
    /// Starts the writer thread on `conn`, which it owns from now on.
    pub(super) fn spawn(conn: Connection, source: String) -> std::io::Result<Writer> {
        let (queue, inbox) = mpsc::channel();
        let pending = Arc::new(Mutex::new(Pending::default()));
        let failure = Arc::new(Mutex::new(None));
        let thread = std::thread::Builder::new()
            .name("tenure-store-writer".to_owned())
            .spawn({
                let pending = Arc::clone(&pending);
                let failure = Arc::clone(&failure);
                move || run(conn, &source, inbox, &pending, &failure)
            })?;
        Ok(Writer {
            queue: Some(queue),
            thread: Some(thread),
            pending,
            failure,
        })
    }

    /// Queues an answer and makes it visible to [`Writer::pending`] at once.
    /// The error is the writer's, if it has stopped.
    pub(super) fn put(
        &self,
        number: Number,
        answer: &Answer,
        endpoint: Endpoint,
        answered_at: i64,
    ) -> Result<(), String> {
        let mut pending = lock(&self.pending);
        let seq = pending.next_seq;
        pending.next_seq += 1;
        let row = Row {
            seq,
            number,
            answer: answer.clone(),
            endpoint,
            answered_at,
        };
        // Sent under the lock, so the queue holds puts in `seq` order and a
        // later put of the same number is committed after an earlier one.
        self.queue()
            .send(Message::Put(row))
            .map_err(|_| self.failure())?;
        let answer = answer.clone();
        pending.entries.insert(
            number,
            Entry {
                seq,
                answer,
                answered_at,
            },
        );
        Ok(())
    }

    /// The queued answer for `number`, if it arrived after `cutoff`.
    pub(super) fn pending(&self, number: &Number, cutoff: i64) -> Option<Answer> {
        lock(&self.pending)
            .entries
            .get(number)
            .filter(|entry| entry.answered_at > cutoff)
            .map(|entry| entry.answer.clone())
    }

    /// [`Writer::pending`] for many numbers under one lock.
    pub(super) fn pending_many(&self, numbers: &[Number], cutoff: i64) -> Vec<Option<Answer>> {
        let pending = lock(&self.pending);
        numbers
            .iter()
            .map(|number| {
                pending
                    .entries
                    .get(number)
                    .filter(|entry| entry.answered_at > cutoff)
                    .map(|entry| entry.answer.clone())
            })
            .collect()
    }

    /// Blocks until every answer put before this call is committed.
    pub(super) fn flush(&self) -> Result<(), String> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.queue()
            .send(Message::Flush(reply))
            .map_err(|_| self.failure())?;
        answer.recv().map_err(|_| self.failure())?
    }

    /// Commits what is queued, stops the thread and reports its error.
    pub(super) fn finish(mut self) -> Result<(), String> {
        if self.stop() {
            match lock(&self.failure).take() {
                Some(message) => Err(message),
                None => Ok(()),
            }
        } else {
            Err("the store's writer thread panicked".to_owned())
        }
    }

    /// Closes the queue and waits for the thread, which commits everything
    /// queued before it sees the queue closed. False if the thread panicked.
    fn stop(&mut self) -> bool {
        drop(self.queue.take());
        self.thread
            .take()
            .is_none_or(|thread| thread.join().is_ok())
    }

    fn queue(&self) -> &Sender<Message> {
        // Invariant: `queue` is taken only by `stop`, which needs `&mut self`
        // (from `finish` or `drop`), so no `&self` method runs after it.
        self.queue
            .as_ref()
            .expect("the queue is open until the writer stops")
    }

    /// Why the writer stopped listening.
    fn failure(&self) -> String {
        lock(&self.failure)
            .clone()
            .unwrap_or_else(|| "the store's writer thread stopped unexpectedly".to_owned())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Errors here have no one to go to; `Store::close` is the way to
        // hear them.
        self.stop();
    }
}

/// The writer thread's body: commits groups until the queue closes or a
/// commit fails.
fn run(
    mut conn: Connection,
    source: &str,
    inbox: Receiver<Message>,
    pending: &Mutex<Pending>,
    failure: &Mutex<Option<String>>,
) {
    let mut rows = Vec::with_capacity(MAX_GROUP);
    let mut waiters = Vec::new();
    while let Ok(first) = inbox.recv() {
        let mut gathered = false;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Put(row) => rows.push(row),
                Message::Flush(waiter) => waiters.push(waiter),
            }
            if rows.len() >= MAX_GROUP || !waiters.is_empty() {
                break;
            }
            next = inbox.try_recv().ok();
            if next.is_none() && !gathered {
                // Let the group gather for a while rather than wake for
                // every answer; a flush waits at most this long.
                std::thread::sleep(GROUP_WINDOW);
                gathered = true;
                next = inbox.try_recv().ok();
            }
        }
        if let Err(error) = commit(&mut conn, source, &rows) {
            let message = error.to_string();
            // In this order: a caller who finds the queue closed, or whose
            // flush is refused, then finds the reason, and no put succeeds
            // after a flush has failed.
            *lock(failure) = Some(message.clone());
            drop(inbox);
            for waiter in waiters {
                // A waiter that gave up no longer needs the reply.
                let _ = waiter.send(Err(message.clone()));
            }
            return;
        }
        let mut pending = lock(pending);
        for row in rows.drain(..) {
            // Only if no newer put of the number is still on its way.
            if pending.entries.get(&row.number).map(|entry| entry.seq) == Some(row.seq) {
                pending.entries.remove(&row.number);
            }
        }
        drop(pending);
        for waiter in waiters.drain(..) {
            let _ = waiter.send(Ok(()));
        }
    }
}

fn commit(conn: &mut Connection, source: &str, rows: &[Row]) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    // IMMEDIATE takes the write lock up front, waiting out another run's
    // commit through the busy timeout rather than failing half-way.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for row in rows {
        schema::upsert(
            &tx,
            source,
            &row.number,
            &row.answer,
            row.endpoint,
            row.answered_at,
        )?;
    }
    tx.commit()
}

/// Locks a mutex whether or not another thread panicked holding it: every
/// critical section here leaves the data whole (one insert, one remove,
/// one assignment), so a poisoned lock still guards consistent data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
