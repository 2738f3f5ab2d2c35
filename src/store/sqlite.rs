//! The SQLite backend: one file, WAL mode, `synchronous = FULL` so that a
//! committed write survives a power cut (webhooks are acknowledged only once
//! stored).

use std::{
    path::{Path, PathBuf},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    SqlitePool,
};

use super::{Error, Result};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static JOURNAL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite-journal");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    journal: SqlitePool,
    /// Taken by the busiest writers of the main file (the pipeline's
    /// transactions, the outbox's claims and records) before SQLite's
    /// write lock: they queue here, fairly, and each starts the moment the
    /// last is done, where competing connections would back off in
    /// SQLite's busy handler for milliseconds at a time.
    writes: Arc<tokio::sync::Mutex<()>>,
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

/// `data/switchboard.db` -> `data/switchboard-journal.db`.
pub fn journal_file(main: &Path) -> PathBuf {
    let stem = main
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = main
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    main.with_file_name(format!("{stem}-journal{extension}"))
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
        // The webhook journal lives in a file of its own, so appends never
        // wait behind the pipeline's writes to the main file. One connection:
        // appends, claims and done-marks are short, and waiting in the pool's
        // queue is fair and immediate, where competing connections back off
        // in SQLite's busy handler for tens of milliseconds under load.
        let journal_options = match sqlite_file(url) {
            Some(path) => options.filename(journal_file(&path)),
            None => options.filename(":memory:"),
        }
        // Claims read bodies back soon after they were written: map the
        // file instead of copying each page through a read() call.
        .pragma("mmap_size", "268435456")
        .pragma("cache_size", "-32768");
        let journal = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(journal_options)
            .await?;
        JOURNAL_MIGRATIONS.run(&journal).await?;
        Ok(Self {
            pool,
            journal,
            writes: Arc::default(),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Waits for this process's turn to write to the main file (see
    /// `writes`); held until the write is committed.
    pub(crate) async fn write_turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.writes.clone().lock_owned().await
    }

    /// The journal file's connection.
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
