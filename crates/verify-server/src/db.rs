//! SQLite storage: one connection behind a mutex (SQLite serialises writers
//! anyway, and a single connection makes every state change trivially
//! atomic), schema migrations keyed on `PRAGMA user_version`, and the
//! server's persisted settings.

use std::path::Path;
use std::sync::{Arc, Mutex};

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

#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    pub fn open(dir: &Path) -> Result<Db, StartError> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            // Create it 0600 up front: it holds the auth token.
            crate::tls::write_file(&path, b"", true)?;
        }
        let mut conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Run `f` with exclusive access to the connection on the blocking pool,
    /// so SQLite I/O never stalls the async workers.
    pub async fn call<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> ApiResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside a previous closure cannot leave a half-applied
            // transaction (it rolls back on drop), so a poisoned lock is safe
            // to reuse.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("db task: {e}")))?
    }

    /// Synchronous access for start-up code.
    pub fn call_sync<T>(&self, f: impl FnOnce(&mut Connection) -> ApiResult<T>) -> ApiResult<T> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
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
}
