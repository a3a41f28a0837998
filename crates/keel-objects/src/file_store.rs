//! The embedded object store: one SQLite file per object under a data directory that one process
//! holds an exclusive lock on.
//!
//! Layout: `DATA/LOCK` (the lock, with the holder's pid), `DATA/alarms.sqlite` (alarm index),
//! `DATA/objects/NAMESPACE/XX/ID.sqlite` (XX = the ID's first two hex digits, to keep directories small).
//!
//! SQLite settings, chosen for "durable before acknowledged" at the lowest cost:
//! - `journal_mode=WAL`: a commit appends to one file and fsyncs it once;
//! - `synchronous=FULL`: that fsync happens at every commit, so a returned write survives power loss,
//!   not only a process crash (NORMAL would defer it to checkpoints);
//! - `locking_mode=EXCLUSIVE`: one connection per object, so no `-shm` file (one file fewer to create)
//!   and no other process can open a live object's file behind our back.
//!
//! A new object lives in memory until its first commit with writes. That commit writes the whole
//! database image (already marked as WAL mode) to a temporary file, fsyncs it, renames it into place
//! and fsyncs the directory: the physical floor of creating a durable file, and atomic, so a crash
//! leaves either no object or the whole first commit. Later commits append to the WAL. An object
//! that is only read never touches the disk.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::config::StorageLimits;
use crate::coordinator::Lease;
use crate::error::ObjectError;
use crate::id::{Namespace, ObjectId, ObjectKey};
use crate::schema;
use crate::store::{ObjectDatabase, ObjectStore};

const DB_SUFFIX: &str = ".sqlite";
const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// The embedded store over a data directory.
pub struct FileStore {
    shared: Arc<Shared>,
    _lock: File,
    alarms: Mutex<Connection>,
}

/// What the store and its open databases share.
struct Shared {
    root: PathBuf,
    known_dirs: Mutex<HashSet<PathBuf>>,
    /// The newest epoch each object was opened with: commits from older ones are fenced.
    epochs: Mutex<HashMap<ObjectKey, u64>>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("root", &self.shared.root)
            .finish()
    }
}

fn io_err(what: impl std::fmt::Display, e: io::Error) -> ObjectError {
    let detail = format!("{what}: {e}");
    if e.raw_os_error() == Some(28) {
        ObjectError::Full {
            object: "-".into(),
            detail,
        }
    } else {
        ObjectError::Io {
            object: "-".into(),
            detail,
        }
    }
}

impl FileStore {
    /// Opens (creating) the data directory and takes its exclusive lock, so that no second process
    /// can open the same objects.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, ObjectError> {
        let root = root.into();
        fs::create_dir_all(root.join("objects")).map_err(|e| {
            io_err(
                format_args!("cannot create data directory {}", root.display()),
                e,
            )
        })?;
        let lock_path = root.join("LOCK");
        let mut lock = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| io_err(format_args!("cannot open {}", lock_path.display()), e))?;
        if lock.try_lock().is_err() {
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(ObjectError::DataDirInUse {
                dir: root.display().to_string(),
                holder: if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                },
            });
        }
        lock.set_len(0)
            .and_then(|()| {
                lock.write_all(std::process::id().to_string().as_bytes())?;
                lock.sync_all()
            })
            .map_err(|e| io_err(format_args!("cannot write {}", lock_path.display()), e))?;
        let alarms = open_alarm_index(&root.join("alarms.sqlite"))?;
        Ok(Self {
            shared: Arc::new(Shared {
                root,
                known_dirs: Mutex::new(HashSet::new()),
                epochs: Mutex::new(HashMap::new()),
            }),
            _lock: lock,
            alarms: Mutex::new(alarms),
        })
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// Where an object's database file lives.
    pub fn path_of(&self, key: &ObjectKey) -> PathBuf {
        Self::path_of_in(&self.shared.root, key)
    }

    /// Where an object's database file lives under the data directory `root`.
    pub fn path_of_in(root: &Path, key: &ObjectKey) -> PathBuf {
        let hex = key.id.to_hex();
        root.join("objects")
            .join(key.namespace.as_str())
            .join(&hex[..2])
            .join(format!("{hex}{DB_SUFFIX}"))
    }
}

impl Shared {
    /// Creates a directory and makes its entry durable in each parent it had to create.
    fn ensure_dir(&self, dir: &Path) -> Result<(), ObjectError> {
        let mut known = self.known_dirs.lock().unwrap_or_else(|p| p.into_inner());
        if known.contains(dir) {
            return Ok(());
        }
        let mut missing = Vec::new();
        let mut cur = dir;
        while !cur.exists() {
            missing.push(cur.to_path_buf());
            match cur.parent() {
                Some(p) => cur = p,
                None => break,
            }
        }
        fs::create_dir_all(dir)
            .map_err(|e| io_err(format_args!("cannot create {}", dir.display()), e))?;
        for created in missing.iter().rev() {
            if let Some(parent) = created.parent() {
                sync_dir(parent)?;
            }
        }
        known.insert(dir.to_path_buf());
        Ok(())
    }

    fn is_fenced(&self, key: &ObjectKey, epoch: u64) -> bool {
        self.epochs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .is_some_and(|&newest| newest > epoch)
    }
}

fn sync_dir(dir: &Path) -> Result<(), ObjectError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(format_args!("cannot sync directory {}", dir.display()), e))
}

fn open_alarm_index(path: &Path) -> Result<Connection, ObjectError> {
    let label = path.display().to_string();
    let conn = Connection::open(path).map_err(|e| ObjectError::from_sqlite(&label, e))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE IF NOT EXISTS alarms (namespace TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL,
                                            PRIMARY KEY (namespace, id)) WITHOUT ROWID;",
    )
    .map_err(|e| ObjectError::from_sqlite(&label, e))?;
    Ok(conn)
}

/// Applies the settings every object database gets, on disk (see the module docs) or in memory.
fn configure(conn: &Connection, limits: &StorageLimits, on_disk: bool) -> rusqlite::Result<()> {
    // A file locked by something outside keel fails fast instead of stalling the object.
    conn.busy_timeout(std::time::Duration::from_millis(100))?;
    if on_disk {
        // NORMAL in WAL mode: commits are written, fsynced only at checkpoints.
        let synchronous = match limits.durability {
            crate::Durability::Full => "FULL",
            crate::Durability::Relaxed => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA locking_mode=EXCLUSIVE; PRAGMA synchronous={synchronous}; PRAGMA journal_mode=WAL;"
        ))?;
    }
    let max_pages = (limits.max_object_bytes / 4096).max(16);
    conn.execute_batch(&format!(
        "PRAGMA cache_size=-{};
         PRAGMA max_page_count={max_pages};
         PRAGMA foreign_keys=ON;
         PRAGMA trusted_schema=OFF;",
        limits.cache_kib.max(64),
    ))
}

impl ObjectStore for FileStore {
    fn open(
        &self,
        lease: &Lease,
        limits: &StorageLimits,
    ) -> Result<Box<dyn ObjectDatabase>, ObjectError> {
        let key = &lease.key;
        let label = key.to_string();
        {
            let mut epochs = self.shared.epochs.lock().unwrap_or_else(|p| p.into_inner());
            let newest = epochs.entry(key.clone()).or_insert(0);
            if *newest > lease.epoch {
                return Err(ObjectError::Fenced(label));
            }
            *newest = lease.epoch;
        }
        let path = self.path_of(key);
        let created = !path.exists();
        let sql_err = |e| ObjectError::from_sqlite(&label, e);
        let mut conn = if created {
            Connection::open_in_memory().map_err(sql_err)?
        } else {
            Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(sql_err)?
        };
        configure(&conn, limits, !created).map_err(sql_err)?;
        crate::deadline::install(&mut conn).map_err(sql_err)?;
        crate::sql_guard::install(&mut conn, limits).map_err(sql_err)?;
        Ok(Box::new(FileDatabase {
            conn,
            key: key.clone(),
            label,
            epoch: lease.epoch,
            path,
            created,
            pending: created,
            before_txn: None,
            reopen: false,
            limits: limits.clone(),
            shared: Arc::clone(&self.shared),
        }))
    }

    fn list(&self, namespace: Option<&Namespace>) -> Result<Vec<ObjectKey>, ObjectError> {
        let objects = self.shared.root.join("objects");
        let mut out = Vec::new();
        let namespaces: Vec<Namespace> = match namespace {
            Some(ns) => vec![ns.clone()],
            None => read_names(&objects)?
                .into_iter()
                .filter_map(|n| Namespace::new(n).ok())
                .collect(),
        };
        for ns in namespaces {
            let ns_dir = objects.join(ns.as_str());
            if !ns_dir.exists() {
                continue;
            }
            for shard in read_names(&ns_dir)? {
                for file in read_names(&ns_dir.join(&shard))? {
                    let Some(hex) = file.strip_suffix(DB_SUFFIX) else {
                        continue;
                    };
                    if let Ok(id) = ObjectId::parse(hex) {
                        out.push(ObjectKey::new(ns.clone(), id));
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn delete(&self, key: &ObjectKey) -> Result<bool, ObjectError> {
        let path = self.path_of(key);
        let existed = path.exists();
        remove_object_files(&path).map_err(|e| relabel(e, &key.to_string()))?;
        self.record_alarm(key, None)?;
        Ok(existed)
    }

    fn snapshot(&self, key: &ObjectKey, dest: &Path) -> Result<(), ObjectError> {
        let label = key.to_string();
        let path = self.path_of(key);
        if !path.exists() {
            return Err(ObjectError::InvalidId(format!(
                "object {label} does not exist"
            )));
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| ObjectError::from_sqlite(&label, e))?;
        conn.execute_batch("PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;")
            .map_err(|e| ObjectError::from_sqlite(&label, e))?;
        vacuum_into(&conn, &label, dest)
    }

    fn restore(&self, src: &Path, replace: bool) -> Result<ObjectKey, ObjectError> {
        let shown = src.display().to_string();
        let key = read_snapshot_identity(src)?;
        let label = key.to_string();
        let dest = self.path_of(&key);
        if dest.exists() && !replace {
            return Err(ObjectError::InvalidId(format!(
                "object {label} already exists: pass --replace to overwrite it with {shown}"
            )));
        }
        let parent = dest.parent().unwrap_or(&self.shared.root).to_path_buf();
        self.shared.ensure_dir(&parent)?;
        let tmp = parent.join(format!(".import-{}{DB_SUFFIX}", key.id));
        let copy = || -> io::Result<()> {
            fs::copy(src, &tmp)?;
            File::open(&tmp)?.sync_all()
        };
        copy().map_err(|e| io_err(format_args!("cannot copy {shown}"), e))?;
        // A WAL left by the old object must not be replayed onto the new file.
        for side in SIDE_FILES {
            let _ = fs::remove_file(side_path(&dest, side));
        }
        fs::rename(&tmp, &dest).map_err(|e| io_err("cannot install the imported object", e))?;
        sync_dir(&parent)?;
        let conn = Connection::open(&dest).map_err(|e| ObjectError::from_sqlite(&label, e))?;
        let alarm = conn
            .query_row(
                "SELECT value FROM _keel_meta WHERE key = 'alarm'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .ok();
        drop(conn);
        self.record_alarm(&key, alarm)?;
        Ok(key)
    }

    fn record_alarm(&self, key: &ObjectKey, at_ms: Option<i64>) -> Result<(), ObjectError> {
        let conn = self.alarms.lock().unwrap_or_else(|p| p.into_inner());
        let (ns, id) = (key.namespace.as_str(), key.id.to_hex());
        let result = match at_ms {
            Some(at) => conn.execute(
                "INSERT INTO alarms (namespace, id, at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (namespace, id) DO UPDATE SET at = excluded.at",
                (ns, &id, at),
            ),
            None => conn.execute(
                "DELETE FROM alarms WHERE namespace = ?1 AND id = ?2",
                (ns, &id),
            ),
        };
        result
            .map(drop)
            .map_err(|e| ObjectError::from_sqlite("alarm index", e))
    }

    fn alarms(&self) -> Result<Vec<(ObjectKey, i64)>, ObjectError> {
        let conn = self.alarms.lock().unwrap_or_else(|p| p.into_inner());
        let err = |e| ObjectError::from_sqlite("alarm index", e);
        let mut stmt = conn
            .prepare("SELECT namespace, id, at FROM alarms ORDER BY at")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (ns, id, at) = row.map_err(err)?;
            if let (Ok(ns), Ok(id)) = (Namespace::new(ns), ObjectId::parse(&id)) {
                out.push((ObjectKey::new(ns, id), at));
            }
        }
        Ok(out)
    }
}

fn relabel(e: ObjectError, label: &str) -> ObjectError {
    match e {
        ObjectError::Io { detail, .. } => ObjectError::Io {
            object: label.into(),
            detail,
        },
        ObjectError::Full { detail, .. } => ObjectError::Full {
            object: label.into(),
            detail,
        },
        other => other,
    }
}

fn read_names(dir: &Path) -> Result<Vec<String>, ObjectError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(format_args!("cannot list {}", dir.display()), e)),
    };
    Ok(entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect())
}

fn side_path(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn remove_object_files(path: &Path) -> Result<(), ObjectError> {
    let mut removed = false;
    for file in SIDE_FILES
        .iter()
        .map(|side| side_path(path, side))
        .chain([path.to_path_buf()])
    {
        match fs::remove_file(&file) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(format_args!("cannot remove {}", file.display()), e)),
        }
    }
    match path.parent() {
        Some(parent) if removed => sync_dir(parent),
        _ => Ok(()),
    }
}

/// Writes a compact, consistent copy of the database to `dest` (which must not exist).
pub(crate) fn vacuum_into(conn: &Connection, label: &str, dest: &Path) -> Result<(), ObjectError> {
    if dest.exists() {
        return Err(ObjectError::Io {
            object: label.into(),
            detail: format!("{} already exists: choose a new file name", dest.display()),
        });
    }
    let dest_str = dest.to_str().ok_or_else(|| ObjectError::Io {
        object: label.into(),
        detail: format!("{} is not a UTF-8 path", dest.display()),
    })?;
    crate::sql_guard::with_one_attachment(conn, || conn.execute("VACUUM INTO ?1", [dest_str]))
        .map(drop)
        .map_err(|e| ObjectError::from_sqlite(label, e))
}

/// Checks an exported file and reads which object it is.
fn read_snapshot_identity(src: &Path) -> Result<ObjectKey, ObjectError> {
    let shown = src.display().to_string();
    let not_export = |detail: String| {
        ObjectError::InvalidValue(format!("{shown} is not a keel object export: {detail}"))
    };
    let conn = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| not_export(e.to_string()))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| not_export(e.to_string()))?;
    if check != "ok" {
        return Err(not_export(format!("integrity check failed: {check}")));
    }
    let ns = schema::read_meta(&conn, "namespace").map_err(|e| not_export(e.to_string()))?;
    let id = schema::read_meta(&conn, "id").map_err(|e| not_export(e.to_string()))?;
    match (ns, id) {
        (Some(ns), Some(id)) => Ok(ObjectKey::new(Namespace::new(ns)?, ObjectId::parse(&id)?)),
        _ => Err(not_export("it names no object".into())),
    }
}

/// An open object database of the [`FileStore`].
struct FileDatabase {
    conn: Connection,
    key: ObjectKey,
    label: String,
    epoch: u64,
    path: PathBuf,
    created: bool,
    /// In memory, not yet on disk: the object does not exist until its first commit with writes.
    pending: bool,
    /// The in-memory image before the open transaction, to undo a commit whose write to disk failed.
    before_txn: Option<Vec<u8>>,
    /// The first commit was written to the file; the next transaction opens it.
    reopen: bool,
    limits: StorageLimits,
    shared: Arc<Shared>,
}

impl FileDatabase {
    fn err(&self, e: rusqlite::Error) -> ObjectError {
        ObjectError::from_sqlite(&self.label, e)
    }

    /// The whole in-memory database as bytes.
    fn image(&mut self) -> Result<Vec<u8>, ObjectError> {
        let label = &self.label;
        let data = self
            .conn
            .serialize(rusqlite::MAIN_DB)
            .map_err(|e| ObjectError::from_sqlite(label, e))?;
        Ok(data.to_vec())
    }

    /// Writes the in-memory database as the object's file, atomically and durably, and switches to it.
    fn persist(&mut self) -> Result<(), ObjectError> {
        let mut image = self.image()?;
        if image.len() >= 100 {
            // Header bytes 18 and 19 (read and write format) = 2 mark the file as WAL mode, so
            // opening it needs no header rewrite (and no extra fsync).
            image[18] = 2;
            image[19] = 2;
        }
        let parent = self
            .path
            .parent()
            .unwrap_or(&self.shared.root)
            .to_path_buf();
        self.shared
            .ensure_dir(&parent)
            .map_err(|e| relabel(e, &self.label))?;
        let tmp = parent.join(format!(".{}.new", self.key.id));
        let write = || -> io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&image)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(relabel(
                io_err("cannot create the object's database file", e),
                &self.label,
            ));
        }
        sync_dir(&parent).map_err(|e| relabel(e, &self.label))?;
        self.pending = false;
        // The commit is durable now; the file is opened by the next transaction, not before the
        // acknowledgement goes out.
        self.reopen = true;
        Ok(())
    }

    /// Switches from the in-memory copy to the file written by `persist`.
    fn open_persisted(&mut self) -> Result<(), ObjectError> {
        let mut conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| self.err(e))?;
        configure(&conn, &self.limits, true).map_err(|e| self.err(e))?;
        crate::deadline::install(&mut conn).map_err(|e| self.err(e))?;
        crate::sql_guard::install(&mut conn, &self.limits).map_err(|e| self.err(e))?;
        self.conn = conn;
        self.reopen = false;
        Ok(())
    }

    fn restore_before_txn(&mut self) {
        if let Some(image) = self.before_txn.take() {
            let len = image.len();
            let restored = self.conn.deserialize_read_exact(
                rusqlite::MAIN_DB,
                std::io::Cursor::new(image),
                len,
                false,
            );
            if let Err(e) = restored {
                tracing::error!(object = %self.label, error = %e, "cannot restore the in-memory object");
            }
        }
    }
}

impl ObjectDatabase for FileDatabase {
    fn connection(&self) -> &Connection {
        &self.conn
    }

    fn created(&self) -> bool {
        self.created
    }

    fn begin(&mut self) -> Result<(), ObjectError> {
        if self.reopen {
            self.open_persisted()?;
        }
        if self.pending {
            let image = self.image()?;
            self.before_txn = Some(image);
        }
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))
    }

    fn commit(&mut self, writes: bool) -> Result<(), ObjectError> {
        if self.shared.is_fenced(&self.key, self.epoch) {
            self.rollback();
            return Err(ObjectError::Fenced(self.label.clone()));
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let e = self.err(e);
            self.rollback();
            return Err(e);
        }
        if self.pending
            && writes
            && let Err(e) = self.persist()
        {
            self.restore_before_txn();
            return Err(e);
        }
        self.before_txn = None;
        Ok(())
    }

    fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.before_txn = None;
    }

    fn close(self: Box<Self>) -> Result<(), ObjectError> {
        {
            // Forget the epoch once its holder is gone, so the map does not grow with every object
            // ever opened; epochs only grow, so a later open cannot be confused by its absence.
            let mut epochs = self.shared.epochs.lock().unwrap_or_else(|p| p.into_inner());
            if epochs.get(&self.key) == Some(&self.epoch) {
                epochs.remove(&self.key);
            }
        }
        let label = self.label.clone();
        self.conn
            .close()
            .map_err(|(_, e)| ObjectError::from_sqlite(&label, e))
    }
}

impl FileStore {
    /// True if a commit with `epoch` on `key` would be fenced (for tests of the fencing rule).
    pub fn would_fence(&self, key: &ObjectKey, epoch: u64) -> bool {
        self.shared.is_fenced(key, epoch)
    }
}

/// What `keel objects list` shows about a stored object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    /// The name it was reached by, for named objects.
    pub name: Option<String>,
    /// Bytes on disk (database and WAL).
    pub bytes: u64,
    /// When its alarm is due, in milliseconds since the Unix epoch.
    pub alarm_ms: Option<i64>,
}

impl FileStore {
    /// True if the object has a database file.
    pub fn exists(&self, key: &ObjectKey) -> bool {
        self.path_of(key).exists()
    }

    /// Reads an object's name, size and alarm without activating it. The object must not be live.
    pub fn describe(&self, key: &ObjectKey) -> Result<ObjectInfo, ObjectError> {
        let label = key.to_string();
        let path = self.path_of(key);
        let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let bytes = size(&path) + size(&side_path(&path, "-wal"));
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| ObjectError::from_sqlite(&label, e))?;
        let name =
            schema::read_meta(&conn, "name").map_err(|e| ObjectError::from_sqlite(&label, e))?;
        let alarm_ms = schema::read_meta(&conn, "alarm")
            .map_err(|e| ObjectError::from_sqlite(&label, e))?
            .and_then(|a| a.parse().ok());
        Ok(ObjectInfo {
            name,
            bytes,
            alarm_ms,
        })
    }
}
