//! SQLite storage: one connection behind a lock (SQLite serialises writers
//! anyway, and a single connection makes every state change trivially
//! atomic), schema migrations keyed on `PRAGMA
//! user_version`, and the server's persisted settings.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use rusqlite::hooks::Wal;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{ApiError, ApiResult, StartError};

pub const DB_FILE: &str = "verify.sqlite3";

/// Ordered schema migrations; migration `i` brings `user_version` to `i + 1`.
/// Never edit a shipped entry: append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE services (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    sid           TEXT NOT NULL UNIQUE,
    friendly_name TEXT NOT NULL,
    settings      TEXT NOT NULL,
    date_created  INTEGER NOT NULL,
    date_updated  INTEGER NOT NULL
);
CREATE TABLE access_tokens (
    sid                  TEXT PRIMARY KEY,
    service_sid          TEXT NOT NULL REFERENCES services(sid) ON DELETE CASCADE,
    identity             TEXT NOT NULL,
    factor_type          TEXT NOT NULL,
    factor_friendly_name TEXT,
    token                TEXT NOT NULL UNIQUE,
    ttl                  INTEGER NOT NULL,
    date_created         INTEGER NOT NULL,
    used                 INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE entities (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    sid          TEXT NOT NULL UNIQUE,
    service_sid  TEXT NOT NULL REFERENCES services(sid) ON DELETE CASCADE,
    identity     TEXT NOT NULL COLLATE NOCASE,
    date_created INTEGER NOT NULL,
    date_updated INTEGER NOT NULL,
    UNIQUE (service_sid, identity)
);
CREATE TABLE factors (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    sid             TEXT NOT NULL UNIQUE,
    service_sid     TEXT NOT NULL,
    entity_sid      TEXT NOT NULL REFERENCES entities(sid) ON DELETE CASCADE,
    identity        TEXT NOT NULL,
    friendly_name   TEXT NOT NULL,
    factor_type     TEXT NOT NULL,
    status          TEXT NOT NULL,
    credential_sid  TEXT UNIQUE,
    binding         TEXT NOT NULL,
    config          TEXT NOT NULL,
    metadata        TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    date_created    INTEGER NOT NULL,
    date_updated    INTEGER NOT NULL
);
CREATE INDEX factors_entity ON factors (entity_sid, seq);
CREATE TABLE factor_creations (
    entity_sid TEXT NOT NULL REFERENCES entities(sid) ON DELETE CASCADE,
    at         INTEGER NOT NULL
);
CREATE INDEX factor_creations_entity ON factor_creations (entity_sid, at);
CREATE TABLE challenges (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    sid              TEXT NOT NULL UNIQUE,
    service_sid      TEXT NOT NULL,
    entity_sid       TEXT NOT NULL REFERENCES entities(sid) ON DELETE CASCADE,
    identity         TEXT NOT NULL,
    factor_sid       TEXT NOT NULL REFERENCES factors(sid) ON DELETE CASCADE,
    factor_type      TEXT NOT NULL,
    status           TEXT NOT NULL,
    responded_reason TEXT NOT NULL,
    details          TEXT NOT NULL,
    hidden_details   TEXT,
    metadata         TEXT,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    date_created     INTEGER NOT NULL,
    date_updated     INTEGER NOT NULL,
    date_responded   INTEGER,
    expiration_date  INTEGER NOT NULL
);
CREATE INDEX challenges_entity ON challenges (entity_sid, seq);
CREATE INDEX challenges_factor ON challenges (factor_sid, date_created);
CREATE TABLE notifications (
    sid           TEXT PRIMARY KEY,
    challenge_sid TEXT NOT NULL REFERENCES challenges(sid) ON DELETE CASCADE,
    priority      TEXT NOT NULL,
    ttl           INTEGER NOT NULL,
    date_created  INTEGER NOT NULL
);
CREATE TABLE webhooks (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    sid            TEXT NOT NULL UNIQUE,
    service_sid    TEXT NOT NULL REFERENCES services(sid) ON DELETE CASCADE,
    friendly_name  TEXT NOT NULL,
    event_types    TEXT NOT NULL,
    status         TEXT NOT NULL,
    version        TEXT NOT NULL,
    webhook_url    TEXT NOT NULL,
    webhook_method TEXT NOT NULL,
    date_created   INTEGER NOT NULL,
    date_updated   INTEGER NOT NULL
);
"#,
    // RFC 6238 §5.2: the last TOTP time step accepted, per factor; only a
    // later one is accepted next. Indexes for the pending-challenge limit
    // and for purging expired challenges.
    r#"
ALTER TABLE factors ADD COLUMN totp_last_step INTEGER;
CREATE INDEX challenges_pending_push ON challenges (entity_sid, expiration_date)
    WHERE status = 'pending' AND factor_type = 'push';
CREATE INDEX challenges_expiration ON challenges (expiration_date);
"#,
];

/// Handle to the server's one connection. Cloning is cheap.
#[derive(Clone)]
pub struct Db {
    /// `None` once closed.
    conn: SharedConnection,
    /// How long to spin for a contended lock before sleeping (see
    /// [`Db::lock`]); zero on a single core, where the holder could not run.
    spin_for_lock: std::time::Duration,
}

/// Prepared statements kept per connection: every hot query fits.
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// WAL size (pages) at which the background thread checkpoints: copies the
/// log back into the database file so the next commit can restart it.
pub const CHECKPOINT_PAGES: i32 = 4000;

/// Should the background thread fall this far behind, the committing
/// request checkpoints inline, so the log stays bounded whatever happens.
const INLINE_CHECKPOINT_FACTOR: i32 = 8;

type SharedConnection = Arc<Mutex<Option<Connection>>>;

/// How long a job waits for the connection's lock by spinning before it
/// sleeps (see [`Db::lock`]).
const SPIN_FOR_LOCK: std::time::Duration = std::time::Duration::from_micros(50);

impl Db {
    pub fn open(dir: &Path) -> Result<Db, StartError> {
        Db::open_with_checkpoint_at(dir, CHECKPOINT_PAGES)
    }

    /// [`Db::open`] with the background checkpoint threshold given (tests
    /// use small ones).
    pub fn open_with_checkpoint_at(dir: &Path, checkpoint_pages: i32) -> Result<Db, StartError> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            // Create it 0600 up front: it holds the auth token.
            crate::files::write_atomic(&path, b"", true)?;
        }
        let mut conn = Connection::open(&path)?;
        // Only this process's single connection ever uses the file, so it
        // holds the lock for its lifetime: no per-statement lock system
        // calls and no shared-memory WAL index. A second server on the same
        // data dir fails to start ("database is locked") instead of sharing.
        // Must precede the first WAL access.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Durability trade-off for a dev/test server: in WAL mode NORMAL
        // never corrupts the database, but a power loss (not a crash of this
        // process) may drop the last few committed transactions. Each commit
        // then costs a WAL append instead of an fsync.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        migrate(&mut conn)?;
        let shared: SharedConnection = Arc::new(Mutex::new(None));
        let kick = spawn_checkpointer(dir.join(format!("{DB_FILE}-wal")), Arc::downgrade(&shared))?;
        // Replaces SQLite's automatic checkpoint, which would run inside
        // the commit that crosses the threshold: under the connection lock,
        // with an fsync of the whole log (~13 ms for 16 MB here) that every
        // queued request waits out.
        conn.wal_hook(Some(move |wal: &mut Wal, pages: std::ffi::c_int| {
            if pages >= checkpoint_pages.saturating_mul(INLINE_CHECKPOINT_FACTOR) {
                wal.checkpoint()?;
            } else if pages >= checkpoint_pages {
                // Full means a checkpoint is already due: nothing to add.
                let _ = kick.try_send(());
            }
            Ok(())
        }))?;
        *shared.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Db {
            conn: shared,
            spin_for_lock: if cores > 1 {
                SPIN_FOR_LOCK
            } else {
                std::time::Duration::ZERO
            },
        })
    }

    /// Run `f` on the connection, under its lock. One connection serves
    /// every request: SQLite serialises writers anyway, and every closure is
    /// trivially atomic with respect to the others. The closures are short
    /// (a few indexed statements, tens of microseconds), so running them on
    /// the async worker beats handing them to another thread: a hop costs
    /// two wake-ups and context switches per request, more than the query.
    pub async fn call<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> ApiResult<T> + Send + 'static,
    {
        self.run(f)
    }

    /// Blocking access for unit tests (outside any runtime).
    #[cfg(test)]
    pub fn call_sync<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> ApiResult<T> + Send + 'static,
    {
        self.run(f)
    }

    fn run<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&mut Connection) -> ApiResult<T>,
    {
        // A job that panicked left nothing half-done (its transaction rolled
        // back on unwind), so a poisoned lock is safe to keep using.
        let mut guard = self.lock();
        let conn = guard.as_mut().ok_or_else(closed)?;
        // A panicking job must not take the database down with it: its
        // caller sees an internal error and the next request is served.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
            .map_err(|_| ApiError::Internal("database job failed".into()))?
    }

    /// The connection's lock. Jobs hold it for tens of microseconds, less
    /// than a sleeping thread takes to be woken again (a futex wait, then a
    /// wake-up across cores), so a contended lock is first waited for by
    /// spinning briefly. Checkpoints hold it for milliseconds: their
    /// waiters then sleep.
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        let started = std::time::Instant::now();
        loop {
            match self.conn.try_lock() {
                Ok(guard) => return guard,
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            if started.elapsed() >= self.spin_for_lock {
                return self.conn.lock().unwrap_or_else(PoisonError::into_inner);
            }
            std::hint::spin_loop();
        }
    }

    /// Close the connection, releasing its file lock (so a restart on the
    /// same data dir can open it at once). Later calls on any handle fail.
    pub async fn close(&self) {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(conn);
    }
}

/// Start the thread that checkpoints the WAL when the commit hook asks. It
/// first flushes the log to disk without holding the connection lock, so
/// the checkpoint's own fsync, taken under the lock, finds almost nothing
/// left to write (a few milliseconds instead of a dozen). It stops when
/// the connection, and with it the hook's sender, is dropped.
fn spawn_checkpointer(
    wal_path: PathBuf,
    conn: Weak<Mutex<Option<Connection>>>,
) -> Result<SyncSender<()>, StartError> {
    let (kick, kicked) = sync_channel(1);
    std::thread::Builder::new()
        .name("verify-db-checkpoint".into())
        .spawn(move || checkpoint_when_kicked(&kicked, &wal_path, &conn))
        .map_err(|e| StartError::Other(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(kick)
}

fn checkpoint_when_kicked(
    kicked: &Receiver<()>,
    wal_path: &Path,
    conn: &Weak<Mutex<Option<Connection>>>,
) {
    while kicked.recv().is_ok() {
        // Any descriptor's fsync flushes the file's dirty pages.
        if let Ok(wal) = std::fs::File::open(wal_path)
            && let Err(e) = wal.sync_data()
        {
            tracing::warn!("flushing the WAL failed: {e}");
        }
        let Some(conn) = conn.upgrade() else { return };
        let guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(c) = guard.as_ref() else { return };
        if let Err(e) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!("WAL checkpoint failed: {e}");
        }
        drop(guard);
        // Kicks sent while this ran asked for the checkpoint just done.
        while kicked.try_recv().is_ok() {}
    }
}

fn closed() -> ApiError {
    ApiError::Internal("database closed".into())
}

fn migrate(conn: &mut Connection) -> Result<(), StartError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(0);
    if version > MIGRATIONS.len() {
        return Err(StartError::Other(format!(
            "database schema version {version} is newer than this server ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

pub fn get_setting(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
}

pub fn set_setting(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_settings_persist() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Db::open(dir.path()).unwrap();
            db.call_sync(|c| Ok(set_setting(c, "k", "v")?)).unwrap();
        }
        let db = Db::open(dir.path()).unwrap();
        let v = db.call_sync(|c| Ok(get_setting(c, "k")?)).unwrap();
        assert_eq!(v.as_deref(), Some("v"));
        let ver: i64 = db
            .call_sync(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
            .unwrap();
        assert_eq!(ver as usize, MIGRATIONS.len());
    }

    #[test]
    fn a_background_thread_checkpoints_the_log() {
        use std::time::{Duration, Instant};
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_with_checkpoint_at(dir.path(), 20).unwrap();
        let db_file = dir.path().join(DB_FILE);
        let before = std::fs::metadata(&db_file).unwrap().len();
        // Ten commits of 8 KiB each: more than 20 pages of new data, which
        // lives only in the log until a checkpoint copies it over. Nothing
        // here checkpoints (and the inline limit is eight times higher), so
        // only the background thread can.
        for i in 0..10 {
            db.call_sync(move |c| Ok(set_setting(c, &format!("k{i}"), &"x".repeat(8192))?))
                .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&db_file).unwrap().len() < before + 80 * 1024 {
            assert!(Instant::now() < deadline, "the log was never checkpointed");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[tokio::test]
    async fn close_releases_the_database_for_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = Db::open(dir.path()).unwrap();
        first
            .call(|c| Ok(set_setting(c, "k", "before restart")?))
            .await
            .unwrap();
        let clone = first.clone();
        first.close().await;
        // Every handle is closed, not just the one `close` was called on.
        assert!(clone.call(|c| Ok(get_setting(c, "k")?)).await.is_err());
        // The exclusive lock is gone: a new connection opens at once.
        let second = Db::open(dir.path()).unwrap();
        let v = second.call(|c| Ok(get_setting(c, "k")?)).await.unwrap();
        assert_eq!(v.as_deref(), Some("before restart"));
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let failed = db
            .call(|c| -> ApiResult<()> {
                let tx = c.transaction()?;
                set_setting(&tx, "k", "never committed")?;
                panic!("job bug");
            })
            .await;
        assert!(failed.is_err());
        // The thread survived and the half-done transaction rolled back.
        let v = db.call(|c| Ok(get_setting(c, "k")?)).await.unwrap();
        assert_eq!(v, None);
    }
}
