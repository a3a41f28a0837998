//! The storage thread of one live object. It owns the object's database and runs storage calls one
//! at a time, in arrival order. Calls that arrive while a commit is being made are grouped into the
//! next transaction, each under its own savepoint, so that one fsync acknowledges all of them (the
//! output gate: no reply leaves before its commit is durable).

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::config::StorageLimits;
use crate::coordinator::Lease;
use crate::error::ObjectError;
use crate::schema::{self, Identity, Migration};
use crate::store::{ObjectDatabase, ObjectStore};
use crate::txn::Txn;

/// Delivers a job's result once its commit's outcome is known (`Some` if the commit failed).
pub(crate) type Reply = Box<dyn FnOnce(Option<&ObjectError>) + Send>;
/// A storage call: runs against the open transaction (or, if none could be started, gets the
/// error); says whether it succeeded, and how to reply.
pub(crate) type Job = Box<dyn FnOnce(Result<&Txn<'_>, &ObjectError>) -> (bool, Reply) + Send>;
/// Work that must run outside any transaction (such as `VACUUM INTO`).
pub(crate) type DirectJob = Box<dyn FnOnce(&rusqlite::Connection, &str) + Send>;

pub(crate) enum Msg {
    Job(Job),
    Direct(DirectJob),
    Close(oneshot::Sender<Result<(), ObjectError>>),
}

/// What the storage thread needs to open its object.
pub(crate) struct ActorSpec {
    pub store: Arc<dyn ObjectStore>,
    pub lease: Lease,
    pub limits: StorageLimits,
    pub name: Option<String>,
    pub migrations: Arc<[Migration]>,
}

/// Starts the storage thread and waits until the object is open and migrated.
pub(crate) async fn spawn(spec: ActorSpec) -> Result<mpsc::Sender<Msg>, ObjectError> {
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    let label = spec.lease.key.to_string();
    crate::threads::run(move || run(spec, rx, ready_tx)).map_err(|e| ObjectError::Io {
        object: label.clone(),
        detail: format!("cannot start the object's storage thread: {e}"),
    })?;
    match ready_rx.await {
        Ok(Ok(())) => Ok(tx),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ObjectError::Closed(label)),
    }
}

fn run(spec: ActorSpec, rx: mpsc::Receiver<Msg>, ready: oneshot::Sender<Result<(), ObjectError>>) {
    let label = spec.lease.key.to_string();
    let opened = spec.store.open(&spec.lease, &spec.limits);
    // The store is only needed to open: not holding it lets the store (and its data-directory
    // lock) go the moment the host lets go of it, even while this thread is still finishing.
    drop(spec.store);
    let mut db = match opened {
        Ok(db) => db,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    // A new object lives in memory and its setup cannot meet a disk error, so the caller may go on
    // at once: its first call queues behind the setup instead of waiting for a round trip.
    let mut ready = Some(ready);
    if db.created()
        && let Some(ready) = ready.take()
    {
        let _ = ready.send(Ok(()));
    }
    let identity = Identity {
        namespace: spec.lease.key.namespace.as_str(),
        id: &spec.lease.key.id.to_hex(),
        name: spec.name.as_deref(),
    };
    let init = db.begin().and_then(|()| {
        let wrote = Cell::new(false);
        let txn = Txn::new(db.connection(), &spec.limits, &label, &wrote);
        schema::initialize(&txn, &identity, &spec.migrations)
    });
    // Setting up a new object's schema is not a write that makes it exist: it becomes durable with
    // the object's first real write. Migrating an existing object is durable at once.
    let init = match init {
        Ok(_) => db.commit(!db.created()),
        Err(e) => {
            db.rollback();
            Err(e)
        }
    };
    if let Err(e) = init {
        let _ = db.close();
        match ready.take() {
            Some(ready) => {
                let _ = ready.send(Err(e));
            }
            None => refuse_all(&rx, &e),
        }
        return;
    }
    if let Some(ready) = ready.take()
        && ready.send(Ok(())).is_err()
    {
        let _ = db.close();
        return;
    }

    let mut pending: Option<Msg> = None;
    loop {
        let msg = match pending.take() {
            Some(m) => m,
            None => match rx.recv() {
                Ok(m) => m,
                // Every handle is gone without a Close: close cleanly all the same.
                Err(_) => {
                    if let Err(e) = db.close() {
                        tracing::warn!(object = %label, error = %e, "closing object failed");
                    }
                    return;
                }
            },
        };
        match msg {
            Msg::Close(reply) => {
                let _ = reply.send(db.close());
                return;
            }
            Msg::Direct(job) => {
                let conn = db.connection();
                if catch_unwind(AssertUnwindSafe(|| job(conn, &label))).is_err() {
                    tracing::error!(object = %label, "direct storage job panicked");
                }
            }
            Msg::Job(first) => {
                let mut batch = vec![first];
                while batch.len() < spec.limits.max_batch {
                    match rx.try_recv() {
                        Ok(Msg::Job(job)) => batch.push(job),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                run_batch(db.as_mut(), batch, &spec.limits, &label);
            }
        }
    }
}

/// Runs jobs in one transaction, each under a savepoint so a failing job undoes only itself, then
/// commits once and replies to all of them.
fn run_batch(db: &mut dyn ObjectDatabase, batch: Vec<Job>, limits: &StorageLimits, label: &str) {
    if let Err(e) = db.begin() {
        batch.into_iter().for_each(|job| job(Err(&e)).1(None));
        return;
    }
    let single = batch.len() == 1;
    let mut writes = false;
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        let conn = db.connection();
        if !single && let Err(e) = conn.execute_batch("SAVEPOINT job") {
            let err = ObjectError::from_sqlite(label, e);
            replies.push(job(Err(&err)).1);
            continue;
        }
        let job_wrote = Cell::new(false);
        let txn = Txn::new(conn, limits, label, &job_wrote);
        let (ok, reply) = match catch_unwind(AssertUnwindSafe(|| job(Ok(&txn)))) {
            Ok(outcome) => outcome,
            Err(_) => (false, Box::new(|_: Option<&ObjectError>| {}) as Reply),
        };
        if !single {
            let undo = if ok {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            };
            if let Err(e) = conn.execute_batch(undo) {
                tracing::error!(object = %label, error = %e, "savepoint failed");
            }
        }
        writes |= ok && job_wrote.get();
        if single && !ok {
            db.rollback();
            reply(None);
            return;
        }
        replies.push(reply);
    }
    match db.commit(writes) {
        Ok(()) => replies.into_iter().for_each(|r| r(None)),
        Err(e) => {
            db.rollback();
            tracing::warn!(object = %label, error = %e, "group commit failed");
            replies.into_iter().for_each(|r| r(Some(&e)));
        }
    }
}

/// After a failed setup that the caller was not waiting for: every call gets the setup's error
/// until the host closes the object (the next activation tries again).
fn refuse_all(rx: &mpsc::Receiver<Msg>, error: &ObjectError) {
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Job(job) => job(Err(error)).1(None),
            Msg::Direct(_) => {}
            Msg::Close(reply) => {
                let _ = reply.send(Ok(()));
                return;
            }
        }
    }
}
