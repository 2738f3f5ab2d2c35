//! The SQLite backend: one file, WAL mode, `synchronous = FULL` so that a
//! committed write survives a power cut (webhooks are acknowledged only once
//! stored).

use std::{
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    SqlitePool,
};

use super::{Error, Result};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    journal: SqlitePool,
}

/// The file a `sqlite:` URL points at, or `None` for an in-memory database.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    let in_memory = path.as_os_str().is_empty()
        || path == Path::new(":memory:")
        || path.to_string_lossy().starts_with("file:sqlx-in-memory");
    (!in_memory).then(|| path.to_path_buf())
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self> {
        if let Some(parent) = sqlite_file(url).as_deref().and_then(Path::parent) {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|source| Error::Location {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await?;
        MIGRATIONS.run(&pool).await?;
        // The webhook path (journal writer and pipeline) shares one
        // connection: SQLite has one writer anyway, and waiting in the pool's
        // queue is fair and immediate, where competing connections back off
        // in SQLite's busy handler for tens of milliseconds under load.
        let journal = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        Ok(Self { pool, journal })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The connection the webhook journal and pipeline write through.
    pub fn journal_pool(&self) -> &SqlitePool {
        &self.journal
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.journal.close().await;
        self.pool.close().await;
    }
}
