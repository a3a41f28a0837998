//! Storage threads, reused. Each live object owns a thread for as long as it is live; when it is
//! evicted the thread parks here for a while so that the next activation skips creating one.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

type Work = Box<dyn FnOnce() + Send>;

/// Idle threads waiting for work, newest last.
static IDLE: Mutex<Vec<mpsc::Sender<Work>>> = Mutex::new(Vec::new());
/// At most this many threads wait; the rest exit when their object is evicted.
const MAX_IDLE: usize = 64;
/// An idle thread exits after waiting this long.
const IDLE_FOR: Duration = Duration::from_secs(30);
/// Stack of a storage thread: room for SQLite's deepest recursion (expression trees up to its
/// depth limit of 1000), while staying well under the 8 MiB default.
const STACK_BYTES: usize = 1 << 20;

fn idle() -> MutexGuard<'static, Vec<mpsc::Sender<Work>>> {
    IDLE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Idle threads kept ready even before any object was evicted, so that activating a brand-new
/// object does not wait for a thread to be created.
const SPARES: usize = 2;

/// Runs `work` on a storage thread: an idle one if there is one, else a new one. Then tops up the
/// spare threads, while `work` runs on its own.
pub(crate) fn run(work: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    let mut work: Option<Work> = Some(Box::new(work));
    while let Some(w) = work.take() {
        let Some(thread) = idle().pop() else {
            work = Some(w);
            break;
        };
        if let Err(mpsc::SendError(w)) = thread.send(w) {
            // That thread timed out and exited; its work comes back to us.
            work = Some(w);
        }
    }
    if work.is_some() {
        spawn(work)?;
    }
    if idle().len() < SPARES {
        // A spare that cannot be created is no error: the next activation creates its own thread.
        let _ = spawn(None);
    }
    Ok(())
}

fn spawn(work: Option<Work>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("keel-object".into())
        .stack_size(STACK_BYTES)
        .spawn(move || worker(work))
        .map(drop)
}

fn worker(first: Option<Work>) {
    let mut work = first;
    loop {
        if let Some(work) = work.take() {
            work();
        }
        let (tx, rx) = mpsc::channel();
        {
            let mut idle = idle();
            if idle.len() >= MAX_IDLE {
                return;
            }
            idle.push(tx);
        }
        match rx.recv_timeout(IDLE_FOR) {
            Ok(next) => work = Some(next),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
        }
    }
}
