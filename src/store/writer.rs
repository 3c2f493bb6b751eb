//! The background writer: one thread that owns a connection and commits
//! answers and ledger entries in small groups, and the pending map that
//! makes an answer visible from the moment it is put until it is committed.
//!
//! Group commit: the thread blocks for the first write, then gathers what
//! else arrives within [`GROUP_WINDOW`] (20 ms), up to [`MAX_GROUP`] writes,
//! and commits them in one transaction; a flush request ends the gathering
//! once the queue is drained, so that it waits for a commit, not a window.
//! A `kill -9` loses only what is not yet committed. A run's jobs flush
//! after each answer, holding their request slot until it is committed
//! (`pipeline::ask`): what a kill loses is then at most its requests in
//! flight, however far the database lags behind the API.
//!
//! The queue is unbounded: it holds only what the writer has not caught up
//! with. If a commit fails (a full disk, a lost server), the writer records
//! why and stops; every later put and flush reports it, and answers put are
//! still found in the pending map for the rest of the run.
//!
//! It must not decide what is stored: the caller puts only final answers.
//! Backend-neutral: it sees a [`Connection`] only.

use super::backend::{AnswerWrite, Connection, Fresh, LedgerWrite, Write};
use super::{Stored, lock};
use crate::api::{Answer, Tenure};
use crate::change::Change;
use crate::number::Number;
use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most writes committed in one transaction.
const MAX_GROUP: usize = 256;
/// How long a group gathers writes after its first.
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
    change: Option<Change>,
    at_ms: i64,
    /// The number's latest success as of this put (this answer, if it is
    /// one), for the change of the next put before this one is committed.
    last_success: Option<Tenure>,
}

enum Message {
    /// A write; `Some(seq)` for an answer in the pending map.
    Write(Option<u64>, Write),
    /// Answered once every write queued before it is committed.
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
    pub(super) fn spawn(conn: Box<dyn Connection>, source: String) -> std::io::Result<Writer> {
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

    /// Queues an answer and makes it visible to [`Writer::pending_many`] at
    /// once. `previous` is the number's latest success before it. The error
    /// is the writer's, if it has stopped.
    pub(super) fn put(&self, write: AnswerWrite, previous: Option<Tenure>) -> Result<(), String> {
        let mut pending = lock(&self.pending);
        let seq = pending.next_seq;
        pending.next_seq += 1;
        let entry = Entry {
            seq,
            answer: write.answer.clone(),
            change: write.change,
            at_ms: write.at_ms,
            last_success: match write.answer.tenure() {
                Some(tenure) => Some(tenure.clone()),
                None => previous,
            },
        };
        let number = write.number;
        // Sent under the lock, so the queue holds puts in `seq` order and a
        // later put of the same number is committed after an earlier one.
        self.queue()
            .send(Message::Write(Some(seq), Write::Answer(write)))
            .map_err(|_| self.failure())?;
        pending.entries.insert(number, entry);
        Ok(())
    }

    /// Queues a ledger entry.
    pub(super) fn record(&self, entry: LedgerWrite) -> Result<(), String> {
        self.queue()
            .send(Message::Write(None, Write::Ledger(entry)))
            .map_err(|_| self.failure())
    }

    /// The pending answers of `numbers` that are fresh, under one lock.
    pub(super) fn pending_many(&self, numbers: &[Number], fresh: Fresh) -> Vec<Option<Stored>> {
        let pending = lock(&self.pending);
        numbers
            .iter()
            .map(|number| {
                let entry = pending.entries.get(number)?;
                fresh.accepts(&entry.answer, entry.at_ms).then(|| Stored {
                    answer: entry.answer.clone(),
                    change: entry.change,
                    answered_at_ms: entry.at_ms,
                    this_run: true,
                })
            })
            .collect()
    }

    /// `Some(latest success)` when `number` has a pending answer.
    pub(super) fn pending_success(&self, number: &Number) -> Option<Option<Tenure>> {
        lock(&self.pending)
            .entries
            .get(number)
            .map(|entry| entry.last_success.clone())
    }

    /// Blocks until every write queued before this call is committed.
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
    mut conn: Box<dyn Connection>,
    source: &str,
    inbox: Receiver<Message>,
    pending: &Mutex<Pending>,
    failure: &Mutex<Option<String>>,
) {
    let mut writes = Vec::with_capacity(MAX_GROUP);
    let mut seqs: Vec<(Number, u64)> = Vec::with_capacity(MAX_GROUP);
    let mut waiters = Vec::new();
    while let Ok(first) = inbox.recv() {
        // The group gathers what arrives within GROUP_WINDOW of its first
        // write; once someone waits for the commit, only what is queued
        // already joins it, so a flush waits for a commit, not a window.
        let window_ends = Instant::now() + GROUP_WINDOW;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Write(seq, write) => {
                    if let (Some(seq), Write::Answer(answer)) = (seq, &write) {
                        seqs.push((answer.number, seq));
                    }
                    writes.push(write);
                }
                Message::Flush(waiter) => waiters.push(waiter),
            }
            if writes.len() >= MAX_GROUP {
                break;
            }
            next = match inbox.try_recv() {
                Ok(message) => Some(message),
                Err(_) if waiters.is_empty() => inbox
                    .recv_timeout(window_ends.saturating_duration_since(Instant::now()))
                    .ok(),
                Err(_) => None,
            };
        }
        if let Err(error) = conn.commit(source, &writes) {
            let message = error.detail();
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
        writes.clear();
        let mut pending = lock(pending);
        for (number, seq) in seqs.drain(..) {
            // Only if no newer put of the number is still on its way.
            if pending.entries.get(&number).map(|entry| entry.seq) == Some(seq) {
                pending.entries.remove(&number);
            }
        }
        drop(pending);
        for waiter in waiters.drain(..) {
            let _ = waiter.send(Ok(()));
        }
    }
}
