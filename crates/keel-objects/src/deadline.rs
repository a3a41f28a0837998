//! A time limit on SQL statements. Each object's connection gets a progress handler once, when it
//! is opened; the handler reads a deadline kept per thread, which is set only while a user statement
//! runs (a connection is only ever used on its object's storage thread).

use std::cell::Cell;
use std::time::{Duration, Instant};

use rusqlite::Connection;

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// SQLite calls the handler every this many virtual-machine steps.
const STEPS: std::ffi::c_int = 4096;

/// Installs the handler that interrupts a statement running past the current deadline.
pub(crate) fn install(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.progress_handler(
        STEPS,
        Some(|| DEADLINE.with(|d| d.get().is_some_and(|at| Instant::now() > at))),
    )
}

/// Runs `f` with statements limited to `limit` from now.
pub(crate) fn with_limit<T>(limit: Duration, f: impl FnOnce() -> T) -> T {
    let previous = DEADLINE.with(|d| d.replace(Some(Instant::now() + limit)));
    let result = f();
    DEADLINE.with(|d| d.set(previous));
    result
}
