//! SQLite storage: one connection behind a lock (SQLite serialises writers
//! anyway, and a single connection makes every state change trivially
//! atomic), schema migrations keyed on `PRAGMA
//! user_version`, and the server's persisted settings.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{ApiError, ApiResult, StartError};

pub const DB_FILE: &str = "verify.sqlite3";

/// Ordered schema migrations; migration `i` brings `user_version` to `i + 1`.
/// Never edit a shipped entry: append a new one.
const MIGRATIONS: &[&str] = &[r#"
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
"#];

/// Handle to the server's one connection. Cloning is cheap.
#[derive(Clone)]
pub struct Db {
    /// `None` once closed.
    conn: Arc<Mutex<Option<Connection>>>,
}

/// Prepared statements kept per connection: every hot query fits.
const STATEMENT_CACHE_CAPACITY: usize = 64;

impl Db {
    pub fn open(dir: &Path) -> Result<Db, StartError> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            // Create it 0600 up front: it holds the auth token.
            crate::tls::write_file(&path, b"", true)?;
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
        // Checkpoint (copy the WAL back, with an fsync) every ~16 MB rather
        // than every 4 MB: the hot index pages are rewritten many times in
        // between and get copied once, and a checkpoint holds the
        // connection lock, so rarer is smoother.
        conn.pragma_update(None, "wal_autocheckpoint", 4000)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        migrate(&mut conn)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(Some(conn))),
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
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let conn = guard.as_mut().ok_or_else(closed)?;
        // A panicking job must not take the database down with it: its
        // caller sees an internal error and the next request is served.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
            .map_err(|_| ApiError::Internal("database job failed".into()))?
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
